//! Cluster networks on a host: one VXLAN device per segment (named by its VNI) with a
//! macvlan per node inside the node's network namespace and one for the host's
//! gateway address, nftables for isolation and NAT.
//!
//! A segment spanning several hosts is stretched over them by its VXLAN device's
//! forwarding entries, programmed from the server's view; on one host it needs none.
//!
//! Two segments may share a subnet (clusters that asked for the same one). Each has
//! its own conntrack zone (so identical address pairs never share an entry or a NAT
//! binding), a mark its nodes' connections carry, and a routing table (`ip rule
//! fwmark … lookup …`) that sends replies from the outside to its own gateway link; the
//! main table's route for a shared subnet names one link only. No VRF is needed (this
//! kernel has none).
//!
//! The [`Network`] trait is the seam; [`macvlan::MacvlanNetwork`] is the driver. Every
//! method is idempotent and keyed by stable names.

mod cmd;
mod ip;
mod leftovers;
pub mod macvlan;
pub mod names;
mod nft;
mod spec;
mod traffic;
mod vxlan;

pub use leftovers::leftovers;
pub use macvlan::MacvlanNetwork;
pub use spec::{AttachSpec, NetworkError, Peer, SegmentSpec, Underlay};
pub use traffic::Traffic;
pub use vxlan::{overlay_mtu, VXLAN_OVERHEAD};

use std::path::PathBuf;

/// What a network driver does for the agent.
pub trait Network: Send + Sync {
    /// Installs the host-wide rules (isolation between segments, no access from nodes
    /// to the host's own ports, NAT). Called once at agent start; idempotent.
    fn ensure_host(&self) -> Result<(), NetworkError>;
    /// Makes the segment's VXLAN device, gateway link and address, and rules exist.
    fn ensure_segment(&self, seg: &SegmentSpec) -> Result<(), NetworkError>;
    /// Removes a segment's gateway link, VXLAN device and rules.
    fn remove_segment(&self, vni: u32) -> Result<(), NetworkError>;
    /// Makes the node's network namespace and its link into the segment exist, with
    /// address, MAC, default route and loopback up; returns the namespace path.
    fn attach(&self, seg: &SegmentSpec, node: &AttachSpec) -> Result<PathBuf, NetworkError>;
    /// Removes the node's link and namespace.
    fn detach(&self, node_id: &str) -> Result<(), NetworkError>;
    /// Stretches the segment over the hosts in `peers` (the others holding its nodes, as
    /// the server sees them): on its VXLAN device, one flood entry per peer host and one
    /// entry per remote node MAC; entries not listed are removed (all of them, with no
    /// peers). Makes the segment if missing; idempotent.
    fn set_segment_peers(&self, seg: &SegmentSpec, underlay: &Underlay, peers: &[Peer]) -> Result<(), NetworkError>;
    /// Sets the addresses nodes may never send to: the pool's hosts and its server
    /// (their control ports), reachable otherwise through the egress NAT. Replaces the
    /// previous set; idempotent.
    fn set_protected(&self, addresses: &[std::net::Ipv4Addr]) -> Result<(), NetworkError>;
    /// VNIs of the segments present on this host.
    fn list_segments(&self) -> Result<Vec<u32>, NetworkError>;
    /// Node ids with a namespace on this host.
    fn list_attachments(&self) -> Result<Vec<String>, NetworkError>;
    /// Bytes each of `node_ids` received and sent through its link, seen from the
    /// node; nodes without a link are left out.
    fn traffic(&self, node_ids: &[String]) -> Result<std::collections::HashMap<String, Traffic>, NetworkError>;
}
