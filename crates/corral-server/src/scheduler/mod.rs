//! The scheduler: places pending nodes on hosts with room for them.
//!
//! Filter: hosts whose free memory (never over-committed) and free cpu (over-committed
//! by the configured ratio) hold the node. Score: most free memory first, so nodes
//! spread. A node that fits nowhere stays pending with the reason in its `error`.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use corral_api::NodeState;
use corral_store::{typed, Compare, Op};

use crate::context::Context;
use crate::error::Result;
use crate::host::HostRecord;
use crate::node::{self, Desired, NodeRecord};
use crate::{event, keys};

/// Free room on a host.
#[derive(Debug, Clone, Copy)]
struct Room {
    memory: i128,
    cpu: f64,
}

/// Runs the scheduler until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let mut watch = ctx.store.watch();
    loop {
        if let Err(e) = pass(&ctx) {
            tracing::warn!(error = %e, "scheduler pass failed");
        }
        wait_for_change(&mut watch, &[keys::NODES, keys::HOSTS]).await;
    }
}

/// Waits until a key under one of `prefixes` changes, or a second passes.
pub async fn wait_for_change(
    watch: &mut tokio::sync::broadcast::Receiver<corral_store::WatchEvent>,
    prefixes: &[&str],
) {
    let deadline = tokio::time::sleep(Duration::from_secs(1));
    tokio::pin!(deadline);
    loop {
        tokio::select! {
            _ = &mut deadline => return,
            ev = watch.recv() => match ev {
                Ok(ev) if prefixes.iter().any(|p| ev.key.starts_with(p)) => return,
                Ok(_) => continue,
                // Missed events: act as if something relevant changed.
                Err(_) => return,
            },
        }
    }
}

fn rooms(ctx: &Context, hosts: &[HostRecord], nodes: &[NodeRecord]) -> HashMap<String, Room> {
    let mut rooms: HashMap<String, Room> = hosts
        .iter()
        .map(|h| {
            let room = Room {
                memory: h.capacity.memory_bytes as i128,
                cpu: h.capacity.cpu_millis as f64 * ctx.cfg.cpu_overcommit,
            };
            (h.name.clone(), room)
        })
        .collect();
    for n in nodes {
        if let Some(r) = n.host.as_ref().and_then(|h| rooms.get_mut(h)) {
            r.memory -= n.memory_bytes as i128;
            r.cpu -= n.cpu_millis as f64;
        }
    }
    rooms
}

/// One pass: place every pending node, drop deleted nodes that never had a host.
pub fn pass(ctx: &Context) -> Result<()> {
    let hosts = crate::host::ready_hosts(ctx)?;
    let docs = node::all(ctx)?;
    let records: Vec<NodeRecord> = docs.iter().map(|d| d.value.clone()).collect();
    let mut rooms = rooms(ctx, &hosts, &records);
    for d in &docs {
        let n = &d.value;
        if n.host.is_some() {
            continue;
        }
        if n.desired == Desired::Deleted {
            ctx.store.txn(
                &[Compare::ModRevision(d.key.clone(), d.revision)],
                &[Op::Delete(d.key.clone())],
            )?;
            continue;
        }
        let best = rooms
            .iter()
            .filter(|(_, r)| r.memory >= n.memory_bytes as i128 && r.cpu >= n.cpu_millis as f64)
            .max_by(|a, b| a.1.memory.cmp(&b.1.memory).then(a.0.cmp(b.0)))
            .map(|(h, _)| h.clone());
        let mut placed = n.clone();
        match &best {
            Some(h) => {
                placed.host = Some(h.clone());
                placed.state = if n.desired == Desired::Running {
                    NodeState::Creating
                } else {
                    NodeState::Stopped
                };
                placed.error = None;
            }
            None => {
                let why = format!(
                    "no host has room for {} MiB and {} millicpus",
                    n.memory_bytes >> 20,
                    n.cpu_millis
                );
                if placed.error.as_deref() == Some(why.as_str()) {
                    continue;
                }
                placed.error = Some(why);
            }
        }
        let put = typed::put_op(&d.key, &placed)?;
        if ctx
            .store
            .txn(&[Compare::ModRevision(d.key.clone(), d.revision)], &[put])?
            .is_some()
        {
            if let Some(h) = best {
                let r = rooms.get_mut(&h).expect("chosen from rooms");
                r.memory -= n.memory_bytes as i128;
                r.cpu -= n.cpu_millis as f64;
                tracing::debug!(node = %n.id, host = %h, "placed");
            } else {
                event::record(
                    ctx,
                    "corral",
                    &format!("clusters/{}/nodes/{}", n.cluster, n.name),
                    "node.pending",
                    placed.error.unwrap_or_default(),
                );
            }
        }
    }
    Ok(())
}
