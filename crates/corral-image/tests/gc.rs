//! Root test: gc and remove delete only what no kept image references.

use std::fs;

use corral_image::ImageStore;

mod common;
use common::TarBuilder;

#[test]
fn gc_removes_unreferenced_layers_only() {
    let dir = tempfile::tempdir().unwrap();
    let store = ImageStore::open(&dir.path().join("store")).unwrap();
    let base = store.build_minimal().unwrap();
    let upper = dir.path().join("upper");
    fs::create_dir_all(&upper).unwrap();
    fs::write(upper.join("extra"), "x").unwrap();
    let saved = store.save(&upper, &base).unwrap();
    let tarball = dir.path().join("rootfs.tar");
    fs::write(&tarball, TarBuilder::new().file("f", "data", 0o644, 0).finish()).unwrap();
    let imported = store.import(&tarball).unwrap();
    assert_eq!(common::names(&dir.path().join("store/layers")).len(), 3);

    // Keeping only the saved image keeps its base layer too.
    let report = store.gc(std::slice::from_ref(&saved.digest)).unwrap();
    let mut removed = report.manifests.clone();
    removed.sort();
    let mut expected = vec![base.digest.clone(), imported.digest.clone()];
    expected.sort();
    assert_eq!(removed, expected);
    assert_eq!(report.layers, imported.layers);
    assert!(store.layer_path(&base.layers[0]).is_dir());
    assert!(store.layer_path(&saved.layers[1]).is_dir());
    assert!(store.manifest(&base.digest).is_err());

    let report = store.remove(&saved.digest).unwrap();
    assert_eq!(report.layers.len(), 2);
    assert!(common::names(&dir.path().join("store/layers")).is_empty());
    assert!(common::names(&dir.path().join("store/manifests")).is_empty());
    assert!(store.remove(&saved.digest).is_err());
}
