//! Safe extraction of a tar stream into one layer directory.
//!
//! Entries are created by hand rather than with `tar::Entry::unpack` because layers
//! need numeric ownership, device nodes, OCI whiteouts turned into overlayfs ones,
//! and a hard refusal of anything that could write outside the layer: `..`
//! components are refused, absolute paths are taken relative to the layer root, and
//! no entry may be reached through a symlink.

use std::borrow::Cow;
use std::fs::{self, OpenOptions};
use std::io::{self, Read};
use std::os::unix::fs::{fchown, lchown, symlink, OpenOptionsExt, PermissionsExt};
use std::path::{Component, Path, PathBuf};

use nix::fcntl::AT_FDCWD;
use nix::sys::stat::{makedev, mknod, utimensat, Mode, SFlag, UtimensatFlags};
use nix::sys::time::TimeSpec;
use tar::{EntryType, Header};

use crate::error::IoContext;
use crate::layer;
use crate::ImageError;

/// How `.wh.` entries are treated.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Whiteouts {
    /// A plain rootfs: `.wh.` names are ordinary files.
    Keep,
    /// An OCI layer: `.wh.<name>` and `.wh..wh..opq` become overlayfs whiteouts.
    ConvertOci,
}

/// Mode of directories an archive implies but does not list.
const DEFAULT_DIR_MODE: u32 = 0o755;
/// The OCI marker that makes its directory opaque.
const OPAQUE_MARKER: &str = ".wh..wh..opq";
/// The OCI prefix of a deleted entry.
const WHITEOUT_PREFIX: &str = ".wh.";

/// Unpacks every entry of `archive` into the existing directory `dest`.
pub(crate) fn unpack<R: Read>(
    archive: &mut tar::Archive<R>,
    dest: &Path,
    whiteouts: Whiteouts,
) -> Result<(), ImageError> {
    // Directories the archive does not describe get the usual mode, whatever the umask;
    // a `./` entry overrides this for the root.
    set_mode(dest, DEFAULT_DIR_MODE)?;
    let mut unpacker = Unpacker {
        dest,
        whiteouts,
        dirs: Vec::new(),
    };
    let entries = archive.entries().ctx(|| "reading tar".into())?;
    for entry in entries {
        let mut entry = entry.ctx(|| "reading tar entry".into())?;
        unpacker.entry(&mut entry)?;
    }
    unpacker.finish_dirs()
}

/// Directory metadata applied last, so read-only modes and mtimes survive the
/// creation of the directory's children.
struct DirMeta {
    path: PathBuf,
    mode: u32,
    mtime: u64,
}

/// Extraction state for one layer.
struct Unpacker<'a> {
    dest: &'a Path,
    whiteouts: Whiteouts,
    dirs: Vec<DirMeta>,
}

