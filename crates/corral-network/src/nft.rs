//! The `inet corral` nftables table: rule text, per-segment set elements, and reading
//! the sets back.
//!
//! Rules never mention a segment; segments live only as set elements, so adding or
//! removing one is a set update and the chains stay fixed.

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::cmd;
use crate::names::{vni_comment, vni_of_comment, BRIDGE_PREFIX, VXLAN_PORT, VXLAN_PREFIX};
use crate::NetworkError;

/// The table Corral owns, in the agent's network namespace.
pub const TABLE: &str = "inet corral";

/// The bridge-family table Corral owns: frames on segment bridges themselves.
pub const BRIDGE_TABLE: &str = "bridge corral";

/// Set of segment subnets, each tagged with a `vni N` comment; NAT matches on it.
pub const SUBNETS: &str = "subnets";

/// Set of `bridge . bridge` pairs: traffic that stays in one segment.
///
/// With br_netfilter loaded, bridged frames cross the inet forward hook with the bridge
/// as both iif and oif, and nft cannot compare two interfaces; listing the pairs that
/// are allowed keeps such traffic flowing without per-segment rules.
pub const SAME_BRIDGE: &str = "same_bridge";

/// Set of addresses nodes may never send to: the other hosts of the pool and the
/// server. Their control ports would otherwise be reachable through the egress NAT.
pub const PROTECTED: &str = "protected";

/// A segment's element in the subnet set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SubnetElement {
    /// The element as nft prints it (`10.1.0.0/24`).
    pub value: String,
    /// The VNI from its comment, if it carries one of ours.
    pub vni: Option<u32>,
}

/// Creates the table and its sets when missing, keeping their elements.
pub fn preamble() -> String {
    format!(
        "add table {TABLE}\n\
         add set {TABLE} {SUBNETS} {{ type ipv4_addr; flags interval; }}\n\
         add set {TABLE} {SAME_BRIDGE} {{ typeof iifname . oifname; }}\n\
         add set {TABLE} {PROTECTED} {{ type ipv4_addr; }}\n"
    )
}

/// The whole host setup in one transaction: chains are flushed and refilled, so the
/// rules converge, while the sets (the registered segments) are left alone.
pub fn host_script() -> String {
    let any = format!("\"{BRIDGE_PREFIX}*\"");
    let mut script = preamble();
    for (chain, hook) in [
        ("raw_prerouting", "type filter hook prerouting priority raw"),
        ("raw_output", "type filter hook output priority raw"),
        ("forward", "type filter hook forward priority filter"),
        ("input", "type filter hook input priority filter"),
        ("postrouting", "type nat hook postrouting priority srcnat"),
    ] {
        script += &format!("add chain {TABLE} {chain} {{ {hook}; policy accept; }}\n");
        script += &format!("flush chain {TABLE} {chain}\n");
    }
    let rules = [
        // The underlay's VXLAN packets need no connection tracking (a lookup per
        // packet on both hosts); what nodes send to the port stays tracked and dropped.
        format!("raw_prerouting iifname != {any} udp dport {VXLAN_PORT} notrack"),
        format!("raw_output udp dport {VXLAN_PORT} notrack"),
        // Nodes cannot send VXLAN into the underlay: a forged VNI would land them in
        // another cluster's segment on another host. Their own VXLAN inside their
        // segment (bridged, out a bridge) stays theirs.
        format!("forward iifname {any} oifname != {any} udp dport {VXLAN_PORT} drop"),
        // Nodes cannot reach the pool's other hosts or its server (their own host is
        // covered by the input chain). Nothing from those may open a connection to a
        // node either, so no reply is lost.
        format!("forward iifname {any} ip daddr @{PROTECTED} drop"),
        // Clusters cannot reach each other through the host's routing.
        format!("forward iifname {any} oifname {any} iifname . oifname != @{SAME_BRIDGE} drop"),
        // Nodes are not reachable from outside the host except by replies.
        format!("forward oifname {any} iifname != {any} ct state != {{ established, related }} drop"),
        // Nodes cannot open connections to any of the host's own addresses (the
        // underlay address too); the VXLAN port is refused even to replies.
        format!("input iifname {any} udp dport {VXLAN_PORT} drop"),
        format!("input iifname {any} ct state {{ established, related }} accept"),
        format!("input iifname {any} drop"),
        // Egress: nodes reach the world behind the host's address.
        format!("postrouting ip saddr @{SUBNETS} oifname != {any} masquerade"),
    ];
    for rule in rules {
        script += &format!("add rule {TABLE} {rule}\n");
    }
    script + &bridge_script()
}

