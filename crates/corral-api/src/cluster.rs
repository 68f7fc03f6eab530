//! Clusters: the spec a user writes (flags or a spec file) and what the API returns.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use crate::node::Node;

/// Default cpu per node when the spec says nothing.
pub const DEFAULT_CPU: &str = "1";
/// Default memory per node when the spec says nothing.
pub const DEFAULT_MEMORY: &str = "512MiB";
/// Default process limit per node.
pub const DEFAULT_PIDS: u32 = 1024;

/// Per-node resource limits as people write them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct Resources {
    /// Cpu share, e.g. `1`, `0.5`, `500m`.
    #[serde(default = "default_cpu")]
    pub cpu: String,
    /// Memory limit, e.g. `512MiB`, `1GiB`.
    #[serde(default = "default_memory")]
    pub memory: String,
    /// Maximum number of processes in the node.
    #[serde(default = "default_pids")]
    pub pids: u32,
}

fn default_cpu() -> String {
    DEFAULT_CPU.to_string()
}
fn default_memory() -> String {
    DEFAULT_MEMORY.to_string()
}
fn default_pids() -> u32 {
    DEFAULT_PIDS
}

impl Default for Resources {
    fn default() -> Self {
        Resources {
            cpu: default_cpu(),
            memory: default_memory(),
            pids: DEFAULT_PIDS,
        }
    }
}

/// A group of alike nodes, named `<group>-<index>`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct NodeGroupSpec {
    /// Group name; nodes are `<name>-0`, `<name>-1`, ...
    pub name: String,
    /// Desired number of nodes.
    pub count: u32,
    /// Overrides the cluster's per-node resources for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resources: Option<Resources>,
    /// Overrides the cluster's image for this group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image: Option<String>,
    /// Keeps the group's size within [min, max], moved by triggers; `count` is then
    /// the size it starts at.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub elastic: Option<ElasticSpec>,
}

/// A node group's elasticity: its bounds and what moves its size between them.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ElasticSpec {
    /// Fewest nodes.
    pub min: u32,
    /// Most nodes.
    pub max: u32,
}

/// Shell scripts run inside a node at points of its life, with the cluster's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleScripts {
    /// Run once, the first time the node starts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_create: Option<String>,
    /// Run before the node is deleted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_destroy: Option<String>,
    /// Run when the node was recreated after its host was lost.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub on_recovery: Option<String>,
}

impl LifecycleScripts {
    /// Whether no script is set.
    pub fn is_empty(&self) -> bool {
        self.on_create.is_none() && self.on_destroy.is_none() && self.on_recovery.is_none()
    }
}

/// What a user asks for: the body of `POST /v1/clusters` and the content of a spec file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "name": "demo",
    "image": "minimal",
    "node_groups": [{"name": "web", "count": 2}, {"name": "db", "count": 1, "resources": {"cpu": "2", "memory": "1GiB", "pids": 1024}}],
    "resources": {"cpu": "500m", "memory": "256MiB", "pids": 512},
    "env": {"APP_ENV": "test"},
    "placement": "spread"
}))]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Cluster name (a DNS label).
    pub name: String,
    /// Image name for every node unless a group overrides it.
    pub image: String,
    /// Node groups; when empty, one group `node` with `nodes` members is made.
    #[serde(default)]
    pub node_groups: Vec<NodeGroupSpec>,
    /// Shorthand for a single group `node` of this size.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nodes: Option<u32>,
    /// Per-node resources.
    #[serde(default)]
    pub resources: Resources,
    /// Lifecycle scripts.
    #[serde(default, skip_serializing_if = "LifecycleScripts::is_empty")]
    pub scripts: LifecycleScripts,
    /// Environment variables set in every node and its scripts.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub env: BTreeMap<String, String>,
    /// A subnet in CIDR form; chosen by Corral when absent.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet: Option<String>,
    /// How the nodes are put on hosts.
    #[serde(default, skip_serializing_if = "Placement::is_default")]
    pub placement: Placement,
    /// Labels every host of the cluster's nodes must carry, e.g. `site: a`.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub constraints: BTreeMap<String, String>,
    /// What happens to the nodes of a lost host: recreated elsewhere, or left down.
    #[serde(default, skip_serializing_if = "Recovery::is_default")]
    pub recovery: Recovery,
    /// How many nodes may be down at once for maintenance (drain); default 1.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_unavailable: Option<u32>,
}

