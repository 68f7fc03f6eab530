//! `CLUSTER/NODE`, the way a node is named on the command line.

use std::fmt;
use std::str::FromStr;

/// A node named by its cluster and its own name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NodeRef {
    /// Cluster name.
    pub cluster: String,
    /// Node name within the cluster.
    pub node: String,
}

impl FromStr for NodeRef {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.split_once('/') {
            Some((cluster, node)) if !cluster.is_empty() && !node.is_empty() && !node.contains('/') => Ok(NodeRef {
                cluster: cluster.to_string(),
                node: node.to_string(),
            }),
            _ => Err(format!("expected CLUSTER/NODE, e.g. demo/node-0, not {s:?}")),
        }
    }
}

impl fmt::Display for NodeRef {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.cluster, self.node)
    }
}

impl NodeRef {
    /// API path segments of the node, with `extra` segments appended.
    pub fn segments<'a>(&'a self, extra: &[&'a str]) -> Vec<&'a str> {
        let mut v = vec!["v1", "clusters", &self.cluster, "nodes", &self.node];
        v.extend_from_slice(extra);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_cluster_slash_node() {
        let r: NodeRef = "demo/node-0".parse().unwrap();
        assert_eq!(r.cluster, "demo");
        assert_eq!(r.node, "node-0");
        assert_eq!(r.to_string(), "demo/node-0");
        assert_eq!(
            r.segments(&["exec"]),
            ["v1", "clusters", "demo", "nodes", "node-0", "exec"]
        );
        for bad in ["demo", "/node-0", "demo/", "a/b/c"] {
            assert!(bad.parse::<NodeRef>().is_err(), "{bad}");
        }
    }
}
