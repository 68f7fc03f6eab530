//! Turns the kernel's cumulative counters into per-interval samples: cpu percent,
//! memory, network rates and the writable layer's size. The numbers come through a
//! [`Probe`], so the arithmetic is tested without a kernel.

use std::collections::HashMap;
use std::time::Instant;

use corral_api::NodeSample;

/// How often (in samples) a node's writable layer is measured: walking a directory
/// tree costs far more than reading counters, and its size changes slowly.
pub const DISK_EVERY: u32 = 6;

/// Cumulative counters of one node, read at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Reading {
    /// Cpu time since the node's cgroup was made, nanoseconds.
    pub cpu_nanos: u64,
    /// Memory in use now, bytes.
    pub memory_bytes: u64,
    /// Bytes received since the node's link was made.
    pub rx_bytes: u64,
    /// Bytes sent since the node's link was made.
    pub tx_bytes: u64,
}

/// Where readings come from: the kernel on a host, a table in tests.
pub trait Probe {
    /// Readings of those of `ids` that run (have a cgroup), by id.
    fn read(&self, ids: &[String]) -> HashMap<String, Reading>;
    /// Bytes the writable layer of node `id` takes on disk.
    fn disk_bytes(&self, id: &str) -> u64;
}

/// What the sampler last saw of a node.
#[derive(Debug, Clone, Copy)]
pub struct Latest {
    /// The counters.
    pub reading: Reading,
    /// Size of its writable layer as last measured, bytes.
    pub disk_bytes: u64,
}

#[derive(Debug, Clone, Copy)]
struct Track {
    latest: Latest,
    at: Instant,
    ticks: u32,
}

/// Per-node state between samples.
#[derive(Debug, Default)]
pub struct Sampler {
    nodes: HashMap<String, Track>,
}

impl Sampler {
    /// Reads the nodes in `ids` at `now` (`t` in Unix seconds) and returns a sample
    /// for each node also read at the previous tick: a rate needs two readings.
    /// Nodes not in `ids`, or not running, are forgotten.
    pub fn tick(&mut self, probe: &dyn Probe, ids: &[String], t: u64, now: Instant) -> Vec<(String, NodeSample)> {
        let readings = probe.read(ids);
        self.nodes.retain(|id, _| readings.contains_key(id));
        let mut out = Vec::new();
        for (id, reading) in readings {
            let prev = self.nodes.get(&id).copied();
            let ticks = prev.map_or(0, |p| p.ticks.wrapping_add(1));
            let disk_bytes = match prev {
                Some(p) if ticks % DISK_EVERY != 0 => p.latest.disk_bytes,
                _ => probe.disk_bytes(&id),
            };
            if let Some(p) = prev {
                let dt = now.saturating_duration_since(p.at).as_secs_f64();
                out.push((id.clone(), sample(&p.latest.reading, &reading, dt, t, disk_bytes)));
            }
            let latest = Latest { reading, disk_bytes };
            self.nodes.insert(id, Track { latest, at: now, ticks });
        }
        out.sort_by(|a, b| a.0.cmp(&b.0));
        out
    }

    /// What was last read of each node, by id.
    pub fn latest(&self) -> HashMap<String, Latest> {
        self.nodes.iter().map(|(id, t)| (id.clone(), t.latest)).collect()
    }
}

/// Per-second rate of a counter between two readings `dt` seconds apart. A counter
/// that went down was reset (the node restarted with a new cgroup or link), so what
/// it counted since the reset is all that is known.
pub fn rate(prev: u64, cur: u64, dt: f64) -> f64 {
    if dt <= 0.0 {
        return 0.0;
    }
    let delta = if cur >= prev { cur - prev } else { cur };
    delta as f64 / dt
}

/// The sample of the interval between two readings.
pub fn sample(prev: &Reading, cur: &Reading, dt: f64, t: u64, disk_bytes: u64) -> NodeSample {
    NodeSample {
        t,
        // Nanoseconds of cpu per second, as percent of one cpu: / 1e9 * 100.
        cpu_percent: rate(prev.cpu_nanos, cur.cpu_nanos, dt) / 1e7,
        memory_bytes: cur.memory_bytes,
        rx_bytes_per_sec: rate(prev.rx_bytes, cur.rx_bytes, dt),
        tx_bytes_per_sec: rate(prev.tx_bytes, cur.tx_bytes, dt),
        disk_bytes,
    }
}

#[cfg(test)]
mod tests {
    use std::cell::RefCell;
    use std::time::Duration;

    use super::*;

    /// Readings set by the test; counts disk walks.
    #[derive(Default)]
    struct Fake {
        readings: RefCell<HashMap<String, Reading>>,
        disk: RefCell<u64>,
        walks: RefCell<u32>,
    }

