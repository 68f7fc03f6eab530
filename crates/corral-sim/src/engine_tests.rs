use super::*;
use corral_policy::elastic::{Bounds, QueueTrigger};
use corral_policy::power::Spare;

fn pool(hosts: u32, power: Option<PowerPolicy>, consolidate: Option<u64>) -> PoolSpec {
    PoolSpec {
        hosts,
        host_cpus: 32,
        host_memory_gib: 128,
        model: PowerModel::default(),
        power,
        placement: Placement::Pack,
        node_start: 2,
        horizon: 3000,
        epoch: 0,
        consolidate,
        migrate_seconds: 30,
    }
}

fn job(id: u64, submit: u64, nodes: u32, runtime: u64) -> Job {
    Job {
        id,
        submit,
        runtime,
        nodes,
        requested: runtime,
        user: -1,
    }
}

/// An elastic batch group of 8-cpu nodes (4 per host) that may grow to `max`.
fn group(name: &str, max: u32, jobs: Vec<Job>) -> ClusterSpec {
    ClusterSpec {
        name: name.into(),
        project: name.into(),
        node_cpus: 8,
        node_memory_gib: 32,
        max,
        workload: Workload::Batch(jobs),
        elastic: Some(ElasticPolicy {
            group: "worker".into(),
            bounds: Bounds { min: 0, max },
            cooldown: 0,
            queue: Some(QueueTrigger { idle_time: 0 }),
            metrics: None,
            schedule: None,
        }),
    }
}

#[test]
fn borrowing_the_pool_shortens_the_wait() {
    // Two hosts, 8 nodes. Group a's dedicated size is 4 nodes; group b is idle.
    let jobs = vec![job(1, 0, 4, 1000), job(2, 0, 4, 1000)];
    let capped = run(
        &pool(2, None, None),
        &[group("a", 4, jobs.clone()), group("b", 4, vec![])],
    );
    let borrowing = run(&pool(2, None, None), &[group("a", 8, jobs), group("b", 8, vec![])]);
    // Capped at 4, the second job waits for the first to end; borrowing b's room, it
    // starts as soon as its nodes run.
    assert_eq!(capped.waits["a"], vec![2, 1002]);
    assert_eq!(borrowing.waits["a"], vec![2, 2]);
    assert_eq!((capped.unfinished, borrowing.unfinished), (0, 0));
}

#[test]
fn groups_wider_than_the_pool_take_turns_without_deadlock() {
    // Both groups may grow to the whole pool (8 nodes) and each wants 6 at once: with
    // slots fixed at `max`, each would hold nodes while waiting for the other's. Room
    // counts instead: b's job starts once a's nodes are gone.
    let a = group("a", 8, vec![job(1, 0, 6, 500)]);
    let b = group("b", 8, vec![job(2, 1, 6, 500)]);
    let o = run(&pool(2, None, None), &[a, b]);
    assert_eq!(o.unfinished, 0);
    assert_eq!(o.waits["a"], vec![2]);
    // a's job ends at 502; its idle nodes go at once (idle time 0), then b's start.
    let wait = o.waits["b"][0];
    assert!((501..=510).contains(&wait), "{wait}");
}

#[test]
fn consolidation_moves_idle_nodes_off_a_host_so_it_powers_off() {
    let web = ClusterSpec {
        name: "web".into(),
        project: "web".into(),
        node_cpus: 8,
        node_memory_gib: 32,
        max: 2,
        workload: Workload::Web {
            interval: 300,
            cpus: vec![0.0; 10],
        },
        elastic: None,
    };
    let power = PowerPolicy {
        spare: Spare::Hosts(0),
        host_idle_time: 60,
        ..PowerPolicy::default()
    };
    let spread_out = |consolidate| {
        let p = pool(2, Some(power.clone()), consolidate);
        let clusters = [web.clone()];
        let mut e = Engine::new(&p, &clusters);
        // One node on each host, as a recovered host loss could leave them.
        for (n, h) in [(0, 0), (1, 1)] {
            let host = &mut e.hosts[h];
            host.nodes = 1;
            host.held[0] = 8;
            host.empty_since = None;
            e.nodes[n].host = Some(h);
            e.nodes[n].state = NodeState::Running;
        }
        e.pending.clear();
        e.place_dirty = false;
        e.run()
    };
    let stay = spread_out(None);
    assert_eq!(stay.migrations, 0);
    assert_eq!(stay.host_seconds, 2.0 * 3000.0);
    let moved = spread_out(Some(600));
    assert_eq!(moved.migrations, 1);
    // The emptied host is on until the move, its idle time and its shutdown are over.
    assert!(moved.host_seconds < 3000.0 + 200.0, "{}", moved.host_seconds);
    assert!(moved.joules < stay.joules);
}

#[test]
fn nodes_running_jobs_are_never_moved() {
    // Host 0 holds job 1's three nodes and job 3's; host 1 holds job 2's one node.
    // Job 3 ends and its node goes: host 1's node would fit on host 0, but moving it
    // would stop job 2, so both hosts stay on until the jobs end.
    let power = PowerPolicy {
        spare: Spare::Hosts(0),
        host_idle_time: 60,
        ..PowerPolicy::default()
    };
    let jobs = vec![job(1, 0, 3, 2000), job(3, 0, 1, 50), job(2, 0, 1, 2000)];
    let o = run(&pool(2, Some(power), Some(1)), &[group("a", 8, jobs)]);
    assert_eq!(o.unfinished, 0);
    assert_eq!(o.migrations, 0);
    assert!(o.host_seconds >= 2.0 * 2000.0, "{}", o.host_seconds);
}
