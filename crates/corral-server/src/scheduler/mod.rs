//! The scheduler loop: reads hosts, clusters and nodes from the store, asks
//! [`placement`] where each pending node goes, and writes every decision of a pass in
//! one store transaction. Each node is compared on its revision and the pass on the
//! scheduler's epoch key, so two passes at once (two servers, or a test calling
//! [`pass`] beside the loop) never both fill the same last slot: the later one
//! conflicts and runs again over fresh state.

/// The pure placement code lives in `corral-policy`, shared with `corral sim`.
pub use corral_policy::placement;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_api::{HostState, NodeState, Placement};
use corral_store::{typed, Compare, Op};

use crate::cluster::ClusterRecord;
use crate::context::Context;
use crate::error::{Result, ServerError};
use crate::host::HostRecord;
use crate::node::{self, Desired, NodeRecord};
use crate::{event, keys};
use placement::{Decision, Demand, HostInfo, Labels, Placed, Placer};

/// How many times a pass is re-run after a conflicting write before it gives up
/// until the next wake-up.
const MAX_ATTEMPTS: u32 = 20;

/// What one pass did and where its time went.
#[derive(Debug, Clone, Default)]
pub struct PassStats {
    /// Nodes given a host.
    pub placed: usize,
    /// Nodes left pending.
    pub pending: usize,
    /// Deleted nodes removed before they ever had a host.
    pub removed: usize,
    /// Passes run, counting the ones that conflicted.
    pub attempts: u32,
    /// Reading and decoding the store.
    pub read: Duration,
    /// Deciding placements.
    pub place: Duration,
    /// Building and committing the transaction.
    pub write: Duration,
}

