//! Moving nodes between hosts: `POST /v1/clusters/{c}/nodes/{n}/migrate`,
//! `POST /v1/hosts/{name}/drain` and `/restore` (admin).

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::Json;
use corral_api::{ApiError, Host, HostState, MigrateRequest, Operation};

use super::auth::{require_admin, Caller};
use super::body::Body;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use super::query::Query;
use super::responses::{AcceptedOperation, AdminOnly, Internal, NotFound, Unauthorized};
use crate::context::Context;
use crate::node::{self, Desired};
use crate::operation::{self, WaitFor};
use crate::{cluster, event, migration};

/// `POST /v1/clusters/{name}/nodes/{node}/migrate`: cold migration of one node.
#[utoipa::path(
    post,
    path = "/v1/clusters/{name}/nodes/{node}/migrate",
    operation_id = "migrate_node",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`", example = "web-0"),
        OwnerQuery,
    ),
    request_body(description = "Target host, or none to let the scheduler choose (JSON, or YAML with a `yaml` content type)", content((MigrateRequest = "application/json"), (MigrateRequest = "application/yaml"))),
    responses(
        AcceptedOperation,
        (status = 400, description = "Malformed body (`malformed_request`) or an invalid query parameter (`invalid_request`)", body = ApiError),
        Unauthorized,
        AdminOnly,
        NotFound,
        (status = 409, description = "The target host is not ready, or the node has no host, is moving or is being deleted (`conflict`)", body = ApiError),
        (status = 422, description = "No host has room for the node (`insufficient_capacity`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn migrate(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    Body(req): Body<MigrateRequest>,
) -> HttpResult<(StatusCode, Json<Operation>)> {
    require_admin(&caller)?;
    let c = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    let doc = node::of_cluster(&ctx, &c.value.uid)?
        .into_iter()
        .find(|d| d.value.name == node_name && d.value.desired != Desired::Deleted)
        .ok_or_else(|| ApiError::not_found("node", &format!("{name}/{node_name}")))?;
    let to = migration::start(&ctx, &doc, req.to.as_deref())?;
    let wait = WaitFor::NodeOn {
        uid: c.value.uid.clone(),
        name: node_name.clone(),
        host: to,
    };
    let op = operation::new(
        "node.migrate",
        &format!("clusters/{name}/nodes/{node_name}"),
        &caller.0.name,
        wait,
    );
    operation::insert(&ctx, &op)?;
    Ok((StatusCode::ACCEPTED, Json(op.op)))
}

pub(super) fn host_view(ctx: &Context, rec: &crate::host::HostRecord) -> crate::error::Result<Host> {
    let nodes: Vec<_> = node::all(ctx)?.into_iter().map(|d| d.value).collect();
    let mut v = rec.to_api(&nodes);
    v.energy = ctx.energy.host(&v.name);
    Ok(v)
}

/// `POST /v1/hosts/{name}/drain`: the host takes no new nodes and its nodes move away.
#[utoipa::path(
    post,
    path = "/v1/hosts/{name}/drain",
    operation_id = "drain_host",
    tag = "hosts",
    params(
        ("name" = String, Path, description = "Host name", example = "host-1"),
    ),
    responses(
        (status = 200, description = "The host, now draining", body = Host),
        Unauthorized,
        AdminOnly,
        NotFound,
        (status = 409, description = "The host is in a state that does not allow this (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn drain(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = migration::set_host_state(&ctx, &name, HostState::Draining)?;
    event::record(
        &ctx,
        &caller.0.name,
        &format!("hosts/{name}"),
        "host.draining",
        "draining",
    );
    Ok(Json(host_view(&ctx, &rec)?))
}

/// `POST /v1/hosts/{name}/restore`: the host takes nodes again.
#[utoipa::path(
    post,
    path = "/v1/hosts/{name}/restore",
    operation_id = "restore_host",
    tag = "hosts",
    params(
        ("name" = String, Path, description = "Host name", example = "host-1"),
    ),
    responses(
        (status = 200, description = "The host, ready again", body = Host),
        Unauthorized,
        AdminOnly,
        NotFound,
        (status = 409, description = "The host is in a state that does not allow this (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn restore(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = migration::set_host_state(&ctx, &name, HostState::Ready)?;
    event::record(&ctx, &caller.0.name, &format!("hosts/{name}"), "host.ready", "restored");
    Ok(Json(host_view(&ctx, &rec)?))
}
