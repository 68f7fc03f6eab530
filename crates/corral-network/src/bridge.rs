//! The bridge driver: a Linux bridge per segment, a veth pair per node, nftables sets.
//!
//! Every method reads what exists (procfs, nft listings), then issues the few commands
//! that bring the kernel to the wanted state; running it again after a crash at any
//! point finishes the job.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::ip::{self, NetnsState};
use crate::names::{self, NETNS_DIR};
use crate::vxlan::{self, DeviceConfig, Fdb, Wanted};
use crate::{cmd, nft, traffic, AttachSpec, Network, NetworkError, Peer, SegmentSpec, Traffic, Underlay};

/// Smallest MTU IPv4 allows.
const MIN_MTU: u32 = 68;

/// Held while a segment's elements are read and written: two segments made at once
/// must not both pick the same free conntrack zone.
static REGISTRY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether `rule` is the one sending segment traffic to `table`.
pub(crate) fn is_rule_of(rule: &ip::Rule, table: u32) -> bool {
    rule.table == Some(table) && rule.priority == names::RULE_PRIORITY
}

/// Lets a bridge receive from a subnet another bridge also holds: strict reverse-path
/// filtering would check a node's source against the main table, whose route for a
/// shared subnet names the other bridge. (The effective value is the larger of this
/// and `net.ipv4.conf.all.rp_filter`, which must therefore not be 1.)
fn allow_shared_subnet(bridge: &str) -> Result<(), NetworkError> {
    let path = format!("/proc/sys/net/ipv4/conf/{bridge}/rp_filter");
    std::fs::write(&path, "0").map_err(|source| NetworkError::Io {
        context: format!("writing {path}"),
        source,
    })
}

/// The bridge + veth + nftables network driver.
#[derive(Debug, Default, Clone)]
pub struct BridgeNetwork;

impl BridgeNetwork {
    /// A driver acting on the calling thread's network namespace.
    pub fn new() -> Self {
        Self
    }
}

impl Network for BridgeNetwork {
    fn ensure_host(&self) -> Result<(), NetworkError> {
        nft::apply_host()?;
        enable_forwarding()
    }

    fn ensure_segment(&self, seg: &SegmentSpec) -> Result<(), NetworkError> {
        check_segment(seg)?;
        let bridge = names::bridge_name(seg.vni)?;
        let table = names::route_table(seg.vni)?;
        let exists = ip::link_exists(&bridge)?;
        let lines = ip::bridge_lines(&bridge, exists, seg.gateway, seg.subnet, seg.mtu, table);
        cmd::ip_batch(None, &lines)?;
        allow_shared_subnet(&bridge)?;
        let _registering = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let current = nft::list_table()?;
        let zone = current
            .zone_for(&bridge, seg.vni)
            .ok_or_else(|| invalid("segment count", "every conntrack zone is taken".to_string()))?;
        let elements = nft::SegmentElements {
            bridge: &bridge,
            subnet: seg.subnet,
            zone,
            mark: names::segment_mark(seg.vni)?,
        };
        cmd::nft_script(&nft::segment_script(&elements, &current))?;
        let rules = ip::rules()?;
        let mut lines = Vec::new();
        if !rules.iter().any(|r| is_rule_of(r, table) && r.oif.is_none()) {
            let mark = names::segment_mark(seg.vni)?;
            lines.push(format!("rule add {}", ip::rule_spec(mark, table)));
        }
        if !rules
            .iter()
            .any(|r| is_rule_of(r, table) && r.oif.as_deref() == Some(bridge.as_str()))
        {
            lines.push(format!("rule add {}", ip::oif_rule_spec(&bridge, table)));
        }
        cmd::ip_batch(None, &lines)
    }

    fn remove_segment(&self, vni: u32) -> Result<(), NetworkError> {
        let bridge = names::bridge_name(vni)?;
        let table = names::route_table(vni)?;
        let mark = names::segment_mark(vni)?;
        let _registering = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        cmd::nft_script_if_any(&nft::remove_script(&bridge, &nft::list_table()?))?;
        let links = ip::links()?;
        let mut lines: Vec<String> = ip::rules()?
            .iter()
            .filter(|r| is_rule_of(r, table))
            .map(|r| match &r.oif {
                Some(oif) => format!("rule del {}", ip::oif_rule_spec(oif, table)),
                None => format!("rule del {}", ip::rule_spec(mark, table)),
            })
            .collect();
        // The routes of the segment's table go with its bridge.
        lines.extend(
            [names::vxlan_name(vni)?, bridge]
                .into_iter()
                .filter(|name| links.contains(name))
                .map(|name| format!("link del {name}")),
        );
        cmd::ip_batch(None, &lines)
    }

