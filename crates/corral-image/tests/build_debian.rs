//! Root, network and minutes: run with `cargo test -p corral-image -- --ignored`.

use std::time::Instant;

use corral_image::ImageStore;

#[test]
#[ignore = "downloads ~100 MB and takes minutes"]
fn debian_image_has_sshd_and_no_host_keys() {
    let root = std::env::var_os("CORRAL_IMAGE_TEST_DIR")
        .map(std::path::PathBuf::from)
        .unwrap_or_else(std::env::temp_dir)
        .join(format!("corral-debian-{}", std::process::id()));
    let store = ImageStore::open(&root).unwrap();
    let started = Instant::now();
    let manifest = store.build_debian(&mut |line| eprintln!("{line}")).unwrap();
    eprintln!(
        "build_debian took {:.0?}, {} MB, digest {}",
        started.elapsed(),
        manifest.size_bytes / 1_000_000,
        manifest.digest
    );
    let layer = store.layer_path(&manifest.layers[0]);
    assert!(layer.join("usr/sbin/sshd").is_file());
    assert!(layer.join("usr/bin/ping").is_file());
    assert!(layer.join("usr/sbin/ip").exists() || layer.join("sbin/ip").exists());
    let host_keys = std::fs::read_dir(layer.join("etc/ssh"))
        .unwrap()
        .filter(|e| {
            e.as_ref()
                .unwrap()
                .file_name()
                .to_string_lossy()
                .starts_with("ssh_host_")
        })
        .count();
    assert_eq!(host_keys, 0);
    let sshd = std::fs::read_to_string(layer.join("etc/ssh/sshd_config.d/corral.conf")).unwrap();
    assert!(sshd.contains("PermitRootLogin prohibit-password"));
    std::fs::remove_dir_all(&root).unwrap();
}
