//! `/v1/clusters/{name}/nodes`: list, show, exec, save.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::{StatusCode, Uri};
use axum::Json;
use corral_api::{
    ApiError, ExecRequest, ExecResult, ImageSource, Node, NodeState, Operation, SaveNodeRequest, Visibility,
};
use serde::Deserialize;

use super::auth::Caller;
use super::body::Body;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use super::page::{self, PageQuery, Paged};
use super::query::Query;
use super::responses::{AcceptedOperation, BadQuery, Internal, NotFound, Unauthorized};
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

/// Filters of `GET /v1/clusters/{name}/nodes`.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct NodeFilter {
    /// Only nodes in this state.
    #[param(inline)]
    pub state: Option<NodeState>,
    /// Only nodes placed on this host.
    #[param(example = "host-1")]
    pub host: Option<String>,
    /// Only nodes of this node group.
    #[param(example = "worker")]
    pub group: Option<String>,
}

impl NodeFilter {
    fn keeps(&self, n: &Node) -> bool {
        self.state.is_none_or(|s| s == n.state)
            && self.host.as_ref().is_none_or(|h| n.host.as_ref() == Some(h))
            && self.group.as_ref().is_none_or(|g| *g == n.group)
    }
}

/// Orders nodes by group, then index (`worker-2` before `worker-10`).
fn order_key(n: &Node) -> String {
    let index = n
        .name
        .strip_prefix(&format!("{}-", n.group))
        .and_then(|i| i.parse::<u32>().ok())
        .unwrap_or_default();
    format!("{}\0{index:010}\0{}", n.group, n.name)
}

/// `GET /v1/clusters/{name}/nodes`: sorted by group, then index.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes",
    operation_id = "list_nodes",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        OwnerQuery,
        NodeFilter,
        PageQuery,
    ),
    responses(
        (status = 200, description = "The cluster's nodes, by group and index", body = [Node],
            headers(("Link" = String, description = "`<URL>; rel=\"next\"`: the next page, sent while more items follow a page cut by `limit`"))),
        BadQuery,
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn list(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
    Query(f): Query<NodeFilter>,
    Query(p): Query<PageQuery>,
    uri: Uri,
) -> HttpResult<Paged<Node>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    let nodes = cluster::view(&ctx, &doc.value)?.nodes;
    let kept = nodes.into_iter().filter(|n| f.keeps(n)).collect();
    page::paginate(kept, order_key, &p, &uri)
}

/// `GET /v1/clusters/{name}/nodes/{node}`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes/{node}",
    operation_id = "get_node",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`", example = "web-0"),
        OwnerQuery,
    ),
    responses(
        (status = 200, description = "OK", body = Node),
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
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`", example = "web-0"),
        OwnerQuery,
    ),
    request_body(description = "The command to run (JSON, or YAML with a `yaml` content type)", content((ExecRequest = "application/json"), (ExecRequest = "application/yaml"))),
    responses(
        (status = 200, description = "The command ran to completion", body = ExecResult),
        (status = 400, description = "Malformed body (`malformed_request`) or an empty command (`invalid_request`)", body = ApiError),
        Unauthorized,
        NotFound,
        (status = 409, description = "The node is not running or its host cannot be reached (`conflict`)", body = ApiError),
        Internal,
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
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`", example = "web-0"),
        OwnerQuery,
    ),
    request_body(description = "Name of the new image (JSON, or YAML with a `yaml` content type)", content((SaveNodeRequest = "application/json"), (SaveNodeRequest = "application/yaml"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "Malformed body (`malformed_request`) or a bad image name (`invalid_name`)", body = ApiError),
        Unauthorized,
        NotFound,
        (status = 409, description = "The node has no host yet or its host cannot be reached (`conflict`)", body = ApiError),
        Internal,
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
