//! The events stream: server-sent events of lifecycle changes, replay with `since`,
//! and per-user visibility.

mod support;

use support::{call, login};

use std::sync::Arc;
use std::time::Duration;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use corral_server::Context;
use http_body_util::BodyExt;
use serde_json::json;
use tower::ServiceExt;

async fn setup() -> (tempfile::TempDir, Arc<Context>) {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1"]).await;
    (dir, ctx)
}

/// Reads the stream until `want` appears in it or two seconds pass.
async fn read_until(body: &mut Body, want: &str) -> String {
    let mut seen = String::new();
    let deadline = tokio::time::Instant::now() + Duration::from_secs(2);
    while !seen.contains(want) {
        let left = deadline.saturating_duration_since(tokio::time::Instant::now());
        match tokio::time::timeout(left, body.frame()).await {
            Ok(Some(Ok(f))) => {
                if let Some(d) = f.data_ref() {
                    seen.push_str(&String::from_utf8_lossy(d));
                }
            }
            _ => break,
        }
    }
    seen
}

#[tokio::test]
async fn events_stream_live_and_replayed_and_only_ones_own() {
    let (_dir, ctx) = setup().await;
    let pw = std::fs::read_to_string(corral_server::credential_path(&ctx)).unwrap();
    let admin = login(&ctx, "admin", pw.trim()).await;
    let (s, _) = call(
        &ctx,
        "POST",
        "/v1/users",
        Some(&admin),
        Some(json!({"name": "bob", "password": "bob-password"})),
    )
    .await;
    assert_eq!(s, StatusCode::CREATED);
    let bob = login(&ctx, "bob", "bob-password").await;

    let open = |token: String, since: Option<u64>| {
        let ctx = ctx.clone();
        async move {
            let uri = match since {
                Some(s) => format!("/v1/events/stream?since={s}"),
                None => "/v1/events/stream".to_string(),
            };
            let req = Request::builder()
                .uri(uri)
                .header("authorization", format!("Bearer {token}"));
            let resp = corral_server::router(ctx)
                .oneshot(req.body(Body::empty()).unwrap())
                .await
                .unwrap();
            assert_eq!(resp.status(), StatusCode::OK);
            assert_eq!(resp.headers()["content-type"], "text/event-stream");
            resp.into_body()
        }
    };
    let mut admin_live = open(admin.clone(), None).await;
    let mut bob_live = open(bob.clone(), None).await;
    let (s, _) = call(
        &ctx,
        "POST",
        "/v1/clusters",
        Some(&admin),
        Some(json!({"name": "alpha", "image": "minimal", "nodes": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let seen = read_until(&mut admin_live, "cluster.created").await;
    assert!(
        seen.contains("event: cluster.created") && seen.contains("clusters/alpha"),
        "{seen}"
    );
    let bob_seen = read_until(&mut bob_live, "clusters/alpha").await;
    assert!(
        !bob_seen.contains("clusters/alpha"),
        "bob saw admin's cluster: {bob_seen}"
    );

    // Bob's own cluster of the same name: its events are his, and admin's `alpha`
    // events stay out of his lists (same target, other owner).
    let (s, _) = call(
        &ctx,
        "POST",
        "/v1/clusters",
        Some(&bob),
        Some(json!({"name": "alpha", "image": "minimal", "nodes": 1})),
    )
    .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    for path in ["/v1/clusters/alpha/events", "/v1/events"] {
        let (s, v) = call(&ctx, "GET", path, Some(&bob), None).await;
        assert_eq!(s, StatusCode::OK, "{v}");
        let events = v.as_array().unwrap();
        assert!(events.iter().any(|e| e["kind"] == "cluster.created"), "{path}: {v}");
        assert!(
            events.iter().all(|e| e["owner"] == "bob" || e["actor"] == "bob"),
            "{path}: bob sees another owner's events: {v}"
        );
    }
    let (_, v) = call(&ctx, "GET", "/v1/clusters/alpha/events", Some(&admin), None).await;
    assert!(
        v.as_array().unwrap().iter().all(|e| e["owner"] == "admin"),
        "admin's alpha shows only its own events: {v}"
    );

    // A client that reconnects with `since` gets what it missed.
    let mut replay = open(admin, Some(0)).await;
    let seen = read_until(&mut replay, "cluster.created").await;
    assert!(
        seen.contains("user.created") && seen.contains("cluster.created"),
        "{seen}"
    );
}
