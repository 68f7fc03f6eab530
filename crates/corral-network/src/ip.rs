//! `ip` command lines for links, addresses and namespaces, and cheap existence checks
//! that read procfs instead of spawning a process.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ipnet::Ipv4Net;

use crate::names::NODE_IFNAME;
use crate::NetworkError;

/// Lines that make a segment's gateway link exist on its VXLAN device `lower` (a
/// macvlan in bridge mode, so it talks to the nodes' macvlans without leaving the
/// host), with the gateway's MAC, address and MTU, up, and the subnet in the
/// segment's own routing table `table`.
///
/// The main table keeps the kernel's prefix route too: the host reaches nodes by it,
/// and when two segments share a subnet it holds one route per gateway link, of which
/// the first added wins. Replies to nodes' egress are routed by their mark through the
/// segment's table instead, so they always find their own segment; so is what the host
/// sends from a socket bound to the gateway link (`corral ssh` binds one), by
/// [`oif_rule_spec`].
pub fn gateway_lines(link: &str, lower: &str, exists: bool, gw: &Gateway) -> Vec<String> {
    let mut lines = Vec::new();
    if !exists {
        lines.push(format!("link add {link} link {lower} type macvlan mode bridge"));
    }
    let mtu = gw.mtu;
    lines.push(format!("link set {link} address {} mtu {mtu} up", mac_text(gw.mac)));
    lines.push(format!(
        "addr replace {}/{} dev {link}",
        gw.address,
        gw.subnet.prefix_len()
    ));
    lines.push(format!(
        "route replace {} dev {link} table {} scope link src {}",
        gw.subnet.trunc(),
        gw.table,
        gw.address
    ));
    lines
}

/// What a segment's gateway link carries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Gateway {
    /// The gateway address.
    pub address: Ipv4Addr,
    /// The segment's subnet.
    pub subnet: Ipv4Net,
    /// The gateway MAC (see [`crate::names::gateway_mac`]).
    pub mac: [u8; 6],
    /// The segment MTU.
    pub mtu: u32,
    /// The segment's routing table.
    pub table: u32,
}

/// The routing rule sending packets marked `mark` to `table`, as an `ip` line after
/// `rule add` / `rule del`.
pub fn rule_spec(mark: u32, table: u32) -> String {
    format!(
        "fwmark {mark:#x}/{:#x} lookup {table} pref {}",
        crate::names::MARK_MASK,
        crate::names::RULE_PRIORITY
    )
}

/// The routing rule sending what the host itself sends out of gateway link `link` (a socket bound
/// to it, as `corral ssh` binds one) to `table`, as an `ip` line after `rule add` /
/// `rule del`: the main table's route for a subnet two segments share names only one
/// link, and a lookup restricted to another link would find no route there.
pub fn oif_rule_spec(link: &str, table: u32) -> String {
    format!("oif {link} lookup {table} pref {}", crate::names::RULE_PRIORITY)
}

/// A routing rule, as far as Corral cares: its table, priority and output device.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rule {
    /// The table it looks up, when numeric.
    pub table: Option<u32>,
    /// Its priority.
    pub priority: u32,
    /// The output device it matches, if it matches one.
    pub oif: Option<String>,
}

/// The IPv4 routing rules of the calling thread's namespace.
pub fn rules() -> Result<Vec<Rule>, NetworkError> {
    let json = run_json(&["-j", "-4", "rule", "show"])?;
    Ok(parse_rules(&json))
}

/// Tables holding at least one IPv4 route, with how many.
pub fn route_tables() -> Result<std::collections::BTreeMap<u32, usize>, NetworkError> {
    let json = run_json(&["-j", "-4", "route", "show", "table", "all"])?;
    let mut tables = std::collections::BTreeMap::new();
    for route in json.as_array().into_iter().flatten() {
        if let Some(table) = route["table"].as_str().and_then(|t| t.parse().ok()) {
            *tables.entry(table).or_insert(0) += 1;
        }
    }
    Ok(tables)
}

