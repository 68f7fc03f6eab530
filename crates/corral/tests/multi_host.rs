//! Root integration tests of a pool of several hosts on one machine: a server and
//! agents in network namespaces on a test LAN, joined with one-time tokens.

mod common;

use common::lan::{wait, Lan, SERVER};

#[test]
fn hosts_join_and_a_cluster_spreads_over_them() {
    let mut lan = Lan::start();
    let token = lan.token();
    let a = lan.add_host(&token, "site=a");
    wait("h11 to join", || {
        lan.json(&["host", "list"]).as_array().is_some_and(|v| v.len() == 1)
    });
    // The token was used up: a second host cannot reuse it.
    let b_bad = lan.add_host(&token, "");
    wait("the reused token to be refused", || !lan.agent_alive(b_bad));
    assert!(lan.log("h12").contains("already used"), "{}", lan.log("h12"));
    // A bad token is refused too (before anything is sent: the CA fingerprint is wrong).
    let c_bad = lan.add_host(&format!("crj1.deadbeef.{}", "0".repeat(64)), "");
    wait("the forged token to be refused", || !lan.agent_alive(c_bad));
    let b = lan.add_host(&lan.token(), "site=b");
    lan.wait_ready_hosts(2);
    let hosts = lan.json(&["host", "list"]);
    let h11 = hosts.as_array().unwrap().iter().find(|h| h["name"] == "h11").unwrap();
    assert_eq!(h11["labels"]["site"], "a");
    assert_eq!(h11["address"], "192.168.77.11");

    // A 2-node cluster spreads over both hosts (most free memory first) and its
    // nodes reach each other by name across the VXLAN segment.
    let c = lan.json(&[
        "cluster", "create", "wide", "--image", "minimal", "--nodes", "2", "--cpu", "0.1", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let on: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap())
        .collect();
    assert_ne!(on[0], on[1], "nodes should spread: {c}");
    let idx = |host: &str| if host == lan.hosts[a].name { a } else { b };
    let uid_id = |node: &str| -> String {
        let dir = lan.hosts[idx(on[if node == "node-0" { 0 } else { 1 }])]
            .data
            .join("runtime/nodes");
        std::fs::read_dir(dir)
            .unwrap()
            .filter_map(|e| e.ok())
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .find(|n| n.ends_with(node))
            .unwrap()
    };
    let out = lan.node_exec(idx(on[0]), &uid_id("node-0"), "ping -c2 -W2 node-1");
    assert!(
        out.status.success(),
        "node-0 → node-1 across hosts: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    let out = lan.node_exec(idx(on[1]), &uid_id("node-1"), "ping -c1 -W2 node-0");
    assert!(out.status.success(), "node-1 → node-0 across hosts");
    // A node cannot reach the server's ports or the other host's agent over the
    // underlay (through its host's NAT): the pool's addresses are protected.
    let other = &lan.hosts[idx(on[1])].address;
    for (target, port) in [(SERVER, 7700), (SERVER, 7701), (other.as_str(), 7702)] {
        let probe = format!("printf 'GET / HTTP/1.0\\r\\n\\r\\n' | nc -w 2 {target} {port} 2>&1; true");
        let out = lan.node_exec(idx(on[0]), &uid_id("node-0"), &probe);
        let text = format!(
            "{}{}",
            String::from_utf8_lossy(&out.stdout),
            String::from_utf8_lossy(&out.stderr)
        );
        assert!(
            text.contains("can't connect") || text.contains("timed out"),
            "node-0 reached {target}:{port}: {text}"
        );
    }
    let out = lan.node_exec(idx(on[0]), &uid_id("node-0"), &format!("ping -c1 -W1 {other}"));
    assert!(!out.status.success(), "node-0 pinged the other host {other}");
    let del = lan.cli(&["cluster", "delete", "wide"]);
    assert!(del.status.success(), "{}", String::from_utf8_lossy(&del.stderr));
}

#[test]
fn removed_hosts_and_strangers_cannot_use_the_agent_api() {
    let mut lan = Lan::start();
    let t = lan.token();
    let a = lan.add_host(&t, "");
    wait("the host to join", || {
        lan.json(&["host", "list"]).as_array().is_some_and(|v| v.len() == 1)
    });
    let tls = lan.hosts[a].data.join("tls");
    let curl = |with_cert: bool| -> String {
        let mut c = std::process::Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", lan.hosts[a].netns))
            .args([
                "curl",
                "-s",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code}",
                "--max-time",
                "40",
                "--cacert",
            ])
            .arg(tls.join("ca.pem"));
        if with_cert {
            c.arg("--cert")
                .arg(tls.join("agent.pem"))
                .arg("--key")
                .arg(tls.join("agent.key"));
        }
        c.arg(format!("https://{SERVER}:7701/v1/agent/manifests/nothing"));
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    assert_eq!(
        curl(true),
        "404",
        "a joined agent is let in (the manifest is simply unknown)"
    );
    assert_eq!(curl(false), "401", "no certificate, no entry");
    let out = lan.cli(&["host", "remove", &lan.hosts[a].name]);
    assert!(out.status.success());
    assert_eq!(curl(true), "401", "a removed host's certificate no longer works");
}

#[test]
fn a_lost_host_s_nodes_are_recovered_elsewhere_and_fenced_on_return() {
    let mut lan = Lan::start_with(&["--host-timeout", "2"]);
    for _ in 0..2 {
        let t = lan.token();
        lan.add_host(&t, "");
    }
    lan.wait_ready_hosts(2);
    let spec = lan.tmp.path().join("keep.yaml");
    std::fs::write(
        &spec,
        "name: keep\nimage: minimal\nnodes: 2\nresources: {cpu: '0.1', memory: 64MiB}\nscripts:\n  on_recovery: touch /root/recovered\n",
    )
    .unwrap();
    let c = lan.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let node0 = &c["nodes"][0];
    let address = node0["address"].clone();
    let lost_name = node0["host"].as_str().unwrap().to_string();
    let lost = lan.hosts.iter().position(|h| h.name == lost_name).unwrap();
    let other = 1 - lost;
    let stale = node_id(&lan, lost, "node-0");

    let t0 = std::time::Instant::now();
    lan.lose_host(lost);
    wait("node-0 to run on the other host", || {
        let n = lan.json(&["node", "show", "keep/node-0"]);
        n["state"] == "running" && n["host"] == lan.hosts[other].name.as_str()
    });
    eprintln!(
        "host loss → node running elsewhere: {:.1}s (timeout 2s)",
        t0.elapsed().as_secs_f64()
    );
    let hosts = lan.json(&["host", "list"]);
    assert!(
        hosts
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == lost_name.as_str() && h["state"] == "unreachable"),
        "{hosts}"
    );
    let n = lan.json(&["node", "show", "keep/node-0"]);
    assert_eq!(n["address"], address, "same address after recovery");
    let recovered = node_id(&lan, other, "node-0");
    let out = lan.node_exec(other, &recovered, "test -f /root/recovered && ping -c1 -W2 node-1");
    assert!(
        out.status.success(),
        "on_recovery ran and node-1 is reachable: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // The host comes back: its stale copy is removed and it takes nodes again.
    assert!(
        lan.containers(lost).contains(&stale),
        "the stale copy still runs while the host is cut off"
    );
    lan.return_host(lost);
    wait("the lost host to be ready and fenced", || {
        let ready = lan
            .json(&["host", "list"])
            .as_array()
            .unwrap()
            .iter()
            .any(|h| h["name"] == lost_name.as_str() && h["state"] == "ready");
        ready && !lan.containers(lost).contains(&stale)
    });
    let del = lan.cli(&["cluster", "delete", "keep"]);
    assert!(del.status.success());
}

/// The runtime id of a node on host `i`, from its node directory.
fn node_id(lan: &Lan, i: usize, node: &str) -> String {
    std::fs::read_dir(lan.hosts[i].data.join("runtime/nodes"))
        .unwrap()
        .filter_map(|e| e.ok())
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .find(|n| n.ends_with(node))
        .unwrap()
}

#[test]
fn drain_moves_nodes_with_their_files_and_addresses() {
    let mut lan = Lan::start();
    for _ in 0..2 {
        let t = lan.token();
        lan.add_host(&t, "");
    }
    lan.wait_ready_hosts(2);
    let c = lan.json(&[
        "cluster", "create", "mv", "--image", "minimal", "--nodes", "2", "--cpu", "0.1", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let address = c["nodes"][0]["address"].clone();
    let from_name = c["nodes"][0]["host"].as_str().unwrap().to_string();
    let from = lan.hosts.iter().position(|h| h.name == from_name).unwrap();
    let to = 1 - from;
    let out = lan.node_exec(
        from,
        &node_id(&lan, from, "node-0"),
        "echo carried > /root/luggage && mkdir -p /srv/x && rm -rf /etc/motd",
    );
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));

    let out = lan.cli(&["host", "drain", &from_name]);
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    wait("the draining host to be empty", || {
        let nodes = lan.json(&["node", "list", "mv"]);
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["host"] == lan.hosts[to].name.as_str() && n["state"] == "running")
    });
    let n = lan.json(&["node", "show", "mv/node-0"]);
    assert_eq!(n["address"], address, "same address after the move");
    let moved = node_id(&lan, to, "node-0");
    let out = lan.node_exec(to, &moved, "cat /root/luggage && test -d /srv/x && ping -c1 -W2 node-1");
    assert!(
        out.status.success(),
        "file kept and peers reachable: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&out.stdout).lines().next(), Some("carried"));
    wait("the source to remove its copies", || {
        !lan.containers(from).contains("node-")
    });

    // Back again, one node, by name.
    assert!(lan.cli(&["host", "restore", &from_name]).status.success());
    let n = lan.json(&["node", "migrate", "mv/node-0", "--to", &from_name]);
    assert_eq!(n["host"], from_name.as_str(), "{n}");
    let out = lan.node_exec(from, &node_id(&lan, from, "node-0"), "cat /root/luggage");
    assert_eq!(String::from_utf8_lossy(&out.stdout).trim(), "carried");
    assert!(lan.cli(&["cluster", "delete", "mv"]).status.success());
}

/// Benchmark (run by bench/host_loss.sh): time from the loss of a host holding 10
/// nodes to all of them running on another host.
#[test]
#[ignore]
fn bench_host_loss() {
    let timeout: f64 = std::env::var("HOST_TIMEOUT")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(2.0);
    let mut lan = Lan::start_with(&["--host-timeout", &timeout.to_string()]);
    let t = lan.token();
    let a = lan.add_host(&t, "");
    lan.wait_ready_hosts(1);
    let c = lan.json(&[
        "cluster", "create", "ten", "--image", "minimal", "--nodes", "10", "--cpu", "0.05", "--memory", "32MiB",
    ]);
    assert_eq!(c["state"], "running");
    let t = lan.token();
    let b = lan.add_host(&t, "");
    lan.wait_ready_hosts(2);
    let b_name = lan.hosts[b].name.clone();
    let start = std::time::Instant::now();
    lan.lose_host(a);
    let mut detected = None;
    wait("all ten nodes on host b", || {
        let nodes = lan.json(&["node", "list", "ten"]);
        if detected.is_none()
            && nodes
                .as_array()
                .unwrap()
                .iter()
                .any(|n| n["host"].is_null() || n["host"] == b_name.as_str())
        {
            detected = Some(start.elapsed());
        }
        nodes
            .as_array()
            .unwrap()
            .iter()
            .all(|n| n["host"] == b_name.as_str() && n["state"] == "running")
    });
    let total = start.elapsed();
    println!(
        "host loss, 10 nodes: host timeout {timeout:.1}s, detected after {:.2}s, all running elsewhere after {:.2}s (recovery itself {:.2}s)",
        detected.unwrap_or(total).as_secs_f64(),
        total.as_secs_f64(),
        total.as_secs_f64() - timeout
    );
}

#[test]
fn recovery_none_leaves_nodes_down_until_their_host_returns() {
    let mut lan = Lan::start_with(&["--host-timeout", "2"]);
    let t = lan.token();
    let a = lan.add_host(&t, "");
    lan.wait_ready_hosts(1);
    let spec = lan.tmp.path().join("still.yaml");
    std::fs::write(
        &spec,
        "name: still\nimage: minimal\nnodes: 1\nrecovery: none\nresources: {cpu: '0.1', memory: 32MiB}\n",
    )
    .unwrap();
    let c = lan.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let t = lan.token();
    lan.add_host(&t, "");
    lan.wait_ready_hosts(2);
    let a_name = lan.hosts[a].name.clone();
    lan.lose_host(a);
    wait("the node to be reported down on its lost host", || {
        let n = lan.json(&["node", "show", "still/node-0"]);
        n["state"] == "failed" && n["host"] == a_name.as_str()
    });
    std::thread::sleep(std::time::Duration::from_secs(2));
    let n = lan.json(&["node", "show", "still/node-0"]);
    assert_eq!(n["host"], a_name.as_str(), "recovery: none must not move the node: {n}");
    lan.return_host(a);
    wait("the node to run again on its host", || {
        lan.json(&["node", "show", "still/node-0"])["state"] == "running"
    });
    assert!(lan.cli(&["cluster", "delete", "still"]).status.success());
}

#[test]
fn a_cluster_grows_onto_a_new_host_and_every_host_learns_it() {
    let mut lan = Lan::start();
    let t = lan.token();
    let a = lan.add_host(&t, "");
    lan.wait_ready_hosts(1);
    let c = lan.json(&[
        "cluster", "create", "grow", "--image", "minimal", "--nodes", "1", "--cpu", "0.1", "--memory", "32MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let t = lan.token();
    let b = lan.add_host(&t, "");
    lan.wait_ready_hosts(2);
    let c = lan.json(&["cluster", "scale", "grow", "--nodes", "2"]);
    let hosts: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap())
        .collect();
    assert_eq!(
        hosts,
        [lan.hosts[a].name.as_str(), lan.hosts[b].name.as_str()],
        "node-1 should land on the new host: {c}"
    );
    // Both ways: the old host learned the new peer, the new host the old one.
    let out = lan.cli(&["exec", "grow/node-0", "--", "ping", "-c1", "-W2", "node-1"]);
    assert!(
        out.status.success(),
        "old → new: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    let out = lan.cli(&["exec", "grow/node-1", "--", "ping", "-c1", "-W2", "node-0"]);
    assert!(
        out.status.success(),
        "new → old: {}",
        String::from_utf8_lossy(&out.stdout)
    );
    assert!(lan.cli(&["cluster", "delete", "grow"]).status.success());
}

/// `corral exec CLUSTER/NODE -- sh -c COMMAND`: (success, stdout + stderr).
fn sh_in(lan: &Lan, node: &str, command: &str) -> (bool, String) {
    let out = lan.cli(&["exec", node, "--", "sh", "-c", command]);
    let text = format!(
        "{}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    (out.status.success(), text)
}

#[test]
fn two_clusters_with_one_subnet_across_hosts_never_meet() {
    let mut lan = Lan::start();
    for _ in 0..2 {
        let t = lan.token();
        lan.add_host(&t, "");
    }
    lan.wait_ready_hosts(2);
    let create = |name: &str, nodes: &str| {
        let c = lan.json(&[
            "cluster",
            "create",
            name,
            "--image",
            "minimal",
            "--nodes",
            nodes,
            "--cpu",
            "0.1",
            "--memory",
            "64MiB",
            "--subnet",
            "10.77.0.0/24",
        ]);
        assert_eq!(c["state"], "running", "{c}");
        assert_eq!(c["network"]["subnet"], "10.77.0.0/24", "{c}");
        c
    };
    let red = create("red", "2");
    let blue = create("blue", "3");
    assert_ne!(red["network"]["vni"], blue["network"]["vni"]);
    for c in [&red, &blue] {
        assert_ne!(c["nodes"][0]["host"], c["nodes"][1]["host"], "nodes should spread: {c}");
    }
    let address = |c: &serde_json::Value, i: usize| c["nodes"][i]["address"].as_str().unwrap().to_string();
    assert_eq!(address(&red, 1), address(&blue, 1), "the same address in both");
    let only_blue = address(&blue, 2);

    // Inside each cluster, by name, across hosts.
    for (c, n) in [("red", 2), ("blue", 3)] {
        for i in 0..n {
            let next = format!("node-{}", (i + 1) % n);
            let (ok, text) = sh_in(&lan, &format!("{c}/node-{i}"), &format!("ping -c1 -W2 {next}"));
            assert!(ok, "{c}/node-{i} → {next}: {text}");
        }
    }
    // node-1's address answers, in each cluster, with that cluster's node-1: the MAC
    // its node-0 learnt is the one its own node-1 has.
    let mac_of = |node: &str| {
        sh_in(&lan, node, "cat /sys/class/net/eth0/address")
            .1
            .trim()
            .to_string()
    };
    let (red_mac, blue_mac) = (mac_of("red/node-1"), mac_of("blue/node-1"));
    assert_ne!(red_mac, blue_mac);
    for (c, own) in [("red", &red_mac), ("blue", &blue_mac)] {
        let probe = format!(
            "ping -c1 -W2 {a} >/dev/null && grep '^{a} ' /proc/net/arp",
            a = address(&red, 1)
        );
        let (ok, text) = sh_in(&lan, &format!("{c}/node-0"), &probe);
        assert!(
            ok && text.contains(own.as_str()),
            "{c}/node-0 reached another node-1: {text}"
        );
    }
    // An address only blue uses does not exist for red, on either host.
    for i in 0..2 {
        let (ok, text) = sh_in(&lan, &format!("red/node-{i}"), &format!("ping -c1 -W2 {only_blue}"));
        assert!(!ok, "red/node-{i} reached blue's {only_blue}: {text}");
    }
    for c in ["red", "blue"] {
        let out = lan.cli(&["cluster", "delete", c]);
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    }
}
