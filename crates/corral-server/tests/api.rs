//! API tests without root: the real router, store and control loops, with a host
//! registered but no agent, so nodes are placed but never run.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_server::Context;
use serde_json::{json, Value};

struct Api {
    ctx: Arc<Context>,
    token: String,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        let dir = tempfile::tempdir().unwrap();
        // A fake 4-cpu, 1 GiB host, and a fake image record pointing at no content:
        // enough for admission and placement.
        let ctx = support::pool(&dir, &["h1"]).await;
        let mut api = Api {
            ctx,
            token: String::new(),
            _dir: dir,
        };
        let pw = std::fs::read_to_string(corral_server::credential_path(&api.ctx)).unwrap();
        let (s, v) = api
            .call(
                "POST",
                "/v1/login",
                Some(json!({"name": "admin", "password": pw.trim()})),
            )
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        api.token = v["token"].as_str().unwrap().to_string();
        api
    }

    async fn raw(
        &self,
        method: &str,
        path: &str,
        content_type: &str,
        body: String,
        token: Option<&str>,
    ) -> (StatusCode, Value) {
        let (status, _, bytes) = support::send(&self.ctx, method, path, content_type, body, token).await;
        (status, serde_json::from_slice(&bytes).unwrap_or(Value::Null))
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        let body = body.map(|b| b.to_string()).unwrap_or_default();
        let token = (!self.token.is_empty()).then_some(self.token.as_str());
        self.raw(method, path, "application/json", body, token).await
    }
}

fn code(v: &Value) -> &str {
    v["code"].as_str().unwrap_or("")
}

