//! Node runtime: turns a [`NodeSpec`] into a running container and back.
//!
//! The [`Runtime`] trait is the seam; [`crun::Crun`] drives Debian's crun. Every
//! method is idempotent and keyed by the node's stable id, so the agent can repeat
//! any step after a crash.

pub mod crun;
mod spec;

pub use spec::{FileSpec, NodeSpec, NodeUsage, RuntimeError, RuntimeState};

use std::process::Command;

/// What a runtime driver does for the agent.
pub trait Runtime: Send + Sync {
    /// Makes the node run: mounts its root filesystem, writes its files, creates the
    /// cgroup and starts init. Does nothing if it already runs.
    fn start(&self, spec: &NodeSpec) -> Result<(), RuntimeError>;
    /// Stops the node (SIGTERM to init, SIGKILL after `grace`), removes the container
    /// and unmounts its root; keeps the writable layer.
    fn stop(&self, id: &str, grace: std::time::Duration) -> Result<(), RuntimeError>;
    /// Stops the node if needed and removes everything it had, writable layer included.
    fn remove(&self, id: &str) -> Result<(), RuntimeError>;
    /// What the runtime sees of the node now.
    fn state(&self, id: &str) -> Result<RuntimeState, RuntimeError>;
    /// Ids of all nodes this runtime knows (running or with a writable layer).
    fn list(&self) -> Result<Vec<String>, RuntimeError>;
    /// A command that runs `argv` inside the running node (its namespaces and cgroup).
    fn exec_command(&self, id: &str, argv: &[String], tty: bool) -> Result<Command, RuntimeError>;
    /// How many times the kernel's OOM killer killed a process in the node.
    fn oom_kills(&self, id: &str) -> Result<u64, RuntimeError>;
    /// What the node's cgroups have counted so far; `None` when it has no cgroup
    /// (it does not run).
    fn usage(&self, id: &str) -> Result<Option<NodeUsage>, RuntimeError>;
    /// Path of the node's writable (upper) layer.
    fn upper_dir(&self, id: &str) -> std::path::PathBuf;
}
