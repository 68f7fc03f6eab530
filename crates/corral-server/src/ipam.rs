//! Address management: a subnet and a VNI per cluster, an address per node.

use std::collections::HashSet;
use std::net::Ipv4Addr;

use corral_api::ApiError;
use ipnet::Ipv4Net;

use crate::context::Context;
use crate::error::Result;
use crate::keys;

/// Largest VNI (24 bits).
pub const MAX_VNI: u32 = (1 << 24) - 1;

/// Key claiming subnet `net` (as text) for cluster `uid`. One key per cluster: two
/// clusters may hold the same subnet when their owners asked for it (each segment has
/// its own bridge, routing table and conntrack zone on every host).
pub fn claim_key(net: &str, uid: &str) -> String {
    format!("{}/{uid}", keys::subnet_claim(net))
}

/// The key `uid` claimed its subnet under before clusters could share one (one key per
/// subnet), if it holds one.
pub fn legacy_claim(ctx: &Context, net: &str, uid: &str) -> Result<Option<String>> {
    let key = keys::subnet_claim(net);
    let held = ctx.store.get(&key)?.is_some_and(|kv| kv.value == uid.as_bytes());
    Ok(held.then_some(key))
}

/// Subnets already claimed, from keys `…/<subnet>/<uid>` (and `…/<subnet>` as written
/// before clusters could share a subnet).
fn claimed_subnets(ctx: &Context) -> Result<Vec<Ipv4Net>> {
    Ok(ctx
        .store
        .list(keys::SUBNET_CLAIMS)?
        .into_iter()
        .filter_map(|kv| subnet_of_claim(&kv.key))
        .collect())
}

fn subnet_of_claim(key: &str) -> Option<Ipv4Net> {
    let rest = key.strip_prefix(keys::SUBNET_CLAIMS)?;
    rest.split('/').next()?.replace('_', "/").parse().ok()
}

/// Picks a free subnet from the pool, or checks the one asked for; the caller claims
/// it in the same transaction that creates the cluster.
///
/// A subnet asked for may overlap (or equal) other clusters' subnets: segments are
/// isolated whatever their addresses, and users bring their own address plans. Chosen
/// subnets never overlap any claimed one, so nobody shares a subnet by surprise.
pub fn choose_subnet(ctx: &Context, asked: Option<&str>) -> Result<Ipv4Net> {
    if let Some(s) = asked {
        return check_asked(s);
    }
    let taken = claimed_subnets(ctx)?;
    let pool = ctx.cfg.subnet_pool;
    let subnets = pool
        .subnets(ctx.cfg.subnet_prefix)
        .map_err(|_| ApiError::invalid("bad subnet pool"))?;
    for net in subnets {
        if !taken
            .iter()
            .any(|t| t.contains(&net.network()) || net.contains(&t.network()))
        {
            return Ok(net);
        }
    }
    Err(ApiError::new(
        corral_api::ErrorCode::InsufficientCapacity,
        "no free subnet left in the pool",
    )
    .into())
}

/// Checks a subnet a user asked for.
fn check_asked(s: &str) -> Result<Ipv4Net> {
    let net: Ipv4Net = s
        .parse()
        .map_err(|_| ApiError::invalid(format!("invalid subnet {s:?}: expected CIDR like 10.50.0.0/24")))?;
    let net = net.trunc();
    if net.prefix_len() > 29 || net.prefix_len() < 16 {
        return Err(ApiError::invalid("subnet prefix must be between /16 and /29").into());
    }
    let reserved: [Ipv4Net; 4] = [
        "0.0.0.0/8".parse().expect("literal"),
        "127.0.0.0/8".parse().expect("literal"),
        "169.254.0.0/16".parse().expect("literal"),
        "224.0.0.0/3".parse().expect("literal"),
    ];
    if let Some(r) = reserved
        .iter()
        .find(|r| r.contains(&net.network()) || net.contains(&r.network()))
    {
        return Err(ApiError::invalid(format!(
            "subnet {net} overlaps {r}, which nodes cannot use (this host, link-local, multicast)"
        ))
        .into());
    }
    Ok(net)
}

/// Picks the lowest free VNI.
pub fn choose_vni(ctx: &Context) -> Result<u32> {
    let taken: HashSet<u32> = ctx
        .store
        .list(keys::VNI_CLAIMS)?
        .into_iter()
        .filter_map(|kv| kv.key.rsplit('/').next().and_then(|s| s.parse().ok()))
        .collect();
    (1..=MAX_VNI)
        .find(|v| !taken.contains(v))
        .ok_or_else(|| ApiError::new(corral_api::ErrorCode::InsufficientCapacity, "no free VNI").into())
}

/// The gateway of a subnet: its first address.
pub fn gateway(net: &Ipv4Net) -> Ipv4Addr {
    next(net.network(), 1)
}

fn next(a: Ipv4Addr, n: u32) -> Ipv4Addr {
    Ipv4Addr::from(u32::from(a) + n)
}

/// The `count` lowest free node addresses of a subnet, skipping the gateway.
pub fn free_addresses(net: &Ipv4Net, used: &HashSet<Ipv4Addr>, count: usize) -> Result<Vec<Ipv4Addr>> {
    let out: Vec<Ipv4Addr> = net
        .hosts()
        .filter(|a| *a != gateway(net) && !used.contains(a))
        .take(count)
        .collect();
    if out.len() < count {
        return Err(ApiError::new(
            corral_api::ErrorCode::InsufficientCapacity,
            format!("subnet {net} has no room for {count} more nodes"),
        )
        .into());
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn claims_name_their_subnet_old_and_new() {
        let new = claim_key("10.9.0.0/24", "abcd");
        assert_eq!(new, "/ipam/subnets/10.9.0.0_24/abcd");
        let net: Ipv4Net = "10.9.0.0/24".parse().unwrap();
        assert_eq!(subnet_of_claim(&new), Some(net));
        assert_eq!(subnet_of_claim(&keys::subnet_claim("10.9.0.0/24")), Some(net));
        assert_eq!(subnet_of_claim("/other/10.9.0.0_24"), None);
    }

    #[test]
    fn asked_subnets_are_checked_but_may_overlap() {
        assert_eq!(check_asked("10.9.0.7/24").unwrap().to_string(), "10.9.0.0/24");
        for bad in [
            "10.9.0.0",
            "10.9.0.0/8",
            "10.9.0.0/30",
            "127.0.5.0/24",
            "169.254.0.0/24",
            "239.1.0.0/24",
            "x",
        ] {
            assert!(check_asked(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn addresses_skip_gateway_and_used() {
        let net: Ipv4Net = "10.9.0.0/29".parse().unwrap();
        assert_eq!(gateway(&net), Ipv4Addr::new(10, 9, 0, 1));
        let used: HashSet<_> = [Ipv4Addr::new(10, 9, 0, 3)].into();
        let a = free_addresses(&net, &used, 3).unwrap();
        assert_eq!(
            a,
            [
                Ipv4Addr::new(10, 9, 0, 2),
                Ipv4Addr::new(10, 9, 0, 4),
                Ipv4Addr::new(10, 9, 0, 5)
            ]
        );
        assert!(free_addresses(&net, &used, 5).is_err());
    }
}
