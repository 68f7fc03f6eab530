//! Writing a stored layer as an OCI layer tar stream, for hosts that pull images.
//!
//! The stream is what `unpack` with OCI whiteouts turns back into the same
//! directory: a 0:0 character device becomes a `.wh.<name>` entry and an opaque
//! directory gets a `.wh..wh..opq` entry. Entries come depth-first, children sorted
//! by name, and carry modes, numeric owners, mtimes, device numbers, hard links
//! within the layer, and the `user.*` and `security.capability` xattrs as PAX
//! `SCHILY.xattr.` records; the same layer always gives the same bytes.

use std::collections::HashMap;
use std::ffi::OsString;
use std::fs::{self, File, Metadata};
use std::io::{self, Read, Write};
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use nix::sys::stat::{major, minor};
use tar::{EntryType, Header};

use crate::error::IoContext;
use crate::layer::{CAPABILITY_XATTR, OPAQUE_XATTR};
use crate::{ImageError, ImageStore};

/// The OCI marker that makes its directory opaque.
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The OCI prefix of a deleted entry.
const WHITEOUT_PREFIX: &[u8] = b".wh.";
/// How PAX headers name an xattr.
const PAX_XATTR_PREFIX: &str = "SCHILY.xattr.";

impl ImageStore {
    /// Writes a stored layer to `out` as an OCI layer tar stream (see `export.rs`).
    pub fn export_layer(&self, digest: &str, out: &mut dyn Write) -> Result<(), ImageError> {
        // Shared, as writers take it: gc cannot move the layer away mid-stream.
        let _lock = self.lock_shared()?;
        let root = self.existing_layer_path(digest)?;
        write_layer(&root, out)
    }
}

/// Writes the layer directory `root` as a tar stream.
pub(crate) fn write_layer(root: &Path, out: &mut dyn Write) -> Result<(), ImageError> {
    let mut exporter = Exporter {
        builder: tar::Builder::new(out),
        first_links: HashMap::new(),
    };
    exporter.entry(root, Path::new(""))?;
    let out = exporter.builder.into_inner().ctx(|| "finishing the layer tar".into())?;
    out.flush().ctx(|| "flushing the layer tar".into())
}

/// State of one export.
struct Exporter<'w> {
    builder: tar::Builder<&'w mut dyn Write>,
    /// The first path written for each multiply linked file, by (device, inode).
    first_links: HashMap<(u64, u64), PathBuf>,
}

