//! Root integration tests of a cluster's life on one machine, through the real CLI.

mod common;

use common::Pool;

fn hosts_names(pool: &Pool, node: &str) -> Vec<String> {
    let (code, out, err) = pool.exec(node, "cat /etc/hosts");
    assert_eq!(code, 0, "{err}");
    let mut v: Vec<String> = out
        .lines()
        .filter(|l| l.starts_with("10."))
        .filter_map(|l| l.split_whitespace().nth(1).map(str::to_string))
        .collect();
    v.sort();
    v
}

#[test]
fn create_scale_stop_start_delete_leaves_nothing() {
    let pool = Pool::start();
    let c = pool.json(&[
        "cluster", "create", "life", "--image", "minimal", "--nodes", "3", "--cpu", "0.5", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let nodes = c["nodes"].as_array().unwrap();
    assert_eq!(nodes.len(), 3);
    let subnet = c["network"]["subnet"].as_str().unwrap().to_string();

    // Names resolve and nodes reach each other.
    let (code, out, err) = pool.exec("life/node-0", "ping -c1 -W2 node-2");
    assert_eq!(code, 0, "ping node-2: {out}{err}");
    assert_eq!(pool.exec("life/node-1", "hostname").1.trim(), "node-1");

    // Scale up: every node's hosts file lists all five.
    pool.ok(&["cluster", "scale", "life", "--nodes", "5"]);
    let all5: Vec<String> = (0..5).map(|i| format!("node-{i}")).collect();
    for i in 0..5 {
        assert_eq!(hosts_names(&pool, &format!("life/node-{i}")), all5);
    }
    // Scale down: the highest go, the rest forget them.
    pool.ok(&["cluster", "scale", "life", "--nodes", "2"]);
    let nodes = pool.json(&["node", "list", "life"]);
    assert_eq!(nodes.as_array().unwrap().len(), 2, "{nodes}");
    for i in 0..2 {
        assert_eq!(hosts_names(&pool, &format!("life/node-{i}")), ["node-0", "node-1"]);
    }

    // Stop/start keeps the writable layer and the addresses.
    let before = pool.json(&["node", "list", "life"]);
    assert_eq!(pool.exec("life/node-1", "echo kept > /root/mark").0, 0);
    let stopped = pool.json(&["cluster", "stop", "life"]);
    assert_eq!(stopped["state"], "stopped", "{stopped}");
    pool.ok(&["cluster", "start", "life"]);
    assert_eq!(pool.exec("life/node-1", "cat /root/mark").1.trim(), "kept");
    let after = pool.json(&["node", "list", "life"]);
    let addrs = |v: &serde_json::Value| {
        v.as_array()
            .unwrap()
            .iter()
            .map(|n| n["address"].clone())
            .collect::<Vec<_>>()
    };
    assert_eq!(addrs(&before), addrs(&after));

    // Delete leaves nothing behind.
    let ids = pool.node_ids();
    assert!(!ids.is_empty());
    pool.ok(&["cluster", "delete", "life"]);
    let left = pool.leftovers(&ids, &[subnet]);
    assert!(left.is_empty(), "left behind: {left:#?}");
    assert!(pool.fails(&["cluster", "show", "life"]).contains("not_found"));
}

#[test]
fn bad_requests_get_clear_errors_and_change_nothing() {
    let pool = Pool::start();
    let cases: &[(&[&str], &str)] = &[
        (
            &["cluster", "create", "Bad_Name", "--image", "minimal", "--nodes", "1"],
            "invalid_name",
        ),
        (
            &["cluster", "create", "x", "--image", "nope", "--nodes", "1"],
            "unknown_image",
        ),
        (
            &[
                "cluster", "create", "big", "--image", "minimal", "--nodes", "1", "--memory", "4096GiB",
            ],
            "insufficient_capacity",
        ),
        (
            &["cluster", "create", "many", "--image", "minimal", "--nodes", "5000"],
            "invalid_request",
        ),
        (
            &[
                "cluster", "create", "cpu", "--image", "minimal", "--nodes", "1", "--cpu", "500",
            ],
            "insufficient_capacity",
        ),
    ];
    for (args, code) in cases {
        let err = pool.fails(args);
        assert!(err.contains(code), "{args:?}: expected {code}, got {err}");
    }
    pool.ok(&[
        "cluster", "create", "dup", "--image", "minimal", "--nodes", "1", "--memory", "32MiB",
    ]);
    assert!(pool
        .fails(&["cluster", "create", "dup", "--image", "minimal", "--nodes", "1"])
        .contains("already_exists"));
    let list = pool.json(&["cluster", "list"]);
    assert_eq!(
        list.as_array().unwrap().len(),
        1,
        "only the good cluster exists: {list}"
    );
    pool.ok(&["cluster", "delete", "dup"]);
}
