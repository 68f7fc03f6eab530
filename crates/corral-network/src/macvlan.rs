//! The macvlan driver: per segment a VXLAN device `cx-<vni>` with macvlans (bridge
//! mode) on it, one per node (its `eth0`, inside the node's namespace) and one for the
//! host (`cb-<vni>`, holding the gateway address); nftables sets and a guard chain.
//!
//! Frames between a segment's nodes never enter the host's IP stack: macvlan switches
//! them between its links on one host and hands the rest to the VXLAN device, so
//! neither a bridge nor br_netfilter's hooks (which made every frame cross the
//! host's firewall) sit on the path. On a host with no peers the VXLAN device simply
//! has nowhere to send.
//!
//! Every method reads what exists (procfs, `ip` and nft listings), then issues the few
//! commands that bring the kernel to the wanted state; running it again after a crash
//! at any point finishes the job.

use std::collections::HashMap;
use std::os::unix::fs::MetadataExt;
use std::path::PathBuf;

use crate::ip::{self, Gateway, NetnsState};
use crate::names::{self, NODE_IFNAME};
use crate::vxlan::{self, DeviceConfig, Fdb, Wanted};
use crate::{cmd, nft, traffic, AttachSpec, Network, NetworkError, Peer, SegmentSpec, Traffic, Underlay};

/// Where the driver notes which node namespaces are this host's: a directory per
/// host network namespace (by inode), a file per node. /run/netns is one directory for
/// the machine, and a macvlan inside a node's namespace shows nothing on the host.
const ATTACHED_DIR: &str = "/run/corral-network";

/// Smallest MTU IPv4 allows.
const MIN_MTU: u32 = 68;

/// Held while a segment's elements are read and written: two segments made at once
/// must not both pick the same free conntrack zone.
static REGISTRY: std::sync::Mutex<()> = std::sync::Mutex::new(());

/// Whether `rule` is the one sending segment traffic to `table`.
pub(crate) fn is_rule_of(rule: &ip::Rule, table: u32) -> bool {
    rule.table == Some(table) && rule.priority == names::RULE_PRIORITY
}

/// Lets a gateway link receive from a subnet another one also holds: strict reverse-path
/// filtering would check a node's source against the main table, whose route for a
/// shared subnet names the other link. (The effective value is the larger of this
/// and `net.ipv4.conf.all.rp_filter`, which must therefore not be 1.)
fn allow_shared_subnet(link: &str) -> Result<(), NetworkError> {
    let path = format!("/proc/sys/net/ipv4/conf/{link}/rp_filter");
    std::fs::write(&path, "0").map_err(|source| NetworkError::Io {
        context: format!("writing {path}"),
        source,
    })
}

/// The macvlan + VXLAN + nftables network driver.
#[derive(Debug, Default, Clone)]
pub struct MacvlanNetwork;

impl MacvlanNetwork {
    /// A driver acting on the calling thread's network namespace.
    pub fn new() -> Self {
        Self
    }
}

impl Network for MacvlanNetwork {
    fn ensure_host(&self) -> Result<(), NetworkError> {
        nft::apply_host()?;
        enable_forwarding()
    }