impl Exporter<'_> {
    /// Writes one entry (and, for a directory, everything below it).
    fn entry(&mut self, path: &Path, rel: &Path) -> Result<(), ImageError> {
        let meta = fs::symlink_metadata(path).ctx(|| format!("reading {}", path.display()))?;
        let kind = meta.file_type();
        if kind.is_char_device() && meta.rdev() == 0 {
            return self.whiteout(rel, &meta);
        }
        check_name(rel)?;
        if kind.is_dir() {
            self.dir(path, rel, &meta)
        } else if kind.is_symlink() {
            let target = fs::read_link(path).ctx(|| format!("reading {}", path.display()))?;
            let mut header = header(&meta, EntryType::Symlink);
            self.builder
                .append_link(&mut header, rel, target)
                .ctx(|| format!("writing {} to the layer tar", rel.display()))
        } else {
            refuse_opaque_non_dir(path, rel)?;
            if kind.is_file() {
                self.file(path, rel, &meta)
            } else {
                self.node(path, rel, &meta)
            }
        }
    }

    /// Writes a directory, its opaque marker if it has one, then its children.
    fn dir(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<(), ImageError> {
        self.xattrs(path, rel)?;
        let name = if rel.as_os_str().is_empty() {
            Path::new("./")
        } else {
            rel
        };
        self.append(header(meta, EntryType::Directory), name, io::empty())?;
        if is_opaque(path)? {
            let mut marker = Header::new_gnu();
            marker.set_entry_type(EntryType::Regular);
            marker.set_size(0);
            self.append(marker, &rel.join(OPAQUE_MARKER), io::empty())?;
        }
        for name in sorted_children(path)? {
            self.entry(&path.join(&name), &rel.join(&name))?;
        }
        Ok(())
    }

    /// Writes a regular file, or a hard link to the first path of its inode.
    fn file(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<(), ImageError> {
        if meta.nlink() > 1 {
            let key = (meta.dev(), meta.ino());
            if let Some(first) = self.first_links.get(&key) {
                let mut header = header(meta, EntryType::Link);
                return self
                    .builder
                    .append_link(&mut header, rel, first)
                    .ctx(|| format!("writing {} to the layer tar", rel.display()));
            }
            self.first_links.insert(key, rel.to_path_buf());
        }
        self.xattrs(path, rel)?;
        let mut header = header(meta, EntryType::Regular);
        header.set_size(meta.len());
        let file = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        // Layers never change; should one grow anyway, it cannot overrun its header.
        self.append(header, rel, file.take(meta.len()))
    }

    /// Writes a device node or fifo.
    fn node(&mut self, path: &Path, rel: &Path, meta: &Metadata) -> Result<(), ImageError> {
        let kind = meta.file_type();
        let entry_type = if kind.is_char_device() {
            EntryType::Char
        } else if kind.is_block_device() {
            EntryType::Block
        } else if kind.is_fifo() {
            EntryType::Fifo
        } else {
            return Err(ImageError::Unsupported(format!(
                "{} is a socket, which a layer tar cannot carry",
                rel.display()
            )));
        };
        let mut header = header(meta, entry_type);
        // Fifos carry 0:0, since readers parse the fields for every node type.
        let dev = if entry_type == EntryType::Fifo { 0 } else { meta.rdev() };
        let set = u32::try_from(major(dev))
            .ok()
            .zip(u32::try_from(minor(dev)).ok())
            .and_then(|(ma, mi)| {
                header.set_device_major(ma).ok()?;
                header.set_device_minor(mi).ok()
            });
        if set.is_none() {
            return Err(ImageError::Unsupported(format!("device number of {}", rel.display())));
        }
        self.xattrs(path, rel)?;
        self.append(header, rel, io::empty())
    }

    /// Writes an overlayfs whiteout as the OCI `.wh.<name>` entry, with its owner and mode.
    fn whiteout(&mut self, rel: &Path, meta: &Metadata) -> Result<(), ImageError> {
        let name = rel.file_name().unwrap_or_default();
        let mut marker = OsString::from(".wh.");
        marker.push(name);
        let path = rel.with_file_name(marker);
        self.append(header(meta, EntryType::Regular), &path, io::empty())
    }

    /// Writes a PAX header with the xattrs of `path` that a layer keeps, if any.
    fn xattrs(&mut self, path: &Path, rel: &Path) -> Result<(), ImageError> {
        let records = kept_xattrs(path)?;
        if records.is_empty() {
            return Ok(());
        }
        let mut data = Vec::new();
        for (name, value) in &records {
            pax_record(&mut data, &format!("{PAX_XATTR_PREFIX}{name}"), value);
        }
        let mut header = Header::new_ustar();
        header.set_entry_type(EntryType::XHeader);
        header.set_path("././@PaxHeader").ctx(|| "naming a PAX header".into())?;
        header.set_mode(0o644);
        header.set_size(data.len() as u64);
        header.set_cksum();
        self.builder
            .append(&header, data.as_slice())
            .ctx(|| format!("writing xattrs of {} to the layer tar", rel.display()))
    }

    /// Appends an entry with data, naming the path on failure.
    fn append(&mut self, mut header: Header, name: &Path, data: impl Read) -> Result<(), ImageError> {
        self.builder
            .append_data(&mut header, name, data)
            .ctx(|| format!("writing {} to the layer tar", name.display()))
    }
}

/// A header with the metadata every entry type carries.
fn header(meta: &Metadata, entry_type: EntryType) -> Header {
    let mut header = Header::new_gnu();
    header.set_entry_type(entry_type);
    header.set_mode(meta.mode() & 0o7777);
    header.set_uid(meta.uid().into());
    header.set_gid(meta.gid().into());
    header.set_mtime(u64::try_from(meta.mtime()).unwrap_or(0));
    header.set_size(0);
    header
}

/// Refuses a real file whose name an unpacker would take for a whiteout.
fn check_name(rel: &Path) -> Result<(), ImageError> {
    let name = rel.file_name().unwrap_or_default();
    if name.as_bytes().starts_with(WHITEOUT_PREFIX) {
        return Err(ImageError::Unsupported(format!(
            "{} would read as a whiteout in an OCI layer",
            rel.display()
        )));
    }
    Ok(())
}

/// Whether a directory is opaque; refuses opaque values OCI layers cannot express.
fn is_opaque(path: &Path) -> Result<bool, ImageError> {
    let value = xattr::get(path, OPAQUE_XATTR).ctx(|| format!("reading {OPAQUE_XATTR} of {}", path.display()))?;
    match value.as_deref() {
        None => Ok(false),
        Some(b"y") => Ok(true),
        Some(other) => Err(ImageError::Unsupported(format!(
            "{} has {OPAQUE_XATTR}={}, which an OCI layer cannot carry",
            path.display(),
            String::from_utf8_lossy(other)
        ))),
    }
}

/// Refuses a non-directory marked opaque, which an OCI layer cannot express.
fn refuse_opaque_non_dir(path: &Path, rel: &Path) -> Result<(), ImageError> {
    let value = xattr::get(path, OPAQUE_XATTR).ctx(|| format!("reading {OPAQUE_XATTR} of {}", path.display()))?;
    match value {
        None => Ok(()),
        Some(_) => Err(ImageError::Unsupported(format!(
            "{} is not a directory but is marked opaque",
            rel.display()
        ))),
    }
}

/// The xattrs a layer carries (`user.*`, `security.capability`), sorted by name.
fn kept_xattrs(path: &Path) -> Result<Vec<(String, Vec<u8>)>, ImageError> {
    let names = xattr::list(path).ctx(|| format!("listing xattrs of {}", path.display()))?;
    let mut kept = Vec::new();
    for name in names {
        let Some(name) = name.to_str() else { continue };
        if !(name.starts_with("user.") || name == CAPABILITY_XATTR) {
            continue;
        }
        let value = xattr::get(path, name).ctx(|| format!("reading xattr {name} of {}", path.display()))?;
        if let Some(value) = value {
            kept.push((name.to_string(), value));
        }
    }
    kept.sort();
    Ok(kept)
}

/// A directory's entry names in byte order, the order the walk digest uses.
fn sorted_children(dir: &Path) -> Result<Vec<OsString>, ImageError> {
    let mut names = fs::read_dir(dir)
        .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
        .map(|names: Vec<_>| names)
        .ctx(|| format!("listing {}", dir.display()))?;
    names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    Ok(names)
}

/// Appends one PAX record, `<length> <key>=<value>\n`, whose length counts itself.
fn pax_record(out: &mut Vec<u8>, key: &str, value: &[u8]) {
    let rest = key.len() + value.len() + 3;
    let mut total = rest + 1;
    while total != rest + total.to_string().len() {
        total = rest + total.to_string().len();
    }
    out.extend_from_slice(format!("{total} {key}=").as_bytes());
    out.extend_from_slice(value);
    out.push(b'\n');
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pax_record_length_counts_its_own_digits() {
        for value_len in [0usize, 1, 85, 86, 87, 990, 995, 1000] {
            let mut out = Vec::new();
            pax_record(&mut out, "SCHILY.xattr.user.x", &vec![b'v'; value_len]);
            let text = String::from_utf8(out.clone()).unwrap();
            let declared: usize = text.split(' ').next().unwrap().parse().unwrap();
            assert_eq!(declared, out.len(), "value of {value_len} bytes");
        }
    }

    #[test]
    fn whiteout_like_names_are_refused() {
        assert!(check_name(Path::new("etc/.wh.hosts")).is_err());
        assert!(check_name(Path::new("etc/hosts.wh.")).is_ok());
        assert!(check_name(Path::new("")).is_ok());
    }
}
