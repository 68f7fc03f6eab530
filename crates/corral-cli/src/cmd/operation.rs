//! `corral operation ...`: show, list and wait for asynchronous requests.

use clap::Subcommand;
use corral_api::Operation;

use super::Ctx;

/// Verbs of `corral operation`.
#[derive(Debug, Subcommand)]
pub enum OperationCommand {
    /// Show one operation
    Show {
        /// Operation id
        id: String,
    },
    /// List operations
    List,
    /// Wait for an operation to end; exits 1 if it failed
    Wait {
        /// Operation id
        id: String,
    },
}

/// Runs one `corral operation` verb.
pub async fn run(cmd: OperationCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        OperationCommand::Show { id } => {
            let op: Operation = ctx.client.get(&["v1", "operations", &id]).await?;
            ctx.show(&op)?;
        }
        OperationCommand::List => {
            let ops: Vec<Operation> = ctx.client.get(&["v1", "operations"]).await?;
            ctx.show(&ops)?;
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
