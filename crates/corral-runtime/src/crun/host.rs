//! One-time host setup that crun needs.

use std::path::Path;
use std::process::{Command, Stdio};
use std::sync::Mutex;

use nix::mount::{mount, MsFlags};

use super::{io_err, mountinfo};
use crate::RuntimeError;

/// The cgroup2 tree of a "hybrid" host (v1 hierarchies plus an empty v2 one).
const UNIFIED: &str = "/sys/fs/cgroup/unified";

/// Prepares the host for crun; idempotent, called by the agent at start.
///
/// crun 1.8 refuses a hybrid cgroup layout while the cgroup2 tree still lists
/// controllers (here `hugetlb`): it then takes the host for cgroup2 but finds v1
/// hierarchies. Binding each such controller to its own v1 hierarchy empties the
/// list. Also checks that crun can be run at all, so a missing package shows at
/// start rather than at the first node.
pub fn prepare_host() -> Result<(), RuntimeError> {
    // Two threads checking "not mounted" at once would stack two mounts.
    static ONE_AT_A_TIME: Mutex<()> = Mutex::new(());
    let _guard = ONE_AT_A_TIME.lock().unwrap_or_else(|poisoned| poisoned.into_inner());
    for controller in unified_controllers()? {
        mount_v1_hierarchy(&controller)?;
    }
    check_crun()
}

/// Controllers the hybrid host's cgroup2 tree holds; none on a pure v1 or v2 host.
fn unified_controllers() -> Result<Vec<String>, RuntimeError> {
    if !mountinfo::is_mount_point(Path::new(UNIFIED))? {
        return Ok(Vec::new());
    }
    let path = format!("{UNIFIED}/cgroup.controllers");
    let text = std::fs::read_to_string(&path).map_err(io_err(format!("read {path}")))?;
    Ok(text.split_whitespace().map(str::to_string).collect())
}

fn mount_v1_hierarchy(controller: &str) -> Result<(), RuntimeError> {
    let target = Path::new("/sys/fs/cgroup").join(controller);
    if mountinfo::is_mount_point(&target)? {
        return Ok(());
    }
    std::fs::create_dir_all(&target).map_err(io_err(format!("create {}", target.display())))?;
    mount(
        Some("cgroup"),
        &target,
        Some("cgroup"),
        MsFlags::MS_NOSUID | MsFlags::MS_NODEV | MsFlags::MS_NOEXEC,
        Some(controller),
    )
    .map_err(|e| io_err(format!("mount cgroup {controller} on {}", target.display()))(e.into()))
}

fn check_crun() -> Result<(), RuntimeError> {
    let status = Command::new("crun")
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .map_err(io_err("run crun --version"))?;
    if status.success() {
        Ok(())
    } else {
        Err(RuntimeError::Tool {
            tool: "crun".into(),
            action: "--version".into(),
            message: format!("exited with {status}"),
        })
    }
}
