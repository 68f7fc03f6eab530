//! `corral cluster ...`: create, list, show, scale, stop, start, delete, events,
//! rotate-credential.

use clap::{Args, Subcommand};
use corral_api::{Cluster, Event, Operation, ScaleRequest};

use super::cluster_spec::CreateArgs;
use super::page::{self, PageArgs};
use super::Ctx;

/// Verbs of `corral cluster`.
#[derive(Debug, Subcommand)]
pub enum ClusterCommand {
    /// Create a cluster from flags or a spec file and wait until its nodes run
    Create(CreateArgs),
    /// List clusters, by owner and name
    List(ListArgs),
    /// Show a cluster and its nodes
    Show {
        /// Cluster name
        name: String,
    },
    /// Delete a cluster and its nodes
    Delete(NameArgs),
    /// Change the number of nodes of a group
    Scale(ScaleArgs),
    /// Stop every node, keeping their writable layers and addresses
    Stop(NameArgs),
    /// Start the nodes of a stopped cluster
    Start(NameArgs),
    /// Show the events of a cluster
    Events {
        /// Cluster name
        name: String,
    },
    /// Replace the credential the cluster's nodes use for the node API (the old one
    /// is refused at once; running nodes get the new one in /etc/corral/credential)
    RotateCredential {
        /// Cluster name
        name: String,
    },
}

/// Filters of `corral cluster list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only clusters in this state (creating, running, degraded, stopping, stopped, deleting)
    #[arg(long)]
    pub state: Option<String>,
    /// Only this user's clusters (admin)
    #[arg(long)]
    pub owner: Option<String>,
    /// Only clusters whose name starts with this
    #[arg(long)]
    pub prefix: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// A cluster name and whether to wait for the operation.
#[derive(Debug, Args)]
pub struct NameArgs {
    /// Cluster name
    pub name: String,
    /// Return once the request is accepted instead of waiting for it to finish
    #[arg(long = "async")]
    pub no_wait: bool,
}

/// Arguments of `corral cluster scale`.
#[derive(Debug, Args)]
pub struct ScaleArgs {
    /// Cluster name
    pub name: String,
    /// Desired number of nodes in the group
    #[arg(long)]
    pub nodes: u32,
    /// Node group to resize (needed when the cluster has several)
    #[arg(long)]
    pub group: Option<String>,
    /// Return once the request is accepted instead of waiting for it to finish
    #[arg(long = "async")]
    pub no_wait: bool,
}

/// Runs one `corral cluster` verb.
pub async fn run(cmd: ClusterCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        ClusterCommand::Create(args) => {
            let spec = args.spec()?;
            let op: Operation = ctx.client.post(&["v1", "clusters"], &spec).await?;
            if ctx.accepted(op, args.no_wait).await?.is_some() {
                show(ctx, &spec.name).await?;
            }
        }
        ClusterCommand::List(a) => {
            let filters = page::query(&[("state", a.state), ("owner", a.owner), ("prefix", a.prefix)]);
            page::show::<Cluster>(ctx, &["v1", "clusters"], filters, a.page).await?;
        }
        ClusterCommand::Show { name } => show(ctx, &name).await?,
        ClusterCommand::Delete(a) => {
            let op: Operation = ctx.client.delete(&["v1", "clusters", &a.name]).await?;
            if let Some(done) = ctx.accepted(op, a.no_wait).await? {
                ctx.show(&done)?;
            }
        }
        ClusterCommand::Scale(a) => {
            let body = ScaleRequest {
                group: a.group,
                nodes: a.nodes,
            };
            let op: Operation = ctx.client.post(&["v1", "clusters", &a.name, "scale"], &body).await?;
            if ctx.accepted(op, a.no_wait).await?.is_some() {
                show(ctx, &a.name).await?;
            }
        }
        ClusterCommand::Stop(a) => lifecycle(ctx, a, "stop").await?,
        ClusterCommand::Start(a) => lifecycle(ctx, a, "start").await?,
        ClusterCommand::Events { name } => {
            let events: Vec<Event> = ctx.client.get(&["v1", "clusters", &name, "events"]).await?;
            ctx.show(&events)?;
        }
        ClusterCommand::RotateCredential { name } => {
            let path = ["v1", "clusters", &name, "credential", "rotate"];
            let cluster: Cluster = ctx.client.post_empty(&path).await?;
            ctx.show(&cluster)?;
        }
    }
    Ok(0)
}

async fn show(ctx: &mut Ctx<'_>, name: &str) -> anyhow::Result<()> {
    let cluster: Cluster = ctx.client.get(&["v1", "clusters", name]).await?;
    ctx.show(&cluster)
}

async fn lifecycle(ctx: &mut Ctx<'_>, a: NameArgs, verb: &str) -> anyhow::Result<()> {
    let op: Operation = ctx.client.post_empty(&["v1", "clusters", &a.name, verb]).await?;
    if ctx.accepted(op, a.no_wait).await?.is_some() {
        show(ctx, &a.name).await?;
    }
    Ok(())
}