    fn attach(&self, seg: &SegmentSpec, node: &AttachSpec) -> Result<PathBuf, NetworkError> {
        check_segment(seg)?;
        check_address(seg, node)?;
        if !ip::link_exists(&names::bridge_name(seg.vni)?)? {
            self.ensure_segment(seg)?;
        }
        // The kernel tears a deleted namespace (and the veth end in it) down
        // asynchronously: right after someone removed it, the host end can still be
        // there for a moment. Every step is idempotent, so trying again repairs it.
        let mut last = None;
        for pause_ms in [0, 20, 50, 100, 200, 400] {
            std::thread::sleep(std::time::Duration::from_millis(pause_ms));
            match Attachment::new(seg, node)?.ensure() {
                Ok(path) => return Ok(path),
                Err(e) => last = Some(e),
            }
        }
        Err(last.expect("at least one attempt"))
    }

    fn detach(&self, node_id: &str) -> Result<(), NetworkError> {
        let host = names::veth_name(node_id)?;
        let netns = names::netns_name(node_id)?;
        let mut lines = Vec::new();
        // The host end goes first: it takes the node end with it even when some process
        // still holds the namespace open.
        if ip::link_exists(&host)? {
            lines.push(format!("link del {host}"));
        }
        if ip::netns_state(&names::netns_path(node_id)?)? != NetnsState::Missing {
            lines.push(format!("netns del {netns}"));
        }
        cmd::ip_batch(None, &lines)
    }

    fn set_protected(&self, addresses: &[std::net::Ipv4Addr]) -> Result<(), NetworkError> {
        cmd::nft_script(&nft::protected_script(addresses))
    }

    fn set_segment_peers(&self, seg: &SegmentSpec, underlay: &Underlay, peers: &[Peer]) -> Result<(), NetworkError> {
        check_segment(seg)?;
        let name = names::vxlan_name(seg.vni)?;
        if peers.is_empty() {
            // A segment on one host needs no tunnel.
            return delete_link(&name);
        }
        vxlan::check_underlay(underlay, seg.mtu)?;
        let wanted = Wanted::new(underlay.local, peers)?;
        let bridge = names::bridge_name(seg.vni)?;
        if !ip::link_exists(&bridge)? {
            self.ensure_segment(seg)?;
        }
        let config = DeviceConfig::new(seg.vni, underlay);
        let fdb = match ensure_vxlan(&name, &bridge, &config, seg.mtu)? {
            Device::Created => Fdb::default(),
            Device::Kept => read_fdb(&name)?,
        };
        cmd::bridge_batch(&fdb.lines(&name, &wanted))?;
        // What the bridge learned may age out meanwhile: a miss is fine.
        ignore_missing(cmd::bridge_batch(&fdb.forget_lines(&name, &wanted)))
    }

    fn list_segments(&self) -> Result<Vec<u32>, NetworkError> {
        // Elements and rules count too, so a segment half removed is still reported
        // and finished; so does a VXLAN device whose bridge someone deleted.
        let bridges = ip::links()?;
        let from_links = bridges
            .iter()
            .filter_map(|name| names::vni_of_bridge(name).or_else(|| names::vni_of_vxlan(name)));
        let elements = nft::list_table()?.bridges();
        let from_sets = elements.iter().filter_map(|b| names::vni_of_bridge(b));
        let rules = ip::rules()?;
        let from_rules = rules
            .iter()
            .filter(|r| r.priority == names::RULE_PRIORITY)
            .filter_map(|r| r.table.and_then(names::vni_of_table));
        let mut vnis: Vec<u32> = from_links.chain(from_sets).chain(from_rules).collect();
        vnis.sort_unstable();
        vnis.dedup();
        Ok(vnis)
    }

    fn list_attachments(&self) -> Result<Vec<String>, NetworkError> {
        // /run/netns is shared by every agent on the machine (several test "hosts"
        // live in network namespaces of one machine): only namespaces whose veth
        // sits in this host's namespace are ours.
        let here = ip::links()?;
        let mut ids: Vec<String> = netns_entries()?
            .iter()
            .filter_map(|name| names::node_of_netns(name))
            .filter(|id| names::veth_name(id).is_ok_and(|v| here.contains(&v)))
            .map(str::to_string)
            .collect();
        ids.sort();
        Ok(ids)
    }