fn parse_rules(json: &serde_json::Value) -> Vec<Rule> {
    json.as_array()
        .into_iter()
        .flatten()
        .filter_map(|rule| {
            Some(Rule {
                table: rule["table"].as_str().and_then(|t| t.parse().ok()),
                priority: u32::try_from(rule["priority"].as_u64()?).ok()?,
                oif: rule["oif"].as_str().map(str::to_string),
            })
        })
        .collect()
}

fn run_json(args: &[&str]) -> Result<serde_json::Value, NetworkError> {
    let text = crate::cmd::run("ip", args, None)?;
    // `ip -j` prints nothing at all for an empty dump.
    if text.trim().is_empty() {
        return Ok(serde_json::Value::Array(Vec::new()));
    }
    serde_json::from_str(&text).map_err(|err| NetworkError::Command {
        command: format!("ip {}", args.join(" ")),
        message: format!("unreadable json: {err}"),
    })
}

/// A line that creates a node's link: a macvlan (bridge mode) on the segment's VXLAN
/// device `lower`, made straight inside the node's namespace as its `eth0`.
pub fn macvlan_add_line(lower: &str, netns: &str, mac: [u8; 6], mtu: u32) -> String {
    format!(
        "link add link {lower} name {NODE_IFNAME} netns {netns} address {} mtu {mtu} type macvlan mode bridge",
        mac_text(mac)
    )
}

/// Every link of the calling thread's namespace with its details (`ip -d -j link
/// show`), by name.
pub fn link_details() -> Result<std::collections::BTreeMap<String, serde_json::Value>, NetworkError> {
    let json = run_json(&["-d", "-j", "link", "show"])?;
    Ok(json
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|link| Some((link["ifname"].as_str()?.to_string(), link.clone())))
        .collect())
}

/// The kind of a link from its details (`vxlan`, `macvlan`, `bridge`, …); none for a
/// plain device.
pub fn kind(details: &serde_json::Value) -> Option<&str> {
    details["linkinfo"]["info_kind"].as_str()
}

/// Lines, run inside the node's namespace, that configure its interface and route.
pub fn node_lines(mac: [u8; 6], address: Ipv4Addr, subnet: Ipv4Net, gateway: Ipv4Addr, mtu: u32) -> Vec<String> {
    vec![
        format!("link set {NODE_IFNAME} address {} mtu {mtu} up", mac_text(mac)),
        "link set lo up".to_string(),
        format!("addr replace {address}/{} dev {NODE_IFNAME}", subnet.prefix_len()),
        format!("route replace default via {gateway} dev {NODE_IFNAME}"),
    ]
}

/// `aa:bb:…` as `ip` wants it.
pub fn mac_text(mac: [u8; 6]) -> String {
    mac.iter().map(|b| format!("{b:02x}")).collect::<Vec<_>>().join(":")
}

/// Interface names in the calling thread's network namespace.
///
/// /sys/class/net shows the namespace sysfs was mounted in, which is wrong after a bare
/// setns; /proc/thread-self/net follows the thread, as the `ip` processes we spawn do.
pub fn links() -> Result<BTreeSet<String>, NetworkError> {
    let path = "/proc/thread-self/net/dev";
    let text = std::fs::read_to_string(path).map_err(|source| NetworkError::Io {
        context: format!("reading {path}"),
        source,
    })?;
    Ok(parse_net_dev(&text))
}

/// State of a named namespace file under /run/netns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum NetnsState {
    /// No file.
    Missing,
    /// A file with nothing mounted on it: `ip netns add` died half way.
    Stale,
    /// A namespace is bind-mounted there.
    Mounted,
}

/// Whether `path` holds a mounted namespace: a bind mount of nsfs sits on a different
/// device than the tmpfs directory holding it.
pub fn netns_state(path: &Path) -> Result<NetnsState, NetworkError> {
    let io = |source| NetworkError::Io {
        context: format!("inspecting {}", path.display()),
        source,
    };
    let file = match std::fs::metadata(path) {
        Ok(meta) => meta,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(NetnsState::Missing),
        Err(err) => return Err(io(err)),
    };
    let dir = path.parent().unwrap_or(Path::new("/"));
    let dir = std::fs::metadata(dir).map_err(io)?;
    Ok(if file.dev() == dir.dev() {
        NetnsState::Stale
    } else {
        NetnsState::Mounted
    })
}

