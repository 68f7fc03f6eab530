//! Root integration test of the Debian image and SSH: `corral image build debian`
//! (debootstrap, minutes, through common/mirror_proxy.rs), SSH between nodes with the
//! cluster's key pair, and `corral ssh` from the host with the user's own key.

mod common;

use std::time::{Duration, Instant};

use common::mirror_proxy::pool_with_mirror;

fn run(cmd: &mut std::process::Command) -> String {
    let out = cmd.output().unwrap();
    assert!(
        out.status.success(),
        "{cmd:?}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn debian_nodes_ssh_to_each_other_and_users_ssh_in_with_their_key() {
    let (pool, _proxy) = pool_with_mirror();

    let started = Instant::now();
    let img = pool.json(&["image", "build", "debian"]);
    eprintln!("debian image built in {:.0?}", started.elapsed());
    assert_eq!(img["name"], "debian", "{img}");
    assert_eq!(img["source"], "built", "{img}");
    assert_eq!(img["visibility"], "public", "{img}");
    // Other tests import this root filesystem instead of debootstrapping again.
    common::debian_image::save(&pool.data.join("images"), &img);

    // The admin's own key pair, added before the cluster is made.
    let keydir = pool.dir().join("keys");
    std::fs::create_dir_all(&keydir).unwrap();
    let key = keydir.join("id_ed25519");
    run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-C", "test@host", "-f"])
        .arg(&key));
    let user = pool.json(&[
        "user",
        "add-key",
        "admin",
        "--key-file",
        key.with_extension("pub").to_str().unwrap(),
    ]);
    assert_eq!(user["ssh_keys"].as_array().unwrap().len(), 1, "{user}");

    let c = pool.json(&[
        "cluster", "create", "deb", "--image", "debian", "--nodes", "2", "--cpu", "0.5", "--memory", "256MiB",
    ]);
    assert_eq!(c["state"], "running", "{c}");

    // sshd comes up after init's first steps: wait until both nodes listen on 22.
    for n in ["deb/node-0", "deb/node-1"] {
        let deadline = Instant::now() + Duration::from_secs(60);
        while pool.exec(n, "ss -ltn | grep -q ':22 '").0 != 0 {
            assert!(Instant::now() < deadline, "sshd of {n} does not listen");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    let last = pool.exec("deb/node-0", "ssh -o BatchMode=yes -o ConnectTimeout=5 node-1 hostname");
    assert_eq!(last.0, 0, "ssh node-0 → node-1 failed: {last:?}");
    assert_eq!(last.1.trim(), "node-1");
    // And back, by address too.
    let addr0 = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .find(|n| n["name"] == "node-0")
        .unwrap()["address"]
        .as_str()
        .unwrap()
        .to_string();
    let (code, out, err) = pool.exec("deb/node-1", &format!("ssh -o BatchMode=yes {addr0} hostname"));
    assert_eq!((code, out.trim()), (0, "node-0"), "{err}");
    // Passwords are not accepted, only keys.
    let (code, _, _) = pool.exec(
        "deb/node-1",
        "ssh -o BatchMode=yes -o PubkeyAuthentication=no -o PasswordAuthentication=yes node-0 true",
    );
    assert_ne!(code, 0);

    // From the host (the pool's namespace) with the user's key, through `corral ssh`.
    let ssh_opts = common::ssh_options(key.to_str().unwrap());
    let mut args = vec!["ssh", "deb/node-0", "--"];
    args.extend(&ssh_opts);
    args.push("hostname");
    let out = pool.ok(&args);
    assert_eq!(out.trim(), "node-0");
    // Without the key, the node refuses.
    let other = keydir.join("other");
    run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other));
    let mut args = vec!["ssh", "deb/node-1", "--"];
    args.extend(common::ssh_options(other.to_str().unwrap()));
    args.push("hostname");
    let err = pool.fails(&args);
    assert!(err.contains("Permission denied"), "{err}");

    pool.ok(&["cluster", "delete", "deb"]);
}
