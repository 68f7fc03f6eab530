//! Root tests: layers exported by one store install into another, checked against
//! their digests; tampered streams are refused and gc never sees half a layer.

use std::fs;
use std::io::{self, Read, Write};
use std::os::unix::fs::{symlink, FileTypeExt, MetadataExt};
use std::path::Path;
use std::sync::mpsc;
use std::thread;
use std::time::Duration;

use corral_image::{ImageError, ImageManifest, ImageStore};
use nix::sys::stat::{makedev, mknod, Mode, SFlag};
use sha2::{Digest, Sha256};

mod common;
use common::TarBuilder;

/// A `security.capability` value (v2, cap_net_raw permitted and effective).
const CAP_NET_RAW: [u8; 20] = [0, 0, 0, 2, 0, 0x20, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0];

fn stores(dir: &Path) -> (ImageStore, ImageStore) {
    (
        ImageStore::open(&dir.join("server")).unwrap(),
        ImageStore::open(&dir.join("agent")).unwrap(),
    )
}

fn export(store: &ImageStore, layer: &str) -> Vec<u8> {
    let mut bytes = Vec::new();
    store.export_layer(layer, &mut bytes).unwrap();
    bytes
}

/// Pulls an image the way an agent does: missing layers, then the manifest.
fn pull(from: &ImageStore, to: &ImageStore, manifest: &ImageManifest) {
    for layer in to.missing_layers(manifest) {
        to.install_layer(&layer, &mut export(from, &layer).as_slice()).unwrap();
    }
    to.install_manifest(manifest).unwrap();
    assert_eq!(to.manifest(&manifest.digest).unwrap(), *manifest);
}

/// One line per entry with everything a layer keeps, mtimes and link counts included.
fn describe(root: &Path) -> Vec<String> {
    let mut lines = Vec::new();
    let mut pending = vec![root.to_path_buf()];
    while let Some(path) = pending.pop() {
        let meta = fs::symlink_metadata(&path).unwrap();
        let rel = path.strip_prefix(root).unwrap().display().to_string();
        let kind = meta.file_type();
        let detail = if kind.is_file() {
            hex::encode(Sha256::digest(fs::read(&path).unwrap()))
        } else if kind.is_symlink() {
            fs::read_link(&path).unwrap().display().to_string()
        } else {
            format!("rdev={}", meta.rdev())
        };
        let mut xattrs: Vec<_> = xattr::list(&path)
            .unwrap()
            .map(|name| name.to_string_lossy().into_owned())
            .map(|name| (xattr::get(&path, &name).unwrap(), name))
            .collect();
        xattrs.sort();
        let mtime = meta.mtime();
        lines.push(format!(
            "{rel} {:o} {}:{} n={} t={mtime} {detail} {xattrs:?}",
            meta.mode(),
            meta.uid(),
            meta.gid(),
            meta.nlink(),
        ));
        if kind.is_dir() {
            for entry in fs::read_dir(&path).unwrap() {
                pending.push(entry.unwrap().path());
            }
        }
    }
    lines.sort();
    lines
}

fn assert_same_layers(from: &ImageStore, to: &ImageStore, manifest: &ImageManifest) {
    for layer in &manifest.layers {
        assert_eq!(
            describe(&from.layer_path(layer)),
            describe(&to.layer_path(layer)),
            "{layer}"
        );
    }
}