    fn ensure_segment(&self, seg: &SegmentSpec) -> Result<(), NetworkError> {
        check_segment(seg)?;
        let link = names::gateway_name(seg.vni)?;
        let lower = names::vxlan_name(seg.vni)?;
        let table = names::route_table(seg.vni)?;
        let details = ip::link_details()?;
        let mut lines = Vec::new();
        let mut link_exists = details.contains_key(&link);
        // A bridge of that name is an earlier version's segment: it goes (its nodes'
        // veths are replaced when they are attached again).
        if details.get(&link).is_some_and(|d| ip::kind(d) != Some("macvlan")) {
            lines.push(format!("link del {link}"));
            link_exists = false;
        }
        let config = DeviceConfig::new(seg.vni);
        if details.get(&lower).and_then(DeviceConfig::parse).as_ref() != Some(&config) {
            if details.contains_key(&lower) {
                // Its macvlans (the gateway link too) go with it.
                lines.push(format!("link del {lower}"));
                link_exists = false;
            }
            lines.push(config.add_line(&lower));
        }
        lines.extend(vxlan::set_lines(&lower, seg.mtu));
        let gateway = Gateway {
            address: seg.gateway,
            subnet: seg.subnet,
            mac: names::gateway_mac(seg.vni)?,
            mtu: seg.mtu,
            table,
        };
        lines.extend(ip::gateway_lines(&link, &lower, link_exists, &gateway));
        cmd::ip_batch(None, &lines)?;
        allow_shared_subnet(&link)?;
        let _registering = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let current = nft::list_table()?;
        let zone = current
            .zone_for(&link, seg.vni)
            .ok_or_else(|| invalid("segment count", "every conntrack zone is taken".to_string()))?;
        let elements = nft::SegmentElements {
            link: &link,
            subnet: seg.subnet,
            zone,
            mark: names::segment_mark(seg.vni)?,
        };
        cmd::nft_script(&(nft::segment_script(&elements, &current) + &nft::guard_script(seg.vni)?))?;
        let rules = ip::rules()?;
        let mut lines = Vec::new();
        if !rules.iter().any(|r| is_rule_of(r, table) && r.oif.is_none()) {
            let mark = names::segment_mark(seg.vni)?;
            lines.push(format!("rule add {}", ip::rule_spec(mark, table)));
        }
        if !rules
            .iter()
            .any(|r| is_rule_of(r, table) && r.oif.as_deref() == Some(link.as_str()))
        {
            lines.push(format!("rule add {}", ip::oif_rule_spec(&link, table)));
        }
        cmd::ip_batch(None, &lines)
    }

    fn remove_segment(&self, vni: u32) -> Result<(), NetworkError> {
        let link = names::gateway_name(vni)?;
        let table = names::route_table(vni)?;
        let mark = names::segment_mark(vni)?;
        let _registering = REGISTRY.lock().unwrap_or_else(|e| e.into_inner());
        let mut script = nft::remove_script(&link, &nft::list_table()?);
        if nft::list_guards()?.contains(&vni) {
            script += &nft::unguard_script(vni);
        }
        cmd::nft_script_if_any(&script)?;
        let links = ip::links()?;
        let mut lines: Vec<String> = ip::rules()?
            .iter()
            .filter(|r| is_rule_of(r, table))
            .map(|r| match &r.oif {
                Some(oif) => format!("rule del {}", ip::oif_rule_spec(oif, table)),
                None => format!("rule del {}", ip::rule_spec(mark, table)),
            })
            .collect();
        // The routes of the segment's table go with its gateway link; any node link
        // still on the VXLAN device goes with the device.
        lines.extend(
            [link, names::vxlan_name(vni)?]
                .into_iter()
                .filter(|name| links.contains(name))
                .map(|name| format!("link del {name}")),
        );
        cmd::ip_batch(None, &lines)
    }

    fn attach(&self, seg: &SegmentSpec, node: &AttachSpec) -> Result<PathBuf, NetworkError> {
        check_segment(seg)?;
        check_address(seg, node)?;
        if !segment_made(seg.vni)? {
            self.ensure_segment(seg)?;
        }
        // The kernel tears a deleted namespace down asynchronously: right after
        // someone removed it, its name can still be taken for a moment. Every step is
        // idempotent, so trying again repairs it.
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
        let netns = names::netns_name(node_id)?;
        let state = ip::netns_state(&names::netns_path(node_id)?)?;
        if state == NetnsState::Mounted {
            // The link goes first: the namespace outlives its name while some process
            // still holds it open, and must not keep a way into the segment.
            let del = [format!("link del {NODE_IFNAME}")];
            ignore_missing(cmd::ip_batch(Some(&netns), &del))?;
        }
        if state != NetnsState::Missing {
            cmd::ip_batch(None, &[format!("netns del {netns}")])?;
        }
        unmark(node_id)
    }

    fn set_protected(&self, addresses: &[std::net::Ipv4Addr]) -> Result<(), NetworkError> {
        cmd::nft_script(&nft::protected_script(addresses))
    }

