//! The `inet corral` nftables table: rule text, per-segment set elements, and reading
//! the sets back.
//!
//! Rules never mention a segment; segments live only as set elements, so adding or
//! removing one is a set update and the chains stay fixed.

use std::collections::{BTreeMap, BTreeSet};

use ipnet::Ipv4Net;
use serde_json::Value;

use crate::cmd;
use crate::names::{self, GATEWAY_PREFIX, MARK_FLAG, VXLAN_PORT};
use crate::NetworkError;

/// The table Corral owns, in the agent's network namespace.
pub const TABLE: &str = "inet corral";

/// The netdev-family table Corral owns: a chain per segment on its VXLAN device's
/// egress (see [`guard_script`]).
pub const NETDEV_TABLE: &str = "netdev corral";

/// The bridge-family table earlier versions kept (the gateway guard, when segments
/// were bridges); removed when the host rules are installed.
const LEGACY_BRIDGE_TABLE: &str = "bridge corral";

/// Prefix of the guard chains in [`NETDEV_TABLE`], followed by the VNI.
const GUARD_PREFIX: &str = "out-";

/// Map from a segment's gateway link to its conntrack zone.
///
/// Two segments may use the same subnet: their nodes' connections are tracked in
/// separate zones so identical address pairs never share an entry. Traffic within a
/// segment (and the host's to it) uses the zone both ways; a node's egress uses it in
/// the original direction only, so replies from the world (zone 0) still find their
/// entry and the masquerade never hands two segments the same outside port.
pub const ZONES: &str = "zones";

/// Map from a segment's gateway link to its mark (see [`crate::names::segment_mark`]):
/// connections its nodes open carry it as conntrack mark, their replies as packet mark,
/// which routes them by the segment's own table.
pub const MARKS: &str = "marks";

/// Set of `link . subnet`: what counts as traffic inside a segment.
pub const SEGMENT_NETS: &str = "segment_nets";

/// Set of `gateway . gateway` pairs: routed traffic that stays in one segment.
///
/// nft cannot compare two interfaces; listing the pairs that are allowed keeps such
/// traffic (rare since segments are macvlans: nodes reach each other without the
/// host's routing) flowing without per-segment rules.
pub const SAME_BRIDGE: &str = "same_bridge";

/// Set of addresses nodes may never send to: the other hosts of the pool and the
/// server. Their control ports would otherwise be reachable through the egress NAT.
pub const PROTECTED: &str = "protected";

/// The set earlier versions keyed segments by (one subnet each, so no two segments
/// could share one); removed when the host rules are installed.
const LEGACY_SUBNETS: &str = "subnets";

/// Zones Corral hands out; 0 is the kernel's default zone.
const ZONE_COUNT: u32 = 65535;

/// What the table holds for segments, read back in one listing.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TableState {
    /// Bridge → conntrack zone.
    pub zones: BTreeMap<String, u16>,
    /// Bridge → mark.
    pub marks: BTreeMap<String, u32>,
    /// `(link, subnet)` elements of [`SEGMENT_NETS`], the subnet as nft prints it.
    pub nets: Vec<(String, String)>,
    /// Gateway links with a same-link pair.
    pub same_bridge: BTreeSet<String>,
}

impl TableState {
    /// Every link some element names.
    pub fn links(&self) -> BTreeSet<String> {
        let mut all: BTreeSet<String> = self.zones.keys().chain(self.marks.keys()).cloned().collect();
        all.extend(self.nets.iter().map(|(b, _)| b.clone()));
        all.extend(self.same_bridge.iter().cloned());
        all
    }

    /// Describes the elements naming `link`, for leftovers.
    pub fn describe(&self, link: &str) -> Vec<String> {
        let mut found = Vec::new();
        if let Some(zone) = self.zones.get(link) {
            found.push(format!("nft element {ZONES} {link} : {zone}"));
        }
        if let Some(mark) = self.marks.get(link) {
            found.push(format!("nft element {MARKS} {link} : {mark:#x}"));
        }
        for (_, net) in self.nets.iter().filter(|(b, _)| b == link) {
            found.push(format!("nft element {SEGMENT_NETS} {link} . {net}"));
        }
        if self.same_bridge.contains(link) {
            found.push(format!("nft element {SAME_BRIDGE} {link}"));
        }
        found
    }

