//! Root-only tests of segments stretched over several hosts by VXLAN. Each test thread
//! joins a private network namespace holding a "LAN" bridge; each simulated host is a
//! network namespace of its own (made here, uniquely named) with a veth onto that LAN
//! and an underlay address in 192.168.77.0/24. The driver runs inside a host by
//! calling it from a thread that has joined the host's namespace, so every `ip`, `nft`
//! and `bridge` process it spawns acts there. Everything is removed by a Drop guard,
//! pass or fail; traffic never leaves the namespaces made here.

#[macro_use]
mod common;

use std::collections::BTreeMap;
use std::net::{Ipv4Addr, UdpSocket};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use corral_network::{leftovers, names, overlay_mtu, AttachSpec, MacvlanNetwork, Network, Peer, SegmentSpec, Underlay};
use nix::sched::{setns, CloneFlags};
use serde_json::Value;

use common::ip;

/// MTU of the simulated underlay.
const UNDERLAY_MTU: u32 = 1500;
/// The subnet every cluster of these tests gets, to show overlap does not matter.
const SUBNET: &str = "10.77.0.0/24";
/// The VXLAN UDP port.
const VXLAN_PORT: u16 = names::VXLAN_PORT;

/// A cluster segment with the shared subnet and the given VNI.
fn segment(vni: u32) -> SegmentSpec {
    SegmentSpec {
        vni,
        subnet: SUBNET.parse().unwrap(),
        gateway: Ipv4Addr::new(10, 77, 0, 1),
        mtu: overlay_mtu(UNDERLAY_MTU),
    }
}

/// A node placed on a host.
#[derive(Clone)]
struct Placed {
    node: AttachSpec,
    seg: SegmentSpec,
    host: usize,
}

/// The test's LAN, its hosts and what runs on them; the "server's view" of placement.
struct Lan {
    tag: String,
    hosts: Vec<String>,
    placed: Vec<Placed>,
    /// Every node id ever used, for the cleanup of half-made namespaces.
    node_ids: Vec<String>,
}

impl Lan {
    /// Joins a private namespace and makes the LAN bridge in it.
    fn new() -> Self {
        common::private_netns();
        ip(&["link", "add", "lan", "type", "bridge"]);
        ip(&["link", "set", "lan", "up"]);
        Self {
            tag: format!("{:08x}", common::random_u32()),
            hosts: Vec::new(),
            placed: Vec::new(),
            node_ids: Vec::new(),
        }
    }

    /// A new host on the LAN with the driver's host rules installed; its index.
    fn add_host(&mut self) -> usize {
        let index = self.hosts.len();
        let ns = format!("cvx{}-{}", self.tag, index + 1);
        ip(&["netns", "add", &ns]);
        self.hosts.push(ns.clone());
        let port = format!("lan{}", index + 1);
        ip(&[
            "link", "add", &port, "type", "veth", "peer", "name", "ul0", "netns", &ns,
        ]);
        ip(&["link", "set", &port, "master", "lan", "up"]);
        let addr = format!("{}/24", underlay_addr(index));
        ip(&["-n", &ns, "addr", "add", &addr, "dev", "ul0"]);
        ip(&["-n", &ns, "link", "set", "ul0", "up"]);
        ip(&["-n", &ns, "link", "set", "lo", "up"]);
        self.on(index, |net| net.ensure_host()).expect("ensure_host");
        index
    }

    /// Runs `f` with a driver acting inside host `host`'s namespace.
    fn on<T: Send>(&self, host: usize, f: impl FnOnce(&MacvlanNetwork) -> T + Send) -> T {
        let path = format!("/run/netns/{}", self.hosts[host]);
        std::thread::scope(|scope| {
            scope
                .spawn(move || {
                    let fd = std::fs::File::open(&path).expect("open host netns");
                    setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns into host");
                    f(&MacvlanNetwork::new())
                })
                .join()
                .expect("thread in host")
        })
    }

    /// Attaches node number `n` of `seg` on `host` (id unique across hosts and runs).
    fn attach(&mut self, host: usize, seg: &SegmentSpec, n: u8) -> AttachSpec {
        let node = AttachSpec {
            node_id: format!("x{}-{}-{n}", self.tag, seg.vni),
            address: Ipv4Addr::new(10, 77, 0, n),
            mac: [0x02, 0x77, 0, (seg.vni >> 8) as u8, seg.vni as u8, n],
        };
        self.attach_spec(host, seg, &node);
        node
    }

    fn attach_spec(&mut self, host: usize, seg: &SegmentSpec, node: &AttachSpec) {
        self.node_ids.push(node.node_id.clone());
        self.on(host, |net| net.attach(seg, node)).expect("attach");
        self.placed.push(Placed {
            node: node.clone(),
            seg: seg.clone(),
            host,
        });
    }

