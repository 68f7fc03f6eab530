//! The agent's own listener, which only the pool's server may call (mutual TLS):
//! commands in this host's nodes, to completion or over a websocket, and saving a
//! node's writable layer as an image the server then pulls layer by layer.
//!
//! - `POST /v1/host/nodes/{id}/exec`: `ExecRequest` → `ExecResult`
//! - `GET  /v1/host/nodes/{id}/exec/ws`: the exec websocket (see `exec_ws`)
//! - `POST /v1/host/nodes/{id}/save`: `HostSaveRequest` → the new `ImageManifest`
//! - `GET  /v1/host/layers/{digest}`: a stored layer as an OCI tar stream

mod tls;

use std::sync::Arc;

use axum::extract::ws::WebSocketUpgrade;
use axum::extract::{Path, State};
use axum::http::StatusCode;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use corral_api::agent::HostSaveRequest;
use corral_api::{ApiError, ErrorCode, ExecRequest, ExecResult};
use corral_image::{ImageError, ImageManifest, ImageStore};
use corral_runtime::RuntimeError;

pub use tls::serve_tls;

use crate::control_plane::AgentError;
use crate::{exec, exec_ws, save, Agent};

/// What the handlers share.
#[derive(Clone)]
struct HostApi {
    agent: Arc<Agent>,
    images: ImageStore,
}

/// An error as the server reads it back: a status and an `ApiError` body.
struct HostApiError(ApiError);

impl From<AgentError> for HostApiError {
    fn from(e: AgentError) -> Self {
        let code = match &e {
            AgentError::Invalid(_) | AgentError::Runtime(RuntimeError::InvalidSpec(_)) => ErrorCode::InvalidRequest,
            AgentError::Runtime(RuntimeError::NotRunning(_)) => ErrorCode::Conflict,
            AgentError::Image(ImageError::NotFound(_)) => ErrorCode::NotFound,
            _ => ErrorCode::Internal,
        };
        HostApiError(ApiError::new(code, e.to_string()))
    }
}

impl IntoResponse for HostApiError {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

type Result<T> = std::result::Result<T, HostApiError>;

/// Node ids name directories here: keep them to what the runtime makes.
fn check_id(id: &str) -> Result<()> {
    let ok = !id.is_empty()
        && id
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if ok {
        Ok(())
    } else {
        Err(AgentError::Invalid(format!("bad node id {id:?}")).into())
    }
}

/// Routes of the agent's listener over `agent` and its image store.
pub fn router(agent: Arc<Agent>, images: ImageStore) -> Router {
    Router::new()
        .route("/v1/host/nodes/{id}/exec", post(exec_run))
        .route("/v1/host/nodes/{id}/exec/ws", get(exec_session))
        .route("/v1/host/nodes/{id}/save", post(save_node))
        .route("/v1/host/layers/{digest}", get(layer))
        .route("/v1/host/power-off", post(power_off))
        .with_state(HostApi { agent, images })
}

async fn power_off(State(api): State<HostApi>) -> Result<StatusCode> {
    api.agent.power_off()?;
    Ok(StatusCode::ACCEPTED)
}

async fn exec_run(
    State(api): State<HostApi>,
    Path(id): Path<String>,
    Json(req): Json<ExecRequest>,
) -> Result<Json<ExecResult>> {
    check_id(&id)?;
    Ok(Json(exec::run(&api.agent, &id, &req).await?))
}

async fn exec_session(State(api): State<HostApi>, Path(id): Path<String>, ws: WebSocketUpgrade) -> Result<Response> {
    check_id(&id)?;
    Ok(ws.on_upgrade(move |socket| {
        exec_ws::serve(socket, move |req| async move {
            exec::start(&api.agent, &id, &req).map_err(|e| e.to_string())
        })
    }))
}

async fn save_node(
    State(api): State<HostApi>,
    Path(id): Path<String>,
    Json(req): Json<HostSaveRequest>,
) -> Result<Json<ImageManifest>> {
    check_id(&id)?;
    let upper = api.agent.upper_dir(&id);
    let images = api.images.clone();
    let made = tokio::task::spawn_blocking(move || save::save_node(&images, &upper, &req.base))
        .await
        .map_err(|e| AgentError::Invalid(e.to_string()))??;
    Ok(Json(made))
}

/// The layer as an OCI tar stream, written by a blocking task into a pipe so a
/// large layer never sits in memory.
async fn layer(State(api): State<HostApi>, Path(digest): Path<String>) -> Result<Response> {
    api.images.existing_layer_path(&digest).map_err(AgentError::from)?;
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    tokio::task::spawn_blocking(move || {
        let mut out = tokio_util::io::SyncIoBridge::new(writer);
        if let Err(e) = api.images.export_layer(&digest, &mut out) {
            tracing::warn!(%digest, error = %e, "layer export failed");
        }
    });
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok(Response::new(body))
}
