//! Kernel names derived from Corral ids, so every step can find its objects again.

use std::path::PathBuf;

use crate::NetworkError;

/// Largest VNI: VXLAN ids are 24 bits.
pub const MAX_VNI: u32 = 0x00ff_ffff;

/// Prefix of every segment's gateway link (the host's macvlan on the segment's VXLAN
/// device, holding the gateway address); the nftables rules match on it.
pub const GATEWAY_PREFIX: &str = "cb-";

/// Prefix of every segment's VXLAN device, the lower device of its macvlans.
pub const VXLAN_PREFIX: &str = "cx-";

/// UDP port of VXLAN on the underlay (IANA).
pub const VXLAN_PORT: u16 = 4789;

/// Prefix of every node namespace under /run/netns.
pub const NETNS_PREFIX: &str = "corral-";

/// Where `ip netns` keeps its namespaces (compiled into iproute2).
pub const NETNS_DIR: &str = "/run/netns";

/// Name of the node's interface inside its namespace.
pub const NODE_IFNAME: &str = "eth0";

/// The host's gateway link of segment `vni`, e.g. `cb-4097`.
pub fn gateway_name(vni: u32) -> Result<String, NetworkError> {
    check_vni(vni)?;
    Ok(format!("{GATEWAY_PREFIX}{vni}"))
}

/// The MAC of segment `vni`'s gateway, the same on every host: a node that moves keeps
/// a valid neighbour entry for its gateway. Node MACs start `02:` too but are hashes
/// of node ids; the fixed last byte keeps this one recognisable.
pub fn gateway_mac(vni: u32) -> Result<[u8; 6], NetworkError> {
    check_vni(vni)?;
    let [_, a, b, c] = vni.to_be_bytes();
    Ok([0x02, 0xcb, a, b, c, 0x01])
}

/// The VNI of a gateway link name, if it is one of ours.
pub fn vni_of_gateway(name: &str) -> Option<u32> {
    vni_after(GATEWAY_PREFIX, name)
}

/// The VXLAN device stretching segment `vni` over hosts, e.g. `cx-4097`.
pub fn vxlan_name(vni: u32) -> Result<String, NetworkError> {
    check_vni(vni)?;
    Ok(format!("{VXLAN_PREFIX}{vni}"))
}

/// The VNI of a VXLAN device name, if it is one of ours.
pub fn vni_of_vxlan(name: &str) -> Option<u32> {
    vni_after(VXLAN_PREFIX, name)
}

fn vni_after(prefix: &str, name: &str) -> Option<u32> {
    let digits = name.strip_prefix(prefix)?;
    // Reject forms such as "cb-+1" or "cb-007" that would not round-trip.
    let vni: u32 = digits.parse().ok()?;
    (vni <= MAX_VNI && vni.to_string() == digits).then_some(vni)
}

/// Bit set in every firewall mark (and conntrack mark) Corral gives a segment's
/// traffic; the low 24 bits carry the VNI.
pub const MARK_FLAG: u32 = 0x0100_0000;

/// The bits of a mark that are Corral's; others are left to whoever else marks.
pub const MARK_MASK: u32 = MARK_FLAG | MAX_VNI;

/// Priority of the routing rules sending segment traffic to its own table: before
/// `main` (32766), after `local` (0).
pub const RULE_PRIORITY: u32 = 1100;

/// The firewall mark of segment `vni`: replies to its nodes' egress carry it, so they
/// are routed by the segment's own table even when another segment has the same subnet.
pub fn segment_mark(vni: u32) -> Result<u32, NetworkError> {
    check_vni(vni)?;
    Ok(MARK_FLAG | vni)
}

/// The routing table of segment `vni`: its subnet on its gateway link (the same number as
/// its mark, above the kernel's reserved tables 253–255).
pub fn route_table(vni: u32) -> Result<u32, NetworkError> {
    segment_mark(vni)
}

/// The VNI of a routing table, if it is one of ours.
pub fn vni_of_table(table: u32) -> Option<u32> {
    (table & !MAX_VNI == MARK_FLAG).then_some(table & MAX_VNI)
}

/// The prefix of node namespace names in this process.
static PREFIX: std::sync::OnceLock<String> = std::sync::OnceLock::new();

