//! `/v1/hosts`: the pool's hosts and join tokens (admin only).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use corral_api::{ApiError, ErrorCode, Host, HostState, JoinToken, JoinTokenRequest};
use serde::Deserialize;

use super::auth::{require_admin, Caller};
use super::body::Body;
use super::error::{HttpError, HttpResult};
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{AdminOnly, BadQuery, Internal, NotFound, Unauthorized};
use crate::context::Context;
use crate::{event, host, join, node};

fn views(ctx: &Context) -> crate::error::Result<Vec<Host>> {
    let nodes: Vec<_> = node::all(ctx)?.into_iter().map(|d| d.value).collect();
    Ok(host::all(ctx)?
        .iter()
        .map(|h| {
            let mut v = h.to_api(&nodes);
            v.energy = ctx.energy.host(&h.name);
            v
        })
        .collect())
}

/// Filters of `GET /v1/hosts`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct HostFilter {
    /// Only hosts in this state.
    #[param(inline)]
    pub state: Option<HostState>,
    /// Only hosts with these labels: comma-separated `key=value` (that value) or `key`
    /// (any value), all of which must hold.
    #[param(example = "site=a,gpu")]
    pub label: Option<String>,
}

impl HostFilter {
    /// The label requirements: `(key, Some(value))` or `(key, None)` for any value.
    fn labels(&self) -> HttpResult<Vec<(&str, Option<&str>)>> {
        let Some(spec) = &self.label else {
            return Ok(Vec::new());
        };
        spec.split(',')
            .map(|req| {
                let (k, v) = match req.split_once('=') {
                    Some((k, v)) => (k, Some(v)),
                    None => (req, None),
                };
                if k.is_empty() {
                    return Err(
                        ApiError::invalid(format!("invalid label filter {req:?}: expected key=value or key")).into(),
                    );
                }
                Ok((k, v))
            })
            .collect()
    }
}

/// `GET /v1/hosts`: sorted by name.
#[utoipa::path(
    get,
    path = "/v1/hosts",
    operation_id = "list_hosts",
    tag = "hosts",
    params(HostFilter, PageQuery),
    responses(
        (status = 200, description = "The pool's hosts, by name", body = [Host],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        AdminOnly,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(f): Query<HostFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Host>> {
    require_admin(&caller)?;
    let labels = f.labels()?;
    let kept = views(&ctx)?
        .into_iter()
        .filter(|h| f.state.is_none_or(|s| s == h.state))
        .filter(|h| {
            labels
                .iter()
                .all(|(k, v)| h.labels.get(*k).is_some_and(|have| v.is_none_or(|v| v == have)))
        })
        .collect();
    page::paginate(kept, |h| h.name.clone(), &p, &uri)
}

/// `GET /v1/hosts/{name}`.
#[utoipa::path(
    get,
    path = "/v1/hosts/{name}",
    operation_id = "get_host",
    tag = "hosts",
    params(
        ("name" = String, Path, description = "Host name", example = "host-1"),
    ),
    responses(
        (status = 200, description = "OK", body = Host),
        Unauthorized,
        AdminOnly,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn show(State(ctx): State<Arc<Context>>, caller: Caller, Path(name): Path<String>) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    views(&ctx)?
        .into_iter()
        .find(|h| h.name == name)
        .map(Json)
        .ok_or_else(|| ApiError::not_found("host", &name).into())
}

/// `DELETE /v1/hosts/{name}`: removes a host; its certificate stops working at once.
#[utoipa::path(
    delete,
    path = "/v1/hosts/{name}",
    operation_id = "remove_host",
    tag = "hosts",
    params(
        ("name" = String, Path, description = "Host name", example = "host-1"),
    ),
    responses(
        (status = 200, description = "The removed host", body = Host),
        Unauthorized,
        AdminOnly,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn remove(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = host::remove(&ctx, &name)?;
    event::record(
        &ctx,
        &caller.0.name,
        &format!("hosts/{name}"),
        "host.removed",
        "removed from the pool",
    );
    let nodes: Vec<_> = node::all(&ctx)?.into_iter().map(|d| d.value).collect();
    let mut v = rec.to_api(&nodes);
    v.energy = ctx.energy.host(&v.name);
    Ok(Json(v))
}

/// `POST /v1/hosts/join-tokens`: a one-time token for `corral agent --join`.
#[utoipa::path(
    post,
    path = "/v1/hosts/join-tokens",
    operation_id = "create_join_token",
    tag = "hosts",
    request_body(description = "Token lifetime (JSON, or YAML with a `yaml` content type)", content((JoinTokenRequest = "application/json"), (JoinTokenRequest = "application/yaml"))),
    responses(
        (status = 200, description = "A one-time token for `corral agent --join URL --token TOKEN`", body = JoinToken),
        (status = 400, description = "Malformed body (`malformed_request`)", body = ApiError),
        Unauthorized,
        AdminOnly,
        (status = 409, description = "This server has no agent listener, so no host can join (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn join_token(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Body(req): Body<JoinTokenRequest>,
) -> HttpResult<Json<JoinToken>> {
    require_admin(&caller)?;
    let pki = ctx.pki.get().ok_or_else(|| {
        HttpError(ApiError::new(
            ErrorCode::Conflict,
            "this server has no agent listener, so no host can join",
        ))
    })?;
    let fp = pki
        .ca
        .fingerprint()
        .map_err(|e| HttpError(ApiError::new(ErrorCode::Internal, e.to_string())))?;
    Ok(Json(join::create(&ctx, &fp, req.ttl_seconds, &caller.0.name)?))
}
