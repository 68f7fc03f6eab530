//! Shared setup of the server's API tests (no root): a context over a fresh store,
//! hosts registered without agents (nodes are placed but never run), and a fake
//! `minimal` image record pointing at no content.

#![allow(dead_code)]

use std::sync::Arc;

use axum::body::Body;
use axum::http::{HeaderMap, Request, StatusCode};
use corral_agent::ControlPlane;
use corral_api::agent::HostCapacity;
use corral_server::{Context, InProcessControlPlane, ServerConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

/// A bootstrapped context over a store in `dir`, with no hosts and no images.
pub fn context(dir: &tempfile::TempDir) -> Arc<Context> {
    context_with(dir, |_| {})
}

/// [`context`] with a server configuration that `configure` adjusts first.
pub fn context_with(dir: &tempfile::TempDir, configure: impl FnOnce(&mut ServerConfig)) -> Arc<Context> {
    let store = Arc::new(corral_store::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let images = corral_image::ImageStore::open(&dir.path().join("images")).unwrap();
    let mut cfg = ServerConfig::new(dir.path().join("server"));
    configure(&mut cfg);
    let ctx = Context::new(store, images, cfg);
    corral_server::bootstrap(&ctx).unwrap();
    ctx
}

/// One request through the real router: status, headers and the body's bytes.
pub async fn send(
    ctx: &Arc<Context>,
    method: &str,
    path: &str,
    content_type: &str,
    body: String,
    token: Option<&str>,
) -> (StatusCode, HeaderMap, Vec<u8>) {
    let mut req = Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", content_type);
    if let Some(t) = token {
        req = req.header("authorization", format!("Bearer {t}"));
    }
    let resp = corral_server::router(ctx.clone())
        .oneshot(req.body(Body::from(body)).unwrap())
        .await
        .unwrap();
    let (parts, body) = resp.into_parts();
    let bytes = body.collect().await.unwrap().to_bytes().to_vec();
    (parts.status, parts.headers, bytes)
}

/// A JSON request through the real router: status and JSON body (`Null` when not JSON).
pub async fn call(
    ctx: &Arc<Context>,
    method: &str,
    path: &str,
    token: Option<&str>,
    body: Option<Value>,
) -> (StatusCode, Value) {
    let body = body.map(|b| b.to_string()).unwrap_or_default();
    let (status, _, bytes) = send(ctx, method, path, "application/json", body, token).await;
    (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
}

/// A token for user `name`.
pub async fn login(ctx: &Arc<Context>, name: &str, password: &str) -> String {
    let body = serde_json::json!({"name": name, "password": password});
    let (s, v) = call(ctx, "POST", "/v1/login", None, Some(body)).await;
    assert_eq!(s, StatusCode::OK, "{v}");
    v["token"].as_str().unwrap().to_string()
}

/// A token for the bootstrap admin.
pub async fn admin_token(ctx: &Arc<Context>) -> String {
    login(ctx, "admin", &admin_password(ctx)).await
}

/// Registers a host with `cpu_millis`, `memory_bytes` and `labels`, as its agent would.
pub async fn register(ctx: &Arc<Context>, name: &str, cpu_millis: u64, memory_bytes: u64, labels: &[(&str, &str)]) {
    let req = corral_api::RegisterRequest {
        capacity: HostCapacity {
            cpu_millis,
            memory_bytes,
        },
        labels: labels.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect(),
        address: "127.0.0.1".into(),
        exec_address: String::new(),
    };
    InProcessControlPlane::new(ctx.clone())
        .register(name, req)
        .await
        .unwrap();
}

/// Records an image `minimal` with no content: enough for admission and placement.
pub fn fake_minimal_image(ctx: &Arc<Context>) {
    let manifest = corral_image::ImageManifest::new(vec![], Default::default(), 0);
    corral_server::ensure_builtin_image(ctx, "minimal", |_| Ok(manifest)).unwrap();
}

/// A context with `hosts` of 4 cpus and 1 GiB each and the fake `minimal` image.
pub async fn pool(dir: &tempfile::TempDir, hosts: &[&str]) -> Arc<Context> {
    let ctx = context(dir);
    for h in hosts {
        register(&ctx, h, 4000, 1 << 30, &[]).await;
    }
    fake_minimal_image(&ctx);
    ctx
}

/// The admin's bootstrap password.
pub fn admin_password(ctx: &Context) -> String {
    std::fs::read_to_string(corral_server::credential_path(ctx))
        .unwrap()
        .trim()
        .to_string()
}
