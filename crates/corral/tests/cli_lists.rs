//! Root integration test of the CLI's list flags against a real `corral up`: filters,
//! `--limit` with the next page's cursor on stderr, `--after` to get that page.

mod common;

use common::Pool;

/// The `name` fields of a JSON list printed by `-o json`.
fn names(v: &serde_json::Value) -> Vec<String> {
    v.as_array()
        .unwrap_or_else(|| panic!("not a list: {v}"))
        .iter()
        .map(|x| x["name"].as_str().unwrap().to_string())
        .collect()
}

#[test]
fn list_flags_filter_and_page() {
    let pool = Pool::start();
    pool.ok(&["cluster", "create", "lst-a", "--image", "minimal", "--memory", "32MiB"]);
    pool.ok(&["cluster", "create", "lst-b", "--image", "minimal", "--memory", "32MiB"]);
    pool.ok(&["cluster", "stop", "lst-b"]);

    assert_eq!(names(&pool.json(&["cluster", "list", "--state", "running"])), ["lst-a"]);
    assert_eq!(names(&pool.json(&["cluster", "list", "--state", "stopped"])), ["lst-b"]);
    assert_eq!(
        names(&pool.json(&["cluster", "list", "--prefix", "lst-"])),
        ["lst-a", "lst-b"]
    );
    let stopped = pool.json(&["node", "list", "lst-b", "--state", "stopped"]);
    assert_eq!(names(&stopped), ["node-0"]);
    assert_eq!(names(&pool.json(&["host", "list", "--state", "ready"])), ["testhost"]);

    // One per page: stdout has the page (still one JSON array), stderr the cursor.
    let out = pool
        .cmd(&["cluster", "list", "--limit", "1", "-o", "json"])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
    let first: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&first), ["lst-a"]);
    let note = String::from_utf8_lossy(&out.stderr);
    let cursor = note
        .split_whitespace()
        .skip_while(|w| *w != "--after")
        .nth(1)
        .unwrap_or_else(|| panic!("no cursor in {note:?}"))
        .to_string();
    let out = pool
        .cmd(&["cluster", "list", "--limit", "1", "--after", &cursor, "-o", "json"])
        .output()
        .unwrap();
    let second: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(names(&second), ["lst-b"]);
    assert!(
        out.stderr.is_empty(),
        "the last page has no next: {}",
        String::from_utf8_lossy(&out.stderr)
    );

    // Operations and events by what they concern.
    let ops = pool.json(&[
        "operation",
        "list",
        "--target",
        "clusters/lst-b",
        "--kind",
        "cluster.stop",
    ]);
    assert_eq!(ops.as_array().map(Vec::len), Some(1), "{ops}");
    let events = pool.json(&["event", "list", "--target", "clusters/lst-a", "--limit", "1"]);
    assert_eq!(
        events[0]["target"].as_str().map(|t| t.starts_with("clusters/lst-a")),
        Some(true)
    );

    // A bad filter is the server's clear 400, not a crash.
    let err = pool.fails(&["cluster", "list", "--state", "asleep"]);
    assert!(err.contains("unknown variant `asleep`"), "{err}");

    for c in ["lst-a", "lst-b"] {
        pool.ok(&["cluster", "delete", c]);
    }
}