    /// Cold migration: detach on the old host, attach with the same address and MAC on
    /// the new one.
    fn migrate(&mut self, node: &AttachSpec, to: usize) {
        let index = self.index_of(node);
        let Placed { seg, host, .. } = self.placed.remove(index);
        self.on(host, |net| net.detach(&node.node_id)).expect("detach");
        self.attach_spec(to, &seg, node);
    }

    fn index_of(&self, node: &AttachSpec) -> usize {
        self.placed
            .iter()
            .position(|p| p.node.node_id == node.node_id)
            .expect("placed node")
    }

    /// The peers of `host` in segment `vni`, as the server would compute them.
    fn peers(&self, host: usize, vni: u32) -> Vec<Peer> {
        let mut by_host: BTreeMap<usize, Vec<[u8; 6]>> = BTreeMap::new();
        for p in self.placed.iter().filter(|p| p.seg.vni == vni && p.host != host) {
            by_host.entry(p.host).or_default().push(p.node.mac);
        }
        by_host
            .into_iter()
            .map(|(h, macs)| Peer {
                host: underlay_addr(h),
                macs,
            })
            .collect()
    }

    /// Programs every host holding nodes of `seg` from the current placement.
    fn sync(&self, seg: &SegmentSpec) {
        for host in self.hosts_of(seg.vni) {
            self.set_peers(host, seg, &self.peers(host, seg.vni));
        }
    }

    fn set_peers(&self, host: usize, seg: &SegmentSpec, peers: &[Peer]) {
        let underlay = self.underlay(host);
        self.on(host, |net| net.set_segment_peers(seg, &underlay, peers))
            .expect("set_segment_peers");
    }

    fn underlay(&self, host: usize) -> Underlay {
        Underlay {
            local: underlay_addr(host),
            device: Some("ul0".to_string()),
            mtu: UNDERLAY_MTU,
        }
    }

    fn hosts_of(&self, vni: u32) -> Vec<usize> {
        let mut hosts: Vec<usize> = self
            .placed
            .iter()
            .filter(|p| p.seg.vni == vni)
            .map(|p| p.host)
            .collect();
        hosts.sort_unstable();
        hosts.dedup();
        hosts
    }

    /// Detaches every node and removes every segment through the driver; returns what
    /// the hosts still hold, then deletes the hosts and reports namespaces left.
    fn teardown(&mut self) -> Vec<String> {
        let vnis = self.vnis();
        for host in 0..self.hosts.len() {
            self.on(host, |net| {
                for p in self.placed.iter().filter(|p| p.host == host) {
                    net.detach(&p.node.node_id).expect("detach");
                }
                for &vni in &vnis {
                    net.remove_segment(vni).expect("remove_segment");
                }
                assert_eq!(net.list_segments().unwrap(), Vec::<u32>::new());
            });
        }
        let mut left = Vec::new();
        for host in 0..self.hosts.len() {
            let found = self.on(host, |_| leftovers(&self.node_ids, &vnis));
            left.extend(found.expect("leftovers"));
        }
        self.placed.clear();
        self.delete_namespaces();
        left.extend(
            std::fs::read_dir("/run/netns")
                .into_iter()
                .flatten()
                .filter_map(Result::ok)
                .filter_map(|e| e.file_name().into_string().ok())
                .filter(|name| name.contains(&self.tag))
                .map(|name| format!("netns {name}")),
        );
        left
    }

    fn vnis(&self) -> Vec<u32> {
        let mut vnis: Vec<u32> = self.placed.iter().map(|p| p.seg.vni).collect();
        vnis.sort_unstable();
        vnis.dedup();
        vnis
    }

    /// Deletes the namespaces this test made (hosts, and nodes a failure left).
    fn delete_namespaces(&mut self) {
        let nodes = self.node_ids.iter().filter_map(|id| names::netns_name(id).ok());
        for ns in self.hosts.drain(..).chain(nodes) {
            if std::path::Path::new("/run/netns").join(&ns).exists() {
                let _ = Command::new("ip").args(["netns", "del", &ns]).status();
            }
        }
    }
}

impl Drop for Lan {
    fn drop(&mut self) {
        if !self.hosts.is_empty() {
            let _ = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                let placed = self.placed.clone();
                let vnis = self.vnis();
                for host in 0..self.hosts.len() {
                    self.on(host, |net| {
                        for p in placed.iter().filter(|p| p.host == host) {
                            let _ = net.detach(&p.node.node_id);
                        }
                        for &vni in &vnis {
                            let _ = net.remove_segment(vni);
                        }
                    });
                }
            }));
        }
        self.delete_namespaces();
    }
}

