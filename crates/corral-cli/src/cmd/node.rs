//! `corral node ...`: list, show and save nodes.

use clap::{Args, Subcommand};
use corral_api::{Image, MigrateRequest, Node, Operation, SaveNodeRequest};

use super::page::{self, PageArgs};
use super::Ctx;
use crate::node_ref::NodeRef;

/// Verbs of `corral node`.
#[derive(Debug, Subcommand)]
pub enum NodeCommand {
    /// List the nodes of a cluster, by group and index
    List(ListArgs),
    /// Show one node
    Show {
        /// The node, as CLUSTER/NODE
        node: NodeRef,
    },
    /// Save a node's filesystem as a new image
    Save(SaveArgs),
    /// Move a node to another host (cold migration: stop, move its writable layer,
    /// start there with the same name and address); admin only
    Migrate {
        /// CLUSTER/NODE
        node: NodeRef,
        /// Target host [default: the host with the most free memory]
        #[arg(long)]
        to: Option<String>,
        /// Return once the request is accepted
        #[arg(long = "async")]
        no_wait: bool,
    },
}

/// Arguments of `corral node list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Cluster name
    pub cluster: String,
    /// Only nodes in this state (pending, creating, running, stopped, failed, deleting)
    #[arg(long)]
    pub state: Option<String>,
    /// Only nodes on this host
    #[arg(long)]
    pub host: Option<String>,
    /// Only nodes of this group
    #[arg(long)]
    pub group: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Arguments of `corral node save`.
#[derive(Debug, Args)]
pub struct SaveArgs {
    /// The node, as CLUSTER/NODE
    pub node: NodeRef,
    /// Name of the new image
    #[arg(long = "as", value_name = "IMAGE")]
    pub as_image: String,
    /// Return once the request is accepted instead of waiting for the image
    #[arg(long = "async")]
    pub no_wait: bool,
}

/// Runs one `corral node` verb.
pub async fn run(cmd: NodeCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        NodeCommand::List(a) => {
            let filters = page::query(&[("state", a.state), ("host", a.host), ("group", a.group)]);
            page::show::<Node>(ctx, &["v1", "clusters", &a.cluster, "nodes"], filters, a.page).await?;
        }
        NodeCommand::Show { node } => {
            let node: Node = ctx.client.get(&node.segments(&[])).await?;
            ctx.show(&node)?;
        }
        NodeCommand::Migrate { node, to, no_wait } => {
            let op: Operation = ctx
                .client
                .post(&node.segments(&["migrate"]), &MigrateRequest { to })
                .await?;
            if ctx.accepted(op, no_wait).await?.is_some() {
                let n: Node = ctx.client.get(&node.segments(&[])).await?;
                ctx.show(&n)?;
            }
        }
        NodeCommand::Save(a) => {
            let body = SaveNodeRequest {
                as_image: a.as_image.clone(),
            };
            let op: Operation = ctx.client.post(&a.node.segments(&["save"]), &body).await?;
            if ctx.accepted(op, a.no_wait).await?.is_some() {
                let image: Image = ctx.client.get(&["v1", "images", &a.as_image]).await?;
                ctx.show(&image)?;
            }
        }
    }
    Ok(0)
}