    fn set_segment_peers(&self, seg: &SegmentSpec, underlay: &Underlay, peers: &[Peer]) -> Result<(), NetworkError> {
        check_segment(seg)?;
        if !peers.is_empty() {
            vxlan::check_underlay(underlay, seg.mtu)?;
        }
        let wanted = Wanted::new(underlay.local, peers)?;
        if !segment_made(seg.vni)? {
            self.ensure_segment(seg)?;
        }
        let name = names::vxlan_name(seg.vni)?;
        let fdb = read_fdb(&name)?;
        cmd::bridge_batch(&fdb.lines(&name, &wanted))
    }

    fn list_segments(&self) -> Result<Vec<u32>, NetworkError> {
        // Elements, guards and rules count too, so a segment half removed is still
        // reported and finished; so does a VXLAN device whose gateway link is gone.
        let links = ip::links()?;
        let from_links = links
            .iter()
            .filter_map(|name| names::vni_of_gateway(name).or_else(|| names::vni_of_vxlan(name)));
        let elements = nft::list_table()?.links();
        let from_sets = elements.iter().filter_map(|b| names::vni_of_gateway(b));
        let rules = ip::rules()?;
        let from_rules = rules
            .iter()
            .filter(|r| r.priority == names::RULE_PRIORITY)
            .filter_map(|r| r.table.and_then(names::vni_of_table));
        let guards = nft::list_guards()?;
        let mut vnis: Vec<u32> = from_links.chain(from_sets).chain(from_rules).chain(guards).collect();
        vnis.sort_unstable();
        vnis.dedup();
        Ok(vnis)
    }

    fn list_attachments(&self) -> Result<Vec<String>, NetworkError> {
        let mut ids = Vec::new();
        for (id, age) in marked()? {
            if ip::netns_state(&names::netns_path(&id)?)? != NetnsState::Missing {
                ids.push(id);
            } else if age > STALE_MARK {
                // Noted before its namespace was made, which never happened (a younger
                // note may belong to an attach under way).
                unmark(&id)?;
            }
        }
        ids.sort();
        Ok(ids)
    }

    fn traffic(&self, node_ids: &[String]) -> Result<HashMap<String, Traffic>, NetworkError> {
        let paths = node_ids
            .iter()
            .map(|id| Ok((id.clone(), names::netns_path(id)?)))
            .collect::<Result<Vec<_>, NetworkError>>()?;
        Ok(traffic::read_in_namespaces(&paths, NODE_IFNAME))
    }
}

/// Whether segment `vni`'s VXLAN device and gateway link both exist (cheap: procfs).
fn segment_made(vni: u32) -> Result<bool, NetworkError> {
    let links = ip::links()?;
    Ok(links.contains(&names::gateway_name(vni)?) && links.contains(&names::vxlan_name(vni)?))
}

/// One node's link, with the names it lives under.
struct Attachment<'a> {
    seg: &'a SegmentSpec,
    node: &'a AttachSpec,
    lower: String,
    netns: String,
    path: PathBuf,
}

impl<'a> Attachment<'a> {
    fn new(seg: &'a SegmentSpec, node: &'a AttachSpec) -> Result<Self, NetworkError> {
        Ok(Self {
            seg,
            node,
            lower: names::vxlan_name(seg.vni)?,
            netns: names::netns_name(&node.node_id)?,
            path: names::netns_path(&node.node_id)?,
        })
    }

    /// Two `ip` processes for a new node: one on the host side, one in the node.
    fn ensure(&self) -> Result<PathBuf, NetworkError> {
        // Noted first: a namespace is never made without the note that it is ours.
        mark(&self.node.node_id)?;
        let state = ip::netns_state(&self.path)?;
        if state == NetnsState::Mounted {
            match self.link_kind()?.as_deref() {
                Some("macvlan") => {
                    self.configure_node()?;
                    return Ok(self.path.clone());
                }
                // An earlier version's veth: replaced.
                Some(_) => cmd::ip_batch(Some(&self.netns), &[format!("link del {NODE_IFNAME}")])?,
                None => {}
            }
        }
        self.create(state)?;
        self.configure_node()?;
        Ok(self.path.clone())
    }

