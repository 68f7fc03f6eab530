//! The crun driver: nodes as OCI containers run by Debian's `crun`.
//!
//! Host layout under the state dir:
//! - `crun/`: crun's own state (`crun --root`);
//! - `support/`: tini, busybox and the init script, shared by all nodes and
//!   bind-mounted read-only at `/.corral/bin`;
//! - `nodes/<id>/`: `upper/` and `work/` (the writable layer), `rootfs/` (overlay
//!   mount point), `bundle/config.json`, `scripts/` (at `/.corral/node`),
//!   `console.log`.
//!
//! Every verb first looks at what exists (crun state, mounts, dirs) and does only
//! what is missing, so an agent that crashed half-way can repeat it.

mod cgroup;
mod cli;
mod config;
mod host;
mod init;
mod layout;
mod mountinfo;
mod rootfs;
mod start;
mod stop;

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

pub use host::prepare_host;

use crate::{NodeSpec, NodeUsage, Runtime, RuntimeError, RuntimeState};
use cli::CrunCli;
use layout::NodePaths;

/// Longest node id, so cgroup and crun paths stay short.
const MAX_ID_LEN: usize = 48;

/// Runs nodes with the `crun` binary found in `PATH`.
#[derive(Debug)]
pub struct Crun {
    state_dir: PathBuf,
    cgroup_parent: String,
    cli: CrunCli,
}

impl Crun {
    /// A driver keeping its files under `state_dir` and its cgroups under
    /// `/sys/fs/cgroup/<controller>/<cgroup_parent>/`; installs the shared support
    /// files (once, so that starting a node copies nothing big).
    pub fn new(state_dir: PathBuf, cgroup_parent: String) -> Result<Self, RuntimeError> {
        validate_cgroup_parent(&cgroup_parent)?;
        let cli = CrunCli::new(PathBuf::from("crun"), state_dir.join("crun"));
        let crun = Self {
            state_dir,
            cgroup_parent,
            cli,
        };
        for dir in [crun.nodes_dir(), crun.state_dir.join("crun")] {
            std::fs::create_dir_all(&dir).map_err(io_err(format!("create {}", dir.display())))?;
        }
        init::install_support(&crun.support_dir())?;
        Ok(crun)
    }

    fn nodes_dir(&self) -> PathBuf {
        self.state_dir.join("nodes")
    }

    fn support_dir(&self) -> PathBuf {
        self.state_dir.join("support")
    }

    /// The node's paths, after checking that the id cannot escape the state dir.
    fn paths(&self, id: &str) -> Result<NodePaths, RuntimeError> {
        validate_id(id)?;
        Ok(NodePaths::new(&self.nodes_dir(), id))
    }
}

impl Runtime for Crun {
    fn start(&self, spec: &NodeSpec) -> Result<(), RuntimeError> {
        start::start(self, spec)
    }

    fn stop(&self, id: &str, grace: Duration) -> Result<(), RuntimeError> {
        stop::stop(self, id, grace)
    }

    fn remove(&self, id: &str) -> Result<(), RuntimeError> {
        stop::remove(self, id)
    }

    fn state(&self, id: &str) -> Result<RuntimeState, RuntimeError> {
        let paths = self.paths(id)?;
        Ok(match self.cli.state(id)? {
            Some(state) => match state.live_pid() {
                Some(pid) => RuntimeState::Running { pid },
                None => RuntimeState::Stopped,
            },
            None if paths.dir.exists() => RuntimeState::Stopped,
            None => RuntimeState::Absent,
        })
    }

    fn list(&self) -> Result<Vec<String>, RuntimeError> {
        let nodes_dir = self.nodes_dir();
        let entries = std::fs::read_dir(&nodes_dir).map_err(io_err(format!("read {}", nodes_dir.display())))?;
        let mut ids: Vec<String> = entries
            .filter_map(Result::ok)
            .filter_map(|entry| entry.file_name().into_string().ok())
            .chain(self.cli.list()?)
            .filter(|id| validate_id(id).is_ok())
            .collect();
        ids.sort();
        ids.dedup();
        Ok(ids)
    }

    fn exec_command(&self, id: &str, argv: &[String], tty: bool) -> Result<Command, RuntimeError> {
        if argv.is_empty() {
            return Err(RuntimeError::InvalidSpec("empty command".into()));
        }
        match self.state(id)? {
            RuntimeState::Running { .. } => Ok(self.cli.exec(id, argv, tty)),
            _ => Err(RuntimeError::NotRunning(id.to_string())),
        }
    }

    fn oom_kills(&self, id: &str) -> Result<u64, RuntimeError> {
        validate_id(id)?;
        cgroup::oom_kills(&self.cgroup_parent, id)
    }

    fn usage(&self, id: &str) -> Result<Option<NodeUsage>, RuntimeError> {
        validate_id(id)?;
        cgroup::usage(&self.cgroup_parent, id)
    }

    fn upper_dir(&self, id: &str) -> PathBuf {
        NodePaths::new(&self.nodes_dir(), id).upper
    }
}

/// Wraps an I/O error with what was being done.
pub(crate) fn io_err(context: impl Into<String>) -> impl FnOnce(std::io::Error) -> RuntimeError {
    let context = context.into();
    move |source| RuntimeError::Io { context, source }
}

/// Ids name dirs, cgroups and crun containers: keep them to `[a-z0-9-]`.
fn validate_id(id: &str) -> Result<(), RuntimeError> {
    let valid_chars = id
        .bytes()
        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-');
    if id.is_empty() || id.len() > MAX_ID_LEN || !valid_chars {
        return Err(RuntimeError::InvalidSpec(format!(
            "node id {id:?} must be 1 to {MAX_ID_LEN} characters of [a-z0-9-]"
        )));
    }
    Ok(())
}

/// The cgroup parent is a relative path of plain names, e.g. `corral`.
fn validate_cgroup_parent(parent: &str) -> Result<(), RuntimeError> {
    let plain = |part: &str| !part.is_empty() && part != "." && part != "..";
    if parent.split('/').all(plain) {
        Ok(())
    } else {
        Err(RuntimeError::InvalidSpec(format!(
            "cgroup parent {parent:?} must be a relative path of plain names"
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_checked() {
        assert!(validate_id("worker-3").is_ok());
        for bad in ["", "../x", "A", "a/b", &"a".repeat(49)] {
            assert!(validate_id(bad).is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn cgroup_parents_are_checked() {
        assert!(validate_cgroup_parent("corral").is_ok());
        assert!(validate_cgroup_parent("corral/test").is_ok());
        for bad in ["", "/corral", "corral/..", "a//b"] {
            assert!(validate_cgroup_parent(bad).is_err(), "{bad:?} accepted");
        }
    }
}