    /// The zone of `link`: the one it has, else a free one picked from its VNI, so a
    /// zone freed by a removed segment is seldom handed straight to another (its
    /// conntrack entries time out meanwhile). None when all zones are taken.
    pub fn zone_for(&self, link: &str, vni: u32) -> Option<u16> {
        if let Some(&zone) = self.zones.get(link) {
            return Some(zone);
        }
        let used: BTreeSet<u16> = self.zones.values().copied().collect();
        let start = vni.wrapping_mul(0x9e37_79b1) % ZONE_COUNT;
        (0..ZONE_COUNT)
            .map(|i| u16::try_from((start + i) % ZONE_COUNT + 1).expect("below 65536"))
            .find(|zone| !used.contains(zone))
    }
}

/// Creates the table and its sets when missing, keeping their elements.
pub fn preamble() -> String {
    format!(
        "add table {TABLE}\n\
         add map {TABLE} {ZONES} {{ typeof iifname : ct zone; }}\n\
         add map {TABLE} {MARKS} {{ typeof iifname : meta mark; }}\n\
         add set {TABLE} {SEGMENT_NETS} {{ typeof iifname . ip daddr; flags interval; }}\n\
         add set {TABLE} {SAME_BRIDGE} {{ typeof iifname . oifname; }}\n\
         add set {TABLE} {PROTECTED} {{ type ipv4_addr; }}\n"
    )
}

/// The whole host setup in one transaction: chains are flushed and refilled, so the
/// rules converge, while the sets (the registered segments) are left alone.
pub fn host_script() -> String {
    let any = format!("\"{GATEWAY_PREFIX}*\"");
    let mut script = preamble();
    for (chain, hook) in [
        ("raw_prerouting", "type filter hook prerouting priority raw"),
        ("raw_output", "type filter hook output priority raw"),
        ("mark_prerouting", "type filter hook prerouting priority mangle"),
        ("forward", "type filter hook forward priority filter"),
        ("input", "type filter hook input priority filter"),
        ("postrouting", "type nat hook postrouting priority srcnat"),
    ] {
        script += &format!("add chain {TABLE} {chain} {{ {hook}; policy accept; }}\n");
        script += &format!("flush chain {TABLE} {chain}\n");
    }
    // The chains no longer name the legacy set, so it can go (made first, as deleting
    // a missing set would fail the transaction).
    script += &format!("add set {TABLE} {LEGACY_SUBNETS} {{ type ipv4_addr; flags interval; }}\n");
    script += &format!("delete set {TABLE} {LEGACY_SUBNETS}\n");
    let ours = format!("and {MARK_FLAG:#x} == {MARK_FLAG:#x}");
    let rules = [
        // The underlay's VXLAN packets need no connection tracking (a lookup per
        // packet on both hosts); what nodes send to the port stays tracked and dropped.
        // Nor do the zone rules below concern them: accepted here, they skip the rest.
        format!("raw_prerouting iifname != {any} udp dport {VXLAN_PORT} notrack accept"),
        format!("raw_output udp dport {VXLAN_PORT} notrack accept"),
        // Each segment's connections live in its own conntrack zone (see ZONES).
        format!("raw_prerouting iifname . ip daddr @{SEGMENT_NETS} ct zone set iifname map @{ZONES}"),
        format!("raw_prerouting iifname . ip daddr != @{SEGMENT_NETS} ct original zone set iifname map @{ZONES}"),
        format!("raw_output oifname . ip daddr @{SEGMENT_NETS} ct zone set oifname map @{ZONES}"),
        // Connections nodes open carry their segment's mark; replies coming back
        // (de-masqueraded) are routed by it, not by the main table, where a subnet
        // two segments share points at one of them only.
        format!("mark_prerouting iifname {any} ct state new ct mark set iifname map @{MARKS}"),
        format!("mark_prerouting iifname != {any} ct direction reply ct mark {ours} meta mark set ct mark"),
        // Nodes cannot send VXLAN into the underlay: a forged VNI would land them in
        // another cluster's segment on another host. Their own VXLAN inside their
        // segment (node to node, never through the host) stays theirs.
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
        format!("postrouting oifname != {any} ct mark {ours} masquerade"),
    ];
    for rule in rules {
        script += &format!("add rule {TABLE} {rule}\n");
    }
    script += &format!("add table {LEGACY_BRIDGE_TABLE}\ndelete table {LEGACY_BRIDGE_TABLE}\n");
    script + &format!("add table {NETDEV_TABLE}\n")
}

