//! What the agent asks of a network driver.

use std::net::Ipv4Addr;

use ipnet::Ipv4Net;

/// One cluster's segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentSpec {
    /// 24-bit segment id; its links are named after it.
    pub vni: u32,
    /// Subnet.
    pub subnet: Ipv4Net,
    /// Gateway address on the host's gateway link.
    pub gateway: Ipv4Addr,
    /// MTU of the segment.
    pub mtu: u32,
}

/// One node's attachment to a segment.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AttachSpec {
    /// Stable node id (as the runtime's).
    pub node_id: String,
    /// Address in the segment.
    pub address: Ipv4Addr,
    /// MAC address, kept across restarts and moves.
    pub mac: [u8; 6],
}

/// This host's side of the underlay that carries VXLAN between hosts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Underlay {
    /// This host's underlay address: the source of its VXLAN packets.
    pub local: Ipv4Addr,
    /// The underlay interface, if VXLAN should be pinned to one.
    pub device: Option<String>,
    /// MTU of the underlay; a segment's MTU must fit [`crate::overlay_mtu`] of it.
    pub mtu: u32,
}

/// Another host holding nodes of a segment, as the server sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Peer {
    /// The peer host's underlay address.
    pub host: Ipv4Addr,
    /// MACs of the peer host's nodes in this segment.
    pub macs: Vec<[u8; 6]>,
}

/// Errors of a network driver.
#[derive(Debug, thiserror::Error)]
pub enum NetworkError {
    /// A command failed.
    #[error("{command} failed: {message}")]
    Command {
        /// The command line.
        command: String,
        /// What it printed.
        message: String,
    },
    /// An input the driver cannot turn into kernel names.
    #[error("invalid {what}: {value}")]
    Invalid {
        /// Which input.
        what: &'static str,
        /// The offending value.
        value: String,
    },
    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}
