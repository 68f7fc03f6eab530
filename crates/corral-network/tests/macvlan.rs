//! Root-only tests against the real kernel. Each test makes its own segments (random
//! VNIs in a high range, subnets derived from them) and nodes, removes them through a
//! Drop guard even when it fails, and sends traffic only between its own namespaces and
//! the gateway links of its own segments.

#[macro_use]
mod common;

use std::io::ErrorKind;
use std::net::{Ipv4Addr, SocketAddr, TcpListener, TcpStream, UdpSocket};
use std::process::Command;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::{Duration, Instant};

use corral_network::{leftovers, names, AttachSpec, MacvlanNetwork, Network, SegmentSpec};
use nix::sched::{setns, CloneFlags};

use common::ip;

/// Segments per test process before the derived subnets could repeat.
const SLOTS: u32 = 4096;
/// Test VNIs start here, far above what the server hands out in other tests.
const VNI_BASE: u32 = 0x00f0_0000;

static NEXT: AtomicU32 = AtomicU32::new(0);

/// Owns what a test creates and removes it on drop, pass or fail.
struct Lab {
    net: MacvlanNetwork,
    tag: String,
    segments: Vec<SegmentSpec>,
    nodes: Vec<String>,
}

impl Lab {
    fn new() -> Self {
        common::private_netns();
        let net = MacvlanNetwork::new();
        net.ensure_host().expect("ensure_host");
        Self {
            net,
            tag: format!("{:08x}", common::random_u32()),
            segments: Vec::new(),
            nodes: Vec::new(),
        }
    }

    /// A fresh segment: VNI and 10.224.0.0/11 subnet from one per-process slot.
    fn segment(&mut self) -> SegmentSpec {
        static BASE: std::sync::OnceLock<u32> = std::sync::OnceLock::new();
        let base = *BASE.get_or_init(common::random_u32);
        let slot = base.wrapping_add(NEXT.fetch_add(1, Ordering::SeqCst)) % SLOTS;
        let third = u8::try_from(slot % 256).unwrap();
        let second = 224 + u8::try_from(slot / 256).unwrap();
        let seg = SegmentSpec {
            vni: VNI_BASE + slot,
            subnet: format!("10.{second}.{third}.0/24").parse().unwrap(),
            gateway: Ipv4Addr::new(10, second, third, 1),
            mtu: 1450,
        };
        self.segments.push(seg.clone());
        self.net.ensure_segment(&seg).expect("ensure_segment");
        seg
    }

    /// A fresh segment (own VNI) with the subnet and gateway of `like`: two clusters
    /// that asked for the same subnet.
    fn segment_like(&mut self, like: &SegmentSpec) -> SegmentSpec {
        let fresh = self.segment();
        self.net.remove_segment(fresh.vni).expect("remove the placeholder");
        let seg = SegmentSpec {
            subnet: like.subnet,
            gateway: like.gateway,
            ..fresh
        };
        *self.segments.last_mut().unwrap() = seg.clone();
        self.net.ensure_segment(&seg).expect("ensure_segment");
        seg
    }

    /// A node spec with host number `host` in `seg`.
    fn node(&mut self, seg: &SegmentSpec, host: u8) -> AttachSpec {
        let id = format!("t{}-{}-{host}", self.tag, seg.vni);
        self.nodes.push(id.clone());
        let octets = seg.subnet.network().octets();
        // The VNI's low byte tells apart nodes of two segments sharing a subnet.
        let vni = u8::try_from(seg.vni & 0xff).unwrap();
        AttachSpec {
            node_id: id,
            address: Ipv4Addr::new(octets[0], octets[1], octets[2], host),
            mac: [0x02, 0xc0, octets[1], octets[2], host, vni],
        }
    }

    fn attach(&mut self, seg: &SegmentSpec, host: u8) -> AttachSpec {
        let node = self.node(seg, host);
        self.net.attach(seg, &node).expect("attach");
        node
    }

    fn vnis(&self) -> Vec<u32> {
        self.segments.iter().map(|s| s.vni).collect()
    }

    fn leftovers(&self) -> Vec<String> {
        leftovers(&self.nodes, &self.vnis()).expect("leftovers")
    }

    fn teardown(&self) {
        for id in &self.nodes {
            self.net.detach(id).expect("detach");
        }
        for vni in self.vnis() {
            self.net.remove_segment(vni).expect("remove_segment");
        }
    }
}

impl Drop for Lab {
    fn drop(&mut self) {
        for id in &self.nodes {
            let _ = self.net.detach(id);
        }
        for vni in self.vnis() {
            let _ = self.net.remove_segment(vni);
        }
    }
}

