//! Root integration tests of SSH with the Debian image where addresses alone do not
//! say enough: a cluster spread over three hosts (nodes SSH to each other by name over
//! the VXLAN segment), and two clusters sharing one subnet on one host (`corral ssh`
//! from the host reaches the node of the cluster it names). The image comes from
//! common/debian_image.rs: built once per target directory, then imported.

mod common;

use std::time::{Duration, Instant};

use common::lan::{wait, Lan};
use common::mirror_proxy::{mirror_host, pool_with_mirror, MirrorProxy, PROXY_PORT};

/// Options that make ssh fail fast instead of asking anything.
const SSH_OPTS: &str = "-o BatchMode=yes -o ConnectTimeout=5";

#[test]
fn nodes_on_three_hosts_ssh_to_each_other_by_name() {
    let started = Instant::now();
    let proxy = format!("http://127.0.0.1:{PROXY_PORT}");
    let mut lan = Lan::start_with_env(&[], &[("http_proxy", &proxy), ("no_proxy", "127.0.0.1,localhost")]);
    // Used only if the image must be built here (the cache is empty).
    let _proxy = MirrorProxy::start(&lan.server_ns, mirror_host());
    for _ in 0..3 {
        let t = lan.token();
        lan.add_host(&t, "");
    }
    lan.wait_ready_hosts(3);
    let img = common::debian_image::provide(|args| lan.json(args), &lan.server_images());
    assert_eq!(img["name"], "debian", "{img}");

    let spec = lan.tmp.path().join("wide.yaml");
    std::fs::write(
        &spec,
        "name: wide\nimage: debian\nnodes: 3\nplacement: spread\nresources: {cpu: '0.3', memory: 192MiB}\n",
    )
    .unwrap();
    let c = lan.json(&["cluster", "create", "-f", spec.to_str().unwrap()]);
    assert_eq!(c["state"], "running", "{c}");
    let mut hosts: Vec<&str> = c["nodes"]
        .as_array()
        .unwrap()
        .iter()
        .map(|n| n["host"].as_str().unwrap())
        .collect();
    hosts.sort_unstable();
    hosts.dedup();
    assert_eq!(hosts.len(), 3, "one node per host: {c}");

    let sh = |node: &str, command: &str| {
        let out = lan.cli(&["exec", &format!("wide/{node}"), "--", "sh", "-c", command]);
        (
            out.status.success(),
            String::from_utf8_lossy(&out.stdout).trim().to_string(),
            String::from_utf8_lossy(&out.stderr).into_owned(),
        )
    };
    let names = ["node-0", "node-1", "node-2"];
    for n in names {
        wait(&format!("sshd of {n}"), || sh(n, "ss -ltn | grep -q ':22 '").0);
    }
    for from in names {
        for to in names.iter().filter(|&&t| t != from) {
            let (ok, out, err) = sh(from, &format!("ssh {SSH_OPTS} {to} hostname"));
            assert!(ok && out == *to, "ssh {from} → {to}: {out} {err}");
        }
    }
    assert!(lan.cli(&["cluster", "delete", "wide"]).status.success());
    eprintln!("three hosts, ssh by name: {:.0?} in all", started.elapsed());
}

#[test]
fn corral_ssh_reaches_the_named_cluster_when_two_share_a_subnet() {
    let started = Instant::now();
    let (pool, _proxy) = pool_with_mirror();
    common::debian_image::provide(|args| pool.json(args), &pool.data.join("images"));

    let keydir = pool.dir().join("keys");
    std::fs::create_dir_all(&keydir).unwrap();
    let key = keydir.join("id_ed25519");
    let out = std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&key)
        .output()
        .unwrap();
    assert!(out.status.success());
    pool.ok(&[
        "user",
        "add-key",
        "admin",
        "--key-file",
        key.with_extension("pub").to_str().unwrap(),
    ]);

    let mut address = None;
    for name in ["red", "blue"] {
        let c = pool.json(&[
            "cluster",
            "create",
            name,
            "--image",
            "debian",
            "--nodes",
            "1",
            "--cpu",
            "0.3",
            "--memory",
            "192MiB",
            "--subnet",
            "10.78.0.0/24",
        ]);
        assert_eq!(c["state"], "running", "{c}");
        let a = c["nodes"][0]["address"].as_str().unwrap().to_string();
        assert_eq!(address.get_or_insert(a.clone()), &a, "one address in both clusters");
        let node = format!("{name}/node-0");
        let deadline = Instant::now() + Duration::from_secs(60);
        while pool
            .exec(
                &node,
                &format!("echo {name} > /root/cluster && ss -ltn | grep -q ':22 '"),
            )
            .0
            != 0
        {
            assert!(Instant::now() < deadline, "sshd of {node} does not listen");
            std::thread::sleep(Duration::from_millis(200));
        }
    }
    // Both ways round: neither the first cluster made nor the second wins by default.
    for name in ["blue", "red", "blue"] {
        let node = format!("{name}/node-0");
        let mut args = vec!["ssh", node.as_str(), "--"];
        args.extend(common::ssh_options(key.to_str().unwrap()));
        args.push("cat /root/cluster");
        let out = pool.ok(&args);
        assert_eq!(out.trim(), name, "corral ssh {name}/node-0 reached another cluster");
    }
    for name in ["red", "blue"] {
        pool.ok(&["cluster", "delete", name]);
    }
    eprintln!(
        "two clusters on one subnet, corral ssh: {:.0?} in all",
        started.elapsed()
    );
}
