//! Removing images and collecting layers no kept image references.

use std::collections::HashSet;
use std::fs;

use crate::digest;
use crate::error::IoContext;
use crate::{ImageError, ImageStore};

/// What a removal or garbage collection deleted.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct GcReport {
    /// Digests of the removed manifests.
    pub manifests: Vec<String>,
    /// Digests of the removed layers.
    pub layers: Vec<String>,
}

impl ImageStore {
    /// Removes one manifest and every layer no remaining manifest references.
    pub fn remove(&self, digest: &str) -> Result<GcReport, ImageError> {
        let _lock = self.lock_exclusive()?;
        let path = self.manifest_path(digest)?;
        if !path.exists() {
            return Err(ImageError::NotFound(digest.to_string()));
        }
        fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
        let remaining = self.manifest_digests()?;
        let mut report = self.remove_unreferenced_layers(&remaining)?;
        report.manifests.push(digest.to_string());
        Ok(report)
    }

    /// Removes every manifest not in `keep` and every layer no kept manifest
    /// references (including layers a crashed import left without a manifest).
    pub fn gc(&self, keep: &[String]) -> Result<GcReport, ImageError> {
        for digest in keep {
            digest::hex_of(digest)?;
        }
        let _lock = self.lock_exclusive()?;
        let mut removed = Vec::new();
        let mut kept = Vec::new();
        for digest in self.manifest_digests()? {
            if keep.contains(&digest) {
                kept.push(digest);
                continue;
            }
            let path = self.manifest_path(&digest)?;
            fs::remove_file(&path).ctx(|| format!("removing {}", path.display()))?;
            removed.push(digest);
        }
        let mut report = self.remove_unreferenced_layers(&kept)?;
        report.manifests = removed;
        Ok(report)
    }

    /// Deletes the layers none of `manifests` lists; the caller holds the lock
    /// exclusively.
    fn remove_unreferenced_layers(&self, manifests: &[String]) -> Result<GcReport, ImageError> {
        let mut referenced = HashSet::new();
        for digest in manifests {
            referenced.extend(self.manifest(digest)?.layers);
        }
        let mut report = GcReport::default();
        let trash = self.stage("gc")?;
        for layer in self.layer_digests()? {
            if referenced.contains(&layer) {
                continue;
            }
            // Renaming first makes the layer vanish at once; the slow delete of its
            // files happens in tmp/, where a crash leaves only staging litter.
            let hex = digest::hex_of(&layer)?;
            let from = self.layers_dir().join(hex);
            let to = trash.path().join(hex);
            fs::rename(&from, &to).ctx(|| format!("moving {} to tmp", from.display()))?;
            tracing::info!(%layer, "removed layer");
            report.layers.push(layer);
        }
        Ok(report)
    }
}
