//! Nodes: members of a cluster.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// Lifecycle state of one node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum NodeState {
    /// Waiting for a host.
    Pending,
    /// Its host is making it.
    Creating,
    /// Its init runs.
    Running,
    /// Stopped; writable layer and address kept.
    Stopped,
    /// Could not be made or died; `error` tells why.
    Failed,
    /// Being removed.
    Deleting,
}

impl NodeState {
    /// Lowercase name as used in the API.
    pub fn as_str(self) -> &'static str {
        match self {
            NodeState::Pending => "pending",
            NodeState::Creating => "creating",
            NodeState::Running => "running",
            NodeState::Stopped => "stopped",
            NodeState::Failed => "failed",
            NodeState::Deleting => "deleting",
        }
    }
}

/// A node as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Node {
    /// Cluster the node belongs to.
    pub cluster: String,
    /// Node name, also its hostname: `<group>-<index>`.
    pub name: String,
    /// Node group.
    pub group: String,
    /// Current state.
    pub state: NodeState,
    /// Address in the cluster's subnet.
    pub address: String,
    /// Host it runs on, once placed.
    pub host: Option<String>,
    /// Image name.
    pub image: String,
    /// Cpu limit in millicpus.
    pub cpu_millis: u32,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Process limit.
    pub pids_max: u32,
    /// Processes killed by the kernel for exceeding the memory limit.
    pub oom_kills: u64,
    /// Why the node failed or is pending, if it did or is.
    pub error: Option<String>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// When its init last started, seconds since the Unix epoch.
    pub started_at: Option<u64>,
}

/// Body of `POST /v1/clusters/{cluster}/nodes/{node}/exec`: run a command and wait.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"command": ["hostname", "-i"]}))]
#[serde(deny_unknown_fields)]
pub struct ExecRequest {
    /// Program and arguments.
    pub command: Vec<String>,
    /// Bytes given to the command's standard input.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub stdin: Option<String>,
    /// Allocate a terminal (only on the websocket endpoint).
    #[serde(default)]
    pub tty: bool,
    /// Terminal size (rows, columns) when `tty` is set.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Option<Vec<u16>>, min_items = 2, max_items = 2, example = json!([24, 80]))]
    pub size: Option<(u16, u16)>,
}

/// Result of a non-interactive exec.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"exit_code": 0, "stdout": "10.200.0.2\n", "stderr": ""}))]
pub struct ExecResult {
    /// Exit status of the command (128+signal when killed).
    pub exit_code: i32,
    /// Everything it wrote to standard output (lossy UTF-8).
    pub stdout: String,
    /// Everything it wrote to standard error (lossy UTF-8).
    pub stderr: String,
}

/// Body of `POST /v1/clusters/{cluster}/nodes/{node}/save`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"as": "web-snapshot"}))]
#[serde(deny_unknown_fields)]
pub struct SaveNodeRequest {
    /// Name of the new image.
    #[serde(rename = "as")]
    pub as_image: String,
}

/// Body of `POST /v1/clusters/{cluster}/nodes/{node}/migrate`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"to": "host-2"}))]
#[serde(deny_unknown_fields)]
pub struct MigrateRequest {
    /// Target host; the scheduler picks one when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub to: Option<String>,
}
