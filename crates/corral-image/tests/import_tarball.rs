//! Root tests: rootfs tarballs unpack faithfully and cannot write outside their layer.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use corral_image::{ImageError, ImageStore};

mod common;
use common::TarBuilder;

fn rootfs_tar() -> Vec<u8> {
    TarBuilder::new()
        .dir("./", 0o755)
        .dir("./etc", 0o755)
        .file("./etc/hostname", "box\n", 0o644, 0)
        .dir("./usr/bin", 0o755)
        .file("./usr/bin/tool", "#!/bin/sh\n", 0o4755, 1000)
        .hardlink("./usr/bin/tool2", "./usr/bin/tool")
        .symlink("./bin", "usr/bin")
        .dir("./dev", 0o755)
        .chardev("./dev/null", 1, 3)
        .dir("./secret", 0o700)
        .finish()
}

#[test]
fn rootfs_tarball_becomes_one_faithful_layer() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let tar = rootfs_tar();
    let archive = dir.path().join("rootfs.tar.gz");
    fs::write(&archive, common::gzip(&tar)).unwrap();

    let manifest = store.import(&archive).unwrap();
    assert_eq!(manifest.layers.len(), 1);
    assert_ne!(
        manifest.layers[0],
        common::sha256(&tar),
        "named by the unpacked content, not the tar stream"
    );
    assert_eq!(manifest.size_bytes, 4 + 10);
    let layer = store.layer_path(&manifest.layers[0]);
    assert_eq!(fs::read_to_string(layer.join("etc/hostname")).unwrap(), "box\n");
    let tool = fs::metadata(layer.join("usr/bin/tool")).unwrap();
    assert_eq!(tool.mode() & 0o7777, 0o4755, "setuid kept");
    assert_eq!((tool.uid(), tool.gid()), (1000, 1000));
    assert_eq!(tool.ino(), fs::metadata(layer.join("usr/bin/tool2")).unwrap().ino());
    assert_eq!(fs::read_link(layer.join("bin")).unwrap().to_str(), Some("usr/bin"));
    let null = fs::symlink_metadata(layer.join("dev/null")).unwrap();
    assert!(null.file_type().is_char_device());
    assert_eq!(null.rdev(), nix::sys::stat::makedev(1, 3));
    assert_eq!(fs::metadata(layer.join("secret")).unwrap().mode() & 0o7777, 0o700);
}

#[test]
fn plain_tarball_with_same_content_is_stored_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let tar = rootfs_tar();
    let (plain, gzipped) = (dir.path().join("a.tar"), dir.path().join("a.tgz"));
    fs::write(&plain, &tar).unwrap();
    fs::write(&gzipped, common::gzip(&tar)).unwrap();
    let first = store.import(&plain).unwrap();
    let second = store.import(&gzipped).unwrap();
    assert_eq!(first, second);
    assert_eq!(common::names(&dir.path().join("store/layers")).len(), 1);
}

fn import_bytes(bytes: Vec<u8>) -> (tempfile::TempDir, Result<corral_image::ImageManifest, ImageError>) {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("a/b/store")).unwrap();
    let archive = dir.path().join("evil.tar");
    fs::write(&archive, bytes).unwrap();
    let result = store.import(&archive);
    (dir, result)
}

#[test]
fn parent_dir_entries_are_refused() {
    let tar = TarBuilder::new()
        .file("ok", "fine", 0o644, 0)
        .raw_file(b"../../../../x", "escaped")
        .finish();
    let (dir, result) = import_bytes(tar);
    assert!(matches!(result, Err(ImageError::Unsafe(_))), "{result:?}");
    assert!(!dir.path().join("x").exists());
    assert!(!dir.path().join("a/x").exists());
    assert!(common::names(&dir.path().join("a/b/store/layers")).is_empty());
    assert!(common::names(&dir.path().join("a/b/store/tmp")).is_empty());
}

#[test]
fn entries_through_symlinks_are_refused() {
    let outside = tempfile::tempdir().unwrap();
    let tar = TarBuilder::new()
        .symlink("escape", outside.path().to_str().unwrap())
        .file("escape/pwned", "gotcha", 0o644, 0)
        .finish();
    let (_dir, result) = import_bytes(tar);
    assert!(matches!(result, Err(ImageError::Unsafe(_))), "{result:?}");
    assert!(!outside.path().join("pwned").exists());
}

#[test]
fn hard_links_out_of_the_layer_are_refused() {
    let tar = TarBuilder::new()
        .hardlink("passwd", "../../../../../etc/passwd")
        .finish();
    let (_dir, result) = import_bytes(tar);
    assert!(matches!(result, Err(ImageError::Unsafe(_))), "{result:?}");
}

#[test]
fn absolute_paths_stay_inside_the_layer() {
    let tar = TarBuilder::new().raw_file(b"/abs-file", "inside").finish();
    let (dir, result) = import_bytes(tar);
    let manifest = result.unwrap();
    let store = ImageStore::open(&dir.path().join("a/b/store")).unwrap();
    let layer = store.layer_path(&manifest.layers[0]);
    assert_eq!(fs::read_to_string(layer.join("abs-file")).unwrap(), "inside");
}

#[test]
fn garbage_is_unsupported() {
    let (_dir, result) = import_bytes(b"definitely not a tarball".to_vec());
    assert!(matches!(result, Err(ImageError::Unsupported(_))), "{result:?}");
}
