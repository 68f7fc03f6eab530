//! Image manifests: ordered layers plus config, named by the digest of their JSON.

use serde::{Deserialize, Serialize};

use crate::digest;

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

/// The manifest without its digest: what the digest is computed over. Field order is
/// fixed by the struct, so serde_json's output is canonical.
#[derive(Serialize)]
struct ManifestBody<'a> {
    layers: &'a [String],
    config: &'a ImageConfig,
    size_bytes: u64,
}

impl ImageManifest {
    /// Builds a manifest and computes its digest.
    pub fn new(layers: Vec<String>, config: ImageConfig, size_bytes: u64) -> Self {
        let mut manifest = Self {
            digest: String::new(),
            layers,
            config,
            size_bytes,
        };
        manifest.digest = manifest.computed_digest();
        manifest
    }

    /// The digest this manifest's content should have, to check one read from disk.
    pub fn computed_digest(&self) -> String {
        let body = ManifestBody {
            layers: &self.layers,
            config: &self.config,
            size_bytes: self.size_bytes,
        };
        // Serialising plain strings and integers cannot fail.
        let json = serde_json::to_vec(&body).expect("manifest body serialises");
        digest::of_bytes(&json)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digest_covers_content_not_the_digest_field() {
        let a = ImageManifest::new(vec!["sha256:1".into()], ImageConfig::default(), 5);
        let mut b = a.clone();
        b.digest = "sha256:whatever".into();
        assert_eq!(a.digest, b.computed_digest());
        let c = ImageManifest::new(vec!["sha256:2".into()], ImageConfig::default(), 5);
        assert_ne!(a.digest, c.digest);
    }
}
