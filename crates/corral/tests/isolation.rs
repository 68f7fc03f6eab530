//! Root integration tests of isolation and limits, checked from inside the nodes.

mod common;

use std::time::{Duration, Instant};

use common::Pool;

fn create(pool: &Pool, name: &str, extra: &[&str]) -> serde_json::Value {
    let mut args = vec![
        "cluster", "create", name, "--image", "minimal", "--cpu", "0.2", "--memory", "32MiB",
    ];
    args.extend(extra);
    let c = pool.json(&args);
    assert_eq!(c["state"], "running", "{c}");
    c
}

fn addr(c: &serde_json::Value, i: usize) -> String {
    c["nodes"][i]["address"].as_str().unwrap().to_string()
}

#[test]
fn clusters_cannot_reach_each_other_or_the_host() {
    let pool = Pool::start();
    let a = create(&pool, "alpha", &["--nodes", "3"]);
    let b = create(&pool, "beta", &["--nodes", "3"]);
    for (name, c) in [("alpha", &a), ("beta", &b)] {
        for i in 0..3 {
            let next = format!("node-{}", (i + 1) % 3);
            let (code, out, err) = pool.exec(&format!("{name}/node-{i}"), &format!("ping -c1 -W2 {next}"));
            assert_eq!(code, 0, "{name}/node-{i} → {next}: {out}{err}");
        }
        assert_ne!(
            c["network"]["subnet"],
            if name == "alpha" { &b } else { &a }["network"]["subnet"]
        );
    }
    // Across clusters: neither ping nor TCP.
    let (code, _, _) = pool.exec("alpha/node-0", &format!("ping -c1 -W2 {}", addr(&b, 0)));
    assert_ne!(code, 0, "alpha reached beta");
    let (code, _, _) = pool.exec("beta/node-1", &format!("ping -c1 -W2 {}", addr(&a, 1)));
    assert_ne!(code, 0, "beta reached alpha");
    // The API listens on every address of the test host: reachable from the host...
    let gw = a["network"]["gateway"].as_str().unwrap().to_string();
    // An HTTP request by hand: the API answers with a status line when reachable.
    let request =
        |target: &str| format!("printf 'GET /v1/whoami HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {target} 7700 2>&1; true");
    let probe = request(&gw);
    // Several tries, a pause between them: on a loaded machine (parallel tests, and the
    // sibling tests' stress in their nodes) one answer can miss `nc -w 2`; a CI run
    // once saw five in a row miss.
    let mut seen = String::new();
    for _ in 0..10 {
        let host_side = std::process::Command::new("nsenter")
            .arg(format!("--net=/run/netns/{}", pool.netns))
            .args(["busybox", "sh", "-c", &probe])
            .output()
            .unwrap();
        seen = format!(
            "{}{}",
            String::from_utf8_lossy(&host_side.stdout),
            String::from_utf8_lossy(&host_side.stderr)
        );
        if seen.contains("HTTP") {
            break;
        }
        std::thread::sleep(std::time::Duration::from_millis(500));
    }
    assert!(
        seen.contains("HTTP"),
        "the API should answer on {gw}:7700 from the host's side: {seen}"
    );
    // ...but not from a node, through its own gateway or another cluster's.
    for (node, target) in [("alpha/node-0", gw.clone()), ("beta/node-0", gw.clone())] {
        let (_, out, err) = pool.exec(node, &request(&target));
        let text = format!("{out}{err}");
        assert!(!text.contains("HTTP"), "{node} reached the API at {target}: {text}");
        assert!(
            text.contains("can't connect") || text.contains("timed out"),
            "{node}: unexpected probe result {text}"
        );
    }
    pool.ok(&["cluster", "delete", "alpha"]);
    pool.ok(&["cluster", "delete", "beta"]);
}

#[test]
fn nodes_see_only_themselves_and_lack_privileges() {
    let pool = Pool::start();
    create(&pool, "solo", &["--nodes", "1"]);
    let (code, out, _) = pool.exec("solo/node-0", "ps -o pid | wc -l");
    assert_eq!(code, 0);
    let lines: usize = out.trim().parse().unwrap();
    assert!(
        lines < 8,
        "a node sees {lines} process lines: not its own pid namespace?"
    );
    let (_, status, _) = pool.exec("solo/node-0", "grep CapEff /proc/self/status");
    let caps = u64::from_str_radix(status.split_whitespace().nth(1).unwrap(), 16).unwrap();
    const CAP_SYS_ADMIN: u64 = 1 << 21;
    const CAP_NET_ADMIN: u64 = 1 << 12;
    assert_eq!(
        caps & (CAP_SYS_ADMIN | CAP_NET_ADMIN),
        0,
        "node has admin capabilities: {caps:x}"
    );
    let (code, _, _) = pool.exec("solo/node-0", "ip link add x type dummy");
    assert_ne!(code, 0, "a node changed its network");
    pool.ok(&["cluster", "delete", "solo"]);
}

fn wait_for(what: &str, mut f: impl FnMut() -> bool) {
    let deadline = Instant::now() + Duration::from_secs(15);
    while Instant::now() < deadline {
        if f() {
            return;
        }
        std::thread::sleep(Duration::from_millis(200));
    }
    panic!("timed out waiting for {what}");
}

