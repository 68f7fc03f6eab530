//! `GET /metrics` through the real router and SQLite store, with a fake host
//! registered but no agent: store gauges, the scheduler's and the API's histograms.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_server::Context;
use serde_json::json;

async fn call(ctx: &Arc<Context>, method: &str, path: &str, body: String, token: Option<&str>) -> (StatusCode, String) {
    let (status, _, bytes) = support::send(ctx, method, path, "application/json", body, token).await;
    (status, String::from_utf8(bytes).unwrap())
}

/// The value of the sample with exactly this name and these labels.
fn sample(text: &str, series: &str) -> Option<f64> {
    text.lines()
        .find_map(|l| l.strip_prefix(series)?.strip_prefix(' ')?.trim().parse().ok())
}

#[tokio::test]
async fn metrics_show_store_gauges_scheduler_and_api_latency() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;

    let pw = std::fs::read_to_string(corral_server::credential_path(&ctx)).unwrap();
    let login = json!({"name": "admin", "password": pw.trim()}).to_string();
    let (s, v) = call(&ctx, "POST", "/v1/login", login, None).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    let v: serde_json::Value = serde_json::from_str(&v).unwrap();
    let token = v["token"].as_str().unwrap().to_string();
    let spec = json!({"name": "demo", "image": "minimal", "nodes": 2, "resources": {"cpu": "0.5", "memory": "64MiB"}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec.to_string(), Some(&token)).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    corral_server::run_scheduler_pass(&ctx).unwrap();
    let (s, v) = call(&ctx, "GET", "/v1/clusters/demo", String::new(), Some(&token)).await;
    assert_eq!(s, StatusCode::OK, "{v}");

    // No token needed.
    let (s, m) = call(&ctx, "GET", "/metrics", String::new(), None).await;
    assert_eq!(s, StatusCode::OK, "{m}");
    assert!(m.ends_with("# EOF\n"), "{m}");
    let expect = [
        (
            r#"corral_nodes{cluster="demo",project="admin",host="h1",state="creating"}"#,
            2.0,
        ),
        (r#"corral_hosts{state="ready"}"#, 1.0),
        (r#"corral_hosts{state="unreachable"}"#, 0.0),
        (r#"corral_host_capacity_cpu_millis{host="h1"}"#, 4000.0),
        (r#"corral_host_capacity_memory_bytes{host="h1"}"#, (1u64 << 30) as f64),
        (r#"corral_host_used_memory_bytes{host="h1"}"#, (128u64 << 20) as f64),
        (r#"corral_host_used_cpu_millis{host="h1"}"#, 1000.0),
        (r#"corral_operations{kind="cluster.create",status="running"}"#, 1.0),
        (
            r#"corral_node_oom_kills_total{cluster="demo",project="admin",host="h1",node="node-0"}"#,
            0.0,
        ),
        // No accounting tick ran in this test (the loops are not started): zeros.
        (r#"corral_host_power_watts{host="h1",power_state="on"}"#, 0.0),
        (r#"corral_host_energy_joules{host="h1"}"#, 0.0),
        ("corral_scheduler_placements_total", 2.0),
        ("corral_scheduler_pass_duration_seconds_count", 1.0),
        (
            r#"corral_http_request_duration_seconds_count{method="POST",route="/v1/clusters",status="202"}"#,
            1.0,
        ),
        (
            r#"corral_http_request_duration_seconds_count{method="GET",route="/v1/clusters/{name}",status="200"}"#,
            1.0,
        ),
    ];
    for (series, want) in expect {
        assert_eq!(sample(&m, series), Some(want), "{series} in:\n{m}");
    }
    assert!(
        m.contains(r#"corral_http_request_duration_seconds_bucket{le="+Inf",method="GET",route="/v1/clusters/{name}",status="200"}"#)
            || m.contains(r#"corral_http_request_duration_seconds_bucket{method="GET",route="/v1/clusters/{name}",status="200",le="+Inf"}"#),
        "{m}"
    );
    assert!(
        !m.contains(r#"route="/v1/clusters/demo""#),
        "raw paths must not be labels:\n{m}"
    );

    // The scrape itself and unknown paths are timed too, the latter under one label.
    call(&ctx, "GET", "/v1/nope/123", String::new(), None).await;
    let (_, m) = call(&ctx, "GET", "/metrics", String::new(), None).await;
    assert_eq!(
        sample(
            &m,
            r#"corral_http_request_duration_seconds_count{method="GET",route="/metrics",status="200"}"#
        ),
        Some(1.0),
        "{m}"
    );
    assert_eq!(
        sample(
            &m,
            r#"corral_http_request_duration_seconds_count{method="GET",route="unmatched",status="404"}"#
        ),
        Some(1.0),
        "{m}"
    );
}
