//! The client's logic against a tiny fake of the REST API on 127.0.0.1: login saves a
//! private config, `cluster create` waits on its operation, errors become exit code 1.

use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Json, Router};
use clap::Parser;
use corral_api::{
    ApiError, Cluster, ClusterSpec, ClusterState, ErrorCode, LoginRequest, NetworkInfo, Node, NodeState, Operation,
    OperationStatus, TokenResponse,
};
use corral_cli::{ClientOptions, Command, Console};

const TOKEN: &str = "tok-alice";
const PASSWORD: &str = "hunter22";

#[derive(Default)]
struct Fake {
    spec: Mutex<Option<ClusterSpec>>,
    polls: AtomicUsize,
}

type Shared = Arc<Fake>;

fn api_error(code: ErrorCode, message: &str) -> Response {
    let status = StatusCode::from_u16(code.http_status()).unwrap();
    (status, Json(ApiError::new(code, message))).into_response()
}

/// The error answer for a request without the right token, if it has not.
fn unauthorised(headers: &HeaderMap) -> Option<Response> {
    match headers.get("authorization").and_then(|v| v.to_str().ok()) {
        Some(v) if v == format!("Bearer {TOKEN}") => None,
        _ => Some(api_error(ErrorCode::Unauthorized, "missing or invalid token")),
    }
}

fn operation(status: OperationStatus, progress: &str) -> Operation {
    Operation {
        id: "op-1".into(),
        kind: "cluster.create".into(),
        target: "clusters/demo".into(),
        owner: "alice".into(),
        status,
        progress: progress.into(),
        error: None,
        created_at: 1,
        updated_at: 1,
    }
}

async fn login(Json(req): Json<LoginRequest>) -> Response {
    if req.name != "alice" || req.password != PASSWORD {
        return api_error(ErrorCode::Unauthorized, "wrong user name or password");
    }
    Json(TokenResponse {
        token: TOKEN.into(),
        expires_at: u64::MAX,
        user: "alice".into(),
    })
    .into_response()
}

async fn create(State(fake): State<Shared>, headers: HeaderMap, Json(spec): Json<ClusterSpec>) -> Response {
    if let Some(e) = unauthorised(&headers) {
        return e;
    }
    *fake.spec.lock().unwrap() = Some(spec);
    (
        StatusCode::ACCEPTED,
        Json(operation(OperationStatus::Running, "0/2 nodes running")),
    )
        .into_response()
}

async fn get_operation(State(fake): State<Shared>, Path(id): Path<String>) -> Response {
    if id != "op-1" {
        return api_error(ErrorCode::NotFound, &format!("operation {id:?} not found"));
    }
    // Done on the third poll, so the client has to poll more than once.
    let n = fake.polls.fetch_add(1, Ordering::SeqCst) + 1;
    let op = if n >= 3 {
        operation(OperationStatus::Succeeded, "2/2 nodes running")
    } else {
        operation(OperationStatus::Running, "1/2 nodes running")
    };
    Json(op).into_response()
}

async fn get_cluster(State(fake): State<Shared>, Path(name): Path<String>) -> Response {
    let spec = fake.spec.lock().unwrap().clone();
    match spec {
        Some(spec) if spec.name == name => Json(cluster(spec)).into_response(),
        _ => api_error(ErrorCode::NotFound, &format!("cluster {name:?} not found")),
    }
}

fn cluster(spec: ClusterSpec) -> Cluster {
    let nodes = (0..spec.nodes.unwrap_or(1))
        .map(|i| Node {
            cluster: spec.name.clone(),
            name: format!("node-{i}"),
            group: "node".into(),
            state: NodeState::Running,
            address: format!("10.20.0.{}", i + 2),
            host: Some("host-a".into()),
            image: spec.image.clone(),
            cpu_millis: 1000,
            memory_bytes: 1 << 30,
            pids_max: 1024,
            oom_kills: 0,
            error: None,
            created_at: 1,
            started_at: Some(1),
        })
        .collect();
    Cluster {
        name: spec.name.clone(),
        owner: "alice".into(),
        spec,
        state: ClusterState::Running,
        network: NetworkInfo {
            vni: 7,
            subnet: "10.20.0.0/24".into(),
            gateway: "10.20.0.1".into(),
            mtu: 1450,
        },
        nodes,
        created_at: 1,
        scaling: Default::default(),
    }
}

async fn start_fake() -> (String, Shared) {
    let fake = Shared::default();
    let app = Router::new()
        .route("/v1/login", post(login))
        .route("/v1/clusters", post(create))
        .route("/v1/clusters/{name}", get(get_cluster))
        .route("/v1/operations/{id}", get(get_operation))
        .with_state(fake.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move { axum::serve(listener, app).await.unwrap() });
    (format!("http://{addr}"), fake)
}

/// The `corral` binary's parser, in miniature.
#[derive(Parser)]
struct Cli {
    #[command(flatten)]
    opts: ClientOptions,
    #[command(subcommand)]
    cmd: Command,
}

