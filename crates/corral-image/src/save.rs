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
        let _lock = self.lock_shared()?;
        for layer in &base.layers {
            self.existing_layer_path(layer)?;
        }
        let staging = self.stage("save")?;
        let dest = staging.path().join("layer");
        copy_tree(upper, &dest)?;
        strip_overlay_bookkeeping(&dest)?;
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
                xattr::remove(&path, name.as_ref())
                    .ctx(|| format!("removing {name} from {}", path.display()))?;
            }
        }
    }
    Ok(())
}