    fn traffic(&self, node_ids: &[String]) -> Result<HashMap<String, Traffic>, NetworkError> {
        let counters = traffic::interface_bytes()?;
        let mut out = HashMap::new();
        for id in node_ids {
            if let Some(&c) = counters.get(&names::veth_name(id)?) {
                out.insert(id.clone(), traffic::node_side(c));
            }
        }
        Ok(out)
    }
}

/// One node's link, with the names it lives under.
struct Attachment<'a> {
    seg: &'a SegmentSpec,
    node: &'a AttachSpec,
    bridge: String,
    host: String,
    netns: String,
    path: PathBuf,
}

impl<'a> Attachment<'a> {
    fn new(seg: &'a SegmentSpec, node: &'a AttachSpec) -> Result<Self, NetworkError> {
        Ok(Self {
            seg,
            node,
            bridge: names::bridge_name(seg.vni)?,
            host: names::veth_name(&node.node_id)?,
            netns: names::netns_name(&node.node_id)?,
            path: names::netns_path(&node.node_id)?,
        })
    }

    /// Two `ip` processes in the common cases: one on the host side, one in the node.
    fn ensure(&self) -> Result<PathBuf, NetworkError> {
        let state = ip::netns_state(&self.path)?;
        if state == NetnsState::Mounted && ip::link_exists(&self.host)? {
            let host_line = ip::veth_set_line(&self.host, &self.bridge, self.seg.mtu);
            cmd::ip_batch(None, &[host_line])?;
            match self.configure_node() {
                // The host end exists but its peer is not our eth0 (the namespace was
                // replaced under it): rebuild the pair.
                Err(err) if cmd::is_not_found(&err) => {}
                other => return other.map(|()| self.path.clone()),
            }
        }
        self.create(state)?;
        self.configure_node()?;
        Ok(self.path.clone())
    }

    /// Makes the namespace (if needed) and a fresh veth pair into it.
    fn create(&self, state: NetnsState) -> Result<(), NetworkError> {
        if state == NetnsState::Stale {
            remove_stale_netns(&self.path)?;
        }
        if state == NetnsState::Mounted {
            // A leftover eth0 would block creating the peer under that name.
            let ns = Some(self.netns.as_str());
            ignore_missing(cmd::ip_batch(ns, &[format!("link del {}", names::NODE_IFNAME)]))?;
        }
        let mut lines = Vec::new();
        if state != NetnsState::Mounted {
            lines.push(format!("netns add {}", self.netns));
        }
        if ip::link_exists(&self.host)? {
            lines.push(format!("link del {}", self.host));
        }
        let (seg, node) = (self.seg, self.node);
        lines.push(ip::veth_add_line(
            &self.host,
            &self.bridge,
            &self.netns,
            node.mac,
            seg.mtu,
        ));
        cmd::ip_batch(None, &lines)
    }

    fn configure_node(&self) -> Result<(), NetworkError> {
        let (seg, node) = (self.seg, self.node);
        let lines = ip::node_lines(node.mac, node.address, seg.subnet, seg.gateway, seg.mtu);
        cmd::ip_batch(Some(&self.netns), &lines)
    }
}

/// Whether [`ensure_vxlan`] made the device afresh (its FDB is then empty).
enum Device {
    Created,
    Kept,
}

/// Makes the VXLAN device exist with `config`, enslaved to `bridge` with `mtu`, up; a
/// device with other settings (say, a new underlay address) is made again.
fn ensure_vxlan(name: &str, bridge: &str, config: &DeviceConfig, mtu: u32) -> Result<Device, NetworkError> {
    let set = vxlan::set_line(name, bridge, mtu);
    if ip::link_exists(name)? {
        if read_vxlan(name)?.as_ref() == Some(config) {
            cmd::ip_batch(None, &[set])?;
            return Ok(Device::Kept);
        }
        let lines = [format!("link del {name}"), config.add_line(name), set];
        cmd::ip_batch(None, &lines)?;
    } else {
        cmd::ip_batch(None, &[config.add_line(name), set])?;
    }
    Ok(Device::Created)
}

fn read_vxlan(name: &str) -> Result<Option<DeviceConfig>, NetworkError> {
    let json = run_json("ip", &["-d", "-j", "link", "show", "dev", name])?;
    Ok(DeviceConfig::parse(&json))
}

