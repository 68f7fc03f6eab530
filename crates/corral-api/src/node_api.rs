//! The node API: what software inside a node asks of Corral at
//! `http://169.254.169.254/`, authenticated by its cluster's credential
//! (`/etc/corral/credential`, sent as `Authorization: Bearer <credential>`).
//!
//! - `GET /v1/self` → [`NodeSelf`]
//! - `POST /v1/scale` with a [`NodeScaleRequest`] → [`NodeScaleResponse`]
//!
//! Errors are [`crate::ApiError`] bodies. Scaling is allowed only on elastic node
//! groups, within their `[min, max]`, rate-limited per cluster and audited.

use serde::{Deserialize, Serialize};

use crate::ApiError;

/// The link-local address every node reaches the node API at (port 80), as clouds'
/// metadata services do.
pub const NODE_API_ADDRESS: &str = "169.254.169.254";

/// Where the cluster's credential is placed in every node (mode 0600, root).
pub const CREDENTIAL_PATH: &str = "/etc/corral/credential";

/// A node group as a node sees it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeGroupView {
    /// Group name.
    pub name: String,
    /// Nodes it has (being deleted ones left out).
    pub nodes: u32,
    /// Fewest nodes, when the group is elastic.
    pub min: Option<u32>,
    /// Most nodes, when the group is elastic.
    pub max: Option<u32>,
}

/// `GET /v1/self`: who the calling node is.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeSelf {
    /// Cluster name.
    pub cluster: String,
    /// Owner of the cluster.
    pub owner: String,
    /// The calling node's name.
    pub node: String,
    /// Its node group.
    pub group: String,
    /// Its address in the cluster's network.
    pub address: String,
    /// When Corral created it (the request that added it), seconds since the Unix
    /// epoch: software that must start after that request, such as a Slurm worker
    /// resumed by its ResumeProgram, waits for the next second from here.
    #[serde(default)]
    pub created_at: u64,
    /// Every node group of the cluster.
    pub groups: Vec<NodeGroupView>,
}

/// `POST /v1/scale`: one of `nodes` (exact size), `change` (change in capacity) or
/// `add`/`remove` (nodes by name, `<group>-<index>`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NodeScaleRequest {
    /// The node group to resize.
    pub group: String,
    /// Exact size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Nodes to add (positive) or remove (negative).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub change: Option<i64>,
    /// Nodes to create by name; ones that exist are left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub add: Vec<String>,
    /// Nodes to delete by name; ones that do not exist are left as they are.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub remove: Vec<String>,
}

/// How a [`NodeScaleRequest`] asks to resize, once checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ScaleKind {
    /// Exact size.
    To(u32),
    /// Change in capacity.
    Change(i64),
    /// Nodes by name.
    Named {
        /// To create.
        add: Vec<String>,
        /// To delete.
        remove: Vec<String>,
    },
}

impl NodeScaleRequest {
    /// Which of the three forms this is; refuses none or several.
    pub fn kind(&self) -> Result<ScaleKind, ApiError> {
        let named = !self.add.is_empty() || !self.remove.is_empty();
        match (self.nodes, self.change, named) {
            (Some(n), None, false) => Ok(ScaleKind::To(n)),
            (None, Some(c), false) => Ok(ScaleKind::Change(c)),
            (None, None, true) => Ok(ScaleKind::Named {
                add: self.add.clone(),
                remove: self.remove.clone(),
            }),
            _ => Err(ApiError::invalid(
                "give exactly one of `nodes` (exact size), `change` (change in capacity) or `add`/`remove` (nodes by name)",
            )),
        }
    }
}

/// The answer to a scale request.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeScaleResponse {
    /// The node group.
    pub group: String,
    /// Size before.
    pub from: u32,
    /// Size after.
    pub to: u32,
    /// Nodes created.
    pub added: Vec<String>,
    /// Nodes removed.
    pub removed: Vec<String>,
    /// The operation to watch; `null` when the group already was as asked.
    pub operation: Option<String>,
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse(s: &str) -> Result<ScaleKind, String> {
        let r: NodeScaleRequest = serde_json::from_str(s).map_err(|e| e.to_string())?;
        r.kind().map_err(|e| e.message)
    }

    #[test]
    fn the_three_forms_and_nothing_else() {
        assert_eq!(parse(r#"{"group":"worker","nodes":4}"#), Ok(ScaleKind::To(4)));
        assert_eq!(parse(r#"{"group":"worker","change":-1}"#), Ok(ScaleKind::Change(-1)));
        assert_eq!(
            parse(r#"{"group":"worker","add":["worker-3"],"remove":["worker-1"]}"#),
            Ok(ScaleKind::Named {
                add: vec!["worker-3".into()],
                remove: vec!["worker-1".into()]
            })
        );
        assert!(parse(r#"{"group":"worker"}"#).is_err());
        assert!(parse(r#"{"group":"worker","nodes":2,"change":1}"#).is_err());
        assert!(parse(r#"{"group":"worker","nodes":-2}"#).is_err());
        assert!(parse(r#"{"group":"worker","nodes":2,"color":"red"}"#).is_err());
        assert!(parse(r#"{"nodes":2}"#).is_err());
    }
}
