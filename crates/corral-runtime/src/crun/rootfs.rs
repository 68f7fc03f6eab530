//! The node's root filesystem: an overlay of the image layers and the writable layer.

use std::io::Write;
use std::os::fd::{AsFd, OwnedFd};
use std::path::{Component, Path, PathBuf};

use nix::errno::Errno;
use nix::fcntl::{openat2, renameat, OFlag, OpenHow, ResolveFlag};
use nix::mount::{mount, umount2, MntFlags, MsFlags};
use nix::sys::stat::{fchmod, mkdirat, Mode};

use super::layout::NodePaths;
use super::{io_err, mountinfo};
use crate::{FileSpec, RuntimeError};

/// The kernel copies mount options into one page.
const MAX_MOUNT_OPTIONS: usize = 4095;

/// Overlay mount options: the spec lists layers bottom first, overlayfs wants the
/// top one first.
pub(crate) fn overlay_options(layers: &[PathBuf], upper: &Path, work: &Path) -> Result<String, RuntimeError> {
    if layers.is_empty() {
        return Err(RuntimeError::InvalidSpec("no image layers".into()));
    }
    let mut lower = Vec::with_capacity(layers.len());
    for layer in layers.iter().rev() {
        lower.push(option_path(layer)?);
    }
    let options = format!(
        "lowerdir={},upperdir={},workdir={}",
        lower.join(":"),
        option_path(upper)?,
        option_path(work)?
    );
    if options.len() > MAX_MOUNT_OPTIONS {
        return Err(RuntimeError::InvalidSpec(format!(
            "overlay options are {} bytes, the kernel takes {MAX_MOUNT_OPTIONS}",
            options.len()
        )));
    }
    Ok(options)
}

/// Paths go into a comma- and colon-separated list, so they must not contain either.
fn option_path(path: &Path) -> Result<&str, RuntimeError> {
    match path.to_str() {
        Some(s) if path.is_absolute() && !s.contains([',', ':']) => Ok(s),
        _ => Err(RuntimeError::InvalidSpec(format!(
            "path {} must be absolute, utf-8, without ',' or ':'",
            path.display()
        ))),
    }
}

/// Mounts the node's overlay on its rootfs dir unless it is mounted already.
pub(crate) fn mount_rootfs(paths: &NodePaths, layers: &[PathBuf]) -> Result<(), RuntimeError> {
    if mountinfo::is_mount_point(&paths.rootfs)? {
        return Ok(());
    }
    let options = overlay_options(layers, &paths.upper, &paths.work)?;
    for dir in [&paths.upper, &paths.work, &paths.rootfs] {
        std::fs::create_dir_all(dir).map_err(io_err(format!("create {}", dir.display())))?;
    }
    mount(
        Some("overlay"),
        &paths.rootfs,
        Some("overlay"),
        MsFlags::empty(),
        Some(options.as_str()),
    )
    .map_err(|e| io_err(format!("mount overlay on {}", paths.rootfs.display()))(e.into()))
}

/// Unmounts `path` if something is mounted there; detaches it lazily when busy so a
/// leftover process holding a file cannot block the agent.
pub(crate) fn unmount(path: &Path) -> Result<(), RuntimeError> {
    if !mountinfo::is_mount_point(path)? {
        return Ok(());
    }
    let result = match umount2(path, MntFlags::empty()) {
        Err(Errno::EBUSY) => umount2(path, MntFlags::MNT_DETACH),
        other => other,
    };
    match result {
        Ok(()) | Err(Errno::EINVAL) | Err(Errno::ENOENT) => Ok(()),
        Err(e) => Err(io_err(format!("unmount {}", path.display()))(e.into())),
    }
}

/// Writes the spec's files into the mounted root.
///
/// Every path is resolved with the rootfs as `/` (openat2 `RESOLVE_IN_ROOT`), so a
/// symlink in the image cannot redirect a write to the host.
pub(crate) fn write_files(rootfs: &Path, files: &[FileSpec]) -> Result<(), RuntimeError> {
    if files.is_empty() {
        return Ok(());
    }
    let root = open_in_root(None, rootfs, OFlag::O_PATH | OFlag::O_DIRECTORY)
        .map_err(|e| io_err(format!("open {}", rootfs.display()))(e.into()))?;
    for file in files {
        write_file(&root, file).map_err(io_err(format!("write {} into the node", file.path)))?;
    }
    Ok(())
}

