//! `corral event list`: the whole event log visible to the caller.

use clap::Subcommand;
use corral_api::Event;

use super::Ctx;

/// Verbs of `corral event`.
#[derive(Debug, Subcommand)]
pub enum EventCommand {
    /// List events
    List,
}

/// Runs one `corral event` verb.
pub async fn run(cmd: EventCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        EventCommand::List => {
            let events: Vec<Event> = ctx.client.get(&["v1", "events"]).await?;
            ctx.show(&events)?;
        }
    }
    Ok(0)
}