/// A node's upper dir with every kind of entry a saved layer can hold.
fn rich_upper(upper: &Path) {
    for dir in ["etc", "var/log", "usr/bin", "srv/data"] {
        fs::create_dir_all(upper.join(dir)).unwrap();
    }
    fs::write(upper.join("etc/motd"), "hello from the server\n").unwrap();
    std::os::unix::fs::chown(upper.join("etc/motd"), Some(1000), Some(1001)).unwrap();
    fs::write(upper.join("usr/bin/ping"), "#!/bin/sh\necho pong\n").unwrap();
    xattr::set(upper.join("usr/bin/ping"), "security.capability", &CAP_NET_RAW).unwrap();
    xattr::set(upper.join("usr/bin/ping"), "user.origin", b"test").unwrap();
    fs::hard_link(upper.join("usr/bin/ping"), upper.join("usr/bin/ping6")).unwrap();
    fs::set_permissions(
        upper.join("usr/bin/ping"),
        std::os::unix::fs::PermissionsExt::from_mode(0o4755),
    )
    .unwrap();
    symlink("../usr/bin/ping", upper.join("etc/ping-link")).unwrap();
    mknod(&upper.join("etc/hosts"), SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
    mknod(
        &upper.join("srv/null"),
        SFlag::S_IFCHR,
        Mode::from_bits_truncate(0o666),
        makedev(1, 3),
    )
    .unwrap();
    nix::unistd::mkfifo(&upper.join("srv/fifo"), Mode::from_bits_truncate(0o600)).unwrap();
    xattr::set(upper.join("var/log"), "trusted.overlay.opaque", b"y").unwrap();
    xattr::set(upper.join("srv/data"), "user.kind", b"data dir").unwrap();
    let long = upper.join("srv/data").join("n".repeat(120));
    fs::write(&long, "long name").unwrap();
}

#[test]
fn built_image_round_trips_and_installing_again_is_a_noop() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = stores(dir.path());
    let manifest = server.build_minimal().unwrap();
    let layer = &manifest.layers[0];
    assert_eq!(export(&server, layer), export(&server, layer), "deterministic");
    assert_eq!(agent.missing_layers(&manifest), manifest.layers);

    pull(&server, &agent, &manifest);
    assert!(agent.missing_layers(&manifest).is_empty());
    assert_same_layers(&server, &agent, &manifest);

    // Present layers are not read again; the manifest is not stored twice.
    let mut unreadable = FailingReader;
    agent.install_layer(layer, &mut unreadable).unwrap();
    agent.install_manifest(&manifest).unwrap();
    assert_eq!(agent.list_manifests().unwrap(), vec![manifest]);
    assert!(common::names(&dir.path().join("agent/tmp")).is_empty());
}

#[test]
fn saved_layer_keeps_whiteouts_opaque_dirs_links_devices_and_xattrs() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = stores(dir.path());
    let base = server.build_minimal().unwrap();
    let upper = dir.path().join("upper");
    rich_upper(&upper);
    let saved = server.save(&upper, &base).unwrap();

    pull(&server, &agent, &saved);
    assert_same_layers(&server, &agent, &saved);
    let top = agent.layer_path(&saved.layers[1]);
    let whiteout = fs::symlink_metadata(top.join("etc/hosts")).unwrap();
    assert!(whiteout.file_type().is_char_device());
    assert_eq!(whiteout.rdev(), 0);
    let opaque = xattr::get(top.join("var/log"), "trusted.overlay.opaque").unwrap();
    assert_eq!(opaque.as_deref(), Some(&b"y"[..]));
    let cap = xattr::get(top.join("usr/bin/ping"), "security.capability").unwrap();
    assert_eq!(cap.as_deref(), Some(&CAP_NET_RAW[..]));
    assert_eq!(
        fs::metadata(top.join("usr/bin/ping")).unwrap().ino(),
        fs::metadata(top.join("usr/bin/ping6")).unwrap().ino()
    );
}

#[test]
fn imported_image_and_a_save_on_top_round_trip() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = stores(dir.path());
    let tar = TarBuilder::new()
        .dir("./", 0o755)
        .dir("etc", 0o755)
        .file("etc/hostname", "box\n", 0o644, 0)
        .dir("data", 0o750)
        .file("data/keep", "kept\n", 0o600, 1000)
        .finish();
    let archive = dir.path().join("rootfs.tar");
    fs::write(&archive, tar).unwrap();
    let imported = server.import(&archive).unwrap();
    let upper = dir.path().join("upper");
    fs::create_dir_all(upper.join("data")).unwrap();
    mknod(&upper.join("etc"), SFlag::S_IFCHR, Mode::empty(), makedev(0, 0)).unwrap();
    xattr::set(upper.join("data"), "trusted.overlay.opaque", b"y").unwrap();
    let saved = server.save(&upper, &imported).unwrap();

    pull(&server, &agent, &saved);
    assert_same_layers(&server, &agent, &saved);
}

