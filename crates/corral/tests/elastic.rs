//! Root integration test of elasticity: a real `corral up` whose elasticity manager
//! grows a group when a cpu burner runs in one of its nodes, with the reason in the
//! cluster's events, and shrinks it back to its minimum when the burner stops.

mod common;

use std::time::{Duration, Instant};

use common::Pool;
use serde_json::Value;

/// Polls `f` every half second for up to `secs`; returns its first `Some`.
fn poll<T>(what: &str, secs: u64, mut f: impl FnMut() -> Option<T>) -> T {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return v;
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    panic!("timed out waiting for {what}");
}

/// Live workers of cluster `demo`.
fn workers(pool: &Pool) -> usize {
    let c = pool.json(&["cluster", "show", "demo"]);
    c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["group"] == "worker" && n["state"] != "deleting")
        .count()
}

/// Messages of the elasticity manager's `cluster.scaled` events.
fn scaled(pool: &Pool) -> Vec<String> {
    let events = pool.json(&["cluster", "events", "demo"]);
    events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "cluster.scaled" && e["actor"] == "elastic")
        .map(|e| e["message"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn busy_cpu_grows_the_group_and_idle_cpu_shrinks_it_back() {
    let pool = Pool::start_with_env(&[("CORRAL_SAMPLE_INTERVAL", "1"), ("CORRAL_ELASTIC_INTERVAL", "1")]);
    // A fifth of a cpu per node, so one busy loop is all of a node's share.
    let spec = pool.dir().join("elastic.yaml");
    std::fs::write(
        &spec,
        "name: demo\nimage: minimal\nresources: {cpu: '0.2', memory: 64MiB}\nnode_groups:\n  - name: worker\n    count: 1\n    elastic:\n      min: 1\n      max: 3\n      cooldown: 5\n      metrics: {window: 10, scale_out_above: 50, scale_in_below: 20}\n",
    )
    .unwrap();
    let c = pool.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let shown = pool.ok(&["cluster", "show", "demo"]);
    assert!(
        shown.contains("Elastic:") && shown.contains("worker 1–3 nodes"),
        "{shown}"
    );

    // A busy loop left running in the node, stopped later by its pid.
    let (code, _, err) = pool.exec(
        "demo/worker-0",
        "sh -c 'while :; do :; done' </dev/null >/dev/null 2>&1 & echo $! >/tmp/burner.pid",
    );
    assert_eq!(code, 0, "burner: {err}");
    let reason = poll("the group to grow", 45, || {
        scaled(&pool).into_iter().find(|m| m.starts_with("scaled worker 1→2: "))
    });
    assert!(
        reason.contains("mean cpu") && reason.contains("over 10 s, above 50%"),
        "{reason}"
    );
    poll("a second worker", 10, || (workers(&pool) >= 2).then_some(()));
    let shown = pool.ok(&["cluster", "show", "demo"]);
    assert!(shown.contains("Scaled:") && shown.contains("by elastic"), "{shown}");

    let (code, _, err) = pool.exec("demo/worker-0", "kill $(cat /tmp/burner.pid)");
    assert_eq!(code, 0, "kill: {err}");
    poll("the group to shrink back to one", 60, || {
        (workers(&pool) == 1).then_some(())
    });
    let events = scaled(&pool);
    let last = events.last().unwrap();
    assert!(
        last.contains("→1: mean cpu") && last.ends_with("below 20%"),
        "{events:?}"
    );
    // The burner's node stayed: the youngest nodes went first.
    let c: Value = pool.json(&["cluster", "show", "demo"]);
    let names: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|n| n["state"] != "deleting")
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["worker-0"], "{c}");
    pool.ok(&["cluster", "delete", "demo"]);
}
