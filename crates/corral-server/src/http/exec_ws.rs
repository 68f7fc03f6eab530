//! `GET /v1/clusters/{name}/nodes/{node}/exec/ws`: an interactive command over a
//! websocket. The first text frame is an `ExecRequest`; then binary frames carry
//! input and output, text frames carry `{"resize":[r,c]}` and `{"eof":true}` from the
//! client and `{"exit_code":N}` from the server at the end (see
//! `corral_agent::exec_ws`, which agents' listeners speak too).

use std::sync::Arc;

use axum::extract::ws::rejection::WebSocketUpgradeRejection;
use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::response::Response;
use corral_api::ApiError;

use super::auth::Caller;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use super::nodes::find;
use super::query::Query;
use super::responses::{Internal, NotFound, Unauthorized};
use crate::context::Context;
use crate::exec;

/// Upgrades to a websocket once the caller may use the node.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes/{node}/exec/ws",
    operation_id = "exec_in_node_ws",
    tag = "nodes",
    params(
        ("name" = String, Path, description = "Cluster name", example = "demo"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`", example = "web-0"),
        OwnerQuery,
        ("token" = Option<String>, Query, description = "Bearer token, for clients (browsers) that cannot set headers on a websocket"),
    ),
    responses(
        (status = 101, description = "Switching to the websocket protocol. The first text frame is an `ExecRequest`; binary frames carry input and output; text frames carry `{\"resize\":[rows,cols]}` and `{\"eof\":true}` from the client and `{\"exit_code\":N}` from the server"),
        (status = 400, description = "Not a websocket upgrade request, or an invalid query parameter (`invalid_request`)", body = ApiError),
        Unauthorized,
        NotFound,
        (status = 409, description = "The node is not running or its host cannot be reached (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn upgrade(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    ws: Result<WebSocketUpgrade, WebSocketUpgradeRejection>,
) -> HttpResult<Response> {
    let n = find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    // Checked after the node, so a missing node is a 404 however it is asked for.
    let ws = ws.map_err(|e| ApiError::invalid(format!("not a websocket upgrade: {}", e.body_text())))?;
    Ok(ws.on_upgrade(move |socket| {
        corral_agent::exec_ws::serve(socket, move |req| async move {
            exec::start(&ctx, &n, &req).await.map_err(|e| e.to_api().message)
        })
    }))
}
