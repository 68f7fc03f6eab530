//! Consolidation: empties a lightly used, power-managed host by cold migration of its
//! nodes onto other powered-on hosts, so the power manager can switch it off after its
//! idle time. Runs after each power pass, as `corral_policy::consolidate` plans.
//!
//! Rate-limited: one host at a time, at most one new host per `consolidate_interval`,
//! and no new plan while any node of the pool is moving. Each cluster's
//! `max_unavailable` bounds how many of its nodes are down at once, and only nodes of
//! clusters with `pack` placement move (`spread` asked for resilience, not density),
//! and only to hosts with the labels their cluster is constrained to. A cold migration restarts the node, so a node that has
//! been busy lately (its cpu use in the metrics history) stays where it is.

use std::collections::HashMap;
use std::sync::Arc;

use corral_api::{HostState, Placement, PowerState};
use corral_policy::consolidate::{self, HostLoad, NodeLoad};
use corral_store::typed;

use crate::cluster::ClusterRecord;
use crate::context::Context;
use crate::error::Result;
use crate::node::{self, Desired};
use crate::{event, keys, migration};

/// How far back a node's cpu use decides whether it is busy.
const BUSY_WINDOW_SECS: u64 = 120;
/// Mean cpu use, as a share of the node's limit, above which a node is busy: a
/// restart would cut into its work (a batch job, a service with traffic).
const BUSY_SHARE: f64 = 0.10;

/// Whether node `n` used more than [`BUSY_SHARE`] of its cpu over the window before
/// `now`. No samples (a new node, or an agent that does not report) counts as idle.
fn busy(ctx: &Context, n: &crate::node::NodeRecord, now: u64) -> bool {
    let since = now.saturating_sub(BUSY_WINDOW_SECS);
    let Some((_, samples)) = ctx.metrics_history.samples(&n.id, since) else {
        return false;
    };
    mean_share(samples.iter().map(|s| s.cpu_percent), n.cpu_millis as f64) > BUSY_SHARE
}

/// Mean of cpu percents (100 = one cpu) as a share of a limit of `cpu_millis`.
fn mean_share(percents: impl Iterator<Item = f64>, cpu_millis: f64) -> f64 {
    let (sum, count) = percents.fold((0.0, 0u32), |(s, c), p| (s + p, c + 1));
    if count == 0 {
        return 0.0;
    }
    (sum / f64::from(count)) * 10.0 / cpu_millis.max(1.0)
}

/// What the consolidator remembers between passes.
#[derive(Debug, Default)]
pub struct State {
    /// The host being emptied.
    source: Option<String>,
    /// When the last host was chosen.
    last_plan: Option<u64>,
}

