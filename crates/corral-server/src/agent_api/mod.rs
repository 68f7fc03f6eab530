//! The agent API: what remote agents call, on its own listener with mutual TLS.
//! Only `join` works without a client certificate.

mod identity;
mod tls;

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::routing::{get, post};
use axum::{Json, Router};
use corral_agent::ControlPlane;
use corral_api::agent::{Assignments, ClusterRequest, MetricsReport, NodeAnswer, NodeReport};
use corral_api::{names, ApiError, ErrorCode, HostState, JoinRequest, JoinResponse, RegisterRequest};
use corral_store::{typed, Compare};
use serde::Deserialize;

pub use identity::AgentHost;
pub use tls::serve_tls;

use crate::context::Context;
use crate::control_plane::InProcessControlPlane;
use crate::host::HostRecord;
use crate::http::HttpError;
use crate::{event, join, keys};

type Result<T> = std::result::Result<T, HttpError>;

/// Routes of the agent API.
pub fn router(ctx: Arc<Context>) -> Router {
    Router::new()
        .route("/v1/agent/join", post(join_pool))
        .route("/v1/agent/register", post(register))
        .route("/v1/agent/assignments", get(assignments))
        .route("/v1/agent/reports", post(reports))
        .route("/v1/agent/heartbeat", post(heartbeat))
        .route("/v1/agent/metrics", post(metrics))
        .route("/v1/agent/cluster-requests", post(cluster_request))
        .route(
            "/v1/agent/nodes/{id}/upper",
            axum::routing::put(put_upper).get(get_upper),
        )
        .route("/v1/agent/manifests/{digest}", get(manifest))
        .route("/v1/agent/layers/{digest}", get(layer))
        .fallback(crate::http::not_found)
        .with_state(ctx)
}

fn internal(e: impl std::fmt::Display) -> HttpError {
    HttpError(ApiError::new(ErrorCode::Internal, e.to_string()))
}

/// `POST /v1/agent/join`: a one-time token buys a client certificate.
async fn join_pool(State(ctx): State<Arc<Context>>, Json(req): Json<JoinRequest>) -> Result<Json<JoinResponse>> {
    names::validate_name("host", &req.host)?;
    let pki = ctx
        .pki
        .get()
        .ok_or_else(|| internal("the agent API has no PKI"))?
        .clone();
    let existing = typed::get::<HostRecord>(ctx.store.as_ref(), &keys::host(&req.host))?;
    if let Some(d) = &existing {
        if d.value.state != HostState::Removed {
            return Err(ApiError::new(
                ErrorCode::AlreadyExists,
                format!("host {} is already in the pool", req.host),
            )
            .into());
        }
    }
    join::consume(&ctx, &req.token)?;
    let creds = pki
        .ca
        .sign_agent(&req.csr, &req.host)
        .map_err(|e| ApiError::invalid(format!("bad certificate request: {e}")))?;
    let rec = HostRecord {
        name: req.host.clone(),
        capacity: corral_api::agent::HostCapacity {
            cpu_millis: 0,
            memory_bytes: 0,
        },
        address: String::new(),
        exec_address: String::new(),
        labels: Default::default(),
        state: HostState::Ready,
        cert_fingerprint: Some(creds.fingerprint.clone()),
        last_seen: crate::time::now(),
        power_config: None,
        power: Default::default(),
    };
    let compare = match &existing {
        Some(d) => Compare::ModRevision(d.key.clone(), d.revision),
        None => Compare::Absent(keys::host(&req.host)),
    };
    let ops = vec![
        typed::put_op(&keys::host(&req.host), &rec)?,
        corral_store::Op::Put(keys::agent_cert(&creds.fingerprint), req.host.as_bytes().to_vec()),
    ];
    if ctx.store.txn(&[compare], &ops)?.is_none() {
        return Err(ApiError::new(ErrorCode::Conflict, format!("host {} joined meanwhile", req.host)).into());
    }
    event::record(
        &ctx,
        &req.host,
        &format!("hosts/{}", req.host),
        "host.joined",
        "joined the pool",
    );
    Ok(Json(JoinResponse {
        cert: creds.cert_pem,
        ca: creds.ca_pem,
    }))
}

/// `POST /v1/agent/register`.
async fn register(State(ctx): State<Arc<Context>>, host: AgentHost, Json(req): Json<RegisterRequest>) -> Result<()> {
    crate::host::register(&ctx, &host.0, req)?;
    Ok(())
}

#[derive(Debug, Deserialize)]
struct After {
    #[serde(default)]
    after: u64,
}

/// `GET /v1/agent/assignments?after=N`: long poll.
async fn assignments(
    State(ctx): State<Arc<Context>>,
    host: AgentHost,
    Query(q): Query<After>,
) -> Result<Json<Assignments>> {
    let cp = InProcessControlPlane::new(ctx);
    let a = cp.assignments(&host.0, q.after).await.map_err(internal)?;
    Ok(Json(a))
}

