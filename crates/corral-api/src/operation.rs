//! Operations: asynchronous requests in flight.

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::error::ApiError;

/// Where an operation is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum OperationStatus {
    /// Still in progress.
    Running,
    /// Done.
    Succeeded,
    /// Ended with an error.
    Failed,
}

/// An operation as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"id": "op-5d777645b9254c15", "kind": "cluster.create", "target": "clusters/demo", "owner": "alice", "status": "running", "progress": "2/3 nodes running", "error": null, "created_at": 1795328217, "updated_at": 1795328219}))]
pub struct Operation {
    /// Identifier.
    pub id: String,
    /// What it does, e.g. `cluster.create`.
    pub kind: String,
    /// What it acts on, e.g. `clusters/demo`.
    pub target: String,
    /// Who asked.
    pub owner: String,
    /// Status.
    pub status: OperationStatus,
    /// Progress in words, e.g. `2/3 nodes running`.
    pub progress: String,
    /// Error when failed.
    pub error: Option<ApiError>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
    /// Last change, seconds since the Unix epoch.
    pub updated_at: u64,
}
