//! A node that starts announces its address on its segment: one gratuitous ARP (an
//! RFC 5227 announcement, as QEMU's announce-self and the CNI bridge plugin send).
//!
//! Peers learn a new node's name before it runs: a scale-up puts the name and address
//! in every hosts file of the cluster as soon as it is written, and the node starts a
//! moment later. A peer that sends to it in between asks for its MAC address (ARP) and
//! nobody answers yet; Linux asks again only after `retrans_time_ms` (1 s), holding
//! the packet meanwhile, so the peer hears the new node a second late. Linux updates a
//! neighbour entry it already has from any ARP it hears (even with `arp_accept` off),
//! so the announcement releases such waiting packets the moment the node is there.

use std::net::Ipv4Addr;
use std::os::fd::{AsRawFd, FromRawFd, OwnedFd};
use std::path::Path;

use nix::libc;

use crate::control_plane::AgentError;

/// EtherType of ARP.
const ETH_P_ARP: u16 = 0x0806;

/// An ARP request for `address` from `address` at `mac` (RFC 826 for Ethernet and
/// IPv4; RFC 5227's form of an announcement: target hardware address zero).
fn packet(address: Ipv4Addr, mac: [u8; 6]) -> [u8; 28] {
    let mut p = [0u8; 28];
    p[0..2].copy_from_slice(&1u16.to_be_bytes()); // hardware: Ethernet
    p[2..4].copy_from_slice(&0x0800u16.to_be_bytes()); // protocol: IPv4
    p[4] = 6; // hardware address length
    p[5] = 4; // protocol address length
    p[6..8].copy_from_slice(&1u16.to_be_bytes()); // operation: request
    p[8..14].copy_from_slice(&mac);
    p[14..18].copy_from_slice(&address.octets());
    p[24..28].copy_from_slice(&address.octets());
    p
}

/// Broadcasts the announcement of `address` at `mac` from the node interface of the
/// namespace at `netns`. The socket is made inside the namespace by a short-lived
/// thread, so the agent itself never changes namespace.
pub(crate) fn announce(netns: &Path, address: Ipv4Addr, mac: [u8; 6]) -> Result<(), AgentError> {
    let arp = packet(address, mac);
    crate::netns::run_in(netns, "node-announce", move || {
        broadcast(&arp).map_err(|source| AgentError::Io {
            context: "sending the node's ARP announcement".into(),
            source,
        })
    })
}

/// Sends `arp` to the Ethernet broadcast address out of the node interface of the
/// calling thread's namespace; the kernel adds the Ethernet header.
fn broadcast(arp: &[u8]) -> std::io::Result<()> {
    let name = std::ffi::CString::new(corral_network::names::NODE_IFNAME).expect("a name without NUL");
    // SAFETY: `name` is a NUL-terminated string that outlives the call.
    let index = unsafe { libc::if_nametoindex(name.as_ptr()) };
    if index == 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: socket(2) takes no pointers; the descriptor is checked and owned below.
    let raw = unsafe { libc::socket(libc::AF_PACKET, libc::SOCK_DGRAM | libc::SOCK_CLOEXEC, 0) };
    if raw < 0 {
        return Err(std::io::Error::last_os_error());
    }
    // SAFETY: `raw` is a fresh descriptor that nothing else owns.
    let socket = unsafe { OwnedFd::from_raw_fd(raw) };
    let to = libc::sockaddr_ll {
        sll_family: libc::AF_PACKET as u16,
        sll_protocol: ETH_P_ARP.to_be(),
        sll_ifindex: index as i32,
        sll_hatype: 0,
        sll_pkttype: 0,
        sll_halen: 6,
        sll_addr: [0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0, 0],
    };
    // SAFETY: the buffer and the address are valid for the lengths given, for the call.
    let sent = unsafe {
        libc::sendto(
            socket.as_raw_fd(),
            arp.as_ptr().cast(),
            arp.len(),
            0,
            (&to as *const libc::sockaddr_ll).cast(),
            std::mem::size_of::<libc::sockaddr_ll>() as libc::socklen_t,
        )
    };
    if sent < 0 {
        return Err(std::io::Error::last_os_error());
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::Command;
    use std::time::{Duration, Instant};

    #[test]
    fn an_announcement_is_an_arp_request_for_the_own_address() {
        let p = packet(Ipv4Addr::new(10, 1, 2, 3), [2, 0, 0, 0, 0, 9]);
        assert_eq!(&p[0..8], &[0, 1, 8, 0, 6, 4, 0, 1]);
        assert_eq!(&p[8..14], &[2, 0, 0, 0, 0, 9]);
        assert_eq!(&p[14..18], &[10, 1, 2, 3]);
        assert_eq!(&p[18..24], &[0; 6]);
        assert_eq!(&p[24..28], &[10, 1, 2, 3]);
    }

    fn is_root() -> bool {
        nix::unistd::geteuid().is_root()
    }

    fn ip(args: &str) {
        let out = Command::new("ip").args(args.split_whitespace()).output().expect("ip");
        assert!(
            out.status.success(),
            "ip {args}: {}",
            String::from_utf8_lossy(&out.stderr)
        );
    }

    /// Two namespaces of this test, joined by a veth pair; deleted on drop, pass or fail.
    struct Pair {
        peer: String,
        node: String,
    }

    impl Drop for Pair {
        fn drop(&mut self) {
            for ns in [&self.peer, &self.node] {
                let _ = Command::new("ip").args(["netns", "del", ns]).status();
            }
        }
    }

    /// A peer that asked for the node's address before the node had it hears the node
    /// as soon as it announces itself, not at the peer's next ARP try a second later.
    #[test]
    fn a_waiting_peer_hears_the_node_at_once() {
        if !is_root() {
            eprintln!("skipped: needs root");
            return;
        }
        let nanos = std::time::UNIX_EPOCH.elapsed().unwrap_or_default().subsec_nanos();
        let tag = format!("{:08x}", std::process::id() ^ nanos);
        let pair = Pair {
            peer: format!("cgarp-p-{tag}"),
            node: format!("cgarp-n-{tag}"),
        };
        let (peer, node) = (&pair.peer, &pair.node);
        ip(&format!("netns add {peer}"));
        ip(&format!("netns add {node}"));
        ip(&format!("-n {peer} link add p0 type veth peer name eth0 netns {node}"));
        ip(&format!("-n {peer} addr add 10.254.77.1/24 dev p0"));
        ip(&format!("-n {peer} link set p0 up"));
        ip(&format!("-n {node} link set eth0 address 02:00:0a:fe:4d:02 up"));
        let began = Instant::now();
        let ping = Command::new("ip")
            .args(["netns", "exec", peer, "ping", "-c1", "-W3", "10.254.77.2"])
            .stdout(std::process::Stdio::null())
            .spawn()
            .expect("ping");
        // The peer's first ARP request goes unanswered: the node has no address yet.
        std::thread::sleep(Duration::from_millis(200));
        ip(&format!("-n {node} addr add 10.254.77.2/24 dev eth0"));
        let path = Path::new("/run/netns").join(node);
        announce(&path, Ipv4Addr::new(10, 254, 77, 2), [2, 0, 0x0a, 0xfe, 0x4d, 2]).unwrap();
        let answered = ping.wait_with_output().expect("ping ends").status.success();
        let took = began.elapsed();
        assert!(answered, "the ping was never answered");
        // Without the announcement the answer comes with the ARP retry at 1 s.
        assert!(took < Duration::from_millis(800), "answered after {took:?}");
    }
}
