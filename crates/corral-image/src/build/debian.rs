//! The Debian recipe: debootstrap minbase plus what a cluster node needs to be
//! reached and inspected, then made neutral so every node can start from it.

use std::collections::VecDeque;
use std::fs::{self, File};
use std::io::{BufRead, BufReader};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::mirror::SUITE;
use crate::error::IoContext;
use crate::staging;
use crate::ImageError;

/// Packages beyond minbase: SSH between nodes, networking and process tools.
const PACKAGES: &str = "openssh-server,iproute2,procps,iputils-ping,ca-certificates,less";

/// How many of debootstrap's last lines an error message quotes.
const TAIL_LINES: usize = 15;

/// Root may log in with a key only; nodes get the keys from their cluster.
const SSHD_CONFIG: &str = "# Written by Corral.\nPermitRootLogin prohibit-password\n";

/// Runs debootstrap into the new directory `root`, passing its output to `progress`.
pub(super) fn debootstrap(root: &Path, mirror: &str, progress: &mut dyn FnMut(&str)) -> Result<(), ImageError> {
    let (read_end, write_end) = nix::unistd::pipe().ctx(|| "creating a pipe".into())?;
    let stderr = write_end.try_clone().ctx(|| "duplicating a pipe".into())?;
    let mut command = Command::new("debootstrap");
    command
        .arg("--variant=minbase")
        .arg(format!("--include={PACKAGES}"))
        .arg(SUITE)
        .arg(root)
        .arg(mirror)
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(stderr));
    let mut child = command.spawn().ctx(|| "starting debootstrap".into())?;
    // The command holds the pipe's write ends; drop it so reading ends at exit.
    drop(command);
    let tail = forward_lines(File::from(read_end), progress);
    let status = child.wait().ctx(|| "waiting for debootstrap".into())?;
    // debootstrap mounts /proc and /sys in the target and may leave them on failure.
    staging::unmount_below(root)?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageError::Build(format!(
            "debootstrap exited with {status}: {}",
            Vec::from(tail).join(" | ")
        )))
    }
}

/// Sends each output line to `progress` and keeps the last few for error messages.
pub(super) fn forward_lines(output: File, progress: &mut dyn FnMut(&str)) -> VecDeque<String> {
    let mut tail = VecDeque::with_capacity(TAIL_LINES);
    for line in BufReader::new(output).lines().map_while(Result::ok) {
        progress(&line);
        if tail.len() == TAIL_LINES {
            tail.pop_front();
        }
        tail.push_back(line);
    }
    tail
}

/// Removes what must differ per node (host keys, hostname) or is dead weight (apt
/// lists and caches), and sets the sshd policy.
pub(super) fn prepare_for_nodes(root: &Path) -> Result<(), ImageError> {
    remove_matching(&root.join("etc/ssh"), |name| name.starts_with("ssh_host_"))?;
    remove_matching(&root.join("var/lib/apt/lists"), |name| {
        name != "partial" && name != "lock"
    })?;
    remove_matching(&root.join("var/cache/apt"), |name| name.ends_with(".bin"))?;
    remove_matching(&root.join("var/cache/apt/archives"), |name| name.ends_with(".deb"))?;
    let sshd_dir = root.join("etc/ssh/sshd_config.d");
    fs::create_dir_all(&sshd_dir).ctx(|| format!("creating {}", sshd_dir.display()))?;
    let sshd_config = sshd_dir.join("corral.conf");
    fs::write(&sshd_config, SSHD_CONFIG).ctx(|| format!("writing {}", sshd_config.display()))?;
    fs::set_permissions(&sshd_config, fs::Permissions::from_mode(0o644))
        .ctx(|| format!("chmod {}", sshd_config.display()))?;
    // The runtime writes these per node; the build host's copies must not leak in.
    // Removed first: a symlink there could point at the build host's own file.
    for rel in ["etc/hostname", "etc/resolv.conf"] {
        let path = root.join(rel);
        let _ = fs::remove_file(&path);
        fs::write(&path, "").ctx(|| format!("writing {}", path.display()))?;
    }
    Ok(())
}

/// Removes the plain files (not directories) of `dir` whose names match.
fn remove_matching(dir: &Path, matches: impl Fn(&str) -> bool) -> Result<(), ImageError> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.ctx(|| format!("listing {}", dir.display()))?;
        let is_dir = entry.file_type().is_ok_and(|t| t.is_dir());
        if !is_dir && matches(&entry.file_name().to_string_lossy()) {
            let path = entry.path();
            fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        }
    }
    Ok(())
}