    /// The kind of the node's `eth0`, none when it has none.
    fn link_kind(&self) -> Result<Option<String>, NetworkError> {
        let args = ["-n", &self.netns, "-d", "-j", "link", "show", "dev", NODE_IFNAME];
        let json = match run_json("ip", &args) {
            Ok(json) => json,
            Err(err) if cmd::is_not_found(&err) => return Ok(None),
            Err(err) => return Err(err),
        };
        let kind = json.as_array().and_then(|a| a.first()).and_then(ip::kind);
        Ok(Some(kind.unwrap_or("device").to_string()))
    }

    /// Makes the namespace (if needed) and the node's macvlan inside it.
    fn create(&self, state: NetnsState) -> Result<(), NetworkError> {
        if state == NetnsState::Stale {
            remove_stale_netns(&self.path)?;
        }
        let mut lines = Vec::new();
        if state != NetnsState::Mounted {
            lines.push(format!("netns add {}", self.netns));
        }
        let (seg, node) = (self.seg, self.node);
        lines.push(ip::macvlan_add_line(&self.lower, &self.netns, node.mac, seg.mtu));
        cmd::ip_batch(None, &lines)
    }

    fn configure_node(&self) -> Result<(), NetworkError> {
        let (seg, node) = (self.seg, self.node);
        let lines = ip::node_lines(node.mac, node.address, seg.subnet, seg.gateway, seg.mtu);
        cmd::ip_batch(Some(&self.netns), &lines)
    }
}

/// This host's directory of notes: one per network namespace, so test "hosts" on one
/// machine keep theirs apart.
fn marks_dir() -> Result<PathBuf, NetworkError> {
    let path = "/proc/thread-self/ns/net";
    let meta = std::fs::metadata(path).map_err(|source| NetworkError::Io {
        context: format!("inspecting {path}"),
        source,
    })?;
    Ok(PathBuf::from(ATTACHED_DIR).join(meta.ino().to_string()))
}

/// Notes that node `id`'s namespace is this host's.
fn mark(id: &str) -> Result<(), NetworkError> {
    let dir = marks_dir()?;
    let io = |source| NetworkError::Io {
        context: format!("noting attachment in {}", dir.display()),
        source,
    };
    // Another thread's `unmark` may remove the emptied directories in between.
    let mut tries = 0;
    loop {
        std::fs::create_dir_all(&dir).map_err(io)?;
        match std::fs::write(dir.join(id), b"") {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound && tries < 3 => tries += 1,
            other => return other.map_err(io),
        }
    }
}

/// Drops node `id`'s note, and the directories it leaves empty.
fn unmark(id: &str) -> Result<(), NetworkError> {
    let dir = marks_dir()?;
    let path = dir.join(id);
    if let Err(err) = std::fs::remove_file(&path) {
        if err.kind() != std::io::ErrorKind::NotFound {
            return Err(NetworkError::Io {
                context: format!("removing {}", path.display()),
                source: err,
            });
        }
    }
    // Fails, as it should, while other notes are there.
    let _ = std::fs::remove_dir(&dir).and_then(|()| std::fs::remove_dir(ATTACHED_DIR));
    Ok(())
}

/// How old a note without a namespace must be before it is taken for a leftover.
const STALE_MARK: std::time::Duration = std::time::Duration::from_secs(60);

/// Node ids noted as this host's, with the age of each note.
fn marked() -> Result<Vec<(String, std::time::Duration)>, NetworkError> {
    let dir = marks_dir()?;
    let entries = match std::fs::read_dir(&dir) {
        Ok(entries) => entries,
        Err(err) if err.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        Err(source) => {
            return Err(NetworkError::Io {
                context: format!("listing {}", dir.display()),
                source,
            })
        }
    };
    let now = std::time::SystemTime::now();
    Ok(entries
        .filter_map(Result::ok)
        .filter_map(|entry| {
            let id = entry.file_name().into_string().ok()?;
            let made = entry.metadata().ok()?.modified().ok()?;
            let age = now.duration_since(made).unwrap_or_default();
            names::netns_name(&id).is_ok().then_some((id, age))
        })
        .collect())
}

/// Whether node `id` is noted as this host's (for leftovers).
pub(crate) fn is_marked(id: &str) -> Result<bool, NetworkError> {
    Ok(marks_dir()?.join(id).exists())
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

fn check_segment(seg: &SegmentSpec) -> Result<(), NetworkError> {
    names::gateway_name(seg.vni)?;
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
