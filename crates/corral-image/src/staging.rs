//! Staging directories, the store lock and atomic commits.
//!
//! Everything is written under `tmp/` first and renamed into place, so a crash
//! never leaves a half-written layer or manifest under its final name. Writers hold
//! the store lock shared and garbage collection holds it exclusively, so gc never
//! deletes a layer that an import has committed but not yet listed in a manifest.

use std::fs::{self, File};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use nix::fcntl::{Flock, FlockArg};
use nix::mount::{umount2, MntFlags};

use crate::error::IoContext;
use crate::ImageError;

/// Makes staging names unique within the process; the pid makes them unique across.
static NEXT_STAGING: AtomicU64 = AtomicU64::new(0);

/// A directory under `tmp/`, removed (with anything mounted below it) when dropped.
#[derive(Debug)]
pub(crate) struct Staging {
    path: PathBuf,
}

impl Staging {
    /// Creates a fresh staging directory under `tmp_dir`, named for its purpose.
    pub(crate) fn new(tmp_dir: &Path, purpose: &str) -> Result<Self, ImageError> {
        let n = NEXT_STAGING.fetch_add(1, Ordering::Relaxed);
        let path = tmp_dir.join(format!("{}-{n}-{purpose}", std::process::id()));
        fs::create_dir(&path).ctx(|| format!("creating staging dir {}", path.display()))?;
        Ok(Self { path })
    }

    /// The staging directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }
}

impl Drop for Staging {
    fn drop(&mut self) {
        if let Err(err) = remove_tree(&self.path) {
            tracing::warn!(path = %self.path.display(), %err, "cannot remove staging dir");
        }
    }
}

/// A held lock on the store; released when dropped.
pub(crate) struct StoreLock {
    _flock: Flock<File>,
}

/// Takes the store lock at `lock_path`, shared for writers, exclusive for deleters.
pub(crate) fn lock(lock_path: &Path, exclusive: bool) -> Result<StoreLock, ImageError> {
    lock_with(
        lock_path,
        if exclusive {
            FlockArg::LockExclusive
        } else {
            FlockArg::LockShared
        },
    )
    .map(|flock| StoreLock { _flock: flock })
}

/// Takes the exclusive lock only if nobody holds the lock now.
pub(crate) fn try_lock_exclusive(lock_path: &Path) -> Result<Option<StoreLock>, ImageError> {
    match lock_with(lock_path, FlockArg::LockExclusiveNonblock) {
        Ok(flock) => Ok(Some(StoreLock { _flock: flock })),
        Err(ImageError::Io { source, .. }) if source.kind() == std::io::ErrorKind::WouldBlock => Ok(None),
        Err(err) => Err(err),
    }
}

/// Opens the lock file and flocks it.
fn lock_with(lock_path: &Path, arg: FlockArg) -> Result<Flock<File>, ImageError> {
    let file = File::options()
        .create(true)
        .truncate(false)
        .write(true)
        .open(lock_path)
        .ctx(|| format!("opening {}", lock_path.display()))?;
    Flock::lock(file, arg).map_err(|(_, errno)| ImageError::Io {
        context: format!("locking {}", lock_path.display()),
        source: errno.into(),
    })
}

/// Flushes the filesystem holding `path`, so a rename never publishes content that
/// is not yet on disk.
pub(crate) fn sync_fs(path: &Path) -> Result<(), ImageError> {
    let dir = File::open(path).ctx(|| format!("opening {}", path.display()))?;
    nix::unistd::syncfs(&dir).ctx(|| format!("syncing {}", path.display()))
}

/// Renames `from` to `to`; returns false when `to` already exists (someone stored the
/// same content first), which is success for content-addressed entries.
pub(crate) fn publish(from: &Path, to: &Path) -> Result<bool, ImageError> {
    if fs::symlink_metadata(to).is_ok() {
        return Ok(false);
    }
    match fs::rename(from, to) {
        Ok(()) => Ok(true),
        Err(err) if is_exists_error(&err) => Ok(false),
        Err(err) => Err(ImageError::Io {
            context: format!("renaming {} to {}", from.display(), to.display()),
            source: err,
        }),
    }
}

/// rename(2) says EEXIST or ENOTEMPTY when the target directory is already there.
fn is_exists_error(err: &std::io::Error) -> bool {
    let errno = err.raw_os_error().map(nix::errno::Errno::from_raw);
    matches!(errno, Some(nix::errno::Errno::EEXIST | nix::errno::Errno::ENOTEMPTY))
}

/// Removes a directory tree after detaching anything mounted inside it, so a failed
/// build that left /proc mounted in its chroot cannot make us delete the host's files.
pub(crate) fn remove_tree(path: &Path) -> Result<(), ImageError> {
    if fs::symlink_metadata(path).is_err() {
        return Ok(());
    }
    unmount_below(path)?;
    fs::remove_dir_all(path).ctx(|| format!("removing {}", path.display()))
}

/// Detaches every mount at or below `path`, deepest first.
pub(crate) fn unmount_below(path: &Path) -> Result<(), ImageError> {
    let mut mounts = mounts_below(path)?;
    mounts.sort_by_key(|m| std::cmp::Reverse(m.as_os_str().len()));
    for mount in mounts {
        umount2(&mount, MntFlags::MNT_DETACH).ctx(|| format!("unmounting {}", mount.display()))?;
    }
    Ok(())
}

/// Mount points at or below `path`, from /proc/self/mountinfo.
pub(crate) fn mounts_below(path: &Path) -> Result<Vec<PathBuf>, ImageError> {
    let base = fs::canonicalize(path).ctx(|| format!("resolving {}", path.display()))?;
    let info = fs::read_to_string("/proc/self/mountinfo").ctx(|| "reading mountinfo".into())?;
    Ok(info
        .lines()
        .filter_map(|line| line.split(' ').nth(4))
        .map(|field| PathBuf::from(unescape_mountinfo(field)))
        .filter(|mount| mount.starts_with(&base))
        .collect())
}

/// mountinfo escapes space, tab, newline and backslash as `\ooo`.
fn unescape_mountinfo(field: &str) -> String {
    let bytes = field.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let octal = bytes
            .get(i + 1..i + 4)
            .and_then(|d| std::str::from_utf8(d).ok().and_then(|d| u8::from_str_radix(d, 8).ok()));
        match (bytes[i], octal) {
            (b'\\', Some(byte)) => {
                out.push(byte);
                i += 4;
            }
            (byte, _) => {
                out.push(byte);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn mountinfo_escapes_are_decoded() {
        assert_eq!(unescape_mountinfo(r"/a\040b/c"), "/a b/c");
        assert_eq!(unescape_mountinfo("/plain"), "/plain");
    }

    #[test]
    fn publish_keeps_the_first_copy() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, target) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("t"));
        fs::create_dir_all(a.join("x")).unwrap();
        fs::create_dir_all(b.join("y")).unwrap();
        assert!(publish(&a, &target).unwrap());
        assert!(!publish(&b, &target).unwrap());
        assert!(target.join("x").exists());
    }
}
