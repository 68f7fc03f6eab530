//! How the server reaches the agent holding a node, for what the control protocol
//! does not carry: commands in nodes and saving a node's writable layer. One seam,
//! two drivers: an agent in this process (`local`), or a remote agent's own
//! listener over mutual TLS (`remote`).

mod local;
mod remote;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use async_trait::async_trait;
use corral_agent::exec::ExecSession;
use corral_api::{ApiError, ErrorCode, ExecRequest, ExecResult, NodeState};
use corral_image::{ImageManifest, ImageStore};
use corral_store::typed;

use crate::context::Context;
use crate::error::Result;
use crate::host::HostRecord;
use crate::keys;
use crate::node::NodeRecord;

/// What the server asks of the agent of a node's host.
#[async_trait]
pub trait HostChannel: Send + Sync {
    /// Runs a command in node `id` to completion.
    async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResult>;
    /// Starts an interactive command in node `id`.
    async fn session(&self, id: &str, req: &ExecRequest) -> Result<ExecSession>;
    /// Makes an image of node `id`'s writable layer on top of `base` (without the
    /// node-local files) and installs it in `into`, the server's image store.
    async fn save(&self, id: &str, base: &str, into: &ImageStore) -> Result<ImageManifest>;
}

/// The remote hosts' channels, kept while their address and certificate hold.
#[derive(Default)]
pub struct HostChannels {
    remotes: Mutex<HashMap<String, Arc<remote::RemoteHost>>>,
}

fn unreachable(host: &str, node: &str, why: &str) -> crate::error::ServerError {
    ApiError::new(
        ErrorCode::Conflict,
        format!("host {host} of node {node} is not reachable from this server: {why}"),
    )
    .into()
}

/// The channel to the agent holding a running node.
pub fn for_node(ctx: &Context, n: &NodeRecord) -> Result<Arc<dyn HostChannel>> {
    if n.state != NodeState::Running {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("node {} is {}, not running", n.name, n.state.as_str()),
        )
        .into());
    }
    let host = n.host.as_deref().unwrap_or_default();
    if let Some(agent) = ctx.local_agent(host) {
        return Ok(Arc::new(local::LocalHost::new(agent)));
    }
    Ok(remote_host(ctx, host).map_err(|why| unreachable(host, &n.name, &why))?)
}

/// The channel to a remote host's own agent listener, or why there is none.
fn remote_host(ctx: &Context, host: &str) -> std::result::Result<Arc<remote::RemoteHost>, String> {
    let rec = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(host))
        .map_err(|e| e.to_string())?
        .ok_or("unknown host")?
        .value;
    let (Some(fingerprint), false) = (rec.cert_fingerprint.as_deref(), rec.exec_address.is_empty()) else {
        return Err("its agent announced no listener".into());
    };
    let pki = ctx
        .pki
        .get()
        .ok_or("this server has no agent API (and so no client certificate)")?;
    let mut remotes = ctx.host_channels.remotes.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(r) = remotes.get(host) {
        if r.is_for(&rec.exec_address, fingerprint) {
            return Ok(r.clone());
        }
    }
    let r = Arc::new(remote::RemoteHost::new(host, &rec.exec_address, fingerprint, pki)?);
    remotes.insert(host.to_string(), r.clone());
    Ok(r)
}

/// Asks a remote host's agent to power its machine off (hosts woken by wake-on-LAN).
pub async fn power_off(ctx: &Context, host: &str) -> std::result::Result<(), String> {
    let r = remote_host(ctx, host)?;
    r.power_off().await.map_err(|e| e.to_string())
}