#[derive(Clone, Default)]
struct Buf(Arc<Mutex<Vec<u8>>>);

impl Write for Buf {
    fn write(&mut self, b: &[u8]) -> std::io::Result<usize> {
        self.0.lock().unwrap().extend_from_slice(b);
        Ok(b.len())
    }
    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Buf {
    fn text(&self) -> String {
        String::from_utf8(self.0.lock().unwrap().clone()).unwrap()
    }
}

struct Outcome {
    code: i32,
    out: String,
    err: String,
}

async fn corral(args: &[&str]) -> Outcome {
    let cli = Cli::try_parse_from(std::iter::once("corral").chain(args.iter().copied())).unwrap();
    let (out, err) = (Buf::default(), Buf::default());
    let mut console = Console::new(Box::new(out.clone()), Box::new(err.clone()), false);
    let code = corral_cli::run_with(cli.cmd, &cli.opts, &mut console).await.unwrap();
    Outcome {
        code,
        out: out.text(),
        err: err.text(),
    }
}

#[tokio::test]
async fn login_then_create_a_cluster_and_hit_an_error() {
    let (server, fake) = start_fake().await;
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("corral/config.json");
    let config = config.to_str().unwrap();
    let password = dir.path().join("pw");
    std::fs::write(&password, format!("{PASSWORD}\n")).unwrap();

    // login saves the server and the token, readable by the owner only.
    let r = corral(&[
        "--config",
        config,
        "login",
        "--server",
        &server,
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(r.err.contains("logged in"), "{}", r.err);
    let meta = std::fs::metadata(config).unwrap();
    assert_eq!(meta.permissions().mode() & 0o777, 0o600);
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
    assert_eq!(saved["token"], TOKEN);
    assert_eq!(saved["server"], server.as_str());
    assert_eq!(saved["user"], "alice");

    // create uses the saved login, waits for the operation, then shows the cluster.
    let r = corral(&[
        "--config", config, "cluster", "create", "demo", "--image", "minimal", "--nodes", "2", "--memory", "1GiB",
    ])
    .await;
    assert_eq!(r.code, 0, "{}", r.err);
    assert!(fake.polls.load(Ordering::SeqCst) >= 3);
    let sent = fake.spec.lock().unwrap().clone().unwrap();
    assert_eq!(sent.nodes, Some(2));
    assert_eq!(sent.resources.memory, "1GiB");
    assert!(r.out.starts_with("Name:"), "{}", r.out);
    assert!(r.out.contains("State:      running"), "{}", r.out);
    assert!(r.out.contains("node-1"), "{}", r.out);

    // the same cluster as JSON is the API's own shape.
    let r = corral(&["--config", config, "-o", "json", "cluster", "show", "demo"]).await;
    assert_eq!(r.code, 0, "{}", r.err);
    let c: Cluster = serde_json::from_str(&r.out).unwrap();
    assert_eq!(c.nodes.len(), 2);

    // an API error is printed with its code, and the exit code is 1.
    let r = corral(&["--config", config, "cluster", "show", "missing"]).await;
    assert_eq!(r.code, 1);
    assert_eq!(r.err, "error: cluster \"missing\" not found (not_found)\n");
    assert_eq!(r.out, "");

    // a wrong password is an API error too, and the saved login is kept.
    std::fs::write(&password, "wrong\n").unwrap();
    let r = corral(&[
        "--config",
        config,
        "login",
        "--user",
        "alice",
        "--password-file",
        password.to_str().unwrap(),
    ])
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.err.starts_with("error: wrong user name or password (unauthorized)"),
        "{}",
        r.err
    );
    let saved: serde_json::Value = serde_json::from_slice(&std::fs::read(config).unwrap()).unwrap();
    assert_eq!(saved["token"], TOKEN);
}

#[tokio::test]
async fn local_validation_fails_before_any_request() {
    let (server, fake) = start_fake().await;
    let r = corral(&[
        "--server", &server, "--token", TOKEN, "cluster", "create", "demo", "--image", "minimal", "--memory", "lots",
    ])
    .await;
    assert_eq!(r.code, 1);
    assert!(r.err.starts_with("error: invalid size \"lots\""), "{}", r.err);
    assert!(r.err.contains("(invalid_request)"), "{}", r.err);
    assert!(fake.spec.lock().unwrap().is_none());
}

#[tokio::test]
async fn a_server_that_is_not_running_gets_a_hint() {
    // A port that was just free: nothing listens there.
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let server = format!("http://{}", listener.local_addr().unwrap());
    drop(listener);
    let dir = tempfile::tempdir().unwrap();
    let config = dir.path().join("none.json");
    let r = corral(&[
        "--config",
        config.to_str().unwrap(),
        "--server",
        &server,
        "cluster",
        "list",
    ])
    .await;
    assert_eq!(r.code, 1);
    assert!(
        r.err.contains(&format!("cannot reach the Corral server at {server}")),
        "{}",
        r.err
    );
    assert!(r.err.contains("corral up"), "{}", r.err);
}
