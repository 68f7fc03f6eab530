//! The metrics history through the real router and SQLite store, fed through the
//! in-process control plane as an agent would: only the node's own host is heard,
//! `since` filters, others get 404.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_agent::ControlPlane;
use corral_api::agent::{MetricsReport, NodeSamples};
use corral_api::NodeSample;
use corral_server::{Context, InProcessControlPlane};
use serde_json::{json, Value};

/// [`support::call`] with `""` for no token and `Null` for no body.
async fn call(ctx: &Arc<Context>, method: &str, path: &str, body: Value, token: &str) -> (StatusCode, Value) {
    let token = Some(token).filter(|t| !t.is_empty());
    support::call(ctx, method, path, token, Some(body).filter(|b| !b.is_null())).await
}

fn sample(t: u64, cpu: f64) -> NodeSample {
    NodeSample {
        t,
        cpu_percent: cpu,
        memory_bytes: 32 << 20,
        rx_bytes_per_sec: 100.0,
        tx_bytes_per_sec: 50.0,
        disk_bytes: 8192,
    }
}

fn report(id: &str, samples: Vec<NodeSample>) -> MetricsReport {
    MetricsReport {
        interval_secs: 10,
        nodes: vec![NodeSamples {
            id: id.to_string(),
            samples,
        }],
    }
}

#[tokio::test]
async fn samples_of_a_node_are_kept_for_its_owner() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1", "h2"]).await;
    let cp = InProcessControlPlane::new(ctx.clone());
    let pw = std::fs::read_to_string(corral_server::credential_path(&ctx)).unwrap();
    let admin = support::login(&ctx, "admin", pw.trim()).await;
    let spec = json!({"name": "demo", "image": "minimal", "nodes": 1, "resources": {"cpu": "0.5", "memory": "64MiB"}});
    let (s, v) = call(&ctx, "POST", "/v1/clusters", spec, &admin).await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    corral_server::run_scheduler_pass(&ctx).unwrap();

    // The node's host, and the other one.
    let (mine, other) = {
        let a = cp.assignments("h1", 0).await.unwrap();
        if a.nodes.is_empty() {
            ("h2", "h1")
        } else {
            ("h1", "h2")
        }
    };
    let id = cp.assignments(mine, 0).await.unwrap().nodes[0].id.clone();
    let path = "/v1/clusters/demo/nodes/node-0/metrics";

    // Nothing yet: the node is listed with no samples.
    let (s, v) = call(&ctx, "GET", path, Value::Null, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["samples"], json!([]));

    cp.metrics(mine, report(&id, vec![sample(1000, 12.5), sample(1010, 99.0)]))
        .await
        .unwrap();
    // Another host cannot write into the node's history.
    cp.metrics(other, report(&id, vec![sample(1020, 1.0)])).await.unwrap();
    let (s, v) = call(&ctx, "GET", path, Value::Null, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["cluster"], "demo");
    assert_eq!(v["node"], "node-0");
    assert_eq!(v["interval_secs"], 10);
    let ts: Vec<u64> = v["samples"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| s["t"].as_u64().unwrap())
        .collect();
    assert_eq!(ts, vec![1000, 1010], "{v}");
    assert_eq!(v["samples"][1]["cpu_percent"], 99.0);
    assert_eq!(v["samples"][1]["memory_bytes"], 32 << 20);

    let (s, v) = call(&ctx, "GET", &format!("{path}?since=1000"), Value::Null, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["samples"].as_array().unwrap().len(), 1, "{v}");
    let (s, v) = call(&ctx, "GET", "/v1/clusters/demo/metrics?since=0", Value::Null, &admin).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v.as_array().unwrap().len(), 1, "{v}");
    assert_eq!(v[0]["samples"].as_array().unwrap().len(), 2, "{v}");

    // Bad input is a 400 with a stable code; unknown nodes and clusters are 404.
    let (s, v) = call(&ctx, "GET", &format!("{path}?since=-1"), Value::Null, &admin).await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
    assert_eq!(v["code"], "invalid_request");
    let (s, _) = call(
        &ctx,
        "GET",
        "/v1/clusters/demo/nodes/node-9/metrics",
        Value::Null,
        &admin,
    )
    .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
    let (s, _) = call(&ctx, "GET", "/v1/clusters/nope/metrics", Value::Null, &admin).await;
    assert_eq!(s, StatusCode::NOT_FOUND);

    // Another user sees nothing of it, even naming the owner.
    let user = json!({"name": "eve", "password": "eve-password-1"});
    let (s, v) = call(&ctx, "POST", "/v1/users", user, &admin).await;
    assert!(s.is_success(), "{v}");
    let eve = support::login(&ctx, "eve", "eve-password-1").await;
    for p in [
        "/v1/clusters/demo/metrics",
        "/v1/clusters/demo/metrics?owner=admin",
        path,
        "/v1/clusters/demo/nodes/node-0/metrics?owner=admin",
    ] {
        let (s, v) = call(&ctx, "GET", p, Value::Null, &eve).await;
        assert_eq!(s, StatusCode::NOT_FOUND, "{p}: {v}");
        assert_eq!(v["code"], "not_found");
    }
}