/// One pass at time `now`: goes on emptying the current host, or chooses the next one.
pub fn pass(ctx: &Arc<Context>, state: &mut State, now: u64) -> Result<()> {
    let interval = ctx.cfg.consolidate_interval.as_secs();
    if interval == 0 {
        return Ok(());
    }
    let hosts: Vec<_> = crate::host::all(ctx)?
        .into_iter()
        .filter(|h| h.state != HostState::Removed)
        .collect();
    let docs = node::all(ctx)?;
    let clusters: HashMap<String, ClusterRecord> = typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?
        .into_iter()
        .map(|d| (d.value.uid.clone(), d.value))
        .collect();
    let index: HashMap<&str, usize> = hosts.iter().enumerate().map(|(i, h)| (h.name.as_str(), i)).collect();
    let on = |h: &crate::host::HostRecord| h.power_config.is_none() || h.power.state == PowerState::On;
    let loads: Vec<HostLoad> = hosts
        .iter()
        .map(|h| HostLoad {
            switchable: h.power_config.is_some() && h.power.state == PowerState::On && h.state == HostState::Ready,
            ready: on(h) && h.state == HostState::Ready,
            cpu_millis: h.capacity.cpu_millis,
            memory_bytes: h.capacity.memory_bytes,
            labels: h.labels.clone(),
        })
        .collect();
    // Nodes count on their host, and a moving node on its target too.
    let mut nodes = Vec::new();
    let mut of_node = Vec::new();
    let mut moving: HashMap<&str, usize> = HashMap::new();
    for d in &docs {
        let n = &d.value;
        let Some(h) = n.host.as_deref().and_then(|h| index.get(h)) else {
            continue;
        };
        let cluster = clusters.get(&n.cluster_uid);
        let movable = n.migration.is_none()
            && n.desired != Desired::Deleted
            && cluster.is_some_and(|c| c.spec.placement == Placement::Pack && !c.deleting)
            && !busy(ctx, n, now);
        let constraints = cluster.map(|c| c.spec.constraints.clone()).unwrap_or_default();
        nodes.push(NodeLoad {
            host: *h,
            cpu_millis: n.cpu_millis as u64,
            memory_bytes: n.memory_bytes,
            movable,
            constraints: constraints.clone(),
        });
        of_node.push(d);
        if let Some(m) = &n.migration {
            *moving.entry(n.cluster_uid.as_str()).or_default() += 1;
            if let Some(&t) = index.get(m.to.as_str()) {
                nodes.push(NodeLoad {
                    host: t,
                    cpu_millis: n.cpu_millis as u64,
                    memory_bytes: n.memory_bytes,
                    movable: false,
                    constraints,
                });
                of_node.push(d);
            }
        }
    }
    let plan = match state.source.as_deref().and_then(|s| index.get(s)) {
        Some(&source) => {
            if !nodes.iter().any(|n| n.host == source) {
                state.source = None;
                return Ok(());
            }
            consolidate::plan_host(&loads, &nodes, ctx.cfg.cpu_overcommit, source)
        }
        None => {
            let due = state.last_plan.is_none_or(|t| now >= t + interval);
            if !due || !moving.is_empty() {
                return Ok(());
            }
            let empty_on = (0..hosts.len())
                .filter(|&i| loads[i].ready && !nodes.iter().any(|n| n.host == i))
                .count();
            let pool = hosts.iter().filter(|h| h.power.state != PowerState::Failed).count();
            let plan = consolidate::plan(
                &loads,
                &nodes,
                ctx.cfg.cpu_overcommit,
                empty_on,
                ctx.cfg.power.spare.hosts(pool),
            );
            if let Some(p) = &plan {
                let name = &hosts[p.source].name;
                state.source = Some(name.clone());
                state.last_plan = Some(now);
                event::record(ctx, "corral", &format!("hosts/{name}"), "host.consolidating", &p.reason);
            }
            plan
        }
    };
    let Some(plan) = plan else {
        // The host's nodes no longer fit elsewhere (or may no longer move): give up on it.
        state.source = None;
        return Ok(());
    };
    for (k, target) in plan.moves {
        let d = of_node[k];
        let n = &d.value;
        let limit = clusters
            .get(&n.cluster_uid)
            .map_or(1, |c| c.spec.max_unavailable.unwrap_or(1).max(1) as usize);
        let down = moving.entry(n.cluster_uid.as_str()).or_default();
        if *down >= limit {
            continue;
        }
        match migration::start(ctx, d, Some(&hosts[target].name)) {
            Ok(_) => *down += 1,
            Err(e) => tracing::debug!(node = %n.id, error = %e.to_api().message, "cannot consolidate node yet"),
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_node_is_busy_by_its_mean_cpu_against_its_limit() {
        // Half a cpu used of a two-cpu limit: a quarter.
        assert!((mean_share([50.0, 50.0].into_iter(), 2000.0) - 0.25).abs() < 1e-9);
        // A burst among idle samples of a one-cpu node: 30/4 % = 0.075, idle.
        assert!(mean_share([0.0, 30.0, 0.0, 0.0].into_iter(), 1000.0) < BUSY_SHARE);
        assert_eq!(mean_share(std::iter::empty(), 1000.0), 0.0);
    }
}
