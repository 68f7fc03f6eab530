//! Installing images pulled from another host's store: layers first, then the manifest.
//!
//! Integrity: every layer is named by the walk digest of its directory (see `layer`),
//! whatever made it, and a manifest's digest covers its layer names. So a host that
//! trusts a manifest digest (from the server's state) checks each received layer by
//! unpacking it into staging and recomputing the walk digest: a stream that was
//! corrupted or tampered with yields another digest and is refused before anything
//! is renamed into `layers/`. Nothing in the stream itself is trusted.

use std::fs;
use std::io::Read;

use crate::digest;
use crate::error::IoContext;
use crate::layer;
use crate::unpack::{self, Whiteouts};
use crate::{ImageError, ImageManifest, ImageStore};

impl ImageStore {
    /// Unpacks a layer stream from [`ImageStore::export_layer`] and stores it if its
    /// content hashes to `digest`; a layer already stored is left as is, unread.
    pub fn install_layer(&self, digest: &str, input: &mut dyn Read) -> Result<(), ImageError> {
        digest::hex_of(digest)?;
        let _lock = self.lock_shared()?;
        if self.has_layer(digest)? {
            return Ok(());
        }
        let staging = self.stage("install")?;
        let dest = staging.path().join("layer");
        fs::create_dir(&dest).ctx(|| format!("creating {}", dest.display()))?;
        let mut archive = tar::Archive::new(input);
        unpack::unpack(&mut archive, &dest, Whiteouts::ConvertOci)?;
        let actual = layer::summarize(&dest)?.digest;
        if actual != digest {
            return Err(ImageError::Unsafe(format!(
                "layer stream for {digest} unpacks to content {actual}"
            )));
        }
        self.commit_layer_as(&dest, digest)
    }

    /// Stores a manifest received from another store, once its digest matches its
    /// content and every layer it lists is stored here.
    pub fn install_manifest(&self, manifest: &ImageManifest) -> Result<(), ImageError> {
        check_manifest(manifest)?;
        let _lock = self.lock_shared()?;
        if let Some(missing) = self.missing_layers(manifest).into_iter().next() {
            return Err(ImageError::NotFound(missing));
        }
        self.commit_manifest(manifest.layers.clone(), manifest.config.clone(), manifest.size_bytes)?;
        Ok(())
    }

    /// The layers of `manifest` not stored here, in manifest order, each once.
    pub fn missing_layers(&self, manifest: &ImageManifest) -> Vec<String> {
        let mut missing: Vec<String> = Vec::new();
        for layer in &manifest.layers {
            let stored = self.has_layer(layer).unwrap_or(false);
            if !stored && !missing.contains(layer) {
                missing.push(layer.clone());
            }
        }
        missing
    }
}

/// Refuses a manifest whose digest or layer names are malformed or do not match.
fn check_manifest(manifest: &ImageManifest) -> Result<(), ImageError> {
    digest::hex_of(&manifest.digest)?;
    for layer in &manifest.layers {
        digest::hex_of(layer)?;
    }
    if manifest.computed_digest() != manifest.digest {
        return Err(ImageError::Unsafe(format!(
            "manifest {} does not match its digest",
            manifest.digest
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ImageConfig;

    #[test]
    fn manifests_are_checked_before_anything_is_stored() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let layer = format!("sha256:{}", "c".repeat(64));
        let manifest = ImageManifest::new(vec![layer.clone()], ImageConfig::default(), 3);
        assert_eq!(store.missing_layers(&manifest), vec![layer.clone()]);
        assert!(matches!(
            store.install_manifest(&manifest),
            Err(ImageError::NotFound(missing)) if missing == layer
        ));
        let mut forged = manifest.clone();
        forged.size_bytes = 4;
        assert!(matches!(store.install_manifest(&forged), Err(ImageError::Unsafe(_))));
        let bad_layer = ImageManifest::new(vec!["sha256:../x".into()], ImageConfig::default(), 3);
        assert!(matches!(
            store.install_manifest(&bad_layer),
            Err(ImageError::InvalidDigest(_))
        ));
        assert!(store.list_manifests().unwrap().is_empty());
    }
}
