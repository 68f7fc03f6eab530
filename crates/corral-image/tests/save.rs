//! Root test: saving a node's upper dir keeps whiteouts and opaque dirs.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};

use corral_image::ImageStore;
use nix::sys::stat::{makedev, mknod, Mode, SFlag};

#[test]
fn save_keeps_whiteouts_opaque_dirs_and_owners() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let base = store.build_minimal().unwrap();

    let upper = dir.path().join("upper");
    fs::create_dir_all(upper.join("etc")).unwrap();
    fs::create_dir_all(upper.join("var/log")).unwrap();
    fs::write(upper.join("etc/motd"), "hello\n").unwrap();
    std::os::unix::fs::chown(upper.join("etc/motd"), Some(1000), Some(1000)).unwrap();
    mknod(&upper.join("etc/hosts"), SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
    xattr::set(upper.join("var/log"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(upper.join("etc"), "trusted.overlay.origin", b"stale").unwrap();

    let saved = store.save(&upper, &base).unwrap();
    assert_eq!(saved.layers.len(), 2);
    assert_eq!(saved.layers[0], base.layers[0]);
    assert_eq!(saved.config, base.config);
    assert_eq!(saved.size_bytes, base.size_bytes + 6);

    let layer = store.layer_path(&saved.layers[1]);
    let whiteout = fs::symlink_metadata(layer.join("etc/hosts")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    let opaque = xattr::get(layer.join("var/log"), "trusted.overlay.opaque").unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(xattr::get(layer.join("etc"), "trusted.overlay.origin")
        .unwrap()
        .is_none());
    assert_eq!(fs::metadata(layer.join("etc/motd")).unwrap().uid(), 1000);

    let again = store.save(&upper, &base).unwrap();
    assert_eq!(again, saved, "same upper content, same image");
}