fn ping(from: &AttachSpec, to: Ipv4Addr) -> bool {
    let ns = names::netns_name(&from.node_id).unwrap();
    // A few tries: on a loaded machine the first ARP exchange can miss one second.
    (0..3).any(|_| {
        Command::new("ip")
            .args(["netns", "exec", &ns, "ping", "-q", "-c1", "-W1", &to.to_string()])
            .output()
            .expect("run ping")
            .status
            .success()
    })
}

/// Runs `f` on a thread that has joined the node's network namespace.
fn in_node<T: Send + 'static>(node: &AttachSpec, f: impl FnOnce() -> T + Send + 'static) -> T {
    let path = names::netns_path(&node.node_id).unwrap();
    std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("open netns");
        setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
        f()
    })
    .join()
    .expect("thread in netns")
}

/// A listener inside the node; it lives on after its thread ends.
fn listen_in(node: &AttachSpec) -> TcpListener {
    let addr = SocketAddr::from((node.address, 0));
    in_node(node, move || TcpListener::bind(addr).expect("bind in node"))
}

fn connect_from(node: &AttachSpec, to: SocketAddr) -> std::io::Result<()> {
    in_node(node, move || {
        TcpStream::connect_timeout(&to, Duration::from_secs(1)).map(drop)
    })
}

#[test]
fn nodes_reach_their_segment_and_nothing_else() {
    require_root!();
    let mut lab = Lab::new();
    let (red, blue) = (lab.segment(), lab.segment());
    let (red1, red2) = (lab.attach(&red, 2), lab.attach(&red, 3));
    let (blue1, blue2) = (lab.attach(&blue, 2), lab.attach(&blue, 3));

    assert!(ping(&red1, red2.address), "red nodes talk");
    assert!(ping(&blue2, blue1.address), "blue nodes talk");
    assert!(!ping(&red1, blue1.address), "red cannot ping blue");
    assert!(!ping(&blue2, red2.address), "blue cannot ping red");

    let red_port = listen_in(&red2);
    connect_from(&red1, red_port.local_addr().unwrap()).expect("tcp inside a segment");
    let blue_port = listen_in(&blue1);
    let err = connect_from(&red1, blue_port.local_addr().unwrap()).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "dropped, not refused: {err}");

    lab.teardown();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

#[test]
fn nodes_cannot_reach_the_host() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let node = lab.attach(&seg, 2);
    let host = TcpListener::bind("0.0.0.0:0").unwrap();
    let port = host.local_addr().unwrap().port();

    TcpStream::connect(("127.0.0.1", port)).expect("the host reaches its own listener");
    let err = connect_from(&node, SocketAddr::from((seg.gateway, port))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::TimedOut, "dropped, not refused: {err}");
    assert!(!ping(&node, seg.gateway), "no ping to the gateway either");
}

/// A machine beside the test host (a named netns behind a veth from the test's
/// namespace), removed on drop.
struct Neighbour {
    netns: String,
}

impl Neighbour {
    /// The neighbour at 192.0.2.2 and .3 on 192.0.2.0/24; the test host is .1.
    fn new(tag: &str) -> Self {
        let netns = format!("ctn-{tag}");
        let n = Neighbour { netns: netns.clone() };
        ip(&["netns", "add", &netns]);
        let link = format!("cn{}", &tag[..6]);
        ip(&[
            "link", "add", &link, "type", "veth", "peer", "name", "up0", "netns", &netns,
        ]);
        ip(&["addr", "add", "192.0.2.1/24", "dev", &link]);
        ip(&["link", "set", &link, "up"]);
        for args in [
            vec!["addr", "add", "192.0.2.2/24", "dev", "up0"],
            vec!["addr", "add", "192.0.2.3/24", "dev", "up0"],
            vec!["link", "set", "up0", "up"],
            vec!["link", "set", "lo", "up"],
        ] {
            let mut full = vec!["-n", netns.as_str()];
            full.extend(args);
            ip(&full);
        }
        n
    }
}

impl Drop for Neighbour {
    fn drop(&mut self) {
        let _ = Command::new("ip").args(["netns", "del", &self.netns]).status();
    }
}

