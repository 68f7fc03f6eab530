//! Cluster networks on a host: one Linux bridge per segment (named by its VNI), one
//! veth pair per node into a network namespace, nftables for isolation and NAT.
//!
//! A segment spanning several hosts is stretched over them by a VXLAN device enslaved to
//! its bridge, with forwarding entries programmed from the server's view.
//!
//! Two segments may share a subnet (clusters that asked for the same one). Each has
//! its own conntrack zone (so identical address pairs never share an entry or a NAT
//! binding), a mark its nodes' connections carry, and a routing table (`ip rule
//! fwmark … lookup …`) that sends replies from the outside to its own bridge; the main
//! table's route for a shared subnet names one bridge only. No VRF is needed (this
//! kernel has none).
//!
//! The [`Network`] trait is the seam; [`bridge::BridgeNetwork`] is the driver. Every
//! method is idempotent and keyed by stable names.

pub mod bridge;
mod cmd;
mod ip;
mod leftovers;
pub mod names;
mod nft;
mod spec;
mod traffic;
mod vxlan;

pub use bridge::BridgeNetwork;
pub use leftovers::leftovers;
pub use spec::{AttachSpec, NetworkError, Peer, SegmentSpec, Underlay};
pub use traffic::Traffic;
pub use vxlan::{overlay_mtu, VXLAN_OVERHEAD};

use std::path::PathBuf;

/// What a network driver does for the agent.
pub trait Network: Send + Sync {
    /// Installs the host-wide rules (isolation between segments, no access from nodes
    /// to the host's own ports, NAT). Called once at agent start; idempotent.
    fn ensure_host(&self) -> Result<(), NetworkError>;
    /// Makes the segment's bridge, gateway address and rules exist.
    fn ensure_segment(&self, seg: &SegmentSpec) -> Result<(), NetworkError>;
    /// Removes a segment's bridge, VXLAN device and rules.
    fn remove_segment(&self, vni: u32) -> Result<(), NetworkError>;
    /// Makes the node's network namespace and its link into the segment exist, with
    /// address, MAC, default route and loopback up; returns the namespace path.
    fn attach(&self, seg: &SegmentSpec, node: &AttachSpec) -> Result<PathBuf, NetworkError>;
    /// Removes the node's link and namespace.
    fn detach(&self, node_id: &str) -> Result<(), NetworkError>;
    /// Stretches the segment over the hosts in `peers` (the others holding its nodes, as
    /// the server sees them): a VXLAN device on the bridge, one flood entry per peer
    /// host and one entry per remote node MAC; entries not listed are removed. With no
    /// peers the VXLAN device is removed. Makes the segment if missing; idempotent.
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
