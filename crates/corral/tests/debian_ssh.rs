//! Root integration test of the Debian image and SSH: `corral image build debian`
//! (debootstrap, minutes), SSH between nodes with the cluster's key pair, and
//! `corral ssh` from the host with the user's own key.
//!
//! The pool's network namespace has no route out, but debootstrap must fetch
//! packages from the Debian mirror the host's apt uses. The test therefore runs a
//! small HTTP proxy: it listens on loopback inside the namespace and forwards only
//! to that mirror's host, port 80, from the test's own namespace; `corral up` is
//! given `http_proxy` pointing at it. Nothing else leaves loopback.

mod common;

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use common::Pool;

const PROXY_PORT: u16 = 3142;

/// Host of the first apt source serving bookworm (as corral-image's mirror lookup).
fn mirror_host() -> String {
    let text = std::fs::read_to_string("/etc/apt/sources.list.d/debian.sources")
        .or_else(|_| std::fs::read_to_string("/etc/apt/sources.list"))
        .unwrap_or_default();
    let uri = text
        .lines()
        .filter(|l| !l.trim_start().starts_with('#'))
        .flat_map(str::split_whitespace)
        .find(|w| w.starts_with("http://"))
        .expect("an http apt mirror for bookworm");
    uri.trim_start_matches("http://").split('/').next().unwrap().to_string()
}

/// An HTTP proxy listening on 127.0.0.1:PROXY_PORT in `netns`, forwarding requests
/// for `allowed_host` only; stops when dropped.
struct MirrorProxy {
    stop: Arc<AtomicBool>,
}

impl MirrorProxy {
    fn start(netns: &str, allowed_host: String) -> MirrorProxy {
        let listener = listen_in_netns(netns);
        listener.set_nonblocking(true).unwrap();
        let stop = Arc::new(AtomicBool::new(false));
        let s = stop.clone();
        std::thread::spawn(move || {
            while !s.load(Ordering::Relaxed) {
                match listener.accept() {
                    Ok((client, _)) => {
                        let host = allowed_host.clone();
                        std::thread::spawn(move || {
                            let _ = forward(client, &host);
                        });
                    }
                    Err(_) => std::thread::sleep(Duration::from_millis(20)),
                }
            }
        });
        MirrorProxy { stop }
    }
}

impl Drop for MirrorProxy {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::Relaxed);
    }
}

/// Binds the listener from a thread that enters the namespace, so the socket lives
/// there while every other thread of the test stays where it was.
fn listen_in_netns(netns: &str) -> TcpListener {
    let path = format!("/run/netns/{netns}");
    std::thread::spawn(move || {
        let target = std::fs::File::open(&path).unwrap();
        nix::sched::setns(target.as_fd(), nix::sched::CloneFlags::CLONE_NEWNET).unwrap();
        TcpListener::bind(("127.0.0.1", PROXY_PORT)).unwrap()
    })
    .join()
    .unwrap()
}

/// Reads the first request's head, checks it targets the allowed host, then pipes
/// both ways (keep-alive requests on one connection go to the same host).
fn forward(client: TcpStream, allowed_host: &str) -> std::io::Result<()> {
    client.set_nonblocking(false)?;
    let mut reader = BufReader::new(client.try_clone()?);
    let mut head = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line)? == 0 {
            return Ok(());
        }
        head.extend_from_slice(line.as_bytes());
        if line == "\r\n" || line == "\n" {
            break;
        }
    }
    let text = String::from_utf8_lossy(&head);
    let target = text.split_whitespace().nth(1).unwrap_or("");
    let host = target
        .strip_prefix("http://")
        .and_then(|t| t.split('/').next())
        .unwrap_or("");
    let mut client_w = client.try_clone()?;
    if host != allowed_host {
        client_w.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\nConnection: close\r\n\r\n")?;
        return Ok(());
    }
    let mut upstream = TcpStream::connect((allowed_host, 80))?;
    upstream.write_all(&head)?;
    // Whatever the buffered reader already holds goes first.
    let buffered = reader.buffer().to_vec();
    upstream.write_all(&buffered)?;
    let mut up_r = upstream.try_clone()?;
    let down = std::thread::spawn(move || {
        let _ = std::io::copy(&mut up_r, &mut client_w);
        let _ = client_w.shutdown(Shutdown::Write);
    });
    let mut rest = reader.into_inner();
    let _ = std::io::copy(&mut rest, &mut upstream);
    let _ = upstream.shutdown(Shutdown::Write);
    let _ = down.join();
    Ok(())
}

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
    let pool = Pool::start_with_env(&[
        ("http_proxy", &format!("http://127.0.0.1:{PROXY_PORT}")),
        ("no_proxy", "127.0.0.1,localhost"),
    ]);
    let _proxy = MirrorProxy::start(&pool.netns, mirror_host());

    let started = Instant::now();
    let img = pool.json(&["image", "build", "debian"]);
    eprintln!("debian image built in {:.0?}", started.elapsed());
    assert_eq!(img["name"], "debian", "{img}");
    assert_eq!(img["source"], "built", "{img}");
    assert_eq!(img["visibility"], "public", "{img}");

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
    let ssh_opts = [
        "-i",
        key.to_str().unwrap(),
        "-o",
        "IdentitiesOnly=yes",
        "-o",
        "BatchMode=yes",
        "-o",
        "StrictHostKeyChecking=no",
        "-o",
        "UserKnownHostsFile=/dev/null",
        "-o",
        "LogLevel=ERROR",
        "-o",
        "ConnectTimeout=5",
    ];
    let mut args = vec!["ssh", "deb/node-0", "--"];
    args.extend(ssh_opts);
    args.push("hostname");
    let out = pool.ok(&args);
    assert_eq!(out.trim(), "node-0");
    // Without the key, the node refuses.
    let other = keydir.join("other");
    run(std::process::Command::new("ssh-keygen")
        .args(["-q", "-t", "ed25519", "-N", "", "-f"])
        .arg(&other));
    let mut args = vec!["ssh", "deb/node-1", "--"];
    let mut opts = ssh_opts.to_vec();
    opts[1] = other.to_str().unwrap();
    args.extend(opts);
    args.push("hostname");
    let err = pool.fails(&args);
    assert!(err.contains("Permission denied"), "{err}");

    pool.ok(&["cluster", "delete", "deb"]);
}
