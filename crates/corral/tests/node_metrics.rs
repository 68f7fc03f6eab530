//! Root integration tests of node metrics: the history the API serves for charts,
//! and the Prometheus series of the agent, on one machine and across the test LAN.

mod common;

use std::collections::BTreeSet;
use std::process::Command;
use std::time::{Duration, Instant};

use common::lan::{wait, Lan, SERVER};
use common::Pool;
use serde_json::Value;

/// The token a CLI config file holds.
fn token_of(config: &std::path::Path) -> String {
    let v: Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
    v["token"].as_str().unwrap().to_string()
}

/// Polls `f` every half second for up to `secs`; returns its first `Some`.
fn try_poll<T>(secs: u64, mut f: impl FnMut() -> Option<T>) -> Option<T> {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while Instant::now() < deadline {
        if let Some(v) = f() {
            return Some(v);
        }
        std::thread::sleep(Duration::from_millis(500));
    }
    None
}

/// Like [`try_poll`], failing the test on time-out.
fn poll<T>(what: &str, secs: u64, f: impl FnMut() -> Option<T>) -> T {
    try_poll(secs, f).unwrap_or_else(|| panic!("timed out waiting for {what}"))
}

/// Metric family names declared twice in an exposition.
fn duplicate_families(text: &str) -> Vec<String> {
    let mut seen = BTreeSet::new();
    text.lines()
        .filter_map(|l| l.strip_prefix("# TYPE "))
        .filter_map(|l| l.split_whitespace().next())
        .filter(|name| !seen.insert(name.to_string()))
        .map(str::to_string)
        .collect()
}

/// The value of the series `name{labels}` in an exposition.
fn series(text: &str, name: &str, labels: &str) -> Option<f64> {
    let prefix = format!("{name}{{{labels}}} ");
    text.lines()
        .find_map(|l| l.strip_prefix(prefix.as_str()))
        .and_then(|v| v.split_whitespace().next())
        .and_then(|v| v.parse().ok())
}

