//! `corral operation ...`: show, list and wait for asynchronous requests.

use clap::{Args, Subcommand};
use corral_api::Operation;

use super::page::{self, PageArgs};
use super::Ctx;

/// Verbs of `corral operation`.
#[derive(Debug, Subcommand)]
pub enum OperationCommand {
    /// Show one operation
    Show {
        /// Operation id
        id: String,
    },
    /// List operations, newest first
    List(ListArgs),
    /// Wait for an operation to end; exits 1 if it failed
    Wait {
        /// Operation id
        id: String,
    },
}

/// Filters of `corral operation list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only operations with this status (running, succeeded, failed)
    #[arg(long)]
    pub status: Option<String>,
    /// Only operations on this target or below it, e.g. `clusters/demo`
    #[arg(long)]
    pub target: Option<String>,
    /// Only operations of this kind, e.g. `cluster.create`
    #[arg(long)]
    pub kind: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Runs one `corral operation` verb.
pub async fn run(cmd: OperationCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        OperationCommand::Show { id } => {
            let op: Operation = ctx.client.get(&["v1", "operations", &id]).await?;
            ctx.show(&op)?;
        }
        OperationCommand::List(a) => {
            let filters = page::query(&[("status", a.status), ("target", a.target), ("kind", a.kind)]);
            page::show::<Operation>(ctx, &["v1", "operations"], filters, a.page).await?;
        }
        OperationCommand::Wait { id } => {
            let op: Operation = ctx.client.get(&["v1", "operations", &id]).await?;
            if let Some(done) = ctx.accepted(op, false).await? {
                ctx.show(&done)?;
            }
        }
    }
    Ok(0)
}