/// Sets the prefix of node namespace names for this process (before any use).
/// /run/netns is one directory per machine: several agents on one machine (test
/// "hosts" in network namespaces) each need their own prefix, as a node's id is the
/// same on every host it moves to.
pub fn set_netns_prefix(prefix: &str) -> bool {
    PREFIX.set(prefix.to_string()).is_ok()
}

fn netns_prefix() -> &'static str {
    PREFIX.get().map(String::as_str).unwrap_or(NETNS_PREFIX)
}

/// The namespace name of a node, as given to `ip netns`.
pub fn netns_name(node_id: &str) -> Result<String, NetworkError> {
    check_node_id(node_id)?;
    Ok(format!("{}{node_id}", netns_prefix()))
}

/// The namespace path of a node, which runtimes join.
pub fn netns_path(node_id: &str) -> Result<PathBuf, NetworkError> {
    Ok(PathBuf::from(NETNS_DIR).join(netns_name(node_id)?))
}

/// The node id of a namespace name, if it is one of ours.
pub fn node_of_netns(name: &str) -> Option<&str> {
    name.strip_prefix(netns_prefix()).filter(|id| check_node_id(id).is_ok())
}

fn check_vni(vni: u32) -> Result<(), NetworkError> {
    if vni > MAX_VNI {
        return Err(invalid("vni", vni.to_string()));
    }
    Ok(())
}

/// Node ids become file names and command arguments: keep them to a safe alphabet.
fn check_node_id(node_id: &str) -> Result<(), NetworkError> {
    let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.');
    let ok = !node_id.is_empty() && node_id.len() <= 200 && !node_id.starts_with('.') && node_id.chars().all(safe);
    if ok {
        Ok(())
    } else {
        Err(invalid("node id", node_id.to_string()))
    }
}

fn invalid(what: &'static str, value: String) -> NetworkError {
    NetworkError::Invalid { what, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn gateway_names_fit_and_round_trip() {
        let name = gateway_name(MAX_VNI).unwrap();
        assert_eq!(name, "cb-16777215");
        assert!(name.len() <= 15);
        assert_eq!(vni_of_gateway(&name), Some(MAX_VNI));
        assert!(gateway_name(MAX_VNI + 1).is_err());
    }

    #[test]
    fn foreign_gateway_names_are_not_ours() {
        for name in ["cb-", "cb-x", "cb-+1", "cb-007", "cb-99999999", "br0", "cv12"] {
            assert_eq!(vni_of_gateway(name), None, "{name}");
        }
    }

    #[test]
    fn vxlan_names_fit_and_round_trip() {
        let name = vxlan_name(MAX_VNI).unwrap();
        assert_eq!(name, "cx-16777215");
        assert_eq!(vni_of_vxlan(&name), Some(MAX_VNI));
        assert_eq!(vni_of_vxlan("cb-5"), None);
        assert_eq!(vni_of_gateway("cx-5"), None);
        assert!(vxlan_name(MAX_VNI + 1).is_err());
    }

    #[test]
    fn marks_and_tables_round_trip() {
        assert_eq!(segment_mark(7).unwrap(), 0x0100_0007);
        assert_eq!(route_table(MAX_VNI).unwrap(), 0x01ff_ffff);
        assert_eq!(vni_of_table(route_table(42).unwrap()), Some(42));
        for foreign in [253, 254, 255, 0, 0x0200_0007] {
            assert_eq!(vni_of_table(foreign), None, "{foreign}");
        }
        assert!(segment_mark(MAX_VNI + 1).is_err());
    }

    #[test]
    fn gateway_macs_are_unicast_and_carry_the_vni() {
        assert_eq!(gateway_mac(0x0a0b0c).unwrap(), [0x02, 0xcb, 0x0a, 0x0b, 0x0c, 0x01]);
        assert_eq!(gateway_mac(MAX_VNI).unwrap()[0] & 1, 0);
        assert!(gateway_mac(MAX_VNI + 1).is_err());
    }

    #[test]
    fn netns_names_round_trip() {
        assert_eq!(netns_name("n1").unwrap(), "corral-n1");
        assert_eq!(netns_path("n1").unwrap(), PathBuf::from("/run/netns/corral-n1"));
        assert_eq!(node_of_netns("corral-n1"), Some("n1"));
        assert_eq!(node_of_netns("other"), None);
    }

    #[test]
    fn unsafe_node_ids_are_refused() {
        for id in ["", "..", ".hidden", "a/b", "a b", "a;b"] {
            assert!(netns_name(id).is_err(), "{id:?}");
        }
    }
}
