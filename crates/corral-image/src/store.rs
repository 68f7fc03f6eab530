//! The on-disk image store: layout, lookups and commits.
//!
//! ```text
//! <root>/layers/<hex>/          one unpacked layer, overlayfs lower form
//! <root>/manifests/<hex>.json   one ImageManifest
//! <root>/tmp/                   staging; everything is renamed out of here
//! <root>/lock                   flock: shared by writers, exclusive for deletion
//! ```

use std::fs;
use std::path::{Path, PathBuf};

use crate::digest;
use crate::error::IoContext;
use crate::layer::{self, LayerSummary};
use crate::staging::{self, Staging, StoreLock};
use crate::{ImageConfig, ImageError, ImageManifest};

/// The image store rooted at a directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let store = Self {
            root: root.to_path_buf(),
        };
        for dir in [store.layers_dir(), store.manifests_dir(), store.tmp_dir()] {
            fs::create_dir_all(&dir).ctx(|| format!("creating {}", dir.display()))?;
        }
        store.clear_stale_staging()?;
        Ok(store)
    }

    /// The directory the store lives in.
    pub fn root(&self) -> &Path {
        &self.root
    }

    /// Reads the manifest with this digest.
    pub fn manifest(&self, digest: &str) -> Result<ImageManifest, ImageError> {
        let path = self.manifest_path(digest)?;
        let bytes = match fs::read(&path) {
            Err(err) if err.kind() == std::io::ErrorKind::NotFound => {
                return Err(ImageError::NotFound(digest.to_string()))
            }
            other => other.ctx(|| format!("reading {}", path.display()))?,
        };
        let manifest: ImageManifest = serde_json::from_slice(&bytes).map_err(|source| ImageError::Json {
            name: path.display().to_string(),
            source,
        })?;
        // A manifest whose content does not match its name was tampered with or torn.
        let layers_valid = manifest.layers.iter().all(|l| digest::hex_of(l).is_ok());
        if manifest.digest != digest || manifest.computed_digest() != digest || !layers_valid {
            return Err(ImageError::Unsafe(format!(
                "manifest {} does not match its digest",
                path.display()
            )));
        }
        Ok(manifest)
    }

    /// The directory of a layer, for use as an overlayfs lowerdir.
    ///
    /// A malformed digest yields a path the store never creates, so no digest can
    /// name a directory outside `layers/`; use [`Self::existing_layer_path`] to get
    /// an error instead.
    pub fn layer_path(&self, digest: &str) -> PathBuf {
        let name = digest::hex_of(digest).unwrap_or(INVALID_LAYER_NAME);
        self.layers_dir().join(name)
    }

    /// The directory of a stored layer; fails on a malformed or unknown digest.
    pub fn existing_layer_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        let path = self.layers_dir().join(digest::hex_of(digest)?);
        if path.is_dir() {
            Ok(path)
        } else {
            Err(ImageError::NotFound(digest.to_string()))
        }
    }

    /// Every stored manifest, sorted by digest.
    pub fn list_manifests(&self) -> Result<Vec<ImageManifest>, ImageError> {
        let mut manifests = Vec::new();
        for digest in self.manifest_digests()? {
            manifests.push(self.manifest(&digest)?);
        }
        Ok(manifests)
    }

    /// Digests of the stored manifests, sorted.
    pub(crate) fn manifest_digests(&self) -> Result<Vec<String>, ImageError> {
        let mut digests = Vec::new();
        for name in list_names(&self.manifests_dir())? {
            if let Some(hex) = name.strip_suffix(".json") {
                digests.push(format!("sha256:{hex}"));
            }
        }
        digests.sort();
        Ok(digests)
    }

    /// Digests of the stored layers.
    pub(crate) fn layer_digests(&self) -> Result<Vec<String>, ImageError> {
        let names = list_names(&self.layers_dir())?;
        Ok(names.into_iter().map(|hex| format!("sha256:{hex}")).collect())
    }

    /// Digests the staged layer directory and moves it into `layers/` unless the same
    /// content is already stored.
    pub(crate) fn commit_layer(&self, staged: &Path) -> Result<LayerSummary, ImageError> {
        let summary = layer::summarize(staged)?;
        self.commit_layer_as(staged, &summary.digest)?;
        Ok(summary)
    }

    /// Moves a staged layer into `layers/` under a digest computed by the caller.
    pub(crate) fn commit_layer_as(&self, staged: &Path, digest: &str) -> Result<(), ImageError> {
        let target = self.layers_dir().join(digest::hex_of(digest)?);
        if target.exists() {
            return Ok(());
        }
        staging::sync_fs(staged)?;
        if staging::publish(staged, &target)? {
            tracing::info!(%digest, "stored layer");
        }
        Ok(())
    }

    /// Writes a manifest for these layers, staged and renamed into place.
    pub(crate) fn commit_manifest(
        &self,
        layers: Vec<String>,
        config: ImageConfig,
        size_bytes: u64,
    ) -> Result<ImageManifest, ImageError> {
        let manifest = ImageManifest::new(layers, config, size_bytes);
        let target = self.manifest_path(&manifest.digest)?;
        if target.exists() {
            return Ok(manifest);
        }
        let staging = self.stage("manifest")?;
        let staged = staging.path().join("manifest.json");
        let json = serde_json::to_vec_pretty(&manifest).expect("manifest serialises");
        write_synced(&staged, &json)?;
        staging::publish(&staged, &target)?;
        tracing::info!(digest = %manifest.digest, "stored manifest");
        Ok(manifest)
    }

    /// Whether a layer with this digest is stored.
    pub(crate) fn has_layer(&self, digest: &str) -> Result<bool, ImageError> {
        Ok(self.layers_dir().join(digest::hex_of(digest)?).is_dir())
    }

    /// A fresh staging directory under `tmp/`.
    pub(crate) fn stage(&self, purpose: &str) -> Result<Staging, ImageError> {
        Staging::new(&self.tmp_dir(), purpose)
    }

    /// The lock writers hold while they stage and commit.
    pub(crate) fn lock_shared(&self) -> Result<StoreLock, ImageError> {
        staging::lock(&self.lock_path(), false)
    }

    /// The lock deleters hold, which waits for every writer to finish.
    pub(crate) fn lock_exclusive(&self) -> Result<StoreLock, ImageError> {
        staging::lock(&self.lock_path(), true)
    }

    /// `layers/`.
    pub(crate) fn layers_dir(&self) -> PathBuf {
        self.root.join("layers")
    }

    /// `tmp/`.
    pub(crate) fn tmp_dir(&self) -> PathBuf {
        self.root.join("tmp")
    }

    /// `manifests/`.
    fn manifests_dir(&self) -> PathBuf {
        self.root.join("manifests")
    }

    /// `manifests/<hex>.json`.
    pub(crate) fn manifest_path(&self, digest: &str) -> Result<PathBuf, ImageError> {
        Ok(self.manifests_dir().join(format!("{}.json", digest::hex_of(digest)?)))
    }

    /// `lock`.
    fn lock_path(&self) -> PathBuf {
        self.root.join("lock")
    }

    /// Removes what a crashed writer left in `tmp/`, but only when no writer (in any
    /// process) holds the lock, since their staging dirs live there too.
    fn clear_stale_staging(&self) -> Result<(), ImageError> {
        let Some(_lock) = staging::try_lock_exclusive(&self.lock_path())? else {
            return Ok(());
        };
        for name in list_names(&self.tmp_dir())? {
            staging::remove_tree(&self.tmp_dir().join(name))?;
        }
        Ok(())
    }
}

