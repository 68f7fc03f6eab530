//! Cold migration and host drain: stop a node, move its writable layer through the
//! server, start it on another host with the same name, address and MAC.
//!
//! Phases live on the node record, so every step survives a crash of any process:
//! `Stopping` (the source stops the node and uploads its layer; the upload moves the
//! node to the target) → `Moving` (the target fetches the layer and starts the node;
//! its report ends the migration). The source then holds a node no longer assigned
//! to it, which its agent removes.

use std::path::PathBuf;
use std::sync::Arc;

use corral_api::{ApiError, ErrorCode, HostState, NodeState};
use corral_store::{typed, Compare};

use crate::context::Context;
use crate::error::Result;
use crate::host::HostRecord;
use crate::node::{self, Desired, Migration, MigrationPhase, NodeRecord};
use crate::{event, keys};

/// Where an uploaded writable layer waits for its target host.
pub fn upper_path(ctx: &Context, id: &str) -> PathBuf {
    ctx.cfg.data_dir.join("migrations").join(format!("{id}.tar"))
}

/// Where an upload is written before it is complete.
pub fn upper_tmp_path(ctx: &Context, id: &str) -> PathBuf {
    ctx.cfg.data_dir.join("migrations").join(format!("{id}.tar.part"))
}

fn conflict(m: String) -> crate::error::ServerError {
    ApiError::new(ErrorCode::Conflict, m).into()
}

/// Free memory of every ready host, after the nodes placed on it.
fn free_memory(ctx: &Context) -> Result<Vec<(HostRecord, i128)>> {
    let nodes: Vec<NodeRecord> = node::all(ctx)?.into_iter().map(|d| d.value).collect();
    Ok(crate::host::ready_hosts(ctx)?
        .into_iter()
        .map(|h| {
            let used: u64 = nodes
                .iter()
                .filter(|n| n.desired != Desired::Deleted)
                .filter(|n| {
                    n.host.as_deref() == Some(h.name.as_str()) || n.migration.as_ref().is_some_and(|m| m.to == h.name)
                })
                .map(|n| n.memory_bytes)
                .sum();
            let free = h.capacity.memory_bytes as i128 - used as i128;
            (h, free)
        })
        .collect())
}

/// Picks a target for a node: the named host if it has room, else the ready host
/// with the most free memory other than the node's own.
fn choose_target(ctx: &Context, n: &NodeRecord, to: Option<&str>) -> Result<String> {
    let hosts = free_memory(ctx)?;
    let from = n.host.as_deref().unwrap_or_default();
    let fits = |h: &(HostRecord, i128)| h.0.name != from && h.1 >= n.memory_bytes as i128;
    match to {
        Some(t) => {
            let h = hosts
                .iter()
                .find(|h| h.0.name == t)
                .ok_or_else(|| conflict(format!("host {t} is not ready")))?;
            if !fits(h) {
                return Err(ApiError::new(
                    ErrorCode::InsufficientCapacity,
                    format!("host {t} has no room for {}", n.name),
                )
                .into());
            }
            Ok(t.to_string())
        }
        None => hosts
            .iter()
            .filter(|h| fits(h))
            .max_by_key(|h| h.1)
            .map(|h| h.0.name.clone())
            .ok_or_else(|| {
                ApiError::new(
                    ErrorCode::InsufficientCapacity,
                    format!("no other host has room for {}", n.name),
                )
                .into()
            }),
    }
}

/// Starts moving one node; returns the target host.
pub fn start(ctx: &Context, doc: &typed::Doc<NodeRecord>, to: Option<&str>) -> Result<String> {
    let n = &doc.value;
    let Some(from) = n.host.clone() else {
        return Err(conflict(format!("node {} has no host yet", n.name)));
    };
    if n.migration.is_some() {
        return Err(conflict(format!("node {} is already moving", n.name)));
    }
    if n.desired == Desired::Deleted {
        return Err(conflict(format!("node {} is being deleted", n.name)));
    }
    let target = choose_target(ctx, n, to)?;
    let mut m = n.clone();
    m.migration = Some(Migration {
        from: from.clone(),
        to: target.clone(),
        phase: MigrationPhase::Stopping,
    });
    let op = typed::put_op(&doc.key, &m)?;
    if ctx
        .store
        .txn(&[Compare::ModRevision(doc.key.clone(), doc.revision)], &[op])?
        .is_none()
    {
        return Err(conflict(format!("node {} changed meanwhile; try again", n.name)));
    }
    event::record_owned(
        ctx,
        "corral",
        &n.owner,
        &format!("clusters/{}/nodes/{}", n.cluster, n.name),
        "node.migrating",
        format!("moving from {from} to {target}"),
    );
    Ok(target)
}