fn underlay_addr(host: usize) -> Ipv4Addr {
    Ipv4Addr::new(192, 168, 77, u8::try_from(host + 1).unwrap())
}

/// JSON printed by `ip -n NS -j ARGS…`.
fn ip_json(ns: &str, args: &[&str]) -> Value {
    let out = Command::new("ip").args(["-n", ns, "-j"]).args(args).output().unwrap();
    assert!(out.status.success(), "ip -n {ns} -j {args:?}");
    serde_json::from_slice(&out.stdout).unwrap()
}

/// Whether one of the packets sent each second gets an answer within four seconds
/// (generous: the tests run in parallel on a small machine, and a failed ARP
/// resolution from an earlier check has to time out first).
fn ping_from(netns: &str, to: Ipv4Addr, size: Option<u32>) -> bool {
    let mut cmd = Command::new("ip");
    cmd.args(["netns", "exec", netns, "ping", "-q", "-c1", "-w4"]);
    if let Some(size) = size {
        cmd.args(["-M", "do", "-s", &size.to_string()]);
    }
    cmd.arg(to.to_string())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .expect("run ping")
        .success()
}

fn ping(from: &AttachSpec, to: &AttachSpec) -> bool {
    ping_from(&names::netns_name(&from.node_id).unwrap(), to.address, None)
}

fn mtu_of(ns: &str, dev: &str) -> u64 {
    ip_json(ns, &["link", "show", "dev", dev])[0]["mtu"].as_u64().unwrap()
}

fn mac_of(ns: &str, dev: &str) -> String {
    ip_json(ns, &["link", "show", "dev", dev])[0]["address"]
        .as_str()
        .unwrap()
        .to_string()
}

fn fdb_remote_count(ns: &str, dev: &str) -> usize {
    let out = Command::new("ip")
        .args(["netns", "exec", ns, "bridge", "-j", "fdb", "show", "dev", dev])
        .output()
        .unwrap();
    let json: Value = serde_json::from_slice(&out.stdout).unwrap();
    json.as_array()
        .unwrap()
        .iter()
        .filter(|e| e.get("dst").is_some())
        .count()
}

#[test]
fn nodes_on_two_hosts_share_a_segment() {
    require_root!();
    let mut lan = Lan::new();
    let (h1, h2) = (lan.add_host(), lan.add_host());
    let seg = segment(100);
    let n1 = lan.attach(h1, &seg, 11);
    let n2 = lan.attach(h2, &seg, 12);
    assert!(!ping(&n1, &n2), "no tunnel yet");

    lan.sync(&seg);
    assert!(ping(&n1, &n2) && ping(&n2, &n1), "across hosts");
    // Full-size frames cross without fragmenting: every piece has the segment MTU.
    let mtu = overlay_mtu(UNDERLAY_MTU);
    let n1_ns = names::netns_name(&n1.node_id).unwrap();
    assert!(ping_from(&n1_ns, n2.address, Some(mtu - 28)), "full MTU");
    let host_ns = lan.hosts[h1].clone();
    for dev in [names::gateway_name(100).unwrap(), names::vxlan_name(100).unwrap()] {
        assert_eq!(mtu_of(&host_ns, &dev), u64::from(mtu), "{dev}");
    }
    assert_eq!(mtu_of(&n1_ns, "eth0"), u64::from(mtu));

    // Idempotent: again changes nothing (one flood entry + one MAC per host).
    lan.sync(&seg);
    assert_eq!(fdb_remote_count(&host_ns, "cx-100"), 2);
    assert!(ping(&n1, &n2));

    // Each host answers for the gateway of its own nodes only: the host never speaks
    // into the overlay, so it cannot reach (or poison the ARP cache of) a remote node.
    assert!(!ping_from(&host_ns, n2.address, None), "host 1 to node on host 2");
    let n2_ns = names::netns_name(&n2.node_id).unwrap();
    ping_from(&n2_ns, seg.gateway, None);
    let neigh = ip_json(&n2_ns, &["neigh", "show", "to", "10.77.0.1"]);
    let gateway_mac = neigh[0]["lladdr"].as_str().unwrap_or("none").to_string();
    assert_eq!(gateway_mac, mac_of(&lan.hosts[h2], "cb-100"));

    // A host with no peers left sends nowhere.
    lan.set_peers(h1, &seg, &[]);
    assert_eq!(fdb_remote_count(&host_ns, "cx-100"), 0);
    assert!(!ping(&n1, &n2), "tunnel cut");

    assert_eq!(lan.teardown(), Vec::<String>::new());
}

