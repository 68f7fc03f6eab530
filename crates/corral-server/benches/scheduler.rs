//! Scheduler throughput: the real placement code over simulated hosts (32 cpus,
//! 128 GiB each) with 10 nodes per host to place, for `spread` and `pack`, beside a
//! naive baseline that scans every host for every node; then a whole scheduler pass
//! (read, place, one transaction) against a real SQLite store.
//!
//! `cargo bench -p corral-server --bench scheduler` (or `bench/scheduler.sh`).
//! Environment: `HOSTS` (default "1000 10000"), `REPS` (default 3), `PASS_HOSTS`
//! (default 1000), `PASS_NODES` (default 10000), `CORRAL_BENCH_DIR` (default /var/tmp).

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

use corral_agent::ControlPlane;
use corral_api::Placement;
use corral_server::scheduler::placement::{Decision, Demand, HostInfo, Labels, Placer};
use corral_server::{Context, InProcessControlPlane, ServerConfig};

const GIB: u64 = 1 << 30;
const NODES_PER_HOST: usize = 10;
const CLUSTER_SIZE: usize = 10;
const OVERCOMMIT: f64 = 4.0;
/// Node shapes, cycled: (millicpus, memory). Ten average ones fill 93 of a host's 128 GiB.
const SHAPES: [(u64, u64); 3] = [(1000, 4 * GIB), (2000, 8 * GIB), (4000, 16 * GIB)];

fn env_list(name: &str, default: &str) -> Vec<usize> {
    std::env::var(name)
        .unwrap_or_else(|_| default.into())
        .split_whitespace()
        .map(|s| s.parse().expect("a number"))
        .collect()
}

struct Sim {
    names: Vec<String>,
    labels: Vec<Labels>,
    clusters: Vec<String>,
    none: Labels,
}

impl Sim {
    fn new(hosts: usize) -> Sim {
        let names = (0..hosts).map(|i| format!("host-{i:05}")).collect();
        let labels = (0..hosts)
            .map(|i| Labels::from([("site".into(), format!("s{}", i % 4))]))
            .collect();
        let clusters = (0..hosts * NODES_PER_HOST / CLUSTER_SIZE)
            .map(|c| format!("{c:08x}"))
            .collect();
        Sim {
            names,
            labels,
            clusters,
            none: Labels::new(),
        }
    }

    fn hosts(&self) -> Vec<HostInfo<'_>> {
        (0..self.names.len())
            .map(|i| HostInfo {
                name: &self.names[i],
                cpu_millis: 32_000,
                memory_bytes: 128 * GIB,
                labels: &self.labels[i],
                ready: true,
            })
            .collect()
    }

    fn demands(&self, policy: Placement) -> Vec<Demand<'_>> {
        (0..self.names.len() * NODES_PER_HOST)
            .map(|i| {
                let (cpu, mem) = SHAPES[i % SHAPES.len()];
                Demand {
                    cluster: &self.clusters[i / CLUSTER_SIZE],
                    cpu_millis: cpu,
                    memory_bytes: mem,
                    policy,
                    constraints: &self.none,
                }
            })
            .collect()
    }
}

/// The baseline: every node scans every host (filter, then score), as the first
/// scheduler did.
fn naive(hosts: &[HostInfo<'_>], demands: &[Demand<'_>]) -> usize {
    let mut free: Vec<(i64, i64)> = hosts
        .iter()
        .map(|h| ((h.cpu_millis as f64 * OVERCOMMIT) as i64, h.memory_bytes as i64))
        .collect();
    let mut on: HashMap<&str, HashSet<usize>> = HashMap::new();
    let mut placed = 0;
    for d in demands {
        let (cpu, mem) = (d.cpu_millis as i64, d.memory_bytes as i64);
        let mine = on.get(d.cluster);
        let fits = |i: &usize| {
            let h = &hosts[*i];
            h.ready
                && d.constraints.iter().all(|(k, v)| h.labels.get(k) == Some(v))
                && free[*i].0 >= cpu
                && free[*i].1 >= mem
                && h.cpu_millis as i64 >= cpu
        };
        let best = match d.policy {
            Placement::Spread => (0..hosts.len())
                .filter(fits)
                .max_by_key(|&i| (!mine.is_some_and(|s| s.contains(&i)), free[i].1, i)),
            Placement::Pack => (0..hosts.len()).filter(fits).min_by_key(|&i| (free[i].1, i)),
        };
        if let Some(i) = best {
            free[i].0 -= cpu;
            free[i].1 -= mem;
            on.entry(d.cluster).or_default().insert(i);
            placed += 1;
        }
    }
    placed
}

