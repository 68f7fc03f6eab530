//! Per-node metrics history: what the charts of the web UI draw.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One sample of a node's use, averaged over the sampling interval that ends at `t`.
#[derive(Debug, Clone, Copy, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NodeSample {
    /// End of the interval, seconds since the Unix epoch.
    pub t: u64,
    /// Cpu use in percent of one cpu (100 = one cpu busy, 200 = two).
    pub cpu_percent: f64,
    /// Memory in use (the cgroup's usage minus inactive file cache), bytes.
    pub memory_bytes: u64,
    /// Bytes the node received per second.
    pub rx_bytes_per_sec: f64,
    /// Bytes the node sent per second.
    pub tx_bytes_per_sec: f64,
    /// Size of the node's writable layer on its host's disk, bytes.
    pub disk_bytes: u64,
}

/// The kept history of one node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct NodeMetrics {
    /// Cluster name.
    pub cluster: String,
    /// Node name.
    pub node: String,
    /// Seconds between samples.
    pub interval_secs: u32,
    /// Samples, oldest first.
    pub samples: Vec<NodeSample>,
}
