//! The node's cgroups (v1 hierarchies, one dir per controller).

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use nix::sys::signal::{kill, Signal};
use nix::unistd::Pid;

use super::io_err;
use crate::{NodeUsage, RuntimeError};

/// Where the cgroup hierarchies are mounted.
const CGROUP_ROOT: &str = "/sys/fs/cgroup";
/// How long `rmdir` may keep failing while the last tasks of a cgroup exit.
const RMDIR_TIMEOUT: Duration = Duration::from_secs(5);
/// Pause between `rmdir` attempts.
const RMDIR_RETRY: Duration = Duration::from_millis(10);

/// The node's cgroup path relative to each hierarchy's root, as crun takes it.
pub(crate) fn cgroup_path(parent: &str, id: &str) -> String {
    format!("/{parent}/{id}")
}

/// The node's cgroup dirs that exist now, one per hierarchy.
pub(crate) fn existing_dirs(parent: &str, id: &str) -> Result<Vec<PathBuf>, RuntimeError> {
    let hierarchies = std::fs::read_dir(CGROUP_ROOT).map_err(io_err(format!("read {CGROUP_ROOT}")))?;
    Ok(hierarchies
        .filter_map(Result::ok)
        .map(|entry| entry.path().join(parent).join(id))
        .filter(|dir| dir.is_dir())
        .collect())
}

/// Kills what is left in the node's cgroups and removes their dirs.
pub(crate) fn remove(parent: &str, id: &str) -> Result<(), RuntimeError> {
    for dir in existing_dirs(parent, id)? {
        remove_tree(&dir)?;
    }
    Ok(())
}

/// Kernel OOM kills in the node's memory cgroup since it was created; zero when the
/// node has no cgroup (it does not run).
pub(crate) fn oom_kills(parent: &str, id: &str) -> Result<u64, RuntimeError> {
    let path = Path::new(CGROUP_ROOT)
        .join("memory")
        .join(parent)
        .join(id)
        .join("memory.oom_control");
    match std::fs::read_to_string(&path) {
        Ok(text) => Ok(parse_oom_kill(&text)),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(0),
        Err(e) => Err(io_err(format!("read {}", path.display()))(e)),
    }
}

/// Cpu time and memory in use of the node's cgroups; `None` when the node has no
/// cgroup (it does not run).
pub(crate) fn usage(parent: &str, id: &str) -> Result<Option<NodeUsage>, RuntimeError> {
    let read = |controller: &str, file: &str| -> Result<Option<String>, RuntimeError> {
        let path = Path::new(CGROUP_ROOT).join(controller).join(parent).join(id).join(file);
        match std::fs::read_to_string(&path) {
            Ok(text) => Ok(Some(text)),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(None),
            Err(e) => Err(io_err(format!("read {}", path.display()))(e)),
        }
    };
    let (Some(cpu), Some(usage), Some(stat)) = (
        read("cpuacct", "cpuacct.usage")?,
        read("memory", "memory.usage_in_bytes")?,
        read("memory", "memory.stat")?,
    ) else {
        return Ok(None);
    };
    Ok(Some(NodeUsage {
        cpu_nanos: cpu.trim().parse().unwrap_or(0),
        memory_bytes: working_set(usage.trim().parse().unwrap_or(0), &stat),
    }))
}

/// Memory in use as `docker stats` and cAdvisor count it: the usage minus the
/// inactive file cache, which the kernel reclaims before anything else. The raw
/// usage would count every file the node ever read.
fn working_set(usage: u64, memory_stat: &str) -> u64 {
    let inactive_file = memory_stat
        .lines()
        .find_map(|line| line.strip_prefix("total_inactive_file "))
        .and_then(|n| n.trim().parse::<u64>().ok())
        .unwrap_or(0);
    usage.saturating_sub(inactive_file)
}

fn parse_oom_kill(oom_control: &str) -> u64 {
    oom_control
        .lines()
        .find_map(|line| line.strip_prefix("oom_kill "))
        .and_then(|n| n.trim().parse().ok())
        .unwrap_or(0)
}

/// Removes a cgroup dir and its children, deepest first; a cgroup can only be
/// removed once it has no tasks and no children.
fn remove_tree(dir: &Path) -> Result<(), RuntimeError> {
    let children = std::fs::read_dir(dir).map_err(io_err(format!("read {}", dir.display())))?;
    for child in children.filter_map(Result::ok) {
        if child.file_type().is_ok_and(|t| t.is_dir()) {
            remove_tree(&child.path())?;
        }
    }
    kill_tasks(dir);
    let deadline = Instant::now() + RMDIR_TIMEOUT;
    loop {
        match std::fs::remove_dir(dir) {
            Ok(()) => return Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
            Err(e) if Instant::now() >= deadline => return Err(io_err(format!("remove cgroup {}", dir.display()))(e)),
            // Busy while killed tasks are still exiting.
            Err(_) => std::thread::sleep(RMDIR_RETRY),
        }
    }
}

fn kill_tasks(dir: &Path) {
    let Ok(procs) = std::fs::read_to_string(dir.join("cgroup.procs")) else {
        return;
    };
    for pid in procs.lines().filter_map(|l| l.trim().parse::<i32>().ok()) {
        // Already gone is fine: we only want it gone.
        let _ = kill(Pid::from_raw(pid), Signal::SIGKILL);
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_the_oom_kill_counter() {
        let text = "oom_kill_disable 0\nunder_oom 0\noom_kill 3\n";
        assert_eq!(parse_oom_kill(text), 3);
        assert_eq!(parse_oom_kill("oom_kill_disable 0\n"), 0);
    }

    #[test]
    fn memory_in_use_leaves_out_inactive_file_cache() {
        let stat = "cache 500\ninactive_file 100\ntotal_cache 500\ntotal_inactive_file 300\n";
        assert_eq!(working_set(1000, stat), 700);
        assert_eq!(working_set(1000, "cache 0\n"), 1000);
        assert_eq!(working_set(100, stat), 0);
    }

    #[test]
    fn cgroup_path_nests_the_node_under_the_parent() {
        assert_eq!(cgroup_path("corral", "n-1"), "/corral/n-1");
    }
}