fn indexed(hosts: &[HostInfo<'_>], demands: &[Demand<'_>]) -> usize {
    let mut p = Placer::new(hosts, &[], OVERCOMMIT);
    demands
        .iter()
        .filter(|d| matches!(p.place(d), Decision::Host(_)))
        .count()
}

/// Median of `reps` timed runs of `f`, with what the last run returned.
fn time<T>(reps: usize, mut f: impl FnMut() -> T) -> (Duration, T) {
    let mut times = Vec::new();
    let mut last = None;
    for _ in 0..reps {
        let t = Instant::now();
        last = Some(f());
        times.push(t.elapsed());
    }
    times.sort();
    (times[times.len() / 2], last.expect("at least one run"))
}

fn rate(n: usize, d: Duration) -> String {
    format!("{:.0}", n as f64 / d.as_secs_f64())
}

fn placement_table(reps: usize) {
    println!("| hosts | nodes | policy | placed | indexed (placements/s) | naive scan (placements/s) | speedup |");
    println!("|---|---|---|---|---|---|---|");
    for hosts_n in env_list("HOSTS", "1000 10000") {
        let sim = Sim::new(hosts_n);
        let hosts = sim.hosts();
        for policy in [Placement::Spread, Placement::Pack] {
            let demands = sim.demands(policy);
            let (fast, placed) = time(reps, || indexed(&hosts, &demands));
            // The naive scan is slow at 10,000 hosts: one run is enough to see it.
            let (slow, naive_placed) = time(if hosts_n > 2000 { 1 } else { reps }, || naive(&hosts, &demands));
            assert_eq!(placed, naive_placed, "both place the same number of nodes");
            println!(
                "| {hosts_n} | {} | {policy} | {placed} | {} | {} | {:.0}x |",
                demands.len(),
                rate(demands.len(), fast),
                rate(demands.len(), slow),
                slow.as_secs_f64() / fast.as_secs_f64()
            );
        }
    }
}

