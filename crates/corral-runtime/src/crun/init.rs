//! The node's init: tini runs a small shell script kept in the shared support dir.
//!
//! The script only uses busybox (by full path) for its own work, so it runs in images
//! without a shell or coreutils; the user's scripts run with the image's `/bin/sh`.

use std::fs;
use std::io::Write;
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use super::io_err;
use crate::{NodeSpec, RuntimeError};

/// Host binaries copied once into the support dir: (source, name in the dir).
const SUPPORT_BINARIES: [(&str, &str); 2] = [("/usr/bin/tini-static", "tini"), ("/bin/busybox", "busybox")];

/// Init script: first-start hook, recovery hook, every-start hooks (the executables in
/// the node's `/etc/corral/on-start.d`, in name order), sshd, then wait for SIGTERM.
pub(crate) const INIT_SCRIPT: &str = r#"# corral node init (run by tini with a static busybox sh)
BB=/.corral/bin/busybox
NODE=/.corral/node
STATE=/var/lib/corral-node
LOG=/var/log/corral
START_HOOKS=/etc/corral/on-start.d

# Runs a node script with the image's shell when it has one.
run_script() {
    $BB mkdir -p "$LOG"
    if [ -x /bin/sh ]; then
        /bin/sh "$NODE/$1.sh" >>"$LOG/$1.log" 2>&1
    else
        $BB sh "$NODE/$1.sh" >>"$LOG/$1.log" 2>&1
    fi
}

# True while a process other than tini and this script is alive.
others_alive() {
    for p in /proc/[0-9]*; do
        p=${p#/proc/}
        if [ "$p" != 1 ] && [ "$p" != $$ ]; then return 0; fi
    done
    return 1
}

# SIGTERM from the agent: pass it on to every service, exit once they are gone
# (the agent sends SIGKILL when its grace period ends).
on_term() {
    kill -TERM -1 2>/dev/null
    while others_alive; do $BB usleep 10000; done
    exit 0
}
trap on_term TERM INT

if [ ! -e "$STATE/created" ]; then
    status=none
    if [ -f "$NODE/on-create.sh" ]; then
        run_script on-create
        status=$?
    fi
    # The marker lives in the writable layer: on-create runs once per node, not per start.
    $BB mkdir -p "$STATE" && echo "$status" >"$STATE/created"
fi

if [ -f "$NODE/on-recovery.sh" ]; then
    run_script on-recovery
fi

# Every start, the first included: the node's own start hooks, which its scripts or
# its image put in place (e.g. daemons on-create configured, which a stop ended).
# They must return; a daemon forks to the background.
for hook in $START_HOOKS/*; do
    if [ -f "$hook" ] && [ -x "$hook" ]; then
        $BB mkdir -p "$LOG"
        echo "$($BB date '+%F %T') $hook" >>"$LOG/on-start.log"
        "$hook" >>"$LOG/on-start.log" 2>&1
    fi
done

if [ -x /usr/sbin/sshd ]; then
    set -- /etc/ssh/ssh_host_*_key
    if [ ! -e "$1" ]; then ssh-keygen -A; fi
    $BB mkdir -p /run/sshd "$LOG"
    /usr/sbin/sshd -E "$LOG/sshd.log"
fi

# Block in `wait` (not in a foreground child) so the TERM trap runs at once.
$BB sleep 2147483647 &
wait
"#;

/// Fills the shared support dir once: tini, busybox and the init script.
///
/// Files are replaced atomically (write then rename) so concurrent agents and running
/// nodes never see a half-written binary.
pub(crate) fn install_support(dir: &Path) -> Result<(), RuntimeError> {
    fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    for (source, name) in SUPPORT_BINARIES {
        let content = fs::read(source).map_err(io_err(format!("read {source}")))?;
        write_if_changed(&dir.join(name), &content, 0o755)?;
    }
    write_if_changed(&dir.join("init.sh"), INIT_SCRIPT.as_bytes(), 0o644)
}

/// Writes the node's lifecycle scripts, removing those the spec no longer has.
pub(crate) fn write_node_scripts(dir: &Path, spec: &NodeSpec) -> Result<(), RuntimeError> {
    fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    let scripts = [("on-create.sh", &spec.on_create), ("on-recovery.sh", &spec.on_recovery)];
    for (name, script) in scripts {
        let path = dir.join(name);
        match script {
            Some(body) => write_if_changed(&path, body.as_bytes(), 0o644)?,
            None => remove_if_present(&path)?,
        }
    }
    Ok(())
}

/// Writes `content` to `path` through a temporary file and a rename, unless it is
/// already there.
pub(crate) fn write_if_changed(path: &Path, content: &[u8], mode: u32) -> Result<(), RuntimeError> {
    if fs::read(path).is_ok_and(|old| old == content) {
        return Ok(());
    }
    // Unique per process and call, so concurrent writers never share a temporary file.
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp = path.with_extension(format!("tmp-{}-{n}", std::process::id()));
    let context = || format!("write {}", path.display());
    let mut file = fs::File::create(&tmp).map_err(io_err(context()))?;
    file.write_all(content).map_err(io_err(context()))?;
    file.set_permissions(fs::Permissions::from_mode(mode))
        .map_err(io_err(context()))?;
    drop(file);
    fs::rename(&tmp, path).map_err(io_err(context()))
}

fn remove_if_present(path: &Path) -> Result<(), RuntimeError> {
    match fs::remove_file(path) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => Err(io_err(format!("remove {}", path.display()))(e)),
        _ => Ok(()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::process::{Command, Stdio};

    #[test]
    fn init_script_parses_with_busybox_sh() {
        if !Path::new("/bin/busybox").exists() {
            eprintln!("skipped: no /bin/busybox");
            return;
        }
        let mut child = Command::new("/bin/busybox")
            .args(["sh", "-n"])
            .stdin(Stdio::piped())
            .spawn()
            .unwrap();
        child.stdin.take().unwrap().write_all(INIT_SCRIPT.as_bytes()).unwrap();
        assert!(child.wait().unwrap().success());
    }

    #[test]
    fn node_scripts_follow_the_spec() {
        let dir = tempfile::tempdir().unwrap();
        let mut spec = crate::NodeSpec {
            id: "n".into(),
            hostname: "n".into(),
            layers: Vec::new(),
            netns: "/run/netns/x".into(),
            cpu_millis: 0,
            memory_bytes: 0,
            pids_max: 0,
            env: Vec::new(),
            hosts_file: "/etc/hosts".into(),
            files: Vec::new(),
            on_create: Some("echo hi".into()),
            on_recovery: Some("echo back".into()),
        };
        write_node_scripts(dir.path(), &spec).unwrap();
        assert_eq!(fs::read_to_string(dir.path().join("on-create.sh")).unwrap(), "echo hi");
        spec.on_recovery = None;
        write_node_scripts(dir.path(), &spec).unwrap();
        assert!(!dir.path().join("on-recovery.sh").exists());
    }
}
