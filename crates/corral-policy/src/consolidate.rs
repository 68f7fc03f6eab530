//! Consolidation: move the nodes of a lightly used host onto other powered-on hosts by
//! cold migration, so that it becomes empty and the power policy can switch it off.
//!
//! Only hosts whose every node may move (their cluster's placement is `pack`, nothing
//! is already moving or being deleted) are emptied, and only onto hosts that already
//! hold nodes and carry the labels the node's cluster is constrained to: filling an empty spare host would move the waste, not remove it. A
//! host is emptied only when it would then be powered off, that is when the spare
//! room the power policy keeps is already there without it. The plan is for one host
//! at a time; callers start its moves within each cluster's limit on nodes down at
//! once and rate-limit plans.

use crate::placement::{carries, Labels};

/// A host as consolidation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct HostLoad {
    /// Powered on, ready for nodes, and switched by Corral (so emptying it saves power).
    pub switchable: bool,
    /// Powered on and ready for nodes (a target may be any such host).
    pub ready: bool,
    /// Cpu, millicpus.
    pub cpu_millis: u64,
    /// Memory, bytes.
    pub memory_bytes: u64,
    /// Its labels (`site=a`), which nodes' constraints must find.
    pub labels: Labels,
}

/// A node as consolidation sees it.
#[derive(Debug, Clone, PartialEq)]
pub struct NodeLoad {
    /// Index of its host in the snapshot.
    pub host: usize,
    /// Cpu reserved, millicpus.
    pub cpu_millis: u64,
    /// Memory reserved, bytes.
    pub memory_bytes: u64,
    /// Whether it may be moved now (its cluster allows it, it is not moving or going).
    pub movable: bool,
    /// Labels a target host must carry (its cluster's constraints); empty for any host.
    pub constraints: Labels,
}

/// Moves that empty one host.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Plan {
    /// The host to empty.
    pub source: usize,
    /// (node index, target host index) for every node of the source.
    pub moves: Vec<(usize, usize)>,
    /// Why, in words.
    pub reason: String,
}

/// The plan that empties the least loaded host that can be emptied, or `None`.
/// `empty_on` is how many powered-on hosts are empty now and `spare_wanted` how many
/// the power policy keeps: below that, an emptied host would stay on as spare.
pub fn plan(
    hosts: &[HostLoad],
    nodes: &[NodeLoad],
    cpu_overcommit: f64,
    empty_on: usize,
    spare_wanted: usize,
) -> Option<Plan> {
    if empty_on < spare_wanted {
        return None;
    }
    let (free, held, blocked) = occupancy(hosts, nodes, cpu_overcommit);
    let mut sources: Vec<usize> = (0..hosts.len())
        .filter(|&i| hosts[i].switchable && held[i] > 0 && !blocked[i])
        .collect();
    // The least loaded first: the fewest bytes to move.
    sources.sort_by_key(|&i| (hosts[i].memory_bytes as i128 - free[i].1, held[i], i));
    sources
        .into_iter()
        .find_map(|source| fit(hosts, nodes, &free, &held, source).map(|moves| new_plan(source, moves)))
}

/// The plan that empties `source`, chosen earlier, with the nodes it still holds; `None`
/// when they no longer fit elsewhere or one of them may no longer move.
pub fn plan_host(hosts: &[HostLoad], nodes: &[NodeLoad], cpu_overcommit: f64, source: usize) -> Option<Plan> {
    let (free, held, blocked) = occupancy(hosts, nodes, cpu_overcommit);
    if blocked[source] || !hosts[source].switchable {
        return None;
    }
    fit(hosts, nodes, &free, &held, source).map(|moves| new_plan(source, moves))
}

fn new_plan(source: usize, moves: Vec<(usize, usize)>) -> Plan {
    let reason = format!(
        "consolidating: its {} nodes fit on other powered-on hosts, so it can be powered off",
        moves.len()
    );
    Plan { source, moves, reason }
}

/// Free room of each host after what it holds (cpu over-committed as the scheduler
/// does), how many nodes it holds, and whether one of them may not move.
#[allow(clippy::type_complexity)]
fn occupancy(
    hosts: &[HostLoad],
    nodes: &[NodeLoad],
    cpu_overcommit: f64,
) -> (Vec<(i128, i128)>, Vec<usize>, Vec<bool>) {
    let mut free: Vec<(i128, i128)> = hosts
        .iter()
        .map(|h| ((h.cpu_millis as f64 * cpu_overcommit) as i128, h.memory_bytes as i128))
        .collect();
    let mut held = vec![0usize; hosts.len()];
    let mut blocked = vec![false; hosts.len()];
    for n in nodes {
        free[n.host].0 -= n.cpu_millis as i128;
        free[n.host].1 -= n.memory_bytes as i128;
        held[n.host] += 1;
        blocked[n.host] |= !n.movable;
    }
    (free, held, blocked)
}

/// Best fit decreasing of the source's nodes into the other ready hosts that hold
/// nodes: each node to the host it leaves least memory on.
fn fit(
    hosts: &[HostLoad],
    nodes: &[NodeLoad],
    free: &[(i128, i128)],
    held: &[usize],
    source: usize,
) -> Option<Vec<(usize, usize)>> {
    let mut room = free.to_vec();
    let mut mine: Vec<usize> = (0..nodes.len()).filter(|&k| nodes[k].host == source).collect();
    mine.sort_by_key(|&k| std::cmp::Reverse((nodes[k].memory_bytes, nodes[k].cpu_millis, k)));
    let mut moves = Vec::with_capacity(mine.len());
    for k in mine {
        let n = &nodes[k];
        let target = (0..hosts.len())
            .filter(|&t| t != source && hosts[t].ready && held[t] > 0)
            .filter(|&t| carries(&hosts[t].labels, &n.constraints))
            .filter(|&t| room[t].0 >= n.cpu_millis as i128 && room[t].1 >= n.memory_bytes as i128)
            .min_by_key(|&t| (room[t].1 - n.memory_bytes as i128, t))?;
        room[target].0 -= n.cpu_millis as i128;
        room[target].1 -= n.memory_bytes as i128;
        moves.push((k, target));
    }
    Some(moves)
}

