//! The busybox recipe: the host's static busybox, one symlink per applet, and the
//! few files and directories a node's init and tools expect.

use std::fs;
use std::os::unix::fs::{symlink, PermissionsExt};
use std::path::Path;
use std::process::Command;

use crate::error::IoContext;
use crate::ImageError;

/// Debian's busybox-static installs here.
const BUSYBOX: &str = "/bin/busybox";

/// Directories of the image with their modes; /tmp is world-writable and sticky.
const DIRS: &[(&str, u32)] = &[
    ("bin", 0o755),
    ("sbin", 0o755),
    ("usr/bin", 0o755),
    ("usr/sbin", 0o755),
    ("etc", 0o755),
    ("root", 0o700),
    ("tmp", 0o1777),
    ("proc", 0o555),
    ("sys", 0o555),
    ("dev", 0o755),
    ("run", 0o755),
    ("var/log", 0o755),
];

/// Files of the image; hosts and resolv.conf are placeholders the runtime fills in.
const FILES: &[(&str, &str, u32)] = &[
    ("etc/passwd", "root:x:0:0:root:/root:/bin/sh\n", 0o644),
    ("etc/group", "root:x:0:\n", 0o644),
    ("etc/hosts", "127.0.0.1\tlocalhost\n::1\tlocalhost\n", 0o644),
    ("etc/resolv.conf", "", 0o644),
];

/// Fills the new directory `root` with the busybox image.
pub(super) fn populate(root: &Path) -> Result<(), ImageError> {
    make_dir(root, 0o755)?;
    for (rel, mode) in DIRS {
        make_dir(&root.join(rel), *mode)?;
    }
    for (rel, content, mode) in FILES {
        let path = root.join(rel);
        fs::write(&path, content).ctx(|| format!("writing {}", path.display()))?;
        chmod(&path, *mode)?;
    }
    let busybox = root.join("bin/busybox");
    fs::copy(BUSYBOX, &busybox).ctx(|| format!("copying {BUSYBOX}"))?;
    chmod(&busybox, 0o755)?;
    for applet in applets()? {
        link_applet(root, &applet)?;
    }
    Ok(())
}

/// Install paths of every applet, as busybox itself lists them (`usr/bin/awk`).
fn applets() -> Result<Vec<String>, ImageError> {
    let output = Command::new(BUSYBOX)
        .arg("--list-full")
        .output()
        .ctx(|| format!("running {BUSYBOX} --list-full"))?;
    if !output.status.success() {
        return Err(ImageError::Build(format!("{BUSYBOX} --list-full failed")));
    }
    let list = String::from_utf8_lossy(&output.stdout);
    Ok(list
        .lines()
        .map(str::trim)
        .filter(|line| !line.is_empty() && *line != "bin/busybox" && !line.contains(".."))
        .map(str::to_string)
        .collect())
}

/// Links one applet to busybox with a relative target, so the link also resolves
/// when the layer is looked at from the host.
fn link_applet(root: &Path, applet: &str) -> Result<(), ImageError> {
    let path = root.join(applet);
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent).ctx(|| format!("creating {}", parent.display()))?;
    }
    let depth = applet.matches('/').count();
    let target = if applet.starts_with("bin/") && depth == 1 {
        "busybox".to_string()
    } else {
        format!("{}bin/busybox", "../".repeat(depth))
    };
    symlink(&target, &path).ctx(|| format!("linking {}", path.display()))
}

/// Creates a directory (and its parents) with an exact mode, whatever the umask.
fn make_dir(path: &Path, mode: u32) -> Result<(), ImageError> {
    fs::create_dir_all(path).ctx(|| format!("creating {}", path.display()))?;
    chmod(path, mode)
}

/// Sets an exact mode.
fn chmod(path: &Path, mode: u32) -> Result<(), ImageError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx(|| format!("chmod {}", path.display()))
}
