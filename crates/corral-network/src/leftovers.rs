//! What remains on the host for given nodes and segments; tests use it to prove that
//! detach and remove_segment leak nothing.

use crate::ip::{self, NetnsState};
use crate::{macvlan, names, nft, NetworkError};

/// Describes every link, namespace, note, nftables element or chain, routing rule and
/// route still present for `node_ids` and `vnis`; empty when they are all gone. (A
/// node's link lives in its namespace and goes with it.)
pub fn leftovers<S: AsRef<str>>(node_ids: &[S], vnis: &[u32]) -> Result<Vec<String>, NetworkError> {
    let links = ip::links()?;
    let mut found = Vec::new();
    for id in node_ids.iter().map(AsRef::as_ref) {
        if ip::netns_state(&names::netns_path(id)?)? != NetnsState::Missing {
            found.push(format!("netns {}", names::netns_name(id)?));
        }
        if macvlan::is_marked(id)? {
            found.push(format!("attachment note of node {id}"));
        }
    }
    let table = nft::list_table()?;
    let guards = nft::list_guards()?;
    let rules = ip::rules()?;
    let routes = ip::route_tables()?;
    for &vni in vnis {
        let gateway = names::gateway_name(vni)?;
        // The VXLAN device's FDB entries live and die with it.
        for link in [gateway.clone(), names::vxlan_name(vni)?] {
            if links.contains(&link) {
                found.push(format!("link {link}"));
            }
        }
        found.extend(table.describe(&gateway).into_iter().map(|e| format!("{e} (vni {vni})")));
        if guards.contains(&vni) {
            found.push(format!("nft chain netdev corral out-{vni}"));
        }
        let route_table = names::route_table(vni)?;
        if rules.iter().any(|r| macvlan::is_rule_of(r, route_table)) {
            found.push(format!("ip rule to table {route_table} (vni {vni})"));
        }
        if let Some(count) = routes.get(&route_table) {
            found.push(format!("{count} routes in table {route_table} (vni {vni})"));
        }
    }
    Ok(found)
}
