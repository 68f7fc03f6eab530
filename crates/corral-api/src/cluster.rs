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

/// Seconds after a change of size in which triggers leave the size alone, by default.
pub const DEFAULT_COOLDOWN: u64 = 60;

/// A node group's elasticity: its bounds and what moves its size between them. Any
/// combination of triggers may be given; with none, only manual and in-cluster
/// requests change the size (always within the bounds).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[schema(example = json!({
    "min": 1, "max": 8, "cooldown": 60,
    "metrics": {"window": 300, "scale_out_above": 70, "scale_in_below": 20,
        "scale_out": {"change_in_percentage": {"percent": 50, "min_step": 1}},
        "scale_in": {"change_in_capacity": -1}},
    "schedule": {"timezone": "Europe/Stockholm",
        "rules": [{"days": "mon-fri", "start": "08:00", "end": "20:00", "min": 4}]},
    "queue": {"probe": "slurm", "idle_time": 300}
}))]
#[serde(deny_unknown_fields)]
pub struct ElasticSpec {
    /// Fewest nodes.
    pub min: u32,
    /// Most nodes.
    pub max: u32,
    /// Seconds after any change of size (trigger, manual or from inside) in which the
    /// metrics and idle-queue triggers do not change it again; default 60. Bounds,
    /// calendar floors and a queue asking for nodes are not held back.
    #[serde(default = "default_cooldown")]
    pub cooldown: u64,
    /// Grow or shrink on the group's mean cpu use.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub metrics: Option<MetricsTrigger>,
    /// Floors on the size by time of day and week.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub schedule: Option<ScheduleSpec>,
    /// Grow for the batch queue's pending jobs, shrink nodes it leaves idle.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub queue: Option<QueueTrigger>,
}

fn default_cooldown() -> u64 {
    DEFAULT_COOLDOWN
}

impl ElasticSpec {
    /// Bounds only: no triggers, the default cooldown.
    pub fn bounds(min: u32, max: u32) -> Self {
        ElasticSpec {
            min,
            max,
            cooldown: DEFAULT_COOLDOWN,
            metrics: None,
            schedule: None,
            queue: None,
        }
    }
}

/// A change of size, as OpenStack Senlin defines them; written as a one-key mapping,
/// e.g. `{"change_in_capacity": 1}`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case", try_from = "AdjustmentMap", into = "AdjustmentMap")]
pub enum Adjustment {
    /// Set the size to this many nodes.
    ExactCapacity(u32),
    /// Add this many nodes (negative: remove).
    ChangeInCapacity(i32),
    /// Change by a percentage of the current size (negative: shrink), by at least
    /// `min_step` nodes.
    ChangeInPercentage {
        /// Percent of the current size.
        percent: i32,
        /// Least change in nodes when the percentage rounds lower; default 1.
        #[serde(default = "default_min_step")]
        min_step: u32,
    },
}

fn default_min_step() -> u32 {
    1
}

/// The one-key mapping an [`Adjustment`] is written as. Through a struct rather than
/// serde's enum form, since YAML's parser wants enums as `!tags` once a document has
/// been read into a `Value`, and people write mappings.
#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct AdjustmentMap {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    exact_capacity: Option<u32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    change_in_capacity: Option<i32>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    change_in_percentage: Option<Percentage>,
}

#[derive(Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Percentage {
    percent: i32,
    #[serde(default = "default_min_step")]
    min_step: u32,
}

impl TryFrom<AdjustmentMap> for Adjustment {
    type Error = String;

    fn try_from(m: AdjustmentMap) -> Result<Self, String> {
        match (m.exact_capacity, m.change_in_capacity, m.change_in_percentage) {
            (Some(n), None, None) => Ok(Adjustment::ExactCapacity(n)),
            (None, Some(n), None) => Ok(Adjustment::ChangeInCapacity(n)),
            (None, None, Some(p)) => Ok(Adjustment::ChangeInPercentage {
                percent: p.percent,
                min_step: p.min_step,
            }),
            _ => Err("an adjustment is one of exact_capacity: N, change_in_capacity: N, \
                      change_in_percentage: {percent: P, min_step: N}"
                .to_string()),
        }
    }
}

impl From<Adjustment> for AdjustmentMap {
    fn from(a: Adjustment) -> Self {
        let mut m = AdjustmentMap {
            exact_capacity: None,
            change_in_capacity: None,
            change_in_percentage: None,
        };
        match a {
            Adjustment::ExactCapacity(n) => m.exact_capacity = Some(n),
            Adjustment::ChangeInCapacity(n) => m.change_in_capacity = Some(n),
            Adjustment::ChangeInPercentage { percent, min_step } => {
                m.change_in_percentage = Some(Percentage { percent, min_step })
            }
        }
        m
    }
}

