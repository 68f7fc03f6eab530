//! `corral agent`: one per host; joins a server once, then follows its assignments.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use corral_agent::{Agent, AgentConfig, Credentials, HttpControlPlane};
use corral_image::ImageStore;
use corral_network::BridgeNetwork;
use corral_runtime::crun::{self, Crun};

/// Options of the host agent.
#[derive(Debug, clap::Args)]
pub struct AgentArgs {
    /// Server's agent API, e.g. https://10.0.0.1:7701
    #[arg(long, env = "CORRAL_JOIN")]
    pub join: String,
    /// One-time join token (`corral host join-token`); only needed the first time
    #[arg(long, env = "CORRAL_JOIN_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
    /// Directory for images, nodes and the agent's credentials
    #[arg(long, env = "CORRAL_DATA_DIR", default_value = "/var/lib/corral-agent")]
    pub data_dir: PathBuf,
    /// Name of this host in the pool [default: the machine's hostname]
    #[arg(long)]
    pub host: Option<String>,
    /// Underlay address other hosts reach this one at
    #[arg(long, default_value = "")]
    pub address: String,
    /// Labels, e.g. `site=a,rack=3`
    #[arg(long, value_delimiter = ',')]
    pub label: Vec<String>,
    /// cgroup parent of the nodes
    #[arg(long, default_value = "corral")]
    pub cgroup_parent: String,
    /// How many nodes the agent makes at once
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
}

/// The machine's hostname.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

fn parse_labels(raw: &[String]) -> anyhow::Result<BTreeMap<String, String>> {
    raw.iter()
        .filter(|l| !l.is_empty())
        .map(|l| {
            l.split_once('=')
                .map(|(k, v)| (k.trim().to_string(), v.trim().to_string()))
                .with_context(|| format!("label {l:?} is not key=value"))
        })
        .collect()
}

/// Builds an agent with the real drivers under `data_dir`.
pub fn build(
    data_dir: &Path,
    host: &str,
    images: ImageStore,
    cgroup_parent: &str,
    parallelism: usize,
    labels: BTreeMap<String, String>,
    address: String,
) -> anyhow::Result<Arc<Agent>> {
    crun::prepare_host().context("preparing cgroups for crun")?;
    let runtime = Arc::new(Crun::new(data_dir.join("runtime"), cgroup_parent.to_string())?);
    Ok(Agent::new(
        AgentConfig {
            host: host.to_string(),
            data_dir: data_dir.join("agent"),
            parallelism,
            health_interval: Duration::from_secs(1),
            labels,
            address,
        },
        runtime,
        Arc::new(BridgeNetwork::new()),
        images,
    ))
}

/// Runs `corral agent`.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let _host_lock = corral_agent::lock_host()?;
    let host = args.host.clone().unwrap_or_else(hostname);
    let tls_dir = args.data_dir.join("tls");
    let creds = match Credentials::load(&tls_dir) {
        Some(c) => c,
        None => {
            let token = args
                .token
                .as_deref()
                .context("this host has not joined a pool yet: pass --token (from `corral host join-token`)")?;
            let c = corral_agent::join(&args.join, token, &host, &tls_dir).await?;
            println!("joined the pool at {} as {host}", args.join);
            c
        }
    };
    let images = ImageStore::open(&args.data_dir.join("images")).context("opening the image store")?;
    let agent = build(
        &args.data_dir,
        &host,
        images,
        &args.cgroup_parent,
        args.parallelism,
        parse_labels(&args.label)?,
        args.address.clone(),
    )?;
    let cp = Arc::new(HttpControlPlane::new(&args.join, &creds)?);
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = agent.run(cp) => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}
