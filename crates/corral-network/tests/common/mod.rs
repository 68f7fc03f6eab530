//! Helpers both root test files share.

use std::collections::hash_map::RandomState;
use std::hash::{BuildHasher, Hasher};
use std::process::Command;

use nix::sched::CloneFlags;

/// A number that differs between runs and processes, for unique names.
pub fn random_u32() -> u32 {
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u128(std::time::UNIX_EPOCH.elapsed().unwrap().as_nanos());
    hasher.write_u32(std::process::id());
    hasher.finish() as u32
}

/// Runs `ip ARGS…`, failing the test when it fails.
pub fn ip(args: &[&str]) {
    let status = Command::new("ip").args(args).status().unwrap();
    assert!(status.success(), "ip {args:?}");
}

/// Moves the calling test thread into a network namespace of its own, loopback up,
/// so what the driver makes host-wide never touches the real host.
pub fn private_netns() {
    nix::sched::unshare(CloneFlags::CLONE_NEWNET).expect("private network namespace");
    ip(&["link", "set", "lo", "up"]);
}

/// Whether the tests run as root (effective uid 0).
pub fn is_root() -> bool {
    std::fs::read_to_string("/proc/self/status")
        .map(|s| {
            s.lines()
                .any(|l| l.starts_with("Uid:") && l.split_whitespace().nth(1) == Some("0"))
        })
        .unwrap_or(false)
}

/// Skips (passes) when not root, so `cargo test` stays usable without privileges.
macro_rules! require_root {
    () => {
        if !common::is_root() {
            eprintln!("skipped: needs root");
            return;
        }
    };
}