#[test]
fn tampered_stream_is_refused_and_leaves_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = stores(dir.path());
    let manifest = server.build_minimal().unwrap();
    let layer = &manifest.layers[0];
    let mut bytes = export(&server, layer);
    let at = find(&bytes, b"127.0.0.1\tlocalhost").expect("etc/hosts content in the stream");
    bytes[at] ^= 0x01;

    let refused = agent.install_layer(layer, &mut bytes.as_slice());
    assert!(matches!(refused, Err(ImageError::Unsafe(_))), "{refused:?}");
    assert!(common::names(&dir.path().join("agent/layers")).is_empty());
    assert!(common::names(&dir.path().join("agent/tmp")).is_empty());
    assert!(matches!(
        agent.install_manifest(&manifest),
        Err(ImageError::NotFound(_))
    ));
    assert!(common::names(&dir.path().join("agent/manifests")).is_empty());
    assert!(agent.install_layer(layer, &mut &bytes[..bytes.len() / 2]).is_err());
    assert!(common::names(&dir.path().join("agent/layers")).is_empty());
}

#[test]
fn gc_waits_for_exports_and_installs_in_flight() {
    let dir = tempfile::tempdir().unwrap();
    let (server, agent) = stores(dir.path());
    let manifest = server.build_minimal().unwrap();
    let layer = manifest.layers[0].clone();

    // An export paused mid-stream holds off a gc that would delete its layer.
    let (started, paused) = mpsc::channel();
    let mut out = SlowWriter::new(started);
    let exporter = {
        let server = server.clone();
        thread::spawn(move || server.export_layer(&layer, &mut out).map(|()| out.bytes))
    };
    paused.recv().unwrap();
    let report = server.gc(&[]).unwrap();
    let bytes = exporter.join().unwrap().unwrap();
    assert_eq!(report.layers, manifest.layers, "gc ran after the export");

    // An install paused mid-stream is not swept away by the agent's gc.
    let (started, paused) = mpsc::channel();
    let mut input = SlowReader::new(bytes, started);
    let installer = {
        let (agent, digest) = (agent.clone(), manifest.layers[0].clone());
        thread::spawn(move || agent.install_layer(&digest, &mut input))
    };
    paused.recv().unwrap();
    let report = agent.gc(&[]).unwrap();
    installer.join().unwrap().unwrap();
    assert_eq!(report.layers, manifest.layers, "gc ran after the install");
    assert!(common::names(&dir.path().join("agent/tmp")).is_empty());
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// A reader that must not be read.
struct FailingReader;

impl Read for FailingReader {
    fn read(&mut self, _: &mut [u8]) -> io::Result<usize> {
        Err(io::Error::other("a stored layer's stream was read"))
    }
}

/// Collects bytes, pausing after the first write so another thread can race it.
struct SlowWriter {
    bytes: Vec<u8>,
    started: Option<mpsc::Sender<()>>,
}

impl SlowWriter {
    fn new(started: mpsc::Sender<()>) -> Self {
        Self {
            bytes: Vec::new(),
            started: Some(started),
        }
    }
}

impl Write for SlowWriter {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        if let Some(started) = self.started.take() {
            started.send(()).unwrap();
            thread::sleep(Duration::from_millis(300));
        }
        self.bytes.extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

/// Serves bytes, pausing after the first read so another thread can race it.
struct SlowReader {
    bytes: io::Cursor<Vec<u8>>,
    started: Option<mpsc::Sender<()>>,
}

impl SlowReader {
    fn new(bytes: Vec<u8>, started: mpsc::Sender<()>) -> Self {
        Self {
            bytes: io::Cursor::new(bytes),
            started: Some(started),
        }
    }
}

impl Read for SlowReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if let Some(started) = self.started.take() {
            started.send(()).unwrap();
            thread::sleep(Duration::from_millis(300));
        }
        self.bytes.read(buf)
    }
}
