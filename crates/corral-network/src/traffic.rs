//! Bytes through nodes' links, read from the kernel's per-namespace interface counters.

use std::collections::HashMap;
use std::path::PathBuf;

use crate::NetworkError;

/// Bytes a node has received and sent through its link since the link was made.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Traffic {
    /// Bytes the node received.
    pub rx_bytes: u64,
    /// Bytes the node sent.
    pub tx_bytes: u64,
}

/// The counters of every interface of this process's network namespace, by name, as
/// (received, sent) bytes. `/proc/thread-self/net/dev` rather than sysfs: sysfs shows
/// the namespace it was mounted in, and /proc/self the main thread's.
fn interface_bytes() -> Result<HashMap<String, (u64, u64)>, NetworkError> {
    let path = "/proc/thread-self/net/dev";
    let text = std::fs::read_to_string(path).map_err(|source| NetworkError::Io {
        context: format!("read {path}"),
        source,
    })?;
    Ok(parse_net_dev(&text))
}

/// Parses `/proc/net/dev`: two header lines, then `name: rx_bytes rx_packets ... (8
/// receive fields) tx_bytes ...`.
fn parse_net_dev(text: &str) -> HashMap<String, (u64, u64)> {
    text.lines()
        .filter_map(|line| {
            let (name, fields) = line.split_once(':')?;
            let f: Vec<u64> = fields.split_whitespace().filter_map(|v| v.parse().ok()).collect();
            (f.len() >= 9).then(|| (name.trim().to_string(), (f[0], f[8])))
        })
        .collect()
}

/// The counters of interface `ifname` inside each named namespace, as the node sees
/// them. One thread visits the namespaces in turn (entering a namespace is a system
/// call; the agent's own threads stay where they are); a namespace that cannot be
/// entered or has no such interface is left out.
pub(crate) fn read_in_namespaces(netns: &[(String, PathBuf)], ifname: &str) -> HashMap<String, Traffic> {
    let netns = netns.to_vec();
    let ifname = ifname.to_string();
    let visit = move || {
        let mut out = HashMap::new();
        for (id, path) in netns {
            let Ok(file) = std::fs::File::open(&path) else { continue };
            if nix::sched::setns(&file, nix::sched::CloneFlags::CLONE_NEWNET).is_err() {
                continue;
            }
            if let Some(&(rx_bytes, tx_bytes)) = interface_bytes().ok().as_ref().and_then(|c| c.get(&ifname)) {
                out.insert(id, Traffic { rx_bytes, tx_bytes });
            }
        }
        out
    };
    std::thread::Builder::new()
        .name("node-counters".into())
        .spawn(visit)
        .ok()
        .and_then(|thread| thread.join().ok())
        .unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    const SAMPLE: &str = "Inter-|   Receive                                                |  Transmit
 face |bytes    packets errs drop fifo frame compressed multicast|bytes    packets errs drop fifo colls carrier compressed
    lo: 5829397    8975    0    0    0     0          0         0  5829397    8975    0    0    0     0       0          0
cv0123456789:     700       7    0    0    0     0          0         0     1234      12    0    0    0     0       0          0
";

    #[test]
    fn reads_receive_and_transmit_bytes_per_interface() {
        let m = parse_net_dev(SAMPLE);
        assert_eq!(m.len(), 2);
        assert_eq!(m["lo"], (5829397, 5829397));
        assert_eq!(m["cv0123456789"], (700, 1234));
    }
}
