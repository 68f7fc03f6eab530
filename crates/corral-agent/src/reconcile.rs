//! The idempotent steps that bring one node to its assignment, or remove it.

use std::net::Ipv4Addr;
use std::path::PathBuf;
use std::time::Duration;

use corral_api::agent::{DesiredState, NodeAssignment};
use corral_image::ImageStore;
use corral_network::{AttachSpec, Network, SegmentSpec};
use corral_runtime::{NodeSpec, Runtime, RuntimeState};

use crate::control_plane::AgentError;
use crate::{hosts_file, node_files};

/// How long a node's init gets to stop before it is killed.
const STOP_GRACE: Duration = Duration::from_secs(3);
/// How long the on-destroy script may run.
const ON_DESTROY_TIMEOUT: Duration = Duration::from_secs(30);

/// What the agent needs for a step.
pub struct Ctx<'a> {
    /// Runtime driver.
    pub runtime: &'a dyn Runtime,
    /// Network driver.
    pub network: &'a dyn Network,
    /// Image store.
    pub images: &'a ImageStore,
    /// Directory of the nodes' hosts files.
    pub hosts_dir: PathBuf,
    /// The resolver config given to nodes.
    pub resolv_conf: &'a str,
    /// The segments this agent made; changes go through it one at a time: nodes of
    /// one cluster start in parallel and must not race to create the same segment.
    pub segments: &'a crate::segments::Segments,
}

/// Where a step left the node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Outcome {
    /// Init runs.
    Running,
    /// Stopped, writable layer kept.
    Stopped,
    /// Gone from the host.
    Removed,
    /// The step failed for this reason.
    Failed(String),
}

/// Parses the segment of an assignment.
pub fn segment(a: &NodeAssignment) -> Result<SegmentSpec, AgentError> {
    let bad = |what: &str| AgentError::Invalid(format!("{what} of node {}", a.id));
    Ok(SegmentSpec {
        vni: a.network.vni,
        subnet: a.network.subnet.parse().map_err(|_| bad("subnet"))?,
        gateway: a.network.gateway.parse().map_err(|_| bad("gateway"))?,
        mtu: a.network.mtu,
    })
}

pub fn parse_mac(s: &str) -> Option<[u8; 6]> {
    let parts: Vec<u8> = s
        .split(':')
        .map(|p| u8::from_str_radix(p, 16).ok())
        .collect::<Option<_>>()?;
    parts.try_into().ok()
}

/// Brings a node to its desired state. `confirmed`: this agent process has brought
/// the node up before and nothing failed since; a running node it has not (adopted at
/// start, or after a failed step) also gets its link checked and repaired.
pub fn converge(ctx: &Ctx<'_>, a: &NodeAssignment, confirmed: bool) -> Result<Outcome, AgentError> {
    match a.desired {
        DesiredState::Running => run(ctx, a, confirmed),
        DesiredState::Stopped => {
            ctx.runtime.stop(&a.id, STOP_GRACE)?;
            Ok(Outcome::Stopped)
        }
    }
}

fn run(ctx: &Ctx<'_>, a: &NodeAssignment, confirmed: bool) -> Result<Outcome, AgentError> {
    let seg = segment(a)?;
    let address: Ipv4Addr = a
        .address
        .parse()
        .map_err(|_| AgentError::Invalid(format!("address of node {}", a.id)))?;
    let mac = parse_mac(&a.mac).ok_or_else(|| AgentError::Invalid(format!("mac of node {}", a.id)))?;
    let hosts = ctx.hosts_dir.join(&a.id);
    hosts_file::write_in_place(&hosts, &hosts_file::render(&a.cluster, &a.peers)).map_err(|source| AgentError::Io {
        context: format!("writing hosts file of {}", a.id),
        source,
    })?;
    let link = AttachSpec {
        node_id: a.id.clone(),
        address,
        mac,
    };
    if let Ok(RuntimeState::Running { .. }) = ctx.runtime.state(&a.id) {
        if !confirmed {
            // Adopted: while no agent ran, the node's link may have been lost, or be
            // an earlier version's (a veth); attaching again repairs it in place and
            // leaves a sound one alone.
            ctx.segments.ensure(ctx.network, &seg)?;
            ctx.network.attach(&seg, &link)?;
        }
        // The hosts file above and the credential (rotated meanwhile) are all there
        // is to follow.
        sync_credential(ctx, a);
        return Ok(Outcome::Running);
    }
    let manifest = ctx.images.manifest(&a.image_digest)?;
    let layers = manifest.layers.iter().map(|d| ctx.images.layer_path(d)).collect();
    ctx.segments.ensure(ctx.network, &seg)?;
    let netns = ctx.network.attach(&seg, &link)?;
    let mut env = manifest.config.env.clone();
    env.extend(node_files::env_for(a));
    let spec = NodeSpec {
        id: a.id.clone(),
        hostname: a.name.clone(),
        layers,
        netns,
        cpu_millis: a.cpu_millis,
        memory_bytes: a.memory_bytes,
        pids_max: a.pids_max,
        env,
        hosts_file: hosts,
        files: node_files::files_for(a, ctx.resolv_conf),
        // A recovered node starts from a fresh layer but is not new: it runs its
        // on-recovery script, not on-create.
        on_create: if a.recovered { None } else { a.scripts.on_create.clone() },
        on_recovery: if a.recovered {
            a.scripts.on_recovery.clone()
        } else {
            None
        },
    };
    ctx.runtime.start(&spec)?;
    // Peers may have asked for this address before the node had it (its name is in
    // their hosts files from the moment it was asked for); they hear it now rather
    // than at their next ARP try, a second later. Without it they still get there.
    if let Err(e) = crate::announce::announce(&spec.netns, address, mac) {
        tracing::warn!(node = %a.id, error = %e, "cannot announce the node's address");
    }
    Ok(Outcome::Running)
}

