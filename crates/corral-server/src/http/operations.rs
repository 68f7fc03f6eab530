//! `/v1/operations` and `/v1/events`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, Query, State};
use axum::Json;
use corral_api::{ApiError, Event, Operation, OperationStatus};
use serde::Deserialize;

use super::auth::Caller;
use super::error::HttpResult;
use crate::context::Context;
use crate::{event, keys, operation};

/// Longest a `GET /v1/operations/{id}?wait_ms=` holds the request.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

/// Query of `GET /v1/operations/{id}`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ShowQuery {
    /// Long poll: while the operation runs, answer only once it changes (progress or
    /// end) or this many milliseconds (at most [`MAX_WAIT`]) have passed.
    #[serde(default)]
    pub wait_ms: Option<u64>,
}

/// `GET /v1/operations`: the caller's (all for the admin), newest first.
#[utoipa::path(
    get,
    path = "/v1/operations",
    operation_id = "list_operations",
    tag = "operations",
    responses(
        (status = 200, description = "The caller's operations (all for the admin), newest first", body = [Operation]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<Vec<Operation>>> {
    let mut v: Vec<Operation> = operation::all(&ctx)?
        .into_iter()
        .map(|d| d.value.op)
        .filter(|o| caller.0.may_access(&o.owner))
        .collect();
    v.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(Json(v))
}

/// `GET /v1/operations/{id}`, with `?wait_ms=` a long poll: a client waiting for an
/// operation hears of its end at once instead of at its next poll.
#[utoipa::path(
    get,
    path = "/v1/operations/{id}",
    operation_id = "get_operation",
    tag = "operations",
    params(
        ("id" = String, Path, description = "Operation id"),
        ShowQuery,
    ),
    responses(
        (status = 200, description = "OK", body = Operation),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(id): Path<String>,
    Query(q): Query<ShowQuery>,
) -> HttpResult<Json<Operation>> {
    let read = |ctx: &Context| -> HttpResult<Operation> {
        match operation::get(ctx, &id)? {
            Some(r) if caller.0.may_access(&r.op.owner) => Ok(r.op),
            _ => Err(ApiError::not_found("operation", &id).into()),
        }
    };
    let wait = Duration::from_millis(q.wait_ms.unwrap_or(0)).min(MAX_WAIT);
    // Subscribe before the first read, so a change right after it is not missed.
    let mut watch = ctx.store.watch();
    let first = read(&ctx)?;
    if wait.is_zero() || first.status != OperationStatus::Running {
        return Ok(Json(first));
    }
    let key = keys::operation(&id);
    let deadline = tokio::time::Instant::now() + wait;
    loop {
        tokio::select! {
            _ = tokio::time::sleep_until(deadline) => return Ok(Json(read(&ctx)?)),
            ev = watch.recv() => match ev {
                Ok(ev) if ev.key != key => continue,
                // Ours changed, or events were missed: look.
                Ok(_) | Err(tokio::sync::broadcast::error::RecvError::Lagged(_)) => {}
                Err(tokio::sync::broadcast::error::RecvError::Closed) => return Ok(Json(read(&ctx)?)),
            },
        }
        let now = read(&ctx)?;
        if now != first {
            return Ok(Json(now));
        }
    }
}

/// `GET /v1/events`: every event for the admin, one's own for a user.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "list_events",
    tag = "events",
    responses(
        (status = 200, description = "The last 1000 events: all for the admin, one's own for a user", body = [Event]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn events(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<Vec<Event>>> {
    let all = event::list(&ctx, "", 1000)?;
    Ok(Json(
        all.into_iter()
            .filter(|e| super::events::visible(&ctx, &caller.0, e))
            .collect(),
    ))
}
