//! An HTTP proxy to the host's Debian mirror for tests that build Debian-based images
//! (`debian`, `slurm`) inside a pool.
//!
//! The pool's network namespace has no route out, but debootstrap and apt must fetch
//! packages from the Debian mirror the host's apt uses. The proxy listens on loopback
//! inside the namespace and forwards only to that mirror's host, port 80, from the
//! test's own namespace; `corral up` is given `http_proxy` pointing at it. Nothing
//! else leaves loopback.

use std::io::{BufRead, BufReader, Write};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::fd::AsFd;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Duration;

use super::Pool;

/// Port of the proxy on the pool's loopback.
pub const PROXY_PORT: u16 = 3142;

/// Host of the first apt source serving bookworm (as corral-image's mirror lookup).
pub fn mirror_host() -> String {
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
pub struct MirrorProxy {
    stop: Arc<AtomicBool>,
}

impl MirrorProxy {
    pub fn start(netns: &str, allowed_host: String) -> MirrorProxy {
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

/// A pool whose `corral up` reaches the host's Debian mirror through a [`MirrorProxy`]
/// (keep the proxy alive as long as builds run).
pub fn pool_with_mirror() -> (Pool, MirrorProxy) {
    let pool = Pool::start_with_env(&[
        ("http_proxy", &format!("http://127.0.0.1:{PROXY_PORT}")),
        ("no_proxy", "127.0.0.1,localhost"),
    ]);
    let proxy = MirrorProxy::start(&pool.netns, mirror_host());
    (pool, proxy)
}
