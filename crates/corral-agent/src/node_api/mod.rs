//! The node API: each running node reaches `http://169.254.169.254/` (port 80) and
//! asks Corral, with its cluster's credential, who it is (`GET /v1/self`) or to
//! resize an elastic group of its own cluster (`POST /v1/scale`); see
//! `corral_api::node_api`.
//!
//! Nodes can reach neither the server nor any host (the network's `protected` set),
//! so the agent listens inside each node's own network namespace, with the address
//! on the node's `lo`: a listener serves exactly one node, which is how the agent
//! knows who calls. It forwards over the channel it already has to the server, which
//! checks the credential and decides.

mod bind;
mod routes;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};

use crate::control_plane::{AgentError, ControlPlane};

/// One node's listener.
struct Listener {
    /// The namespace it listens in (device, inode).
    namespace: (u64, u64),
    task: tokio::task::JoinHandle<()>,
}

/// The listeners of the host's running nodes, by node id.
#[derive(Default)]
pub(crate) struct NodeApis {
    listeners: Mutex<HashMap<String, Listener>>,
}

impl NodeApis {
    fn lock(&self) -> std::sync::MutexGuard<'_, HashMap<String, Listener>> {
        self.listeners.lock().unwrap_or_else(|e| e.into_inner())
    }

    /// Serves the node API in node `id`'s namespace, unless a listener already does
    /// in the namespace the node has now. Idempotent, like every agent step.
    pub(crate) async fn ensure(&self, id: &str, host: &str, cp: Arc<dyn ControlPlane>) -> Result<(), AgentError> {
        let name = corral_network::names::netns_name(id)?;
        let path = corral_network::names::netns_path(id)?;
        let namespace = bind::namespace_of(&path)?;
        {
            let listeners = self.lock();
            if let Some(l) = listeners.get(id) {
                if l.namespace == namespace && !l.task.is_finished() {
                    return Ok(());
                }
            }
        }
        let std_listener = tokio::task::spawn_blocking(move || bind::listen(&name, &path))
            .await
            .map_err(|e| AgentError::Invalid(format!("node API bind task: {e}")))??;
        let listener = tokio::net::TcpListener::from_std(std_listener).map_err(|source| AgentError::Io {
            context: "handing the node API listener to tokio".into(),
            source,
        })?;
        let app = routes::router(Arc::new(routes::Caller {
            id: id.to_string(),
            host: host.to_string(),
            cp,
        }));
        let node = id.to_string();
        let task = tokio::spawn(async move {
            if let Err(e) = axum::serve(listener, app).await {
                tracing::warn!(node, error = %e, "node API listener stopped");
            }
        });
        if let Some(old) = self.lock().insert(id.to_string(), Listener { namespace, task }) {
            old.task.abort();
        }
        Ok(())
    }

    /// Stops serving node `id` (stopped or removed); nothing when it was not served.
    pub(crate) fn stop(&self, id: &str) {
        if let Some(l) = self.lock().remove(id) {
            l.task.abort();
        }
    }
}
