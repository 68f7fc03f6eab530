//! `ip` command lines for links, addresses and namespaces, and cheap existence checks
//! that read procfs instead of spawning a process.

use std::collections::BTreeSet;
use std::net::Ipv4Addr;
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use ipnet::Ipv4Net;

use crate::names::NODE_IFNAME;
use crate::NetworkError;

/// Lines that make a segment's bridge exist, with gateway address and MTU, up, and
/// its subnet in the segment's own routing table `table`.
///
/// The main table keeps the kernel's prefix route too: the host reaches nodes by it,
/// and when two segments share a subnet it holds one route per bridge, of which the
/// first added wins. Replies to nodes' egress are routed by their mark through the
/// segment's table instead, so they always find their own bridge; so is what the host
/// sends from a socket bound to the bridge (`corral ssh` binds one), by [`oif_rule_spec`].
pub fn bridge_lines(
    bridge: &str,
    exists: bool,
    gateway: Ipv4Addr,
    subnet: Ipv4Net,
    mtu: u32,
    table: u32,
) -> Vec<String> {
    let mut lines = Vec::new();
    if !exists {
        lines.push(format!("link add {bridge} type bridge"));
    }
    lines.push(format!("link set {bridge} mtu {mtu} up"));
    lines.push(format!("addr replace {gateway}/{} dev {bridge}", subnet.prefix_len()));
    lines.push(format!(
        "route replace {} dev {bridge} table {table} scope link src {gateway}",
        subnet.trunc()
    ));
    lines
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

/// The routing rule sending what the host itself sends out of `bridge` (a socket bound
/// to it, as `corral ssh` binds one) to `table`, as an `ip` line after `rule add` /
/// `rule del`: the main table's route for a subnet two segments share names only one
/// bridge, and a lookup restricted to another bridge would find no route there.
pub fn oif_rule_spec(bridge: &str, table: u32) -> String {
    format!("oif {bridge} lookup {table} pref {}", crate::names::RULE_PRIORITY)
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

/// A line that creates a node's veth pair, the node end already inside its namespace.
pub fn veth_add_line(host: &str, bridge: &str, netns: &str, mac: [u8; 6], mtu: u32) -> String {
    format!(
        "link add {host} mtu {mtu} master {bridge} up type veth peer name {NODE_IFNAME} address {} mtu {mtu} netns {netns}",
        mac_text(mac)
    )
}

/// A line that re-enslaves an existing host-side veth and brings it up.
pub fn veth_set_line(host: &str, bridge: &str, mtu: u32) -> String {
    format!("link set {host} master {bridge} mtu {mtu} up")
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

/// Whether interface `name` exists in the calling thread's namespace.
pub fn link_exists(name: &str) -> Result<bool, NetworkError> {
    Ok(links()?.contains(name))
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
    fn bridge_is_added_only_when_missing() {
        let gw = "10.1.0.1".parse().unwrap();
        let lines = bridge_lines("cb-7", false, gw, net("10.1.0.0/24"), 1450, 0x0100_0007);
        assert_eq!(
            lines,
            [
                "link add cb-7 type bridge",
                "link set cb-7 mtu 1450 up",
                "addr replace 10.1.0.1/24 dev cb-7",
                "route replace 10.1.0.0/24 dev cb-7 table 16777223 scope link src 10.1.0.1"
            ]
        );
        let again = bridge_lines("cb-7", true, gw, net("10.1.0.0/24"), 1450, 0x0100_0007);
        assert_eq!(again.len(), 3);
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
    fn veth_is_created_straight_into_the_namespace() {
        let line = veth_add_line("cv0123456789", "cb-7", "corral-n1", [2, 0, 0, 0, 0xab, 1], 1450);
        assert_eq!(
            line,
            "link add cv0123456789 mtu 1450 master cb-7 up type veth peer name eth0 \
             address 02:00:00:00:ab:01 mtu 1450 netns corral-n1"
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
