//! `GET /v1/clusters/{name}/nodes/{node}/exec/ws`: an interactive command over a
//! websocket. The first text frame is an `ExecRequest`; then binary frames carry
//! input and output, text frames carry `{"resize":[r,c]}` and `{"eof":true}` from the
//! client and `{"exit_code":N}` from the server at the end (see
//! `corral_agent::exec_ws`, which agents' listeners speak too).

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, Query, State};
use axum::response::Response;

use super::auth::Caller;
use super::clusters::OwnerQuery;
use super::error::HttpResult;
use super::nodes::find;
use crate::context::Context;
use crate::exec;

/// Upgrades to a websocket once the caller may use the node.
pub async fn upgrade(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<OwnerQuery>,
    ws: WebSocketUpgrade,
) -> HttpResult<Response> {
    let n = find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    Ok(ws.on_upgrade(move |socket| {
        corral_agent::exec_ws::serve(socket, move |req| async move {
            exec::start(&ctx, &n, &req).await.map_err(|e| e.to_api().message)
        })
    }))
}
