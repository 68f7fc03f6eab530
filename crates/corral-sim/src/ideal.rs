//! The ideal a power policy is measured against: every host off exactly while it has
//! nothing to run, no boot cost. Given the pool's busy cpus over time (from a run where
//! nothing waited for power), the ideal powers ⌈busy cpus / host cpus⌉ hosts, perfectly
//! packed, and draws the same dynamic power for the same work.

use corral_policy::energy::PowerModel;

/// Joules and powered host-seconds of the ideal over `[0, horizon)`, for a step
/// function of busy cpus given as (time, cpus from then on), sorted by time.
pub fn ideal(busy: &[(u64, f64)], horizon: u64, host_cpus: f64, model: &PowerModel) -> (f64, f64) {
    let mut joules = 0.0;
    let mut host_seconds = 0.0;
    for (k, &(t, cpus)) in busy.iter().enumerate() {
        let until = busy.get(k + 1).map_or(horizon, |n| n.0).min(horizon);
        if until <= t {
            continue;
        }
        let dt = (until - t) as f64;
        // Rounding guards a sum of fractions (web load) just above a whole host.
        let hosts = ((cpus / host_cpus) - 1e-9).ceil().max(0.0);
        host_seconds += hosts * dt;
        joules += dt * (hosts * model.idle_watts + (model.peak_watts - model.idle_watts) * cpus / host_cpus);
    }
    (joules, host_seconds)
}

/// The sum of several step functions of busy cpus.
pub fn merge(timelines: &[&[(u64, f64)]]) -> Vec<(u64, f64)> {
    let mut changes: Vec<(u64, f64)> = Vec::new();
    for line in timelines {
        let mut before = 0.0;
        for &(t, cpus) in *line {
            changes.push((t, cpus - before));
            before = cpus;
        }
    }
    changes.sort_by_key(|c| c.0);
    let mut out: Vec<(u64, f64)> = Vec::new();
    let mut level = 0.0;
    for (t, d) in changes {
        level += d;
        match out.last_mut() {
            Some(last) if last.0 == t => last.1 = level,
            _ => out.push((t, level)),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ideal_powers_just_the_hosts_the_work_needs() {
        let m = PowerModel {
            idle_watts: 100.0,
            peak_watts: 200.0,
            boot_seconds: 100.0,
            shutdown_seconds: 10.0,
        };
        // Hosts of 4 cpus: 6 busy cpus for 10 s (2 hosts), nothing for 10 s, 4 for 5 s.
        let busy = [(0, 6.0), (10, 0.0), (20, 4.0)];
        let (joules, host_seconds) = ideal(&busy, 25, 4.0, &m);
        assert_eq!(host_seconds, 2.0 * 10.0 + 5.0);
        let dynamic = 100.0 * (6.0 / 4.0 * 10.0 + 5.0);
        assert_eq!(joules, 100.0 * host_seconds + dynamic);
        // Always on with 2 hosts would draw idle power all 25 s on both, and no boot cost counts here.
        assert!(joules < 2.0 * 25.0 * 100.0 + dynamic);
    }

    #[test]
    fn merge_adds_step_functions() {
        let a = [(0, 2.0), (10, 0.0)];
        let b = [(5, 3.0), (10, 1.0), (20, 0.0)];
        assert_eq!(merge(&[&a, &b]), vec![(0, 2.0), (5, 5.0), (10, 1.0), (20, 0.0)]);
    }
}