impl Unpacker<'_> {
    /// Creates one entry.
    fn entry<R: Read>(&mut self, entry: &mut tar::Entry<R>) -> Result<(), ImageError> {
        let rel = clean_path(&entry.path().ctx(|| "reading tar entry path".into())?)?;
        if self.whiteouts == Whiteouts::ConvertOci && self.whiteout(&rel, entry.header())? {
            return Ok(());
        }
        let kind = entry.header().entry_type();
        if rel.as_os_str().is_empty() {
            self.layer_root(entry.header(), kind)?;
            return apply_xattrs(entry, self.dest);
        }
        let path = self.prepare_parents(&rel)?;
        match kind {
            EntryType::Directory => {
                self.dir(&path, entry.header())?;
                return apply_xattrs(entry, &path);
            }
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                replace(&path)?;
                return self.file(entry, &path);
            }
            EntryType::Symlink => {
                replace(&path)?;
                let target = link_name(entry)?;
                symlink(&target, &path).ctx(|| format!("creating symlink {}", path.display()))?;
            }
            EntryType::Link => {
                replace(&path)?;
                self.hardlink(&link_name(entry)?, &path)?;
                // A hard link shares its target's inode: owner and mode are the target's.
                return Ok(());
            }
            EntryType::Char | EntryType::Block | EntryType::Fifo => {
                replace(&path)?;
                make_node(entry.header(), kind, &path)?;
            }
            other => {
                tracing::debug!(path = %rel.display(), ?other, "skipping tar entry");
                return Ok(());
            }
        }
        let header = entry.header();
        let (uid, gid) = owner(header)?;
        lchown(&path, Some(uid), Some(gid)).ctx(|| format!("chown {}", path.display()))?;
        if kind != EntryType::Symlink {
            set_mode(&path, mode(header)?)?;
        }
        set_mtime(&path, header.mtime().unwrap_or(0))?;
        apply_xattrs(entry, &path)
    }

    /// Turns an OCI whiteout entry into its overlayfs form; false if `rel` is not one.
    /// A whiteout device takes the entry's owner, mode and mtime, so a layer
    /// exported by this store unpacks to exactly the directory it came from.
    fn whiteout(&mut self, rel: &Path, header: &Header) -> Result<bool, ImageError> {
        let Some(name) = rel.file_name().and_then(|n| n.to_str()) else {
            return Ok(false);
        };
        let Some(hidden) = name.strip_prefix(WHITEOUT_PREFIX) else {
            return Ok(false);
        };
        let parent = rel.parent().unwrap_or(Path::new(""));
        if matches!(hidden, "" | "." | "..") {
            return Err(ImageError::Unsafe(format!("whiteout {}", rel.display())));
        }
        if name == OPAQUE_MARKER {
            let dir = self.ensure_dir(parent)?;
            layer::set_opaque(&dir)?;
        } else if hidden.starts_with(WHITEOUT_PREFIX) {
            // Other `.wh..wh.` names are aufs bookkeeping with no overlayfs meaning.
            tracing::debug!(path = %rel.display(), "skipping aufs metadata entry");
        } else {
            let path = self.prepare_parents(&parent.join(hidden))?;
            replace(&path)?;
            layer::make_whiteout(&path)?;
            let (uid, gid) = owner(header)?;
            lchown(&path, Some(uid), Some(gid)).ctx(|| format!("chown {}", path.display()))?;
            set_mode(&path, mode(header)?)?;
            set_mtime(&path, header.mtime().unwrap_or(0))?;
        }
        Ok(true)
    }

    /// Applies a `./` entry's owner and mode to the layer's root directory.
    fn layer_root(&mut self, header: &Header, kind: EntryType) -> Result<(), ImageError> {
        if kind != EntryType::Directory {
            return Err(ImageError::Unsafe("non-directory entry at the layer root".into()));
        }
        self.dir(self.dest, header)
    }

    /// Creates (or keeps) a directory and records its mode for later.
    fn dir(&mut self, path: &Path, header: &Header) -> Result<(), ImageError> {
        let is_dir = fs::symlink_metadata(path).is_ok_and(|m| m.is_dir());
        if !is_dir {
            replace(path)?;
            fs::create_dir(path).ctx(|| format!("creating {}", path.display()))?;
        }
        let (uid, gid) = owner(header)?;
        lchown(path, Some(uid), Some(gid)).ctx(|| format!("chown {}", path.display()))?;
        self.dirs.push(DirMeta {
            path: path.to_path_buf(),
            mode: mode(header)?,
            mtime: header.mtime().unwrap_or(0),
        });
        Ok(())
    }

    /// Writes a regular file with its owner, mode, mtime and xattrs.
    fn file<R: Read>(&mut self, entry: &mut tar::Entry<R>, path: &Path) -> Result<(), ImageError> {
        let header = entry.header();
        let (uid, gid) = owner(header)?;
        let (file_mode, mtime) = (mode(header)?, header.mtime().unwrap_or(0));
        let mut file = OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(0o600)
            .open(path)
            .ctx(|| format!("creating {}", path.display()))?;
        io::copy(entry, &mut file).ctx(|| format!("writing {}", path.display()))?;
        // chown before chmod: chown clears setuid/setgid bits.
        fchown(&file, Some(uid), Some(gid)).ctx(|| format!("chown {}", path.display()))?;
        file.set_permissions(fs::Permissions::from_mode(file_mode))
            .ctx(|| format!("chmod {}", path.display()))?;
        drop(file);
        set_mtime(path, mtime)?;
        apply_xattrs(entry, path)
    }

    /// Links `path` to an earlier entry of the same layer.
    fn hardlink(&self, target: &Path, path: &Path) -> Result<(), ImageError> {
        let target_rel = clean_path(target)?;
        let target_path = self.existing(&target_rel)?;
        if fs::symlink_metadata(&target_path).is_ok_and(|m| m.is_dir()) {
            return Err(ImageError::Unsafe(format!(
                "hard link to directory {}",
                target_rel.display()
            )));
        }
        fs::hard_link(&target_path, path).ctx(|| format!("linking {} to {}", path.display(), target_path.display()))
    }

    /// Makes sure every parent of `rel` is a real directory inside the layer, creating
    /// missing ones, and returns the full path of `rel`.
    fn prepare_parents(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        if let Some(parent) = rel.parent() {
            self.ensure_dir(parent)?;
        }
        Ok(self.dest.join(rel))
    }

    /// Makes sure `rel` and its parents are real directories, creating missing ones.
    fn ensure_dir(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        let mut path = self.dest.to_path_buf();
        for component in rel.components() {
            path.push(component);
            match fs::symlink_metadata(&path) {
                Ok(meta) if meta.is_dir() => {}
                Ok(_) => return Err(not_a_dir(&path, self.dest)),
                Err(err) if err.kind() == io::ErrorKind::NotFound => {
                    fs::create_dir(&path).ctx(|| format!("creating {}", path.display()))?;
                    set_mode(&path, DEFAULT_DIR_MODE)?;
                }
                Err(err) => {
                    return Err(ImageError::Io {
                        context: format!("reading {}", path.display()),
                        source: err,
                    })
                }
            }
        }
        Ok(path)
    }

    /// The full path of an existing entry reached through real directories only.
    fn existing(&self, rel: &Path) -> Result<PathBuf, ImageError> {
        let mut path = self.dest.to_path_buf();
        let mut components = rel.components().peekable();
        while let Some(component) = components.next() {
            path.push(component);
            let meta = fs::symlink_metadata(&path)
                .map_err(|_| ImageError::Unsafe(format!("hard link to missing {}", rel.display())))?;
            if components.peek().is_some() && !meta.is_dir() {
                return Err(not_a_dir(&path, self.dest));
            }
        }
        Ok(path)
    }

    /// Applies directory modes and mtimes, children before parents.
    fn finish_dirs(&mut self) -> Result<(), ImageError> {
        self.dirs.sort_by(|a, b| b.path.cmp(&a.path));
        for dir in &self.dirs {
            set_mtime(&dir.path, dir.mtime)?;
            set_mode(&dir.path, dir.mode)?;
        }
        Ok(())
    }
}

