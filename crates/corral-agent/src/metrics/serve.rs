//! `GET /metrics` of `corral agent --metrics-listen`: plain HTTP, for Prometheus.

use std::sync::Arc;

use axum::extract::State;
use axum::http::{header, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::Router;

use crate::agent::Agent;

/// Content type of the OpenMetrics text format, which Prometheus scrapes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Serves the agent's metrics on `listener` until the process ends.
pub async fn serve(listener: tokio::net::TcpListener, agent: Arc<Agent>) -> std::io::Result<()> {
    let app = Router::new().route("/metrics", get(metrics)).with_state(agent);
    axum::serve(listener, app).await
}

async fn metrics(State(agent): State<Arc<Agent>>) -> Response {
    let mut out = String::new();
    match agent
        .encode_metrics(&mut out)
        .and_then(|()| prometheus_client::encoding::text::encode_eof(&mut out))
    {
        Ok(()) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], out).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}\n")).into_response(),
    }
}
