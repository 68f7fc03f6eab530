//! Energy accounting: a control loop that integrates every host's power draw (the
//! power model of `corral_policy::energy`: idle to peak watts, linear in the cpu its
//! nodes use, nothing when off) and charges it to the clusters and projects whose
//! nodes hold the host's cpu. Beside it, the baseline every host always on would
//! have drawn: the difference is what power management saved.
//!
//! The totals are kept in memory and written to the store once a minute, so a
//! restart loses at most a minute of accounting.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_api::{EnergyReport, HostEnergy, HostState, PowerState};
use corral_policy::energy::PowerModel;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::node::NodeRecord;
use crate::time::now;

/// How often power is integrated.
const TICK: Duration = Duration::from_secs(2);
/// How often the totals are written to the store.
const SAVE_EVERY: Duration = Duration::from_secs(60);
/// Where the totals are kept.
const KEY: &str = "/energy/ledger";

/// The running totals, joules.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
pub struct Ledger {
    /// When accounting started, seconds since the epoch.
    pub since: u64,
    /// Per host: drawn, and what it would have drawn always on.
    pub hosts: BTreeMap<String, (f64, f64)>,
    /// Per cluster (`owner/name`).
    pub clusters: BTreeMap<String, f64>,
    /// Per project (the cluster's owner until projects exist).
    pub projects: BTreeMap<String, f64>,
    /// Watts each host draws now.
    #[serde(skip)]
    pub watts: HashMap<String, f64>,
}

/// A host as accounting sees it.
#[derive(Debug, Clone)]
pub struct Metered<'a> {
    /// Name.
    pub name: &'a str,
    /// Cpus it has.
    pub cpus: f64,
    /// Its power state (on for hosts Corral does not switch).
    pub state: PowerState,
    /// The nodes on it.
    pub nodes: Vec<MeteredNode<'a>>,
}

/// A node as accounting sees it.
#[derive(Debug, Clone)]
pub struct MeteredNode<'a> {
    /// Its cluster's owner.
    pub owner: &'a str,
    /// Its cluster's name.
    pub cluster: &'a str,
    /// Cpus it holds (its limit).
    pub cpus_held: f64,
    /// Cpus it used in its latest sample.
    pub cpus_used: f64,
}

/// The ledger of a running server.
#[derive(Default)]
pub struct Energy {
    ledger: Mutex<Ledger>,
}

impl Energy {
    fn lock(&self) -> std::sync::MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// What a host drew and saved so far, and draws now.
    pub fn host(&self, name: &str) -> HostEnergy {
        let l = self.lock();
        let (joules, baseline) = l.hosts.get(name).copied().unwrap_or_default();
        HostEnergy {
            watts: l.watts.get(name).copied().unwrap_or_default(),
            joules,
            saved_joules: baseline - joules,
        }
    }

    /// The pool's totals.
    pub fn report(&self) -> EnergyReport {
        let l = self.lock();
        // `+ 0.0`: an empty f64 sum is -0.0, which prints as "-0".
        let joules: f64 = l.hosts.values().map(|h| h.0).sum::<f64>() + 0.0;
        let baseline: f64 = l.hosts.values().map(|h| h.1).sum::<f64>() + 0.0;
        let (saved, fraction) = corral_policy::energy::saved(baseline, joules);
        EnergyReport {
            since: l.since,
            joules,
            baseline_joules: baseline,
            saved_joules: saved,
            saved_fraction: fraction,
            watts: l.watts.values().sum::<f64>() + 0.0,
            clusters: l.clusters.clone(),
            projects: l.projects.clone(),
        }
    }

