//! Requests from inside a cluster (the node API) as the server sees them, without
//! root: a node's request arrives through the in-process control plane from the agent
//! of its host, with the credential the node presented.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_agent::{AgentError, ControlPlane};
use corral_api::agent::{ClusterRequest, NodeAnswer, NodeAssignment, NodeRequest};
use corral_api::node_api::{NodeScaleRequest, NodeScaleResponse};
use corral_api::{ApiError, ErrorCode};
use corral_server::{Context, InProcessControlPlane};
use serde_json::{json, Value};

struct Pool {
    ctx: Arc<Context>,
    token: String,
    _dir: tempfile::TempDir,
}

impl Pool {
    async fn new() -> Pool {
        let dir = tempfile::tempdir().unwrap();
        let ctx = support::pool(&dir, &["h1", "h2"]).await;
        let mut pool = Pool {
            ctx,
            token: String::new(),
            _dir: dir,
        };
        let pw = support::admin_password(&pool.ctx);
        let (s, v) = pool
            .call("POST", "/v1/login", json!({"name": "admin", "password": pw}))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
        pool.token = v["token"].as_str().unwrap().to_string();
        pool
    }

    async fn call(&self, method: &str, path: &str, body: Value) -> (StatusCode, Value) {
        let token = Some(self.token.as_str()).filter(|t| !t.is_empty());
        support::call(&self.ctx, method, path, token, Some(body).filter(|b| !b.is_null())).await
    }

    /// A cluster with `head` ×1 and an elastic `worker` group (0 now, 0..=3), placed.
    async fn elastic_cluster(&self, name: &str) {
        let spec = json!({
            "name": name,
            "image": "minimal",
            "resources": {"cpu": "100m", "memory": "32MiB"},
            "node_groups": [
                {"name": "head", "count": 1},
                {"name": "worker", "count": 0, "elastic": {"min": 0, "max": 3}},
            ],
        });
        let (s, v) = self.call("POST", "/v1/clusters", spec).await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        corral_server::run_scheduler_pass(&self.ctx).unwrap();
    }

    /// The assignment of node `name` of `cluster`, and the host it is on.
    async fn assignment(&self, cluster: &str, name: &str) -> (String, NodeAssignment) {
        let cp = InProcessControlPlane::new(self.ctx.clone());
        for host in ["h1", "h2"] {
            let a = cp.assignments(host, 0).await.unwrap();
            if let Some(n) = a.nodes.into_iter().find(|n| n.cluster == cluster && n.name == name) {
                return (host.to_string(), n);
            }
        }
        panic!("{cluster}/{name} is on no host");
    }

    async fn ask(
        &self,
        host: &str,
        node_id: &str,
        credential: &str,
        request: NodeRequest,
    ) -> Result<NodeAnswer, ApiError> {
        let req = ClusterRequest {
            node_id: node_id.to_string(),
            credential: credential.to_string(),
            request,
        };
        match InProcessControlPlane::new(self.ctx.clone())
            .cluster_request(host, req)
            .await
        {
            Ok(a) => Ok(a),
            Err(AgentError::Refused(e)) => Err(e),
            Err(e) => panic!("not a refusal: {e}"),
        }
    }

    async fn workers(&self, cluster: &str) -> Vec<String> {
        let (s, c) = self.call("GET", &format!("/v1/clusters/{cluster}"), Value::Null).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        let mut v: Vec<String> = c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| n["name"].as_str().unwrap().to_string())
            .filter(|n| n.starts_with("worker-"))
            .collect();
        v.sort();
        v
    }
}

fn scale(v: Value) -> NodeRequest {
    NodeRequest::Scale(serde_json::from_value::<NodeScaleRequest>(v).unwrap())
}

fn scaled(a: NodeAnswer) -> NodeScaleResponse {
    match a {
        NodeAnswer::Scale(s) => s,
        other => panic!("not a scale answer: {other:?}"),
    }
}

