//! A listener inside a node's network namespace at the node API's address.

use std::net::{Ipv4Addr, SocketAddr, TcpListener};
use std::os::unix::fs::MetadataExt;
use std::path::Path;

use corral_api::node_api::NODE_API_ADDRESS;

use crate::control_plane::AgentError;

/// Port of the node API, as clouds' metadata services use.
const PORT: u16 = 80;

/// Which namespace a path names now (device and inode of the nsfs file): a node whose
/// namespace was made again needs a new listener, the old one sits in the old one.
pub(crate) fn namespace_of(netns: &Path) -> Result<(u64, u64), AgentError> {
    let m = std::fs::metadata(netns).map_err(|source| AgentError::Io {
        context: format!("reading {}", netns.display()),
        source,
    })?;
    Ok((m.dev(), m.ino()))
}

/// Puts the node API's address on the `lo` of the namespace named `netns_name` (at
/// `netns`) and binds a listener there. The socket belongs to the namespace it was
/// made in for its whole life, so only a short-lived thread enters the namespace.
pub(crate) fn listen(netns_name: &str, netns: &Path) -> Result<TcpListener, AgentError> {
    let out = std::process::Command::new("ip")
        .args(["-n", netns_name, "addr", "replace"])
        .arg(format!("{NODE_API_ADDRESS}/32"))
        .args(["dev", "lo"])
        .output()
        .map_err(|source| AgentError::Io {
            context: "running ip".into(),
            source,
        })?;
    if !out.status.success() {
        return Err(AgentError::Invalid(format!(
            "cannot add {NODE_API_ADDRESS} to lo in {netns_name}: {}",
            String::from_utf8_lossy(&out.stderr).trim()
        )));
    }
    crate::netns::run_in(netns, "node-api-bind", || {
        let address: Ipv4Addr = NODE_API_ADDRESS.parse().expect("a valid constant address");
        let listener = TcpListener::bind(SocketAddr::from((address, PORT))).map_err(|source| AgentError::Io {
            context: format!("binding {NODE_API_ADDRESS}:{PORT} in the node"),
            source,
        })?;
        listener.set_nonblocking(true).map_err(|source| AgentError::Io {
            context: "setting the node API listener non-blocking".into(),
            source,
        })?;
        Ok(listener)
    })
}
