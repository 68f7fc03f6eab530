//! Files Corral places in a node before it starts: SSH keys, resolver config, the
//! environment for login shells, the on-destroy script and the cluster's credential
//! for the node API.

use corral_api::agent::NodeAssignment;
use corral_runtime::FileSpec;

/// Where the on-destroy script is kept inside a node.
pub const ON_DESTROY_PATH: &str = "/etc/corral/on-destroy.sh";

/// What is particular to one node in its writable layer, relative to its root: the
/// files [`files_for`] places at each start, and what the node's init makes (its
/// on-create marker and logs, sshd host keys; see corral-runtime's `crun/init.rs`).
/// Left out when a node is saved as an image, so an image never carries a cluster's
/// private key or environment, and on-create runs in nodes made from it.
pub const NODE_LOCAL_PATHS: &[&str] = &[
    "root/.ssh/id_ed25519",
    "root/.ssh/id_ed25519.pub",
    "root/.ssh/authorized_keys",
    "root/.ssh/config",
    "etc/profile.d/corral.sh",
    "etc/resolv.conf",
    "etc/corral",
    "var/lib/corral-node",
    "var/log/corral",
    "etc/ssh/ssh_host_*",
];

fn file(path: &str, content: impl Into<Vec<u8>>, mode: u32) -> FileSpec {
    FileSpec {
        path: path.to_string(),
        content: content.into(),
        mode,
    }
}

/// The files for a node.
pub fn files_for(a: &NodeAssignment, resolv_conf: &str) -> Vec<FileSpec> {
    let mut out = Vec::new();
    if !a.ssh.private_key.is_empty() {
        out.push(file("/root/.ssh/id_ed25519", a.ssh.private_key.clone(), 0o600));
        out.push(file("/root/.ssh/id_ed25519.pub", a.ssh.public_key.clone(), 0o644));
        let mut auth = a.ssh.authorized_keys.join("\n");
        auth.push('\n');
        out.push(file("/root/.ssh/authorized_keys", auth, 0o600));
        // Nodes of one cluster trust each other's host keys: they are all inside the
        // cluster's private segment, and the cluster is rebuilt often.
        let cfg = "Host *\n  StrictHostKeyChecking no\n  UserKnownHostsFile /dev/null\n  LogLevel ERROR\n";
        out.push(file("/root/.ssh/config", cfg, 0o600));
    }
    let mut profile = String::from("# Set by Corral: the cluster's environment.\n");
    for (k, v) in &a.env {
        profile.push_str(&format!("export {k}='{}'\n", v.replace('\'', "'\\''")));
    }
    profile.push_str(&format!("export CORRAL_CLUSTER='{}'\n", a.cluster));
    out.push(file("/etc/profile.d/corral.sh", profile, 0o644));
    out.push(file("/etc/resolv.conf", resolv_conf, 0o644));
    if let Some(s) = &a.scripts.on_destroy {
        out.push(file(ON_DESTROY_PATH, s.clone(), 0o755));
    }
    if !a.credential.is_empty() {
        // No newline: `Bearer $(cat ...)` and readers that do not trim both work.
        out.push(file(corral_api::node_api::CREDENTIAL_PATH, a.credential.clone(), 0o600));
    }
    out
}

/// Where systemd-resolved keeps the upstream servers its 127.0.0.53 stub forwards to.
pub const SYSTEMD_RESOLV_CONF: &str = "/run/systemd/resolve/resolv.conf";

/// The resolver config for nodes, made from the host's (`host`) and, when the host only
/// names servers on loopback (a local stub a node cannot reach from its own network
/// namespace), systemd-resolved's upstream list (`upstream`).
///
/// Short timeouts: names of a cluster's nodes come from /etc/hosts, so a lookup that
/// reaches DNS for a node that is still starting fails in a second instead of the
/// resolver's default 5 s, and a retry after the hosts file is updated succeeds.
pub fn node_resolv_conf(host: &str, upstream: Option<&str>) -> String {
    let reachable = |text: &str| -> Vec<String> {
        text.lines()
            .filter(|l| {
                let mut words = l.split_whitespace();
                words.next() == Some("nameserver")
                    && words
                        .next()
                        .and_then(|a| a.parse::<std::net::IpAddr>().ok())
                        .is_some_and(|a| !a.is_loopback())
            })
            .map(|l| l.trim().to_string())
            .collect()
    };
    let mut servers = reachable(host);
    if servers.is_empty() {
        servers = upstream.map(reachable).unwrap_or_default();
    }
    let mut out = String::from("# Written by Corral from the host's resolver config.\n");
    for l in host.lines() {
        let first = l.split_whitespace().next();
        if matches!(first, Some("search") | Some("domain")) {
            out.push_str(l.trim());
            out.push('\n');
        }
    }
    for s in servers {
        out.push_str(&s);
        out.push('\n');
    }
    out.push_str("options timeout:1 attempts:2\n");
    out
}

/// The environment list of a node, `KEY=VALUE`.
pub fn env_for(a: &NodeAssignment) -> Vec<String> {
    let mut env: Vec<String> = a.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push(format!("CORRAL_CLUSTER={}", a.cluster));
    env.push(format!("CORRAL_NODE={}", a.name));
    env
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_resolver_config_keeps_reachable_servers_and_short_timeouts() {
        let host = "search lab.example\nnameserver 10.0.0.2\nnameserver 127.0.0.1\noptions ndots:2\n";
        let out = node_resolv_conf(host, None);
        assert!(out.contains("search lab.example\n"));
        assert!(out.contains("nameserver 10.0.0.2\n"));
        assert!(!out.contains("127.0.0.1"));
        assert!(out.ends_with("options timeout:1 attempts:2\n"));
    }

    #[test]
    fn a_local_stub_is_replaced_by_its_upstream_servers() {
        let stub = "nameserver 127.0.0.53\noptions edns0 trust-ad\nsearch .\n";
        let upstream = "nameserver 192.0.2.1\nnameserver ::1\nnameserver 2001:db8::1\n";
        let out = node_resolv_conf(stub, Some(upstream));
        assert!(out.contains("nameserver 192.0.2.1\nnameserver 2001:db8::1\n"));
        assert!(!out.contains("127.0.0.53") && !out.contains("nameserver ::1\n"));
        // No upstream list: no server at all rather than one a node cannot reach.
        assert!(!node_resolv_conf(stub, None).contains("nameserver"));
    }
}