#[test]
fn memory_limit_kills_the_hog_and_the_node_survives() {
    let pool = Pool::start();
    create(&pool, "mem", &["--nodes", "1"]);
    // 64 MiB in one buffer is over the 32 MiB limit: the kernel kills dd.
    let (code, _, _) = pool.exec("mem/node-0", "dd if=/dev/zero of=/dev/null bs=64M count=1");
    assert_ne!(code, 0, "dd above the memory limit should be killed");
    let (code, out, _) = pool.exec("mem/node-0", "echo alive");
    assert_eq!((code, out.trim()), (0, "alive"));
    wait_for("the OOM kill to be reported", || {
        pool.json(&["node", "show", "mem/node-0"])["oom_kills"]
            .as_u64()
            .unwrap_or(0)
            >= 1
    });
    let node = pool.json(&["node", "show", "mem/node-0"]);
    assert_eq!(node["state"], "running", "{node}");
    let events = pool.json(&["cluster", "events", "mem"]);
    assert!(
        events.as_array().unwrap().iter().any(|e| e["kind"] == "node.oom"),
        "{events}"
    );
    pool.ok(&["cluster", "delete", "mem"]);
}

#[test]
fn pids_limit_stops_a_fork_bomb() {
    let pool = Pool::start();
    create(&pool, "forks", &["--nodes", "1", "--pids", "32"]);
    let (_, out, err) = pool.exec(
        "forks/node-0",
        "for i in $(seq 1 100); do sleep 30 & done 2>&1; echo started",
    );
    let text = format!("{out}{err}");
    assert!(
        text.contains("can't fork") || text.contains("Resource temporarily unavailable"),
        "no fork failure: {text}"
    );
    let (_, count, _) = pool.exec("forks/node-0", "pkill sleep; echo ok");
    assert!(count.contains("ok"), "node unusable after the fork bomb: {count}");
    let (code, out, _) = pool.exec("forks/node-0", "echo alive");
    assert_eq!((code, out.trim()), (0, "alive"));
    pool.ok(&["cluster", "delete", "forks"]);
}

#[test]
fn restart_adopts_running_nodes_and_finishes_half_made_ones() {
    let mut pool = Pool::start();
    let c = create(&pool, "keep", &["--nodes", "2"]);
    assert_eq!(pool.exec("keep/node-0", "echo here > /root/f").0, 0);
    let started: Vec<_> = (0..2).map(|i| c["nodes"][i]["started_at"].clone()).collect();
    let pid_before = pool.exec("keep/node-1", "cat /proc/1/stat").1;
    let keep_ids = pool.node_ids();

    // A create acknowledged just before a crash is finished after the restart.
    pool.ok(&[
        "cluster", "create", "late", "--image", "minimal", "--nodes", "4", "--cpu", "0.1", "--memory", "32MiB",
        "--async",
    ]);
    pool.kill9();
    // While no agent runs, the nodes lose their links (as a node left on an earlier
    // version's link would have none of ours); adoption attaches them again.
    for id in &keep_ids {
        let out = std::process::Command::new("ip")
            .args(["-n", &format!("corral-{id}"), "link", "del", "eth0"])
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
    pool.restart();

    // The running nodes were adopted: same init, same start time, same files.
    let after = pool.json(&["cluster", "show", "keep"]);
    assert_eq!(after["state"], "running", "{after}");
    for (i, s) in started.iter().enumerate() {
        assert_eq!(
            &after["nodes"][i]["started_at"], s,
            "node-{i} was restarted, not adopted"
        );
    }
    assert_eq!(pool.exec("keep/node-0", "cat /root/f").1.trim(), "here");
    assert_eq!(pool.exec("keep/node-1", "cat /proc/1/stat").1, pid_before);
    wait_for("the adopted nodes to reach each other again", || {
        pool.exec("keep/node-1", "ping -c1 -W1 node-0").0 == 0
    });
    wait_for("the half-made cluster to run", || {
        pool.json(&["cluster", "show", "late"])["state"] == "running"
    });
    let (code, _, _) = pool.exec("late/node-3", "ping -c1 -W2 node-0");
    assert_eq!(code, 0);
    // And the restarted pool still works as before.
    pool.ok(&["cluster", "scale", "keep", "--nodes", "3"]);
    let ids = pool.node_ids();
    pool.ok(&["cluster", "delete", "keep"]);
    pool.ok(&["cluster", "delete", "late"]);
    let left = pool.leftovers(&ids, &[]);
    assert!(left.is_empty(), "left behind: {left:#?}");
}

#[test]
fn egress_leaves_through_nat() {
    let pool = Pool::start();
    create(&pool, "out", &["--nodes", "1"]);
    // An "outside" network: a namespace behind a veth from the test host, with no
    // route back to the cluster's subnet. A reply can only come back if the node's
    // traffic was masqueraded to the host's address.
    let outside = format!("cout-{}", common::rand_hex(6));
    let run = |cmd: String| {
        let out = std::process::Command::new("sh").arg("-c").arg(&cmd).output().unwrap();
        assert!(out.status.success(), "{cmd}: {}", String::from_utf8_lossy(&out.stderr));
    };
    struct Netns(String);
    impl Drop for Netns {
        fn drop(&mut self) {
            let _ = std::process::Command::new("ip")
                .args(["netns", "del", &self.0])
                .status();
        }
    }
    run(format!("ip netns add {outside}"));
    let _guard = Netns(outside.clone());
    let ns = &pool.netns;
    run(format!(
        "ip -n {ns} link add up0 type veth peer name wan0 netns {outside}"
    ));
    run(format!(
        "ip -n {ns} addr add 198.51.100.1/24 dev up0 && ip -n {ns} link set up0 up"
    ));
    run(format!("ip -n {outside} addr add 198.51.100.2/24 dev wan0 && ip -n {outside} link set wan0 up && ip -n {outside} link set lo up"));
    let (code, out, err) = pool.exec("out/node-0", "ping -c1 -W2 198.51.100.2");
    assert_eq!(code, 0, "egress through NAT failed: {out}{err}");
    pool.ok(&["cluster", "delete", "out"]);
}
