//! The controller: REST API, authentication, the state store and the control loops
//! (scheduler, operation tracker, cluster finaliser). Nothing here touches the
//! kernel: agents do, following the assignments this crate hands them.

mod agent_api;
mod bootstrap;
mod cluster;
mod consolidation;
mod context;
mod control_plane;
mod elastic;
mod energy;
mod error;
mod event;
mod exec;
mod health;
mod host;
mod host_channel;
mod http;
mod image;
mod in_cluster;
mod ipam;
mod join;
mod keys;
mod metrics;
mod metrics_history;
mod migration;
mod node;
mod operation;
mod pki;
mod power;
pub mod scheduler;
mod time;
mod tracker;
mod user;

pub use bootstrap::{credential_path, ensure_admin as bootstrap};
pub use consolidation::{pass as run_consolidation_pass, State as ConsolidationState};
pub use context::{Context, ServerConfig};
pub use control_plane::InProcessControlPlane;
pub use corral_policy::power::{PowerPolicy, Spare};
pub use elastic::{
    parse_sinfo, parse_squeue, Activity, ElasticManager, ProbeError, ProbeTarget, QueueProbe, QueueStatus, SlurmProbe,
};
pub use error::ServerError;

/// The API router, for tests that drive it without a socket.
pub fn router(ctx: Arc<Context>) -> axum::Router {
    http::router(ctx)
}
pub use image::ensure_builtin as ensure_builtin_image;
pub use scheduler::pass as run_scheduler_pass;

use std::sync::Arc;

/// Serves the agent API (mutual TLS) on `listener`; `names` are the DNS names and
/// addresses agents reach this server by, put in its certificate.
pub async fn serve_agents(
    ctx: Arc<Context>,
    listener: tokio::net::TcpListener,
    names: &[String],
) -> Result<(), ServerError> {
    let dir = ctx.cfg.data_dir.join("tls");
    let pki = pki::Pki::load(&dir, names).map_err(|e| ServerError::Internal(format!("pki: {e}")))?;
    let cfg = pki
        .server_config()
        .map_err(|e| ServerError::Internal(format!("tls: {e}")))?;
    let _ = ctx.pki.set(Arc::new(pki));
    let app = agent_api::router(ctx);
    tokio::spawn(async move {
        if let Err(e) = agent_api::serve_tls(listener, Arc::new(cfg), app).await {
            tracing::error!(error = %e, "agent API stopped");
        }
    });
    Ok(())
}

/// Starts the control loops and serves the API until the process ends.
pub async fn serve(ctx: Arc<Context>, listener: tokio::net::TcpListener) -> Result<(), ServerError> {
    tokio::spawn(scheduler::run(ctx.clone()));
    tokio::spawn(tracker::run(ctx.clone()));
    tokio::spawn(health::run(ctx.clone()));
    tokio::spawn(power::run(ctx.clone()));
    tokio::spawn(energy::run(ctx.clone()));
    tokio::spawn(elastic::run(ctx.clone()));
    tokio::spawn(migration::run(ctx.clone()));
    tokio::spawn(metrics_history::run(ctx.clone()));
    let app = http::router(ctx);
    axum::serve(listener, app)
        .await
        .map_err(|e| ServerError::Internal(format!("http server: {e}")))
}