/// The host never speaks into a stretched segment: every host's bridge carries the same
/// gateway address, so its ARP replies (and anything else it sends) stay on its own
/// nodes; what crosses the VXLAN device comes from nodes only.
fn bridge_script() -> String {
    let vxlans = format!("\"{VXLAN_PREFIX}*\"");
    format!(
        "add table {BRIDGE_TABLE}\n\
         add chain {BRIDGE_TABLE} output {{ type filter hook output priority filter; policy accept; }}\n\
         flush chain {BRIDGE_TABLE} output\n\
         add rule {BRIDGE_TABLE} output oifname {vxlans} drop\n"
    )
}

/// Registers a segment: its subnet (dropping stale elements of the same VNI or subnet)
/// and its same-bridge pair.
pub fn segment_script(vni: u32, bridge: &str, subnet: Ipv4Net, current: &[SubnetElement]) -> String {
    let value = subnet.trunc().to_string();
    let mut script = preamble();
    for element in current {
        let ours = element.vni == Some(vni);
        let same_subnet = element.value == value;
        // A moved subnet or a subnet handed to another VNI; the exact element stays.
        if ours != same_subnet {
            script += &delete_subnet(&element.value);
        }
    }
    script += &format!(
        "add element {TABLE} {SUBNETS} {{ {value} comment \"{}\" }}\n",
        vni_comment(vni)
    );
    script += &format!("add element {TABLE} {SAME_BRIDGE} {{ {} }}\n", pair(bridge));
    script
}

/// Unregisters a segment. Deleting a missing element fails the whole transaction, so
/// the pair is added first (a no-op when present) and subnets come from a listing.
pub fn remove_script(vni: u32, bridge: &str, current: &[SubnetElement]) -> String {
    // No preamble: removing must not create the table on a host that never had it.
    let mut script = format!("add element {TABLE} {SAME_BRIDGE} {{ {} }}\n", pair(bridge));
    script += &format!("delete element {TABLE} {SAME_BRIDGE} {{ {} }}\n", pair(bridge));
    for element in current.iter().filter(|e| e.vni == Some(vni)) {
        script += &delete_subnet(&element.value);
    }
    script
}

/// Replaces the protected addresses in one transaction.
pub fn protected_script(addresses: &[std::net::Ipv4Addr]) -> String {
    let mut script = preamble();
    script += &format!("flush set {TABLE} {PROTECTED}\n");
    if !addresses.is_empty() {
        let list: Vec<String> = addresses.iter().map(|a| a.to_string()).collect();
        script += &format!("add element {TABLE} {PROTECTED} {{ {} }}\n", list.join(", "));
    }
    script
}

/// Installs the host rules.
pub fn apply_host() -> Result<(), NetworkError> {
    cmd::nft_script(&host_script())
}

/// The subnet set's elements; empty when the table was never made.
pub fn list_subnets() -> Result<Vec<SubnetElement>, NetworkError> {
    Ok(list_set(SUBNETS)?.iter().filter_map(subnet_element).collect())
}

/// Bridges with a same-bridge pair registered.
pub fn list_same_bridges() -> Result<Vec<String>, NetworkError> {
    Ok(list_set(SAME_BRIDGE)?.iter().filter_map(pair_bridge).collect())
}

fn list_set(set: &str) -> Result<Vec<Value>, NetworkError> {
    let args = ["-j", "list", "set", "inet", "corral", set];
    let text = match cmd::run("nft", &args, None) {
        Ok(text) => text,
        Err(err) if cmd::is_not_found(&err) => return Ok(Vec::new()),
        Err(err) => return Err(err),
    };
    let json: Value = serde_json::from_str(&text).map_err(|err| NetworkError::Command {
        command: format!("nft {}", args.join(" ")),
        message: format!("unreadable json: {err}"),
    })?;
    Ok(set_elements(&json))
}

