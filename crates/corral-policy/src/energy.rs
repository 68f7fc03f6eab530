//! Energy: a per-host power model (idle and peak watts, linear in cpu use between
//! them, zero when off, a boot cost) and the accounting built on it: energy per host,
//! per cluster and per project, and what was saved against keeping every host on.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::power::PowerState;

/// Joules in a kilowatt-hour.
pub const JOULES_PER_KWH: f64 = 3.6e6;

/// How much power a host draws.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize)]
pub struct PowerModel {
    /// Watts when on with nothing running.
    pub idle_watts: f64,
    /// Watts with every cpu busy.
    pub peak_watts: f64,
    /// Seconds a boot takes, drawing peak watts: the boot cost.
    pub boot_seconds: f64,
    /// Seconds a shutdown takes, drawing idle watts.
    pub shutdown_seconds: f64,
}

impl Default for PowerModel {
    /// A two-socket server: 100 W idle, 200 W at peak (idle at half of peak, as
    /// measured servers commonly draw), two minutes to boot, half a minute to stop.
    fn default() -> Self {
        PowerModel {
            idle_watts: 100.0,
            peak_watts: 200.0,
            boot_seconds: 120.0,
            shutdown_seconds: 30.0,
        }
    }
}

impl PowerModel {
    /// Watts drawn in `state` with `cpu_use` (0..=1) of the cpus busy.
    pub fn watts(&self, state: PowerState, cpu_use: f64) -> f64 {
        match state {
            PowerState::Off | PowerState::Failed => 0.0,
            PowerState::PoweringOn => self.peak_watts,
            PowerState::PoweringOff => self.idle_watts,
            PowerState::On => self.idle_watts + (self.peak_watts - self.idle_watts) * cpu_use.clamp(0.0, 1.0),
        }
    }

    /// Joules one boot costs.
    pub fn boot_joules(&self) -> f64 {
        self.peak_watts * self.boot_seconds
    }

    /// Joules a host always on for `seconds` draws, given the cpu-seconds it ran.
    pub fn always_on_joules(&self, seconds: f64, busy_cpu_seconds: f64, cpus: f64) -> f64 {
        self.idle_watts * seconds + (self.peak_watts - self.idle_watts) * busy_cpu_seconds / cpus
    }
}

/// Who a share of a host's energy is charged to.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Owner {
    /// Cluster name.
    pub cluster: String,
    /// Project (tenant) name.
    pub project: String,
}

/// Energy integrated over time, per host and per owner. A host's energy is charged to
/// the clusters on it in proportion to the cpu they hold; what no one holds is the
/// pool's (`unattributed`): that is the energy an empty powered host wastes.
#[derive(Debug, Clone, Default)]
pub struct Ledger {
    hosts: Vec<f64>,
    clusters: BTreeMap<String, f64>,
    projects: BTreeMap<String, f64>,
    unattributed: f64,
}

impl Ledger {
    /// A ledger for `hosts` hosts, all at zero.
    pub fn new(hosts: usize) -> Self {
        Ledger {
            hosts: vec![0.0; hosts],
            ..Ledger::default()
        }
    }

    /// Charges `seconds` at `watts` on host `host`, split by `shares` (owner, fraction of
    /// the host; fractions summing to at most 1).
    pub fn add(&mut self, host: usize, watts: f64, seconds: f64, shares: &[(&Owner, f64)]) {
        let joules = watts * seconds;
        self.hosts[host] += joules;
        let mut charged = 0.0;
        for (owner, fraction) in shares {
            let j = joules * fraction;
            charged += j;
            *self.clusters.entry(owner.cluster.clone()).or_default() += j;
            *self.projects.entry(owner.project.clone()).or_default() += j;
        }
        self.unattributed += joules - charged;
    }

    /// Charges a one-off cost (a boot) to a host and the pool.
    pub fn add_joules(&mut self, host: usize, joules: f64) {
        self.hosts[host] += joules;
        self.unattributed += joules;
    }

    /// Joules of one host.
    pub fn host(&self, host: usize) -> f64 {
        self.hosts[host]
    }

    /// Joules of the whole pool.
    pub fn total(&self) -> f64 {
        self.hosts.iter().sum()
    }

    /// Joules per cluster.
    pub fn clusters(&self) -> &BTreeMap<String, f64> {
        &self.clusters
    }

    /// Joules per project.
    pub fn projects(&self) -> &BTreeMap<String, f64> {
        &self.projects
    }

    /// Joules no cluster held a share of.
    pub fn unattributed(&self) -> f64 {
        self.unattributed
    }
}

/// Energy saved against a baseline: joules and the fraction of the baseline.
pub fn saved(baseline_joules: f64, actual_joules: f64) -> (f64, f64) {
    let saved = baseline_joules - actual_joules;
    let fraction = if baseline_joules > 0.0 {
        saved / baseline_joules
    } else {
        0.0
    };
    (saved, fraction)
}

/// How much of the best possible saving a policy reached: (baseline − actual) /
/// (baseline − ideal); 1 when the ideal saves nothing and neither does the policy.
pub fn fraction_of_ideal(baseline_joules: f64, ideal_joules: f64, actual_joules: f64) -> f64 {
    let best = baseline_joules - ideal_joules;
    if best <= 0.0 {
        return if actual_joules <= baseline_joules { 1.0 } else { 0.0 };
    }
    (baseline_joules - actual_joules) / best
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn watts_are_linear_in_cpu_and_zero_when_off() {
        let m = PowerModel::default();
        assert_eq!(m.watts(PowerState::On, 0.0), 100.0);
        assert_eq!(m.watts(PowerState::On, 0.25), 125.0);
        assert_eq!(m.watts(PowerState::On, 1.0), 200.0);
        assert_eq!(m.watts(PowerState::On, 3.0), 200.0);
        assert_eq!(m.watts(PowerState::Off, 1.0), 0.0);
        assert_eq!(m.watts(PowerState::Failed, 1.0), 0.0);
        assert_eq!(m.watts(PowerState::PoweringOn, 0.0), 200.0);
        assert_eq!(m.boot_joules(), 24_000.0);
        // One hour on, half of it with every cpu busy: idle all hour plus half the dynamic range.
        assert_eq!(
            m.always_on_joules(3600.0, 1800.0 * 32.0, 32.0),
            100.0 * 3600.0 + 100.0 * 1800.0
        );
    }

    #[test]
    fn ledger_charges_clusters_projects_and_the_pool() {
        let a = Owner {
            cluster: "a".into(),
            project: "p".into(),
        };
        let b = Owner {
            cluster: "b".into(),
            project: "p".into(),
        };
        let mut l = Ledger::new(2);
        l.add(0, 100.0, 10.0, &[(&a, 0.5), (&b, 0.25)]);
        l.add(1, 200.0, 10.0, &[]);
        l.add_joules(1, 500.0);
        assert_eq!(l.host(0), 1000.0);
        assert_eq!(l.host(1), 2500.0);
        assert_eq!(l.total(), 3500.0);
        assert_eq!(l.clusters()["a"], 500.0);
        assert_eq!(l.clusters()["b"], 250.0);
        assert_eq!(l.projects()["p"], 750.0);
        assert_eq!(l.unattributed(), 250.0 + 2500.0);
    }

    #[test]
    fn savings_against_baseline_and_ideal() {
        assert_eq!(saved(100.0, 80.0), (20.0, 0.2));
        assert_eq!(fraction_of_ideal(100.0, 80.0, 83.0), 0.85);
        assert_eq!(fraction_of_ideal(100.0, 100.0, 100.0), 1.0);
    }
}
