//! What remains on the host for given nodes and segments; tests use it to prove that
//! detach and remove_segment leak nothing.

use crate::ip::{self, NetnsState};
use crate::{bridge, names, nft, NetworkError};

/// Describes every link, namespace, nftables element, routing rule and route still
/// present for `node_ids` and `vnis`; empty when they are all gone.
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
    let table = nft::list_table()?;
    let rules = ip::rules()?;
    let routes = ip::route_tables()?;
    for &vni in vnis {
        let bridge = names::bridge_name(vni)?;
        // The VXLAN device's FDB entries live and die with it.
        for link in [bridge.clone(), names::vxlan_name(vni)?] {
            if links.contains(&link) {
                found.push(format!("link {link}"));
            }
        }
        found.extend(table.describe(&bridge).into_iter().map(|e| format!("{e} (vni {vni})")));
        let route_table = names::route_table(vni)?;
        if rules.iter().any(|r| bridge::is_rule_of(r, route_table)) {
            found.push(format!("ip rule to table {route_table} (vni {vni})"));
        }
        if let Some(count) = routes.get(&route_table) {
            found.push(format!("{count} routes in table {route_table} (vni {vni})"));
        }
    }
    Ok(found)
}
