//! The Debian image, debootstrapped once per target directory.
//!
//! `corral image build debian` takes minutes. The first test that builds it keeps its
//! root filesystem as a tarball under `CARGO_TARGET_TMPDIR` (named by a hash of the
//! recipe's sources, so a changed recipe is built again); later tests, in this binary
//! or another, import that tarball instead (seconds). A lock makes tests that start
//! together wait for the one that builds rather than debootstrap twice. debian_ssh.rs
//! always builds (it tests the recipe) and saves the result for the others.

use std::fs::File;
use std::hash::{Hash, Hasher};
use std::path::{Path, PathBuf};
use std::process::Command;

/// The cache tarball of the current recipe.
pub fn cache_path() -> PathBuf {
    let mut h = std::collections::hash_map::DefaultHasher::new();
    include_str!("../../../corral-image/src/build/debian.rs").hash(&mut h);
    include_str!("../../../corral-image/src/build/mirror.rs").hash(&mut h);
    include_str!("../../../corral-image/src/build/mod.rs").hash(&mut h);
    Path::new(env!("CARGO_TARGET_TMPDIR")).join(format!("debian-rootfs-{:016x}.tar", h.finish()))
}

/// Held while the cache is checked and filled.
pub struct CacheLock {
    _flock: nix::fcntl::Flock<File>,
}

/// Waits for the cache's lock (another test may be building the image).
pub fn lock() -> CacheLock {
    let dir = Path::new(env!("CARGO_TARGET_TMPDIR"));
    std::fs::create_dir_all(dir).unwrap();
    let file = File::create(dir.join("debian-rootfs.lock")).unwrap();
    let flock = nix::fcntl::Flock::lock(file, nix::fcntl::FlockArg::LockExclusive)
        .map_err(|(_, e)| e)
        .expect("flock");
    CacheLock { _flock: flock }
}

/// Keeps the root filesystem of the built Debian image `image` (the CLI's JSON) from
/// the image store at `images_dir`; a no-op if it is not one layer.
pub fn save(images_dir: &Path, image: &serde_json::Value) {
    let hex = |d: &str| d.trim_start_matches("sha256:").to_string();
    let digest = hex(image["digest"].as_str().expect("image digest"));
    let manifest: serde_json::Value = serde_json::from_slice(
        &std::fs::read(images_dir.join("manifests").join(format!("{digest}.json"))).expect("manifest"),
    )
    .unwrap();
    let layers = manifest["layers"].as_array().expect("layers");
    if layers.len() != 1 {
        return;
    }
    let layer = images_dir.join("layers").join(hex(layers[0].as_str().unwrap()));
    let target = cache_path();
    // Stale tarballs of older recipes go; the new one appears whole or not at all.
    if let Ok(entries) = std::fs::read_dir(target.parent().unwrap()) {
        for e in entries.flatten() {
            let name = e.file_name().to_string_lossy().into_owned();
            if name.starts_with("debian-rootfs-") && name.ends_with(".tar") {
                let _ = std::fs::remove_file(e.path());
            }
        }
    }
    let tmp = target.with_extension(format!("tmp{}", std::process::id()));
    let out = Command::new("tar")
        .args(["--numeric-owner", "--xattrs", "-C"])
        .arg(&layer)
        .arg("-cf")
        .arg(&tmp)
        .arg(".")
        .output()
        .unwrap();
    if out.status.success() {
        std::fs::rename(&tmp, &target).unwrap();
    } else {
        let _ = std::fs::remove_file(&tmp);
        eprintln!("not caching the debian image: {}", String::from_utf8_lossy(&out.stderr));
    }
}

/// A `debian` image in a pool whose CLI is `json` (the admin's, `-o json` added) and
/// whose server keeps images in `images_dir`: imported from the cache when there is
/// one, else built (the server must reach the mirror) and cached. Returns its JSON.
pub fn provide(json: impl Fn(&[&str]) -> serde_json::Value, images_dir: &Path) -> serde_json::Value {
    let _lock = lock();
    let started = std::time::Instant::now();
    let cached = cache_path();
    if cached.exists() {
        let img = json(&["image", "import", cached.to_str().unwrap(), "--name", "debian"]);
        eprintln!(
            "debian image imported from {} in {:.0?}",
            cached.display(),
            started.elapsed()
        );
        return img;
    }
    let img = json(&["image", "build", "debian"]);
    eprintln!("debian image built in {:.0?}", started.elapsed());
    save(images_dir, &img);
    img
}
