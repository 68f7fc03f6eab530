//! `/v1/operations` and `/v1/events`.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::Uri;
use axum::Json;
use corral_api::{ApiError, Event, Operation, OperationStatus};
use serde::Deserialize;

use super::auth::Caller;
use super::error::HttpResult;
use super::page::{self, under, PageQuery, Paged};
use super::query::Query;
use super::responses::{BadQuery, Internal, NotFound, Unauthorized};
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
    #[param(example = 10000)]
    pub wait_ms: Option<u64>,
}

/// Filters of `GET /v1/operations`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OperationFilter {
    /// Only operations with this status.
    #[param(inline)]
    pub status: Option<OperationStatus>,
    /// Only operations on this target or below it (`clusters/demo` covers
    /// `clusters/demo/nodes/node-0`).
    #[param(example = "clusters/demo")]
    pub target: Option<String>,
    /// Only operations of this kind.
    #[param(example = "cluster.create")]
    pub kind: Option<String>,
}

impl OperationFilter {
    fn keeps(&self, o: &Operation) -> bool {
        self.status.is_none_or(|s| s == o.status)
            && self.target.as_ref().is_none_or(|t| under(&o.target, t))
            && self.kind.as_ref().is_none_or(|k| *k == o.kind)
    }
}

/// `GET /v1/operations`: the caller's (all for the admin), newest first.
#[utoipa::path(
    get,
    path = "/v1/operations",
    operation_id = "list_operations",
    tag = "operations",
    params(OperationFilter, PageQuery),
    responses(
        (status = 200, description = "The caller's operations (all for the admin), newest first", body = [Operation],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(f): Query<OperationFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Operation>> {
    let kept: Vec<Operation> = operation::all(&ctx)?
        .into_iter()
        .map(|d| d.value.op)
        .filter(|o| caller.0.may_access(&o.owner) && f.keeps(o))
        .collect();
    // Newest first: the key counts down with time; the id breaks ties.
    page::paginate(kept, |o| format!("{:020}\0{}", u64::MAX - o.created_at, o.id), &p, &uri)
}

/// `GET /v1/operations/{id}`, with `?wait_ms=` a long poll: a client waiting for an
/// operation hears of its end at once instead of at its next poll.
#[utoipa::path(
    get,
    path = "/v1/operations/{id}",
    operation_id = "get_operation",
    tag = "operations",
    params(
        ("id" = String, Path, description = "Operation id", example = "op-5d777645b9254c15"),
        ShowQuery,
    ),
    responses(
        (status = 200, description = "OK", body = Operation),
        BadQuery,
        Unauthorized,
        NotFound,
        Internal,
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

/// Most events `GET /v1/events` returns without a `limit`.
pub const DEFAULT_EVENTS: usize = 1000;

/// Filters of `GET /v1/events`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventFilter {
    /// Only events of this kind.
    #[param(example = "node.running")]
    pub kind: Option<String>,
    /// Only events on this target or below it (`clusters/demo` covers
    /// `clusters/demo/nodes/node-0`).
    #[param(example = "clusters/demo")]
    pub target: Option<String>,
    /// Only events with a larger sequence number, as `since` of `GET /v1/events/stream`.
    #[param(example = 120)]
    pub since: Option<u64>,
}

impl EventFilter {
    fn keeps(&self, e: &Event) -> bool {
        self.kind.as_ref().is_none_or(|k| *k == e.kind)
            && self.target.as_ref().is_none_or(|t| under(&e.target, t))
            && self.since.is_none_or(|s| e.seq > s)
    }
}

/// `GET /v1/events`: every event for the admin, one's own for a user, oldest first.
#[utoipa::path(
    get,
    path = "/v1/events",
    operation_id = "list_events",
    tag = "events",
    params(EventFilter, PageQuery),
    responses(
        (status = 200, description = "Events, oldest first: all for the admin, one's own for a user. Without `limit`, the newest 1000 that match; with `limit`, pages from the oldest that match on", body = [Event],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn events(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Query(f): Query<EventFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Event>> {
    let visible: Vec<Event> = event::list(&ctx, "", usize::MAX)?
        .into_iter()
        .filter(|e| super::events::visible(&ctx, &caller.0, e))
        .collect();
    page_events(visible, &f, &p, &uri, DEFAULT_EVENTS)
}

/// The events `f` keeps, oldest first, paged; without a `limit`, the newest `cap`.
pub fn page_events(
    events: Vec<Event>,
    f: &EventFilter,
    p: &PageQuery,
    uri: &Uri,
    cap: usize,
) -> HttpResult<Paged<Event>> {
    let mut kept: Vec<Event> = events.into_iter().filter(|e| f.keeps(e)).collect();
    if p.limit.is_none() && kept.len() > cap {
        kept.drain(..kept.len() - cap);
    }
    page::paginate(kept, |e| format!("{:020}", e.seq), p, uri)
}
