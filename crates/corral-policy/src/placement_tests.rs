use super::*;

const GIB: u64 = 1 << 30;

fn labels(pairs: &[(&str, &str)]) -> Labels {
    pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
}

struct Pool {
    names: Vec<String>,
    labels: Vec<Labels>,
    cpu: Vec<u64>,
    memory: Vec<u64>,
    ready: Vec<bool>,
}

impl Pool {
    fn new() -> Pool {
        Pool {
            names: vec![],
            labels: vec![],
            cpu: vec![],
            memory: vec![],
            ready: vec![],
        }
    }

    fn host(mut self, name: &str, cpu: u64, memory: u64, l: &[(&str, &str)]) -> Pool {
        self.names.push(name.into());
        self.labels.push(labels(l));
        self.cpu.push(cpu);
        self.memory.push(memory);
        self.ready.push(true);
        self
    }

    fn not_ready(mut self, name: &str) -> Pool {
        let i = self.names.iter().position(|n| n == name).unwrap();
        self.ready[i] = false;
        self
    }

    fn infos(&self) -> Vec<HostInfo<'_>> {
        (0..self.names.len())
            .map(|i| HostInfo {
                name: &self.names[i],
                cpu_millis: self.cpu[i],
                memory_bytes: self.memory[i],
                labels: &self.labels[i],
                ready: self.ready[i],
            })
            .collect()
    }
}

fn demand<'a>(cluster: &'a str, cpu: u64, memory: u64, policy: Placement, constraints: &'a Labels) -> Demand<'a> {
    Demand {
        cluster,
        cpu_millis: cpu,
        memory_bytes: memory,
        policy,
        constraints,
    }
}

/// Host names of the decisions, or `!reason` for pending ones.
fn names(hosts: &[HostInfo<'_>], decisions: &[Decision]) -> Vec<String> {
    decisions
        .iter()
        .map(|d| match d {
            Decision::Host(i) => hosts[*i].name.to_string(),
            Decision::Pending(why) => format!("!{why}"),
        })
        .collect()
}

fn none() -> Labels {
    Labels::new()
}

#[test]
fn memory_is_never_over_committed() {
    let pool = Pool::new().host("h1", 64_000, 4 * GIB, &[]);
    let hosts = pool.infos();
    let any = none();
    let d = vec![demand("c", 100, 3 * GIB / 2, Placement::Pack, &any); 3];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 4.0));
    assert_eq!(got[..2], ["h1", "h1"]);
    assert_eq!(
        got[2],
        "!no ready host has 1.5GiB of memory free (largest free: 1GiB on h1)"
    );
}

#[test]
fn nodes_already_placed_take_room_and_unknown_hosts_are_ignored() {
    let pool = Pool::new().host("h1", 4000, 4 * GIB, &[]);
    let hosts = pool.infos();
    let placed = [
        Placed {
            host: "h1",
            cluster: "x",
            cpu_millis: 1000,
            memory_bytes: 3 * GIB,
        },
        Placed {
            host: "gone",
            cluster: "x",
            cpu_millis: 1000,
            memory_bytes: 3 * GIB,
        },
    ];
    let any = none();
    let d = [
        demand("c", 100, GIB, Placement::Spread, &any),
        demand("c", 100, GIB, Placement::Spread, &any),
    ];
    let got = names(&hosts, &place_all(&hosts, &placed, &d, 1.0));
    assert_eq!(got[0], "h1");
    assert!(
        got[1].starts_with("!no ready host has 1GiB of memory free (largest free: 0B on h1)"),
        "{got:?}"
    );
}

#[test]
fn cpu_over_commit_ratio_is_respected() {
    let pool = Pool::new().host("h1", 2000, 64 * GIB, &[]);
    let hosts = pool.infos();
    let any = none();
    let d = vec![demand("c", 1000, GIB, Placement::Pack, &any); 5];
    let placed = |ratio| {
        place_all(&hosts, &[], &d, ratio)
            .iter()
            .filter(|d| matches!(d, Decision::Host(_)))
            .count()
    };
    assert_eq!(placed(1.0), 2);
    assert_eq!(placed(2.0), 4);
    assert_eq!(placed(2.5), 5);
    let got = names(&hosts, &place_all(&hosts, &[], &d, 1.0));
    assert_eq!(
        got[2],
        "!no ready host with 1GiB of memory free has 1 cpus free, cpu over-committed included (most free: 0 on h1)"
    );
}

#[test]
fn a_node_never_gets_more_cpus_than_its_host_has() {
    let pool = Pool::new()
        .host("h1", 2000, 64 * GIB, &[])
        .host("h2", 3000, 64 * GIB, &[]);
    let hosts = pool.infos();
    let any = none();
    let d = [demand("c", 4000, GIB, Placement::Spread, &any)];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 8.0));
    assert_eq!(
        got,
        ["!no ready host with 1GiB of memory free has 4 cpus (largest: 3 on h2)"]
    );
}

