//! `/v1/clusters`: create, list, show, scale, stop, start, delete, events.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use corral_api::{ApiError, Cluster, ClusterSpec, ClusterState, Event, Operation, ScaleRequest};
use serde::Deserialize;

use super::auth::Caller;
use super::body::Body;
use super::error::HttpResult;
use super::operations::{page_events, EventFilter};
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{AcceptedOperation, BadQuery, ClusterBusy, Internal, NoRoom, NotFound, Unauthorized};
use crate::cluster;
use crate::context::Context;

/// Filters of `GET /v1/clusters`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct ClusterFilter {
    /// Only clusters in this state.
    #[param(inline)]
    pub state: Option<ClusterState>,
    /// Only this user's clusters (a user sees only their own whatever this says).
    #[param(example = "alice")]
    pub owner: Option<String>,
    /// Only clusters whose name starts with this.
    #[param(example = "demo")]
    pub prefix: Option<String>,
}

/// `?owner=` lets the admin act on another user's cluster.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnerQuery {
    /// Owner of the cluster; the caller when absent (the admin may name any user).
    #[param(example = "alice")]
    pub owner: Option<String>,
}

type Accepted = (StatusCode, Json<Operation>);

fn accepted(op: crate::operation::OperationRecord) -> Accepted {
    (StatusCode::ACCEPTED, Json(op.op))
}

/// `GET /v1/clusters`: sorted by owner, then name.
#[utoipa::path(
    get,
    path = "/v1/clusters",
    operation_id = "list_clusters",
    tag = "clusters",
    params(ClusterFilter, PageQuery),
    responses(
        (status = 200, description = "The caller's clusters (every cluster for the admin), by owner and name", body = [Cluster],
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
    Query(f): Query<ClusterFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Cluster>> {
    let mut out = Vec::new();
    for c in cluster::list(&ctx, &caller.0)? {
        if f.owner.as_ref().is_some_and(|o| *o != c.owner)
            || f.prefix.as_ref().is_some_and(|pre| !c.name.starts_with(pre.as_str()))
        {
            continue;
        }
        let view = cluster::view(&ctx, &c)?;
        if f.state.is_none_or(|s| s == view.state) {
            out.push(view);
        }
    }
    page::paginate(out, |c| format!("{}\0{}", c.owner, c.name), &p, &uri)
}

/// `POST /v1/clusters`: validates, admits and records; agents do the rest.
#[utoipa::path(
    post,
    path = "/v1/clusters",
    operation_id = "create_cluster",
    tag = "clusters",
    request_body(description = "The cluster to create (JSON, or YAML with a `yaml` content type)", content((ClusterSpec = "application/json"), (ClusterSpec = "application/yaml"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`), elasticity included: bounds around the count, thresholds, time zone, calendar rules, probe group", body = ApiError),
        Unauthorized,
        (status = 409, description = "A cluster of this name exists (`already_exists`)", body = ApiError),
        NoRoom,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn create(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Body(spec): Body<ClusterSpec>,
) -> HttpResult<Accepted> {
    Ok(accepted(cluster::create(&ctx, &caller.0, spec).await?))
}

/// `GET /v1/clusters/{name}`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}",
    operation_id = "get_cluster",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "The cluster with its nodes", body = Cluster),
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
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Cluster>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    Ok(Json(cluster::view(&ctx, &doc.value)?))
}

/// `DELETE /v1/clusters/{name}`.
#[utoipa::path(
    delete,
    path = "/v1/clusters/{name}",
    operation_id = "delete_cluster",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    responses(
        AcceptedOperation,
        BadQuery,
        Unauthorized,
        NotFound,
        (status = 409, description = "The cluster changed meanwhile; try again (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn delete(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::delete(&ctx, &caller.0, q.owner.as_deref(), &name).await?,
    ))
}

/// `POST /v1/clusters/{name}/scale`.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/scale",
    operation_id = "scale_cluster",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    request_body(description = "The group and its new size (JSON, or YAML with a `yaml` content type)", content((ScaleRequest = "application/json"), (ScaleRequest = "application/yaml"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "Malformed body (`malformed_request`), no such size or group given, or a size outside an elastic group's [min, max] (`invalid_request`)", body = ApiError),
        Unauthorized,
        (status = 404, description = "No such cluster or node group, or not visible to the caller (`not_found`)", body = ApiError),
        ClusterBusy,
        NoRoom,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn scale(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
    Body(req): Body<ScaleRequest>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::scale(&ctx, &caller.0, q.owner.as_deref(), &name, req).await?,
    ))
}

/// `POST /v1/clusters/{name}/stop`.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/stop",
    operation_id = "stop_cluster",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    responses(
        AcceptedOperation,
        BadQuery,
        Unauthorized,
        NotFound,
        ClusterBusy,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn stop(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::set_running(&ctx, &caller.0, q.owner.as_deref(), &name, false).await?,
    ))
}

/// `POST /v1/clusters/{name}/start`.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/start",
    operation_id = "start_cluster",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    responses(
        AcceptedOperation,
        BadQuery,
        Unauthorized,
        NotFound,
        ClusterBusy,
        NoRoom,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn start(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::set_running(&ctx, &caller.0, q.owner.as_deref(), &name, true).await?,
    ))
}

/// `POST /v1/clusters/{name}/credential/rotate`.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/credential/rotate",
    operation_id = "rotate_cluster_credential",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "Replaced: the node API refuses the old credential, and the nodes get the new one in `/etc/corral/credential` within moments (the value itself is never shown)", body = Cluster),
        BadQuery,
        Unauthorized,
        NotFound,
        ClusterBusy,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn rotate_credential(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Cluster>> {
    Ok(Json(
        cluster::rotate_credential(&ctx, &caller.0, q.owner.as_deref(), &name).await?,
    ))
}

/// `GET /v1/clusters/{name}/events`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/events",
    operation_id = "list_cluster_events",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
        EventFilter,
        PageQuery,
    ),
    responses(
        (status = 200, description = "The cluster's events, oldest first. Without `limit`, the newest 500 that match; with `limit`, pages from the oldest that match on", body = [Event],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn events(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
    Query(f): Query<EventFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Event>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    // Another user's cluster of the same name shares the target, not the owner.
    let events: Vec<Event> = crate::event::list(&ctx, &format!("clusters/{}", doc.value.name), usize::MAX)?
        .into_iter()
        .filter(|e| e.owner.is_empty() || e.owner == doc.value.owner)
        .collect();
    page_events(events, &f, &p, &uri, CLUSTER_EVENTS)
}

/// Most events `GET /v1/clusters/{name}/events` returns without a `limit`.
const CLUSTER_EVENTS: usize = 500;
