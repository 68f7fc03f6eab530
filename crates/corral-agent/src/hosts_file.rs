//! The per-node hosts file, bind-mounted at `/etc/hosts`: names of every node of the
//! cluster. Rewritten in place (same inode) so the bind mount sees the change.

use std::io::Write;
use std::path::Path;

/// Renders the hosts file for a cluster.
pub fn render(cluster: &str, peers: &[(String, String)]) -> String {
    let mut s = String::from("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n");
    for (name, addr) in peers {
        s.push_str(&format!("{addr}\t{name} {name}.{cluster}\n"));
    }
    s
}

/// Writes `content` into `path` in place unless it already holds it; returns whether
/// it changed.
pub fn write_in_place(path: &Path, content: &str) -> std::io::Result<bool> {
    if std::fs::read_to_string(path).ok().as_deref() == Some(content) {
        return Ok(false);
    }
    if let Some(dir) = path.parent() {
        std::fs::create_dir_all(dir)?;
    }
    // Overwrite in place rather than rename: a rename would leave the node's bind
    // mount pointing at the old inode. Write first and cut the length after, not
    // truncate first: a lookup in between may see old and new lines mixed for a moment
    // (and retries, as resolvers do), but never an empty file with no names at all.
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(path)?;
    f.write_all(content.as_bytes())?;
    f.set_len(content.len() as u64)?;
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn renders_every_peer() {
        let s = render(
            "demo",
            &[
                ("node-0".into(), "10.0.0.2".into()),
                ("node-1".into(), "10.0.0.3".into()),
            ],
        );
        assert!(s.contains("10.0.0.2\tnode-0 node-0.demo\n"));
        assert!(s.contains("10.0.0.3\tnode-1 node-1.demo\n"));
        assert!(s.starts_with("127.0.0.1\tlocalhost"));
    }

    #[test]
    fn rewrites_same_inode() {
        use std::os::unix::fs::MetadataExt;
        let d = tempfile::tempdir().unwrap();
        let p = d.path().join("hosts");
        assert!(write_in_place(&p, "a\n").unwrap());
        let ino = std::fs::metadata(&p).unwrap().ino();
        assert!(!write_in_place(&p, "a\n").unwrap());
        assert!(write_in_place(&p, "bb\n").unwrap());
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "bb\n");
        // Shorter content: nothing of the old tail stays.
        assert!(write_in_place(&p, "c\n").unwrap());
        assert_eq!(std::fs::read_to_string(&p).unwrap(), "c\n");
        assert_eq!(std::fs::metadata(&p).unwrap().ino(), ino);
    }
}
