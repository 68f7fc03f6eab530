//! `stop` and `remove`: from whatever exists to a stopped or vanished node.

use std::time::{Duration, Instant};

use super::cli::process_alive;
use super::{cgroup, io_err, mountinfo, rootfs, Crun};
use crate::RuntimeError;

/// Poll interval while waiting for init to exit: short, since stop time adds up
/// over many nodes.
const POLL: Duration = Duration::from_millis(10);
/// How long a SIGKILLed init may take to vanish before we report it stuck.
const KILL_TIMEOUT: Duration = Duration::from_secs(10);

/// Stops the node: SIGTERM, SIGKILL to all after `grace`, delete the container,
/// unmount the root. The writable layer stays.
pub(super) fn stop(crun: &Crun, id: &str, grace: Duration) -> Result<(), RuntimeError> {
    let paths = crun.paths(id)?;
    if let Some(state) = crun.cli.state(id)? {
        if let Some(pid) = state.live_pid() {
            terminate(crun, id, pid, grace)?;
        }
        crun.cli.delete(id)?;
    }
    rootfs::unmount(&paths.rootfs)
}

/// Stops the node at once and deletes all it had: node dir and cgroups.
pub(super) fn remove(crun: &Crun, id: &str) -> Result<(), RuntimeError> {
    stop(crun, id, Duration::ZERO)?;
    // crun deletes the cgroups with the container; this catches those it left
    // behind, e.g. when the agent died between SIGKILL and delete.
    cgroup::remove(&crun.cgroup_parent, id)?;
    let paths = crun.paths(id)?;
    // Never delete through a mount: that would empty whatever is mounted there.
    for mount in mountinfo::mounts_under(&paths.dir)?.iter().rev() {
        rootfs::unmount(mount)?;
    }
    if let Some(mount) = mountinfo::mounts_under(&paths.dir)?.first() {
        return Err(RuntimeError::Io {
            context: format!("remove {}", paths.dir.display()),
            source: std::io::Error::other(format!("{} is still mounted", mount.display())),
        });
    }
    match std::fs::remove_dir_all(&paths.dir) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(format!("remove {}", paths.dir.display()))(e)),
        _ => Ok(()),
    }
}

/// Asks init to exit, then kills every process of the node once `grace` is over.
fn terminate(crun: &Crun, id: &str, pid: u32, grace: Duration) -> Result<(), RuntimeError> {
    // Errors are ignored: init may exit between our look at it and the signal.
    if !grace.is_zero() {
        let _ = crun.cli.kill(id, "TERM", false);
        if wait_exit(pid, grace) {
            return Ok(());
        }
    }
    let _ = crun.cli.kill(id, "KILL", true);
    if wait_exit(pid, KILL_TIMEOUT) {
        return Ok(());
    }
    Err(RuntimeError::Io {
        context: format!("stop node {id}"),
        source: std::io::Error::new(
            std::io::ErrorKind::TimedOut,
            format!("init {pid} still alive {KILL_TIMEOUT:?} after SIGKILL"),
        ),
    })
}

/// Waits up to `timeout` for `pid` to exit; true once it has.
fn wait_exit(pid: u32, timeout: Duration) -> bool {
    let deadline = Instant::now() + timeout;
    loop {
        if !process_alive(pid) {
            return true;
        }
        if Instant::now() >= deadline {
            return false;
        }
        std::thread::sleep(POLL);
    }
}