#[test]
fn a_new_host_and_a_moved_node_are_learned() {
    require_root!();
    let mut lan = Lan::new();
    let (h1, h2) = (lan.add_host(), lan.add_host());
    let seg = segment(100);
    let n1 = lan.attach(h1, &seg, 11);
    let n2 = lan.attach(h2, &seg, 12);
    lan.sync(&seg);
    assert!(ping(&n1, &n2));

    // The cluster scales onto a third host.
    let h3 = lan.add_host();
    let n3 = lan.attach(h3, &seg, 13);
    lan.sync(&seg);
    assert!(ping(&n3, &n1) && ping(&n3, &n2) && ping(&n1, &n3), "third host");

    // Host 1 drops host 3 from its peers: traffic to it stops, host 2 still works.
    let without_h3: Vec<Peer> = lan
        .peers(h1, seg.vni)
        .into_iter()
        .filter(|p| p.host != underlay_addr(h3))
        .collect();
    lan.set_peers(h1, &seg, &without_h3);
    assert!(!ping(&n1, &n3), "removed peer is unreachable");
    assert!(ping(&n1, &n2), "remaining peer still reachable");
    lan.sync(&seg);
    assert!(ping(&n1, &n3), "peer restored");

    // Node 2 moves from host 2 to host 3; host 2 leaves the segment.
    lan.migrate(&n2, h3);
    lan.on(h2, |net| net.remove_segment(seg.vni)).unwrap();
    lan.sync(&seg);
    assert!(ping(&n1, &n2) && ping(&n2, &n1), "moved node reached on its new host");
    assert!(ping(&n3, &n2), "same host now");
    let h1_ns = lan.hosts[h1].clone();
    assert_eq!(fdb_remote_count(&h1_ns, "cx-100"), 3, "one flood + two MACs on host 3");

    assert_eq!(lan.teardown(), Vec::<String>::new());
}

#[test]
fn clusters_with_one_subnet_are_isolated_on_and_across_hosts() {
    require_root!();
    let mut lan = Lan::new();
    let (h1, h2) = (lan.add_host(), lan.add_host());
    let (red, blue) = (segment(100), segment(200));
    let r1 = lan.attach(h1, &red, 11);
    let r2 = lan.attach(h2, &red, 12);
    let b1 = lan.attach(h1, &blue, 21);
    let b2 = lan.attach(h2, &blue, 22);
    lan.sync(&red);
    lan.sync(&blue);

    assert!(ping(&r1, &r2) && ping(&b1, &b2), "each cluster spans both hosts");
    assert!(ping(&r2, &r1) && ping(&b2, &b1));
    assert!(!ping(&r1, &b1), "red to blue on one host");
    assert!(!ping(&r1, &b2), "red to blue across hosts");
    assert!(!ping(&b2, &r2), "blue to red on one host");
    assert!(!ping(&b2, &r1), "blue to red across hosts");

    assert_eq!(lan.teardown(), Vec::<String>::new());
}

/// UDP port the forged inner datagrams are addressed to.
const VICTIM_PORT: u16 = 7777;

/// A VXLAN packet for segment `vni` carrying a UDP datagram to `victim`'s port 7777.
fn forged_vxlan(vni: u32, victim: &AttachSpec) -> Vec<u8> {
    let mut packet = vec![0x08, 0, 0, 0];
    packet.extend_from_slice(&vni.to_be_bytes()[1..]);
    packet.push(0);
    packet.extend_from_slice(&victim.mac);
    packet.extend_from_slice(&[0x02, 0x66, 0x66, 0x66, 0x66, 0x66, 0x08, 0x00]);
    let payload = b"forged";
    let udp_len = 8 + payload.len() as u16;
    let mut header = vec![0x45, 0, 0, 0, 0, 1, 0, 0, 64, 17, 0, 0, 10, 77, 0, 99];
    header.extend_from_slice(&victim.address.octets());
    header[2..4].copy_from_slice(&(20 + udp_len).to_be_bytes());
    let sum = checksum(&header);
    header[10..12].copy_from_slice(&sum.to_be_bytes());
    packet.extend_from_slice(&header);
    packet.extend_from_slice(&VICTIM_PORT.to_be_bytes());
    packet.extend_from_slice(&VICTIM_PORT.to_be_bytes());
    packet.extend_from_slice(&udp_len.to_be_bytes());
    packet.extend_from_slice(&[0, 0]);
    packet.extend_from_slice(payload);
    packet
}

fn checksum(header: &[u8]) -> u16 {
    let mut sum: u32 = header
        .chunks(2)
        .map(|pair| u32::from(u16::from_be_bytes([pair[0], pair[1]])))
        .sum();
    while sum > 0xffff {
        sum = (sum & 0xffff) + (sum >> 16);
    }
    !(sum as u16)
}

