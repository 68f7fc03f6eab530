//! Running commands in nodes: to completion (REST) or interactively (websocket,
//! optionally on a terminal), through the channel to the node's host.

use corral_agent::exec::ExecSession;
use corral_api::{ApiError, ExecRequest, ExecResult};

use crate::context::Context;
use crate::error::Result;
use crate::host_channel;
use crate::node::NodeRecord;

fn check(req: &ExecRequest) -> Result<()> {
    if req.command.is_empty() || req.command[0].is_empty() {
        return Err(ApiError::invalid("command is empty: say what to run, e.g. `-- hostname`").into());
    }
    Ok(())
}

/// Runs a command to completion and returns its output.
pub async fn run(ctx: &Context, n: &NodeRecord, req: &ExecRequest) -> Result<ExecResult> {
    check(req)?;
    host_channel::for_node(ctx, n)?.exec(&n.id, req).await
}

/// Starts an interactive command, on a new terminal when asked.
pub async fn start(ctx: &Context, n: &NodeRecord, req: &ExecRequest) -> Result<ExecSession> {
    check(req)?;
    host_channel::for_node(ctx, n)?.session(&n.id, req).await
}
