//! Shared setup of the server's API tests (no root): a context over a fresh store,
//! hosts registered without agents (nodes are placed but never run), and a fake
//! `minimal` image record pointing at no content.

#![allow(dead_code)]

use std::sync::Arc;

use corral_agent::ControlPlane;
use corral_api::agent::HostCapacity;
use corral_server::{Context, InProcessControlPlane, ServerConfig};

/// A bootstrapped context over a store in `dir`, with no hosts and no images.
pub fn context(dir: &tempfile::TempDir) -> Arc<Context> {
    let store = Arc::new(corral_store::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let images = corral_image::ImageStore::open(&dir.path().join("images")).unwrap();
    let ctx = Context::new(store, images, ServerConfig::new(dir.path().join("server")));
    corral_server::bootstrap(&ctx).unwrap();
    ctx
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