fn set_elements(json: &Value) -> Vec<Value> {
    json["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["set"]["elem"].as_array())
        .flatten()
        .cloned()
        .collect()
}

/// Elements with a comment are wrapped as `{"elem": {"val": …, "comment": …}}`.
fn subnet_element(elem: &Value) -> Option<SubnetElement> {
    let (val, comment) = match elem.get("elem") {
        Some(inner) => (&inner["val"], inner["comment"].as_str()),
        None => (elem, None),
    };
    let value = match val {
        Value::String(addr) => addr.clone(),
        Value::Object(_) if val.get("prefix").is_some() => {
            let prefix = &val["prefix"];
            format!("{}/{}", prefix["addr"].as_str()?, prefix["len"].as_u64()?)
        }
        Value::Object(_) => {
            let range = val["range"].as_array()?;
            format!("{}-{}", range.first()?.as_str()?, range.get(1)?.as_str()?)
        }
        _ => return None,
    };
    Some(SubnetElement {
        value,
        vni: comment.and_then(vni_of_comment),
    })
}

fn pair_bridge(elem: &Value) -> Option<String> {
    let parts = elem["concat"].as_array()?;
    Some(parts.first()?.as_str()?.to_string())
}

fn pair(bridge: &str) -> String {
    format!("\"{bridge}\" . \"{bridge}\"")
}

fn delete_subnet(value: &str) -> String {
    format!("delete element {TABLE} {SUBNETS} {{ {value} }}\n")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn element(value: &str, vni: Option<u32>) -> SubnetElement {
        SubnetElement {
            value: value.to_string(),
            vni,
        }
    }

    #[test]
    fn host_script_keeps_sets_and_refills_chains() {
        let script = host_script();
        assert!(!script.contains("delete table"));
        assert!(!script.contains("flush table"));
        assert!(!script.contains("flush set"));
        assert!(script.contains("flush chain inet corral forward\n"));
        assert!(script.contains(
            "add rule inet corral forward iifname \"cb-*\" oifname \"cb-*\" \
             iifname . oifname != @same_bridge drop\n"
        ));
        assert!(script.contains("add rule inet corral input iifname \"cb-*\" drop\n"));
        assert!(script.contains("add rule inet corral postrouting ip saddr @subnets oifname != \"cb-*\" masquerade\n"));
    }

    #[test]
    fn nodes_cannot_send_vxlan_and_the_host_stays_off_the_overlay() {
        let script = host_script();
        assert!(
            script.contains("add rule inet corral forward iifname \"cb-*\" oifname != \"cb-*\" udp dport 4789 drop\n")
        );
        let vxlan = script.find("input iifname \"cb-*\" udp dport 4789 drop").unwrap();
        let replies = script.find("input iifname \"cb-*\" ct state").unwrap();
        assert!(vxlan < replies);
        assert!(script.contains("add rule bridge corral output oifname \"cx-*\" drop\n"));
        assert!(script.contains("flush chain bridge corral output\n"));
    }

    #[test]
    fn replies_are_accepted_before_the_input_drop() {
        let script = host_script();
        let accept = script.find("input iifname \"cb-*\" ct state").unwrap();
        let drop = script.find("input iifname \"cb-*\" drop").unwrap();
        assert!(accept < drop);
    }

    #[test]
    fn segment_script_adds_tagged_subnet_and_pair() {
        let script = segment_script(7, "cb-7", "10.1.0.9/24".parse().unwrap(), &[]);
        assert!(script.starts_with(&preamble()));
        assert!(script.contains("add element inet corral subnets { 10.1.0.0/24 comment \"vni 7\" }\n"));
        assert!(script.contains("add element inet corral same_bridge { \"cb-7\" . \"cb-7\" }\n"));
        assert!(!script.contains("delete"));
    }

    #[test]
    fn segment_script_drops_stale_elements_only() {
        let current = [
            element("10.1.0.0/24", Some(7)),
            element("10.2.0.0/24", Some(7)),
            element("10.3.0.0/24", Some(8)),
            element("10.1.0.0/24", Some(9)),
        ];
        let script = segment_script(7, "cb-7", "10.1.0.0/24".parse().unwrap(), &current);
        assert!(script.contains("delete element inet corral subnets { 10.2.0.0/24 }\n"));
        assert!(!script.contains("{ 10.3.0.0/24 }"));
        assert_eq!(script.matches("delete element").count(), 2);
    }

    #[test]
    fn remove_script_tolerates_missing_pair_and_deletes_own_subnets() {
        let current = [element("10.1.0.0/24", Some(7)), element("10.3.0.0/24", Some(8))];
        let script = remove_script(7, "cb-7", &current);
        let add = script.find("add element inet corral same_bridge").unwrap();
        let del = script.find("delete element inet corral same_bridge").unwrap();
        assert!(add < del);
        assert!(script.contains("delete element inet corral subnets { 10.1.0.0/24 }\n"));
        assert!(!script.contains("10.3.0.0/24"));
    }

    #[test]
    fn json_listing_is_parsed() {
        let json: Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {}}, {"set": {"name": "subnets", "elem": [
                {"elem": {"val": {"prefix": {"addr": "10.9.0.0", "len": 24}}, "comment": "vni 5"}},
                {"prefix": {"addr": "10.8.0.0", "len": 16}},
                "10.7.0.1"]}}]}"#,
        )
        .unwrap();
        let elements: Vec<_> = set_elements(&json).iter().filter_map(subnet_element).collect();
        assert_eq!(
            elements,
            [
                element("10.9.0.0/24", Some(5)),
                element("10.8.0.0/16", None),
                element("10.7.0.1", None)
            ]
        );
        let pairs: Value =
            serde_json::from_str(r#"{"nftables": [{"set": {"elem": [{"concat": ["cb-5", "cb-5"]}]}}]}"#).unwrap();
        let bridges: Vec<_> = set_elements(&pairs).iter().filter_map(pair_bridge).collect();
        assert_eq!(bridges, ["cb-5"]);
    }
}
