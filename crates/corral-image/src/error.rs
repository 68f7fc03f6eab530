//! Errors of the image store.

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
    /// An archive entry would land outside its layer, or the archive contradicts itself.
    #[error("unsafe or corrupt image archive: {0}")]
    Unsafe(String),
    /// A build step failed.
    #[error("image build failed: {0}")]
    Build(String),
    /// No such manifest or layer.
    #[error("image {0} not found in the image store")]
    NotFound(String),
    /// A digest is not of the form `sha256:<64 hex digits>`.
    #[error("invalid digest {0:?}")]
    InvalidDigest(String),
    /// A manifest on disk or in an archive could not be parsed.
    #[error("invalid manifest {name}: {source}")]
    Json {
        /// Which file.
        name: String,
        /// The cause.
        source: serde_json::Error,
    },
}

/// Attaches "what was being done" to I/O errors, so a failure names its path.
pub(crate) trait IoContext<T> {
    /// Wraps the error with a lazily built context.
    fn ctx<F: FnOnce() -> String>(self, context: F) -> Result<T, ImageError>;
}

impl<T> IoContext<T> for std::io::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, context: F) -> Result<T, ImageError> {
        self.map_err(|source| ImageError::Io {
            context: context(),
            source,
        })
    }
}

impl<T> IoContext<T> for nix::Result<T> {
    fn ctx<F: FnOnce() -> String>(self, context: F) -> Result<T, ImageError> {
        self.map_err(|errno| ImageError::Io {
            context: context(),
            source: errno.into(),
        })
    }
}
