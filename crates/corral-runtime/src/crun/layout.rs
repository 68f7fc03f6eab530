//! Where a node's files live on the host.

use std::path::{Path, PathBuf};

/// Paths of one node under `<state_dir>/nodes/<id>/`.
#[derive(Debug, Clone)]
pub(crate) struct NodePaths {
    /// The node's own directory; removing it removes the node.
    pub dir: PathBuf,
    /// Overlayfs upper dir: the writable layer that survives stop.
    pub upper: PathBuf,
    /// Overlayfs work dir, same filesystem as `upper`.
    pub work: PathBuf,
    /// Overlayfs mount point and the container's root.
    pub rootfs: PathBuf,
    /// OCI bundle holding `config.json`.
    pub bundle: PathBuf,
    /// Node scripts, bind-mounted read-only at [`NODE_SCRIPTS_MOUNT`].
    pub scripts: PathBuf,
    /// Standard output and error of init.
    pub console: PathBuf,
}

/// Where the shared support dir (tini, busybox, init script) appears in a node.
pub(crate) const SUPPORT_MOUNT: &str = "/.corral/bin";
/// Where the node's own scripts appear in a node.
pub(crate) const NODE_SCRIPTS_MOUNT: &str = "/.corral/node";

impl NodePaths {
    /// Paths of node `id` under `nodes_dir`.
    pub fn new(nodes_dir: &Path, id: &str) -> Self {
        let dir = nodes_dir.join(id);
        Self {
            upper: dir.join("upper"),
            work: dir.join("work"),
            rootfs: dir.join("rootfs"),
            bundle: dir.join("bundle"),
            scripts: dir.join("scripts"),
            console: dir.join("console.log"),
            dir,
        }
    }

    /// The bundle's `config.json`.
    pub fn config(&self) -> PathBuf {
        self.bundle.join("config.json")
    }
}