#[test]
fn protected_addresses_are_out_of_nodes_reach() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let node = lab.attach(&seg, 2);
    let _neighbour = Neighbour::new(&lab.tag.clone());
    let (server, other) = (Ipv4Addr::new(192, 0, 2, 2), Ipv4Addr::new(192, 0, 2, 3));
    assert!(ping(&node, server), "egress through NAT works before protection");

    lab.net.set_protected(&[server]).expect("set_protected");
    assert!(!ping(&node, server), "a protected address is out of reach");
    assert!(ping(&node, other), "other addresses stay reachable");
    // Replacing the set: the old address is reachable again, the new one is not.
    lab.net.set_protected(&[other]).expect("set_protected again");
    assert!(ping(&node, server), "no longer protected");
    assert!(!ping(&node, other), "newly protected");
    lab.net.set_protected(&[]).expect("clear");
    assert!(ping(&node, other), "cleared");
    lab.teardown();
}

#[test]
fn ensure_host_again_keeps_registered_segments() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let before = rules_text();
    lab.net.ensure_host().unwrap();
    lab.net.ensure_host().unwrap();
    let left = lab.leftovers();
    assert!(
        left.iter().any(|l| l.contains(&format!("(vni {})", seg.vni))),
        "{left:?}"
    );
    assert!(left.iter().any(|l| l.contains("same_bridge")), "{left:?}");
    assert!(lab.net.list_segments().unwrap().contains(&seg.vni));
    assert_eq!(rules_text(), before, "rules do not pile up");
}

fn rules_text() -> String {
    let out = Command::new("nft")
        .args(["list", "chain", "inet", "corral", "forward"])
        .output()
        .unwrap();
    String::from_utf8(out.stdout).unwrap()
}

#[test]
fn attach_twice_is_harmless_and_teardown_leaves_nothing() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let a = lab.attach(&seg, 2);
    let b = lab.attach(&seg, 3);
    let path = lab.net.attach(&seg, &a).unwrap();
    assert_eq!(path, names::netns_path(&a.node_id).unwrap());
    assert!(ping(&a, b.address) && ping(&b, a.address));
    let attached = lab.net.list_attachments().unwrap();
    assert!(attached.contains(&a.node_id) && attached.contains(&b.node_id));

    lab.teardown();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
    assert!(!lab.net.list_attachments().unwrap().contains(&a.node_id));
    assert!(!lab.net.list_segments().unwrap().contains(&seg.vni));
    lab.teardown();
}

#[test]
fn attach_repairs_partial_state() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let peer = lab.attach(&seg, 2);

    // Crash after `ip netns add`, before the node's link.
    let only_ns = lab.node(&seg, 3);
    ip(&["netns", "add", &names::netns_name(&only_ns.node_id).unwrap()]);
    lab.net.attach(&seg, &only_ns).unwrap();
    assert!(ping(&only_ns, peer.address));

    // Crash inside `ip netns add`: the file exists, nothing is mounted on it.
    let stale = lab.node(&seg, 4);
    std::fs::write(names::netns_path(&stale.node_id).unwrap(), "").unwrap();
    lab.net.attach(&seg, &stale).unwrap();
    assert!(ping(&stale, peer.address));

    // Someone removed the link; then the namespace itself.
    let stale_ns = names::netns_name(&stale.node_id).unwrap();
    ip(&["-n", &stale_ns, "link", "del", "eth0"]);
    lab.net.attach(&seg, &stale).unwrap();
    assert!(ping(&stale, peer.address));
    ip(&["netns", "del", &names::netns_name(&stale.node_id).unwrap()]);
    lab.net.attach(&seg, &stale).unwrap();
    assert!(ping(&stale, peer.address));

    // The gateway link vanished (the nodes' links stay): attaching makes it again.
    let gateway = names::gateway_name(seg.vni).unwrap();
    ip(&["link", "del", &gateway]);
    assert!(ping(&stale, peer.address));
    lab.net.attach(&seg, &stale).unwrap();
    ip(&["link", "show", &gateway]);

    // The VXLAN device vanished, and every node link on it: attaching makes the
    // segment again, re-attaching gives the others their links back.
    ip(&["link", "del", &names::vxlan_name(seg.vni).unwrap()]);
    lab.net.attach(&seg, &stale).unwrap();
    lab.net.attach(&seg, &peer).unwrap();
    assert!(ping(&stale, peer.address));

    // A node of an earlier version, on a veth: its link is replaced by a macvlan.
    let old = lab.node(&seg, 5);
    let old_ns = names::netns_name(&old.node_id).unwrap();
    ip(&["netns", "add", &old_ns]);
    ip(&[
        "link", "add", "cvold", "type", "veth", "peer", "name", "eth0", "netns", &old_ns,
    ]);
    lab.net.attach(&seg, &old).unwrap();
    assert!(ping(&old, peer.address));
    let kind = Command::new("ip")
        .args(["-n", &old_ns, "-d", "link", "show", "eth0"])
        .output()
        .unwrap();
    assert!(String::from_utf8_lossy(&kind.stdout).contains("macvlan mode bridge"));
    let links = Command::new("ip").args(["link", "show", "cvold"]).output().unwrap();
    assert!(!links.status.success(), "the old veth went with its peer");
}

