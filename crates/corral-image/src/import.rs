//! Importing a rootfs tarball or an OCI image layout archive, plain or gzipped.
//!
//! One streaming pass digests the whole (uncompressed) archive and, in case it is an
//! OCI layout, keeps its `oci-layout`, `index.json` and blobs in a staging dir; a
//! rootfs tarball is then unpacked in a second pass. Imported layers are named by the
//! walk digest of their unpacked directory, as built and saved ones are, so any host
//! can check a layer it received against the name an image lists; the tar stream's
//! digest only checks that the archive did not change between passes (and, for OCI
//! layers, that the blob matches its config's diff id).

use std::fs::{self, File};
use std::io::{self, BufRead, BufReader, Read};
use std::path::Path;

use flate2::read::MultiGzDecoder;

use crate::digest::{self, HashingReader};
use crate::error::IoContext;
use crate::oci;
use crate::unpack::{self, clean_path, Whiteouts};
use crate::{ImageConfig, ImageError, ImageManifest, ImageStore};

impl ImageStore {
    /// Imports a rootfs tarball or an OCI image layout archive (`oci-archive:`),
    /// either plain or gzipped; content already stored is not stored again.
    pub fn import(&self, file: &Path) -> Result<ImageManifest, ImageError> {
        let _lock = self.lock_shared()?;
        let staging = self.stage("import")?;
        let layout_dir = staging.path().join("oci");
        fs::create_dir(&layout_dir).ctx(|| format!("creating {}", layout_dir.display()))?;
        let scan = scan(file, &layout_dir)?;
        if scan.is_oci_layout {
            oci::import_layout(self, &layout_dir)
        } else {
            self.import_rootfs(file, &scan.digest)
        }
    }

    /// Stores a rootfs tarball as a one-layer image. Like every layer, it is named by
    /// the walk digest of the directory it unpacks to (see `layer`), which an agent
    /// pulling it can recompute; a layer already stored is kept as it is.
    fn import_rootfs(&self, file: &Path, digest: &str) -> Result<ImageManifest, ImageError> {
        let staging = self.stage("rootfs")?;
        let dest = staging.path().join("layer");
        fs::create_dir(&dest).ctx(|| format!("creating {}", dest.display()))?;
        let unpacked = unpack_file(file, &dest, Whiteouts::Keep)?;
        if unpacked != digest {
            return Err(ImageError::Unsafe(format!(
                "{} changed while it was imported",
                file.display()
            )));
        }
        let summary = self.commit_layer(&dest)?;
        self.commit_manifest(vec![summary.digest], ImageConfig::default(), summary.size_bytes)
    }
}

/// What the first pass over an archive found.
struct Scan {
    /// Digest of the uncompressed tar stream.
    digest: String,
    /// Whether `oci-layout` and `index.json` sit at its top level.
    is_oci_layout: bool,
}

/// Digests the archive and copies OCI layout files into `layout_dir`.
fn scan(file: &Path, layout_dir: &Path) -> Result<Scan, ImageError> {
    let mut archive = tar::Archive::new(HashingReader::new(open_maybe_gzip(file)?));
    let (mut has_layout, mut has_index, mut count) = (false, false, 0usize);
    let entries = archive.entries().map_err(|e| not_a_tar(file, &e))?;
    for entry in entries {
        let mut entry = entry.map_err(|e| not_a_tar(file, &e))?;
        count += 1;
        if entry.header().entry_type() != tar::EntryType::Regular {
            continue;
        }
        let Ok(rel) = clean_path(&entry.path().ctx(|| "reading tar entry path".into())?) else {
            continue;
        };
        let Some(name) = layout_file_name(&rel) else {
            continue;
        };
        has_layout |= name == "oci-layout";
        has_index |= name == "index.json";
        let target = layout_dir.join(name.replace('/', "_"));
        let mut out = File::create(&target).ctx(|| format!("creating {}", target.display()))?;
        io::copy(&mut entry, &mut out).ctx(|| format!("writing {}", target.display()))?;
    }
    if count == 0 {
        return Err(ImageError::Unsupported(format!(
            "{} has no tar entries",
            file.display()
        )));
    }
    let digest = archive
        .into_inner()
        .drain_and_finish()
        .ctx(|| format!("reading {}", file.display()))?;
    Ok(Scan {
        digest,
        is_oci_layout: has_layout && has_index,
    })
}

/// The name under which an OCI layout file is kept, if `rel` is one: the two
/// top-level files and `blobs/sha256/<hex>`, nothing else.
fn layout_file_name(rel: &Path) -> Option<String> {
    let rel = rel.to_str()?;
    match rel {
        "oci-layout" | "index.json" => Some(rel.to_string()),
        _ => {
            let hex = rel.strip_prefix("blobs/sha256/")?;
            digest::hex_of(&format!("sha256:{hex}")).ok()?;
            Some(rel.to_string())
        }
    }
}

/// Unpacks a (possibly gzipped) tar file into `dest`; returns its tar stream digest.
pub(crate) fn unpack_file(file: &Path, dest: &Path, whiteouts: Whiteouts) -> Result<String, ImageError> {
    let mut archive = tar::Archive::new(HashingReader::new(open_maybe_gzip(file)?));
    unpack::unpack(&mut archive, dest, whiteouts)?;
    archive
        .into_inner()
        .drain_and_finish()
        .ctx(|| format!("reading {}", file.display()))
}

/// Opens a file, decompressing it if it starts with the gzip magic; sniffing the
/// bytes rather than trusting names or media types, which tools get wrong.
pub(crate) fn open_maybe_gzip(file: &Path) -> Result<Box<dyn Read>, ImageError> {
    let opened = File::open(file).ctx(|| format!("opening {}", file.display()))?;
    let mut reader = BufReader::new(opened);
    let head = reader.fill_buf().ctx(|| format!("reading {}", file.display()))?;
    if head.starts_with(&[0x1f, 0x8b]) {
        Ok(Box::new(MultiGzDecoder::new(reader)))
    } else {
        Ok(Box::new(reader))
    }
}

/// The error for a file the tar reader cannot parse.
fn not_a_tar(file: &Path, err: &io::Error) -> ImageError {
    ImageError::Unsupported(format!("{} is not a tar archive: {err}", file.display()))
}
