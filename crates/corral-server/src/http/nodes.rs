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
