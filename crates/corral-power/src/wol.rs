//! The `wol` driver: a wake-on-LAN magic packet powers the host on; its agent powers
//! it off (a NIC can wake a machine, not stop it).

use std::net::{Ipv4Addr, SocketAddr};

use crate::{AgentShutdown, PowerDriver, PowerError, PowerStatus, WolConfig};
use async_trait::async_trait;

/// The wol driver.
pub struct Wol {
    cfg: WolConfig,
    shutdown: Option<Box<dyn AgentShutdown>>,
}

impl Wol {
    /// A driver waking `cfg.mac`, powering off through `shutdown`.
    pub fn new(cfg: WolConfig, shutdown: Option<Box<dyn AgentShutdown>>) -> Self {
        Wol { cfg, shutdown }
    }
}

/// Parses `aa:bb:cc:dd:ee:ff` (or with dashes).
pub fn parse_mac(mac: &str) -> Result<[u8; 6], PowerError> {
    let parts: Vec<&str> = mac.split([':', '-']).collect();
    let bad = || PowerError::Invalid(format!("MAC address {mac:?} is not six hex bytes"));
    if parts.len() != 6 {
        return Err(bad());
    }
    let mut out = [0u8; 6];
    for (o, p) in out.iter_mut().zip(parts) {
        *o = u8::from_str_radix(p, 16).map_err(|_| bad())?;
    }
    Ok(out)
}

/// The magic packet: six 0xff bytes, then the MAC sixteen times.
pub fn magic_packet(mac: [u8; 6]) -> Vec<u8> {
    let mut p = vec![0xff; 6];
    for _ in 0..16 {
        p.extend_from_slice(&mac);
    }
    p
}

#[async_trait]
impl PowerDriver for Wol {
    fn name(&self) -> &'static str {
        "wol"
    }

    async fn power_on(&self) -> Result<(), PowerError> {
        let mac = parse_mac(&self.cfg.mac)?;
        let ip: Ipv4Addr = self
            .cfg
            .broadcast
            .parse()
            .map_err(|_| PowerError::Invalid(format!("broadcast address {:?}", self.cfg.broadcast)))?;
        let failed = |e: std::io::Error| PowerError::Failed {
            what: format!("wake-on-LAN to {}", self.cfg.mac),
            message: e.to_string(),
        };
        let sock = tokio::net::UdpSocket::bind("0.0.0.0:0").await.map_err(failed)?;
        sock.set_broadcast(true).map_err(failed)?;
        let packet = magic_packet(mac);
        // UDP may drop one: three copies, as wakers commonly send.
        for _ in 0..3 {
            sock.send_to(&packet, SocketAddr::from((ip, self.cfg.port)))
                .await
                .map_err(failed)?;
        }
        Ok(())
    }

    async fn power_off(&self) -> Result<(), PowerError> {
        match &self.shutdown {
            Some(s) => s.shutdown().await,
            None => Err(PowerError::Unsupported(
                "a wake-on-LAN host is powered off by its agent, and none is reachable".into(),
            )),
        }
    }

    async fn status(&self) -> Result<PowerStatus, PowerError> {
        Ok(PowerStatus::Unknown)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn macs_are_parsed() {
        assert_eq!(
            parse_mac("52:54:00:ab:cd:ef").unwrap(),
            [0x52, 0x54, 0, 0xab, 0xcd, 0xef]
        );
        assert_eq!(
            parse_mac("52-54-00-AB-CD-EF").unwrap(),
            [0x52, 0x54, 0, 0xab, 0xcd, 0xef]
        );
        assert!(parse_mac("52:54:00:ab:cd").is_err());
        assert!(parse_mac("zz:54:00:ab:cd:ef").is_err());
    }

    #[tokio::test]
    async fn the_magic_packet_reaches_a_listener() {
        // Loopback only: the "broadcast" address is the listener's own.
        let listener = tokio::net::UdpSocket::bind("127.0.0.1:0").await.unwrap();
        let port = listener.local_addr().unwrap().port();
        let d = Wol::new(
            WolConfig {
                driver: None,
                mac: "52:54:00:ab:cd:ef".into(),
                broadcast: "127.0.0.1".into(),
                port,
            },
            None,
        );
        d.power_on().await.unwrap();
        let mut buf = [0u8; 256];
        let n = listener.recv(&mut buf).await.unwrap();
        assert_eq!(n, 102);
        assert_eq!(&buf[..6], &[0xff; 6]);
        assert!(buf[6..n].chunks(6).all(|c| c == [0x52, 0x54, 0, 0xab, 0xcd, 0xef]));
        assert!(matches!(d.power_off().await, Err(PowerError::Unsupported(_))));
        assert_eq!(d.status().await.unwrap(), PowerStatus::Unknown);
    }
}
