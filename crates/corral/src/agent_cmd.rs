//! `corral agent`: one per host; joins a server once, then follows its assignments.

use std::collections::BTreeMap;
use std::net::{IpAddr, SocketAddr};
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use corral_agent::{Agent, AgentConfig, Credentials, HttpControlPlane};
use corral_image::ImageStore;
use corral_network::MacvlanNetwork;
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
    /// Address of the agent's own listener, which only the server may call (exec,
    /// save); empty for none [default: <--address>:7702, none without --address]
    #[arg(long, env = "CORRAL_AGENT_HOST_LISTEN")]
    pub listen: Option<String>,
    /// Labels, e.g. `site=a,rack=3`
    #[arg(long, value_delimiter = ',')]
    pub label: Vec<String>,
    /// cgroup parent of the nodes
    #[arg(long, default_value = "corral")]
    pub cgroup_parent: String,
    #[command(flatten)]
    pub tuning: Tuning,
    /// Address of the plain-HTTP Prometheus endpoint (`GET /metrics`); empty for none
    /// [default: <--address>:7703, 127.0.0.1:7703 without --address]
    #[arg(long, env = "CORRAL_METRICS_LISTEN")]
    pub metrics_listen: Option<String>,
    /// Prefix of node network namespace names; only needed when several agents share
    /// one machine's /run/netns (test hosts)
    #[arg(long, default_value = "corral-")]
    pub netns_prefix: String,
    /// Shell command that powers this machine off when the server asks (hosts the
    /// server wakes with wake-on-LAN); empty to refuse. It gets the agent's pid as
    /// CORRAL_AGENT_PID
    #[arg(long, default_value = "systemctl poweroff")]
    pub power_off_command: String,
}

/// How the agent paces its work; shared by `corral agent` and `corral up`.
#[derive(Debug, Clone, clap::Args)]
pub struct Tuning {
    /// How many nodes the agent makes at once
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
    /// Seconds between samples of the nodes' cpu, memory, network and disk use
    #[arg(
        long,
        env = "CORRAL_SAMPLE_INTERVAL",
        default_value_t = 10,
        value_parser = clap::value_parser!(u64).range(1..=3600)
    )]
    pub sample_interval: u64,
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
    tuning: &Tuning,
    labels: BTreeMap<String, String>,
    address: String,
) -> anyhow::Result<Arc<Agent>> {
    crun::prepare_host().context("preparing cgroups for crun")?;
    let runtime = Arc::new(Crun::new(data_dir.join("runtime"), cgroup_parent.to_string())?);
    Ok(Agent::new(
        AgentConfig {
            host: host.to_string(),
            data_dir: data_dir.join("agent"),
            parallelism: tuning.parallelism,
            health_interval: Duration::from_secs(1),
            sample_interval: Duration::from_secs(tuning.sample_interval),
            labels,
            address,
        },
        runtime,
        Arc::new(MacvlanNetwork::new()),
        images,
    ))
}

/// Runs `corral agent`.
pub async fn run(args: AgentArgs) -> anyhow::Result<()> {
    let _host_lock = corral_agent::lock_host()?;
    corral_network::names::set_netns_prefix(&args.netns_prefix);
    let host = args.host.clone().unwrap_or_else(hostname);
    let tls_dir = args.data_dir.join("tls");
    let creds = match Credentials::load(&tls_dir) {
        Some(c) => c,
        None => {
            let token = args
                .token
                .as_deref()
                .context("this host has not joined a pool yet: pass --token (from `corral host join-token`)")?;
            let c = corral_agent::join(&args.join, token, &host, &cert_addresses(&args), &tls_dir).await?;
            println!("joined the pool at {} as {host}", args.join);
            c
        }
    };
    let images = ImageStore::open(&args.data_dir.join("images")).context("opening the image store")?;
    let agent = build(
        &args.data_dir,
        &host,
        images.clone(),
        &args.cgroup_parent,
        &args.tuning,
        parse_labels(&args.label)?,
        args.address.clone(),
    )?;
    agent.set_server_addresses(server_addresses(&args.join).await);
    agent.set_power_off_command(Some(args.power_off_command.clone()));
    if let Some(l) = metrics_address(&args) {
        let listener = tokio::net::TcpListener::bind(&l)
            .await
            .with_context(|| format!("listening on {l} for metrics"))?;
        let agent = agent.clone();
        tokio::spawn(async move {
            if let Err(e) = corral_agent::metrics::serve(listener, agent).await {
                tracing::error!(error = %e, "metrics endpoint stopped");
            }
        });
    }
    let exec_address = match listen_address(&args) {
        Some(l) => serve_listener(&l, &args.address, &creds, agent.clone(), images).await?,
        None => String::new(),
    };
    let cp = Arc::new(HttpControlPlane::new(&args.join, &creds)?.with_exec_address(exec_address));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = agent.run(cp) => r?,
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    Ok(())
}

