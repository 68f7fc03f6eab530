//! Scheduling through the API without root: the real router, SQLite store and
//! scheduler pass, with fake hosts registered through the in-process control plane
//! (no agents, so nodes are placed but never run).

mod support;

use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use axum::http::StatusCode;
use corral_agent::ControlPlane;
use corral_server::{Context, InProcessControlPlane, ServerConfig};
use serde_json::{json, Value};

const MIB: u64 = 1 << 20;
const GIB: u64 = 1 << 30;

struct Api {
    ctx: Arc<Context>,
    token: String,
    _dir: tempfile::TempDir,
}

impl Api {
    async fn new() -> Api {
        Api::with_config(|_| {}).await
    }

    /// A pool whose server configuration `configure` adjusts first.
    async fn with_config(configure: impl FnOnce(&mut ServerConfig)) -> Api {
        let dir = tempfile::tempdir().unwrap();
        let ctx = support::context_with(&dir, configure);
        support::fake_minimal_image(&ctx);
        let token = support::admin_token(&ctx).await;
        Api { ctx, token, _dir: dir }
    }

    /// Registers a fake host, as its agent would.
    async fn host(&self, name: &str, cpus: u64, memory: u64, labels: &[(&str, &str)]) {
        support::register(&self.ctx, name, cpus * 1000, memory, labels).await;
    }

    async fn call(&self, method: &str, path: &str, body: Option<Value>) -> (StatusCode, Value) {
        support::call(&self.ctx, method, path, Some(&self.token), body).await
    }

    async fn create(&self, spec: Value) -> (StatusCode, Value) {
        self.call("POST", "/v1/clusters", Some(spec)).await
    }

    fn schedule(&self) {
        corral_server::run_scheduler_pass(&self.ctx).unwrap();
    }

    /// Host of each node of a cluster, by node name (`None` while pending).
    async fn hosts_of(&self, cluster: &str) -> BTreeMap<String, Option<String>> {
        let (s, c) = self.call("GET", &format!("/v1/clusters/{cluster}"), None).await;
        assert_eq!(s, StatusCode::OK, "{c}");
        c["nodes"]
            .as_array()
            .unwrap()
            .iter()
            .map(|n| {
                (
                    n["name"].as_str().unwrap().to_string(),
                    n["host"].as_str().map(String::from),
                )
            })
            .collect()
    }
}

fn distinct(hosts: &BTreeMap<String, Option<String>>) -> usize {
    let mut v: Vec<&str> = hosts.values().map(|h| h.as_deref().expect("placed")).collect();
    v.sort();
    v.dedup();
    v.len()
}

