//! What remains on the host for given nodes and segments; tests use it to prove that
//! detach and remove_segment leak nothing.

use crate::ip::{self, NetnsState};
use crate::{names, nft, NetworkError};

/// Describes every link, namespace and nftables element still present for `node_ids`
/// and `vnis`; empty when they are all gone.
pub fn leftovers<S: AsRef<str>>(node_ids: &[S], vnis: &[u32]) -> Result<Vec<String>, NetworkError> {
    let links = ip::links()?;
    let mut found = Vec::new();
    for id in node_ids.iter().map(AsRef::as_ref) {
        if ip::netns_state(&names::netns_path(id)?)? != NetnsState::Missing {
            found.push(format!("netns {}", names::netns_name(id)?));
        }
        let host = names::veth_name(id)?;
        if links.contains(&host) {
            found.push(format!("link {host} (node {id})"));
        }
    }
    let subnets = nft::list_subnets()?;
    let pairs = nft::list_same_bridges()?;
    for &vni in vnis {
        let bridge = names::bridge_name(vni)?;
        // The VXLAN device's FDB entries live and die with it.
        for link in [bridge.clone(), names::vxlan_name(vni)?] {
            if links.contains(&link) {
                found.push(format!("link {link}"));
            }
        }
        for element in subnets.iter().filter(|e| e.vni == Some(vni)) {
            found.push(format!("nft element {} {} (vni {vni})", nft::SUBNETS, element.value));
        }
        if pairs.contains(&bridge) {
            found.push(format!("nft element {} {bridge}", nft::SAME_BRIDGE));
        }
    }
    Ok(found)
}
