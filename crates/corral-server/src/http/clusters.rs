//! `/v1/clusters`: create, list, show, scale, stop, start, delete, events.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use corral_api::{ApiError, Cluster, ClusterSpec, Event, Operation, ScaleRequest};
use serde::Deserialize;

use super::auth::Caller;
use super::body::Body;
use super::error::HttpResult;
use crate::cluster;
use crate::context::Context;

/// `?owner=` lets the admin act on another user's cluster.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct OwnerQuery {
    /// Owner of the cluster; the caller when absent (the admin may name any user).
    pub owner: Option<String>,
}

type Accepted = (StatusCode, Json<Operation>);

fn accepted(op: crate::operation::OperationRecord) -> Accepted {
    (StatusCode::ACCEPTED, Json(op.op))
}

/// `GET /v1/clusters`.
#[utoipa::path(
    get,
    path = "/v1/clusters",
    operation_id = "list_clusters",
    tag = "clusters",
    responses(
        (status = 200, description = "The caller's clusters (every cluster for the admin)", body = [Cluster]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<Vec<Cluster>>> {
    let mut out = Vec::new();
    for c in cluster::list(&ctx, &caller.0)? {
        out.push(cluster::view(&ctx, &c)?);
    }
    Ok(Json(out))
}

/// `POST /v1/clusters`: validates, admits and records; agents do the rest.
#[utoipa::path(
    post,
    path = "/v1/clusters",
    operation_id = "create_cluster",
    tag = "clusters",
    request_body(description = "The cluster to create (JSON, or YAML with a `yaml` content type)", content((ClusterSpec = "application/json"), (ClusterSpec = "application/yaml"))),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`)", body = ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 422, description = "Not enough capacity in the pool (`insufficient_capacity`) or over quota (`quota_exceeded`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "The cluster with its nodes", body = Cluster),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    request_body(description = "The group and its new size (JSON, or YAML with a `yaml` content type)", content((ScaleRequest = "application/json"), (ScaleRequest = "application/yaml"))),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`)", body = ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 422, description = "Not enough capacity in the pool (`insufficient_capacity`) or over quota (`quota_exceeded`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 422, description = "Not enough capacity in the pool (`insufficient_capacity`) or over quota (`quota_exceeded`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
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

/// `GET /v1/clusters/{name}/events`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/events",
    operation_id = "list_cluster_events",
    tag = "clusters",
    params(
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "The last 500 events of the cluster, oldest first", body = [Event]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn events(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Vec<Event>>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    Ok(Json(crate::event::list(
        &ctx,
        &format!("clusters/{}", doc.value.name),
        500,
    )?))
}