#[tokio::test]
async fn spread_uses_distinct_hosts_and_pack_the_fewest() {
    let api = Api::new().await;
    for h in ["h1", "h2", "h3"] {
        api.host(h, 4, 4 * GIB, &[]).await;
    }
    let (s, v) = api
        .create(json!({"name": "spread", "image": "minimal", "nodes": 3, "resources": {"memory": "1GiB"}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let (s, v) = api
        .create(json!({"name": "pack", "image": "minimal", "nodes": 3, "placement": "pack", "resources": {"memory": "512MiB"}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    api.schedule();
    assert_eq!(distinct(&api.hosts_of("spread").await), 3, "spread: one node per host");
    assert_eq!(distinct(&api.hosts_of("pack").await), 1, "pack: all on one host");
    let (_, c) = api.call("GET", "/v1/clusters/pack", None).await;
    assert_eq!(c["spec"]["placement"], "pack");
}

#[tokio::test]
async fn label_constraints_pick_hosts_and_impossible_ones_are_refused() {
    let api = Api::new().await;
    api.host("h1", 4, 4 * GIB, &[("site", "a")]).await;
    api.host("h2", 4, 4 * GIB, &[("site", "a")]).await;
    api.host("h3", 4, 4 * GIB, &[("site", "b")]).await;
    let (s, v) = api
        .create(json!({"name": "b", "image": "minimal", "nodes": 2, "constraints": {"site": "b"}, "resources": {"memory": "256MiB"}}))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    api.schedule();
    let hosts = api.hosts_of("b").await;
    assert!(hosts.values().all(|h| h.as_deref() == Some("h3")), "{hosts:?}");

    let (s, v) = api
        .create(json!({"name": "c", "image": "minimal", "constraints": {"site": "c"}}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::UNPROCESSABLE_ENTITY, Some("insufficient_capacity")),
        "{v}"
    );
    assert!(v["message"].as_str().unwrap().contains("no host with site=c"), "{v}");
    let (s, v) = api
        .create(json!({"name": "big", "image": "minimal", "resources": {"memory": "8GiB"}}))
        .await;
    assert_eq!(s, StatusCode::UNPROCESSABLE_ENTITY, "bigger than any host: {v}");
    let (s, v) = api
        .create(json!({"name": "bad", "image": "minimal", "constraints": {"site": "a b"}}))
        .await;
    assert_eq!(
        (s, v["code"].as_str()),
        (StatusCode::BAD_REQUEST, Some("invalid_request")),
        "{v}"
    );
    let (s, v) = api
        .create(json!({"name": "bad", "image": "minimal", "placement": "scatter"}))
        .await;
    assert_eq!(s, StatusCode::BAD_REQUEST, "{v}");
}

#[tokio::test]
async fn a_node_waits_with_its_reason_and_is_placed_when_a_host_arrives() {
    let api = Api::new().await;
    api.host("h1", 4, GIB, &[]).await;
    let spec = |name: &str| json!({"name": name, "image": "minimal", "resources": {"memory": "768MiB"}});
    assert_eq!(api.create(spec("first")).await.0, StatusCode::ACCEPTED);
    // The pool could hold it, just not now: accepted, and pending.
    assert_eq!(api.create(spec("second")).await.0, StatusCode::ACCEPTED);
    api.schedule();
    let (s, n) = api.call("GET", "/v1/clusters/second/nodes/node-0", None).await;
    assert_eq!(s, StatusCode::OK, "{n}");
    assert_eq!(n["state"], "pending", "{n}");
    assert_eq!(n["host"], Value::Null);
    assert_eq!(
        n["error"],
        "no ready host has 768MiB of memory free (largest free: 256MiB on h1)"
    );
    let (_, events) = api.call("GET", "/v1/clusters/second/events", None).await;
    assert!(
        events.as_array().unwrap().iter().any(|e| e["kind"] == "node.pending"),
        "{events}"
    );

    api.host("h2", 4, 2 * GIB, &[]).await;
    api.schedule();
    let (_, n) = api.call("GET", "/v1/clusters/second/nodes/node-0", None).await;
    assert_eq!((n["host"].as_str(), &n["error"]), (Some("h2"), &Value::Null), "{n}");
    assert_eq!(n["state"], "creating");
}

#[tokio::test]
async fn parallel_creates_and_passes_never_overfill_a_host() {
    let api = Arc::new(Api::new().await);
    for h in ["h1", "h2", "h3"] {
        api.host(h, 2, GIB, &[]).await;
    }
    // 3 hosts of 1 GiB, 300 MiB per node: 9 nodes fit, 3 per host. 16 clusters are
    // created at once while 4 threads run scheduler passes against each other.
    let done = Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut passes = Vec::new();
    for _ in 0..4 {
        let (ctx, done) = (api.ctx.clone(), done.clone());
        passes.push(std::thread::spawn(move || {
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                corral_server::run_scheduler_pass(&ctx).unwrap();
            }
        }));
    }
    let mut creates = Vec::new();
    for i in 0..16 {
        let api = api.clone();
        let policy = if i % 2 == 0 { "spread" } else { "pack" };
        creates.push(tokio::spawn(async move {
            api.create(json!({"name": format!("c{i}"), "image": "minimal", "placement": policy, "resources": {"memory": "300MiB"}}))
                .await
        }));
    }
    for t in creates {
        let (s, v) = t.await.unwrap();
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    }
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    for p in passes {
        p.join().unwrap();
    }
    api.schedule();
    let (_, hosts) = api.call("GET", "/v1/hosts", None).await;
    let mut per_host = HashMap::new();
    for h in hosts.as_array().unwrap() {
        let used = h["used_memory_bytes"].as_u64().unwrap();
        assert!(used <= GIB, "{} holds {} MiB of 1024", h["name"], used / MIB);
        per_host.insert(h["name"].as_str().unwrap().to_string(), h["nodes"].as_u64().unwrap());
    }
    assert_eq!(per_host.values().sum::<u64>(), 9, "{per_host:?}");
    let (_, clusters) = api.call("GET", "/v1/clusters", None).await;
    let pending = clusters
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["nodes"].as_array().unwrap().clone())
        .filter(|n| n["state"] == "pending")
        .count();
    assert_eq!(pending, 7);
}

#[tokio::test]
async fn consolidation_empties_the_least_loaded_switched_host_of_pack_nodes() {
    // No spare host: an emptied host would be powered off at once.
    let api = Api::with_config(|c| c.power.spare = corral_server::Spare::Hosts(0)).await;
    for h in ["h1", "h2"] {
        api.host(h, 4, 4 * GIB, &[]).await;
        let (s, v) = api
            .call("PUT", &format!("/v1/hosts/{h}/power"), Some(json!({"driver": "sim"})))
            .await;
        assert_eq!(s, StatusCode::OK, "{v}");
    }
    // Pack fills one host with `a` (3 GiB) and `b`'s first node, and puts `b-1` on the other.
    for (name, nodes) in [("a", 3), ("b", 2)] {
        let (s, v) = api
            .create(json!({"name": name, "image": "minimal", "nodes": nodes, "placement": "pack", "resources": {"memory": "1GiB"}}))
            .await;
        assert_eq!(s, StatusCode::ACCEPTED, "{v}");
        api.schedule();
    }
    let a = api.hosts_of("a").await;
    let full = a["node-0"].clone().unwrap();
    let other = if full == "h1" { "h2" } else { "h1" };
    assert_eq!(api.hosts_of("b").await["node-1"].as_deref(), Some(other));
    let mut state = corral_server::ConsolidationState::default();
    let now = 1_000_000;
    corral_server::run_consolidation_pass(&api.ctx, &mut state, now).unwrap();
    let moving = |ctx: &Arc<Context>| -> usize {
        let text = format!(
            "{:?}",
            corral_store::typed::list::<Value>(ctx.store.as_ref(), "/nodes/").unwrap()
        );
        text.matches("\"phase\"").count()
    };
    assert_eq!(
        moving(&api.ctx),
        0,
        "the full host cannot be emptied and the other's node has no room"
    );

    // `a` shrinks to one node (its agent reports the others gone): b-1 now fits beside
    // the rest, and its host is emptied.
    let ids: HashMap<String, String> = InProcessControlPlane::new(api.ctx.clone())
        .assignments(&full, 0)
        .await
        .unwrap()
        .nodes
        .into_iter()
        .map(|n| (format!("{}/{}", n.cluster, n.name), n.id))
        .collect();
    let (s, v) = api
        .call("POST", "/v1/clusters/a/scale", Some(json!({"nodes": 1})))
        .await;
    assert_eq!(s, StatusCode::ACCEPTED, "{v}");
    let gone = ["a/node-1", "a/node-2"]
        .iter()
        .map(|n| corral_api::agent::NodeReport {
            id: ids[*n].clone(),
            state: corral_api::NodeState::Deleting,
            error: None,
            oom_kills: 0,
            started_at: None,
            removed: true,
        })
        .collect();
    InProcessControlPlane::new(api.ctx.clone())
        .report(&full, gone)
        .await
        .unwrap();
    // While the nodes are busy (half their cpu over the last minutes), a restart would
    // cut into their work: nothing moves. Once their use has been low for the window,
    // b-1 moves.
    let cp = InProcessControlPlane::new(api.ctx.clone());
    let report = |ids: Vec<(String, u32)>, cpu_share: f64, t: u64| corral_api::agent::MetricsReport {
        interval_secs: 10,
        nodes: ids
            .into_iter()
            .map(|(id, cpu_millis)| corral_api::agent::NodeSamples {
                id,
                samples: (0..6)
                    .map(|i| corral_api::NodeSample {
                        t: t - 50 + i * 10,
                        cpu_percent: cpu_share * cpu_millis as f64 / 10.0,
                        memory_bytes: 32 << 20,
                        rx_bytes_per_sec: 0.0,
                        tx_bytes_per_sec: 0.0,
                        disk_bytes: 0,
                    })
                    .collect(),
            })
            .collect(),
    };
    for h in [full.as_str(), other] {
        let ids = cp.assignments(h, 0).await.unwrap().nodes;
        let ids = ids.into_iter().map(|n| (n.id, n.cpu_millis)).collect();
        cp.metrics(h, report(ids, 0.5, now + 1)).await.unwrap();
    }
    corral_server::run_consolidation_pass(&api.ctx, &mut state, now + 1).unwrap();
    assert_eq!(moving(&api.ctx), 0, "busy nodes are not restarted to consolidate");
    corral_server::run_consolidation_pass(&api.ctx, &mut state, now + 400).unwrap();
    let (_, node) = api.call("GET", "/v1/clusters/b/nodes/node-1", None).await;
    let (_, events) = api.call("GET", &format!("/v1/events?target=hosts/{other}"), None).await;
    assert!(events.to_string().contains("consolidating"), "{events}");
    assert_eq!(moving(&api.ctx), 1, "b-1 moves to {full}: {node}");
}