#[cfg(test)]
mod tests {
    use super::*;

    const GIB: u64 = 1 << 30;

    fn host(switchable: bool) -> HostLoad {
        HostLoad {
            switchable,
            ready: true,
            cpu_millis: 4000,
            memory_bytes: 8 * GIB,
            labels: Labels::new(),
        }
    }

    fn node(host: usize, gib: u64) -> NodeLoad {
        NodeLoad {
            host,
            cpu_millis: 1000,
            memory_bytes: gib * GIB,
            movable: true,
            constraints: Labels::new(),
        }
    }

    #[test]
    fn the_least_loaded_host_is_emptied_onto_the_fullest_that_fits() {
        let hosts = vec![host(true), host(true), host(true)];
        // Host 0 holds 6 GiB, host 1 holds 1 GiB, host 2 holds 4 GiB.
        let nodes = vec![node(0, 4), node(0, 2), node(1, 1), node(2, 4)];
        let p = plan(&hosts, &nodes, 1.0, 1, 1).expect("a plan");
        assert_eq!(p.source, 1);
        // 1 GiB fits on host 0 (2 GiB free) better than on host 2 (4 GiB free).
        assert_eq!(p.moves, vec![(2, 0)]);
        assert!(p.reason.contains("1 nodes fit"), "{}", p.reason);
    }

    #[test]
    fn nodes_move_only_to_hosts_with_their_clusters_labels() {
        let site = |v: &str| Labels::from([("site".to_string(), v.to_string())]);
        let mut hosts = vec![host(true), host(true), host(true)];
        hosts[0].labels = site("a");
        hosts[2].labels = site("a");
        // Host 1 (site b) holds the most room; a node bound to site a skips it.
        let mut nodes = vec![node(0, 1), node(1, 1), node(2, 6)];
        nodes[0].constraints = site("a");
        let p = plan(&hosts, &nodes, 1.0, 0, 0).expect("a plan");
        assert_eq!((p.source, p.moves.clone()), (0, vec![(0, 2)]));
        // No other host of site a has room: host 0 stays (host 1 is emptied instead).
        nodes[2].memory_bytes = 8 * GIB;
        let p = plan(&hosts, &nodes, 1.0, 0, 0).expect("a plan");
        assert_eq!(p.source, 1);
    }

    #[test]
    fn nothing_moves_when_the_spare_room_is_not_there_yet() {
        let hosts = vec![host(true), host(true)];
        let nodes = vec![node(0, 4), node(1, 1)];
        assert_eq!(plan(&hosts, &nodes, 1.0, 0, 1), None);
        assert!(plan(&hosts, &nodes, 1.0, 0, 0).is_some());
    }

    #[test]
    fn hosts_with_a_node_that_may_not_move_are_not_emptied() {
        let hosts = vec![host(true), host(true)];
        let mut nodes = vec![node(0, 4), node(1, 1)];
        nodes[1].movable = false;
        // Host 1 is blocked; host 0's 4 GiB fit on host 1 (7 GiB free), so host 0 goes.
        let p = plan(&hosts, &nodes, 1.0, 0, 0).expect("a plan");
        assert_eq!(p.source, 0);
        assert_eq!(p.moves, vec![(0, 1)]);
        nodes[0].movable = false;
        assert_eq!(plan(&hosts, &nodes, 1.0, 0, 0), None);
    }

    #[test]
    fn hosts_corral_does_not_switch_are_targets_but_never_emptied() {
        let hosts = vec![host(false), host(true)];
        let nodes = vec![node(0, 1), node(1, 1)];
        let p = plan(&hosts, &nodes, 1.0, 0, 0).expect("a plan");
        assert_eq!((p.source, p.moves.clone()), (1, vec![(1, 0)]));
    }

    #[test]
    fn empty_hosts_do_not_receive_nodes_and_memory_is_never_overcommitted() {
        let hosts = vec![host(true), host(true), host(true)];
        // Host 2 is empty; host 0 has 1 GiB free, host 1 holds 2 GiB.
        let nodes = vec![node(0, 7), node(1, 2)];
        assert_eq!(plan(&hosts, &nodes, 4.0, 1, 0), None);
        // Cpu is over-committed as the scheduler does: 4 cpus × 2 holds five 1-cpu nodes.
        let nodes: Vec<NodeLoad> = vec![node(0, 1), node(0, 1), node(0, 1), node(0, 1), node(1, 1)];
        assert!(plan(&hosts[..2], &nodes, 1.0, 0, 0).is_none());
        let p = plan(&hosts[..2], &nodes, 2.0, 0, 0).expect("a plan");
        assert_eq!(p.source, 1);
    }

    #[test]
    fn a_chosen_host_keeps_being_emptied_until_its_nodes_no_longer_fit() {
        let hosts = vec![host(true), host(true)];
        let nodes = vec![node(0, 4), node(1, 1), node(1, 2)];
        let p = plan_host(&hosts, &nodes, 1.0, 1).expect("a plan");
        assert_eq!(p.moves, vec![(2, 0), (1, 0)]);
        let nodes = vec![node(0, 6), node(1, 1), node(1, 2)];
        assert_eq!(plan_host(&hosts, &nodes, 1.0, 1), None);
    }
}