/// Runs `f` on a thread inside namespace `ns` (a node's or a host's).
fn in_netns<T: Send>(ns: &str, f: impl FnOnce() -> T + Send) -> T {
    let path = format!("/run/netns/{ns}");
    std::thread::scope(|scope| {
        scope
            .spawn(|| {
                let fd = std::fs::File::open(&path).unwrap();
                setns(&fd, CloneFlags::CLONE_NEWNET).unwrap();
                f()
            })
            .join()
            .unwrap()
    })
}

/// Sends `packet` three times to `to` from inside namespace `ns`.
fn send_udp_from(ns: &str, to: (Ipv4Addr, u16), packet: &[u8]) {
    in_netns(ns, || {
        let socket = UdpSocket::bind("0.0.0.0:0").unwrap();
        for _ in 0..3 {
            // Dropped on the way is what some callers expect; an error here is fine.
            let _ = socket.send_to(packet, to);
        }
    });
}

/// A socket inside the victim node on port 7777; it lives on after its thread.
fn victim_socket(victim: &AttachSpec) -> UdpSocket {
    let ns = names::netns_name(&victim.node_id).unwrap();
    let addr = (victim.address, VICTIM_PORT);
    let socket = in_netns(&ns, || UdpSocket::bind(addr).unwrap());
    socket.set_read_timeout(Some(Duration::from_millis(300))).unwrap();
    socket
}

/// How many forged datagrams arrived since the last call.
fn received(socket: &UdpSocket) -> usize {
    let mut buf = [0u8; 64];
    let mut count = 0;
    while socket.recv(&mut buf).is_ok() {
        count += 1;
    }
    count
}

#[test]
fn nodes_cannot_inject_vxlan_into_another_cluster() {
    require_root!();
    let mut lan = Lan::new();
    let (h1, h2) = (lan.add_host(), lan.add_host());
    let (red, blue) = (segment(100), segment(200));
    let r1 = lan.attach(h1, &red, 11);
    lan.attach(h2, &red, 12);
    let b1 = lan.attach(h1, &blue, 21);
    let b2 = lan.attach(h2, &blue, 22);
    lan.sync(&red);
    lan.sync(&blue);
    let (b1_socket, b2_socket) = (victim_socket(&b1), victim_socket(&b2));
    let h1_ns = lan.hosts[h1].clone();

    // The forged packet works when a host sends it, so the checks below mean something.
    send_udp_from(&h1_ns, (underlay_addr(h2), VXLAN_PORT), &forged_vxlan(200, &b2));
    assert!(received(&b2_socket) > 0, "a host's forged packet lands in blue");

    // A red node tries through the underlay (routed and NATed to host 2), to its own
    // host's underlay address, and to its gateway.
    let r1_ns = names::netns_name(&r1.node_id).unwrap();
    send_udp_from(&r1_ns, (underlay_addr(h2), VXLAN_PORT), &forged_vxlan(200, &b2));
    for to in [underlay_addr(h1), red.gateway] {
        send_udp_from(&r1_ns, (to, VXLAN_PORT), &forged_vxlan(200, &b1));
    }
    assert_eq!(received(&b2_socket), 0, "across hosts");
    assert_eq!(received(&b1_socket), 0, "on the same host");

    assert_eq!(lan.teardown(), Vec::<String>::new());
}

#[test]
fn set_segment_peers_refuses_an_mtu_the_underlay_cannot_carry() {
    require_root!();
    let mut lan = Lan::new();
    let h1 = lan.add_host();
    lan.add_host();
    let seg = SegmentSpec {
        mtu: UNDERLAY_MTU,
        ..segment(100)
    };
    let peer = [Peer {
        host: underlay_addr(1),
        macs: vec![],
    }];
    let underlay = lan.underlay(h1);
    let err = lan
        .on(h1, |net| net.set_segment_peers(&seg, &underlay, &peer))
        .unwrap_err();
    assert!(err.to_string().contains("mtu"), "{err}");
}

/// Runs an iperf3 client in `client_ns` against a server in `server_ns`; bits/s.
fn iperf(server_ns: &str, client_ns: &str, to: Ipv4Addr, run: Run) -> f64 {
    let server = IperfServer::start(server_ns, run.cores.map(|c| c.server));
    let mut last = String::new();
    for _ in 0..20 {
        let out = Command::new("ip")
            .args(["netns", "exec", client_ns])
            .args(pinned(run.cores.map(|c| c.client)))
            .args(["iperf3", "-J", "-c"])
            .args([to.to_string(), "-t".into(), run.seconds.to_string()])
            .args(["-O".into(), run.warmup.to_string()])
            .output()
            .unwrap();
        // With -J, iperf3 may exit 0 and report the error in the JSON.
        let json: Value = serde_json::from_slice(&out.stdout).unwrap_or_default();
        if let Some(bps) = json["end"]["sum_received"]["bits_per_second"].as_f64() {
            drop(server);
            return bps;
        }
        last = json.to_string();
        std::thread::sleep(Duration::from_millis(100));
    }
    panic!("iperf3 to {to} failed: {last}");
}

