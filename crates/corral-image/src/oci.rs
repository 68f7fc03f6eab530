//! Following an OCI image layout: index → manifest (through nested indexes) →
//! config and layers, each blob checked against the digest that names it.

use std::fs;
use std::path::{Path, PathBuf};

use oci_spec::image::{Arch, Descriptor, ImageConfiguration, ImageIndex, ImageManifest as OciManifest, MediaType, Os};
use serde::de::DeserializeOwned;

use crate::digest;
use crate::error::IoContext;
use crate::import::unpack_file;
use crate::layer;
use crate::unpack::Whiteouts;
use crate::{ImageConfig, ImageError, ImageManifest, ImageStore};

/// Nested indexes deeper than this are refused rather than followed forever.
const MAX_INDEX_DEPTH: usize = 4;

/// Imports the image of the OCI layout whose files `scan` kept in `layout_dir`.
pub(crate) fn import_layout(store: &ImageStore, layout_dir: &Path) -> Result<ImageManifest, ImageError> {
    let layout = Layout { dir: layout_dir };
    let index: ImageIndex = layout.json_file("index.json")?;
    let manifest = layout.manifest(&index, 0)?;
    let config: ImageConfiguration = layout.json_blob(manifest.config())?;
    let diff_ids = config.rootfs().diff_ids();
    if !diff_ids.is_empty() && diff_ids.len() != manifest.layers().len() {
        return Err(ImageError::Unsafe("config and manifest disagree on layers".into()));
    }
    let mut layers = Vec::new();
    for (i, descriptor) in manifest.layers().iter().enumerate() {
        let layer = import_layer(store, &layout, descriptor, diff_ids.get(i))?;
        layers.push(layer);
    }
    let layers = keep_highest_occurrence(layers);
    let mut size = 0;
    for layer in &layers {
        size += layer::size_of(&store.existing_layer_path(layer)?)?;
    }
    store.commit_manifest(layers, image_config(&config), size)
}

/// Stores one layer blob after checking it against its diff id; returns the walk
/// digest that names the stored layer.
fn import_layer(
    store: &ImageStore,
    layout: &Layout,
    descriptor: &Descriptor,
    diff_id: Option<&String>,
) -> Result<String, ImageError> {
    check_layer_media_type(descriptor.media_type())?;
    let blob = layout.verified_blob(descriptor)?;
    let staging = store.stage("layer")?;
    let dest = staging.path().join("layer");
    fs::create_dir(&dest).ctx(|| format!("creating {}", dest.display()))?;
    let stream_digest = unpack_file(&blob, &dest, Whiteouts::ConvertOci)?;
    if diff_id.is_some_and(|expected| *expected != stream_digest) {
        return Err(ImageError::Unsafe(format!(
            "layer {} does not match its diff id",
            descriptor.digest()
        )));
    }
    Ok(store.commit_layer(&dest)?.digest)
}

/// Refuses layer encodings this store cannot unpack.
fn check_layer_media_type(media_type: &MediaType) -> Result<(), ImageError> {
    match media_type {
        MediaType::ImageLayer
        | MediaType::ImageLayerGzip
        | MediaType::ImageLayerNonDistributable
        | MediaType::ImageLayerNonDistributableGzip => Ok(()),
        other => Err(ImageError::Unsupported(format!("layer media type {other}"))),
    }
}

/// Drops all but the highest copy of a layer listed twice: overlayfs refuses the same
/// lowerdir twice, and the highest copy already hides whatever the lower one would.
fn keep_highest_occurrence(layers: Vec<String>) -> Vec<String> {
    let mut kept: Vec<String> = Vec::with_capacity(layers.len());
    for (i, layer) in layers.iter().enumerate() {
        if !layers[i + 1..].contains(layer) {
            kept.push(layer.clone());
        }
    }
    kept
}

/// The runtime settings Corral keeps from an OCI image config.
fn image_config(config: &ImageConfiguration) -> ImageConfig {
    let Some(runtime) = config.config() else {
        return ImageConfig::default();
    };
    ImageConfig {
        env: runtime.env().clone().unwrap_or_default(),
        workdir: runtime.working_dir().clone().filter(|dir| !dir.is_empty()),
    }
}

