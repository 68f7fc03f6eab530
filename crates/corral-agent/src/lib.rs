//! The host agent: watches the nodes assigned to its host, drives the runtime and the
//! network towards them, and reports what it observes.
//!
//! Every step is idempotent and keyed by the node's stable id, so a crash at any
//! point is repaired by running the loop again; on start the agent adopts what
//! already runs and removes what no longer belongs.

mod agent;
mod announce;
mod control_plane;
pub mod exec;
pub mod exec_ws;
mod host_api;
mod host_lock;
mod hosts_file;
pub mod metrics;
mod netns;
mod node_api;
mod node_files;
mod proc_start;
mod reconcile;
mod remote;
mod save;
mod segments;

pub use agent::{Agent, AgentConfig};
pub use control_plane::{AgentError, ControlPlane};
pub use host_api::{router as host_api_router, serve_tls as serve_host_api};
pub use host_lock::{lock_host, HostLock};
pub use node_files::NODE_LOCAL_PATHS;
pub use remote::{join, unpack_into as unpack_upper, Credentials, HttpControlPlane};
pub use save::save_node;
