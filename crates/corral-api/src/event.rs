//! Events: an append-only record of lifecycle changes and audit.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

/// One event.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"seq": 120, "time": 1795328219, "actor": "corral", "target": "clusters/demo/nodes/web-0", "kind": "node.running", "message": "running on host-1"}))]
pub struct Event {
    /// Monotonic sequence number.
    pub seq: u64,
    /// Time, seconds since the Unix epoch.
    pub time: u64,
    /// Who or what caused it (a user name or `corral`).
    pub actor: String,
    /// Whose resource it concerns (a cluster's owner); empty for the pool's own
    /// resources (hosts, users).
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub owner: String,
    /// What it concerns, e.g. `clusters/demo/nodes/node-0`.
    pub target: String,
    /// Kind, e.g. `node.running`.
    pub kind: String,
    /// Words for people.
    pub message: String,
}