/// The source host finished uploading the writable layer of node `id`: the node is
/// now assigned to the target.
pub fn upper_received(ctx: &Context, host: &str, id: &str) -> Result<()> {
    loop {
        let doc = find(ctx, id)?;
        let n = &doc.value;
        let Some(mig) = n
            .migration
            .clone()
            .filter(|m| m.phase == MigrationPhase::Stopping && m.from == host)
        else {
            return Err(conflict(format!("node {id} is not migrating away from {host}")));
        };
        std::fs::rename(upper_tmp_path(ctx, id), upper_path(ctx, id))
            .map_err(|e| crate::error::ServerError::Internal(format!("storing the layer of {id}: {e}")))?;
        let mut m = n.clone();
        m.host = Some(mig.to.clone());
        m.state = NodeState::Creating;
        m.started_at = None;
        m.migration = Some(Migration {
            phase: MigrationPhase::Moving,
            ..mig
        });
        let op = typed::put_op(&doc.key, &m)?;
        if ctx
            .store
            .txn(&[Compare::ModRevision(doc.key.clone(), doc.revision)], &[op])?
            .is_some()
        {
            return Ok(());
        }
    }
}

/// Ends a migration once the target reports the node in its desired state.
pub fn finish_if_arrived(ctx: &Context, n: &mut NodeRecord, host: &str) -> bool {
    let arrived = match &n.migration {
        Some(m) if m.phase == MigrationPhase::Moving && m.to == host => match n.desired {
            Desired::Running => n.state == NodeState::Running,
            Desired::Stopped => n.state == NodeState::Stopped,
            Desired::Deleted => false,
        },
        _ => false,
    };
    if arrived {
        n.migration = None;
        let _ = std::fs::remove_file(upper_path(ctx, &n.id));
    }
    arrived
}

/// The node with runtime id `id`.
pub fn find(ctx: &Context, id: &str) -> Result<typed::Doc<NodeRecord>> {
    let (uid, name) = id.split_once('-').ok_or_else(|| ApiError::not_found("node", id))?;
    typed::get(ctx.store.as_ref(), &keys::node(uid, name))?.ok_or_else(|| ApiError::not_found("node", id).into())
}

/// Runs the drain loop: nodes leave draining hosts, one per cluster at a time.
pub async fn run(ctx: Arc<Context>) {
    let mut watch = ctx.store.watch();
    loop {
        if let Err(e) = drain_pass(&ctx) {
            tracing::warn!(error = %e, "drain pass failed");
        }
        crate::scheduler::wait_for_change(&mut watch, &[keys::NODES, keys::HOSTS]).await;
    }
}

fn drain_pass(ctx: &Context) -> Result<()> {
    let draining: Vec<String> = crate::host::all(ctx)?
        .into_iter()
        .filter(|h| h.state == HostState::Draining)
        .map(|h| h.name)
        .collect();
    if draining.is_empty() {
        return Ok(());
    }
    let docs = node::all(ctx)?;
    let limits: std::collections::HashMap<String, usize> =
        typed::list::<crate::cluster::ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?
            .into_iter()
            .map(|c| (c.value.uid, c.value.spec.max_unavailable.unwrap_or(1).max(1) as usize))
            .collect();
    let mut moving: std::collections::HashMap<String, usize> = Default::default();
    for d in docs.iter().filter(|d| d.value.migration.is_some()) {
        *moving.entry(d.value.cluster_uid.clone()).or_default() += 1;
    }
    for d in &docs {
        let n = &d.value;
        let on_draining = n.host.as_ref().is_some_and(|h| draining.contains(h));
        let limit = limits.get(&n.cluster_uid).copied().unwrap_or(1);
        let busy = moving.get(&n.cluster_uid).copied().unwrap_or(0) >= limit;
        if !on_draining || n.migration.is_some() || n.desired == Desired::Deleted || busy {
            continue;
        }
        // At most `max_unavailable` nodes of a cluster down at once: the others serve.
        match start(ctx, d, None) {
            Ok(_) => {
                *moving.entry(n.cluster_uid.clone()).or_default() += 1;
            }
            Err(e) => {
                tracing::debug!(node = %n.id, error = %e.to_api().message, "cannot move node off draining host yet")
            }
        }
    }
    Ok(())
}

/// Sets a host's state for drain (`Draining`) or restore (`Ready`).
pub fn set_host_state(ctx: &Context, name: &str, state: HostState) -> Result<HostRecord> {
    loop {
        let d = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))?
            .ok_or_else(|| ApiError::not_found("host", name))?;
        if d.value.state == HostState::Removed || d.value.state == HostState::Unreachable {
            return Err(conflict(format!("host {name} is {:?}", d.value.state).to_lowercase()));
        }
        let mut rec = d.value.clone();
        rec.state = state;
        if ctx
            .store
            .txn(
                &[Compare::ModRevision(d.key.clone(), d.revision)],
                &[typed::put_op(&d.key, &rec)?],
            )?
            .is_some()
        {
            return Ok(rec);
        }
    }
}