/// The kept files of one OCI layout.
struct Layout<'a> {
    dir: &'a Path,
}

impl Layout<'_> {
    /// The image manifest an index points at for this host's platform.
    fn manifest(&self, index: &ImageIndex, depth: usize) -> Result<OciManifest, ImageError> {
        if depth > MAX_INDEX_DEPTH {
            return Err(ImageError::Unsupported("image indexes nested too deeply".into()));
        }
        let descriptor = pick_manifest(index.manifests())?;
        match descriptor.media_type() {
            MediaType::ImageIndex => self.manifest(&self.json_blob(descriptor)?, depth + 1),
            MediaType::ImageManifest => self.json_blob(descriptor),
            other => Err(ImageError::Unsupported(format!("manifest media type {other}"))),
        }
    }

    /// Reads and parses a top-level layout file.
    fn json_file<T: DeserializeOwned>(&self, name: &str) -> Result<T, ImageError> {
        let path = self.dir.join(name);
        let bytes = fs::read(&path).ctx(|| format!("reading {name} of the archive"))?;
        parse(name, &bytes)
    }

    /// Reads, checks and parses a JSON blob.
    fn json_blob<T: DeserializeOwned>(&self, descriptor: &Descriptor) -> Result<T, ImageError> {
        let path = self.blob_path(descriptor)?;
        let bytes = fs::read(&path).ctx(|| format!("reading blob {}", descriptor.digest()))?;
        if digest::of_bytes(&bytes) != descriptor.digest().to_string() {
            return Err(blob_mismatch(descriptor));
        }
        parse(descriptor.digest().as_ref(), &bytes)
    }

    /// The path of a blob whose bytes match its descriptor's digest.
    fn verified_blob(&self, descriptor: &Descriptor) -> Result<PathBuf, ImageError> {
        let path = self.blob_path(descriptor)?;
        let mut file = fs::File::open(&path).ctx(|| format!("opening {}", path.display()))?;
        let actual = digest::HashingReader::new(&mut file)
            .drain_and_finish()
            .ctx(|| format!("reading {}", path.display()))?;
        if actual != descriptor.digest().to_string() {
            return Err(blob_mismatch(descriptor));
        }
        Ok(path)
    }

    /// Where `scan` kept the blob a descriptor names.
    fn blob_path(&self, descriptor: &Descriptor) -> Result<PathBuf, ImageError> {
        let name = descriptor.digest().to_string();
        let hex = digest::hex_of(&name)?;
        let path = self.dir.join(format!("blobs_sha256_{hex}"));
        if path.is_file() {
            Ok(path)
        } else {
            Err(ImageError::Unsafe(format!("archive lacks blob {name}")))
        }
    }
}

/// The descriptor for this host's platform, or the only/first one when none says.
fn pick_manifest(manifests: &[Descriptor]) -> Result<&Descriptor, ImageError> {
    let (os, arch) = (Os::default(), Arch::default());
    let for_host = manifests.iter().find(|d| {
        d.platform()
            .as_ref()
            .is_some_and(|p| *p.os() == os && *p.architecture() == arch)
    });
    let without_platform = manifests.iter().find(|d| d.platform().is_none());
    for_host
        .or(without_platform)
        .ok_or_else(|| ImageError::Unsupported(format!("no image for {os}/{arch} in the archive")))
}

/// Parses JSON, naming the file on failure.
fn parse<T: DeserializeOwned>(name: &str, bytes: &[u8]) -> Result<T, ImageError> {
    serde_json::from_slice(bytes).map_err(|source| ImageError::Json {
        name: name.to_string(),
        source,
    })
}

/// The error for a blob whose bytes do not match its name.
fn blob_mismatch(descriptor: &Descriptor) -> ImageError {
    ImageError::Unsafe(format!("blob {} does not match its digest", descriptor.digest()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn repeated_layers_keep_their_highest_position() {
        let layers = ["a", "b", "a", "c"].map(String::from).to_vec();
        assert_eq!(keep_highest_occurrence(layers), ["b", "a", "c"]);
    }
}
