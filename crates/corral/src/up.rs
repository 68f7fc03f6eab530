//! `corral up`: the controller and this machine's agent in one process, with the
//! embedded SQLite store under one data directory.

use std::sync::Arc;

use corral_server::InProcessControlPlane;

use crate::agent_cmd;
use crate::server_cmd::{self, ServerArgs};

/// Options of `corral up`.
#[derive(Debug, clap::Args)]
pub struct UpArgs {
    #[command(flatten)]
    server: ServerArgs,
    /// Name of this host in the pool [default: the machine's hostname]
    #[arg(long)]
    pub host: Option<String>,
    /// cgroup parent of the nodes (e.g. `corral` → /sys/fs/cgroup/<ctrl>/corral/<node>)
    #[arg(long, default_value = "corral")]
    pub cgroup_parent: String,
    #[command(flatten)]
    pub tuning: agent_cmd::Tuning,
}

/// Runs `corral up` until SIGINT or SIGTERM.
pub async fn run(mut args: UpArgs) -> anyhow::Result<()> {
    let _host_lock = corral_agent::lock_host()?;
    // A one-machine pool accepts remote agents only if asked to.
    if std::env::var_os("CORRAL_AGENT_LISTEN").is_none() && args.server.agent_listen == "0.0.0.0:7701" {
        args.server.agent_listen = "127.0.0.1:7701".into();
    }
    let s = server_cmd::start(&args.server).await?;
    let host = args.host.clone().unwrap_or_else(agent_cmd::hostname);
    let agent = agent_cmd::build(
        &args.server.data_dir,
        &host,
        s.ctx.images.clone(),
        &args.cgroup_parent,
        &args.tuning,
        Default::default(),
        "127.0.0.1".into(),
    )?;
    s.ctx.add_local_agent(&host, agent.clone());
    let cp = InProcessControlPlane::new(s.ctx.clone());
    tokio::spawn(async move {
        if let Err(e) = agent.run(cp).await {
            tracing::error!(error = %e, "agent stopped");
        }
    });
    let addr = s.listener.local_addr()?;
    println!("Corral is up. API: http://{addr}");
    println!(
        "Log in as the admin: corral login --server http://{addr} --user admin --password-file {}",
        corral_server::credential_path(&s.ctx).display()
    );
    let _ = Arc::strong_count(&s.ctx);
    server_cmd::serve_until_signal(s.ctx, s.listener).await
}
