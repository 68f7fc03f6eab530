//! What the agent asks of a runtime.

use std::path::PathBuf;

/// A file written into the node's root filesystem before init starts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FileSpec {
    /// Absolute path inside the node.
    pub path: String,
    /// Content.
    pub content: Vec<u8>,
    /// Permission bits.
    pub mode: u32,
}

/// Everything needed to run one node.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeSpec {
    /// Stable id, unique on the host, at most 48 characters of `[a-z0-9-]`.
    pub id: String,
    /// Hostname inside the node.
    pub hostname: String,
    /// Read-only image layers, bottom first.
    pub layers: Vec<PathBuf>,
    /// Path of the network namespace to join (made by the network driver).
    pub netns: PathBuf,
    /// Cpu limit in millicpus.
    pub cpu_millis: u32,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Process limit.
    pub pids_max: u32,
    /// Environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// A file on the host bind-mounted read-only at `/etc/hosts`; the agent rewrites it
    /// in place when the cluster changes.
    pub hosts_file: PathBuf,
    /// Files written into the root filesystem before start (keys, scripts, resolv.conf).
    pub files: Vec<FileSpec>,
    /// Script run once at first start (its marker lives in the writable layer).
    pub on_create: Option<String>,
    /// Script run at start when the node was recreated after its host was lost.
    pub on_recovery: Option<String>,
}

/// What a runtime sees of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeState {
    /// Init runs with this host pid.
    Running {
        /// Host pid of the node's init.
        pid: u32,
    },
    /// Not running, writable layer kept.
    Stopped,
    /// Nothing known of it.
    Absent,
}

/// What a node's cgroups have counted, read at one instant.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct NodeUsage {
    /// Cpu time used since the node's cgroup was made, nanoseconds.
    pub cpu_nanos: u64,
    /// Memory in use: the cgroup's usage minus its inactive file cache (what the
    /// kernel would reclaim first), bytes.
    pub memory_bytes: u64,
}

/// Errors of a runtime driver.
#[derive(Debug, thiserror::Error)]
pub enum RuntimeError {
    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The OCI runtime refused or failed.
    #[error("{tool} {action} failed: {message}")]
    Tool {
        /// Program, e.g. crun.
        tool: String,
        /// Verb, e.g. run.
        action: String,
        /// What it printed.
        message: String,
    },
    /// The node is not running.
    #[error("node {0} is not running")]
    NotRunning(String),
    /// The spec is not usable.
    #[error("invalid node spec: {0}")]
    InvalidSpec(String),
}