/// `POST /v1/agent/heartbeat`: the identity check already noted the host alive; a
/// host marked unreachable comes back to ready here.
async fn heartbeat(State(ctx): State<Arc<Context>>, host: AgentHost) -> Result<()> {
    crate::health::host_returned(&ctx, &host.0)?;
    Ok(())
}

/// `POST /v1/agent/reports`.
async fn reports(State(ctx): State<Arc<Context>>, host: AgentHost, Json(r): Json<Vec<NodeReport>>) -> Result<()> {
    crate::control_plane::apply_reports(&ctx, &host.0, &r)?;
    Ok(())
}

/// `POST /v1/agent/metrics`: samples of the host's nodes.
async fn metrics(State(ctx): State<Arc<Context>>, host: AgentHost, Json(r): Json<MetricsReport>) -> Result<()> {
    crate::control_plane::apply_metrics(&ctx, &host.0, &r)?;
    Ok(())
}

/// `POST /v1/agent/cluster-requests`: a node's request through the node API its
/// host's agent serves; the node must be on the calling host.
async fn cluster_request(
    State(ctx): State<Arc<Context>>,
    host: AgentHost,
    Json(r): Json<ClusterRequest>,
) -> Result<Json<NodeAnswer>> {
    Ok(Json(crate::in_cluster::handle(&ctx, &host.0, &r).await?))
}

/// `GET /v1/agent/manifests/{digest}`.
async fn manifest(
    State(ctx): State<Arc<Context>>,
    _host: AgentHost,
    Path(digest): Path<String>,
) -> Result<Json<corral_image::ImageManifest>> {
    let m = ctx
        .images
        .manifest(&digest)
        .map_err(|_| ApiError::not_found("image", &digest))?;
    Ok(Json(m))
}

/// `GET /v1/agent/layers/{digest}`: the layer as an OCI tar stream, written by a
/// blocking task into a pipe so a large layer never sits in memory.
async fn layer(
    State(ctx): State<Arc<Context>>,
    _host: AgentHost,
    Path(digest): Path<String>,
) -> Result<axum::response::Response> {
    ctx.images
        .existing_layer_path(&digest)
        .map_err(|_| ApiError::not_found("layer", &digest))?;
    let (reader, writer) = tokio::io::duplex(256 * 1024);
    let images = ctx.images.clone();
    tokio::task::spawn_blocking(move || {
        let mut out = tokio_util::io::SyncIoBridge::new(writer);
        if let Err(e) = images.export_layer(&digest, &mut out) {
            tracing::warn!(%digest, error = %e, "layer export failed");
        }
    });
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(reader));
    Ok(axum::response::Response::new(body))
}

/// `PUT /v1/agent/nodes/{id}/upper`: the source host of a migration sends the node's
/// writable layer; once stored, the node is assigned to its target.
async fn put_upper(
    State(ctx): State<Arc<Context>>,
    host: AgentHost,
    Path(id): Path<String>,
    req: axum::extract::Request,
) -> Result<()> {
    use futures_util::TryStreamExt;
    use tokio::io::AsyncWriteExt;
    let doc = crate::migration::find(&ctx, &id)?;
    if doc.value.migration.as_ref().map(|m| m.from.as_str()) != Some(host.0.as_str()) {
        return Err(ApiError::new(
            ErrorCode::Conflict,
            format!("node {id} is not migrating away from {}", host.0),
        )
        .into());
    }
    let tmp = crate::migration::upper_tmp_path(&ctx, &id);
    if let Some(dir) = tmp.parent() {
        tokio::fs::create_dir_all(dir).await.map_err(internal)?;
    }
    let mut file = tokio::fs::File::create(&tmp).await.map_err(internal)?;
    let mut body = req.into_body().into_data_stream();
    while let Some(chunk) = body
        .try_next()
        .await
        .map_err(|e| ApiError::new(ErrorCode::MalformedRequest, e.to_string()))?
    {
        file.write_all(&chunk).await.map_err(internal)?;
    }
    file.sync_all().await.map_err(internal)?;
    crate::migration::upper_received(&ctx, &host.0, &id)?;
    Ok(())
}

/// `GET /v1/agent/nodes/{id}/upper`: the target host of a migration fetches the layer.
async fn get_upper(
    State(ctx): State<Arc<Context>>,
    host: AgentHost,
    Path(id): Path<String>,
) -> Result<axum::response::Response> {
    let doc = crate::migration::find(&ctx, &id)?;
    if doc.value.migration.as_ref().map(|m| m.to.as_str()) != Some(host.0.as_str()) {
        return Err(ApiError::not_found("migration of node", &id).into());
    }
    let file = tokio::fs::File::open(crate::migration::upper_path(&ctx, &id))
        .await
        .map_err(|_| ApiError::not_found("writable layer of node", &id))?;
    let body = axum::body::Body::from_stream(tokio_util::io::ReaderStream::new(file));
    Ok(axum::response::Response::new(body))
}
