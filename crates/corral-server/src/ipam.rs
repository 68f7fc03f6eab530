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

/// Subnets already claimed.
fn claimed_subnets(ctx: &Context) -> Result<Vec<Ipv4Net>> {
    Ok(ctx
        .store
        .list(keys::SUBNET_CLAIMS)?
        .into_iter()
        .filter_map(|kv| kv.key.rsplit('/').next().map(|s| s.replace('_', "/")))
        .filter_map(|s| s.parse().ok())
        .collect())
}

/// Picks a free subnet from the pool, or checks the one asked for; the caller claims
/// it in the same transaction that creates the cluster.
pub fn choose_subnet(ctx: &Context, asked: Option<&str>) -> Result<Ipv4Net> {
    let taken = claimed_subnets(ctx)?;
    if let Some(s) = asked {
        let net: Ipv4Net = s
            .parse()
            .map_err(|_| ApiError::invalid(format!("invalid subnet {s:?}: expected CIDR like 10.50.0.0/24")))?;
        let net = net.trunc();
        if net.prefix_len() > 29 || net.prefix_len() < 16 {
            return Err(ApiError::invalid("subnet prefix must be between /16 and /29").into());
        }
        if taken
            .iter()
            .any(|t| t.contains(&net.network()) || net.contains(&t.network()))
        {
            return Err(ApiError::new(
                corral_api::ErrorCode::Conflict,
                format!("subnet {net} overlaps a subnet already in use"),
            )
            .into());
        }
        return Ok(net);
    }
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
