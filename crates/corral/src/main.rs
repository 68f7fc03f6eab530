//! `corral`: one binary with the server, the agent, `up` (both in one process) and
//! the command-line client.

mod agent_cmd;
mod server_cmd;
mod up;

use clap::{Parser, Subcommand};

/// Corral: isolated, elastic virtual clusters on a pool of Linux hosts.
#[derive(Debug, Parser)]
#[command(name = "corral", version, about, propagate_version = true)]
struct Cli {
    #[command(flatten)]
    client: corral_cli::ClientOptions,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the controller and an agent for this machine in one process, with the
    /// embedded store
    Up(up::UpArgs),
    /// Run the controller: REST API, control loops and the store; agents join it
    Server(server_cmd::ServerArgs),
    /// Run the agent of this host: join a server and run the nodes it assigns here
    Agent(agent_cmd::AgentArgs),
    /// Replay a workload trace through Corral's placement, elasticity and power
    /// policies on simulated hosts, and print energy and job waits against baselines
    Sim(corral_sim::SimArgs),
    #[command(flatten)]
    Client(corral_cli::Command),
}

fn init_tracing() {
    let filter = tracing_subscriber::EnvFilter::try_from_env("CORRAL_LOG")
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .init();
}

fn daemon(f: impl std::future::Future<Output = anyhow::Result<()>>) -> anyhow::Result<()> {
    init_tracing();
    let rt = tokio::runtime::Builder::new_multi_thread().enable_all().build()?;
    rt.block_on(f)
}

fn main() -> anyhow::Result<()> {
    let cli = Cli::parse();
    match cli.command {
        Command::Up(args) => daemon(up::run(args)),
        Command::Server(args) => daemon(server_cmd::run(args)),
        Command::Agent(args) => daemon(agent_cmd::run(args)),
        Command::Sim(args) => {
            print!("{}", corral_sim::run(&args)?);
            Ok(())
        }
        Command::Client(cmd) => {
            let rt = tokio::runtime::Builder::new_current_thread().enable_all().build()?;
            let code = rt.block_on(corral_cli::run(cmd, &cli.client))?;
            std::process::exit(code);
        }
    }
}