async fn call(ctx: &Arc<Context>, token: &str, method: &str, path: &str, body: serde_json::Value) -> serde_json::Value {
    use http_body_util::BodyExt;
    use tower::ServiceExt;
    let req = axum::http::Request::builder()
        .method(method)
        .uri(path)
        .header("content-type", "application/json")
        .header("authorization", format!("Bearer {token}"))
        .body(axum::body::Body::from(body.to_string()))
        .unwrap();
    let resp = corral_server::router(ctx.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    let bytes = resp.into_body().collect().await.unwrap().to_bytes();
    let v: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
    assert!(status.is_success(), "{method} {path}: {status} {v}");
    v
}

/// A whole pass over a real SQLite store: hosts registered as agents do, clusters
/// created through the API, then one timed scheduler pass.
async fn whole_pass() {
    let hosts_n = env_list("PASS_HOSTS", "1000")[0];
    let nodes_n = env_list("PASS_NODES", "10000")[0];
    let base = std::env::var("CORRAL_BENCH_DIR").unwrap_or_else(|_| "/var/tmp".into());
    let dir = tempfile::tempdir_in(base).unwrap();
    let store = Arc::new(corral_store::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let images = corral_image::ImageStore::open(&dir.path().join("images")).unwrap();
    let ctx = Context::new(store, images, ServerConfig::new(dir.path().join("server")));
    corral_server::bootstrap(&ctx).unwrap();
    let manifest = corral_image::ImageManifest::new(vec![], Default::default(), 0);
    corral_server::ensure_builtin_image(&ctx, "minimal", |_| Ok(manifest)).unwrap();
    let pw = std::fs::read_to_string(corral_server::credential_path(&ctx)).unwrap();
    let t = Instant::now();
    let cp = InProcessControlPlane::new(ctx.clone());
    for i in 0..hosts_n {
        let req = serde_json::from_value(serde_json::json!({
            "capacity": {"cpu_millis": 32_000, "memory_bytes": 128 * GIB},
            "labels": BTreeMap::from([("site", format!("s{}", i % 4))]),
            "address": "127.0.0.1",
        }))
        .unwrap();
        cp.register(&format!("host-{i:05}"), req).await.unwrap();
    }
    let setup_hosts = t.elapsed();
    let login = serde_json::json!({"name": "admin", "password": pw.trim()});
    let token = {
        use http_body_util::BodyExt;
        use tower::ServiceExt;
        let req = axum::http::Request::post("/v1/login")
            .header("content-type", "application/json")
            .body(axum::body::Body::from(login.to_string()))
            .unwrap();
        let resp = corral_server::router(ctx.clone()).oneshot(req).await.unwrap();
        let v: serde_json::Value =
            serde_json::from_slice(&resp.into_body().collect().await.unwrap().to_bytes()).unwrap();
        v["token"].as_str().unwrap().to_string()
    };
    let t = Instant::now();
    let per_cluster = 100;
    for c in 0..nodes_n.div_ceil(per_cluster) {
        let policy = if c % 2 == 0 { "spread" } else { "pack" };
        let spec = serde_json::json!({"name": format!("c{c}"), "image": "minimal", "nodes": per_cluster,
            "placement": policy, "resources": {"cpu": "2", "memory": "8GiB"}});
        call(&ctx, &token, "POST", "/v1/clusters", spec).await;
    }
    let setup_clusters = t.elapsed();
    let c = ctx.clone();
    let stats = tokio::task::spawn_blocking(move || {
        let t = Instant::now();
        let s = corral_server::scheduler::pass_stats(&c).unwrap();
        (s, t.elapsed())
    })
    .await
    .unwrap();
    let (s, total) = stats;
    println!();
    println!(
        "Whole pass, SQLite store in {} ({hosts_n} hosts registered in {:.1} s, {} nodes created through the API in {:.1} s):",
        dir.path().display(),
        setup_hosts.as_secs_f64(),
        s.placed + s.pending,
        setup_clusters.as_secs_f64()
    );
    println!();
    println!("| hosts | pending nodes | placed | total | read + decode | place | write (one txn) | placements/s |");
    println!("|---|---|---|---|---|---|---|---|");
    let ms = |d: Duration| format!("{:.0} ms", d.as_secs_f64() * 1000.0);
    println!(
        "| {hosts_n} | {} | {} | {} | {} | {} | {} | {} |",
        s.placed + s.pending,
        s.placed,
        ms(total),
        ms(s.read),
        ms(s.place),
        ms(s.write),
        rate(s.placed, total)
    );
    assert_eq!(s.attempts, 1);
}

fn main() {
    let reps = env_list("REPS", "3")[0].max(1);
    println!("Placement alone ({NODES_PER_HOST} nodes per host, 32 cpus / 128 GiB hosts, cpu over-commit {OVERCOMMIT}, median of {reps}):");
    println!();
    placement_table(reps);
    if std::env::var("PASS_NODES").as_deref() != Ok("0") {
        tokio::runtime::Runtime::new().unwrap().block_on(whole_pass());
    }
}