/// A path made relative to the layer root; `..` is refused rather than resolved,
/// because no legitimate layer needs it.
pub(crate) fn clean_path(path: &Path) -> Result<PathBuf, ImageError> {
    let mut clean = PathBuf::new();
    for component in path.components() {
        match component {
            Component::Normal(part) => clean.push(part),
            Component::RootDir | Component::Prefix(_) | Component::CurDir => {}
            Component::ParentDir => {
                return Err(ImageError::Unsafe(format!("entry {} leaves the layer", path.display())))
            }
        }
    }
    Ok(clean)
}

/// The error for a parent that is a symlink or a file: following it could leave the layer.
fn not_a_dir(path: &Path, dest: &Path) -> ImageError {
    let rel = path.strip_prefix(dest).unwrap_or(path);
    ImageError::Unsafe(format!(
        "{} is not a directory (symlinks are not followed)",
        rel.display()
    ))
}

/// Removes whatever is at `path`, so a later entry replaces an earlier one as tar does.
fn replace(path: &Path) -> Result<(), ImageError> {
    match fs::symlink_metadata(path) {
        Ok(meta) if meta.is_dir() => fs::remove_dir_all(path),
        Ok(_) => fs::remove_file(path),
        Err(_) => Ok(()),
    }
    .ctx(|| format!("replacing {}", path.display()))
}