#[test]
fn removal_tolerates_missing_pieces() {
    require_root!();
    let mut lab = Lab::new();
    let seg = lab.segment();
    let node = lab.attach(&seg, 2);
    lab.net.detach("never-attached-node").unwrap();
    lab.net.remove_segment(VNI_BASE - 1).unwrap();

    // Half-removed: gateway link gone, elements still there; the node's namespace gone.
    ip(&["link", "del", &names::gateway_name(seg.vni).unwrap()]);
    ip(&["netns", "del", &names::netns_name(&node.node_id).unwrap()]);
    assert!(lab.net.list_segments().unwrap().contains(&seg.vni));
    lab.teardown();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

#[test]
fn attach_is_fast() {
    require_root!();
    const NODES: u8 = 16;
    let mut lab = Lab::new();
    let seg = lab.segment();
    let specs: Vec<_> = (0..NODES).map(|i| lab.node(&seg, 10 + i)).collect();
    let start = Instant::now();
    for node in &specs {
        lab.net.attach(&seg, node).unwrap();
    }
    let fresh = start.elapsed() / u32::from(NODES);
    let start = Instant::now();
    for node in &specs {
        lab.net.attach(&seg, node).unwrap();
    }
    let again = start.elapsed() / u32::from(NODES);
    let start = Instant::now();
    for node in &specs {
        lab.net.detach(&node.node_id).unwrap();
    }
    let detach = start.elapsed() / u32::from(NODES);
    eprintln!("per node: attach {fresh:?}, re-attach {again:?}, detach {detach:?}");
    // Generous bound for a loaded 2-core machine; the point is catching a regression
    // to many spawns or sleeps.
    assert!(fresh < Duration::from_millis(250), "attach took {fresh:?}");
}

/// A UDP socket inside the node, bound to `port` on its address; usable from any
/// thread afterwards.
fn udp_in(node: &AttachSpec, port: u16) -> UdpSocket {
    let addr = SocketAddr::from((node.address, port));
    in_node(node, move || {
        let socket = UdpSocket::bind(addr).expect("bind in node");
        socket.set_read_timeout(Some(Duration::from_secs(2))).unwrap();
        socket
    })
}

/// A UDP echo at `at` in the neighbour: answers each datagram with its text and the
/// source address it saw; serves until `count` datagrams were answered or it idles.
fn udp_echo(neighbour: &Neighbour, at: Ipv4Addr, count: usize) -> (SocketAddr, std::thread::JoinHandle<()>) {
    let path = format!("/run/netns/{}", neighbour.netns);
    let socket = std::thread::spawn(move || {
        let fd = std::fs::File::open(&path).expect("open netns");
        setns(&fd, CloneFlags::CLONE_NEWNET).expect("setns");
        UdpSocket::bind((at, 0)).expect("bind in neighbour")
    })
    .join()
    .unwrap();
    socket.set_read_timeout(Some(Duration::from_secs(10))).unwrap();
    let addr = socket.local_addr().unwrap();
    let serve = std::thread::spawn(move || {
        let mut buf = [0u8; 512];
        for _ in 0..count {
            let Ok((n, peer)) = socket.recv_from(&mut buf) else {
                return;
            };
            let text = format!("{} seen from {peer}", String::from_utf8_lossy(&buf[..n]));
            let _ = socket.send_to(text.as_bytes(), peer);
        }
    });
    (addr, serve)
}

/// Sends `text` from `socket` to `to` and returns the answer, trying a few times (the
/// first datagram can be lost to ARP on a loaded machine).
fn udp_ask(socket: &UdpSocket, to: SocketAddr, text: &str) -> Option<String> {
    let mut buf = [0u8; 512];
    for _ in 0..3 {
        socket.send_to(text.as_bytes(), to).ok()?;
        if let Ok(n) = socket.recv(&mut buf) {
            return Some(String::from_utf8_lossy(&buf[..n]).into_owned());
        }
    }
    None
}

#[test]
fn two_segments_with_one_subnet_stay_apart_and_both_reach_out() {
    require_root!();
    let mut lab = Lab::new();
    let red = lab.segment();
    let blue = lab.segment_like(&red);
    assert_eq!((red.subnet, red.gateway), (blue.subnet, blue.gateway));
    let (red2, red3) = (lab.attach(&red, 2), lab.attach(&red, 3));
    let (blue2, blue3, blue4) = (lab.attach(&blue, 2), lab.attach(&blue, 3), lab.attach(&blue, 4));
    assert_eq!((red2.address, red3.address), (blue2.address, blue3.address));

    assert!(
        ping(&red2, red3.address) && ping(&blue2, blue3.address),
        "each reaches its peers"
    );
    // The same address answers in each segment, from that segment's node: a listener
    // on red3 is reached from red2, while blue2 meets blue3, which has none.
    let red_port = listen_in(&red3);
    let port = red_port.local_addr().unwrap().port();
    connect_from(&red2, SocketAddr::from((red3.address, port))).expect("red2 → red3");
    let err = connect_from(&blue2, SocketAddr::from((blue3.address, port))).unwrap_err();
    assert_eq!(err.kind(), ErrorKind::ConnectionRefused, "blue2 must meet blue3: {err}");
    // An address only blue uses is not there for red.
    assert!(ping(&blue2, blue4.address));
    assert!(!ping(&red2, blue4.address), "red reached blue's .4");

    // Both reach the outside from the very same address and port at once: their
    // connections never mix in conntrack, and the masquerade gives them two ports.
    let neighbour = Neighbour::new(&lab.tag.clone());
    let (echo, serving) = udp_echo(&neighbour, Ipv4Addr::new(192, 0, 2, 2), 2);
    let (red_socket, blue_socket) = (udp_in(&red2, 40000), udp_in(&blue2, 40000));
    let red_answer = udp_ask(&red_socket, echo, "red").expect("red reaches the outside");
    let blue_answer = udp_ask(&blue_socket, echo, "blue").expect("blue reaches the outside");
    serving.join().unwrap();
    assert!(red_answer.starts_with("red seen from 192.0.2.1:"), "{red_answer}");
    assert!(blue_answer.starts_with("blue seen from 192.0.2.1:"), "{blue_answer}");
    let port_of = |answer: &str| answer.rsplit(':').next().unwrap().to_string();
    assert_ne!(
        port_of(&red_answer),
        port_of(&blue_answer),
        "one outside port for two segments"
    );
    assert!(ping(&red2, Ipv4Addr::new(192, 0, 2, 3)) && ping(&blue3, Ipv4Addr::new(192, 0, 2, 3)));
    // Neither reaches the host through the shared gateway address.
    assert!(!ping(&red2, red.gateway) && !ping(&blue2, blue.gateway));

    // The host reaches either segment's node at the shared address, through a socket
    // bound to that segment's bridge (as `corral ssh` binds one): red3 listens, blue3
    // does not; and blue3's own listener is met through blue's bridge only.
    let red_bridge = names::gateway_name(red.vni).unwrap();
    let blue_bridge = names::gateway_name(blue.vni).unwrap();
    let at = |port| std::net::SocketAddrV4::new(red3.address, port);
    connect_from_host(&red_bridge, at(port)).expect("host → red3 through red's bridge");
    let err = connect_from_host(&blue_bridge, at(port)).unwrap_err();
    assert_eq!(err, nix::errno::Errno::ECONNREFUSED, "host must meet blue3: {err}");
    let blue_port = listen_in(&blue3);
    let port = blue_port.local_addr().unwrap().port();
    connect_from_host(&blue_bridge, at(port)).expect("host → blue3 through blue's bridge");
    let err = connect_from_host(&red_bridge, at(port)).unwrap_err();
    assert_eq!(err, nix::errno::Errno::ECONNREFUSED, "host must meet red3: {err}");

    lab.teardown();
    assert_eq!(lab.leftovers(), Vec::<String>::new());
}

/// Connects from the host namespace with a socket bound to `bridge` (SO_BINDTODEVICE).
fn connect_from_host(bridge: &str, to: std::net::SocketAddrV4) -> nix::Result<()> {
    use nix::sys::socket::{connect, setsockopt, socket, sockopt, AddressFamily, SockFlag, SockType, SockaddrIn};
    use std::os::fd::AsRawFd;
    let fd = socket(AddressFamily::Inet, SockType::Stream, SockFlag::SOCK_CLOEXEC, None)?;
    setsockopt(&fd, sockopt::BindToDevice, &std::ffi::OsString::from(bridge))?;
    // Bounds connect() too, should a SYN go unanswered.
    setsockopt(&fd, sockopt::SendTimeout, &nix::sys::time::TimeVal::new(2, 0))?;
    connect(fd.as_raw_fd(), &SockaddrIn::from(to))
}