#[tokio::test]
async fn a_node_scales_its_own_elastic_group_within_bounds_audited() {
    let pool = Pool::new().await;
    pool.elastic_cluster("demo").await;
    let (host, head) = pool.assignment("demo", "head-0").await;
    assert_eq!(head.credential.len(), 64, "32 random bytes, hex");
    let cred = head.credential.clone();

    // Who am I.
    let me = match pool.ask(&host, &head.id, &cred, NodeRequest::Describe).await.unwrap() {
        NodeAnswer::Describe(me) => me,
        other => panic!("{other:?}"),
    };
    assert_eq!(
        (me.cluster.as_str(), me.node.as_str(), me.group.as_str()),
        ("demo", "head-0", "head")
    );
    assert_eq!(me.address, head.address);
    let worker = me.groups.iter().find(|g| g.name == "worker").unwrap();
    assert_eq!((worker.nodes, worker.min, worker.max), (0, Some(0), Some(3)));
    assert_eq!(me.groups.iter().find(|g| g.name == "head").unwrap().min, None);

    // A wrong or missing credential changes nothing.
    let add2 = || scale(json!({"group": "worker", "add": ["worker-0", "worker-1"]}));
    for bad in ["", "nope", &"0".repeat(64)] {
        let e = pool.ask(&host, &head.id, bad, add2()).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::Unauthorized, "{e:?}");
        assert_eq!(e.code.http_status(), 401);
    }
    assert!(pool.workers("demo").await.is_empty());

    // Only the agent holding the node speaks for it.
    let other_host = if host == "h1" { "h2" } else { "h1" };
    let e = pool.ask(other_host, &head.id, &cred, add2()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::Forbidden, "{e:?}");
    let e = pool.ask(&host, "0000beef-head-0", &cred, add2()).await.unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e:?}");

    // Bounds, elasticity and the request's shape are checked before anything changes.
    for (req, why) in [
        (json!({"group": "worker", "nodes": 4}), "above max"),
        (json!({"group": "worker", "change": -1}), "below zero"),
        (
            json!({"group": "worker", "add": ["worker-0", "worker-1", "worker-2", "worker-3"]}),
            "above max by name",
        ),
        (json!({"group": "head", "nodes": 2}), "not elastic"),
        (json!({"group": "worker", "add": ["head-1"]}), "another group's name"),
        (json!({"group": "worker", "nodes": 1, "change": 1}), "two forms"),
    ] {
        let e = pool.ask(&host, &head.id, &cred, scale(req)).await.unwrap_err();
        assert_eq!(e.code, ErrorCode::InvalidRequest, "{why}: {e:?}");
    }
    let e = pool
        .ask(&host, &head.id, &cred, scale(json!({"group": "gpu", "nodes": 1})))
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::NotFound, "{e:?}");
    assert!(pool.workers("demo").await.is_empty());

    // Within bounds: the group grows, audited as the node's request.
    let done = scaled(pool.ask(&host, &head.id, &cred, add2()).await.unwrap());
    assert_eq!((done.from, done.to), (0, 2));
    assert_eq!(done.added, vec!["worker-0", "worker-1"]);
    assert!(done.operation.is_some());
    assert_eq!(pool.workers("demo").await, vec!["worker-0", "worker-1"]);
    let done = scaled(
        pool.ask(&host, &head.id, &cred, scale(json!({"group": "worker", "change": -1})))
            .await
            .unwrap(),
    );
    assert_eq!((done.from, done.to), (2, 1));
    assert_eq!(done.removed, vec!["worker-1"]);
    // Asking for what already is changes nothing and records nothing.
    let done = scaled(
        pool.ask(&host, &head.id, &cred, scale(json!({"group": "worker", "nodes": 1})))
            .await
            .unwrap(),
    );
    assert_eq!((done.from, done.to, done.operation), (1, 1, None));

    let (s, events) = pool.call("GET", "/v1/clusters/demo/events", Value::Null).await;
    assert_eq!(s, StatusCode::OK, "{events}");
    let scaled: Vec<&Value> = events
        .as_array()
        .unwrap()
        .iter()
        .filter(|e| e["kind"] == "cluster.scaled")
        .collect();
    assert_eq!(scaled.len(), 2, "{scaled:?}");
    for e in &scaled {
        assert_eq!(e["actor"], "node:head-0", "{e}");
        assert!(
            e["message"].as_str().unwrap().ends_with("requested by node head-0"),
            "{e}"
        );
    }
    assert_eq!(scaled[0]["message"], "scaled worker 0→2: requested by node head-0");
}

