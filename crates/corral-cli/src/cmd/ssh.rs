//! `corral ssh CLUSTER/NODE`: hands over to the system `ssh`, which already does
//! terminals, agents and keys well.

use std::os::unix::process::CommandExt;
use std::process::Command;

use anyhow::{bail, Context};
use clap::Args;
use corral_api::{Cluster, Node};

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
    /// Internal (ssh's ProxyCommand): connect to ADDRESS:PORT through a socket bound to
    /// this bridge and relay stdin/stdout
    #[arg(long, hide = true, requires = "proxy_to")]
    pub proxy_via: Option<String>,
    /// Internal: the address the proxy connects to
    #[arg(long, hide = true, requires = "proxy_via")]
    pub proxy_to: Option<std::net::SocketAddr>,
}

/// Looks up the node's address and replaces this process with `ssh root@ADDRESS`.
pub async fn run(args: SshArgs, ctx: &mut Ctx<'_>) -> anyhow::Result<i32> {
    if let (Some(bridge), Some(to)) = (&args.proxy_via, args.proxy_to) {
        return relay(bridge, to).await;
    }
    let node: Node = ctx.client.get(&args.node.segments(&[])).await?;
    let address = host_of(&node.address);
    if address.is_empty() {
        bail!("node {} has no address yet (it is {})", args.node, node.state.as_str());
    }
    let cluster: Cluster = ctx.client.get(&["v1", "clusters", &args.node.cluster]).await?;
    let bridge = segment_bridge(cluster.network.vni);
    // /proc/self/net, not /sys/class/net: sysfs shows the namespace it was mounted in.
    let devices = std::fs::read_to_string("/proc/self/net/dev").unwrap_or_default();
    let local = has_device(&devices, &bridge);
    let proxy = if local {
        Some(proxy_command(&std::env::current_exe()?, &bridge, &args.node))
    } else {
        None
    };
    let err = ssh_command(address, proxy.as_deref(), &args.args).exec();
    Err(err).context("running ssh")
}

/// ssh's ProxyCommand (ssh adds the `exec`): this program again, as a relay through
/// `bridge`.
fn proxy_command(exe: &std::path::Path, bridge: &str, node: &NodeRef) -> String {
    let exe = exe.display().to_string().replace('\'', "'\\''");
    format!("'{exe}' ssh --proxy-via {bridge} --proxy-to %h:%p {node}")
}

/// Connects to `to` through a socket bound to `bridge` (SO_BINDTODEVICE) and relays
/// stdin/stdout until the node closes the connection. The agent routes what the host
/// sends out of a bridge by that segment's own table, so the address is looked up in
/// the right cluster even when another cluster on this host has the same subnet.
/// (ssh's own BindInterface binds the interface's address, which both bridges share.)
async fn relay(bridge: &str, to: std::net::SocketAddr) -> anyhow::Result<i32> {
    use tokio::io::AsyncWriteExt;
    let socket = match to {
        std::net::SocketAddr::V4(_) => tokio::net::TcpSocket::new_v4()?,
        std::net::SocketAddr::V6(_) => tokio::net::TcpSocket::new_v6()?,
    };
    socket
        .bind_device(Some(bridge.as_bytes()))
        .with_context(|| format!("binding to {bridge}"))?;
    let stream = socket
        .connect(to)
        .await
        .with_context(|| format!("connecting to {to} through {bridge}"))?;
    let (mut from_node, mut to_node) = stream.into_split();
    let upload = async {
        tokio::io::copy(&mut tokio::io::stdin(), &mut to_node).await?;
        to_node.shutdown().await
    };
    let download = async {
        let mut stdout = tokio::io::stdout();
        tokio::io::copy(&mut from_node, &mut stdout).await?;
        stdout.flush().await
    };
    // The session ends when the node closes; stdin may stay open until ssh exits.
    tokio::select! {
        done = download => done?,
        done = upload => {
            done?;
            let mut stdout = tokio::io::stdout();
            tokio::io::copy(&mut from_node, &mut stdout).await?;
            stdout.flush().await?;
        }
    }
    Ok(0)
}

/// The host-side bridge of a cluster's segment (corral-network's `cb-<vni>`).
fn segment_bridge(vni: u32) -> String {
    format!("cb-{vni}")
}

/// Whether `/proc/net/dev` text lists the device `name`.
fn has_device(net_dev: &str, name: &str) -> bool {
    net_dev
        .lines()
        .filter_map(|l| l.split_once(':'))
        .any(|(dev, _)| dev.trim() == name)
}

/// `ssh root@ADDRESS`, through `proxy` when this host has the segment's bridge: two
/// clusters may share a subnet, and only the bridge says which one the address is in.
fn ssh_command(address: &str, proxy: Option<&str>, extra: &[String]) -> Command {
    let mut cmd = Command::new("ssh");
    if let Some(proxy) = proxy {
        cmd.arg("-o").arg(format!("ProxyCommand={proxy}"));
    }
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
        let cmd = ssh_command("10.20.0.2", None, &["-v".into(), "uptime".into()]);
        assert_eq!(cmd.get_program(), "ssh");
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args, ["root@10.20.0.2", "-v", "uptime"]);
        let node: NodeRef = "demo/node-0".parse().unwrap();
        let proxy = proxy_command(std::path::Path::new("/opt/it's/corral"), &segment_bridge(7), &node);
        assert_eq!(
            proxy,
            "'/opt/it'\\''s/corral' ssh --proxy-via cb-7 --proxy-to %h:%p demo/node-0"
        );
        let cmd = ssh_command("10.20.0.2", Some(&proxy), &["uptime".into()]);
        let args: Vec<_> = cmd.get_args().collect();
        assert_eq!(args[..2], ["-o", &format!("ProxyCommand={proxy}")]);
        assert_eq!(args[2..], ["root@10.20.0.2", "uptime"]);
        assert_eq!(host_of("10.20.0.2/24"), "10.20.0.2");
        let dev = "Inter-|   Receive\n face |bytes\n    lo: 0 0\n  cb-7: 1 2\n cb-70: 3 4\n";
        assert!(has_device(dev, "cb-7") && has_device(dev, "lo"));
        assert!(!has_device(dev, "cb-71"));
    }
}
