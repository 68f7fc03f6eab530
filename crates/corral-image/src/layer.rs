//! Layer directories: their content digest, their size, and overlayfs whiteouts.
//!
//! Every layer (built, saved, imported or pulled) is named by a walk that sees only
//! what overlayfs sees (paths, types, modes, owners, bytes, link targets, devices,
//! the opaque and capability xattrs) and not timestamps, so building the same
//! content twice yields the same digest and is stored once, and a host that
//! receives a layer can check what it unpacked against the name the image lists.

use std::collections::HashSet;
use std::fs::{self, File};
use std::io;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::Path;

use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use sha2::{Digest as _, Sha256};

use crate::digest;
use crate::error::IoContext;
use crate::ImageError;

/// The xattr overlayfs reads to hide a lower directory's content.
pub(crate) const OPAQUE_XATTR: &str = "trusted.overlay.opaque";
/// File capabilities change what a binary may do, so they are part of the content.
pub(crate) const CAPABILITY_XATTR: &str = "security.capability";
/// Prefix of every overlayfs-private xattr.
pub(crate) const OVERLAY_XATTR_PREFIX: &str = "trusted.overlay.";

/// What the walk of a layer directory found.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct LayerSummary {
    /// `sha256:<hex>` of the content.
    pub(crate) digest: String,
    /// Bytes of regular files, each inode counted once.
    pub(crate) size_bytes: u64,
}

/// Creates an overlayfs whiteout (a 0:0 character device) at `path`.
pub(crate) fn make_whiteout(path: &Path) -> Result<(), ImageError> {
    mknod(path, SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).ctx(|| format!("creating whiteout {}", path.display()))
}

/// Marks `dir` opaque, so overlayfs hides what lower layers hold under it.
pub(crate) fn set_opaque(dir: &Path) -> Result<(), ImageError> {
    xattr::set(dir, OPAQUE_XATTR, b"y").ctx(|| format!("marking {} opaque", dir.display()))
}

/// Digests and sizes the layer directory at `root`.
pub(crate) fn summarize(root: &Path) -> Result<LayerSummary, ImageError> {
    let mut walk = Walk {
        hasher: Sha256::new(),
        size_bytes: 0,
        seen_inodes: HashSet::new(),
    };
    walk.entry(root, b"")?;
    Ok(LayerSummary {
        digest: digest::finish(walk.hasher),
        size_bytes: walk.size_bytes,
    })
}

/// Bytes of regular files under `root`, each inode counted once; reads no content.
pub(crate) fn size_of(root: &Path) -> Result<u64, ImageError> {
    let mut seen = HashSet::new();
    let mut total = 0;
    let mut pending = vec![root.to_path_buf()];
    while let Some(dir) = pending.pop() {
        for entry in fs::read_dir(&dir).ctx(|| format!("listing {}", dir.display()))? {
            let entry = entry.ctx(|| format!("listing {}", dir.display()))?;
            let meta = entry.metadata().ctx(|| format!("reading {}", entry.path().display()))?;
            if meta.is_dir() {
                pending.push(entry.path());
            } else if meta.is_file() && seen.insert((meta.dev(), meta.ino())) {
                total += meta.len();
            }
        }
    }
    Ok(total)
}

/// State of one deterministic walk.
struct Walk {
    hasher: Sha256,
    size_bytes: u64,
    seen_inodes: HashSet<(u64, u64)>,
}

impl Walk {
    /// Feeds one entry (and, for a directory, its children in byte order).
    fn entry(&mut self, path: &Path, rel: &[u8]) -> Result<(), ImageError> {
        let meta = fs::symlink_metadata(path).ctx(|| format!("reading {}", path.display()))?;
        let kind = meta.file_type();
        self.field(rel);
        self.hasher.update([kind_tag(&kind)]);
        self.hasher.update((meta.mode() & 0o7777).to_le_bytes());
        self.hasher.update(meta.uid().to_le_bytes());
        self.hasher.update(meta.gid().to_le_bytes());
        if kind.is_file() {
            self.file(path, &meta)?;
        } else if kind.is_symlink() {
            let target = fs::read_link(path).ctx(|| format!("reading {}", path.display()))?;
            self.field(target.as_os_str().as_bytes());
        } else if kind.is_char_device() || kind.is_block_device() {
            self.hasher.update(meta.rdev().to_le_bytes());
        }
        if !kind.is_symlink() {
            self.xattr(path, OPAQUE_XATTR)?;
            self.xattr(path, CAPABILITY_XATTR)?;
        }
        if kind.is_dir() {
            self.children(path, rel)?;
        }
        Ok(())
    }

