//! What the agent measures: per-node samples sent to the server for the history
//! (sampler.rs, probe.rs), and Prometheus metrics of its nodes and of its own work
//! (this file), served by `corral agent --metrics-listen` (serve.rs) and, in
//! `corral up`, by the server's `/metrics`.

mod probe;
mod sampler;
mod serve;

use std::collections::HashMap;
use std::sync::atomic::AtomicU64;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use corral_api::agent::{MetricsReport, NodeSamples};
use prometheus_client::encoding::text::encode_registry;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

pub use probe::{disk_usage, HostProbe};
pub use sampler::{Latest, Probe, Reading, Sampler};
pub use serve::serve;

use crate::agent::Agent;
use crate::control_plane::ControlPlane;

/// A label set.
type Labels = Vec<(&'static str, String)>;

/// Who a node is, for its metric labels.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeLabels {
    /// Cluster name.
    pub cluster: String,
    /// Project (the cluster's owner until projects exist).
    pub project: String,
    /// Node name.
    pub node: String,
}

/// The agent's Prometheus metrics: counters of its own work, recorded as it happens,
/// and the nodes' last readings, turned into series at scrape time.
pub struct AgentMetrics {
    host: String,
    registry: Registry,
    steps: Family<Labels, Counter>,
    step_seconds: Family<Labels, Histogram, fn() -> Histogram>,
    pulls: Family<Labels, Counter>,
    latest: Mutex<HashMap<String, Latest>>,
}

fn step_histogram() -> Histogram {
    // 1 ms .. ~65 s: a step may pull nothing or unpack a large image.
    Histogram::new(exponential_buckets(0.001, 2.0, 17))
}

impl AgentMetrics {
    /// Metrics of the agent of `host`.
    pub fn new(host: &str) -> Self {
        let mut registry = Registry::default();
        let steps = Family::<Labels, Counter>::default();
        // The encoder appends `_total` to counters.
        registry.register(
            "corral_agent_reconcile_steps",
            "Steps the agent took towards a node's assignment, by outcome (running, stopped, removed, failed)",
            steps.clone(),
        );
        let step_seconds = Family::<Labels, Histogram, fn() -> Histogram>::new_with_constructor(step_histogram);
        registry.register(
            "corral_agent_step_duration_seconds",
            "Time of one step on a node (network, files, runtime), image fetch excluded",
            step_seconds.clone(),
        );
        let pulls = Family::<Labels, Counter>::default();
        registry.register(
            "corral_agent_image_pulls",
            "Images fetched from the server into the host's store, by result (ok, failed)",
            pulls.clone(),
        );
        AgentMetrics {
            host: host.to_string(),
            registry,
            steps,
            step_seconds,
            pulls,
            latest: Mutex::new(HashMap::new()),
        }
    }

    /// Records one step and its outcome.
    pub(crate) fn step(&self, outcome: &str, took: Duration) {
        let host = ("host", self.host.clone());
        self.steps
            .get_or_create(&vec![host.clone(), ("outcome", outcome.to_string())])
            .inc();
        self.step_seconds.get_or_create(&vec![host]).observe(took.as_secs_f64());
    }

    /// Records one image fetched (or not) from the server.
    pub(crate) fn image_pull(&self, ok: bool) {
        let result = if ok { "ok" } else { "failed" };
        self.pulls
            .get_or_create(&vec![("host", self.host.clone()), ("result", result.to_string())])
            .inc();
    }

    fn publish(&self, latest: HashMap<String, Latest>) {
        *self.latest.lock().unwrap_or_else(|e| e.into_inner()) = latest;
    }

    /// Appends the metrics in the OpenMetrics text format, without the final `# EOF`
    /// (the caller may add more). `nodes` names the nodes by id.
    pub fn encode(&self, out: &mut String, nodes: &HashMap<String, NodeLabels>) -> std::fmt::Result {
        let cpu = Family::<Labels, Counter<f64, AtomicU64>>::default();
        let memory = Family::<Labels, Gauge>::default();
        let rx = Family::<Labels, Counter>::default();
        let tx = Family::<Labels, Counter>::default();
        let disk = Family::<Labels, Gauge>::default();
        let latest = self.latest.lock().unwrap_or_else(|e| e.into_inner()).clone();
        for (id, l) in &latest {
            let Some(n) = nodes.get(id) else { continue };
            let labels = vec![
                ("cluster", n.cluster.clone()),
                ("project", n.project.clone()),
                ("host", self.host.clone()),
                ("node", n.node.clone()),
            ];
            let r = &l.reading;
            cpu.get_or_create(&labels).inc_by(r.cpu_nanos as f64 / 1e9);
            memory.get_or_create(&labels).set(r.memory_bytes as i64);
            rx.get_or_create(&labels).inc_by(r.rx_bytes);
            tx.get_or_create(&labels).inc_by(r.tx_bytes);
            disk.get_or_create(&labels).set(l.disk_bytes as i64);
        }
        let mut reg = Registry::default();
        reg.register("corral_node_cpu_seconds", "Cpu time a node has used", cpu);
        reg.register(
            "corral_node_memory_bytes",
            "Memory a node uses (cgroup usage minus inactive file cache)",
            memory,
        );
        reg.register(
            "corral_node_network_receive_bytes",
            "Bytes a node has received on its cluster link",
            rx,
        );
        reg.register(
            "corral_node_network_transmit_bytes",
            "Bytes a node has sent on its cluster link",
            tx,
        );
        reg.register("corral_node_disk_bytes", "Disk a node's writable layer takes", disk);
        encode_registry(out, &reg)?;
        encode_registry(out, &self.registry)
    }
}

/// Samples the running nodes every `interval` and sends each batch to the server.
/// A batch that cannot be sent is dropped: the history has a gap rather than the
/// agent a growing backlog.
pub(crate) async fn sample_loop(agent: Arc<Agent>, cp: Arc<dyn ControlPlane>, interval: Duration) {
    let interval = interval.max(Duration::from_secs(1));
    let mut tick = tokio::time::interval(interval);
    tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    let mut sampler = Sampler::default();
    loop {
        tick.tick().await;
        let ids = agent.running_nodes();
        let me = agent.clone();
        let taken = tokio::task::spawn_blocking(move || {
            let samples = sampler.tick(&me.probe(), &ids, crate::agent::now(), Instant::now());
            (sampler, samples)
        })
        .await;
        let samples = match taken {
            Ok((s, samples)) => {
                agent.metrics().publish(s.latest());
                sampler = s;
                samples
            }
            Err(e) => {
                tracing::warn!(error = %e, "sampling failed");
                sampler = Sampler::default();
                continue;
            }
        };
        if samples.is_empty() {
            continue;
        }
        let report = MetricsReport {
            interval_secs: interval.as_secs() as u32,
            nodes: samples
                .into_iter()
                .map(|(id, s)| NodeSamples { id, samples: vec![s] })
                .collect(),
        };
        if let Err(e) = cp.metrics(agent.host(), report).await {
            tracing::debug!(error = %e, "node samples dropped");
        }
    }
}