#[test]
fn label_constraints_choose_the_hosts() {
    let pool = Pool::new()
        .host("h1", 8000, 8 * GIB, &[("site", "a")])
        .host("h2", 8000, 8 * GIB, &[("site", "a"), ("gpu", "yes")])
        .host("h3", 8000, 2 * GIB, &[("site", "b")])
        .host("h4", 8000, 64 * GIB, &[]);
    let hosts = pool.infos();
    let (a, b, c, gpu) = (
        labels(&[("site", "a")]),
        labels(&[("site", "b")]),
        labels(&[("site", "c")]),
        labels(&[("site", "a"), ("gpu", "yes")]),
    );
    let d = [
        demand("c1", 100, GIB, Placement::Spread, &b),
        demand("c2", 100, GIB, Placement::Spread, &gpu),
        demand("c3", 100, GIB, Placement::Spread, &a),
        demand("c3", 100, GIB, Placement::Spread, &a),
        demand("c4", 100, GIB, Placement::Spread, &c),
        demand("c5", 100, 2 * GIB, Placement::Spread, &b),
    ];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 1.0));
    assert_eq!(got[0], "h3");
    assert_eq!(got[1], "h2");
    let mut c3 = [got[2].clone(), got[3].clone()];
    c3.sort();
    assert_eq!(c3, ["h1", "h2"]);
    assert_eq!(got[4], "!no ready host with site=c");
    assert_eq!(
        got[5],
        "!no ready host with site=b has 2GiB of memory free (largest free: 1GiB on h3)"
    );
}

#[test]
fn the_reason_names_the_constraint_and_the_closest_host() {
    let pool = Pool::new()
        .host("h1", 8000, 16 * GIB, &[("site", "a")])
        .host("h2", 8000, GIB, &[("site", "b")])
        .host("h3", 8000, 3 * GIB / 2, &[("site", "b")]);
    let hosts = pool.infos();
    let b = labels(&[("site", "b")]);
    let d = [demand("c", 500, 2 * GIB, Placement::Pack, &b)];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 4.0));
    assert_eq!(
        got,
        ["!no ready host with site=b has 2GiB of memory free (largest free: 1.5GiB on h3)"]
    );
}

#[test]
fn hosts_not_ready_are_skipped() {
    let pool = Pool::new()
        .host("h1", 8000, 64 * GIB, &[])
        .host("h2", 8000, 8 * GIB, &[])
        .not_ready("h1");
    let hosts = pool.infos();
    let any = none();
    let d = vec![demand("c", 100, 4 * GIB, Placement::Spread, &any); 3];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 1.0));
    assert_eq!(got[..2], ["h2", "h2"]);
    assert!(got[2].contains("largest free: 0B on h2"), "{got:?}");
    let pool = Pool::new().host("h1", 8000, 64 * GIB, &[]).not_ready("h1");
    let hosts = pool.infos();
    assert_eq!(names(&hosts, &place_all(&hosts, &[], &d[..1], 1.0)), ["!no ready host"]);
}

#[test]
fn spread_puts_a_clusters_nodes_on_distinct_hosts_then_the_least_loaded() {
    // h1 is much bigger: without the distinct-host rule every node would go there.
    let pool = Pool::new()
        .host("h1", 32_000, 128 * GIB, &[])
        .host("h2", 32_000, 16 * GIB, &[])
        .host("h3", 32_000, 8 * GIB, &[]);
    let hosts = pool.infos();
    let any = none();
    let d = vec![demand("c", 1000, GIB, Placement::Spread, &any); 5];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 1.0));
    let mut first: Vec<&str> = got[..3].iter().map(String::as_str).collect();
    first.sort();
    assert_eq!(first, ["h1", "h2", "h3"]);
    assert_eq!(got[3..], ["h1", "h1"], "then the host with the most free memory");
}

#[test]
fn spread_counts_nodes_already_placed() {
    let pool = Pool::new()
        .host("h1", 32_000, 64 * GIB, &[])
        .host("h2", 32_000, 8 * GIB, &[]);
    let hosts = pool.infos();
    let placed = [Placed {
        host: "h1",
        cluster: "c",
        cpu_millis: 1000,
        memory_bytes: GIB,
    }];
    let any = none();
    let d = [
        demand("c", 1000, GIB, Placement::Spread, &any),
        demand("other", 1000, GIB, Placement::Spread, &any),
    ];
    let got = names(&hosts, &place_all(&hosts, &placed, &d, 1.0));
    assert_eq!(got, ["h2", "h1"]);
}

