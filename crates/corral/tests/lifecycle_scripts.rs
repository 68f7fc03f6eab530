//! Root integration tests of a cluster spec file: node groups, environment and the
//! on_create / on_destroy scripts, observed from inside the nodes.

mod common;

use std::time::{Duration, Instant};

use common::Pool;

const SPEC: &str = r#"
name: lab
image: minimal
resources:
  cpu: "0.2"
  memory: 32MiB
node_groups:
  - name: head
    count: 1
  - name: worker
    count: 2
env:
  GREETING: hello-lab
scripts:
  on_create: |
    echo "created $(hostname) $GREETING" >> /root/created
  on_destroy: |
    echo "bye $(hostname) $GREETING" | nc -w 3 head-0 9000
"#;

fn out(pool: &Pool, node: &str, cmd: &str) -> String {
    let (code, out, err) = pool.exec(node, cmd);
    assert_eq!(code, 0, "{cmd} in {node}: {out}{err}");
    out
}

#[test]
fn spec_file_groups_env_and_lifecycle_scripts() {
    let pool = Pool::start();
    let spec = pool.dir().join("lab.yaml");
    std::fs::write(&spec, SPEC).unwrap();
    let c = pool.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let mut names: Vec<String> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap().to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["head-0", "worker-0", "worker-1"]);
    let groups: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["group"].as_str().unwrap())
        .collect();
    assert_eq!(groups.iter().filter(|g| **g == "worker").count(), 2);

    // The environment reaches commands and on_create, which ran once per node.
    assert_eq!(out(&pool, "lab/worker-1", "echo $GREETING"), "hello-lab\n");
    for n in ["head-0", "worker-0", "worker-1"] {
        assert_eq!(
            out(&pool, &format!("lab/{n}"), "cat /root/created"),
            format!("created {n} hello-lab\n")
        );
    }
    // Groups reach each other by name.
    out(&pool, "lab/worker-0", "ping -c1 -W2 head-0");

    // A restart of the cluster keeps the writable layer; on_create does not run again.
    pool.ok(&["cluster", "stop", "lab"]);
    pool.ok(&["cluster", "start", "lab"]);
    assert_eq!(
        out(&pool, "lab/head-0", "cat /root/created"),
        "created head-0 hello-lab\n"
    );
    // Nor after a crash and restart of `corral up` (the nodes are adopted).
    let mut pool = pool;
    pool.restart();
    assert_eq!(
        out(&pool, "lab/worker-0", "cat /root/created"),
        "created worker-0 hello-lab\n"
    );

    // on_destroy runs when a group is scaled down: worker-1 tells head-0 it leaves,
    // over the cluster network (nodes cannot write to the host).
    out(
        &pool,
        "lab/head-0",
        "printf '#!/bin/sh\\ncat >> /root/departed\\n' > /root/recv.sh && chmod +x /root/recv.sh && \
         (setsid nc -ll -p 9000 -e /root/recv.sh </dev/null >/dev/null 2>&1 &)",
    );
    // The listener is up before the scale-down.
    let deadline = Instant::now() + Duration::from_secs(5);
    while pool.exec("lab/head-0", "netstat -ltn | grep -q ':9000 '").0 != 0 {
        assert!(Instant::now() < deadline, "listener did not start");
        std::thread::sleep(Duration::from_millis(100));
    }
    let scaled = pool.json(&["cluster", "scale", "lab", "--group", "worker", "--nodes", "1"]);
    assert_eq!(scaled["nodes"].as_array().unwrap().len(), 2, "{scaled}");
    let deadline = Instant::now() + Duration::from_secs(10);
    loop {
        let got = pool.exec("lab/head-0", "cat /root/departed 2>/dev/null").1;
        if got == "bye worker-1 hello-lab\n" {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "on_destroy of worker-1 did not report: {got:?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    // The group's spec follows the scale.
    let shown = pool.json(&["cluster", "show", "lab"]);
    let worker = shown["spec"]["node_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "worker")
        .unwrap()
        .clone();
    assert_eq!(worker["count"], 1, "{shown}");
    assert!(
        pool.fails(&["cluster", "scale", "lab", "--nodes", "3"])
            .contains("invalid_request"),
        "several groups need --group"
    );
    // Scaling up again: the new worker-1 is a new node and runs on_create.
    pool.ok(&["cluster", "scale", "lab", "--group", "worker", "--nodes", "2"]);
    assert_eq!(
        out(&pool, "lab/worker-1", "cat /root/created"),
        "created worker-1 hello-lab\n"
    );

    let ids = pool.node_ids();
    pool.ok(&["cluster", "delete", "lab"]);
    let left = pool.leftovers(&ids, &[]);
    assert!(left.is_empty(), "left behind: {left:#?}");
}