    /// Walks a directory's children sorted by name, so the order is the same everywhere.
    fn children(&mut self, dir: &Path, rel: &[u8]) -> Result<(), ImageError> {
        let mut names = fs::read_dir(dir)
            .and_then(|entries| entries.map(|e| e.map(|e| e.file_name())).collect())
            .map(|names: Vec<_>| names)
            .ctx(|| format!("listing {}", dir.display()))?;
        names.sort_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        for name in names {
            let mut child_rel = rel.to_vec();
            if !child_rel.is_empty() {
                child_rel.push(b'/');
            }
            child_rel.extend_from_slice(name.as_bytes());
            self.entry(&dir.join(&name), &child_rel)?;
        }
        Ok(())
    }

    /// Feeds a regular file's bytes as their own digest, which keeps the stream unambiguous.
    fn file(&mut self, path: &Path, meta: &fs::Metadata) -> Result<(), ImageError> {
        let mut content = Sha256::new();
        let mut file = File::open(path).ctx(|| format!("opening {}", path.display()))?;
        io::copy(&mut file, &mut content).ctx(|| format!("reading {}", path.display()))?;
        self.hasher.update(content.finalize());
        if self.seen_inodes.insert((meta.dev(), meta.ino())) {
            self.size_bytes += meta.len();
        }
        Ok(())
    }

    /// Feeds one xattr's value, or an empty field when it is absent.
    fn xattr(&mut self, path: &Path, name: &str) -> Result<(), ImageError> {
        let value = xattr::get(path, name)
            .ctx(|| format!("reading xattr {name} of {}", path.display()))?
            .unwrap_or_default();
        self.field(&value);
        Ok(())
    }

    /// Feeds a length-prefixed byte string.
    fn field(&mut self, bytes: &[u8]) {
        self.hasher.update((bytes.len() as u64).to_le_bytes());
        self.hasher.update(bytes);
    }
}

/// One byte per file type.
fn kind_tag(kind: &fs::FileType) -> u8 {
    if kind.is_dir() {
        b'd'
    } else if kind.is_file() {
        b'f'
    } else if kind.is_symlink() {
        b'l'
    } else if kind.is_char_device() {
        b'c'
    } else if kind.is_block_device() {
        b'b'
    } else if kind.is_fifo() {
        b'p'
    } else {
        b's'
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::os::unix::fs::{symlink, PermissionsExt};

    fn sample(root: &Path) {
        fs::create_dir_all(root.join("etc")).unwrap();
        fs::write(root.join("etc/hosts"), "127.0.0.1 localhost\n").unwrap();
        symlink("hosts", root.join("etc/alias")).unwrap();
    }

    #[test]
    fn same_content_same_digest_whatever_the_timestamps() {
        let a = tempfile::tempdir().unwrap();
        let b = tempfile::tempdir().unwrap();
        sample(a.path());
        std::thread::sleep(std::time::Duration::from_millis(20));
        sample(b.path());
        fs::set_permissions(a.path(), fs::Permissions::from_mode(0o755)).unwrap();
        fs::set_permissions(b.path(), fs::Permissions::from_mode(0o755)).unwrap();
        let sa = summarize(a.path()).unwrap();
        assert_eq!(sa, summarize(b.path()).unwrap());
        assert_eq!(sa.size_bytes, 20);
    }

    #[test]
    fn mode_and_bytes_change_the_digest() {
        let a = tempfile::tempdir().unwrap();
        sample(a.path());
        let before = summarize(a.path()).unwrap().digest;
        fs::set_permissions(a.path().join("etc/hosts"), fs::Permissions::from_mode(0o600)).unwrap();
        let after_mode = summarize(a.path()).unwrap().digest;
        assert_ne!(before, after_mode);
        fs::write(a.path().join("etc/hosts"), "::1 localhost\n").unwrap();
        assert_ne!(after_mode, summarize(a.path()).unwrap().digest);
    }
}
