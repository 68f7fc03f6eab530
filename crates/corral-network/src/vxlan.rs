//! VXLAN that stretches a segment over the hosts holding its nodes: the device's command
//! lines, reading its config and forwarding database back, and the FDB changes that
//! bring the kernel to the server's view (unicast head-end replication, no multicast).

use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;

use serde_json::Value;

use crate::ip::mac_text;
use crate::names::VXLAN_PORT;
use crate::{NetworkError, Peer, Underlay};

/// Bytes VXLAN adds over IPv4: outer IPv4 (20) + UDP (8) + VXLAN (8) + inner Ethernet (14).
pub const VXLAN_OVERHEAD: u32 = 50;

/// The all-zeros MAC: the FDB entry VXLAN floods broadcast and unknown frames to.
const ZERO_MAC: [u8; 6] = [0; 6];

/// The largest segment MTU an IPv4 underlay of `underlay_mtu` carries without
/// fragmenting VXLAN packets.
pub fn overlay_mtu(underlay_mtu: u32) -> u32 {
    underlay_mtu.saturating_sub(VXLAN_OVERHEAD)
}

/// The settings a segment's VXLAN device is created with; any change means re-creating
/// it, which takes every macvlan on it (the nodes' links) along.
///
/// The device names no local address or underlay interface: the kernel picks them by
/// route for each peer, so a host whose underlay address changes keeps the device and
/// its nodes keep their links.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DeviceConfig {
    /// The segment's VNI.
    pub vni: u32,
    /// UDP destination port.
    pub port: u16,
    /// Whether the device learns remote MACs from traffic (never, for us).
    pub learning: bool,
    /// Whether outer UDP checksums are sent; RFC 7348 says zero over IPv4, and the
    /// inner packets carry their own.
    pub udp_csum: bool,
}

impl DeviceConfig {
    /// The config for segment `vni`.
    pub fn new(vni: u32) -> Self {
        Self {
            vni,
            port: VXLAN_PORT,
            learning: false,
            udp_csum: false,
        }
    }

    /// The `ip` line creating the device.
    pub fn add_line(&self, name: &str) -> String {
        format!(
            "link add {name} type vxlan id {} dstport {} nolearning noudpcsum",
            self.vni, self.port
        )
    }

    /// The config of an existing device, from its entry in `ip -d -j link show`.
    pub fn parse(link: &Value) -> Option<Self> {
        let info = &link["linkinfo"];
        if info["info_kind"].as_str()? != "vxlan" {
            return None;
        }
        let data = &info["info_data"];
        Some(Self {
            vni: u32::try_from(data["id"].as_u64()?).ok()?,
            port: u16::try_from(data["port"].as_u64()?).ok()?,
            learning: data["learning"].as_bool()?,
            udp_csum: data["udp_csum"].as_bool()?,
        })
    }
}

/// The `ip` lines that give the device the segment MTU and bring it up. It gets no
/// IPv6 link-local address: nothing of the host's own should cross the tunnel.
pub fn set_lines(name: &str, mtu: u32) -> [String; 2] {
    [
        format!("link set {name} addrgenmode none"),
        format!("link set {name} mtu {mtu} up"),
    ]
}

/// The forwarding state the server wants on one host for one segment.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Wanted {
    /// Peer hosts: each gets a copy of broadcast and unknown frames.
    pub hosts: BTreeSet<Ipv4Addr>,
    /// Remote node MACs and the host holding each.
    pub macs: BTreeMap<[u8; 6], Ipv4Addr>,
}

impl Wanted {
    /// Checks and merges the peer list: hosts are real unicast addresses other than
    /// `local`, MACs are unicast and on one host only.
    pub fn new(local: Ipv4Addr, peers: &[Peer]) -> Result<Self, NetworkError> {
        let mut wanted = Self::default();
        for peer in peers {
            check_host(local, peer.host)?;
            wanted.hosts.insert(peer.host);
            for &mac in &peer.macs {
                check_mac(mac)?;
                match wanted.macs.insert(mac, peer.host) {
                    Some(other) if other != peer.host => {
                        let value = format!("{} on {other} and {}", mac_text(mac), peer.host);
                        return Err(invalid("peer mac", value));
                    }
                    _ => {}
                }
            }
        }
        Ok(wanted)
    }
}

