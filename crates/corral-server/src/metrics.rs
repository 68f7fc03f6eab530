//! Prometheus metrics of the controller, served at `GET /metrics` (no auth) in the
//! OpenMetrics text format.
//!
//! Two kinds: what the store says (nodes, hosts, capacity, operations, OOM kills) is
//! computed at scrape time from one read of the store, so it can never drift from the
//! truth; what only happens in this process (API latencies, scheduler passes) is
//! recorded live into [`Metrics`], kept in the [`Context`].

use std::collections::HashMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request, State};
use axum::http::{header, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use corral_api::{HostState, OperationStatus};
use corral_store::typed;
use prometheus_client::encoding::text::{encode_eof, encode_registry};
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

use crate::cluster::ClusterRecord;
use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::node::Desired;
use crate::scheduler::PassStats;

/// Content type of the OpenMetrics text format, which Prometheus scrapes.
const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

/// Label set of the API latency histogram: method, route template, status code.
type HttpLabels = [(&'static str, String); 3];

/// A label set of a scrape-time gauge.
type Labels = Vec<(&'static str, String)>;

/// Metrics recorded as things happen in this process.
pub struct Metrics {
    registry: Registry,
    http: Family<HttpLabels, Histogram, fn() -> Histogram>,
    pass: Histogram,
    placements: Counter,
}

fn http_histogram() -> Histogram {
    // 1 ms .. ~16 s.
    Histogram::new(exponential_buckets(0.001, 2.0, 15))
}

impl Default for Metrics {
    fn default() -> Self {
        let mut registry = Registry::default();
        let http = Family::<HttpLabels, Histogram, fn() -> Histogram>::new_with_constructor(http_histogram);
        registry.register(
            "corral_http_request_duration_seconds",
            "Time the user API took to answer a request (until its response headers)",
            http.clone(),
        );
        // 0.5 ms .. ~16 s.
        let pass = Histogram::new(exponential_buckets(0.0005, 2.0, 16));
        registry.register(
            "corral_scheduler_pass_duration_seconds",
            "Time of one scheduler pass, conflicting attempts included",
            pass.clone(),
        );
        let placements = Counter::default();
        // The encoder appends `_total` to counters.
        registry.register(
            "corral_scheduler_placements",
            "Nodes the scheduler gave a host",
            placements.clone(),
        );
        Metrics {
            registry,
            http,
            pass,
            placements,
        }
    }
}

impl Metrics {
    /// Records one API request.
    pub fn http_request(&self, method: &str, route: &str, status: u16, took: Duration) {
        let labels = [
            ("method", method.to_string()),
            ("route", route.to_string()),
            ("status", status.to_string()),
        ];
        self.http.get_or_create(&labels).observe(took.as_secs_f64());
    }

    /// Records one scheduler pass that completed.
    pub fn scheduler_pass(&self, took: Duration, stats: &PassStats) {
        self.pass.observe(took.as_secs_f64());
        self.placements.inc_by(stats.placed as u64);
    }
}

/// Middleware timing every request of the user API, labelled with its route template
/// (`/v1/clusters/{name}`, never the raw path) so the number of series stays bounded.
pub async fn track(State(ctx): State<Arc<Context>>, req: Request, next: Next) -> Response {
    let method = req.method().as_str().to_string();
    let route = req
        .extensions()
        .get::<MatchedPath>()
        .map(|p| p.as_str().to_string())
        .unwrap_or_else(|| "unmatched".to_string());
    let t = Instant::now();
    let resp = next.run(req).await;
    ctx.metrics
        .http_request(&method, &route, resp.status().as_u16(), t.elapsed());
    resp
}

/// `GET /metrics`.
pub async fn serve(State(ctx): State<Arc<Context>>) -> Response {
    match tokio::task::spawn_blocking(move || render(&ctx)).await {
        Ok(Ok(text)) => ([(header::CONTENT_TYPE, CONTENT_TYPE)], text).into_response(),
        Ok(Err(e)) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}\n")).into_response(),
        Err(e) => (StatusCode::INTERNAL_SERVER_ERROR, format!("metrics: {e}\n")).into_response(),
    }
}

/// The whole exposition: store gauges, the live metrics, then those of the agent
/// running in this process (`corral up`), whose names (`corral_node_cpu_seconds`,
/// `corral_agent_*`, ...) the server does not use.
pub fn render(ctx: &Context) -> Result<String> {
    let snapshot = from_store(ctx)?;
    let mut out = String::new();
    let fmt = |e: std::fmt::Error| crate::error::ServerError::Internal(format!("encoding metrics: {e}"));
    encode_registry(&mut out, &snapshot).map_err(fmt)?;
    encode_registry(&mut out, &ctx.metrics.registry).map_err(fmt)?;
    for agent in ctx.local_agents() {
        agent.encode_metrics(&mut out).map_err(fmt)?;
    }
    encode_eof(&mut out).map_err(fmt)?;
    Ok(out)
}

fn host_state(s: HostState) -> &'static str {
    match s {
        HostState::Ready => "ready",
        HostState::Unreachable => "unreachable",
        HostState::Draining => "draining",
        HostState::Removed => "removed",
    }
}

fn operation_status(s: OperationStatus) -> &'static str {
    match s {
        OperationStatus::Running => "running",
        OperationStatus::Succeeded => "succeeded",
        OperationStatus::Failed => "failed",
    }
}

fn gauges() -> Family<Labels, Gauge> {
    Family::default()
}

/// A registry of gauges computed from one read of the store.
fn from_store(ctx: &Context) -> Result<Registry> {
    let hosts = crate::host::all(ctx)?;
    let nodes = crate::node::all(ctx)?;
    let clusters: HashMap<String, ClusterRecord> = typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?
        .into_iter()
        .map(|d| (d.value.uid.clone(), d.value))
        .collect();
    let operations = crate::operation::all(ctx)?;
    let mut reg = Registry::default();

    // Nodes. The project is the cluster's owner until projects exist.
    let by_state = gauges();
    let oom = Family::<Labels, Counter>::default();
    for d in &nodes {
        let n = &d.value;
        let project = clusters
            .get(&n.cluster_uid)
            .map(|c| c.owner.clone())
            .unwrap_or_else(|| n.owner.clone());
        by_state
            .get_or_create(&vec![
                ("cluster", n.cluster.clone()),
                ("project", project.clone()),
                ("host", n.host.clone().unwrap_or_default()),
                ("state", n.state.as_str().to_string()),
            ])
            .inc();
        // Cluster names are unique per owner, so the project keeps series apart.
        oom.get_or_create(&vec![
            ("cluster", n.cluster.clone()),
            ("project", project),
            ("host", n.host.clone().unwrap_or_default()),
            ("node", n.name.clone()),
        ])
        .inc_by(n.oom_kills);
    }
    reg.register(
        "corral_nodes",
        "Nodes by cluster, project (cluster owner), host (empty while pending) and state",
        by_state,
    );
    reg.register(
        "corral_node_oom_kills",
        "Processes of a node killed for lack of memory",
        oom,
    );

    // Hosts. Every state is listed, at 0 when no host is in it.
    let by_state = gauges();
    for s in [
        HostState::Ready,
        HostState::Unreachable,
        HostState::Draining,
        HostState::Removed,
    ] {
        by_state
            .get_or_create(&vec![("state", host_state(s).to_string())])
            .set(0);
    }
    // What a host's nodes use, as the API counts it (`HostRecord::to_api`): nodes
    // being deleted no longer count.
    let mut used: HashMap<&str, (u64, u64)> = HashMap::new();
    for d in &nodes {
        let n = &d.value;
        if let (Some(h), true) = (n.host.as_deref(), n.desired != Desired::Deleted) {
            let u = used.entry(h).or_default();
            u.0 += n.cpu_millis as u64;
            u.1 += n.memory_bytes;
        }
    }
    let cpu = gauges();
    let memory = gauges();
    let used_cpu = gauges();
    let used_memory = gauges();
    for h in &hosts {
        by_state
            .get_or_create(&vec![("state", host_state(h.state).to_string())])
            .inc();
        let l = vec![("host", h.name.clone())];
        let (c, m) = used.get(h.name.as_str()).copied().unwrap_or_default();
        cpu.get_or_create(&l).set(h.capacity.cpu_millis as i64);
        memory.get_or_create(&l).set(h.capacity.memory_bytes as i64);
        used_cpu.get_or_create(&l).set(c as i64);
        used_memory.get_or_create(&l).set(m as i64);
    }
    reg.register("corral_hosts", "Hosts by state", by_state);
    reg.register(
        "corral_host_capacity_cpu_millis",
        "Cpu a host offers, in millicpus",
        cpu,
    );
    reg.register(
        "corral_host_capacity_memory_bytes",
        "Memory a host offers, in bytes",
        memory,
    );
    reg.register(
        "corral_host_used_cpu_millis",
        "Cpu the nodes placed on a host ask for, in millicpus",
        used_cpu,
    );
    reg.register(
        "corral_host_used_memory_bytes",
        "Memory the nodes placed on a host ask for, in bytes",
        used_memory,
    );

    // Power and energy (the power model's figures, from the energy ledger).
    type FloatGauges = Family<Labels, Gauge<f64, std::sync::atomic::AtomicU64>>;
    let (watts, drawn, saved) = (FloatGauges::default(), FloatGauges::default(), FloatGauges::default());
    for h in &hosts {
        let e = ctx.energy.host(&h.name);
        let state = if h.power_config.is_some() {
            h.power.state
        } else {
            corral_api::PowerState::On
        };
        watts
            .get_or_create(&vec![
                ("host", h.name.clone()),
                ("power_state", state.as_str().to_string()),
            ])
            .set(e.watts);
        drawn.get_or_create(&vec![("host", h.name.clone())]).set(e.joules);
        saved.get_or_create(&vec![("host", h.name.clone())]).set(e.saved_joules);
    }
    let report = ctx.energy.report();
    let charged = FloatGauges::default();
    for (key, j) in &report.clusters {
        let (project, cluster) = key.split_once('/').unwrap_or(("", key));
        charged
            .get_or_create(&vec![
                ("cluster", cluster.to_string()),
                ("project", project.to_string()),
            ])
            .set(*j);
    }
    reg.register(
        "corral_host_power_watts",
        "Watts a host draws now, by the power model",
        watts,
    );
    reg.register(
        "corral_host_energy_joules",
        "Joules a host drew since accounting started",
        drawn,
    );
    reg.register(
        "corral_host_energy_saved_joules",
        "Joules saved on a host against keeping it always on",
        saved,
    );
    reg.register(
        "corral_cluster_energy_joules",
        "Joules charged to a cluster, by the cpu its nodes hold",
        charged,
    );

    // Operations.
    let ops = gauges();
    for d in &operations {
        let o = &d.value.op;
        ops.get_or_create(&vec![
            ("kind", o.kind.clone()),
            ("status", operation_status(o.status).to_string()),
        ])
        .inc();
    }
    reg.register("corral_operations", "Stored operations by kind and status", ops);
    Ok(reg)
}
