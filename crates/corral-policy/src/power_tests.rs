use super::*;

const GIB: u64 = 1 << 30;

fn host(state: PowerState, nodes: u32, empty_since: Option<u64>) -> HostPower {
    HostPower {
        state,
        since: 0,
        attempts: 1,
        nodes,
        empty_since,
        cpu_millis: 32_000,
        memory_bytes: 128 * GIB,
    }
}

fn policy(spare: Spare) -> PowerPolicy {
    PowerPolicy {
        spare,
        host_idle_time: 600,
        ..PowerPolicy::default()
    }
}

fn kinds(actions: &[Action]) -> Vec<(usize, ActionKind)> {
    actions.iter().map(|a| (a.host, a.kind)).collect()
}

fn node(cpu: u64, memory_gib: u64) -> Unplaced {
    Unplaced {
        cpu_millis: cpu,
        memory_bytes: memory_gib * GIB,
    }
}

#[test]
fn never_powers_off_a_host_holding_nodes() {
    // Every host busy for ages, no spare wanted, however the clock runs.
    let hosts: Vec<HostPower> = (0..4).map(|_| host(PowerState::On, 3, None)).collect();
    for now in [0, 600, 10_000, u32::MAX as u64] {
        let actions = decide(&policy(Spare::Hosts(0)), &hosts, &[], now);
        assert!(actions.iter().all(|a| a.kind != ActionKind::PowerOff), "{actions:?}");
    }
    // A stale empty_since on a host that has nodes again changes nothing.
    let mut h = host(PowerState::On, 1, Some(0));
    h.empty_since = Some(0);
    let actions = decide(&policy(Spare::Hosts(0)), &[h], &[], 100_000);
    assert!(actions.is_empty(), "{actions:?}");
}

#[test]
fn powers_off_hosts_empty_for_the_idle_time_keeping_the_spare() {
    let hosts = vec![
        host(PowerState::On, 2, None),
        host(PowerState::On, 0, Some(100)),
        host(PowerState::On, 0, Some(0)),
        host(PowerState::On, 0, Some(500)),
    ];
    // At 650 hosts 1 and 2 have been empty 550 and 650 s: only 2 passed the idle time.
    assert_eq!(
        kinds(&decide(&policy(Spare::Hosts(0)), &hosts, &[], 650)),
        [(2, ActionKind::PowerOff)]
    );
    // At 1200 all three did; one empty host is kept as spare, the one empty the shortest.
    let actions = decide(&policy(Spare::Hosts(1)), &hosts, &[], 1200);
    assert_eq!(kinds(&actions), [(2, ActionKind::PowerOff), (1, ActionKind::PowerOff)]);
    assert!(actions[0].reason.contains("empty for 1200 s"), "{}", actions[0].reason);
    // 50% of a 4-host pool is 2 spare hosts.
    assert_eq!(
        kinds(&decide(&policy(Spare::Percent(50.0)), &hosts, &[], 1200)),
        [(2, ActionKind::PowerOff)]
    );
}

#[test]
fn keeps_the_spare_powered_on() {
    let hosts = vec![
        host(PowerState::On, 2, None),
        host(PowerState::Off, 0, None),
        host(PowerState::Off, 0, None),
        host(PowerState::PoweringOn, 0, None),
    ];
    // The booting host counts as spare: one more is powered on for a spare of two.
    let actions = decide(&policy(Spare::Hosts(2)), &hosts, &[], 10);
    assert_eq!(actions.len(), 1);
    assert_eq!(actions[0].kind, ActionKind::PowerOn);
    assert!(actions[0].reason.contains("spare"), "{}", actions[0].reason);
}

#[test]
fn powers_on_as_many_hosts_as_the_unplaced_nodes_need() {
    let mut hosts = vec![host(PowerState::On, 4, None)];
    hosts.extend((0..5).map(|_| host(PowerState::Off, 0, None)));
    // Ten nodes of 8 cpus / 32 GiB: four fit a host, so three hosts.
    let unplaced = vec![node(8000, 32); 10];
    let actions = decide(&policy(Spare::Hosts(0)), &hosts, &unplaced, 0);
    assert_eq!(actions.len(), 3, "{actions:?}");
    assert!(actions.iter().all(|a| a.kind == ActionKind::PowerOn));
    // A host already booting takes four of them: two more hosts.
    hosts[1].state = PowerState::PoweringOn;
    let actions = decide(&policy(Spare::Hosts(0)), &hosts, &unplaced, 0);
    assert_eq!(actions.len(), 2, "{actions:?}");
    // A node bigger than any host wakes nothing.
    let actions = decide(&policy(Spare::Hosts(0)), &hosts, &[node(64_000, 32)], 0);
    assert!(actions.is_empty(), "{actions:?}");
}

#[test]
fn a_host_booting_for_pending_nodes_is_not_spare() {
    // Host 1 boots for a pending node; host 2 is empty and idle: with a spare of one it
    // stays on, since host 1 will not be empty.
    let mut hosts = vec![
        host(PowerState::On, 1, None),
        host(PowerState::PoweringOn, 0, None),
        host(PowerState::On, 0, Some(0)),
    ];
    hosts[1].since = 4900;
    let actions = decide(&policy(Spare::Hosts(1)), &hosts, &[node(1000, 1)], 5000);
    assert!(actions.is_empty(), "{actions:?}");
}

#[test]
fn retries_then_fails_a_boot_that_times_out() {
    let p = PowerPolicy {
        boot_timeout: 300,
        max_attempts: 2,
        spare: Spare::Hosts(0),
        ..PowerPolicy::default()
    };
    let mut h = host(PowerState::PoweringOn, 0, None);
    h.since = 1000;
    assert!(decide(&p, std::slice::from_ref(&h), &[], 1299).is_empty());
    let retry = decide(&p, std::slice::from_ref(&h), &[], 1300);
    assert_eq!(kinds(&retry), [(0, ActionKind::PowerOn)]);
    assert!(retry[0].reason.contains("attempt 2"), "{}", retry[0].reason);
    h.attempts = 2;
    let fail = decide(&p, std::slice::from_ref(&h), &[], 1300);
    assert_eq!(kinds(&fail), [(0, ActionKind::Fail)]);
    // Failed hosts are neither woken for demand nor counted in the pool.
    h.state = PowerState::Failed;
    assert!(decide(&p, &[h], &[node(1000, 1)], 5000).is_empty());
}

#[test]
fn retries_a_shutdown_that_times_out() {
    let mut h = host(PowerState::PoweringOff, 0, Some(0));
    h.since = 0;
    let p = policy(Spare::Hosts(0));
    assert_eq!(
        kinds(&decide(&p, &[h], &[], p.shutdown_timeout)),
        [(0, ActionKind::PowerOff)]
    );
}