/// What Corral does with the nodes of a host that is lost.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Recovery {
    /// Recreate them on other hosts: same names and addresses, fresh writable layers,
    /// on-recovery script.
    #[default]
    Auto,
    /// Leave them down (failed) until their host returns.
    None,
}

impl Recovery {
    /// Whether this is the default (`auto`).
    pub fn is_default(&self) -> bool {
        *self == Recovery::Auto
    }
}

/// How a cluster's nodes are put on hosts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Hash, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Placement {
    /// On different hosts where possible, then the least loaded: a lost host takes
    /// few of the cluster's nodes with it.
    #[default]
    Spread,
    /// On the fewest hosts (best fit), so the others can be powered off.
    Pack,
}

impl Placement {
    /// Whether this is the default (`spread`).
    pub fn is_default(&self) -> bool {
        *self == Placement::Spread
    }

    /// The name used in specs and flags.
    pub fn as_str(&self) -> &'static str {
        match self {
            Placement::Spread => "spread",
            Placement::Pack => "pack",
        }
    }
}

impl std::fmt::Display for Placement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Placement {
    type Err = String;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s {
            "spread" => Ok(Placement::Spread),
            "pack" => Ok(Placement::Pack),
            _ => Err(format!("placement is `spread` or `pack`, not {s:?}")),
        }
    }
}

impl ClusterSpec {
    /// The node groups, with the `nodes` shorthand expanded.
    pub fn groups(&self) -> Vec<NodeGroupSpec> {
        if self.node_groups.is_empty() {
            vec![NodeGroupSpec {
                name: "node".into(),
                count: self.nodes.unwrap_or(1),
                resources: None,
                image: None,
                elastic: None,
            }]
        } else {
            self.node_groups.clone()
        }
    }
}

/// Lifecycle state of a cluster, derived from its nodes and the last request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ClusterState {
    /// Nodes are being made.
    Creating,
    /// Every node is running.
    Running,
    /// Some nodes are not running though they should be.
    Degraded,
    /// Nodes are being stopped.
    Stopping,
    /// Every node is stopped.
    Stopped,
    /// The cluster is being deleted.
    Deleting,
}

/// The network segment of a cluster.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct NetworkInfo {
    /// 24-bit segment identifier (the VXLAN VNI across hosts).
    pub vni: u32,
    /// Subnet in CIDR form.
    pub subnet: String,
    /// Gateway address on the host side.
    pub gateway: String,
    /// MTU inside the nodes.
    pub mtu: u32,
}

/// A cluster as the API returns it.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize, ToSchema)]
pub struct Cluster {
    /// Cluster name.
    pub name: String,
    /// The user who owns it.
    pub owner: String,
    /// The spec it was created from, with the current desired group sizes.
    pub spec: ClusterSpec,
    /// Current state.
    pub state: ClusterState,
    /// Its private network.
    pub network: NetworkInfo,
    /// Its nodes.
    pub nodes: Vec<Node>,
    /// Creation time, seconds since the Unix epoch.
    pub created_at: u64,
}

/// Body of `POST /v1/clusters/{name}/scale`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({"group": "web", "nodes": 4}))]
#[serde(deny_unknown_fields)]
pub struct ScaleRequest {
    /// Node group to resize; may be omitted when the cluster has one group.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub group: Option<String>,
    /// Desired number of nodes in the group.
    pub nodes: u32,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn placement_and_constraints_default_and_round_trip() {
        let spec: ClusterSpec = serde_json::from_str(r#"{"name":"a","image":"minimal"}"#).unwrap();
        assert_eq!(spec.placement, Placement::Spread);
        assert!(spec.constraints.is_empty());
        let text = serde_json::to_string(&spec).unwrap();
        assert!(!text.contains("placement") && !text.contains("constraints"), "{text}");

        let spec: ClusterSpec =
            serde_json::from_str(r#"{"name":"a","image":"minimal","placement":"pack","constraints":{"site":"b"}}"#)
                .unwrap();
        assert_eq!(spec.placement, Placement::Pack);
        assert_eq!(spec.constraints["site"], "b");
        let back: ClusterSpec = serde_json::from_str(&serde_json::to_string(&spec).unwrap()).unwrap();
        assert_eq!(back, spec);
        assert!(serde_json::from_str::<ClusterSpec>(r#"{"name":"a","image":"m","placement":"scatter"}"#).is_err());
        assert_eq!("pack".parse::<Placement>(), Ok(Placement::Pack));
        assert!("Pack".parse::<Placement>().is_err());
    }
}