/// What a device's forwarding database holds.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Fdb {
    /// Remote entries: MAC → destination hosts. (The listing also shows the MACs of
    /// the macvlans on the device, without a destination; those are not ours to edit.)
    pub remote: BTreeMap<[u8; 6], BTreeSet<Ipv4Addr>>,
}

impl Fdb {
    /// Reads `bridge -j fdb show dev NAME`.
    pub fn parse(json: &Value) -> Self {
        let mut fdb = Self::default();
        for entry in json.as_array().into_iter().flatten() {
            let Some(mac) = entry["mac"].as_str().and_then(parse_mac) else {
                continue;
            };
            if let Some(dst) = entry["dst"].as_str().and_then(|d| d.parse().ok()) {
                fdb.remote.entry(mac).or_default().insert(dst);
            }
        }
        fdb
    }

    /// `bridge` lines that turn this database into `wanted`: new flood targets before
    /// removed ones, so broadcast never has a gap.
    pub fn lines(&self, dev: &str, wanted: &Wanted) -> Vec<String> {
        let zero = mac_text(ZERO_MAC);
        let flood = self.remote.get(&ZERO_MAC).cloned().unwrap_or_default();
        let mut lines: Vec<String> = wanted
            .hosts
            .difference(&flood)
            .map(|host| format!("fdb append {zero} dev {dev} dst {host}"))
            .collect();
        lines.extend(
            flood
                .difference(&wanted.hosts)
                .map(|host| format!("fdb del {zero} dev {dev} dst {host}")),
        );
        for (&mac, &host) in &wanted.macs {
            lines.extend(self.mac_lines(dev, mac, host));
        }
        let gone = self.stale_macs(wanted);
        lines.extend(gone.iter().map(|&mac| format!("fdb del {} dev {dev}", mac_text(mac))));
        lines
    }

    fn mac_lines(&self, dev: &str, mac: [u8; 6], host: Ipv4Addr) -> Vec<String> {
        let text = mac_text(mac);
        let current = self.remote.get(&mac);
        match current.map(BTreeSet::len) {
            Some(1) if current.is_some_and(|dsts| dsts.contains(&host)) => Vec::new(),
            // Several destinations (not ours): replace would keep the others.
            Some(n) if n > 1 => vec![
                format!("fdb del {text} dev {dev}"),
                format!("fdb add {text} dev {dev} dst {host}"),
            ],
            _ => vec![format!("fdb replace {text} dev {dev} dst {host}")],
        }
    }

    fn stale_macs(&self, wanted: &Wanted) -> Vec<[u8; 6]> {
        self.remote
            .keys()
            .filter(|&&mac| mac != ZERO_MAC && !wanted.macs.contains_key(&mac))
            .copied()
            .collect()
    }
}

/// Checks what the driver is told about the underlay against the segment's MTU.
pub fn check_underlay(underlay: &Underlay, segment_mtu: u32) -> Result<(), NetworkError> {
    let local = underlay.local;
    if local.is_unspecified() || local.is_multicast() || local.is_broadcast() {
        return Err(invalid("underlay address", local.to_string()));
    }
    if let Some(dev) = &underlay.device {
        let safe = |c: char| c.is_ascii_alphanumeric() || matches!(c, '-' | '_' | '.' | '@');
        if dev.is_empty() || dev.len() > 15 || !dev.chars().all(safe) {
            return Err(invalid("underlay device", dev.clone()));
        }
    }
    let most = overlay_mtu(underlay.mtu);
    if segment_mtu > most {
        let value = format!("{segment_mtu} over underlay {} (at most {most})", underlay.mtu);
        return Err(invalid("segment mtu", value));
    }
    Ok(())
}

fn check_host(local: Ipv4Addr, host: Ipv4Addr) -> Result<(), NetworkError> {
    let bad =
        host == local || host.is_unspecified() || host.is_multicast() || host.is_broadcast() || host.is_loopback();
    if bad {
        return Err(invalid("peer host", host.to_string()));
    }
    Ok(())
}

