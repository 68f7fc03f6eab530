//! Root tests: OCI image layout archives become overlayfs lower layers whose
//! whiteouts and opaque directories behave when mounted.

use std::fs;
use std::os::unix::fs::{FileTypeExt, MetadataExt};
use std::path::{Path, PathBuf};

use corral_image::{ImageConfig, ImageManifest, ImageStore};
use nix::mount::{mount, umount2, MntFlags, MsFlags};

mod common;
use common::{OciArchive, TarBuilder};

/// Layer 1 has /etc/keep, /etc/gone and /data/old.
fn layer1() -> Vec<u8> {
    TarBuilder::new()
        .dir("etc", 0o755)
        .file("etc/keep", "keep\n", 0o644, 0)
        .file("etc/gone", "gone\n", 0o644, 0)
        .dir("data", 0o755)
        .file("data/old", "old\n", 0o644, 0)
        .finish()
}

/// Layer 2 deletes /etc/gone and replaces /data with a directory holding only `new`.
fn layer2() -> Vec<u8> {
    TarBuilder::new()
        .dir("etc", 0o755)
        .file("etc/.wh.gone", "", 0o644, 0)
        .dir("data", 0o755)
        .file("data/.wh..wh..opq", "", 0o644, 0)
        .file("data/new", "new\n", 0o644, 0)
        .finish()
}

/// Writes an archive whose index points (through a nested, multi-platform index)
/// at a two-layer image; returns the archive path and the layers' diff ids.
fn write_archive(dir: &Path) -> (PathBuf, Vec<String>) {
    let (l1, l2) = (layer1(), layer2());
    let diff_ids = vec![common::sha256(&l1), common::sha256(&l2)];
    let mut oci = OciArchive::new();
    let (l1_digest, l1_size) = oci.blob(l1);
    let (l2_digest, l2_size) = oci.blob(common::gzip(&l2));
    let config = format!(
        r#"{{"architecture":"amd64","os":"linux","config":{{"Env":["PATH=/bin","FOO=bar"],"WorkingDir":"/data"}},"rootfs":{{"type":"layers","diff_ids":["{}","{}"]}}}}"#,
        diff_ids[0], diff_ids[1]
    );
    let (config_digest, config_size) = oci.blob(config.into_bytes());
    let manifest = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.manifest.v1+json","config":{{"mediaType":"application/vnd.oci.image.config.v1+json","digest":"{config_digest}","size":{config_size}}},"layers":[{{"mediaType":"application/vnd.oci.image.layer.v1.tar","digest":"{l1_digest}","size":{l1_size}}},{{"mediaType":"application/vnd.oci.image.layer.v1.tar+gzip","digest":"{l2_digest}","size":{l2_size}}}]}}"#
    );
    let (manifest_digest, manifest_size) = oci.blob(manifest.into_bytes());
    let missing = format!("sha256:{}", "0".repeat(64));
    let nested = format!(
        r#"{{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","manifests":[{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{missing}","size":1,"platform":{{"architecture":"arm64","os":"linux"}}}},{{"mediaType":"application/vnd.oci.image.manifest.v1+json","digest":"{manifest_digest}","size":{manifest_size},"platform":{{"architecture":"amd64","os":"linux"}}}}]}}"#
    );
    let (nested_digest, nested_size) = oci.blob(nested.into_bytes());
    oci.index(format!(
        r#"{{"schemaVersion":2,"manifests":[{{"mediaType":"application/vnd.oci.image.index.v1+json","digest":"{nested_digest}","size":{nested_size}}}]}}"#
    ));
    let path = dir.join("image.oci.tar");
    oci.write_to(&path);
    (path, diff_ids)
}

fn import(dir: &Path) -> (ImageStore, ImageManifest, Vec<String>) {
    let store = ImageStore::open(&dir.join("store")).unwrap();
    let (archive, diff_ids) = write_archive(dir);
    let manifest = store.import(&archive).unwrap();
    (store, manifest, diff_ids)
}

#[test]
fn oci_layers_get_overlayfs_whiteouts_and_config() {
    let dir = tempfile::tempdir().unwrap();
    let (store, manifest, diff_ids) = import(dir.path());
    assert_eq!(manifest.layers.len(), 2);
    assert!(
        manifest.layers.iter().all(|layer| !diff_ids.contains(layer)),
        "layers are named by their unpacked content, not by their tar streams"
    );
    let expected = ImageConfig {
        env: vec!["PATH=/bin".into(), "FOO=bar".into()],
        workdir: Some("/data".into()),
    };
    assert_eq!(manifest.config, expected);

    let top = store.layer_path(&manifest.layers[1]);
    let whiteout = fs::symlink_metadata(top.join("etc/gone")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    assert!(!top.join("etc/.wh.gone").exists());
    let opaque = xattr::get(top.join("data"), "trusted.overlay.opaque").unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    assert!(!top.join("data/.wh..wh..opq").exists());
}

#[test]
fn importing_twice_stores_nothing_new() {
    let dir = tempfile::tempdir().unwrap();
    let (store, first, _) = import(dir.path());
    let layers_before = common::names(&dir.path().join("store/layers"));
    let second = store.import(&dir.path().join("image.oci.tar")).unwrap();
    assert_eq!(first, second);
    assert_eq!(common::names(&dir.path().join("store/layers")), layers_before);
    assert_eq!(store.list_manifests().unwrap().len(), 1);
}

/// Unmounts (lazily, so a failing assertion cannot leave a busy mount) when dropped.
struct MountGuard(PathBuf);

impl Drop for MountGuard {
    fn drop(&mut self) {
        let _ = umount2(&self.0, MntFlags::MNT_DETACH);
    }
}

#[test]
fn mounted_layers_hide_deleted_and_opaque_content() {
    let dir = tempfile::tempdir().unwrap();
    let (store, manifest, _) = import(dir.path());
    let lower: Vec<String> = manifest
        .layers
        .iter()
        .rev()
        .map(|d| store.layer_path(d).display().to_string())
        .collect();
    let merged = dir.path().join("merged");
    fs::create_dir(&merged).unwrap();
    let options = format!("lowerdir={}", lower.join(":"));
    mount(
        Some("overlay"),
        &merged,
        Some("overlay"),
        MsFlags::MS_RDONLY,
        Some(options.as_str()),
    )
    .unwrap();
    let _guard = MountGuard(merged.clone());

    assert_eq!(fs::read_to_string(merged.join("etc/keep")).unwrap(), "keep\n");
    assert!(!merged.join("etc/gone").exists(), "whiteout hides the file");
    assert_eq!(
        common::names(&merged.join("data")),
        ["new"],
        "opaque dir hides old content"
    );
}
