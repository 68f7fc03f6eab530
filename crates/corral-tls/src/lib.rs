//! Corral's certificate authority: created at the server's first start, it signs the
//! server's certificate and every agent's client certificate, so all server–agent
//! traffic is mutual TLS without an outside PKI.

mod ca;
mod config;
mod peer;
mod pinned;
mod to_server;

pub use ca::{agent_request, fingerprint, save_private, AgentCredentials, Ca, TlsError, SERVER_NAME};
pub use config::{client_config, pem_certs, pem_key, server_config};
pub use peer::{common_name, host_client_config, server_only_config};
pub use pinned::pinned_client_config;
pub use to_server::agent_client_config;

/// The rustls crate this one is built with, so users name the same types.
pub use rustls;
