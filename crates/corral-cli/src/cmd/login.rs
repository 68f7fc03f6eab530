//! `corral login` and `corral whoami`.

use anyhow::Context;
use clap::Args;
use corral_api::{LoginRequest, TokenResponse, User};

use super::Ctx;
use crate::client::Client;
use crate::config::{self, Config, Target, DEFAULT_SERVER};
use crate::console::Console;
use crate::password::PasswordArgs;
use crate::ClientOptions;

/// Arguments of `corral login`; the server comes from `--server` like every verb.
#[derive(Debug, Args)]
pub struct LoginArgs {
    /// User name
    #[arg(long)]
    pub user: String,
    #[command(flatten)]
    pub password: PasswordArgs,
}

/// Logs in and saves server, token and user to the config file.
pub async fn login(args: LoginArgs, opts: &ClientOptions, console: &mut Console) -> anyhow::Result<i32> {
    let path = config::config_path(opts)?;
    // A broken config must not lock a person out of the command that rewrites it.
    let saved = Config::load(&path).unwrap_or_default();
    let server = opts
        .server
        .clone()
        .or(saved.server)
        .unwrap_or_else(|| DEFAULT_SERVER.to_string())
        .trim_end_matches('/')
        .to_string();
    let password = args
        .password
        .read(&format!("Password for {} at {server}: ", args.user), false)?;
    let client = Client::new(&Target {
        server: server.clone(),
        token: None,
    })?;
    let body = LoginRequest {
        name: args.user.clone(),
        password,
        ttl_seconds: None,
    };
    let token: TokenResponse = client.post(&["v1", "login"], &body).await?;
    Config {
        server: Some(server.clone()),
        token: Some(token.token),
        user: Some(token.user.clone()),
    }
    .save(&path)
    .context("saving the login")?;
    console.note(&format!("logged in to {server} as {}", token.user));
    Ok(0)
}

/// Prints the user the token belongs to.
pub async fn whoami(ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    let user: User = ctx.client.get(&["v1", "whoami"]).await?;
    ctx.show(&user)?;
    Ok(0)
}