#[test]
fn pack_fills_the_fewest_hosts_best_fit() {
    let pool = Pool::new()
        .host("h1", 32_000, 8 * GIB, &[])
        .host("h2", 32_000, 4 * GIB, &[])
        .host("h3", 32_000, 8 * GIB, &[]);
    let hosts = pool.infos();
    let placed = [Placed {
        host: "h3",
        cluster: "x",
        cpu_millis: 1000,
        memory_bytes: 5 * GIB,
    }];
    let any = none();
    let d = vec![demand("c", 1000, GIB, Placement::Pack, &any); 8];
    let got = names(&hosts, &place_all(&hosts, &placed, &d, 1.0));
    // h3 has the least room (3 GiB) so it fills first, then h2 (4 GiB), then h1.
    assert_eq!(got, ["h3", "h3", "h3", "h2", "h2", "h2", "h2", "h1"]);
    let spread = vec![demand("c", 1000, GIB, Placement::Spread, &any); 3];
    let mut got = names(&hosts, &place_all(&hosts, &placed, &spread, 1.0));
    got.sort();
    assert_eq!(got, ["h1", "h2", "h3"]);
}

#[test]
fn a_smaller_node_still_fits_after_a_bigger_one_failed() {
    let pool = Pool::new().host("h1", 8000, 4 * GIB, &[]);
    let hosts = pool.infos();
    let any = none();
    let d = [
        demand("c", 100, 8 * GIB, Placement::Pack, &any),
        demand("c", 100, 8 * GIB, Placement::Pack, &any),
        demand("c", 100, GIB, Placement::Pack, &any),
    ];
    let got = names(&hosts, &place_all(&hosts, &[], &d, 1.0));
    assert!(got[0].starts_with('!') && got[0] == got[1], "{got:?}");
    assert_eq!(got[2], "h1");
}

/// Random pools and demands: every decision obeys the filter, and a node is left
/// pending only when no host could take it at that moment (checked by brute force).
#[test]
fn random_pools_keep_the_rules() {
    let mut seed = 0x9e37_79b9_7f4a_7c15_u64;
    let mut next = move |n: u64| {
        seed ^= seed << 13;
        seed ^= seed >> 7;
        seed ^= seed << 17;
        seed % n
    };
    let sites = [labels(&[]), labels(&[("site", "a")]), labels(&[("site", "b")])];
    for round in 0..50 {
        let mut pool = Pool::new();
        for i in 0..(1 + next(40)) {
            let l: &[(&str, &str)] = if next(2) == 0 {
                &[("site", "a")]
            } else {
                &[("site", "b")]
            };
            pool = pool.host(&format!("h{i}"), 1000 * (1 + next(32)), GIB * (1 + next(64)), l);
            if next(10) == 0 {
                pool.ready[i as usize] = false;
            }
        }
        let hosts = pool.infos();
        let ratio = [1.0, 1.5, 4.0][next(3) as usize];
        let clusters: Vec<String> = (0..10).map(|c| format!("c{c}")).collect();
        let demands: Vec<Demand<'_>> = (0..200)
            .map(|_| {
                let policy = if next(2) == 0 {
                    Placement::Spread
                } else {
                    Placement::Pack
                };
                let c = &clusters[next(10) as usize];
                demand(
                    c,
                    250 * (1 + next(16)),
                    (GIB / 4) * (1 + next(32)),
                    policy,
                    &sites[next(3) as usize],
                )
            })
            .collect();
        let mut used_cpu = vec![0i64; hosts.len()];
        let mut used_mem = vec![0u64; hosts.len()];
        let mut placer = Placer::new(&hosts, &[], ratio);
        for d in &demands {
            let fits = |h: usize, cpu: &[i64], mem: &[u64]| {
                let hi = &hosts[h];
                hi.ready
                    && d.constraints.iter().all(|(k, v)| hi.labels.get(k) == Some(v))
                    && mem[h] + d.memory_bytes <= hi.memory_bytes
                    && cpu[h] + d.cpu_millis as i64 <= (hi.cpu_millis as f64 * ratio) as i64
                    && d.cpu_millis <= hi.cpu_millis
            };
            match placer.place(d) {
                Decision::Host(h) => {
                    assert!(
                        fits(h, &used_cpu, &used_mem),
                        "round {round}: {d:?} on {}",
                        hosts[h].name
                    );
                    used_cpu[h] += d.cpu_millis as i64;
                    used_mem[h] += d.memory_bytes;
                }
                Decision::Pending(why) => {
                    let any = (0..hosts.len()).any(|h| fits(h, &used_cpu, &used_mem));
                    assert!(!any, "round {round}: {d:?} left pending ({why}) though a host fits");
                }
            }
        }
    }
}