    /// Integrates `seconds` of the pool as it is now.
    pub fn tick(&self, model: &PowerModel, hosts: &[Metered<'_>], seconds: f64) {
        let mut l = self.lock();
        if l.since == 0 {
            l.since = now();
        }
        l.watts.clear();
        for h in hosts {
            let cpus = h.cpus.max(0.001);
            let busy = (h.nodes.iter().map(|n| n.cpus_used.max(0.0)).sum::<f64>() / cpus).min(1.0);
            let watts = model.watts(h.state, busy);
            let always_on = model.watts(PowerState::On, busy);
            let entry = l.hosts.entry(h.name.to_string()).or_default();
            entry.0 += watts * seconds;
            entry.1 += always_on * seconds;
            l.watts.insert(h.name.to_string(), watts);
            // Charged by the cpu the nodes hold (reserved), so a node's share does not
            // vanish while it idles; what no node holds is the pool's.
            let held = h.nodes.iter().map(|n| n.cpus_held).sum::<f64>().max(cpus);
            for n in &h.nodes {
                let j = watts * seconds * n.cpus_held / held;
                *l.clusters.entry(format!("{}/{}", n.owner, n.cluster)).or_default() += j;
                *l.projects.entry(n.owner.to_string()).or_default() += j;
            }
        }
    }

    fn load(&self, ctx: &Context) -> Result<()> {
        if let Some(kv) = ctx.store.get(KEY)? {
            if let Ok(l) = serde_json::from_slice::<Ledger>(&kv.value) {
                *self.lock() = l;
            }
        }
        Ok(())
    }

    fn save(&self, ctx: &Context) -> Result<()> {
        let bytes = serde_json::to_vec(&*self.lock()).unwrap_or_default();
        ctx.store.txn(&[], &[corral_store::Op::Put(KEY.to_string(), bytes)])?;
        Ok(())
    }
}

/// Runs the accounting loop until the process ends.
pub async fn run(ctx: Arc<Context>) {
    if let Err(e) = ctx.energy.load(&ctx) {
        tracing::warn!(error = %e, "cannot read the energy ledger; starting from zero");
    }
    let mut last = Instant::now();
    let mut saved = Instant::now();
    loop {
        tokio::time::sleep(TICK).await;
        let seconds = last.elapsed().as_secs_f64();
        last = Instant::now();
        if let Err(e) = tick(&ctx, seconds) {
            tracing::warn!(error = %e, "energy tick failed");
        }
        if saved.elapsed() >= SAVE_EVERY {
            saved = Instant::now();
            if let Err(e) = ctx.energy.save(&ctx) {
                tracing::warn!(error = %e, "cannot write the energy ledger");
            }
        }
    }
}

fn tick(ctx: &Context, seconds: f64) -> Result<()> {
    let hosts = crate::host::all(ctx)?;
    let nodes: Vec<NodeRecord> = crate::node::all(ctx)?.into_iter().map(|d| d.value).collect();
    let recent = now().saturating_sub(60);
    // Cpus a node used in its latest sample of the last minute.
    let used = |id: &str| -> f64 {
        ctx.metrics_history
            .samples(id, recent)
            .and_then(|(_, s)| s.last().map(|x| x.cpu_percent / 100.0))
            .unwrap_or(0.0)
    };
    let metered: Vec<Metered<'_>> = hosts
        .iter()
        .filter(|h| h.state != HostState::Removed)
        .map(|h| Metered {
            name: &h.name,
            cpus: h.capacity.cpu_millis as f64 / 1000.0,
            // Hosts Corral does not switch are on.
            state: if h.power_config.is_some() {
                h.power.state
            } else {
                PowerState::On
            },
            nodes: nodes
                .iter()
                .filter(|n| n.host.as_deref() == Some(h.name.as_str()))
                .map(|n| MeteredNode {
                    owner: &n.owner,
                    cluster: &n.cluster,
                    cpus_held: n.cpu_millis as f64 / 1000.0,
                    cpus_used: used(&n.id),
                })
                .collect(),
        })
        .collect();
    ctx.energy.tick(&ctx.cfg.power_model, &metered, seconds);
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn model() -> PowerModel {
        PowerModel {
            idle_watts: 100.0,
            peak_watts: 200.0,
            boot_seconds: 0.0,
            shutdown_seconds: 0.0,
        }
    }

    #[test]
    fn off_hosts_save_and_busy_nodes_are_charged() {
        let e = Energy::default();
        let node = |owner: &'static str, cluster: &'static str, held: f64, used: f64| MeteredNode {
            owner,
            cluster,
            cpus_held: held,
            cpus_used: used,
        };
        let hosts = vec![
            Metered {
                name: "busy",
                cpus: 4.0,
                state: PowerState::On,
                nodes: vec![node("alice", "hpc", 2.0, 2.0), node("bob", "web", 2.0, 0.0)],
            },
            Metered {
                name: "asleep",
                cpus: 4.0,
                state: PowerState::Off,
                nodes: vec![],
            },
        ];
        e.tick(&model(), &hosts, 10.0);
        // busy: 2 of 4 cpus used → 150 W for 10 s; asleep: 0 W, 100 W always on.
        let busy = e.host("busy");
        assert!((busy.joules - 1500.0).abs() < 1e-6, "{busy:?}");
        assert!(busy.saved_joules.abs() < 1e-6);
        let asleep = e.host("asleep");
        assert_eq!(asleep.joules, 0.0);
        assert!((asleep.saved_joules - 1000.0).abs() < 1e-6);
        let r = e.report();
        assert!((r.saved_fraction - 1000.0 / 2500.0).abs() < 1e-9, "{r:?}");
        assert_eq!(r.watts, 150.0);
        // Charged by the cpu held: half each, whoever used it.
        assert!((r.clusters["alice/hpc"] - 750.0).abs() < 1e-6);
        assert!((r.projects["bob"] - 750.0).abs() < 1e-6);
    }
}
