//! The agent's view of the server: a seam with an in-process implementation (in
//! `corral up`) and a network one (between `corral agent` and `corral server`).

use async_trait::async_trait;
use corral_api::agent::{Assignments, ClusterRequest, MetricsReport, NodeAnswer, NodeReport};
use corral_api::{ApiError, RegisterRequest};

/// Errors the agent meets.
#[derive(Debug, thiserror::Error)]
pub enum AgentError {
    /// The server could not be reached or refused.
    #[error("control plane: {0}")]
    ControlPlane(String),
    /// The server refused a request with this error, passed on as it is (the node
    /// API answers nodes with the server's own code and message).
    #[error(transparent)]
    Refused(ApiError),
    /// The runtime failed.
    #[error(transparent)]
    Runtime(#[from] corral_runtime::RuntimeError),
    /// The network driver failed.
    #[error(transparent)]
    Network(#[from] corral_network::NetworkError),
    /// The image store failed.
    #[error(transparent)]
    Image(#[from] corral_image::ImageError),
    /// A value in an assignment is unusable.
    #[error("invalid assignment: {0}")]
    Invalid(String),
    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
}

/// What the agent needs from the server.
#[async_trait]
pub trait ControlPlane: Send + Sync {
    /// Announces the host: capacity, labels, underlay address.
    async fn register(&self, host: &str, req: RegisterRequest) -> Result<(), AgentError>;
    /// The nodes assigned to `host`; waits (up to a server-chosen timeout) until the
    /// assignments change after store revision `after`.
    async fn assignments(&self, host: &str, after: u64) -> Result<Assignments, AgentError>;
    /// Observed state of some nodes.
    async fn report(&self, host: &str, reports: Vec<NodeReport>) -> Result<(), AgentError>;
    /// Cold migration, source side: sends a stopped node's writable layer.
    async fn upload_upper(&self, host: &str, id: &str, upper: &std::path::Path) -> Result<(), AgentError>;
    /// Cold migration, target side: fetches a node's writable layer into `dest`.
    async fn download_upper(&self, host: &str, id: &str, dest: &std::path::Path) -> Result<(), AgentError>;
    /// Samples of the host's running nodes, for the server's history. Best effort:
    /// the agent drops a batch that fails rather than sending it again.
    async fn metrics(&self, host: &str, report: MetricsReport) -> Result<(), AgentError>;
    /// Tells the server the host is alive; called every second or so.
    async fn heartbeat(&self, host: &str) -> Result<(), AgentError>;
    /// A request of one of the host's nodes through the node API; the server checks
    /// the node is on `host` and the credential is its cluster's. A refusal is
    /// [`AgentError::Refused`].
    async fn cluster_request(&self, host: &str, req: ClusterRequest) -> Result<NodeAnswer, AgentError>;
    /// Makes an image present in the host's image store. An in-process agent shares
    /// the server's store, so by default there is nothing to do.
    async fn fetch_image(&self, digest: &str, images: &corral_image::ImageStore) -> Result<(), AgentError> {
        let _ = (digest, images);
        Ok(())
    }
}
