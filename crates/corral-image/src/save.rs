//! Saving a node's writable layer as a new image on top of its base.

use std::fs;
use std::path::Path;
use std::process::Command;

use crate::error::IoContext;
use crate::layer::{OPAQUE_XATTR, OVERLAY_XATTR_PREFIX};
use crate::{ImageError, ImageManifest, ImageStore};

impl ImageStore {
    /// Makes an image of `base`'s layers plus a copy of an overlayfs upper dir.
    ///
    /// The node should be stopped or frozen: a copy of a changing upper dir is not
    /// a consistent snapshot.
    pub fn save(&self, upper: &Path, base: &ImageManifest) -> Result<ImageManifest, ImageError> {
        self.save_excluding(upper, base, &[])
    }

    /// Like [`Self::save`], leaving out what the writable layer has at `exclude`:
    /// paths relative to the node's root (`root/.ssh/id_ed25519`), the last part of
    /// which may end in `*` to match a prefix (`etc/ssh/ssh_host_*`). Whatever the
    /// base image has at those paths shows through in the new image.
    ///
    /// This keeps what the node's host placed for this one node (its cluster's keys,
    /// its environment, its init's markers and logs) out of an image others may use.
    pub fn save_excluding(
        &self,
        upper: &Path,
        base: &ImageManifest,
        exclude: &[&str],
    ) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        for layer in &base.layers {
            self.existing_layer_path(layer)?;
        }
        let staging = self.stage("save")?;
        let dest = staging.path().join("layer");
        copy_tree(upper, &dest)?;
        strip_overlay_bookkeeping(&dest)?;
        for pattern in exclude {
            remove_matching(&dest, pattern)?;
        }
        let summary = self.commit_layer(&dest)?;
        let mut layers = base.layers.clone();
        layers.retain(|layer| *layer != summary.digest);
        layers.push(summary.digest);
        let size = base.size_bytes + summary.size_bytes;
        self.commit_manifest(layers, base.config.clone(), size)
    }
}

/// Copies a tree with everything overlayfs cares about: whiteout devices, xattrs,
/// owners, modes, hard links. GNU cp already does this correctly for every file type.
fn copy_tree(from: &Path, to: &Path) -> Result<(), ImageError> {
    if !from.is_dir() {
        return Err(ImageError::NotFound(from.display().to_string()));
    }
    let output = Command::new("cp")
        .args(["-a", "--preserve=all", "--no-target-directory"])
        .arg(from)
        .arg(to)
        .output()
        .ctx(|| "running cp".into())?;
    if output.status.success() {
        Ok(())
    } else {
        Err(ImageError::Build(format!(
            "cp of {} failed: {}",
            from.display(),
            String::from_utf8_lossy(&output.stderr).trim()
        )))
    }
}

/// Removes what `pattern` (see [`ImageStore::save_excluding`]) names below `root`;
/// never follows a symlink out of the copy.
fn remove_matching(root: &Path, pattern: &str) -> Result<(), ImageError> {
    let rel = Path::new(pattern.trim_start_matches('/'));
    let mut dir = root.to_path_buf();
    let (Some(parent), Some(name)) = (rel.parent(), rel.file_name()) else {
        return Ok(());
    };
    for part in parent.components() {
        let std::path::Component::Normal(part) = part else {
            return Ok(());
        };
        dir.push(part);
        match fs::symlink_metadata(&dir) {
            Ok(meta) if meta.is_dir() => {}
            _ => return Ok(()),
        }
    }
    let name = name.to_string_lossy();
    let victims: Vec<_> = match name.strip_suffix('*') {
        Some(prefix) => match fs::read_dir(&dir) {
            Ok(entries) => entries
                .filter_map(Result::ok)
                .filter(|e| e.file_name().to_string_lossy().starts_with(prefix))
                .map(|e| e.path())
                .collect(),
            Err(_) => Vec::new(),
        },
        None => vec![dir.join(name.as_ref())],
    };
    for path in victims {
        let removed = match fs::symlink_metadata(&path) {
            Ok(meta) if meta.is_dir() => fs::remove_dir_all(&path),
            Ok(_) => fs::remove_file(&path),
            Err(_) => continue,
        };
        removed.ctx(|| format!("removing {}", path.display()))?;
    }
    Ok(())
}

/// Removes overlayfs xattrs other than opaque (origin, impure, redirect, ...): they
/// point into the node's own lower layers and mean nothing in a new image.
fn strip_overlay_bookkeeping(root: &Path) -> Result<(), ImageError> {
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).ctx(|| format!("reading {}", path.display()))?;
        if meta.is_dir() {
            for entry in fs::read_dir(&path).ctx(|| format!("listing {}", path.display()))? {
                pending.push(entry.ctx(|| format!("listing {}", path.display()))?.path());
            }
        }
        let names = xattr::list(&path).ctx(|| format!("listing xattrs of {}", path.display()))?;
        for name in names {
            let name = name.to_string_lossy();
            if name.starts_with(OVERLAY_XATTR_PREFIX) && name != OPAQUE_XATTR {
                xattr::remove(&path, name.as_ref()).ctx(|| format!("removing {name} from {}", path.display()))?;
            }
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn exclusions_remove_files_dirs_and_prefixes_only() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        for rel in [
            "root/.ssh/id_ed25519",
            "root/.ssh/known_hosts",
            "var/lib/corral-node/created",
            "etc/ssh/ssh_host_rsa_key",
            "etc/ssh/ssh_host_rsa_key.pub",
            "etc/ssh/sshd_config",
            "opt/app",
        ] {
            let p = root.join(rel);
            fs::create_dir_all(p.parent().unwrap()).unwrap();
            fs::write(&p, "x").unwrap();
        }
        std::os::unix::fs::symlink("/", root.join("escape")).unwrap();
        for pattern in [
            "root/.ssh/id_ed25519",
            "var/lib/corral-node",
            "etc/ssh/ssh_host_*",
            "escape/etc/passwd",
            "not/there",
        ] {
            remove_matching(root, pattern).unwrap();
        }
        assert!(!root.join("root/.ssh/id_ed25519").exists());
        assert!(root.join("root/.ssh/known_hosts").exists());
        assert!(!root.join("var/lib/corral-node").exists());
        assert!(!root.join("etc/ssh/ssh_host_rsa_key").exists());
        assert!(!root.join("etc/ssh/ssh_host_rsa_key.pub").exists());
        assert!(root.join("etc/ssh/sshd_config").exists());
        assert!(root.join("opt/app").exists());
        assert!(Path::new("/etc/passwd").exists());
    }
}
