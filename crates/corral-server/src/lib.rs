//! The controller: REST API, authentication, the state store and the control loops
//! (scheduler, operation tracker, cluster finaliser). Nothing here touches the
//! kernel: agents do, following the assignments this crate hands them.

mod bootstrap;
mod cluster;
mod context;
mod control_plane;
mod error;
mod event;
mod exec;
mod host;
mod http;
mod image;
mod ipam;
mod keys;
mod node;
mod operation;
mod scheduler;
mod time;
mod tracker;
mod user;

pub use bootstrap::{credential_path, ensure_admin as bootstrap};
pub use context::{Context, ServerConfig};
pub use control_plane::InProcessControlPlane;
pub use error::ServerError;

/// The API router, for tests that drive it without a socket.
pub fn router(ctx: Arc<Context>) -> axum::Router {
    http::router(ctx)
}
pub use image::ensure_builtin as ensure_builtin_image;
pub use scheduler::pass as run_scheduler_pass;

use std::sync::Arc;

/// Starts the control loops and serves the API until the process ends.
pub async fn serve(
    ctx: Arc<Context>,
    listener: tokio::net::TcpListener,
) -> Result<(), ServerError> {
    tokio::spawn(scheduler::run(ctx.clone()));
    tokio::spawn(tracker::run(ctx.clone()));
    let app = http::router(ctx);
    axum::serve(listener, app)
        .await
        .map_err(|e| ServerError::Internal(format!("http server: {e}")))
}