fn read_fdb(name: &str) -> Result<Fdb, NetworkError> {
    let json = run_json("bridge", &["-j", "fdb", "show", "dev", name])?;
    Ok(Fdb::parse(&json))
}

fn run_json(program: &str, args: &[&str]) -> Result<serde_json::Value, NetworkError> {
    let text = cmd::run(program, args, None)?;
    serde_json::from_str(&text).map_err(|err| NetworkError::Command {
        command: format!("{program} {}", args.join(" ")),
        message: format!("unreadable json: {err}"),
    })
}

fn delete_link(name: &str) -> Result<(), NetworkError> {
    if !ip::link_exists(name)? {
        return Ok(());
    }
    ignore_missing(cmd::ip_batch(None, &[format!("link del {name}")]))
}

fn check_segment(seg: &SegmentSpec) -> Result<(), NetworkError> {
    names::bridge_name(seg.vni)?;
    if !seg.subnet.contains(&seg.gateway) || seg.gateway == seg.subnet.network() {
        return Err(invalid("gateway", format!("{} in {}", seg.gateway, seg.subnet)));
    }
    if seg.mtu < MIN_MTU || seg.mtu > u32::from(u16::MAX) {
        return Err(invalid("mtu", seg.mtu.to_string()));
    }
    Ok(())
}

fn check_address(seg: &SegmentSpec, node: &AttachSpec) -> Result<(), NetworkError> {
    let inside = seg.subnet.contains(&node.address)
        && node.address != seg.gateway
        && node.address != seg.subnet.network()
        && node.address != seg.subnet.broadcast();
    if !inside {
        return Err(invalid("address", format!("{} in {}", node.address, seg.subnet)));
    }
    Ok(())
}

fn invalid(what: &'static str, value: String) -> NetworkError {
    NetworkError::Invalid { what, value }
}

fn enable_forwarding() -> Result<(), NetworkError> {
    let path = "/proc/sys/net/ipv4/ip_forward";
    std::fs::write(path, "1").map_err(|source| NetworkError::Io {
        context: format!("writing {path}"),
        source,
    })
}

/// `ip netns add` died between creating the file and mounting on it.
fn remove_stale_netns(path: &std::path::Path) -> Result<(), NetworkError> {
    std::fs::remove_file(path).map_err(|source| NetworkError::Io {
        context: format!("removing stale {}", path.display()),
        source,
    })
}

fn ignore_missing(result: Result<(), NetworkError>) -> Result<(), NetworkError> {
    match result {
        Err(err) if cmd::is_not_found(&err) => Ok(()),
        other => other,
    }
}

/// Names under /run/netns; none when the directory was never made.
pub(crate) fn netns_entries() -> Result<Vec<String>, NetworkError> {
    let dir = match std::fs::read_dir(NETNS_DIR) {
        Ok(dir) => dir,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(NetworkError::Io {
                context: format!("listing {NETNS_DIR}"),
                source,
            })
        }
    };
    Ok(dir
        .filter_map(Result::ok)
        .filter_map(|entry| entry.file_name().into_string().ok())
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn seg() -> SegmentSpec {
        SegmentSpec {
            vni: 7,
            subnet: "10.1.0.0/24".parse().unwrap(),
            gateway: "10.1.0.1".parse().unwrap(),
            mtu: 1450,
        }
    }

    fn node(address: &str) -> AttachSpec {
        AttachSpec {
            node_id: "n1".to_string(),
            address: address.parse().unwrap(),
            mac: [2, 0, 0, 0, 0, 1],
        }
    }

    #[test]
    fn segments_are_checked() {
        assert!(check_segment(&seg()).is_ok());
        let outside = SegmentSpec {
            gateway: "10.2.0.1".parse().unwrap(),
            ..seg()
        };
        assert!(check_segment(&outside).is_err());
        assert!(check_segment(&SegmentSpec { mtu: 10, ..seg() }).is_err());
        assert!(check_segment(&SegmentSpec { vni: 1 << 24, ..seg() }).is_err());
    }

    #[test]
    fn node_addresses_are_checked() {
        assert!(check_address(&seg(), &node("10.1.0.5")).is_ok());
        for bad in ["10.1.0.1", "10.1.0.0", "10.1.0.255", "10.2.0.5"] {
            assert!(check_address(&seg(), &node(bad)).is_err(), "{bad}");
        }
    }
}