/// Grow or shrink on the group's mean cpu use over a window. Use is a percentage of
/// the nodes' cpu limits (100 = every node uses all the cpu it may), averaged over
/// the samples of the group's nodes in the window.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct MetricsTrigger {
    /// The window, seconds; default 300.
    #[serde(default = "default_window")]
    pub window: u64,
    /// Grow when the mean is above this percentage (1–100); absent: never grow.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_out_above: Option<u32>,
    /// Shrink when the mean is below this percentage (1–99); absent: never shrink.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scale_in_below: Option<u32>,
    /// How to grow; default one node more.
    #[serde(default = "default_scale_out")]
    pub scale_out: Adjustment,
    /// How to shrink; default one node less.
    #[serde(default = "default_scale_in")]
    pub scale_in: Adjustment,
}

fn default_window() -> u64 {
    300
}
fn default_scale_out() -> Adjustment {
    Adjustment::ChangeInCapacity(1)
}
fn default_scale_in() -> Adjustment {
    Adjustment::ChangeInCapacity(-1)
}

/// Calendar rules in a time zone: while a rule applies, the group has at least its
/// `min` nodes (the highest of the rules that apply).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleSpec {
    /// An IANA time zone, e.g. `Europe/Stockholm`; default `UTC`.
    #[serde(default = "default_timezone")]
    pub timezone: String,
    /// The rules.
    pub rules: Vec<ScheduleRuleSpec>,
}

fn default_timezone() -> String {
    "UTC".to_string()
}

/// One calendar rule.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct ScheduleRuleSpec {
    /// Days it applies: `mon-fri`, `sat,sun`, `mon,wed-fri`, or `daily`.
    #[serde(default = "default_days")]
    pub days: String,
    /// Local time it starts, `HH:MM`.
    pub start: String,
    /// Local time it ends (exclusive), `HH:MM`; earlier than `start` runs past
    /// midnight.
    pub end: String,
    /// Fewest nodes while it applies.
    pub min: u32,
}

fn default_days() -> String {
    "daily".to_string()
}

/// The batch system a queue trigger asks.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum QueueProbeKind {
    /// Slurm: `squeue` for pending jobs, `sinfo` for idle and busy nodes.
    Slurm,
}

/// Grow for pending jobs, shrink nodes left idle.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct QueueTrigger {
    /// The batch system.
    pub probe: QueueProbeKind,
    /// Seconds a node stays idle before it is removed; default 300.
    #[serde(default = "default_idle_time")]
    pub idle_time: u64,
    /// Node group whose first running node runs the probe's commands; default `head`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub probe_group: Option<String>,
}

fn default_idle_time() -> u64 {
    300
}

/// What last changed a node group's size.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
pub struct GroupScaling {
    /// When its size last changed, seconds since the Unix epoch.
    pub last_scaled: u64,
    /// The change and why, e.g. "scaled worker 2→6: 4 jobs pending needing 6 nodes".
    pub last_decision: String,
    /// Who asked: a user, `elastic` (the elasticity manager) or `node:<name>`.
    pub actor: String,
}

/// Shell scripts run inside a node at points of its life, with the cluster's environment.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct LifecycleScripts {
    /// Run once, the first time the node starts. What must run at every start (a
    /// daemon) goes into an executable in `/etc/corral/on-start.d/`, which the node's
    /// init runs at each start.
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
    /// The last change of size of each node group that changed, by group name.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub scaling: BTreeMap<String, GroupScaling>,
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
    fn adjustments_are_one_key_mappings() {
        for (text, a) in [
            (r#"{"exact_capacity":3}"#, Adjustment::ExactCapacity(3)),
            (r#"{"change_in_capacity":-1}"#, Adjustment::ChangeInCapacity(-1)),
            (
                r#"{"change_in_percentage":{"percent":50,"min_step":2}}"#,
                Adjustment::ChangeInPercentage {
                    percent: 50,
                    min_step: 2,
                },
            ),
        ] {
            assert_eq!(serde_json::from_str::<Adjustment>(text).unwrap(), a);
            assert_eq!(serde_json::to_string(&a).unwrap(), text);
        }
        let a: Adjustment = serde_json::from_str(r#"{"change_in_percentage":{"percent":-20}}"#).unwrap();
        assert_eq!(
            a,
            Adjustment::ChangeInPercentage {
                percent: -20,
                min_step: 1
            }
        );
        let err = serde_json::from_str::<Adjustment>(r#"{"exact_capacity":3,"change_in_capacity":1}"#).unwrap_err();
        assert!(err.to_string().contains("one of"), "{err}");
        assert!(serde_json::from_str::<Adjustment>(r#"{"grow":1}"#).is_err());
    }

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
