//! Per-node metrics history: the samples agents send, kept in memory for the charts
//! of the web UI (`GET /v1/clusters/{name}/metrics`).
//!
//! Each node has a ring of [`CAPACITY`] samples (24 h at the agents' default 10 s),
//! packed into 24 bytes each and grown an hour at a time, so a node that ran for a
//! minute costs little. The history lives in this process only: a restarted server
//! starts empty, as the samples are observations, not state. A node's ring goes when
//! the node does.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use corral_api::NodeSample;

use crate::context::Context;
use crate::node::Desired;

/// Samples kept per node: 24 hours at 10 s.
pub const CAPACITY: usize = 24 * 3600 / 10;

/// How many samples a ring grows by at a time: an hour at 10 s.
const GROW: usize = 360;

/// How often rings of deleted nodes are dropped.
const PRUNE_EVERY: Duration = Duration::from_secs(10);

/// One sample as kept: seconds fit a u32 until 2106, sizes are kept in KiB (4 TiB
/// at most), rates as f32 (7 significant digits are plenty for a chart).
#[derive(Debug, Clone, Copy, PartialEq)]
struct Packed {
    t: u32,
    cpu_percent: f32,
    rx_bytes_per_sec: f32,
    tx_bytes_per_sec: f32,
    memory_kib: u32,
    disk_kib: u32,
}

fn kib(bytes: u64) -> u32 {
    u32::try_from(bytes.div_ceil(1024)).unwrap_or(u32::MAX)
}

impl Packed {
    fn pack(s: &NodeSample) -> Self {
        Packed {
            t: u32::try_from(s.t).unwrap_or(u32::MAX),
            cpu_percent: s.cpu_percent as f32,
            rx_bytes_per_sec: s.rx_bytes_per_sec as f32,
            tx_bytes_per_sec: s.tx_bytes_per_sec as f32,
            memory_kib: kib(s.memory_bytes),
            disk_kib: kib(s.disk_bytes),
        }
    }

    fn unpack(&self) -> NodeSample {
        NodeSample {
            t: u64::from(self.t),
            cpu_percent: f64::from(self.cpu_percent),
            memory_bytes: u64::from(self.memory_kib) * 1024,
            rx_bytes_per_sec: f64::from(self.rx_bytes_per_sec),
            tx_bytes_per_sec: f64::from(self.tx_bytes_per_sec),
            disk_bytes: u64::from(self.disk_kib) * 1024,
        }
    }
}

/// The last [`CAPACITY`] samples of one node, oldest overwritten first.
#[derive(Debug, Default)]
struct Ring {
    interval_secs: u32,
    /// Where the oldest sample is once the ring is full.
    head: usize,
    buf: Vec<Packed>,
}

impl Ring {
    fn newest(&self) -> Option<&Packed> {
        if self.buf.len() < CAPACITY || self.head == 0 {
            self.buf.last()
        } else {
            self.buf.get(self.head - 1)
        }
    }

    /// Adds a sample; one not newer than the newest kept is ignored, so the ring
    /// stays in time order.
    fn push(&mut self, p: Packed) {
        if self.newest().is_some_and(|n| n.t >= p.t) {
            return;
        }
        if self.buf.len() < CAPACITY {
            if self.buf.len() == self.buf.capacity() {
                self.buf.reserve_exact(GROW.min(CAPACITY - self.buf.len()));
            }
            self.buf.push(p);
        } else {
            self.buf[self.head] = p;
            self.head = (self.head + 1) % CAPACITY;
        }
    }

    /// Samples taken after `since`, oldest first.
    fn since(&self, since: u64) -> Vec<NodeSample> {
        let (newer, older) = self.buf.split_at(self.head);
        older
            .iter()
            .chain(newer)
            .filter(|p| u64::from(p.t) > since)
            .map(Packed::unpack)
            .collect()
    }

    fn heap_bytes(&self) -> usize {
        self.buf.capacity() * std::mem::size_of::<Packed>()
    }
}

/// The history of every node that reported samples, by node id.
#[derive(Debug, Default)]
pub struct MetricsHistory {
    nodes: Mutex<HashMap<String, Ring>>,
}

impl MetricsHistory {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Ring>> {
        self.nodes.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Adds samples of node `id`, taken every `interval_secs`.
    pub fn record(&self, id: &str, interval_secs: u32, samples: &[NodeSample]) {
        let mut nodes = self.lock();
        let ring = nodes.entry(id.to_string()).or_default();
        ring.interval_secs = interval_secs;
        for s in samples {
            ring.push(Packed::pack(s));
        }
    }

