//! One agent per host: a lock keyed by the network namespace the agent runs in.
//!
//! Two agents in one network namespace would see each other's links and remove them
//! as leftovers; the lock turns that mistake into a clear error at start.

use std::os::unix::fs::MetadataExt;

use nix::fcntl::{Flock, FlockArg};

use crate::control_plane::AgentError;

/// Directory of the lock files.
const LOCK_DIR: &str = "/run/corral";

/// Holds the host lock while alive.
pub struct HostLock {
    _lock: Flock<std::fs::File>,
}

/// Takes the lock of the current network namespace, or explains who holds it.
pub fn lock_host() -> Result<HostLock, AgentError> {
    let io = |context: String| move |source| AgentError::Io { context, source };
    let ino = std::fs::metadata("/proc/thread-self/ns/net")
        .map_err(io("reading the network namespace".into()))?
        .ino();
    std::fs::create_dir_all(LOCK_DIR).map_err(io(format!("creating {LOCK_DIR}")))?;
    let path = format!("{LOCK_DIR}/agent-net-{ino}.lock");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(&path)
        .map_err(io(format!("opening {path}")))?;
    let lock = Flock::lock(file, FlockArg::LockExclusiveNonblock).map_err(|_| {
        AgentError::Invalid(format!(
            "another corral agent already runs in this network namespace (lock {path}); one host runs one agent"
        ))
    })?;
    Ok(HostLock { _lock: lock })
}
