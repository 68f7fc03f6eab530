//! What every handler and loop of the controller shares.

use std::path::PathBuf;
use std::sync::{Arc, RwLock};

use corral_agent::Agent;
use corral_image::ImageStore;
use corral_store::Store;
use ipnet::Ipv4Net;

/// Settings of the controller.
#[derive(Debug, Clone)]
pub struct ServerConfig {
    /// Directory for the server's files (uploads, bootstrap credential).
    pub data_dir: PathBuf,
    /// Range cluster subnets are taken from.
    pub subnet_pool: Ipv4Net,
    /// Prefix length of a cluster subnet chosen by Corral.
    pub subnet_prefix: u8,
    /// MTU of cluster networks.
    pub mtu: u32,
    /// How far cpu may be over-committed (1.0 = not at all).
    pub cpu_overcommit: f64,
    /// Longest token lifetime in seconds.
    pub max_token_ttl: u64,
    /// Default token lifetime in seconds.
    pub default_token_ttl: u64,
    /// Quota of a non-admin user: nodes.
    pub quota_nodes: u32,
    /// Quota of a non-admin user: millicpus.
    pub quota_cpu_millis: u64,
    /// Quota of a non-admin user: memory bytes.
    pub quota_memory_bytes: u64,
    /// How long a host may stay silent before it is unreachable and its nodes are
    /// recovered elsewhere.
    pub host_timeout: std::time::Duration,
    /// The power policy: spare capacity, idle time, boot and shutdown timeouts.
    pub power: corral_policy::power::PowerPolicy,
    /// How often the power manager looks at the pool.
    pub power_interval: std::time::Duration,
    /// Least time between two hosts chosen for consolidation; zero turns it off.
    pub consolidate_interval: std::time::Duration,
    /// What a host draws: idle and peak watts, boot and shutdown times.
    pub power_model: corral_policy::energy::PowerModel,
    /// How often the elasticity manager looks at the elastic node groups.
    pub elastic_interval: std::time::Duration,
}

impl ServerConfig {
    /// Defaults for a data directory.
    pub fn new(data_dir: PathBuf) -> Self {
        ServerConfig {
            data_dir,
            subnet_pool: "10.200.0.0/14".parse().expect("static subnet"),
            subnet_prefix: 24,
            // Leaves room for VXLAN's 50 bytes on a 1500-byte underlay, so any cluster
            // can stretch over hosts.
            mtu: 1450,
            cpu_overcommit: 4.0,
            max_token_ttl: 30 * 24 * 3600,
            default_token_ttl: 7 * 24 * 3600,
            quota_nodes: 64,
            quota_cpu_millis: 64_000,
            quota_memory_bytes: 64 << 30,
            host_timeout: std::time::Duration::from_secs(15),
            power: Default::default(),
            power_interval: std::time::Duration::from_secs(5),
            consolidate_interval: std::time::Duration::from_secs(600),
            power_model: Default::default(),
            elastic_interval: std::time::Duration::from_secs(5),
        }
    }
}

/// Shared state of the controller.
pub struct Context {
    /// The state store, source of truth.
    pub store: Arc<dyn Store>,
    /// Image content.
    pub images: ImageStore,
    /// Settings.
    pub cfg: ServerConfig,
    /// Agents running in this process, by host name (`corral up` has one).
    local_agents: RwLock<Vec<(String, Arc<Agent>)>>,
    /// Serialises admission + write of requests that claim capacity, so two
    /// concurrent creates never both take the last room.
    pub admission: tokio::sync::Mutex<()>,
    /// The pool's PKI, once the agent API listens.
    pub pki: std::sync::OnceLock<Arc<crate::pki::Pki>>,
    /// Channels to remote hosts' agents, for exec and save.
    pub host_channels: crate::host_channel::HostChannels,
    /// When each host's agent last spoke. Kept in memory, not in the store: liveness
    /// is about now, and a restarted server gives every host a fresh grace period.
    heartbeats: std::sync::Mutex<std::collections::HashMap<String, std::time::Instant>>,
    /// Metrics recorded as things happen (API latencies, scheduler passes).
    pub metrics: crate::metrics::Metrics,
    /// Samples of every node's use, for the charts.
    pub metrics_history: crate::metrics_history::MetricsHistory,
    /// Energy drawn and saved, per host, cluster and project.
    pub energy: crate::energy::Energy,
    /// Rate limits of requests from inside clusters (the node API).
    pub node_api: crate::in_cluster::NodeApiLimits,
}

impl Context {
    /// A context over a store and an image store.
    pub fn new(store: Arc<dyn Store>, images: ImageStore, cfg: ServerConfig) -> Arc<Self> {
        Arc::new(Context {
            store,
            images,
            cfg,
            local_agents: RwLock::new(Vec::new()),
            admission: tokio::sync::Mutex::new(()),
            pki: std::sync::OnceLock::new(),
            host_channels: Default::default(),
            heartbeats: Default::default(),
            metrics: Default::default(),
            metrics_history: Default::default(),
            energy: Default::default(),
            node_api: Default::default(),
        })
    }

    /// Registers an agent that runs in this process.
    pub fn add_local_agent(&self, host: &str, agent: Arc<Agent>) {
        let mut v = self.local_agents.write().unwrap_or_else(|e| e.into_inner());
        v.retain(|(h, _)| h != host);
        v.push((host.to_string(), agent));
    }

    /// Notes that a host's agent spoke now.
    pub fn heartbeat(&self, host: &str) {
        let mut m = self.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
        m.insert(host.to_string(), std::time::Instant::now());
    }

    /// When a host's agent last spoke; a host not heard of since this server started
    /// counts as heard now.
    pub fn last_heartbeat(&self, host: &str) -> std::time::Instant {
        let mut m = self.heartbeats.lock().unwrap_or_else(|e| e.into_inner());
        *m.entry(host.to_string()).or_insert_with(std::time::Instant::now)
    }

    /// The agents running in this process.
    pub fn local_agents(&self) -> Vec<Arc<Agent>> {
        let v = self.local_agents.read().unwrap_or_else(|e| e.into_inner());
        v.iter().map(|(_, a)| a.clone()).collect()
    }

    /// The in-process agent of a host, if there is one.
    pub fn local_agent(&self, host: &str) -> Option<Arc<Agent>> {
        let v = self.local_agents.read().unwrap_or_else(|e| e.into_inner());
        v.iter().find(|(h, _)| h == host).map(|(_, a)| a.clone())
    }
}