/// The IPv4 addresses the server's URL names, as this host resolves them: nodes may
/// never send to them.
async fn server_addresses(join: &str) -> Vec<std::net::Ipv4Addr> {
    let rest = join.split_once("://").map_or(join, |(_, r)| r);
    let authority = rest.split('/').next().unwrap_or_default();
    let with_port = if authority
        .rsplit_once(':')
        .is_some_and(|(_, p)| p.parse::<u16>().is_ok())
    {
        authority.to_string()
    } else {
        format!("{authority}:443")
    };
    let found = tokio::net::lookup_host(with_port.as_str()).await;
    let mut v: Vec<std::net::Ipv4Addr> = found
        .map(|it| {
            it.filter_map(|a| match a.ip() {
                IpAddr::V4(ip) if !ip.is_loopback() => Some(ip),
                _ => None,
            })
            .collect()
        })
        .unwrap_or_else(|e| {
            tracing::warn!(server = join, error = %e, "cannot resolve the server's address");
            Vec::new()
        });
    v.dedup();
    v
}

/// Port of the agent's own listener unless `--listen` says otherwise.
const LISTEN_PORT: u16 = 7702;

/// Port of the agent's Prometheus endpoint unless `--metrics-listen` says otherwise.
const METRICS_PORT: u16 = 7703;

/// Where the agent's Prometheus endpoint binds, if it has one.
fn metrics_address(args: &AgentArgs) -> Option<String> {
    match &args.metrics_listen {
        Some(l) if l.is_empty() => None,
        Some(l) => Some(l.clone()),
        None => {
            let ip = args.address.parse::<IpAddr>().unwrap_or(IpAddr::from([127, 0, 0, 1]));
            Some(SocketAddr::new(ip, METRICS_PORT).to_string())
        }
    }
}

/// Where the agent's own listener binds, if it has one.
fn listen_address(args: &AgentArgs) -> Option<String> {
    match &args.listen {
        Some(l) if l.is_empty() => None,
        Some(l) => Some(l.clone()),
        None => {
            let ip = args.address.parse::<IpAddr>().ok()?;
            Some(SocketAddr::new(ip, LISTEN_PORT).to_string())
        }
    }
}

/// The addresses the server may dial this host's listener at, for its certificate.
fn cert_addresses(args: &AgentArgs) -> Vec<String> {
    let mut v: Vec<String> = Vec::new();
    let listen_ip = listen_address(args)
        .and_then(|l| l.parse::<SocketAddr>().ok())
        .map(|a| a.ip());
    let ips = args.address.parse::<IpAddr>().ok().into_iter().chain(listen_ip);
    for ip in ips.filter(|ip| !ip.is_unspecified()) {
        if !v.contains(&ip.to_string()) {
            v.push(ip.to_string());
        }
    }
    v
}

/// Starts the agent's own listener (mutual TLS, the server's certificate only) and
/// returns the address to announce to the server.
async fn serve_listener(
    listen: &str,
    address: &str,
    creds: &Credentials,
    agent: Arc<Agent>,
    images: ImageStore,
) -> anyhow::Result<String> {
    let listener = tokio::net::TcpListener::bind(listen)
        .await
        .with_context(|| format!("listening on {listen}"))?;
    let mut announced = listener.local_addr()?;
    if announced.ip().is_unspecified() {
        let ip = address
            .parse::<IpAddr>()
            .with_context(|| format!("--listen {listen} needs --address to say where the server reaches it"))?;
        announced.set_ip(ip);
    }
    let tls = corral_tls::server_only_config(&creds.ca_pem, &creds.cert_pem, &creds.key_pem)
        .context("the agent listener's TLS configuration")?;
    let app = corral_agent::host_api_router(agent, images);
    tokio::spawn(corral_agent::serve_host_api(listener, Arc::new(tls), app));
    Ok(announced.to_string())
}
