//! Root integration tests of images: OCI and rootfs imports, saving a node as an
//! image, privacy and sharing between users, content addressing.

mod common;

use std::fs;
use std::os::unix::fs::symlink;
use std::path::Path;
use std::process::Command;

use common::Pool;
use serde_json::json;

fn run(cmd: &mut Command) {
    let out = cmd.output().expect("run");
    assert!(
        out.status.success(),
        "{cmd:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
}

/// A directory with a working busybox: /bin/busybox plus a symlink per applet
/// (/bin/sh among them).
fn busybox_root(root: &Path) {
    for d in ["bin", "etc", "root", "tmp", "proc", "sys", "dev", "run", "var/log"] {
        fs::create_dir_all(root.join(d)).unwrap();
    }
    fs::copy("/bin/busybox", root.join("bin/busybox")).unwrap();
    let list = Command::new("/bin/busybox").arg("--list").output().unwrap();
    for applet in String::from_utf8_lossy(&list.stdout).lines() {
        if applet != "busybox" && !applet.is_empty() {
            symlink("busybox", root.join("bin").join(applet)).unwrap();
        }
    }
    assert!(root.join("bin/sh").is_symlink());
    fs::write(root.join("etc/passwd"), "root:x:0:0:root:/root:/bin/sh\n").unwrap();
    fs::write(root.join("etc/group"), "root:x:0:\n").unwrap();
}

fn write(root: &Path, rel: &str, content: &str) {
    let p = root.join(rel);
    fs::create_dir_all(p.parent().unwrap()).unwrap();
    fs::write(p, content).unwrap();
}

/// Tars a directory's content (paths relative to it).
fn tar_dir(dir: &Path, out: &Path) {
    run(Command::new("tar")
        .arg("-C")
        .arg(dir)
        .args(["--numeric-owner", "-cf"])
        .arg(out)
        .arg("."));
}

fn sha256_file(p: &Path) -> String {
    let out = Command::new("sha256sum").arg(p).output().unwrap();
    let text = String::from_utf8_lossy(&out.stdout);
    format!("sha256:{}", text.split_whitespace().next().unwrap())
}

/// Stores a blob in an OCI layout; returns its descriptor fields (digest, size).
fn put_blob(layout: &Path, bytes_from: &Path) -> (String, u64) {
    let digest = sha256_file(bytes_from);
    let dest = layout.join("blobs/sha256").join(digest.trim_start_matches("sha256:"));
    fs::create_dir_all(dest.parent().unwrap()).unwrap();
    fs::copy(bytes_from, &dest).unwrap();
    (digest, fs::metadata(&dest).unwrap().len())
}

fn put_json_blob(layout: &Path, scratch: &Path, v: &serde_json::Value) -> (String, u64) {
    let p = scratch.join("blob.json");
    fs::write(&p, serde_json::to_vec(v).unwrap()).unwrap();
    put_blob(layout, &p)
}

/// An OCI image layout archive of two layers: the second deletes /etc/gone.txt with a
/// whiteout and makes /opt/data opaque.
fn oci_archive(dir: &Path) -> std::path::PathBuf {
    let l1 = dir.join("layer1");
    busybox_root(&l1);
    write(&l1, "etc/keep.txt", "kept\n");
    write(&l1, "etc/gone.txt", "should be deleted\n");
    write(&l1, "opt/data/old1", "old\n");
    write(&l1, "opt/data/sub/old2", "old\n");
    write(&l1, "opt/other/stays", "stays\n");
    let l2 = dir.join("layer2");
    write(&l2, "etc/.wh.gone.txt", "");
    write(&l2, "etc/added.txt", "added\n");
    write(&l2, "opt/data/.wh..wh..opq", "");
    write(&l2, "opt/data/new.txt", "new\n");

    let layout = dir.join("layout");
    fs::create_dir_all(&layout).unwrap();
    let scratch = dir.join("scratch");
    fs::create_dir_all(&scratch).unwrap();
    let (mut layers, mut diff_ids) = (Vec::new(), Vec::new());
    for (i, l) in [&l1, &l2].iter().enumerate() {
        let t = scratch.join(format!("l{i}.tar"));
        tar_dir(l, &t);
        let (digest, size) = put_blob(&layout, &t);
        diff_ids.push(digest.clone());
        layers.push(json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": digest, "size": size}));
    }
    let config = json!({
        "architecture": "amd64", "os": "linux",
        "config": {"Env": ["PATH=/bin", "FROM_OCI=yes"]},
        "rootfs": {"type": "layers", "diff_ids": diff_ids},
    });
    let (cd, cs) = put_json_blob(&layout, &scratch, &config);
    let manifest = json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": cd, "size": cs},
        "layers": layers,
    });
    let (md, ms) = put_json_blob(&layout, &scratch, &manifest);
    let index = json!({
        "schemaVersion": 2,
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": md, "size": ms}],
    });
    fs::write(layout.join("index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    fs::write(layout.join("oci-layout"), r#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let archive = dir.join("image.oci.tar");
    tar_dir(&layout, &archive);
    archive
}

fn sh_ok(pool: &Pool, node: &str, command: &str) -> String {
    let (code, out, err) = pool.exec(node, command);
    assert_eq!(code, 0, "{command} in {node}: {out}{err}");
    out
}

#[test]
fn oci_archive_with_whiteouts_imports_and_runs() {
    let pool = Pool::start();
    let work = pool.dir().join("oci");
    fs::create_dir_all(&work).unwrap();
    let archive = oci_archive(&work);
    let img = pool.json(&["image", "import", archive.to_str().unwrap(), "--name", "oci-test"]);
    assert_eq!(img["name"], "oci-test", "{img}");
    assert_eq!(img["layers"], 2, "{img}");
    assert_eq!(img["source"], "imported", "{img}");

    let c = pool.json(&[
        "cluster", "create", "oc", "--image", "oci-test", "--nodes", "1", "--cpu", "0.2", "--memory", "32MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    let n = "oc/node-0";
    // The whiteout deleted the file of layer 1; the rest of /etc is there.
    let (code, _, _) = pool.exec(n, "test -e /etc/gone.txt");
    assert_ne!(code, 0, "/etc/gone.txt should be deleted by the whiteout");
    assert_eq!(sh_ok(&pool, n, "cat /etc/keep.txt"), "kept\n");
    assert_eq!(sh_ok(&pool, n, "cat /etc/added.txt"), "added\n");
    // The opaque dir shows layer 2's content only.
    assert_eq!(
        sh_ok(&pool, n, "ls -A /opt/data")
            .split_whitespace()
            .collect::<Vec<_>>(),
        ["new.txt"]
    );
    assert_eq!(sh_ok(&pool, n, "cat /opt/other/stays"), "stays\n");
    // No whiteout marker is visible as a file.
    assert_eq!(sh_ok(&pool, n, "ls -A /etc | grep -c '^.wh.' || true").trim(), "0");
    // The config's environment reaches the node.
    assert_eq!(sh_ok(&pool, n, "echo $FROM_OCI"), "yes\n");
    pool.ok(&["cluster", "delete", "oc"]);
}

#[test]
fn rootfs_tarball_imports_and_runs() {
    let pool = Pool::start();
    let root = pool.dir().join("rootfs");
    busybox_root(&root);
    write(&root, "etc/keep.txt", "from the tarball\n");
    write(&root, "srv/app/config", "a=1\n");
    let tarball = pool.dir().join("rootfs.tar");
    tar_dir(&root, &tarball);
    let gz = pool.dir().join("rootfs.tar.gz");
    run(Command::new("sh")
        .arg("-c")
        .arg(format!("gzip -c {} > {}", tarball.display(), gz.display())));

    let img = pool.json(&["image", "import", gz.to_str().unwrap(), "--name", "tarball"]);
    assert_eq!(img["layers"], 1, "{img}");
    assert_eq!(img["visibility"], "private", "{img}");
    // The same content, uncompressed, is the same image.
    let again = pool.json(&["image", "import", tarball.to_str().unwrap(), "--name", "tarball2"]);
    assert_eq!(again["digest"], img["digest"]);

    let c = pool.json(&[
        "cluster", "create", "tb", "--image", "tarball", "--nodes", "2", "--cpu", "0.2", "--memory", "32MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");
    assert_eq!(sh_ok(&pool, "tb/node-1", "cat /etc/keep.txt"), "from the tarball\n");
    assert_eq!(sh_ok(&pool, "tb/node-1", "cat /srv/app/config"), "a=1\n");
    assert_eq!(
        sh_ok(&pool, "tb/node-0", "ping -c1 -W2 node-1 >/dev/null && echo up"),
        "up\n"
    );
    pool.ok(&["cluster", "delete", "tb"]);
}

/// The layers of an image as its manifest in the store lists them.
fn manifest_layers(pool: &Pool, digest: &str) -> Vec<String> {
    let hex = digest.trim_start_matches("sha256:");
    let m: serde_json::Value =
        serde_json::from_slice(&fs::read(pool.data.join("images/manifests").join(format!("{hex}.json"))).unwrap())
            .unwrap();
    m["layers"]
        .as_array()
        .unwrap()
        .iter()
        .map(|l| l.as_str().unwrap().to_string())
        .collect()
}

fn layer_dir(pool: &Pool, digest: &str) -> std::path::PathBuf {
    pool.data
        .join("images/layers")
        .join(digest.trim_start_matches("sha256:"))
}

#[test]
fn saved_node_is_private_until_shared_and_shares_base_layers() {
    let pool = Pool::start();
    pool.ok(&[
        "cluster", "create", "c", "--image", "minimal", "--nodes", "1", "--cpu", "0.2", "--memory", "32MiB",
    ]);
    sh_ok(
        &pool,
        "c/node-0",
        "mkdir -p /opt/env && echo 'my environment' > /opt/env/README && rm /etc/group",
    );

    let saved = pool.json(&["node", "save", "c/node-0", "--as", "my-env"]);
    assert_eq!(saved["name"], "my-env", "{saved}");
    assert_eq!(saved["visibility"], "private", "{saved}");
    assert_eq!(saved["source"], "saved", "{saved}");

    // Content addressing: the new image is the base's layers plus one.
    let base = pool.json(&["image", "show", "minimal"]);
    let base_layers = manifest_layers(&pool, base["digest"].as_str().unwrap());
    let layers = manifest_layers(&pool, saved["digest"].as_str().unwrap());
    assert_eq!(saved["layers"], base_layers.len() + 1);
    assert_eq!(
        layers[..base_layers.len()],
        base_layers[..],
        "the saved image reuses the base layers"
    );
    let top = layer_dir(&pool, layers.last().unwrap());
    assert_eq!(
        fs::read_to_string(top.join("opt/env/README")).unwrap(),
        "my environment\n"
    );
    // What Corral places in every node is not part of the saved image: not the
    // cluster's private key, not its environment, not the on-create marker.
    for rel in [
        "root/.ssh/id_ed25519",
        "root/.ssh/authorized_keys",
        "etc/profile.d/corral.sh",
        "var/lib/corral-node/created",
    ] {
        assert!(!top.join(rel).exists(), "saved layer carries the node's {rel}");
    }

    // Another user sees it neither in the list nor by name.
    let bob = pool.new_user("bob", "bob-password-1");
    let names = |v: serde_json::Value| -> Vec<String> {
        v.as_array()
            .unwrap()
            .iter()
            .map(|i| i["name"].as_str().unwrap().to_string())
            .collect()
    };
    let listed = names(bob.json(&["image", "list"]));
    assert!(listed.contains(&"minimal".to_string()), "{listed:?}");
    assert!(
        !listed.contains(&"my-env".to_string()),
        "bob sees admin's private image: {listed:?}"
    );
    let err = bob.fails(&[
        "cluster", "create", "b", "--image", "my-env", "--nodes", "1", "--cpu", "0.2", "--memory", "32MiB",
    ]);
    assert!(err.contains("unknown_image"), "{err}");
    assert!(bob.fails(&["image", "share", "my-env"]).contains("not_found"));

    // Shared, it is usable by bob, and has the saved content; the deletion of a
    // base file is kept too.
    let shared = pool.json(&["image", "share", "my-env"]);
    assert_eq!(shared["visibility"], "public", "{shared}");
    assert!(names(bob.json(&["image", "list"])).contains(&"my-env".to_string()));
    let spec = pool.dir().join("bob.yaml");
    fs::write(
        &spec,
        "name: b\nimage: my-env\nnodes: 1\nresources: {cpu: '0.2', memory: 32MiB}\nscripts:\n  on_create: echo ran > /root/on-create-ran\n",
    )
    .unwrap();
    let c = bob.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let (code, out, err) = bob.exec("b/node-0", "cat /opt/env/README");
    assert_eq!((code, out.as_str()), (0, "my environment\n"), "{err}");
    assert_ne!(
        bob.exec("b/node-0", "test -e /etc/group").0,
        0,
        "a file deleted before the save stays deleted"
    );
    // A node made from the saved image is a new node: its on-create script ran.
    assert_eq!(bob.exec("b/node-0", "cat /root/on-create-ran").1, "ran\n");
    // And its cluster key is its own, not the one of the node that was saved.
    let key_a = sh_ok(&pool, "c/node-0", "cat /root/.ssh/id_ed25519.pub");
    let key_b = bob.exec("b/node-0", "cat /root/.ssh/id_ed25519.pub").1;
    assert_ne!(key_a, key_b);

    // Unshared again, bob can no longer start new clusters from it.
    pool.ok(&["image", "unshare", "my-env"]);
    let err = bob.fails(&[
        "cluster", "create", "b2", "--image", "my-env", "--nodes", "1", "--cpu", "0.2", "--memory", "32MiB",
    ]);
    assert!(err.contains("unknown_image"), "{err}");
    bob.ok(&["cluster", "delete", "b"]);
    pool.ok(&["cluster", "delete", "c"]);
}