/// The guard of segment `vni`: the host never speaks into a stretched segment. Every
/// host's gateway link carries the same address and MAC, so its ARP replies (and
/// anything else it sends) must stay with its own nodes: frames from the gateway MAC
/// are dropped on the way out of the VXLAN device, and what crosses it comes from
/// nodes only. Idempotent.
pub fn guard_script(vni: u32) -> Result<String, NetworkError> {
    let chain = format!("{GUARD_PREFIX}{vni}");
    let device = names::vxlan_name(vni)?;
    let mac = crate::ip::mac_text(names::gateway_mac(vni)?);
    Ok(format!(
        "add table {NETDEV_TABLE}\n\
         add chain {NETDEV_TABLE} {chain} {{ type filter hook egress device \"{device}\" priority filter; policy accept; }}\n\
         flush chain {NETDEV_TABLE} {chain}\n\
         add rule {NETDEV_TABLE} {chain} ether saddr {mac} drop\n"
    ))
}

/// Removes the guard of segment `vni` (which must exist: see [`list_guards`]).
pub fn unguard_script(vni: u32) -> String {
    let chain = format!("{GUARD_PREFIX}{vni}");
    format!("flush chain {NETDEV_TABLE} {chain}\ndelete chain {NETDEV_TABLE} {chain}\n")
}

/// VNIs of the segments with a guard chain; empty when the table was never made.
pub fn list_guards() -> Result<BTreeSet<u32>, NetworkError> {
    let json = list_json(&["-j", "list", "table", "netdev", "corral"])?;
    Ok(parse_guards(&json))
}

fn parse_guards(json: &Value) -> BTreeSet<u32> {
    json["nftables"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|item| item["chain"]["name"].as_str())
        .filter_map(|name| name.strip_prefix(GUARD_PREFIX)?.parse().ok())
        .collect()
}

/// What one segment registers: its link's zone, mark, subnet and same-link pair.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SegmentElements<'a> {
    /// The segment's link.
    pub link: &'a str,
    /// Its subnet.
    pub subnet: Ipv4Net,
    /// Its conntrack zone.
    pub zone: u16,
    /// Its mark.
    pub mark: u32,
}

/// Registers a segment, replacing elements of its link that differ (a moved subnet).
pub fn segment_script(seg: &SegmentElements<'_>, current: &TableState) -> String {
    let link = seg.link;
    let value = seg.subnet.trunc().to_string();
    let mut script = preamble();
    for (_, net) in current.nets.iter().filter(|(b, n)| b == link && *n != value) {
        script += &format!("delete element {TABLE} {SEGMENT_NETS} {{ \"{link}\" . {net} }}\n");
    }
    if let Some(zone) = current.zones.get(link).filter(|&&z| z != seg.zone) {
        script += &format!("delete element {TABLE} {ZONES} {{ \"{link}\" : {zone} }}\n");
    }
    if let Some(mark) = current.marks.get(link).filter(|&&m| m != seg.mark) {
        script += &format!("delete element {TABLE} {MARKS} {{ \"{link}\" : {mark:#x} }}\n");
    }
    script += &format!("add element {TABLE} {ZONES} {{ \"{link}\" : {} }}\n", seg.zone);
    script += &format!("add element {TABLE} {MARKS} {{ \"{link}\" : {:#x} }}\n", seg.mark);
    script += &format!("add element {TABLE} {SEGMENT_NETS} {{ \"{link}\" . {value} }}\n");
    script += &format!("add element {TABLE} {SAME_BRIDGE} {{ {} }}\n", pair(link));
    script
}