fn write_file(root: &OwnedFd, file: &FileSpec) -> std::io::Result<()> {
    let (parents, name) = split_node_path(&file.path).ok_or(Errno::EINVAL)?;
    let dir = make_parents(root, &parents)?;
    // Write beside the target and rename over it: the target may be a symlink in the
    // image (resolv.conf often is), which must be replaced, not followed.
    let tmp = format!(".{name}.corral-tmp");
    let fd = openat2(
        &dir,
        tmp.as_str(),
        OpenHow::new()
            .flags(OFlag::O_WRONLY | OFlag::O_CREAT | OFlag::O_TRUNC | OFlag::O_NOFOLLOW | OFlag::O_CLOEXEC)
            .mode(Mode::from_bits_truncate(0o600))
            .resolve(ResolveFlag::RESOLVE_BENEATH),
    )?;
    fchmod(&fd, Mode::from_bits_truncate(file.mode & 0o7777))?;
    std::fs::File::from(fd).write_all(&file.content)?;
    Ok(renameat(&dir, tmp.as_str(), &dir, name.as_str())?)
}

/// Opens (creating as needed) each parent directory, resolving inside the root.
fn make_parents(root: &OwnedFd, parents: &[String]) -> Result<OwnedFd, Errno> {
    let mut dir = open_in_root(Some(root), Path::new("."), OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    let mut prefix = PathBuf::new();
    for part in parents {
        prefix.push(part);
        match mkdirat(&dir, part.as_str(), Mode::from_bits_truncate(0o755)) {
            Ok(()) | Err(Errno::EEXIST) => {}
            Err(e) => return Err(e),
        }
        dir = open_in_root(Some(root), &prefix, OFlag::O_PATH | OFlag::O_DIRECTORY)?;
    }
    Ok(dir)
}

fn open_in_root(root: Option<&OwnedFd>, path: &Path, flags: OFlag) -> Result<OwnedFd, Errno> {
    let how = OpenHow::new().flags(flags | OFlag::O_CLOEXEC);
    match root {
        Some(root) => openat2(root.as_fd(), path, how.resolve(ResolveFlag::RESOLVE_IN_ROOT)),
        None => openat2(nix::fcntl::AT_FDCWD, path, how),
    }
}

/// Splits an absolute node path into its parent components and its file name;
/// refuses `..` and paths without a file name.
fn split_node_path(path: &str) -> Option<(Vec<String>, String)> {
    let path = Path::new(path);
    if !path.is_absolute() {
        return None;
    }
    let mut parts = Vec::new();
    for component in path.components() {
        match component {
            Component::RootDir | Component::CurDir => {}
            Component::Normal(part) => parts.push(part.to_str()?.to_string()),
            Component::ParentDir | Component::Prefix(_) => return None,
        }
    }
    let name = parts.pop()?;
    Some((parts, name))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn overlay_lists_top_layer_first() {
        let layers = [PathBuf::from("/l/base"), PathBuf::from("/l/top")];
        let options = overlay_options(&layers, Path::new("/n/upper"), Path::new("/n/work")).unwrap();
        assert_eq!(options, "lowerdir=/l/top:/l/base,upperdir=/n/upper,workdir=/n/work");
    }

    #[test]
    fn overlay_refuses_separators_and_no_layers() {
        let bad = [PathBuf::from("/l/a:b")];
        assert!(overlay_options(&bad, Path::new("/u"), Path::new("/w")).is_err());
        assert!(overlay_options(&[], Path::new("/u"), Path::new("/w")).is_err());
    }

    #[test]
    fn splits_node_paths() {
        assert_eq!(
            split_node_path("/etc/ssh/key"),
            Some((vec!["etc".to_string(), "ssh".to_string()], "key".to_string()))
        );
        assert_eq!(split_node_path("/etc/../x"), None);
        assert_eq!(split_node_path("etc/x"), None);
        assert_eq!(split_node_path("/"), None);
    }
}
