//! `corral host ...`: the pool's hosts and join tokens (admin).

use clap::{Args, Subcommand};
use corral_api::{Host, JoinToken, JoinTokenRequest};

use super::page::{self, PageArgs};
use super::Ctx;

/// Verbs of `corral host`.
#[derive(Debug, Subcommand)]
pub enum HostCommand {
    /// List the pool's hosts, by name
    List(ListArgs),
    /// Show one host
    Show {
        /// Host name
        name: String,
    },
    /// Remove a host from the pool; its agent's certificate stops working
    Remove {
        /// Host name
        name: String,
    },
    /// Stop placing nodes on a host and move its nodes away (one per cluster at a time)
    Drain {
        /// Host name
        name: String,
    },
    /// Let a drained host take nodes again
    Restore {
        /// Host name
        name: String,
    },
    /// How Corral switches a host's power, and switching it by hand
    #[command(subcommand)]
    Power(super::power::PowerCommand),
    /// Make a one-time token for `corral agent --join`
    JoinToken {
        /// Lifetime in seconds (default one hour)
        #[arg(long)]
        ttl: Option<u64>,
    },
}

/// Filters of `corral host list`.
#[derive(Debug, Args)]
pub struct ListArgs {
    /// Only hosts in this state (ready, unreachable, draining, removed)
    #[arg(long)]
    pub state: Option<String>,
    /// Only hosts with these labels: `key=value` or `key`, comma-separated
    #[arg(long)]
    pub label: Option<String>,
    #[command(flatten)]
    pub page: PageArgs,
}

/// Runs one `corral host` verb.
pub async fn run(cmd: HostCommand, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    match cmd {
        HostCommand::List(a) => {
            let filters = page::query(&[("state", a.state), ("label", a.label)]);
            page::show::<Host>(ctx, &["v1", "hosts"], filters, a.page).await?;
        }
        HostCommand::Show { name } => {
            let h: Host = ctx.client.get(&["v1", "hosts", &name]).await?;
            ctx.show(&h)?;
        }
        HostCommand::Remove { name } => {
            let h: Host = ctx.client.delete(&["v1", "hosts", &name]).await?;
            ctx.show(&h)?;
        }
        HostCommand::Drain { name } => {
            let h: Host = ctx.client.post_empty(&["v1", "hosts", &name, "drain"]).await?;
            ctx.show(&h)?;
        }
        HostCommand::Restore { name } => {
            let h: Host = ctx.client.post_empty(&["v1", "hosts", &name, "restore"]).await?;
            ctx.show(&h)?;
        }
        HostCommand::Power(p) => return super::power::run(p, ctx).await,
        HostCommand::JoinToken { ttl } => {
            let t: JoinToken = ctx
                .client
                .post(&["v1", "hosts", "join-tokens"], &JoinTokenRequest { ttl_seconds: ttl })
                .await?;
            ctx.show(&t)?;
        }
    }
    Ok(0)
}