    impl Probe for Fake {
        fn read(&self, ids: &[String]) -> HashMap<String, Reading> {
            let r = self.readings.borrow();
            ids.iter()
                .filter_map(|id| r.get(id).map(|v| (id.clone(), *v)))
                .collect()
        }
        fn disk_bytes(&self, _: &str) -> u64 {
            *self.walks.borrow_mut() += 1;
            *self.disk.borrow()
        }
    }

    fn reading(cpu_nanos: u64, rx: u64, tx: u64) -> Reading {
        Reading {
            cpu_nanos,
            memory_bytes: 42 << 20,
            rx_bytes: rx,
            tx_bytes: tx,
        }
    }

    #[test]
    fn rates_are_per_second_and_survive_counter_resets() {
        assert_eq!(rate(100, 300, 2.0), 100.0);
        assert_eq!(rate(100, 100, 2.0), 0.0);
        // Reset: the node restarted and has counted 50 since.
        assert_eq!(rate(1000, 50, 10.0), 5.0);
        assert_eq!(rate(0, 100, 0.0), 0.0);
    }

    #[test]
    fn cpu_percent_counts_one_cpu_as_100() {
        // 1.5 s of cpu in 1 s: one and a half cpus busy.
        let s = sample(&reading(0, 0, 0), &reading(1_500_000_000, 0, 0), 1.0, 7, 0);
        assert!((s.cpu_percent - 150.0).abs() < 1e-9, "{}", s.cpu_percent);
        let s = sample(&reading(0, 0, 0), &reading(2_500_000_000, 0, 0), 10.0, 7, 0);
        assert!((s.cpu_percent - 25.0).abs() < 1e-9, "{}", s.cpu_percent);
        assert_eq!(s.t, 7);
        assert_eq!(s.memory_bytes, 42 << 20);
    }

    #[test]
    fn the_first_reading_only_sets_a_baseline() {
        let fake = Fake::default();
        let id = "c1-node-0".to_string();
        fake.readings.borrow_mut().insert(id.clone(), reading(0, 1000, 2000));
        let mut s = Sampler::default();
        let t0 = Instant::now();
        assert!(s.tick(&fake, std::slice::from_ref(&id), 100, t0).is_empty());
        fake.readings
            .borrow_mut()
            .insert(id.clone(), reading(5_000_000_000, 11_000, 2_500));
        let out = s.tick(&fake, std::slice::from_ref(&id), 110, t0 + Duration::from_secs(10));
        assert_eq!(out.len(), 1);
        let (got, sample) = &out[0];
        assert_eq!(got, &id);
        assert_eq!(sample.t, 110);
        assert!((sample.cpu_percent - 50.0).abs() < 1e-9);
        assert!((sample.rx_bytes_per_sec - 1000.0).abs() < 1e-9);
        assert!((sample.tx_bytes_per_sec - 50.0).abs() < 1e-9);
    }

    #[test]
    fn the_writable_layer_is_measured_every_few_samples() {
        let fake = Fake::default();
        let id = "c1-node-0".to_string();
        fake.readings.borrow_mut().insert(id.clone(), reading(0, 0, 0));
        *fake.disk.borrow_mut() = 4096;
        let mut s = Sampler::default();
        let t0 = Instant::now();
        let mut disks = Vec::new();
        for i in 0..(2 * DISK_EVERY + 1) {
            if i == 1 {
                *fake.disk.borrow_mut() = 8192;
            }
            let at = t0 + Duration::from_secs(u64::from(i));
            disks.extend(
                s.tick(&fake, std::slice::from_ref(&id), u64::from(i), at)
                    .into_iter()
                    .map(|(_, x)| x.disk_bytes),
            );
        }
        // Walked at the first tick, then every DISK_EVERY ticks; cached between.
        assert_eq!(*fake.walks.borrow(), 3);
        assert_eq!(disks[0], 4096);
        assert_eq!(disks[DISK_EVERY as usize - 1], 8192);
        assert_eq!(s.latest()[&id].disk_bytes, 8192);
    }

    #[test]
    fn nodes_that_stop_are_forgotten() {
        let fake = Fake::default();
        let (a, b) = ("c1-a".to_string(), "c1-b".to_string());
        fake.readings.borrow_mut().insert(a.clone(), reading(0, 0, 0));
        fake.readings.borrow_mut().insert(b.clone(), reading(0, 0, 0));
        let mut s = Sampler::default();
        let t0 = Instant::now();
        s.tick(&fake, &[a.clone(), b.clone()], 0, t0);
        // b stops running: no reading, no sample, no state.
        fake.readings.borrow_mut().remove(&b);
        let out = s.tick(&fake, &[a.clone(), b.clone()], 1, t0 + Duration::from_secs(1));
        assert_eq!(out.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), vec!["c1-a"]);
        assert_eq!(s.latest().len(), 1);
        // a is no longer assigned: forgotten too.
        s.tick(&fake, &[], 2, t0 + Duration::from_secs(2));
        assert!(s.latest().is_empty());
    }
}
