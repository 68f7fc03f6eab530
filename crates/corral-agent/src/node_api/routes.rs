//! The node API's HTTP side, for one node: requests become [`ClusterRequest`]s to
//! the server with the credential the node presented; the server decides and its
//! answer (or refusal) goes back as it is.

use std::sync::Arc;

use axum::body::Bytes;
use axum::extract::{DefaultBodyLimit, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use corral_api::agent::{ClusterRequest, NodeAnswer, NodeRequest};
use corral_api::node_api::NodeScaleRequest;
use corral_api::{ApiError, ErrorCode};

use crate::control_plane::{AgentError, ControlPlane};

/// Largest request body: a scale request is a few hundred bytes.
const BODY_LIMIT: usize = 64 * 1024;

/// The node a listener serves and how it reaches the server.
pub(crate) struct Caller {
    /// Runtime id of the node.
    pub id: String,
    /// This host, as the server knows it.
    pub host: String,
    /// The agent's way to the server.
    pub cp: Arc<dyn ControlPlane>,
}

/// Routes of one node's listener.
pub(crate) fn router(caller: Arc<Caller>) -> Router {
    Router::new()
        .route("/v1/self", get(describe))
        .route("/v1/scale", post(scale))
        .fallback(not_found)
        .layer(DefaultBodyLimit::max(BODY_LIMIT))
        .with_state(caller)
}

/// An `ApiError` body with the status of its code.
struct Refusal(ApiError);

impl IntoResponse for Refusal {
    fn into_response(self) -> Response {
        let status = StatusCode::from_u16(self.0.code.http_status()).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
        (status, Json(self.0)).into_response()
    }
}

impl From<AgentError> for Refusal {
    fn from(e: AgentError) -> Self {
        match e {
            AgentError::Refused(e) => Refusal(e),
            other => Refusal(ApiError::new(
                ErrorCode::Internal,
                format!("cannot reach the Corral server: {other}"),
            )),
        }
    }
}

/// The bearer credential of a request; empty without one, for the server to refuse.
fn credential(headers: &HeaderMap) -> String {
    headers
        .get(axum::http::header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.strip_prefix("Bearer "))
        .map(|v| v.trim().to_string())
        .unwrap_or_default()
}

impl Caller {
    async fn ask(&self, headers: &HeaderMap, request: NodeRequest) -> Result<NodeAnswer, Refusal> {
        let req = ClusterRequest {
            node_id: self.id.clone(),
            credential: credential(headers),
            request,
        };
        Ok(self.cp.cluster_request(&self.host, req).await?)
    }
}

fn unexpected() -> Refusal {
    Refusal(ApiError::new(
        ErrorCode::Internal,
        "the server answered another request",
    ))
}

/// `GET /v1/self`.
async fn describe(State(c): State<Arc<Caller>>, headers: HeaderMap) -> Response {
    match c.ask(&headers, NodeRequest::Describe).await {
        Ok(NodeAnswer::Describe(me)) => Json(me).into_response(),
        Ok(_) => unexpected().into_response(),
        Err(e) => e.into_response(),
    }
}

/// `POST /v1/scale`. The body is read as JSON whatever its content type: `curl -d`
/// and busybox `wget --post-data` send it as a form.
async fn scale(State(c): State<Arc<Caller>>, headers: HeaderMap, body: Bytes) -> Response {
    let req: NodeScaleRequest = match serde_json::from_slice(&body) {
        Ok(r) => r,
        Err(e) => {
            return Refusal(ApiError::new(
                ErrorCode::MalformedRequest,
                format!(
                    "the body must be JSON such as {{\"group\":\"worker\",\"nodes\":2}}, \
                     {{\"group\":\"worker\",\"change\":-1}} or {{\"group\":\"worker\",\"add\":[\"worker-3\"]}}: {e}"
                ),
            ))
            .into_response()
        }
    };
    match c.ask(&headers, NodeRequest::Scale(req)).await {
        Ok(NodeAnswer::Scale(done)) => Json(done).into_response(),
        Ok(_) => unexpected().into_response(),
        Err(e) => e.into_response(),
    }
}

async fn not_found(uri: axum::http::Uri) -> Response {
    Refusal(ApiError::new(
        ErrorCode::NotFound,
        format!(
            "no such endpoint: {} (the node API has GET /v1/self and POST /v1/scale)",
            uri.path()
        ),
    ))
    .into_response()
}

#[cfg(test)]
mod tests {
    use super::*;
    use async_trait::async_trait;
    use corral_api::agent::{Assignments, MetricsReport, NodeReport};
    use corral_api::node_api::NodeScaleResponse;
    use corral_api::RegisterRequest;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    #[test]
    fn the_bearer_credential_or_nothing() {
        let mut h = HeaderMap::new();
        assert_eq!(credential(&h), "");
        h.insert("authorization", "Bearer abc123 ".parse().unwrap());
        assert_eq!(credential(&h), "abc123");
        h.insert("authorization", "Basic abc123".parse().unwrap());
        assert_eq!(credential(&h), "");
    }

    /// A server that knows one credential, "good", and is out of patience after it.
    struct FakeServer;

    #[async_trait]
    impl ControlPlane for FakeServer {
        async fn register(&self, _: &str, _: RegisterRequest) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn assignments(&self, _: &str, _: u64) -> Result<Assignments, AgentError> {
            unreachable!()
        }
        async fn report(&self, _: &str, _: Vec<NodeReport>) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn upload_upper(&self, _: &str, _: &str, _: &std::path::Path) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn download_upper(&self, _: &str, _: &str, _: &std::path::Path) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn metrics(&self, _: &str, _: MetricsReport) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn heartbeat(&self, _: &str) -> Result<(), AgentError> {
            unreachable!()
        }
        async fn cluster_request(&self, host: &str, req: ClusterRequest) -> Result<NodeAnswer, AgentError> {
            assert_eq!((host, req.node_id.as_str()), ("h1", "c0ffee00-head-0"));
            if req.credential != "good" {
                return Err(AgentError::Refused(ApiError::new(
                    ErrorCode::Unauthorized,
                    "wrong credential",
                )));
            }
            match req.request {
                NodeRequest::Scale(s) if s.group == "busy" => {
                    Err(AgentError::Refused(ApiError::new(ErrorCode::RateLimited, "slow down")))
                }
                NodeRequest::Scale(s) => Ok(NodeAnswer::Scale(NodeScaleResponse {
                    group: s.group,
                    from: 0,
                    to: s.nodes.unwrap_or(0),
                    added: Vec::new(),
                    removed: Vec::new(),
                    operation: Some("op-1".into()),
                })),
                NodeRequest::Describe => Err(AgentError::ControlPlane("server down".into())),
            }
        }
    }

    /// Sends a raw HTTP/1.1 request (as busybox wget would: a form content type);
    /// returns the status and the body.
    async fn send(addr: std::net::SocketAddr, request: &str) -> (u16, serde_json::Value) {
        let mut conn = tokio::net::TcpStream::connect(addr).await.unwrap();
        conn.write_all(request.as_bytes()).await.unwrap();
        let mut text = String::new();
        conn.read_to_string(&mut text).await.unwrap();
        let status = text[9..12].parse().unwrap();
        let body = text.split_once("\r\n\r\n").unwrap().1;
        (status, serde_json::from_str(body).unwrap_or(serde_json::Value::Null))
    }

    fn post(path: &str, credential: &str, body: &str) -> String {
        format!(
            "POST {path} HTTP/1.1\r\nHost: 169.254.169.254\r\nAuthorization: Bearer {credential}\r\n\
             Content-Type: application/x-www-form-urlencoded\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
            body.len()
        )
    }

    #[tokio::test]
    async fn requests_pass_through_and_refusals_keep_their_code() {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let addr = listener.local_addr().unwrap();
        let app = router(Arc::new(Caller {
            id: "c0ffee00-head-0".into(),
            host: "h1".into(),
            cp: Arc::new(FakeServer),
        }));
        tokio::spawn(async move { axum::serve(listener, app).await });

        let (s, v) = send(addr, &post("/v1/scale", "good", r#"{"group":"worker","nodes":2}"#)).await;
        assert_eq!(
            (s, v["to"].as_u64(), v["operation"].as_str()),
            (200, Some(2), Some("op-1")),
            "{v}"
        );
        let (s, v) = send(addr, &post("/v1/scale", "bad", r#"{"group":"worker","nodes":2}"#)).await;
        assert_eq!((s, v["code"].as_str()), (401, Some("unauthorized")), "{v}");
        let (s, v) = send(addr, &post("/v1/scale", "good", r#"{"group":"busy","nodes":2}"#)).await;
        assert_eq!((s, v["code"].as_str()), (429, Some("rate_limited")), "{v}");
        let (s, v) = send(addr, &post("/v1/scale", "good", "group=worker&nodes=2")).await;
        assert_eq!((s, v["code"].as_str()), (400, Some("malformed_request")), "{v}");
        let (s, v) = send(addr, &post("/v1/scale", "good", r#"{"group":"worker","nodes":"two"}"#)).await;
        assert_eq!((s, v["code"].as_str()), (400, Some("malformed_request")), "{v}");
        let (s, v) = send(addr, &post("/v1/nothing", "good", "")).await;
        assert_eq!((s, v["code"].as_str()), (404, Some("not_found")), "{v}");
        let get = "GET /v1/self HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer good\r\nConnection: close\r\n\r\n";
        let (s, v) = send(addr, get).await;
        assert_eq!((s, v["code"].as_str()), (500, Some("internal")), "{v}");
        assert!(
            v["message"]
                .as_str()
                .unwrap()
                .contains("cannot reach the Corral server"),
            "{v}"
        );
    }
}
