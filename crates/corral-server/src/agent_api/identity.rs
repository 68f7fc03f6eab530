//! Who is calling the agent API: the fingerprint of the client certificate, mapped
//! to its host through the store (so removing a host revokes its certificate).

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use corral_api::{ApiError, ErrorCode, HostState};
use corral_store::typed;

use crate::context::Context;
use crate::host::HostRecord;
use crate::http::HttpError;
use crate::keys;

/// The fingerprint of the TLS client certificate of a connection, if any.
#[derive(Debug, Clone)]
pub struct PeerCert(pub Option<String>);

/// The host whose agent makes the request.
pub struct AgentHost(pub String);

impl FromRequestParts<Arc<Context>> for AgentHost {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Context>) -> Result<Self, Self::Rejection> {
        let denied = |m: &str| HttpError(ApiError::new(ErrorCode::Unauthorized, m.to_string()));
        let fp = parts
            .extensions
            .get::<PeerCert>()
            .and_then(|p| p.0.clone())
            .ok_or_else(|| denied("a client certificate of the pool is required"))?;
        let host = ctx
            .store
            .get(&keys::agent_cert(&fp))?
            .map(|kv| String::from_utf8_lossy(&kv.value).into_owned())
            .ok_or_else(|| denied("this certificate is not (or no longer) valid in the pool"))?;
        let rec = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(&host))?
            .ok_or_else(|| denied("unknown host"))?
            .value;
        if rec.state == HostState::Removed || rec.cert_fingerprint.as_deref() != Some(fp.as_str()) {
            return Err(denied("this host was removed from the pool"));
        }
        crate::host::touch(ctx, &host)?;
        Ok(AgentHost(host))
    }
}
