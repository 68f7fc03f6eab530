//! `/v1/clusters/{name}/nodes`: list, show, exec, save.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use corral_api::{ApiError, ExecRequest, ExecResult, ImageSource, Node, Operation, SaveNodeRequest, Visibility};

use super::auth::Caller;
use super::body::Body;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use crate::context::Context;
use crate::node::{self, Desired, NodeRecord};
use crate::operation::{self, WaitFor};
use crate::user::UserRecord;
use crate::{cluster, exec, host_channel, image};

/// Finds a node the caller may see.
pub fn find(
    ctx: &Context,
    user: &UserRecord,
    owner: Option<&str>,
    cluster_name: &str,
    name: &str,
) -> crate::error::Result<NodeRecord> {
    let c = cluster::get(ctx, user, owner, cluster_name)?;
    node::of_cluster(ctx, &c.value.uid)?
        .into_iter()
        .map(|d| d.value)
        .find(|n| n.name == name && n.desired != Desired::Deleted)
        .ok_or_else(|| ApiError::not_found("node", &format!("{cluster_name}/{name}")).into())
}

/// `GET /v1/clusters/{name}/nodes`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes",
    operation_id = "list_nodes",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "The cluster's nodes", body = [Node]),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Vec<Node>>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    Ok(Json(cluster::view(&ctx, &doc.value)?.nodes))
}

/// `GET /v1/clusters/{name}/nodes/{node}`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes/{node}",
    operation_id = "get_node",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "OK", body = Node),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn show(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Node>> {
    Ok(Json(
        find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?.to_api(),
    ))
}

/// `POST /v1/clusters/{name}/nodes/{node}/exec`: runs a command to completion.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/nodes/{node}/exec",
    operation_id = "exec_in_node",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`"),
        OwnerQuery,
    ),
    request_body(description = "The command to run (JSON, or YAML with a `yaml` content type)", content((ExecRequest = "application/json"), (ExecRequest = "application/yaml"))),
    responses(
        (status = 200, description = "The command ran to completion", body = ExecResult),
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`)", body = ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn exec(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    Body(req): Body<ExecRequest>,
) -> HttpResult<Json<ExecResult>> {
    let n = find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    Ok(Json(exec::run(&ctx, &n, &req).await?))
}

/// `POST /v1/clusters/{name}/nodes/{node}/save`: a new private image from the node's
/// image plus its writable layer.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/nodes/{node}/save",
    operation_id = "save_node",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`"),
        OwnerQuery,
    ),
    request_body(description = "Name of the new image (JSON, or YAML with a `yaml` content type)", content((SaveNodeRequest = "application/json"), (SaveNodeRequest = "application/yaml"))),
    responses(
        (status = 202, description = "Accepted: the operation that tracks the work (poll `GET /v1/operations/{id}`)", body = Operation),
        (status = 400, description = "Malformed body (`malformed_request`) or invalid values (`invalid_request`, `invalid_name`, `unknown_image`)", body = ApiError),
        (status = 401, description = "Missing, invalid or expired token (`unauthorized`)", body = ApiError),
        (status = 404, description = "No such resource, or not visible to the caller (`not_found`)", body = ApiError),
        (status = 409, description = "Already exists (`already_exists`) or the resource's state does not allow this (`conflict`)", body = ApiError),
        (status = 500, description = "Something went wrong inside Corral (`internal`)", body = ApiError),
    ),
    security(("bearer" = [])),
)]
pub async fn save(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    Body(req): Body<SaveNodeRequest>,
) -> HttpResult<(StatusCode, Json<Operation>)> {
    corral_api::names::validate_name("image", &req.as_image)?;
    let n = find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    let channel = host_channel::for_node(&ctx, &n)?;
    let op = operation::new(
        "node.save",
        &format!("images/{}", req.as_image),
        &caller.0.name,
        WaitFor::Task,
    );
    operation::insert(&ctx, &op)?;
    let owner = caller.0.name.clone();
    let id = op.op.id.clone();
    let c = ctx.clone();
    tokio::spawn(async move {
        let made = channel.save(&n.id, &n.image_digest, &c.images).await;
        let result = made
            .and_then(|m| image::put(&c, &owner, &req.as_image, &m, ImageSource::Saved, Visibility::Private))
            .map(|_| format!("saved as {}", req.as_image))
            .map_err(|e| e.to_api());
        let _ = operation::finish(&c, &id, result);
    });
    Ok((StatusCode::ACCEPTED, Json(op.op)))
}
