//! The Slurm recipe: the Debian image plus Slurm (slurmctld, slurmd, client), munge,
//! Open MPI with mpi4py (an MPI program needs no compiler in the node) and curl (for
//! Slurm's power-saving scripts, which call the node API). The packages are installed
//! with apt-get in a chroot of the debootstrapped tree, because debootstrap's own
//! dependency resolution does not follow Slurm's alternatives and virtual packages.
//! The cluster-specific wiring (slurm.conf, the munge key) is the template's work.

use std::fs::{self, File};
use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::process::{Command, Stdio};

use super::debian::forward_lines;
use crate::error::IoContext;
use crate::staging;
use crate::ImageError;

/// Packages on top of the Debian recipe's. slurm-wlm-basic-plugins (a dependency)
/// carries the `mpi/pmix` plugin that `srun --mpi=pmix` starts Open MPI ranks with.
const PACKAGES: &[&str] = &[
    "slurmctld",
    "slurmd",
    "slurm-client",
    "munge",
    "openmpi-bin",
    "python3-mpi4py",
    "curl",
];

/// Keeps package scripts from starting daemons inside the build chroot.
const POLICY_RC_D: &str = "usr/sbin/policy-rc.d";

/// Installs the Slurm packages into the Debian tree `root`, passing apt's output to
/// `progress`. Runs in a private mount namespace, so the chroot's /proc goes away
/// with it whatever happens.
pub(super) fn install(root: &Path, progress: &mut dyn FnMut(&str)) -> Result<(), ImageError> {
    let policy = root.join(POLICY_RC_D);
    fs::write(&policy, "#!/bin/sh\nexit 101\n").ctx(|| format!("writing {}", policy.display()))?;
    fs::set_permissions(&policy, fs::Permissions::from_mode(0o755)).ctx(|| format!("chmod {}", policy.display()))?;
    let script = format!(
        "set -e\nmount -t proc proc \"$1/proc\"\nchroot \"$1\" apt-get update\n\
         chroot \"$1\" apt-get install -y --no-install-recommends {}\n",
        PACKAGES.join(" ")
    );
    let result = run_logged(
        Command::new("unshare")
            .args(["--mount", "--propagation", "private", "sh", "-c", &script, "sh"])
            .arg(root),
        "apt-get in the image",
        progress,
    );
    // Unshare's namespace took the /proc mount with it; this is for a killed build.
    staging::unmount_below(root)?;
    fs::remove_file(&policy).ctx(|| format!("removing {}", policy.display()))?;
    result
}

/// Where Debian's Slurm looks for PMIx: its `mpi/pmix` plugin dlopens the unversioned
/// `libpmix.so`, which only libpmix-dev (headers and all) would install.
const PMIX_DIR: &str = "usr/lib/x86_64-linux-gnu/pmix2/lib";

/// Removes what packages made that must differ per cluster (munge's postinst writes a
/// random key, which every cluster built from this image would otherwise share) and
/// links the PMIx library where Slurm looks for it.
pub(super) fn prepare_for_nodes(root: &Path) -> Result<(), ImageError> {
    let key = root.join("etc/munge/munge.key");
    match fs::remove_file(&key) {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            return Err(e).ctx(|| format!("removing {}", key.display()));
        }
        _ => {}
    }
    let pmix = root.join(PMIX_DIR);
    let link = pmix.join("libpmix.so");
    if pmix.join("libpmix.so.2").exists() && fs::symlink_metadata(&link).is_err() {
        std::os::unix::fs::symlink("libpmix.so.2", &link).ctx(|| format!("linking {}", link.display()))?;
    }
    Ok(())
}

/// Runs `command` to completion with its output lines sent to `progress`.
fn run_logged(command: &mut Command, what: &str, progress: &mut dyn FnMut(&str)) -> Result<(), ImageError> {
    let (read_end, write_end) = nix::unistd::pipe().ctx(|| "creating a pipe".into())?;
    let stderr = write_end.try_clone().ctx(|| "duplicating a pipe".into())?;
    command
        .env("DEBIAN_FRONTEND", "noninteractive")
        .env("PATH", "/usr/sbin:/usr/bin:/sbin:/bin")
        .stdin(Stdio::null())
        .stdout(Stdio::from(write_end))
        .stderr(Stdio::from(stderr));
    let mut child = command.spawn().ctx(|| format!("starting {what}"))?;
    // The command holds the pipe's write ends; replace them so reading ends at exit.
    command.stdout(Stdio::null()).stderr(Stdio::null());
    let tail = forward_lines(File::from(read_end), progress);
    let status = child.wait().ctx(|| format!("waiting for {what}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(ImageError::Build(format!(
            "{what} exited with {status}: {}",
            Vec::from(tail).join(" | ")
        )))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nodes_get_no_shared_munge_key_and_find_pmix() {
        let root = tempfile::tempdir().unwrap();
        let munge = root.path().join("etc/munge");
        fs::create_dir_all(&munge).unwrap();
        fs::write(munge.join("munge.key"), "made at build time").unwrap();
        let pmix = root.path().join(PMIX_DIR);
        fs::create_dir_all(&pmix).unwrap();
        fs::write(pmix.join("libpmix.so.2"), "").unwrap();
        prepare_for_nodes(root.path()).unwrap();
        assert!(!munge.join("munge.key").exists());
        assert_eq!(
            fs::read_link(pmix.join("libpmix.so")).unwrap(),
            Path::new("libpmix.so.2")
        );
        // Again, on a tree already prepared: nothing to do, no error.
        prepare_for_nodes(root.path()).unwrap();
    }

    #[test]
    fn failing_commands_quote_their_last_lines() {
        let mut lines = Vec::new();
        let err = run_logged(
            Command::new("sh").args(["-c", "echo one; echo two >&2; exit 3"]),
            "the step",
            &mut |l| lines.push(l.to_string()),
        )
        .unwrap_err();
        assert_eq!(lines, ["one", "two"]);
        let msg = err.to_string();
        assert!(
            msg.contains("the step exited with exit status: 3") && msg.contains("one | two"),
            "{msg}"
        );
    }
}
