//! `corral ssh CLUSTER/NODE`: hands over to the system `ssh`, which already does
//! terminals, agents and keys well.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;
use corral_api::Node;

use super::Ctx;
use crate::node_ref::NodeRef;

/// Arguments of `corral ssh`.
#[derive(Debug, Args)]
pub struct SshArgs {
    /// The node, as CLUSTER/NODE
    pub node: NodeRef,
    /// Arguments passed to ssh as they are (after `--`)
    #[arg(last = true, value_name = "SSH-ARGS")]
    pub args: Vec<String>,
}

/// Looks up the node's address and replaces this process with `ssh root@ADDRESS`.
pub async fn run(args: SshArgs, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    let node: Node = ctx.client.get(&args.node.segments(&[])).await?;
    let address = host_of(&node.address);
    if address.is_empty() {
        bail!("node {} has no address yet (it is {})", args.node, node.state.as_str());
    }
    let err = ssh_command(address, &args.args).exec();
    Err(err).context("running ssh")
}

fn ssh_command(address: &str, extra: &[String]) -> Command {
    let mut cmd = Command::new("ssh");
    cmd.arg(format!("root@{address}")).args(extra);
    cmd
}

/// The address without a prefix length, should the server give one.
fn host_of(address: &str) -> &str {
    address.split('/').next().unwrap_or("")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn runs_ssh_to_root_at_the_address() {
        let cmd = ssh_command("10.20.0.2", &["-v".into(), "uptime".into()]);
        assert_eq!(cmd.get_program(), "ssh");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["root@10.20.0.2", "-v", "uptime"]);
        assert_eq!(host_of("10.20.0.2/24"), "10.20.0.2");
    }
}
