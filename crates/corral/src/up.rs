//! `corral up`: the controller and this machine's agent in one process, with the
//! embedded SQLite store under one data directory.

use std::path::PathBuf;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use corral_agent::{Agent, AgentConfig};
use corral_image::ImageStore;
use corral_network::BridgeNetwork;
use corral_runtime::crun::{self, Crun};
use corral_server::{Context, InProcessControlPlane, ServerConfig};
use corral_store::sqlite::SqliteStore;

/// Options of `corral up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    /// Directory for the store, images and nodes
    #[arg(long, env = "CORRAL_DATA_DIR", default_value = "/var/lib/corral")]
    pub data_dir: PathBuf,
    /// Address the API listens on
    #[arg(long, env = "CORRAL_LISTEN", default_value = "127.0.0.1:7700")]
    pub listen: String,
    /// Name of this host in the pool [default: the machine's hostname]
    #[arg(long)]
    pub host: Option<String>,
    /// cgroup parent of the nodes (e.g. `corral` → /sys/fs/cgroup/<ctrl>/corral/<node>)
    #[arg(long, default_value = "corral")]
    pub cgroup_parent: String,
    /// Range cluster subnets are taken from
    #[arg(long, default_value = "10.200.0.0/14")]
    pub subnet_pool: ipnet::Ipv4Net,
    /// How many nodes the agent makes at once
    #[arg(long, default_value_t = 4)]
    pub parallelism: usize,
}

fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|s| s.trim().to_string())
        .ok()
        .filter(|s| !s.is_empty())
        .unwrap_or_else(|| "localhost".into())
}

/// Builds the `minimal` image on first start, so a new pool can make a cluster at once.
fn ensure_base_image(ctx: &Context) -> anyhow::Result<()> {
    corral_server::ensure_builtin_image(ctx, "minimal", |images| images.build_minimal())
        .context("building the minimal image")
}

/// Runs `corral up` until SIGINT or SIGTERM.
pub async fn run(args: UpArgs) -> anyhow::Result<()> {
    let _host_lock = corral_agent::lock_host()?;
    crun::prepare_host().context("preparing cgroups for crun")?;
    std::fs::create_dir_all(&args.data_dir)
        .with_context(|| format!("creating {}", args.data_dir.display()))?;
    let store =
        Arc::new(SqliteStore::open(&args.data_dir.join("state.db")).context("opening the store")?);
    let images =
        ImageStore::open(&args.data_dir.join("images")).context("opening the image store")?;
    let mut cfg = ServerConfig::new(args.data_dir.join("server"));
    cfg.subnet_pool = args.subnet_pool;
    let ctx = Context::new(store, images.clone(), cfg);
    let host = args.host.clone().unwrap_or_else(hostname);
    let runtime = Arc::new(Crun::new(
        args.data_dir.join("runtime"),
        args.cgroup_parent.clone(),
    )?);
    let agent = Agent::new(
        AgentConfig {
            host: host.clone(),
            data_dir: args.data_dir.join("agent"),
            parallelism: args.parallelism,
            health_interval: Duration::from_secs(1),
            labels: Default::default(),
            address: "127.0.0.1".into(),
        },
        runtime,
        Arc::new(BridgeNetwork::new()),
        images,
    );
    ctx.add_local_agent(&host, agent.clone());
    let listener = tokio::net::TcpListener::bind(&args.listen)
        .await
        .with_context(|| format!("listening on {}", args.listen))?;
    let addr = listener.local_addr()?;
    corral_server::bootstrap(&ctx)?;
    {
        let c = ctx.clone();
        tokio::task::spawn_blocking(move || ensure_base_image(&c)).await??;
    }
    let cp = InProcessControlPlane::new(ctx.clone());
    tokio::spawn(async move {
        if let Err(e) = agent.run(cp).await {
            tracing::error!(error = %e, "agent stopped");
        }
    });
    let cred = corral_server::credential_path(&ctx);
    println!("Corral is up. API: http://{addr}");
    println!(
        "Log in as the admin: corral login --server http://{addr} --user admin --password-file {}",
        cred.display()
    );
    let server = tokio::spawn(corral_server::serve(ctx, listener));
    let mut term = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    tokio::select! {
        r = server => { r??; }
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
    // Nodes keep running: the next start adopts them.
    tracing::info!("stopping; nodes keep running and are adopted at the next start");
    Ok(())
}
