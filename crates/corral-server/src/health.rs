//! The health loop: a host whose agent stays silent longer than the host timeout
//! becomes unreachable, and its nodes are recovered on other hosts with the same
//! names, addresses and MACs (fresh writable layers, on-recovery script). When the
//! host comes back its stale copies are no longer assigned to it, so its agent
//! removes them before it starts anything new.

use std::sync::Arc;
use std::time::Duration;

use corral_api::{HostState, NodeState};
use corral_store::{typed, Compare, Op};

use crate::context::Context;
use crate::error::Result;
use crate::host::HostRecord;
use crate::node::{self, Desired};
use crate::{event, keys};

/// Runs the health loop until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let tick = (ctx.cfg.host_timeout / 4).clamp(Duration::from_millis(100), Duration::from_secs(1));
    loop {
        tokio::time::sleep(tick).await;
        if let Err(e) = pass(&ctx) {
            tracing::warn!(error = %e, "health pass failed");
        }
    }
}

fn pass(ctx: &Context) -> Result<()> {
    for h in crate::host::all(ctx)? {
        if h.state != HostState::Ready && h.state != HostState::Draining {
            continue;
        }
        // A host Corral switched off (or is switching) is silent on purpose.
        if h.power.state != corral_api::PowerState::On {
            continue;
        }
        let silent = ctx.last_heartbeat(&h.name).elapsed();
        if silent > ctx.cfg.host_timeout {
            lost(ctx, &h, silent)?;
        }
    }
    Ok(())
}

/// Marks a host unreachable and sends its nodes elsewhere, in one transaction.
fn lost(ctx: &Context, h: &HostRecord, silent: Duration) -> Result<()> {
    let Some(doc) = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(&h.name))? else {
        return Ok(());
    };
    let mut rec = doc.value.clone();
    rec.state = HostState::Unreachable;
    let mut compares = vec![Compare::ModRevision(doc.key.clone(), doc.revision)];
    let mut ops = vec![typed::put_op(&doc.key, &rec)?];
    let mut moved = Vec::new();
    let mut left = Vec::new();
    let no_recovery: std::collections::HashSet<String> =
        typed::list::<crate::cluster::ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?
            .into_iter()
            .filter(|c| c.value.spec.recovery == corral_api::Recovery::None)
            .map(|c| c.value.uid)
            .collect();
    for d in node::all(ctx)? {
        if d.value.host.as_deref() != Some(h.name.as_str()) {
            continue;
        }
        compares.push(Compare::ModRevision(d.key.clone(), d.revision));
        if d.value.desired == Desired::Deleted {
            // It was going anyway; the host removes it when it returns.
            ops.push(Op::Delete(d.key.clone()));
            continue;
        }
        let mut n = d.value.clone();
        if no_recovery.contains(&n.cluster_uid) {
            // `recovery: none`: the node stays on its host, down, until the host returns.
            n.state = NodeState::Failed;
            n.error = Some(format!("host {} lost; recovery is off for this cluster", h.name));
            ops.push(typed::put_op(&d.key, &n)?);
            left.push(format!("{}/{}", n.cluster, n.name));
            continue;
        }
        n.host = None;
        n.recovered = true;
        n.state = NodeState::Pending;
        n.started_at = None;
        n.error = Some(format!("host {} lost; recovering on another host", h.name));
        ops.push(typed::put_op(&d.key, &n)?);
        moved.push(format!("{}/{}", n.cluster, n.name));
    }
    if ctx.store.txn(&compares, &ops)?.is_some() {
        event::record(
            ctx,
            "corral",
            &format!("hosts/{}", h.name),
            "host.unreachable",
            format!(
                "no heartbeat for {:.1}s; recovering {} node(s): {}; left down (recovery: none): {}",
                silent.as_secs_f64(),
                moved.len(),
                moved.join(", "),
                if left.is_empty() {
                    "none".to_string()
                } else {
                    left.join(", ")
                }
            ),
        );
    }
    Ok(())
}

/// A host that was unreachable speaks again: it takes nodes again.
pub fn host_returned(ctx: &Context, name: &str) -> Result<()> {
    loop {
        let Some(doc) = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(name))? else {
            return Ok(());
        };
        if doc.value.state != HostState::Unreachable {
            return Ok(());
        }
        let mut rec = doc.value.clone();
        rec.state = HostState::Ready;
        if ctx
            .store
            .txn(
                &[Compare::ModRevision(doc.key.clone(), doc.revision)],
                &[typed::put_op(&doc.key, &rec)?],
            )?
            .is_some()
        {
            event::record(
                ctx,
                "corral",
                &format!("hosts/{name}"),
                "host.ready",
                "back; its stale nodes are removed first",
            );
            return Ok(());
        }
    }
}