/// Brings a running node's node API credential up to date after a rotation. Written
/// from inside the node (an exec), never through its root from the host, where a
/// symlink the node made could point the write anywhere. The file in the writable
/// layer tells whether it is needed, so an unchanged credential costs one read.
fn sync_credential(ctx: &Ctx<'_>, a: &NodeAssignment) {
    let path = corral_api::node_api::CREDENTIAL_PATH;
    let current = std::fs::read(ctx.runtime.upper_dir(&a.id).join(path.trim_start_matches('/')));
    if a.credential.is_empty() || current.is_ok_and(|c| c == a.credential.as_bytes()) {
        return;
    }
    let script = format!("umask 077 && mkdir -p /etc/corral && cat > {path}.new && mv -f {path}.new {path}");
    let argv = ["/bin/sh".to_string(), "-c".to_string(), script];
    let written = ctx.runtime.exec_command(&a.id, &argv, false).ok().and_then(|mut cmd| {
        use std::io::Write;
        let mut child = cmd
            .stdin(std::process::Stdio::piped())
            .stdout(std::process::Stdio::null())
            .stderr(std::process::Stdio::null())
            .spawn()
            .ok()?;
        let sent = child.stdin.take()?.write_all(a.credential.as_bytes()).is_ok();
        (child.wait().ok()?.success() && sent).then_some(())
    });
    if written.is_none() {
        // The old credential stays (and is refused); the next assignment change retries.
        tracing::warn!(node = %a.id, "could not write the rotated node API credential");
    }
}

/// Removes a node from the host: on-destroy script, container, writable layer,
/// network attachment, hosts file.
pub fn remove(ctx: &Ctx<'_>, id: &str) -> Result<Outcome, AgentError> {
    // The script was written into the writable layer at start: look there rather
    // than paying for an exec into every node that has none.
    let script = ctx
        .runtime
        .upper_dir(id)
        .join(node_files::ON_DESTROY_PATH.trim_start_matches('/'));
    if script.exists() {
        if let Ok(RuntimeState::Running { .. }) = ctx.runtime.state(id) {
            run_on_destroy(ctx, id);
        }
    }
    ctx.runtime.remove(id)?;
    ctx.network.detach(id)?;
    let hosts = ctx.hosts_dir.join(id);
    if let Err(e) = std::fs::remove_file(&hosts) {
        if e.kind() != std::io::ErrorKind::NotFound {
            return Err(AgentError::Io {
                context: format!("removing {}", hosts.display()),
                source: e,
            });
        }
    }
    Ok(Outcome::Removed)
}

/// Runs the node's on-destroy script if it has one; a failing script does not stop
/// the removal, as the user asked for the node to go.
fn run_on_destroy(ctx: &Ctx<'_>, id: &str) {
    let script = format!(
        "if [ -f {p} ]; then . /etc/profile.d/corral.sh 2>/dev/null; sh {p}; fi",
        p = node_files::ON_DESTROY_PATH
    );
    let argv = ["/bin/sh".to_string(), "-c".to_string(), script];
    let Ok(mut cmd) = ctx.runtime.exec_command(id, &argv, false) else {
        return;
    };
    cmd.stdin(std::process::Stdio::null())
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null());
    let Ok(mut child) = cmd.spawn() else { return };
    let deadline = std::time::Instant::now() + ON_DESTROY_TIMEOUT;
    while std::time::Instant::now() < deadline {
        if let Ok(Some(_)) = child.try_wait() {
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    tracing::warn!(node = id, "on-destroy script timed out");
    let _ = child.kill();
    let _ = child.wait();
}