#[tokio::test]
async fn one_clusters_credential_does_not_open_another() {
    let pool = Pool::new().await;
    pool.elastic_cluster("alpha").await;
    pool.elastic_cluster("beta").await;
    let (_, alpha_head) = pool.assignment("alpha", "head-0").await;
    let (beta_host, beta_head) = pool.assignment("beta", "head-0").await;
    assert_ne!(alpha_head.credential, beta_head.credential);
    // beta's node presenting alpha's credential: its listener acts for beta only.
    let req = scale(json!({"group": "worker", "nodes": 1}));
    let e = pool
        .ask(&beta_host, &beta_head.id, &alpha_head.credential, req)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized, "{e:?}");
    assert!(pool.workers("alpha").await.is_empty());
    assert!(pool.workers("beta").await.is_empty());
}

#[tokio::test]
async fn a_rotated_credential_replaces_the_old_one_in_the_nodes_assignments() {
    let pool = Pool::new().await;
    pool.elastic_cluster("demo").await;
    let (host, old) = pool.assignment("demo", "head-0").await;
    let (s, v) = pool
        .call("POST", "/v1/clusters/demo/credential/rotate", Value::Null)
        .await;
    assert_eq!(s, StatusCode::OK, "{v}");
    assert_eq!(v["name"], "demo");
    assert!(
        !v.to_string().contains(&old.credential),
        "the answer never shows a credential"
    );
    let (_, new) = pool.assignment("demo", "head-0").await;
    assert_eq!(new.credential.len(), 64);
    assert_ne!(new.credential, old.credential);
    let e = pool
        .ask(&host, &old.id, &old.credential, NodeRequest::Describe)
        .await
        .unwrap_err();
    assert_eq!(e.code, ErrorCode::Unauthorized, "the old credential is refused: {e:?}");
    pool.ask(&host, &new.id, &new.credential, NodeRequest::Describe)
        .await
        .unwrap();
    let (_, events) = pool.call("GET", "/v1/clusters/demo/events", Value::Null).await;
    assert!(events.to_string().contains("cluster.credential_rotated"), "{events}");
    // Someone else's cluster, or none: 404, nothing changes.
    let (s, _) = pool
        .call("POST", "/v1/clusters/nope/credential/rotate", Value::Null)
        .await;
    assert_eq!(s, StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn requests_are_rate_limited_per_cluster() {
    let pool = Pool::new().await;
    pool.elastic_cluster("busy").await;
    pool.elastic_cluster("calm").await;
    let (host, head) = pool.assignment("busy", "head-0").await;
    let mut answers = Vec::new();
    for i in 0..12 {
        let n = i % 2;
        let r = pool
            .ask(
                &host,
                &head.id,
                &head.credential,
                scale(json!({"group": "worker", "nodes": n})),
            )
            .await;
        answers.push(r.map(|_| ()).map_err(|e| e.code));
    }
    assert!(answers[..10].iter().all(|a| a.is_ok()), "{answers:?}");
    assert_eq!(
        answers[10..],
        [Err(ErrorCode::RateLimited), Err(ErrorCode::RateLimited)]
    );
    assert_eq!(ErrorCode::RateLimited.http_status(), 429);
    // Refused requests change nothing: the last one to pass set 1 worker.
    assert_eq!(pool.workers("busy").await.len(), 1);
    // Another cluster has its own budget.
    let (calm_host, calm_head) = pool.assignment("calm", "head-0").await;
    pool.ask(
        &calm_host,
        &calm_head.id,
        &calm_head.credential,
        scale(json!({"group": "worker", "nodes": 1})),
    )
    .await
    .unwrap();
}
