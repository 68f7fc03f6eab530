//! `start`: from whatever exists to a running node.

use super::config::{self, ConfigInputs};
use super::{cgroup, init, io_err, rootfs, Crun};
use crate::{NodeSpec, RuntimeError};

/// Longest hostname the kernel takes.
const MAX_HOSTNAME: usize = 64;

/// Starts the node unless it runs; a stopped container is deleted and started anew.
pub(super) fn start(crun: &Crun, spec: &NodeSpec) -> Result<(), RuntimeError> {
    validate(spec)?;
    let paths = crun.paths(&spec.id)?;
    if let Some(state) = crun.cli.state(&spec.id)? {
        if state.live_pid().is_some() {
            return Ok(());
        }
        crun.cli.delete(&spec.id)?;
    }
    for dir in [&paths.bundle, &paths.scripts] {
        std::fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    }
    rootfs::mount_rootfs(&paths, &spec.layers)?;
    rootfs::write_files(&paths.rootfs, &spec.files)?;
    init::write_node_scripts(&paths.scripts, spec)?;
    let inputs = ConfigInputs {
        paths: &paths,
        support_dir: &crun.support_dir(),
        cgroup_path: cgroup::cgroup_path(&crun.cgroup_parent, &spec.id),
    };
    let config = config::node_config(spec, &inputs)?;
    let json = serde_json::to_vec_pretty(&config).map_err(|e| RuntimeError::InvalidSpec(format!("oci config: {e}")))?;
    init::write_if_changed(&paths.config(), &json, 0o644)?;
    crun.cli.run(&spec.id, &paths.bundle, &paths.console)
}

/// Checks what crun would otherwise reject with a less helpful message.
fn validate(spec: &NodeSpec) -> Result<(), RuntimeError> {
    let hostname_ok = !spec.hostname.is_empty()
        && spec.hostname.len() <= MAX_HOSTNAME
        && spec
            .hostname
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'-' || b == b'.');
    if !hostname_ok {
        return Err(RuntimeError::InvalidSpec(format!("bad hostname {:?}", spec.hostname)));
    }
    for (what, path) in [("network namespace", &spec.netns), ("hosts file", &spec.hosts_file)] {
        if !path.is_absolute() || !path.exists() {
            return Err(RuntimeError::InvalidSpec(format!(
                "{what} {} does not exist",
                path.display()
            )));
        }
    }
    for layer in &spec.layers {
        if !layer.is_dir() {
            return Err(RuntimeError::InvalidSpec(format!(
                "layer {} is not a directory",
                layer.display()
            )));
        }
    }
    Ok(())
}