/// How long one iperf3 measurement runs, and the first seconds it leaves out (slow
/// start and the congestion control's probing, which differ between the paths).
#[derive(Clone, Copy)]
struct Run {
    seconds: u32,
    warmup: u32,
    /// The cores the two ends run on; none when the hosts share the machine's cores.
    cores: Option<Cores>,
}

/// The cores of a measurement's server and client (each simulated host's own core).
#[derive(Clone, Copy)]
struct Cores {
    server: u32,
    client: u32,
}

/// The `taskset` prefix that runs a command on `core`; nothing without one.
fn pinned(core: Option<u32>) -> Vec<String> {
    core.map(|c| vec!["taskset".into(), "-c".into(), c.to_string()])
        .unwrap_or_default()
}

/// How the two simulated hosts use the machine's two cores.
#[derive(Clone, Copy)]
enum CoreModel {
    /// Both hosts on both cores: a veth runs the receiving host's stack on the
    /// sender's core, which no pair of machines does.
    Shared,
    /// Host 1 on core 0, host 2 on core 1, as separate machines: each host's iperf3
    /// is pinned there and its underlay port's receive processing steered there (RPS).
    PerHost,
}

impl CoreModel {
    /// How a table row names the model.
    fn name(self) -> &'static str {
        match self {
            Self::Shared => "cores shared",
            Self::PerHost => "a core per host",
        }
    }

    /// Steers (or, shared, stops steering) the first two hosts' underlay receive
    /// processing to their own cores.
    fn apply(self, hosts: &[String]) {
        for (core, ns) in hosts.iter().take(2).enumerate() {
            let mask = match self {
                Self::Shared => 0,
                Self::PerHost => 1 << core,
            };
            let script = format!("ip netns exec {ns} sh -c 'echo {mask:x} > /sys/class/net/ul0/queues/rx-0/rps_cpus'");
            assert!(sh(&script), "{script}");
        }
    }

    /// `run` for a measurement whose client is on host 1 (index 0) and whose server
    /// is on `server_host`.
    fn run(self, run: Run, server_host: usize) -> Run {
        let cores = match self {
            Self::Shared => None,
            Self::PerHost => Some(Cores {
                server: u32::try_from(server_host).unwrap(),
                client: 0,
            }),
        };
        Run { cores, ..run }
    }
}

/// One round's ratios, each against the same round's host↔host (or as named).
#[derive(Clone)]
struct Sample {
    raw: f64,
    across: f64,
    vs_raw: f64,
    local: f64,
    bridged: f64,
    untabled: f64,
}

/// An iperf3 server killed (by its own pid) when dropped.
struct IperfServer(Child);

