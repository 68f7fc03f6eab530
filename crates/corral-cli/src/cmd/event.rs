//! `corral event list`: the event log visible to the caller.

use clap::{Args, Subcommand};
use corral_api::Event;

use super::page::{self, PageArgs};
use super::Ctx;

/// Verbs of `corral event`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events, oldest first (the newest 1000 without --limit)
    List(ListArgs),
}

/// Filters of `corral event list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only events of this kind, e.g. `node.running`
    #[arg(long)]
    pub kind: Option<String>,
    /// Only events on this target or below it, e.g. `clusters/demo`
    #[arg(long)]
    pub target: Option<String>,
    /// Only events after this sequence number
    #[arg(long, value_name = "SEQ")]
    pub since: Option<u64>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Runs one `corral event` verb.
pub async fn run(cmd: EventCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        EventCommand::List(a) => {
            let filters = page::query(&[
                ("kind", a.kind),
                ("target", a.target),
                ("since", a.since.map(|s| s.to_string())),
            ]);
            page::show::<Event>(ctx, &["v1", "events"], filters, a.page).await?;
        }
    }
    Ok(0)
}
