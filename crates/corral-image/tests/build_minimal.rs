//! Root test: the busybox image is complete enough to run a shell.

use std::fs;
use std::os::unix::fs::{MetadataExt, PermissionsExt};
use std::process::Command;

use corral_image::ImageStore;

mod common;

#[test]
fn minimal_image_has_busybox_and_runs_a_shell() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let manifest = store.build_minimal().unwrap();
    assert_eq!(manifest.layers.len(), 1);
    assert!(manifest.size_bytes > 500_000, "busybox is in the size");
    let layer = store.layer_path(&manifest.layers[0]);

    let busybox = fs::metadata(layer.join("bin/busybox")).unwrap();
    assert_ne!(busybox.permissions().mode() & 0o111, 0, "busybox is executable");
    assert_eq!(fs::read_link(layer.join("bin/sh")).unwrap().to_str(), Some("busybox"));
    assert_eq!(fs::metadata(layer.join("tmp")).unwrap().mode() & 0o7777, 0o1777);
    for file in ["etc/passwd", "etc/group", "etc/hosts", "etc/resolv.conf"] {
        assert!(layer.join(file).is_file(), "{file}");
    }
    for dir in ["root", "proc", "sys", "dev", "run", "var/log"] {
        assert!(layer.join(dir).is_dir(), "{dir}");
    }

    let output = Command::new("chroot")
        .arg(&layer)
        .args(["/bin/sh", "-c", "ls /usr/bin/awk >/dev/null && echo ok"])
        .output()
        .unwrap();
    assert_eq!(String::from_utf8_lossy(&output.stdout).trim(), "ok");
}

#[test]
fn building_twice_stores_the_layer_once() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(dir.path()).unwrap();
    let first = store.build_minimal().unwrap();
    let second = store.build_minimal().unwrap();
    assert_eq!(first, second);
    assert_eq!(common::names(&dir.path().join("layers")).len(), 1);
    assert_eq!(store.list_manifests().unwrap(), vec![first.clone()]);
    assert_eq!(store.manifest(&first.digest).unwrap(), first);
    assert!(common::names(&dir.path().join("tmp")).is_empty(), "staging cleaned");
}
