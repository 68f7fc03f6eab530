//! The segments (per-cluster networks) this agent has made, so the nodes of one
//! cluster do not each pay for making its segment again.
//!
//! `ensure_segment` is idempotent but costs four processes (`ip`, `nft list`,
//! `nft -f`, `ip rule show`), and all nodes of a cluster queue for it one at a time: for a 32-node
//! cluster that was about 0.6 s of the bring-up. Now the first node of a cluster makes
//! the segment and the others find it here. A segment is made again when its spec
//! changes, when it is not in the cache (after a restart of the agent), or when the
//! driver's `attach` finds its links gone. Removal (`gc`) lists what the kernel holds
//! only when a cached segment became unused or no full pass ran since start (which
//! removes leftovers of an earlier run), instead of after every node removal.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;

use corral_network::{Network, NetworkError, SegmentSpec};

#[derive(Debug, Default)]
struct Known {
    /// Segments made (or found made) by this agent, with the spec they were made with.
    made: HashMap<u32, SegmentSpec>,
    /// Whether a full pass over the kernel's segments has run since start.
    swept: bool,
}

/// Segment changes of one agent, one at a time: nodes of one cluster start in
/// parallel and must not race to create the same segment.
#[derive(Debug, Default)]
pub struct Segments {
    known: Mutex<Known>,
}

impl Segments {
    fn lock(&self) -> std::sync::MutexGuard<'_, Known> {
        self.known.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Makes the segment unless this agent made it already with the same spec.
    pub fn ensure(&self, network: &dyn Network, seg: &SegmentSpec) -> Result<(), NetworkError> {
        let mut known = self.lock();
        if known.made.get(&seg.vni) == Some(seg) {
            return Ok(());
        }
        network.ensure_segment(seg)?;
        known.made.insert(seg.vni, seg.clone());
        Ok(())
    }

    /// Makes the segment (through the cache) and points its VXLAN tunnel at `peers`,
    /// under the same lock as every other segment change.
    pub fn set_peers(
        &self,
        network: &dyn Network,
        seg: &SegmentSpec,
        underlay: &corral_network::Underlay,
        peers: &[corral_network::Peer],
    ) -> Result<(), NetworkError> {
        let mut known = self.lock();
        if known.made.get(&seg.vni) != Some(seg) {
            network.ensure_segment(seg)?;
            known.made.insert(seg.vni, seg.clone());
        }
        network.set_segment_peers(seg, underlay, peers)
    }

    /// Removes the segments not in `used()`; `used` is read under the lock, so a node
    /// assigned meanwhile either shows there or makes its segment after this pass.
    pub fn gc(&self, network: &dyn Network, used: impl FnOnce() -> HashSet<u32>) {
        let mut known = self.lock();
        let used = used();
        if known.swept && known.made.keys().all(|vni| used.contains(vni)) {
            return;
        }
        let listed = match network.list_segments() {
            Ok(l) => l,
            Err(e) => {
                tracing::warn!(error = %e, "cannot list segments");
                return;
            }
        };
        let mut failed = false;
        for vni in listed.into_iter().filter(|v| !used.contains(v)) {
            if let Err(e) = network.remove_segment(vni) {
                tracing::warn!(vni, error = %e, "cannot remove segment");
                failed = true;
            }
        }
        known.made.retain(|vni, _| used.contains(vni));
        // A failed removal is tried again at the next pass.
        known.swept = !failed;
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use corral_network::{AttachSpec, Peer, Traffic, Underlay};

    use super::*;

    /// A network that counts calls and holds segments in memory.
    #[derive(Default)]
    struct Counting {
        segments: Mutex<HashSet<u32>>,
        ensures: Mutex<u32>,
        lists: Mutex<u32>,
    }

    impl Network for Counting {
        fn ensure_host(&self) -> Result<(), NetworkError> {
            Ok(())
        }
        fn ensure_segment(&self, seg: &SegmentSpec) -> Result<(), NetworkError> {
            *self.ensures.lock().unwrap() += 1;
            self.segments.lock().unwrap().insert(seg.vni);
            Ok(())
        }
        fn remove_segment(&self, vni: u32) -> Result<(), NetworkError> {
            self.segments.lock().unwrap().remove(&vni);
            Ok(())
        }
        fn attach(&self, _: &SegmentSpec, _: &AttachSpec) -> Result<PathBuf, NetworkError> {
            Ok(PathBuf::new())
        }
        fn detach(&self, _: &str) -> Result<(), NetworkError> {
            Ok(())
        }
        fn set_segment_peers(&self, seg: &SegmentSpec, _: &Underlay, _: &[Peer]) -> Result<(), NetworkError> {
            self.segments.lock().unwrap().insert(seg.vni);
            Ok(())
        }
        fn set_protected(&self, _: &[std::net::Ipv4Addr]) -> Result<(), NetworkError> {
            Ok(())
        }
        fn list_segments(&self) -> Result<Vec<u32>, NetworkError> {
            *self.lists.lock().unwrap() += 1;
            Ok(self.segments.lock().unwrap().iter().copied().collect())
        }
        fn list_attachments(&self) -> Result<Vec<String>, NetworkError> {
            Ok(vec![])
        }
        fn traffic(&self, _: &[String]) -> Result<std::collections::HashMap<String, Traffic>, NetworkError> {
            Ok(Default::default())
        }
    }

    fn seg(vni: u32) -> SegmentSpec {
        SegmentSpec {
            vni,
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            mtu: 1450,
        }
    }

    #[test]
    fn a_segment_is_made_once_per_spec() {
        let (net, s) = (Counting::default(), Segments::default());
        for _ in 0..32 {
            s.ensure(&net, &seg(7)).unwrap();
        }
        assert_eq!(*net.ensures.lock().unwrap(), 1);
        s.ensure(&net, &SegmentSpec { mtu: 1400, ..seg(7) }).unwrap();
        assert_eq!(*net.ensures.lock().unwrap(), 2, "a changed spec is applied");
    }

    #[test]
    fn gc_lists_only_when_something_may_be_unused() {
        let (net, s) = (Counting::default(), Segments::default());
        // A leftover of an earlier run: the first pass lists and removes it.
        net.segments.lock().unwrap().insert(99);
        s.ensure(&net, &seg(7)).unwrap();
        s.gc(&net, || HashSet::from([7]));
        assert_eq!(*net.lists.lock().unwrap(), 1);
        assert_eq!(*net.segments.lock().unwrap(), HashSet::from([7]));
        // Nodes of a used segment go: nothing to list.
        s.gc(&net, || HashSet::from([7]));
        assert_eq!(*net.lists.lock().unwrap(), 1);
        // The last node of segment 7 goes: it is removed, then forgotten.
        s.gc(&net, HashSet::new);
        assert_eq!(*net.lists.lock().unwrap(), 2);
        assert!(net.segments.lock().unwrap().is_empty());
        s.gc(&net, HashSet::new);
        assert_eq!(*net.lists.lock().unwrap(), 2);
        // Made again after its removal.
        s.ensure(&net, &seg(7)).unwrap();
        assert_eq!(*net.ensures.lock().unwrap(), 2);
        assert_eq!(*net.segments.lock().unwrap(), HashSet::from([7]));
    }
}
