//! Work done inside a node's network namespace without the agent moving there.

use std::path::Path;

use crate::control_plane::AgentError;

/// Runs `work` on a short-lived thread named `name` that alone enters the network
/// namespace at `netns`: sockets it makes belong to that namespace for their whole
/// life, and the agent's own threads stay where they are.
pub(crate) fn run_in<T, F>(netns: &Path, name: &str, work: F) -> Result<T, AgentError>
where
    T: Send + 'static,
    F: FnOnce() -> Result<T, AgentError> + Send + 'static,
{
    let ns = std::fs::File::open(netns).map_err(|source| AgentError::Io {
        context: format!("opening {}", netns.display()),
        source,
    })?;
    let thread = std::thread::Builder::new()
        .name(name.into())
        .spawn(move || -> Result<T, AgentError> {
            nix::sched::setns(&ns, nix::sched::CloneFlags::CLONE_NEWNET)
                .map_err(|e| AgentError::Invalid(format!("cannot enter the node's network namespace: {e}")))?;
            work()
        })
        .map_err(|source| AgentError::Io {
            context: "starting a thread".into(),
            source,
        })?;
    thread
        .join()
        .map_err(|_| AgentError::Invalid(format!("the {name} thread panicked")))?
}