impl IperfServer {
    fn start(ns: &str, core: Option<u32>) -> Self {
        let child = Command::new("ip")
            .args(["netns", "exec", ns])
            .args(pinned(core))
            .args(["iperf3", "-s", "-1"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("iperf3");
        Self(child)
    }
}

impl Drop for IperfServer {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

/// Median of `values`.
fn median(mut values: Vec<f64>) -> f64 {
    values.sort_by(f64::total_cmp);
    values[values.len() / 2]
}

/// Runs `sh -c script` and says whether it succeeded.
fn sh(script: &str) -> bool {
    Command::new("sh")
        .args(["-c", script])
        .status()
        .is_ok_and(|s| s.success())
}

/// Bare VXLAN between the first two hosts: a device with an address in each host's own
/// namespace, no bridge, no veth, no node namespace (what "raw VXLAN" measured).
fn raw_vxlan(hosts: &[String]) -> Ipv4Addr {
    for (i, ns) in hosts.iter().take(2).enumerate() {
        let other = underlay_addr(1 - i);
        let script = format!(
            "ip -n {ns} link add rawvx type vxlan id 4000 local {} dstport {VXLAN_PORT} nolearning noudpcsum dev ul0 && \
             ip -n {ns} link set rawvx mtu {} up && ip -n {ns} addr add 10.250.0.{}/24 dev rawvx && \
             bridge -n {ns} fdb append 00:00:00:00:00:00 dev rawvx dst {other}",
            underlay_addr(i),
            overlay_mtu(UNDERLAY_MTU),
            i + 1
        );
        assert!(sh(&script), "{script}");
    }
    Ipv4Addr::new(10, 250, 0, 2)
}

/// The data path of earlier versions, for comparison: a second bare VXLAN device in
/// each of the first two hosts enslaved to a bridge, with a veth from the bridge into
/// a namespace of its own as a node's `eth0` was. Returns those namespaces and the
/// second one's address.
fn bridge_path(hosts: &[String]) -> (Vec<String>, Ipv4Addr) {
    let mut spaces = Vec::new();
    for (i, ns) in hosts.iter().take(2).enumerate() {
        let node = format!("{ns}-br");
        let script = format!(
            "ip netns add {node} && ip -n {node} link set lo up && \
             ip -n {ns} link add obr type bridge && ip -n {ns} link set obr mtu {mtu} up && \
             ip -n {ns} link add ovx type vxlan id 4001 local {} dstport {VXLAN_PORT} nolearning noudpcsum dev ul0 && \
             ip -n {ns} link set ovx master obr mtu {mtu} up && \
             bridge -n {ns} fdb append 00:00:00:00:00:00 dev ovx dst {} && \
             ip -n {ns} link add ov0 type veth peer name eth0 netns {node} && ip -n {ns} link set ov0 master obr mtu {mtu} up && \
             ip -n {node} addr add 10.251.0.{}/24 dev eth0 && ip -n {node} link set eth0 mtu {mtu} up",
            underlay_addr(i),
            underlay_addr(1 - i),
            i + 1,
            mtu = overlay_mtu(UNDERLAY_MTU),
        );
        spaces.push(node);
        assert!(sh(&script), "{script}");
    }
    (spaces, Ipv4Addr::new(10, 251, 0, 2))
}

/// One setting of the benchmark: what it changes in each host (and node) namespace.
struct Variant {
    name: &'static str,
    /// Shell script run with `$H` = each host namespace, `$N` = each node namespace;
    /// empty for the setup as shipped.
    host: &'static str,
}

/// The settings measured, in order; each keeps the ones before it.
const VARIANTS: &[Variant] = &[
    Variant {
        name: "as shipped",
        host: "",
    },
    Variant {
        name: "br_netfilter off",
        host: "ip netns exec $H sh -c 'echo 0 > /proc/sys/net/bridge/bridge-nf-call-iptables'",
    },
    Variant {
        name: "+ no corral nft table",
        host: "ip netns exec $H nft delete table inet corral 2>/dev/null",
    },
    Variant {
        name: "+ TSO/GSO off in the nodes",
        host: "ip netns exec $N ethtool -K eth0 tso off gso off",
    },
];

/// Throughput over VXLAN against the underlay; run with `--ignored --nocapture`
/// (bench/vxlan.sh). The machine is shared and noisy: rounds interleave host↔host,
/// raw VXLAN and node↔node, every setting is measured in the same run, and the
/// medians of the per-round ratios are reported. `VXLAN_BENCH_ROUNDS` (default 5) and
/// `VXLAN_BENCH_VARIANTS=all` (default: as shipped only) choose how much;
/// `VXLAN_BENCH_CORES=shared|separate` measures only one of the [`CoreModel`]s
/// (default both, interleaved in every round).
#[test]
#[ignore = "measurement: takes about 40 s per setting and needs iperf3"]
fn vxlan_throughput() {
    require_root!();
    if Command::new("iperf3").arg("-v").output().is_err() {
        eprintln!("skipped: needs iperf3");
        return;
    }
    let env = |name: &str, default: u32| std::env::var(name).ok().and_then(|v| v.parse().ok()).unwrap_or(default);
    let rounds = env("VXLAN_BENCH_ROUNDS", 5);
    let run = Run {
        seconds: env("VXLAN_BENCH_SECONDS", 2),
        warmup: env("VXLAN_BENCH_WARMUP", 0),
        cores: None,
    };
    let models: &[CoreModel] = match std::env::var("VXLAN_BENCH_CORES").as_deref() {
        Ok("shared") => &[CoreModel::Shared],
        Ok("separate") => &[CoreModel::PerHost],
        _ => &[CoreModel::Shared, CoreModel::PerHost],
    };
    let all = std::env::var("VXLAN_BENCH_VARIANTS").is_ok_and(|v| v == "all");
    let mut lan = Lan::new();
    let (h1, h2) = (lan.add_host(), lan.add_host());
    let seg = segment(100);
    let n1 = lan.attach(h1, &seg, 11);
    let n2 = lan.attach(h2, &seg, 12);
    let n3 = lan.attach(h1, &seg, 13);
    lan.sync(&seg);
    let ns = |node: &AttachSpec| names::netns_name(&node.node_id).unwrap();
    let (h1_ns, h2_ns) = (lan.hosts[h1].clone(), lan.hosts[h2].clone());
    let raw_peer = raw_vxlan(&lan.hosts);
    let (br_ns, br_peer) = bridge_path(&lan.hosts);
    // For comparison with earlier runs: bridged frames skip the nft hooks.
    if std::env::var_os("VXLAN_BENCH_BR_NF_OFF").is_some() {
        for host in [&h1_ns, &h2_ns] {
            in_netns(host, || {
                std::fs::write("/proc/sys/net/bridge/bridge-nf-call-iptables", "0").unwrap()
            });
        }
    }

    let variants = if all { VARIANTS } else { &VARIANTS[..1] };
    let mut table = Vec::new();
    for v in variants {
        for (host, node) in [(&h1_ns, &n1), (&h2_ns, &n2), (&h1_ns, &n3)] {
            let script = format!("H={host}; N={}; {}", ns(node), v.host);
            sh(&script);
        }
        let mut samples: Vec<Vec<Sample>> = vec![Vec::new(); models.len()];
        for round in 1..=rounds {
            for (&model, kept) in models.iter().zip(&mut samples) {
                model.apply(&lan.hosts);
                // Every client is on host 1; the servers on host 2, but for the two
                // nodes on one host.
                let (apart, together) = (model.run(run, h2), model.run(run, h1));
                let underlay = iperf(&h2_ns, &h1_ns, underlay_addr(h2), apart);
                let bare = iperf(&h2_ns, &h1_ns, raw_peer, apart);
                let remote = iperf(&ns(&n2), &ns(&n1), n2.address, apart);
                let near = iperf(&ns(&n3), &ns(&n1), n3.address, together);
                let bridged = iperf(&br_ns[1], &br_ns[0], br_peer, apart);
                // What the host's firewall (conntrack active in the namespace that
                // holds the tunnel's socket) costs the node path, in the same round.
                let tabled = [&h1_ns, &h2_ns]
                    .map(|h| sh(&format!("ip netns exec {h} nft list table inet corral >/dev/null 2>&1")));
                for host in [&h1_ns, &h2_ns] {
                    sh(&format!(
                        "ip netns exec {host} nft delete table inet corral 2>/dev/null"
                    ));
                }
                let bare_hosts = iperf(&ns(&n2), &ns(&n1), n2.address, apart);
                for (h, had) in [h1, h2].into_iter().zip(tabled) {
                    if had {
                        lan.on(h, |net| net.ensure_host().and_then(|()| net.ensure_segment(&seg)))
                            .unwrap();
                    }
                }
                eprintln!(
                    "{}, {}, round {round}: host-host {:.2}, raw VXLAN {:.2}, node-node across hosts {:.2}, \
                     node-node on one host {:.2}, bridge + veth across {:.2}, \
                     node-node across without the hosts' inet table {:.2} Gbit/s",
                    v.name,
                    model.name(),
                    underlay / 1e9,
                    bare / 1e9,
                    remote / 1e9,
                    near / 1e9,
                    bridged / 1e9,
                    bare_hosts / 1e9
                );
                kept.push(Sample {
                    raw: bare / underlay,
                    across: remote / underlay,
                    vs_raw: remote / bare,
                    local: near / underlay,
                    bridged: bridged / underlay,
                    untabled: remote / bare_hosts,
                });
            }
        }
        for (&model, kept) in models.iter().zip(samples) {
            let m = |f: fn(&Sample) -> f64| median(kept.iter().map(f).collect());
            let line = format!(
                "| {}, {} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} | {:.2} |",
                v.name,
                model.name(),
                m(|s| s.raw),
                m(|s| s.across),
                m(|s| s.vs_raw),
                m(|s| s.local),
                m(|s| s.bridged),
                m(|s| s.untabled)
            );
            eprintln!("{line}");
            table.push(line);
        }
    }
    CoreModel::Shared.apply(&lan.hosts);
    eprintln!(
        "\nmedian ratios, {rounds} rounds of {} s after {} s not counted:\n\
         | setting, cores | raw VXLAN / host-host | node-node across / host-host | across / raw VXLAN | on one host / host-host | bridge + veth across / host-host | across / across without the inet table |\n\
         | --- | --- | --- | --- | --- | --- | --- |",
        run.seconds, run.warmup,
    );
    for line in table {
        eprintln!("{line}");
    }
    for host in [&h1_ns, &h2_ns] {
        sh(&format!(
            "ip -n {host} link del rawvx; ip -n {host} link del ovx; ip -n {host} link del obr; ip netns del {host}-br"
        ));
        // A variant may have removed the host rules; the teardown removes elements.
        lan.on(if host == &h1_ns { h1 } else { h2 }, |net| net.ensure_host())
            .unwrap();
    }
    assert_eq!(lan.teardown(), Vec::<String>::new());
}
