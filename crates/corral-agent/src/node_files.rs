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

/// The environment list of a node, `KEY=VALUE`.
pub fn env_for(a: &NodeAssignment) -> Vec<String> {
    let mut env: Vec<String> = a.env.iter().map(|(k, v)| format!("{k}={v}")).collect();
    env.push(format!("CORRAL_CLUSTER={}", a.cluster));
    env.push(format!("CORRAL_NODE={}", a.name));
    env
}
