//! `corral exec`: run a command in a node, over a plain POST when nothing is typed into
//! it, else over a websocket that carries stdin, output and terminal size.

mod session;

use clap::Args;
use corral_api::{ExecRequest, ExecResult};

use crate::cmd::Ctx;
use crate::node_ref::NodeRef;
use crate::output::{self, OutputFormat};

/// Arguments of `corral exec`.
#[derive(Debug, Args)]
pub struct ExecArgs {
    /// Keep stdin open and send it to the command
    #[arg(short, long)]
    pub interactive: bool,
    /// Give the command a terminal (the local one goes into raw mode)
    #[arg(short, long)]
    pub tty: bool,
    /// The node, as CLUSTER/NODE
    pub node: NodeRef,
    /// Program and arguments (put them after `--` if they start with `-`)
    #[arg(required = true, trailing_var_arg = true, allow_hyphen_values = true)]
    pub command: Vec<String>,
}

/// Runs the command and returns its exit code as ours.
pub async fn run(args: ExecArgs, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    if args.interactive || args.tty {
        return session::run(&ctx.client, &args, ctx.console).await;
    }
    let body = ExecRequest {
        command: args.command,
        stdin: None,
        tty: false,
        size: None,
    };
    let result: ExecResult = ctx.client.post(&args.node.segments(&["exec"]), &body).await?;
    match ctx.format {
        OutputFormat::Table => {
            ctx.console.write_stream(false, result.stdout.as_bytes())?;
            ctx.console.write_stream(true, result.stderr.as_bytes())?;
        }
        format => ctx.console.print(&output::serialised(format, &result)?),
    }
    Ok(result.exit_code)
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::*;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: ExecArgs,
    }

    fn parse(argv: &[&str]) -> Result<ExecArgs, clap::Error> {
        Cli::try_parse_from(std::iter::once("exec").chain(argv.iter().copied())).map(|c| c.args)
    }

    #[test]
    fn command_after_double_dash_keeps_its_flags() {
        let a = parse(&["-it", "demo/node-0", "--", "ls", "-la", "-t"]).unwrap();
        assert!(a.interactive && a.tty);
        assert_eq!(a.node.node, "node-0");
        assert_eq!(a.command, ["ls", "-la", "-t"]);
    }

    #[test]
    fn double_dash_is_optional() {
        let a = parse(&["demo/node-0", "uname", "-a"]).unwrap();
        assert!(!a.interactive && !a.tty);
        assert_eq!(a.command, ["uname", "-a"]);
    }

    #[test]
    fn needs_a_command_and_a_node_ref() {
        assert!(parse(&["demo/node-0"]).is_err());
        assert!(parse(&["demo", "ls"]).is_err());
    }
}