fn check_mac(mac: [u8; 6]) -> Result<(), NetworkError> {
    // The group bit marks multicast and broadcast; all zeros is the flood entry.
    if mac == ZERO_MAC || mac[0] & 1 == 1 {
        return Err(invalid("peer mac", mac_text(mac)));
    }
    Ok(())
}

fn parse_mac(text: &str) -> Option<[u8; 6]> {
    let mut mac = [0u8; 6];
    let mut parts = text.split(':');
    for byte in &mut mac {
        *byte = u8::from_str_radix(parts.next()?, 16).ok()?;
    }
    parts.next().is_none().then_some(mac)
}

fn invalid(what: &'static str, value: String) -> NetworkError {
    NetworkError::Invalid { what, value }
}

#[cfg(test)]
mod tests {
    use super::*;

    const A: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 1);
    const B: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 2);
    const C: Ipv4Addr = Ipv4Addr::new(192, 168, 77, 3);
    const M1: [u8; 6] = [2, 0, 0, 0, 0, 1];
    const M2: [u8; 6] = [2, 0, 0, 0, 0, 2];

    fn underlay(mtu: u32) -> Underlay {
        Underlay {
            local: A,
            device: None,
            mtu,
        }
    }

    fn peer(host: Ipv4Addr, macs: &[[u8; 6]]) -> Peer {
        Peer {
            host,
            macs: macs.to_vec(),
        }
    }

    fn fdb(json: &str) -> Fdb {
        Fdb::parse(&serde_json::from_str(json).unwrap())
    }

    #[test]
    fn overlay_mtu_leaves_room_for_the_headers() {
        assert_eq!(overlay_mtu(1500), 1450);
        assert_eq!(overlay_mtu(9000), 8950);
        assert_eq!(overlay_mtu(10), 0);
    }

    #[test]
    fn device_line_has_no_group_and_no_learning() {
        let config = DeviceConfig::new(7);
        assert_eq!(
            config.add_line("cx-7"),
            "link add cx-7 type vxlan id 7 dstport 4789 nolearning noudpcsum"
        );
        assert_eq!(set_lines("cx-7", 1450)[1], "link set cx-7 mtu 1450 up");
    }

    #[test]
    fn device_config_is_read_back() {
        let json: Value = serde_json::from_str(
            r#"{"ifname": "cx-7", "linkinfo": {"info_kind": "vxlan", "info_data": {
                "id": 7, "local": "192.168.77.1", "link": "eth1", "port": 4789,
                "learning": false, "udp_csum": false}}}"#,
        )
        .unwrap();
        // A device made by an earlier version, with an address and link, is kept.
        assert_eq!(DeviceConfig::parse(&json), Some(DeviceConfig::new(7)));
        let bridge: Value = serde_json::from_str(r#"{"linkinfo": {"info_kind": "bridge"}}"#).unwrap();
        assert_eq!(DeviceConfig::parse(&bridge), None);
    }

    #[test]
    fn fdb_listing_keeps_remote_entries_only() {
        let fdb = fdb(r#"[
            {"mac": "02:cb:00:00:07:01", "flags": ["self"], "state": "permanent"},
            {"mac": "02:00:00:00:00:02", "flags": ["self"], "state": "permanent"},
            {"mac": "02:00:00:00:00:01", "dst": "192.168.77.2", "flags": ["self"]},
            {"mac": "00:00:00:00:00:00", "dst": "192.168.77.2", "flags": ["self"]},
            {"mac": "00:00:00:00:00:00", "dst": "192.168.77.3", "flags": ["self"]}]"#);
        assert_eq!(fdb.remote[&ZERO_MAC], BTreeSet::from([B, C]));
        assert_eq!(fdb.remote[&M1], BTreeSet::from([B]));
        assert_eq!(fdb.remote.len(), 2);
    }

    #[test]
    fn empty_fdb_gets_flood_and_mac_entries() {
        let wanted = Wanted::new(A, &[peer(B, &[M1]), peer(C, &[M2])]).unwrap();
        assert_eq!(
            Fdb::default().lines("cx-7", &wanted),
            [
                "fdb append 00:00:00:00:00:00 dev cx-7 dst 192.168.77.2",
                "fdb append 00:00:00:00:00:00 dev cx-7 dst 192.168.77.3",
                "fdb replace 02:00:00:00:00:01 dev cx-7 dst 192.168.77.2",
                "fdb replace 02:00:00:00:00:02 dev cx-7 dst 192.168.77.3",
            ]
        );
    }

    #[test]
    fn converged_fdb_needs_nothing() {
        let wanted = Wanted::new(A, &[peer(B, &[M1])]).unwrap();
        let fdb = fdb(r#"[
            {"mac": "02:00:00:00:00:01", "dst": "192.168.77.2"},
            {"mac": "00:00:00:00:00:00", "dst": "192.168.77.2"}]"#);
        assert!(fdb.lines("cx-7", &wanted).is_empty());
    }

    #[test]
    fn moved_and_gone_entries_are_fixed() {
        // M1 moved from B to C, M2 came to this host, B left the segment.
        let wanted = Wanted::new(A, &[peer(C, &[M1])]).unwrap();
        let fdb = fdb(r#"[
            {"mac": "02:00:00:00:00:01", "dst": "192.168.77.2"},
            {"mac": "02:00:00:00:00:02", "dst": "192.168.77.2"},
            {"mac": "00:00:00:00:00:00", "dst": "192.168.77.2"}]"#);
        assert_eq!(
            fdb.lines("cx-7", &wanted),
            [
                "fdb append 00:00:00:00:00:00 dev cx-7 dst 192.168.77.3",
                "fdb del 00:00:00:00:00:00 dev cx-7 dst 192.168.77.2",
                "fdb replace 02:00:00:00:00:01 dev cx-7 dst 192.168.77.3",
                "fdb del 02:00:00:00:00:02 dev cx-7",
            ]
        );
    }

    #[test]
    fn a_mac_with_several_destinations_is_rebuilt() {
        let wanted = Wanted::new(A, &[peer(B, &[M1])]).unwrap();
        let fdb = fdb(r#"[
            {"mac": "02:00:00:00:00:01", "dst": "192.168.77.2"},
            {"mac": "02:00:00:00:00:01", "dst": "192.168.77.3"}]"#);
        let lines = fdb.lines("cx-7", &wanted);
        assert_eq!(
            lines[1..],
            [
                "fdb del 02:00:00:00:00:01 dev cx-7",
                "fdb add 02:00:00:00:00:01 dev cx-7 dst 192.168.77.2"
            ]
        );
    }

    #[test]
    fn bad_peers_are_refused() {
        assert!(Wanted::new(A, &[peer(A, &[])]).is_err(), "self");
        assert!(Wanted::new(A, &[peer(Ipv4Addr::UNSPECIFIED, &[])]).is_err());
        assert!(Wanted::new(A, &[peer(B, &[ZERO_MAC])]).is_err(), "zero mac");
        assert!(Wanted::new(A, &[peer(B, &[[1, 0, 0, 0, 0, 1]])]).is_err());
        let twice = [peer(B, &[M1]), peer(C, &[M1])];
        assert!(Wanted::new(A, &twice).is_err(), "one mac on two hosts");
        let merged = Wanted::new(A, &[peer(B, &[M1]), peer(B, &[M2])]).unwrap();
        assert_eq!(merged.hosts.len(), 1);
        assert_eq!(merged.macs.len(), 2);
    }

    #[test]
    fn underlay_is_checked() {
        assert!(check_underlay(&underlay(1500), 1450).is_ok());
        assert!(check_underlay(&underlay(1500), 1500).is_err());
        let bad_dev = Underlay {
            device: Some("eth0\nlink del x".into()),
            ..underlay(1500)
        };
        assert!(check_underlay(&bad_dev, 1400).is_err());
        let any = Underlay {
            local: Ipv4Addr::UNSPECIFIED,
            ..underlay(1500)
        };
        assert!(check_underlay(&any, 1400).is_err());
    }

    #[test]
    fn macs_parse() {
        assert_eq!(parse_mac("02:00:00:00:00:01"), Some(M1));
        assert_eq!(parse_mac("02:00:00:00:00"), None);
        assert_eq!(parse_mac("02:00:00:00:00:01:07"), None);
    }
}