/// Runs the scheduler until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let mut watch = ctx.store.watch();
    loop {
        let c = ctx.clone();
        match tokio::task::spawn_blocking(move || pass_stats(&c)).await {
            Ok(Err(e)) => tracing::warn!(error = %e, "scheduler pass failed"),
            Err(e) => tracing::warn!(error = %e, "scheduler pass panicked"),
            Ok(Ok(_)) => {}
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

/// One pass: place every pending node, drop deleted nodes that never had a host.
pub fn pass(ctx: &Context) -> Result<()> {
    pass_stats(ctx).map(|_| ())
}

/// One pass, re-run while its transaction conflicts; what it did.
pub fn pass_stats(ctx: &Context) -> Result<PassStats> {
    let t = Instant::now();
    for attempt in 1..=MAX_ATTEMPTS {
        if let Some(mut stats) = try_pass(ctx)? {
            stats.attempts = attempt;
            ctx.metrics.scheduler_pass(t.elapsed(), &stats);
            return Ok(stats);
        }
        tracing::debug!(attempt, "scheduler pass conflicted; running it again");
    }
    Err(ServerError::Internal(format!(
        "scheduler pass conflicted {MAX_ATTEMPTS} times in a row"
    )))
}

/// The scheduler's epoch as a compare: a transaction carrying it fails if any pass
/// placed nodes (or the power manager took a host away) since it was read.
pub(crate) fn epoch(ctx: &Context) -> Result<Compare> {
    Ok(match ctx.store.get(keys::SCHEDULER_EPOCH)? {
        Some(kv) => Compare::ModRevision(kv.key, kv.mod_revision),
        None => Compare::Absent(keys::SCHEDULER_EPOCH.to_string()),
    })
}

/// What a pass read from the store.
struct Snapshot {
    epoch: Compare,
    hosts: Vec<HostRecord>,
    nodes: Vec<typed::Doc<NodeRecord>>,
    clusters: HashMap<String, ClusterRecord>,
}

fn read(ctx: &Context) -> Result<Snapshot> {
    // Read first, so a pass that commits after this read makes ours conflict.
    let epoch = epoch(ctx)?;
    let hosts = crate::host::all(ctx)?;
    let nodes = node::all(ctx)?;
    let clusters = typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?
        .into_iter()
        .map(|d| (d.value.uid.clone(), d.value))
        .collect();
    Ok(Snapshot {
        epoch,
        hosts,
        nodes,
        clusters,
    })
}

/// One attempt; `None` when its transaction conflicted.
fn try_pass(ctx: &Context) -> Result<Option<PassStats>> {
    let mut stats = PassStats::default();
    let t = Instant::now();
    let snap = read(ctx)?;
    stats.read = t.elapsed();

    let t = Instant::now();
    let no_labels = Labels::new();
    let hosts: Vec<HostInfo<'_>> = snap
        .hosts
        .iter()
        .map(|h| HostInfo {
            name: &h.name,
            cpu_millis: h.capacity.cpu_millis,
            memory_bytes: h.capacity.memory_bytes,
            labels: &h.labels,
            ready: h.state == HostState::Ready && h.power.state == corral_api::PowerState::On,
        })
        .collect();
    // Nodes being deleted still hold their room until their agent removes them.
    let placed: Vec<Placed<'_>> = snap
        .nodes
        .iter()
        .filter_map(|d| {
            let n = &d.value;
            Some(Placed {
                host: n.host.as_deref()?,
                cluster: &n.cluster_uid,
                cpu_millis: n.cpu_millis as u64,
                memory_bytes: n.memory_bytes,
            })
        })
        .collect();
    let mut pending: Vec<&typed::Doc<NodeRecord>> = snap.nodes.iter().filter(|d| d.value.host.is_none()).collect();
    // Oldest requests first, so capacity that appears goes to whoever waited longest:
    // creation second, then store revision (the earlier write within a second).
    pending.sort_by(|a, b| (a.value.created_at, a.revision, &a.key).cmp(&(b.value.created_at, b.revision, &b.key)));

    let mut placer = Placer::new(&hosts, &placed, ctx.cfg.cpu_overcommit);
    let mut compares = Vec::new();
    let mut ops = Vec::new();
    let mut newly_pending: BTreeMap<(String, String, String), Vec<String>> = BTreeMap::new();
    for d in pending {
        let n = &d.value;
        if n.desired == Desired::Deleted {
            compares.push(Compare::ModRevision(d.key.clone(), d.revision));
            ops.push(Op::Delete(d.key.clone()));
            stats.removed += 1;
            continue;
        }
        let c = snap.clusters.get(&n.cluster_uid);
        let demand = Demand {
            cluster: &n.cluster_uid,
            cpu_millis: n.cpu_millis as u64,
            memory_bytes: n.memory_bytes,
            policy: c.map(|c| c.spec.placement).unwrap_or(Placement::Spread),
            constraints: c.map(|c| &c.spec.constraints).unwrap_or(&no_labels),
        };
        let mut next = n.clone();
        match placer.place(&demand) {
            Decision::Host(h) => {
                next.host = Some(snap.hosts[h].name.clone());
                next.state = if n.desired == Desired::Running {
                    NodeState::Creating
                } else {
                    NodeState::Stopped
                };
                next.error = None;
                stats.placed += 1;
            }
            Decision::Pending(why) => {
                stats.pending += 1;
                if n.error.as_deref() == Some(why.as_str()) {
                    continue;
                }
                newly_pending
                    .entry((n.owner.clone(), n.cluster.clone(), why.clone()))
                    .or_default()
                    .push(n.name.clone());
                next.error = Some(why);
            }
        }
        compares.push(Compare::ModRevision(d.key.clone(), d.revision));
        ops.push(typed::put_op(&d.key, &next)?);
    }
    stats.place = t.elapsed();

    if ops.is_empty() {
        return Ok(Some(stats));
    }
    let t = Instant::now();
    compares.push(snap.epoch);
    ops.push(Op::Put(
        keys::SCHEDULER_EPOCH.to_string(),
        stats.placed.to_string().into_bytes(),
    ));
    if ctx.store.txn(&compares, &ops)?.is_none() {
        return Ok(None);
    }
    stats.write = t.elapsed();
    tracing::debug!(
        placed = stats.placed,
        pending = stats.pending,
        removed = stats.removed,
        "scheduler pass"
    );
    for ((owner, cluster, why), names) in newly_pending {
        let target = format!("clusters/{cluster}");
        event::record_owned(
            ctx,
            "corral",
            &owner,
            &target,
            "node.pending",
            format!("{} pending: {why}", names.join(", ")),
        );
    }
    Ok(Some(stats))
}
