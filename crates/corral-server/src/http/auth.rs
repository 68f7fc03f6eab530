//! Authentication: the bearer token of a request names its user.

use std::sync::Arc;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use corral_api::{ApiError, ErrorCode};

use super::error::HttpError;
use crate::context::Context;
use crate::user::{self, UserRecord};

/// The authenticated user of a request.
pub struct Caller(pub UserRecord);

fn token_of(parts: &Parts) -> Option<String> {
    if let Some(h) = parts.headers.get(axum::http::header::AUTHORIZATION) {
        let v = h.to_str().ok()?;
        return v.strip_prefix("Bearer ").map(|t| t.trim().to_string());
    }
    // Browsers cannot set headers on websockets: the token may come as a query.
    parts.uri.query().and_then(|q| {
        q.split('&')
            .find_map(|kv| kv.strip_prefix("token=").map(|t| t.to_string()))
    })
}

impl FromRequestParts<Arc<Context>> for Caller {
    type Rejection = HttpError;

    async fn from_request_parts(parts: &mut Parts, ctx: &Arc<Context>) -> Result<Self, Self::Rejection> {
        let token = token_of(parts).ok_or_else(|| {
            HttpError(ApiError::new(
                ErrorCode::Unauthorized,
                "no token: log in with `corral login`",
            ))
        })?;
        Ok(Caller(user::authenticate(ctx, &token)?))
    }
}

/// Refuses callers who are not the admin.
pub fn require_admin(c: &Caller) -> Result<(), HttpError> {
    if c.0.is_admin() {
        Ok(())
    } else {
        Err(HttpError(ApiError::new(
            ErrorCode::Forbidden,
            "only the admin may do this",
        )))
    }
}