fn parse_net_dev(text: &str) -> BTreeSet<String> {
    // Two header lines, then "  name: counters…".
    text.lines()
        .skip(2)
        .filter_map(|line| line.split_once(':'))
        .map(|(name, _)| name.trim().to_string())
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn net(s: &str) -> Ipv4Net {
        s.parse().unwrap()
    }

    #[test]
    fn gateway_link_is_added_only_when_missing() {
        let gw = Gateway {
            address: "10.1.0.1".parse().unwrap(),
            subnet: net("10.1.0.0/24"),
            mac: [2, 0xcb, 0, 0, 7, 1],
            mtu: 1450,
            table: 0x0100_0007,
        };
        let lines = gateway_lines("cb-7", "cx-7", false, &gw);
        assert_eq!(
            lines,
            [
                "link add cb-7 link cx-7 type macvlan mode bridge",
                "link set cb-7 address 02:cb:00:00:07:01 mtu 1450 up",
                "addr replace 10.1.0.1/24 dev cb-7",
                "route replace 10.1.0.0/24 dev cb-7 table 16777223 scope link src 10.1.0.1"
            ]
        );
        let again = gateway_lines("cb-7", "cx-7", true, &gw);
        assert_eq!(again.len(), 3);
    }

    #[test]
    fn node_links_are_made_in_their_namespace() {
        assert_eq!(
            macvlan_add_line("cx-7", "corral-n1", [2, 0, 0, 0, 0, 9], 1450),
            "link add link cx-7 name eth0 netns corral-n1 address 02:00:00:00:00:09 mtu 1450 type macvlan mode bridge"
        );
    }

    #[test]
    fn rules_are_written_and_read() {
        assert_eq!(
            rule_spec(0x0100_0007, 16_777_223),
            "fwmark 0x1000007/0x1ffffff lookup 16777223 pref 1100"
        );
        assert_eq!(oif_rule_spec("cb-7", 16_777_223), "oif cb-7 lookup 16777223 pref 1100");
        let json = serde_json::json!([
            {"priority": 0, "src": "all", "table": "local"},
            {"priority": 1100, "src": "all", "fwmark": "0x1000007/0x1ffffff", "table": "16777223"},
            {"priority": 1100, "src": "all", "oif": "cb-7", "table": "16777223"},
            {"priority": 32766, "src": "all", "table": "main"}
        ]);
        assert_eq!(
            parse_rules(&json),
            [
                Rule {
                    table: None,
                    priority: 0,
                    oif: None
                },
                Rule {
                    table: Some(16_777_223),
                    priority: 1100,
                    oif: None
                },
                Rule {
                    table: Some(16_777_223),
                    priority: 1100,
                    oif: Some("cb-7".into())
                },
                Rule {
                    table: None,
                    priority: 32766,
                    oif: None
                }
            ]
        );
    }

    #[test]
    fn node_lines_configure_eth0_lo_and_default_route() {
        let lines = node_lines(
            [2, 0, 0, 0, 0, 9],
            "10.1.0.5".parse().unwrap(),
            net("10.1.0.0/24"),
            "10.1.0.1".parse().unwrap(),
            1500,
        );
        assert_eq!(
            lines,
            [
                "link set eth0 address 02:00:00:00:00:09 mtu 1500 up",
                "link set lo up",
                "addr replace 10.1.0.5/24 dev eth0",
                "route replace default via 10.1.0.1 dev eth0"
            ]
        );
    }

    #[test]
    fn net_dev_names_are_parsed() {
        let text = "Inter-|   Receive\n face |bytes\n    lo: 1 2 3\n  cb-7: 0 0\ncv01: 5\n";
        let names = parse_net_dev(text);
        assert_eq!(names.into_iter().collect::<Vec<_>>(), ["cb-7", "cv01", "lo"]);
    }
}
