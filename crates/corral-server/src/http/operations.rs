//! `/v1/operations` and `/v1/events`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use corral_api::{ApiError, Event, Operation};

use super::auth::Caller;
use super::error::HttpResult;
use crate::context::Context;
use crate::{event, operation};

/// `GET /v1/operations`: the caller's (all for the admin), newest first.
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> HttpResult<Json<Vec<Operation>>> {
    let mut v: Vec<Operation> = operation::all(&ctx)?
        .into_iter()
        .map(|d| d.value.op)
        .filter(|o| caller.0.may_access(&o.owner))
        .collect();
    v.sort_by_key(|o| std::cmp::Reverse(o.created_at));
    Ok(Json(v))
}

/// `GET /v1/operations/{id}`.
pub async fn show(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(id): Path<String>,
) -> HttpResult<Json<Operation>> {
    match operation::get(&ctx, &id)? {
        Some(r) if caller.0.may_access(&r.op.owner) => Ok(Json(r.op)),
        _ => Err(ApiError::not_found("operation", &id).into()),
    }
}

/// `GET /v1/events`: every event for the admin, one's own for a user.
pub async fn events(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
) -> HttpResult<Json<Vec<Event>>> {
    let all = event::list(&ctx, "", 1000)?;
    Ok(Json(
        all.into_iter()
            .filter(|e| caller.0.is_admin() || e.actor == caller.0.name)
            .collect(),
    ))
}