#[test]
fn node_samples_show_load_and_traffic_to_the_owner_only() {
    let pool = Pool::start_with_env(&[("CORRAL_SAMPLE_INTERVAL", "1")]);
    let c = pool.json(&[
        "cluster", "create", "burn", "--image", "minimal", "--nodes", "1", "--cpu", "2", "--memory", "128MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let address = c["nodes"][0]["address"].as_str().unwrap().to_string();
    let admin = token_of(&pool.config);
    let get = |path: &str| -> Value {
        let (code, body) = pool.http("GET", path, Some(&admin), None);
        assert_eq!(code, 200, "{path}: {body}");
        serde_json::from_str(&body).unwrap()
    };
    let node_path = "/v1/clusters/burn/nodes/node-0/metrics";

    // Two busy loops for 5 s (the node may use two cpus): over 50% of one cpu in some
    // sample, even on a machine busy with other work; on a very busy one, burn again.
    let last_t = |m: &Value| {
        m["samples"]
            .as_array()
            .and_then(|s| s.last())
            .and_then(|s| s["t"].as_u64())
    };
    let mut busy = None;
    for _ in 0..3 {
        let started = last_t(&get(node_path)).unwrap_or(0);
        let (code, _, err) = pool.exec(
            "burn/node-0",
            "timeout 5 sh -c 'while :; do :; done' & timeout 5 sh -c 'while :; do :; done'; wait",
        );
        assert!(code == 0 || code == 124, "burner: {code} {err}");
        busy = try_poll(10, || {
            let m = get(&format!("{node_path}?since={started}"));
            let best = m["samples"]
                .as_array()?
                .iter()
                .filter_map(|s| s["cpu_percent"].as_f64())
                .fold(0.0, f64::max);
            (best > 50.0).then_some(m)
        });
        if busy.is_some() {
            break;
        }
    }
    let busy = busy.unwrap_or_else(|| panic!("no sample showed the burner: {}", get(node_path)));
    assert_eq!(busy["cluster"], "burn");
    assert_eq!(busy["node"], "node-0");
    assert_eq!(busy["interval_secs"], 1);
    let samples = busy["samples"].as_array().unwrap();
    assert!(samples.iter().all(|s| s["memory_bytes"].as_u64() > Some(0)), "{busy}");
    assert!(samples.iter().all(|s| s["disk_bytes"].as_u64().is_some()), "{busy}");
    assert!(
        samples.windows(2).all(|w| w[0]["t"].as_u64() < w[1]["t"].as_u64()),
        "{busy}"
    );

    // Traffic: the host pings the node, which receives the requests and sends replies.
    let scraped = |pool: &Pool| pool.http("GET", "/metrics", None, None).1;
    let labels = "cluster=\"burn\",project=\"admin\",host=\"testhost\",node=\"node-0\"";
    let before = scraped(&pool);
    let rx0 = series(&before, "corral_node_network_receive_bytes_total", labels).expect(&before);
    let tx0 = series(&before, "corral_node_network_transmit_bytes_total", labels).expect(&before);
    let last = last_t(&get(node_path)).unwrap();
    let ping = pool
        .in_netns("ping")
        .args(["-c", "10", "-i", "0.2", "-s", "1000", &address])
        .output()
        .unwrap();
    assert!(ping.status.success(), "{}", String::from_utf8_lossy(&ping.stdout));
    poll("samples showing the ping both ways", 30, || {
        let m = get(&format!("{node_path}?since={last}"));
        let s = m["samples"].as_array()?;
        let rx = s
            .iter()
            .filter_map(|s| s["rx_bytes_per_sec"].as_f64())
            .fold(0.0, f64::max);
        let tx = s
            .iter()
            .filter_map(|s| s["tx_bytes_per_sec"].as_f64())
            .fold(0.0, f64::max);
        // 10 pings of ~1 KB over 2 s: well over 1 KB/s each way in some sample.
        (rx > 1000.0 && tx > 1000.0).then_some(())
    });

    // The server's /metrics (corral up) carries the agent's series, labelled, with no
    // family declared twice.
    let after = poll("the agent's counters to move", 15, || {
        let text = scraped(&pool);
        let rx = series(&text, "corral_node_network_receive_bytes_total", labels)?;
        let tx = series(&text, "corral_node_network_transmit_bytes_total", labels)?;
        (rx >= rx0 + 10_000.0 && tx >= tx0 + 10_000.0).then_some(text)
    });
    assert!(
        series(&after, "corral_node_cpu_seconds_total", labels).is_some_and(|v| v > 0.5),
        "{after}"
    );
    assert!(
        series(&after, "corral_node_memory_bytes", labels).is_some_and(|v| v > 0.0),
        "{after}"
    );
    assert!(series(&after, "corral_node_disk_bytes", labels).is_some(), "{after}");
    assert!(
        series(
            &after,
            "corral_agent_reconcile_steps_total",
            "host=\"testhost\",outcome=\"running\""
        )
        .is_some_and(|v| v >= 1.0),
        "{after}"
    );
    assert!(
        after.contains("corral_agent_step_duration_seconds_count{host=\"testhost\"}"),
        "{after}"
    );
    assert!(after.contains("corral_nodes{cluster=\"burn\",project=\"admin\",host=\"testhost\",state=\"running\"} 1"));
    assert!(
        duplicate_families(&after).is_empty(),
        "{:?}",
        duplicate_families(&after)
    );

    // The cluster route lists the node too.
    let all = get("/v1/clusters/burn/metrics");
    assert_eq!(all.as_array().unwrap().len(), 1, "{all}");
    assert_eq!(all[0]["node"], "node-0");
    assert!(!all[0]["samples"].as_array().unwrap().is_empty());

    // A bad query is a 400 with the API's error body.
    let (code, body) = pool.http("GET", &format!("{node_path}?since=yesterday"), Some(&admin), None);
    assert_eq!(code, 400, "{body}");
    assert!(body.contains("invalid_request"), "{body}");

    // Another user sees nothing: 404, as for the cluster itself.
    let bob = pool.new_user("bob", "bob-password-1");
    let t = bob.token();
    for path in [
        "/v1/clusters/burn/metrics",
        "/v1/clusters/burn/metrics?owner=admin",
        node_path,
        "/v1/clusters/burn/nodes/node-0/metrics?owner=admin",
    ] {
        let (code, body) = pool.http("GET", path, Some(&t), None);
        assert_eq!(code, 404, "{path}: {body}");
        assert!(body.contains("not_found"), "{body}");
    }
    let (code, _) = pool.http("GET", node_path, None, None);
    assert_eq!(code, 401);

    pool.ok(&["cluster", "delete", "burn"]);
    let (code, _) = pool.http("GET", node_path, Some(&admin), None);
    assert_eq!(code, 404);
}

#[test]
fn a_remote_agents_samples_reach_the_server() {
    let mut lan = Lan::start();
    let t = lan.token();
    let h = lan.add_host(&t, "");
    lan.wait_ready_hosts(1);
    let c = lan.json(&[
        "cluster", "create", "far", "--image", "minimal", "--nodes", "1", "--cpu", "0.5", "--memory", "64MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let token = token_of(&lan.tmp.path().join("cli.json"));
    let curl = |url: &str, token: Option<&str>| -> String {
        let mut c = Command::new("nsenter");
        c.arg(format!("--net=/run/netns/{}", lan.server_ns))
            .args(["curl", "-sS", "--max-time", "10", url]);
        if let Some(t) = token {
            c.arg("-H").arg(format!("Authorization: Bearer {t}"));
        }
        String::from_utf8_lossy(&c.output().unwrap().stdout).into_owned()
    };
    // The agent samples every 10 s by default: the second sample makes the first rate.
    let url = format!("http://{SERVER}:7700/v1/clusters/far/metrics");
    let mut found = Value::Null;
    wait("a sample from the remote agent", || {
        let v: Value = serde_json::from_str(&curl(&url, Some(&token))).unwrap_or(Value::Null);
        let ok = v[0]["samples"]
            .as_array()
            .is_some_and(|s| s.iter().any(|s| s["memory_bytes"].as_u64() > Some(0)));
        found = v;
        ok
    });
    assert_eq!(found[0]["node"], "node-0", "{found}");
    assert_eq!(found[0]["interval_secs"], 10, "{found}");

    // The agent's own Prometheus endpoint (default <--address>:7703) labels the node.
    let host = &lan.hosts[h];
    let text = curl(&format!("http://{}:7703/metrics", host.address), None);
    let labels = format!(
        "cluster=\"far\",project=\"admin\",host=\"{}\",node=\"node-0\"",
        host.name
    );
    assert!(
        series(&text, "corral_node_memory_bytes", &labels).is_some_and(|v| v > 0.0),
        "{text}"
    );
    assert!(
        series(&text, "corral_node_cpu_seconds_total", &labels).is_some(),
        "{text}"
    );
    assert!(text.ends_with("# EOF\n"), "{text}");
    assert!(duplicate_families(&text).is_empty(), "{text}");
    let del = lan.cli(&["cluster", "delete", "far"]);
    assert!(del.status.success(), "{}", String::from_utf8_lossy(&del.stderr));
}