#[tokio::test]
async fn malformed_and_unknown_requests_get_4xx_with_codes() {
    let api = Api::new().await;
    let t = Some(api.token.as_str());
    let (s, v) = api
        .raw("POST", "/v1/clusters", "application/json", "{not json".into(), t)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed_request"), "{v}");
    let (s, v) = api
        .raw("POST", "/v1/clusters", "application/yaml", "name: [unclosed".into(), t)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "malformed_request"), "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/v1/clusters",
            Some(json!({"name": "a", "image": "minimal", "colour": "red"})),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::BAD_REQUEST, "malformed_request"),
        "unknown field: {v}"
    );
    let (s, v) = api.call("GET", "/v1/nope", None).await;
    assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"));
    let (s, v) = api
        .raw("GET", "/v1/clusters", "application/json", String::new(), None)
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = api
        .raw(
            "GET",
            "/v1/clusters",
            "application/json",
            String::new(),
            Some("crl_forged"),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    let (s, v) = api
        .call(
            "POST",
            "/v1/clusters",
            Some(json!({"name": "a", "image": "minimal", "nodes": 1, "resources": {"cpu": "lots"}})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"), "{v}");
    let (s, v) = api
        .call(
            "POST",
            "/v1/clusters",
            Some(json!({"name": "a", "image": "minimal", "subnet": "10.0.0.0/40"})),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"), "{v}");
    let (_, list) = api.call("GET", "/v1/clusters", None).await;
    assert_eq!(list, json!([]), "nothing was created");
}

#[tokio::test]
async fn yaml_spec_with_groups_is_accepted_and_placed() {
    let api = Api::new().await;
    let spec = "name: hpc\nimage: minimal\nresources: {cpu: '0.5', memory: 64MiB}\nnode_groups:\n  - {name: head, count: 1}\n  - {name: worker, count: 2}\nenv: {PROJECT: x}\n";
    let (s, op) = api
        .raw(
            "POST",
            "/v1/clusters",
            "application/yaml",
            spec.into(),
            Some(&api.token),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{op}");
    assert_eq!(op["kind"], "cluster.create");
    corral_server::run_scheduler_pass(&api.ctx).unwrap();
    let (_, c) = api.call("GET", "/v1/clusters/hpc", None).await;
    let names: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["name"].as_str().unwrap())
        .collect();
    assert_eq!(names, ["head-0", "worker-0", "worker-1"]);
    assert!(c["nodes"].as_array().unwrap().iter().all(|n| n["host"] == "h1"), "{c}");
    let addrs: std::collections::HashSet<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["address"].as_str().unwrap())
        .collect();
    assert_eq!(addrs.len(), 3, "distinct addresses");
}

#[tokio::test]
async fn concurrent_creates_never_overfill_the_pool() {
    let api = Arc::new(Api::new().await);
    // 1 GiB pool, 300 MiB per cluster: all 8 parallel creates are accepted (the pool
    // could hold each), 3 are placed and the other 5 wait pending for room.
    let mut tasks = Vec::new();
    for i in 0..8 {
        let api = api.clone();
        tasks.push(tokio::spawn(async move {
            api.call(
                "POST",
                "/v1/clusters",
                Some(
                    json!({"name": format!("c{i}"), "image": "minimal", "nodes": 1, "resources": {"memory": "300MiB"}}),
                ),
            )
            .await
        }));
    }
    for t in tasks {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    corral_server::run_scheduler_pass(&api.ctx).unwrap();
    let (_, list) = api.call("GET", "/v1/clusters", None).await;
    let placed = list
        .as_array()
        .unwrap()
        .iter()
        .filter(|c| c["nodes"][0]["host"] == "h1")
        .count();
    assert_eq!(placed, 3, "{list}");
    // A node no host could ever hold is refused at once.
    let (s, v) = api
        .call(
            "POST",
            "/v1/clusters",
            Some(json!({"name": "huge", "image": "minimal", "resources": {"memory": "2GiB"}})),
        )
        .await;
    assert_eq!(
        (s, code(&v)),
        (StatusCode::UNPROCESSABLE_ENTITY, "insufficient_capacity"),
        "{v}"
    );
}

#[tokio::test]
async fn users_see_only_their_own_clusters() {
    let api = Api::new().await;
    let (s, _) = api
        .call(
            "POST",
            "/v1/users",
            Some(json!({"name": "bob", "password": "bob-password"})),
        )
        .await;
    assert_eq!(s, StatusCode::CREATED);
    let (s, v) = api
        .call("POST", "/v1/users", Some(json!({"name": "eve", "password": "short"})))
        .await;
    assert_eq!((s, code(&v)), (StatusCode::BAD_REQUEST, "invalid_request"));
    let (s, _) = api
        .call(
            "POST",
            "/v1/clusters",
            Some(json!({"name": "mine", "image": "minimal", "nodes": 1})),
        )
        .await;
    assert_eq!(s, StatusCode::ACCEPTED);
    let (s, login) = api
        .raw(
            "POST",
            "/v1/login",
            "application/json",
            json!({"name": "bob", "password": "bob-password"}).to_string(),
            None,
        )
        .await;
    assert_eq!(s, StatusCode::OK);
    let bob = login["token"].as_str().unwrap();
    let (_, list) = api
        .raw("GET", "/v1/clusters", "application/json", String::new(), Some(bob))
        .await;
    assert_eq!(list, json!([]));
    for (m, p) in [
        ("GET", "/v1/clusters/mine"),
        ("DELETE", "/v1/clusters/mine"),
        ("GET", "/v1/clusters/mine/nodes"),
    ] {
        let (s, v) = api.raw(m, p, "application/json", String::new(), Some(bob)).await;
        assert_eq!((s, code(&v)), (StatusCode::NOT_FOUND, "not_found"), "{m} {p}");
    }
    let (s, v) = api
        .raw(
            "POST",
            "/v1/users",
            "application/json",
            json!({"name": "x", "password": "xxxxxxxxxx"}).to_string(),
            Some(bob),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::FORBIDDEN, "forbidden"));
    let (s, v) = api
        .raw(
            "POST",
            "/v1/login",
            "application/json",
            json!({"name": "bob", "password": "wrong-password"}).to_string(),
            None,
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"));
    // Tokens expire.
    let (_, short) = api
        .raw(
            "POST",
            "/v1/login",
            "application/json",
            json!({"name": "bob", "password": "bob-password", "ttl_seconds": 1}).to_string(),
            None,
        )
        .await;
    tokio::time::sleep(std::time::Duration::from_millis(2100)).await;
    let (s, v) = api
        .raw(
            "GET",
            "/v1/whoami",
            "application/json",
            String::new(),
            short["token"].as_str(),
        )
        .await;
    assert_eq!((s, code(&v)), (StatusCode::UNAUTHORIZED, "unauthorized"), "{v}");
    assert!(v["message"].as_str().unwrap().contains("expired"));
}