    /// The interval and the samples of node `id` taken after `since`; `None` when
    /// none were ever recorded.
    pub fn samples(&self, id: &str, since: u64) -> Option<(u32, Vec<NodeSample>)> {
        let nodes = self.lock();
        nodes.get(id).map(|r| (r.interval_secs, r.since(since)))
    }

    /// Drops the history of every node `keep` says no to.
    pub fn retain(&self, keep: impl Fn(&str) -> bool) {
        self.lock().retain(|id, _| keep(id));
    }

    /// Bytes the kept samples take on the heap, map and ids included.
    pub fn heap_bytes(&self) -> usize {
        let nodes = self.lock();
        let entry = std::mem::size_of::<(String, Ring)>() + 1;
        nodes.capacity() * entry
            + nodes
                .iter()
                .map(|(id, r)| id.capacity() + r.heap_bytes())
                .sum::<usize>()
    }
}

/// Drops, every few seconds, the history of nodes that were deleted.
pub async fn run(ctx: Arc<Context>) {
    let mut tick = tokio::time::interval(PRUNE_EVERY);
    loop {
        tick.tick().await;
        match crate::node::all(&ctx) {
            Ok(nodes) => {
                let live: std::collections::HashSet<String> = nodes
                    .into_iter()
                    .filter(|d| d.value.desired != Desired::Deleted)
                    .map(|d| d.value.id)
                    .collect();
                ctx.metrics_history.retain(|id| live.contains(id));
            }
            Err(e) => tracing::warn!(error = %e, "cannot prune the metrics history"),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sample(t: u64) -> NodeSample {
        NodeSample {
            t,
            cpu_percent: 12.5,
            memory_bytes: 64 << 20,
            rx_bytes_per_sec: 1500.0,
            tx_bytes_per_sec: 300.0,
            disk_bytes: 4096,
        }
    }

    #[test]
    fn samples_survive_packing() {
        let s = sample(1_800_000_000);
        assert_eq!(Packed::pack(&s).unpack(), s);
        assert_eq!(std::mem::size_of::<Packed>(), 24);
        // Sizes round up to whole KiB, so a small non-zero use never reads as zero.
        let mut odd = s;
        odd.memory_bytes = 1;
        assert_eq!(Packed::pack(&odd).unpack().memory_bytes, 1024);
    }

    #[test]
    fn the_ring_keeps_the_newest_day_in_order() {
        let h = MetricsHistory::default();
        let total = CAPACITY as u64 + 100;
        for t in 1..=total {
            h.record("c1-node-0", 10, &[sample(t)]);
        }
        let (interval, all) = h.samples("c1-node-0", 0).unwrap();
        assert_eq!(interval, 10);
        assert_eq!(all.len(), CAPACITY);
        assert_eq!(all.first().unwrap().t, 101);
        assert_eq!(all.last().unwrap().t, total);
        assert!(all.windows(2).all(|w| w[0].t < w[1].t));
        let recent = h.samples("c1-node-0", total - 3).unwrap().1;
        assert_eq!(
            recent.iter().map(|s| s.t).collect::<Vec<_>>(),
            vec![total - 2, total - 1, total]
        );
    }

    #[test]
    fn old_or_repeated_samples_are_ignored() {
        let h = MetricsHistory::default();
        h.record("n", 10, &[sample(20), sample(20), sample(10), sample(30)]);
        let got: Vec<u64> = h.samples("n", 0).unwrap().1.iter().map(|s| s.t).collect();
        assert_eq!(got, vec![20, 30]);
        assert!(h.samples("other", 0).is_none());
    }

    #[test]
    fn retain_drops_deleted_nodes() {
        let h = MetricsHistory::default();
        h.record("a", 10, &[sample(1)]);
        h.record("b", 10, &[sample(1)]);
        h.retain(|id| id == "a");
        assert!(h.samples("a", 0).is_some());
        assert!(h.samples("b", 0).is_none());
    }

    /// The figure in docs/benchmarks.md: a full day of one node, and a young node.
    #[test]
    fn memory_per_node() {
        let h = MetricsHistory::default();
        for t in 1..=CAPACITY as u64 {
            h.record("0123abcd-worker-12", 10, &[sample(t)]);
        }
        let full = h.heap_bytes();
        let young = MetricsHistory::default();
        for t in 1..=60 {
            young.record("0123abcd-worker-12", 10, &[sample(t)]);
        }
        println!(
            "metrics history: {} samples of one node take {full} bytes ({:.1} KiB); 10 minutes take {} bytes",
            CAPACITY,
            full as f64 / 1024.0,
            young.heap_bytes()
        );
        assert!(full <= CAPACITY * 24 + 1024, "{full} bytes for one node");
        assert!(young.heap_bytes() <= GROW * 24 + 1024);
    }
}
