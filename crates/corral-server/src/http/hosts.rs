//! `/v1/hosts`: the pool's hosts and join tokens (admin only).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use corral_api::{ApiError, ErrorCode, Host, JoinToken, JoinTokenRequest};

use super::auth::{require_admin, Caller};
use super::body::Body;
use super::error::{HttpError, HttpResult};
use crate::context::Context;
use crate::{event, host, join, node};

fn views(ctx: &Context) -> crate::error::Result<Vec<Host>> {
    let nodes: Vec<_> = node::all(ctx)?.into_iter().map(|d| d.value).collect();
    Ok(host::all(ctx)?.iter().map(|h| h.to_api(&nodes)).collect())
}

/// `GET /v1/hosts`.
#[utoipa::path(
    get,
    path = "/v1/hosts",
    operation_id = "list_hosts",
    tag = "hosts",
    responses(
        (status = 200, description = "The pool's hosts", body = [Host]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 403, description = "Only the admin may do this (`forbidden`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<Vec<Host>>> {
    require_admin(&caller)?;
    Ok(Json(views(&ctx)?))
}

/// `GET /v1/hosts/{name}`.
#[utoipa::path(
    get,
    path = "/v1/hosts/{name}",
    operation_id = "get_host",
    tag = "hosts",
    params(
        ("name" = String, Path, description = "Host name"),
    ),
    responses(
        (status = 200, description = "OK", body = Host),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 403, description = "Only the admin may do this (`forbidden`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Host name"),
    ),
    responses(
        (status = 200, description = "The removed host", body = Host),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 403, description = "Only the admin may do this (`forbidden`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
    Ok(Json(rec.to_api(&nodes)))
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
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`)", body = ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 403, description = "Only the admin may do this (`forbidden`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