/// A link entry's target.
fn link_name<R: Read>(entry: &tar::Entry<R>) -> Result<PathBuf, ImageError> {
    entry
        .link_name()
        .ctx(|| "reading tar link name".into())?
        .map(Cow::into_owned)
        .ok_or_else(|| ImageError::Unsafe("link entry without a target".into()))
}

/// Creates a device node or fifo.
fn make_node(header: &Header, kind: EntryType, path: &Path) -> Result<(), ImageError> {
    let sflag = match kind {
        EntryType::Char => SFlag::S_IFCHR,
        EntryType::Block => SFlag::S_IFBLK,
        _ => SFlag::S_IFIFO,
    };
    let major = header.device_major().ctx(|| "reading device major".into())?;
    let minor = header.device_minor().ctx(|| "reading device minor".into())?;
    let dev = makedev(major.unwrap_or(0).into(), minor.unwrap_or(0).into());
    mknod(path, sflag, Mode::empty(), dev).ctx(|| format!("creating {}", path.display()))
}

/// Numeric owner of an entry; names are ignored because the image's own
/// /etc/passwd, not the host's, gives them meaning.
fn owner(header: &Header) -> Result<(u32, u32), ImageError> {
    let uid = header.uid().ctx(|| "reading tar uid".into())?;
    let gid = header.gid().ctx(|| "reading tar gid".into())?;
    let uid = u32::try_from(uid).map_err(|_| ImageError::Unsafe(format!("uid {uid}")))?;
    let gid = u32::try_from(gid).map_err(|_| ImageError::Unsafe(format!("gid {gid}")))?;
    Ok((uid, gid))
}

/// Permission bits of an entry, including setuid, setgid and sticky.
fn mode(header: &Header) -> Result<u32, ImageError> {
    Ok(header.mode().ctx(|| "reading tar mode".into())? & 0o7777)
}

/// Sets permission bits (never called on symlinks, which chmod would follow).
fn set_mode(path: &Path, mode: u32) -> Result<(), ImageError> {
    fs::set_permissions(path, fs::Permissions::from_mode(mode)).ctx(|| format!("chmod {}", path.display()))
}

/// Sets atime and mtime without following symlinks.
fn set_mtime(path: &Path, mtime: u64) -> Result<(), ImageError> {
    let secs = i64::try_from(mtime).unwrap_or(i64::MAX);
    let time = TimeSpec::new(secs, 0);
    utimensat(AT_FDCWD, path, &time, &time, UtimensatFlags::NoFollowSymlink)
        .ctx(|| format!("setting mtime of {}", path.display()))
}

/// Applies the xattrs a layer may carry; overlayfs-private ones are dropped because
/// only the store decides what is opaque or a whiteout.
fn apply_xattrs<R: Read>(entry: &mut tar::Entry<R>, path: &Path) -> Result<(), ImageError> {
    let Some(extensions) = entry.pax_extensions().ctx(|| "reading pax headers".into())? else {
        return Ok(());
    };
    let mut wanted = Vec::new();
    for extension in extensions {
        let extension = extension.ctx(|| "reading pax header".into())?;
        let Ok(key) = extension.key() else { continue };
        if let Some(name) = key.strip_prefix("SCHILY.xattr.") {
            if name.starts_with("user.") || name == "security.capability" {
                wanted.push((name.to_string(), extension.value_bytes().to_vec()));
            }
        }
    }
    for (name, value) in wanted {
        xattr::set(path, &name, &value).ctx(|| format!("setting {name} on {}", path.display()))?;
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn clean_path_roots_absolute_paths_and_refuses_parent() {
        assert_eq!(clean_path(Path::new("/etc/./hosts")).unwrap(), Path::new("etc/hosts"));
        assert_eq!(clean_path(Path::new("./")).unwrap(), Path::new(""));
        assert!(clean_path(Path::new("a/../../x")).is_err());
    }
}
