//! `corral server`: the controller alone (REST API, control loops, store) with the
//! agent API that remote agents join.

use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use corral_image::ImageStore;
use corral_server::{Context, ServerConfig};
use corral_store::sqlite::SqliteStore;

/// Options shared by `corral server` and `corral up`.
#[derive(Debug, clap::Args)]
pub struct ServerArgs {
    /// Directory for the store, images and nodes
    #[arg(long, env = "CORRAL_DATA_DIR", default_value = "/var/lib/corral")]
    pub data_dir: PathBuf,
    /// Address the API listens on
    #[arg(long, env = "CORRAL_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: String,
    /// Address the agent API (mutual TLS) listens on; empty to accept no remote agents
    #[arg(long, env = "CORRAL_AGENT_LISTEN", default_value = "0.0.0.0:7701")]
    pub agent_listen: String,
    /// Names and addresses agents reach this server by (for its certificate)
    #[arg(long, value_delimiter = ',')]
    pub advertise: Vec<String>,
    /// Range cluster subnets are taken from
    #[arg(long, default_value = "10.200.0.0/14")]
    pub subnet_pool: ipnet::Ipv4Net,
    /// Seconds a host may stay silent before its nodes are recovered elsewhere
    #[arg(long, default_value_t = 15.0)]
    pub host_timeout: f64,
    /// How far cpu may be over-committed: nodes' cpus on a host may add up to this
    /// many times its cpus (memory is never over-committed)
    #[arg(long, env = "CORRAL_CPU_OVERCOMMIT", default_value_t = 4.0)]
    pub cpu_overcommit: f64,
    /// Seconds a host with a power driver stays empty before Corral powers it off
    #[arg(long, default_value_t = 600)]
    pub host_idle_time: u64,
    /// Empty room kept powered on for nodes that come without warning: a number of
    /// hosts (`1`) or a share of the pool (`10%`)
    #[arg(long, default_value = "1")]
    pub power_spare: String,
    /// Seconds a host may take to boot (its agent back) before Corral tries again
    #[arg(long, default_value_t = 600)]
    pub boot_timeout: u64,
    /// Seconds between looks of the power manager at the pool
    #[arg(long, default_value_t = 5.0)]
    pub power_interval: f64,
    /// Least seconds between two hosts emptied by moving their `pack` nodes onto other
    /// powered-on hosts, so they can be powered off; 0 turns consolidation off
    #[arg(long, default_value_t = 600)]
    pub consolidate_interval: u64,
    /// Seconds between looks of the elasticity manager at elastic node groups
    #[arg(long, env = "CORRAL_ELASTIC_INTERVAL", default_value_t = 5.0)]
    pub elastic_interval: f64,
}

/// Reads `--power-spare`: `N` hosts or `P%` of the pool.
fn parse_spare(s: &str) -> anyhow::Result<corral_server::Spare> {
    let bad = || anyhow::anyhow!("--power-spare {s:?}: give a number of hosts (2) or a share of the pool (10%)");
    match s.trim().strip_suffix('%') {
        Some(p) => {
            let p: f64 = p.trim().parse().map_err(|_| bad())?;
            if !(0.0..=100.0).contains(&p) {
                return Err(bad());
            }
            Ok(corral_server::Spare::Percent(p))
        }
        None => Ok(corral_server::Spare::Hosts(s.trim().parse().map_err(|_| bad())?)),
    }
}

/// A started controller: its context and its API listener.
pub struct Started {
    /// Shared state.
    pub ctx: Arc<Context>,
    /// The user API listener, not yet served.
    pub listener: tokio::net::TcpListener,
}

/// Opens the store, the image store and the listeners; starts the agent API.
pub async fn start(args: &ServerArgs) -> anyhow::Result<Started> {
    std::fs::create_dir_all(&args.data_dir).with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store = Arc::new(SqliteStore::open(&args.data_dir.join("state.db")).context("opening the store")?);
    let images = ImageStore::open(&args.data_dir.join("images")).context("opening the image store")?;
    let mut cfg = ServerConfig::new(args.data_dir.join("server"));
    cfg.subnet_pool = args.subnet_pool;
    if !(0.5..=86_400.0).contains(&args.host_timeout) {
        anyhow::bail!("--host-timeout must be between 0.5 and 86400 seconds");
    }
    cfg.host_timeout = std::time::Duration::from_secs_f64(args.host_timeout);
    if !(0.1..=100.0).contains(&args.cpu_overcommit) {
        anyhow::bail!("--cpu-overcommit must be between 0.1 and 100 (1 = no over-commit)");
    }
    cfg.cpu_overcommit = args.cpu_overcommit;
    cfg.power.spare = parse_spare(&args.power_spare)?;
    cfg.power.host_idle_time = args.host_idle_time;
    cfg.power.boot_timeout = args.boot_timeout.max(1);
    if !(0.1..=3600.0).contains(&args.power_interval) {
        anyhow::bail!("--power-interval must be between 0.1 and 3600 seconds");
    }
    cfg.power_interval = std::time::Duration::from_secs_f64(args.power_interval);
    cfg.consolidate_interval = std::time::Duration::from_secs(args.consolidate_interval);
    if !(0.1..=3600.0).contains(&args.elastic_interval) {
        anyhow::bail!("--elastic-interval must be between 0.1 and 3600 seconds");
    }
    cfg.elastic_interval = std::time::Duration::from_secs_f64(args.elastic_interval);
    let ctx = Context::new(store, images, cfg);
    corral_server::bootstrap(&ctx)?;
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    if !args.agent_listen.is_empty() {
        let agents = tokio::net::TcpListener::bind(&args.agent_listen)
            .await
            .with_context(|| format!("listening on {}", args.agent_listen))?;
        let mut names = args.advertise.clone();
        names.extend(["localhost".to_string(), "127.0.0.1".to_string()]);
        if let Ok(a) = agents.local_addr() {
            if !a.ip().is_unspecified() {
                names.push(a.ip().to_string());
            }
        }
        corral_server::serve_agents(ctx.clone(), agents, &names).await?;
    }
    {
        let c = ctx.clone();
        tokio::task::spawn_blocking(move || {
            corral_server::ensure_builtin_image(&c, "minimal", |images| images.build_minimal())
        })
        .await?
        .context("building the minimal image")?;
    }
    Ok(Started { ctx, listener })
}

/// Serves until SIGINT or SIGTERM.
pub async fn serve_until_signal(ctx: Arc<Context>, listener: tokio::net::TcpListener) -> anyhow::Result<()> {
    let server = tokio::spawn(corral_server::serve(ctx, listener));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = server => { r??; }
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    tracing::info!("stopping; nodes keep running and are adopted at the next start");
    Ok(())
}

/// Runs `corral server`.
pub async fn run(args: ServerArgs) -> anyhow::Result<()> {
    let s = start(&args).await?;
    let addr = s.listener.local_addr()?;
    println!(
        "Corral server is up. API: http://{addr}; agents join at https://{}",
        args.agent_listen
    );
    println!(
        "Log in as the admin: corral login --server http://{addr} --user admin --password-file {}",
        corral_server::credential_path(&s.ctx).display()
    );
    println!("Make a join token for a host: corral host join-token");
    serve_until_signal(s.ctx, s.listener).await
}