/// Unregisters a segment: deletes exactly the elements a listing showed (deleting a
/// missing element would fail the whole transaction). Empty when nothing is left.
pub fn remove_script(link: &str, current: &TableState) -> String {
    let mut script = String::new();
    if let Some(zone) = current.zones.get(link) {
        script += &format!("delete element {TABLE} {ZONES} {{ \"{link}\" : {zone} }}\n");
    }
    if let Some(mark) = current.marks.get(link) {
        script += &format!("delete element {TABLE} {MARKS} {{ \"{link}\" : {mark:#x} }}\n");
    }
    for (_, net) in current.nets.iter().filter(|(b, _)| b == link) {
        script += &format!("delete element {TABLE} {SEGMENT_NETS} {{ \"{link}\" . {net} }}\n");
    }
    if current.same_bridge.contains(link) {
        script += &format!("delete element {TABLE} {SAME_BRIDGE} {{ {} }}\n", pair(link));
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

/// The segment elements of the table; empty when the table was never made.
pub fn list_table() -> Result<TableState, NetworkError> {
    Ok(parse_table(&list_json(&["-j", "list", "table", "inet", "corral"])?))
}

/// An `nft -j` listing; `null` when what it lists does not exist.
fn list_json(args: &[&str]) -> Result<Value, NetworkError> {
    let text = match cmd::run("nft", args, None) {
        Ok(text) => text,
        Err(err) if cmd::is_not_found(&err) => return Ok(Value::Null),
        Err(err) => return Err(err),
    };
    serde_json::from_str(&text).map_err(|err| NetworkError::Command {
        command: format!("nft {}", args.join(" ")),
        message: format!("unreadable json: {err}"),
    })
}

fn parse_table(json: &Value) -> TableState {
    let mut state = TableState::default();
    for item in json["nftables"].as_array().into_iter().flatten() {
        let (set, name) = match (item.get("set"), item.get("map")) {
            (Some(set), _) | (None, Some(set)) => (set, set["name"].as_str().unwrap_or_default()),
            _ => continue,
        };
        let elements = set["elem"].as_array().into_iter().flatten();
        match name {
            ZONES => state.zones.extend(elements.filter_map(|e| {
                let (link, zone) = map_element(e)?;
                Some((link, u16::try_from(zone).ok()?))
            })),
            MARKS => state.marks.extend(elements.filter_map(|e| {
                let (link, mark) = map_element(e)?;
                Some((link, u32::try_from(mark).ok()?))
            })),
            SEGMENT_NETS => state.nets.extend(elements.filter_map(net_element)),
            SAME_BRIDGE => state.same_bridge.extend(elements.filter_map(pair_bridge)),
            _ => {}
        }
    }
    state
}

/// A map element `["cb-7", 3]`.
fn map_element(elem: &Value) -> Option<(String, u64)> {
    let pair = elem.as_array()?;
    Some((pair.first()?.as_str()?.to_string(), pair.get(1)?.as_u64()?))
}

/// A set element `{"concat": ["cb-7", {"prefix": {"addr": "10.1.0.0", "len": 24}}]}`.
fn net_element(elem: &Value) -> Option<(String, String)> {
    let parts = elem["concat"].as_array()?;
    let link = parts.first()?.as_str()?.to_string();
    let val = parts.get(1)?;
    let net = match val {
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
    Some((link, net))
}

fn pair_bridge(elem: &Value) -> Option<String> {
    let parts = elem["concat"].as_array()?;
    Some(parts.first()?.as_str()?.to_string())
}

fn pair(link: &str) -> String {
    format!("\"{link}\" . \"{link}\"")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn state() -> TableState {
        TableState {
            zones: [("cb-7".to_string(), 3), ("cb-8".to_string(), 4)].into(),
            marks: [("cb-7".to_string(), 0x0100_0007)].into(),
            nets: vec![
                ("cb-7".to_string(), "10.2.0.0/24".to_string()),
                ("cb-8".to_string(), "10.1.0.0/24".to_string()),
            ],
            same_bridge: ["cb-7".to_string()].into(),
        }
    }

    fn elements(subnet: &str, zone: u16) -> SegmentElements<'static> {
        SegmentElements {
            link: "cb-7",
            subnet: subnet.parse().unwrap(),
            zone,
            mark: 0x0100_0007,
        }
    }

    #[test]
    fn host_script_keeps_sets_and_refills_chains() {
        let script = host_script();
        assert!(!script.contains("delete table inet"));
        assert!(!script.contains("flush table"));
        assert!(!script.contains("flush set"));
        assert!(script.contains("flush chain inet corral forward\n"));
        assert!(script.contains(
            "add rule inet corral forward iifname \"cb-*\" oifname \"cb-*\" \
             iifname . oifname != @same_bridge drop\n"
        ));
        assert!(script.contains("add rule inet corral input iifname \"cb-*\" drop\n"));
        assert!(script.contains(
            "add rule inet corral postrouting oifname != \"cb-*\" ct mark and 0x1000000 == 0x1000000 masquerade\n"
        ));
    }

    #[test]
    fn the_legacy_subnet_set_goes_after_the_chains_that_used_it_are_flushed() {
        let script = host_script();
        let flush = script.find("flush chain inet corral postrouting").unwrap();
        let make = script.find("add set inet corral subnets").unwrap();
        let delete = script.find("delete set inet corral subnets").unwrap();
        assert!(flush < make && make < delete);
    }

    #[test]
    fn segments_get_zones_both_ways_inside_and_one_way_out() {
        let script = host_script();
        assert!(script.contains("raw_prerouting iifname . ip daddr @segment_nets ct zone set iifname map @zones\n"));
        assert!(script
            .contains("raw_prerouting iifname . ip daddr != @segment_nets ct original zone set iifname map @zones\n"));
        assert!(script.contains("raw_output oifname . ip daddr @segment_nets ct zone set oifname map @zones\n"));
        assert!(script.contains("ct direction reply ct mark and 0x1000000 == 0x1000000 meta mark set ct mark\n"));
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
        assert!(script.ends_with("delete table bridge corral\nadd table netdev corral\n"));
        assert_eq!(
            guard_script(7).unwrap(),
            "add table netdev corral\n\
             add chain netdev corral out-7 { type filter hook egress device \"cx-7\" priority filter; policy accept; }\n\
             flush chain netdev corral out-7\n\
             add rule netdev corral out-7 ether saddr 02:cb:00:00:07:01 drop\n"
        );
        assert_eq!(
            unguard_script(7),
            "flush chain netdev corral out-7\ndelete chain netdev corral out-7\n"
        );
    }

    #[test]
    fn guards_are_listed_by_vni() {
        let json: Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {}}, {"table": {"name": "corral"}},
                {"chain": {"name": "out-7", "dev": "cx-7"}}, {"chain": {"name": "out-x"}},
                {"rule": {"chain": "out-7"}}]}"#,
        )
        .unwrap();
        assert_eq!(parse_guards(&json), BTreeSet::from([7]));
        assert!(parse_guards(&Value::Null).is_empty());
    }

    #[test]
    fn replies_are_accepted_before_the_input_drop() {
        let script = host_script();
        let accept = script.find("input iifname \"cb-*\" ct state").unwrap();
        let drop = script.find("input iifname \"cb-*\" drop").unwrap();
        assert!(accept < drop);
    }

    #[test]
    fn segment_script_adds_zone_mark_subnet_and_pair() {
        let script = segment_script(&elements("10.1.0.9/24", 5), &TableState::default());
        assert!(script.starts_with(&preamble()));
        assert!(script.contains("add element inet corral zones { \"cb-7\" : 5 }\n"));
        assert!(script.contains("add element inet corral marks { \"cb-7\" : 0x1000007 }\n"));
        assert!(script.contains("add element inet corral segment_nets { \"cb-7\" . 10.1.0.0/24 }\n"));
        assert!(script.contains("add element inet corral same_bridge { \"cb-7\" . \"cb-7\" }\n"));
        assert!(!script.contains("delete"));
    }

    #[test]
    fn segment_script_replaces_only_what_differs() {
        let script = segment_script(&elements("10.1.0.0/24", 3), &state());
        assert!(script.contains("delete element inet corral segment_nets { \"cb-7\" . 10.2.0.0/24 }\n"));
        assert_eq!(script.matches("delete element").count(), 1, "{script}");
        let script = segment_script(&elements("10.2.0.0/24", 9), &state());
        assert!(script.contains("delete element inet corral zones { \"cb-7\" : 3 }\n"));
        assert_eq!(script.matches("delete element").count(), 1, "{script}");
    }

    #[test]
    fn remove_script_deletes_exactly_what_is_listed() {
        let script = remove_script("cb-7", &state());
        assert_eq!(
            script,
            "delete element inet corral zones { \"cb-7\" : 3 }\n\
             delete element inet corral marks { \"cb-7\" : 0x1000007 }\n\
             delete element inet corral segment_nets { \"cb-7\" . 10.2.0.0/24 }\n\
             delete element inet corral same_bridge { \"cb-7\" . \"cb-7\" }\n"
        );
        assert_eq!(remove_script("cb-9", &state()), "");
        assert_eq!(state().describe("cb-7").len(), 4);
        assert_eq!(state().links().into_iter().collect::<Vec<_>>(), ["cb-7", "cb-8"]);
    }

    #[test]
    fn zones_are_kept_and_free_ones_picked() {
        let s = state();
        assert_eq!(s.zone_for("cb-8", 1), Some(4));
        let fresh = s.zone_for("cb-9", 9).unwrap();
        assert!(fresh != 0 && fresh != 3 && fresh != 4);
        assert_eq!(s.zone_for("cb-9", 9), Some(fresh), "stable for one VNI");
        let full = TableState {
            zones: (1..=u16::MAX).map(|z| (format!("b{z}"), z)).collect(),
            ..TableState::default()
        };
        assert_eq!(full.zone_for("cb-1", 1), None);
    }

    #[test]
    fn json_listing_is_parsed() {
        let json: Value = serde_json::from_str(
            r#"{"nftables": [{"metainfo": {}}, {"table": {"name": "corral"}},
                {"map": {"name": "zones", "elem": [["cb-1", 1], ["cb-2", 2]]}},
                {"map": {"name": "marks", "elem": [["cb-1", 16777217]]}},
                {"set": {"name": "segment_nets", "elem": [
                    {"concat": ["cb-1", {"prefix": {"addr": "10.1.0.0", "len": 24}}]},
                    {"concat": ["cb-2", {"range": ["10.1.0.0", "10.1.0.9"]}]}]}},
                {"set": {"name": "same_bridge", "elem": [{"concat": ["cb-5", "cb-5"]}]}},
                {"set": {"name": "protected", "elem": ["192.0.2.1"]}}]}"#,
        )
        .unwrap();
        let state = parse_table(&json);
        assert_eq!(state.zones, [("cb-1".to_string(), 1), ("cb-2".to_string(), 2)].into());
        assert_eq!(state.marks, [("cb-1".to_string(), 0x0100_0001)].into());
        assert_eq!(
            state.nets,
            [
                ("cb-1".to_string(), "10.1.0.0/24".to_string()),
                ("cb-2".to_string(), "10.1.0.0-10.1.0.9".to_string())
            ]
        );
        assert_eq!(state.same_bridge, ["cb-5".to_string()].into());
    }
}
