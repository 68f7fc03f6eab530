//! Bytes through nodes' links, read from the kernel's per-namespace interface counters.

use std::collections::HashMap;

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
/// (received, sent) bytes. `/proc/self/net/dev` rather than sysfs: sysfs shows the
/// namespace it was mounted in, which is not ours when the agent runs under
/// `nsenter --net` (test hosts).
pub(crate) fn interface_bytes() -> Result<HashMap<String, (u64, u64)>, NetworkError> {
    let path = "/proc/self/net/dev";
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

/// What the node sees through its veth, from the host end's counters: what the
/// host end received the node sent, and the other way round.
pub(crate) fn node_side(host_end: (u64, u64)) -> Traffic {
    Traffic {
        rx_bytes: host_end.1,
        tx_bytes: host_end.0,
    }
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

    #[test]
    fn the_node_receives_what_the_host_end_sends() {
        let t = node_side((700, 1234));
        assert_eq!(t.rx_bytes, 1234);
        assert_eq!(t.tx_bytes, 700);
    }
}
