//! The on-disk image store.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// Errors of the image store.
#[derive(Debug, thiserror::Error)]
pub enum ImageError {
    /// An I/O error with what was being done.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// The file given to import is not a tarball or OCI archive Corral understands.
    #[error("unsupported image archive: {0}")]
    Unsupported(String),
    /// A build step failed.
    #[error("image build failed: {0}")]
    Build(String),
    /// No such manifest or layer.
    #[error("image {0} not found in the image store")]
    NotFound(String),
}

/// Runtime configuration carried by an image.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageConfig {
    /// Environment, `KEY=VALUE`.
    pub env: Vec<String>,
    /// Working directory.
    pub workdir: Option<String>,
}

/// An image: ordered layers (bottom first) and config; its digest is the sha256 of
/// its canonical JSON.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ImageManifest {
    /// `sha256:<hex>` of the manifest.
    pub digest: String,
    /// Layer digests, bottom first.
    pub layers: Vec<String>,
    /// Config.
    pub config: ImageConfig,
    /// Unpacked size of all layers in bytes.
    pub size_bytes: u64,
}

/// The image store rooted at a directory.
#[derive(Debug, Clone)]
pub struct ImageStore {
    root: PathBuf,
}

impl ImageStore {
    /// Opens (creating if needed) the store under `root`.
    pub fn open(root: &Path) -> Result<Self, ImageError> {
        let _ = root;
        todo!()
    }
}