/// Stands in for a malformed digest: not hex, so no stored layer has this name.
const INVALID_LAYER_NAME: &str = "invalid-digest";

/// Names of the entries of a directory.
fn list_names(dir: &Path) -> Result<Vec<String>, ImageError> {
    let entries = fs::read_dir(dir).ctx(|| format!("listing {}", dir.display()))?;
    let mut names = Vec::new();
    for entry in entries {
        let entry = entry.ctx(|| format!("listing {}", dir.display()))?;
        names.push(entry.file_name().to_string_lossy().into_owned());
    }
    Ok(names)
}

/// Writes a file and flushes it to disk before it is renamed into place.
fn write_synced(path: &Path, bytes: &[u8]) -> Result<(), ImageError> {
    use std::io::Write;
    let mut file = fs::File::create(path).ctx(|| format!("creating {}", path.display()))?;
    file.write_all(bytes)
        .and_then(|()| file.sync_all())
        .ctx(|| format!("writing {}", path.display()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn open_clears_staging_only_when_no_writer_is_active() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let leftover = store.tmp_dir().join("1-0-import");
        fs::create_dir_all(leftover.join("layer")).unwrap();
        {
            let _writer = store.lock_shared().unwrap();
            ImageStore::open(dir.path()).unwrap();
            assert!(leftover.exists(), "a running writer's staging is kept");
        }
        ImageStore::open(dir.path()).unwrap();
        assert!(!leftover.exists(), "a crashed writer's staging is removed");
    }

    #[test]
    fn tampered_manifests_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let store = ImageStore::open(dir.path()).unwrap();
        let layer = format!("sha256:{}", "a".repeat(64));
        let manifest = store.commit_manifest(vec![layer], ImageConfig::default(), 1).unwrap();
        assert_eq!(store.manifest(&manifest.digest).unwrap(), manifest);
        let path = store.manifest_path(&manifest.digest).unwrap();
        let text = fs::read_to_string(&path).unwrap();
        fs::write(&path, text.replace("\"size_bytes\": 1", "\"size_bytes\": 2")).unwrap();
        assert!(matches!(store.manifest(&manifest.digest), Err(ImageError::Unsafe(_))));
        let unknown = format!("sha256:{}", "b".repeat(64));
        assert!(matches!(store.manifest(&unknown), Err(ImageError::NotFound(_))));
        assert_eq!(
            store.layer_path("sha256:../../etc"),
            store.layers_dir().join("invalid-digest")
        );
    }
}
