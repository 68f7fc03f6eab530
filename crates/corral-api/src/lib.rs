//! Wire types of Corral's REST API: one set of request and response types shared by
//! the server, the CLI and the web UI, so a field has one name everywhere.

pub mod agent;
pub mod cluster;
pub mod error;
pub mod event;
pub mod host;
pub mod image;
pub mod metrics;
pub mod names;
pub mod node;
pub mod node_api;
pub mod operation;
pub mod power;
pub mod quantity;
pub mod template;
pub mod user;

pub use cluster::*;
pub use error::{ApiError, ErrorCode};
pub use event::Event;
pub use host::*;
pub use image::*;
pub use metrics::{NodeMetrics, NodeSample};
pub use node::*;
pub use operation::*;
pub use power::{EnergyReport, HostEnergy, HostPower, PowerConfig, PowerState};
pub use template::ClusterTemplate;
pub use user::*;
