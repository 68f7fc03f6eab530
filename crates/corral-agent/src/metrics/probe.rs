//! The real [`Probe`]: cgroup counters from the runtime, link counters from the
//! network driver, the writable layer's size from the disk.

use std::collections::{HashMap, HashSet};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use corral_network::Network;
use corral_runtime::Runtime;

use super::sampler::{Probe, Reading};

/// Reads nodes through the host's drivers.
pub struct HostProbe<'a> {
    /// The runtime, for cgroup counters and writable layers.
    pub runtime: &'a dyn Runtime,
    /// The network driver, for link counters.
    pub network: &'a dyn Network,
}

impl Probe for HostProbe<'_> {
    fn read(&self, ids: &[String]) -> HashMap<String, Reading> {
        let traffic = self.network.traffic(ids).unwrap_or_else(|e| {
            tracing::debug!(error = %e, "cannot read link counters");
            HashMap::new()
        });
        let mut out = HashMap::new();
        for id in ids {
            let Ok(Some(usage)) = self.runtime.usage(id) else {
                continue;
            };
            let t = traffic.get(id).copied().unwrap_or_default();
            out.insert(
                id.clone(),
                Reading {
                    cpu_nanos: usage.cpu_nanos,
                    memory_bytes: usage.memory_bytes,
                    rx_bytes: t.rx_bytes,
                    tx_bytes: t.tx_bytes,
                },
            );
        }
        out
    }

    fn disk_bytes(&self, id: &str) -> u64 {
        disk_usage(&self.runtime.upper_dir(id))
    }
}

/// Bytes the files under `dir` take on disk (allocated blocks, as `du` counts them),
/// each hard-linked file once. Files that vanish during the walk are skipped.
pub fn disk_usage(dir: &Path) -> u64 {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut stack = vec![dir.to_path_buf()];
    while let Some(path) = stack.pop() {
        let Ok(meta) = std::fs::symlink_metadata(&path) else {
            continue;
        };
        if meta.nlink() > 1 && !meta.is_dir() && !seen.insert((meta.dev(), meta.ino())) {
            continue;
        }
        total += meta.blocks() * 512;
        if meta.is_dir() {
            if let Ok(entries) = std::fs::read_dir(&path) {
                stack.extend(entries.filter_map(Result::ok).map(|e| e.path()));
            }
        }
    }
    total
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn disk_usage_counts_allocated_blocks_and_hard_links_once() {
        let tmp = tempfile::tempdir().unwrap();
        let empty = disk_usage(tmp.path());
        std::fs::create_dir(tmp.path().join("sub")).unwrap();
        std::fs::write(tmp.path().join("sub/a"), vec![1u8; 64 * 1024]).unwrap();
        let one = disk_usage(tmp.path());
        assert!(one >= empty + 64 * 1024, "{empty} -> {one}");
        std::fs::hard_link(tmp.path().join("sub/a"), tmp.path().join("b")).unwrap();
        assert_eq!(disk_usage(tmp.path()), one);
        assert_eq!(disk_usage(&tmp.path().join("missing")), 0);
    }
}
