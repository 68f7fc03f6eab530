//! One module per noun; each turns its verbs into API calls and prints the answer.

pub mod cluster;
pub mod cluster_spec;
pub mod event;
pub mod host;
pub mod image;
pub mod login;
pub mod node;
pub mod operation;
pub mod page;
pub mod power;
pub mod ssh;
pub mod template;
pub mod user;

use corral_api::Operation;

use crate::client::Client;
use crate::config::{self, Config};
use crate::console::Console;
use crate::output::{self, OutputFormat, Render};
use crate::{exec, ClientOptions, Command};

/// What every verb needs: the client, the output format and where to print.
pub struct Ctx<'a> {
    /// Client of the resolved server.
    pub client: Client,
    /// Output format.
    pub format: OutputFormat,
    /// Where to print.
    pub console: &'a mut Console,
}

impl Ctx<'_> {
    /// Prints a value in the chosen format.
    pub fn show<R: Render + ?Sized>(&mut self, value: &R) -> anyhow::Result<()> {
        output::print(self.console, self.format, value)
    }

    /// For a `202 Operation` answer: with `--async`, prints the operation and returns
    /// `None`; otherwise waits for it and returns it once it succeeded.
    pub async fn accepted(&mut self, op: Operation, no_wait: bool) -> anyhow::Result<Option<Operation>> {
        if no_wait {
            self.show(&op)?;
            return Ok(None);
        }
        crate::wait::wait(&self.client, op, self.console).await.map(Some)
    }
}

/// Runs one verb; errors are left to the caller to report.
pub async fn dispatch(cmd: Command, opts: &ClientOptions, console: &mut Console) -> anyhow::Result<i32> {
    if let Command::Login(args) = cmd {
        return login::login(args, opts, console).await;
    }
    let saved = match config::config_path(opts) {
        Ok(path) => Config::load(&path)?,
        // Without a config file, flags and environment can still say everything.
        Err(_) => Config::default(),
    };
    let client = Client::new(&config::resolve(opts, &saved))?;
    let mut ctx = Ctx {
        client,
        format: opts.output,
        console,
    };
    match cmd {
        Command::Login(_) => unreachable!("handled above"),
        Command::Whoami => login::whoami(&mut ctx).await,
        Command::Cluster(c) => cluster::run(c, &mut ctx).await,
        Command::Node(c) => node::run(c, &mut ctx).await,
        Command::Exec(args) => exec::run(args, &mut ctx).await,
        Command::Ssh(args) => ssh::run(args, &mut ctx).await,
        Command::Image(c) => image::run(c, &mut ctx).await,
        Command::User(c) => user::run(c, &mut ctx).await,
        Command::Host(c) => host::run(c, &mut ctx).await,
        Command::Operation(c) => operation::run(c, &mut ctx).await,
        Command::Event(c) => event::run(c, &mut ctx).await,
    }
}
