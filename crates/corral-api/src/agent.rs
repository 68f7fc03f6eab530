//! The server–agent protocol: what a host is told to run and what it reports back.
//! Used in-process by `corral up` and over the network between `corral server` and
//! `corral agent`.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::cluster::{LifecycleScripts, NetworkInfo};
use crate::metrics::NodeSample;
use crate::node::NodeState;
use crate::node_api::{NodeScaleRequest, NodeScaleResponse, NodeSelf};

/// What the server wants of one node on a host.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum DesiredState {
    /// Running.
    Running,
    /// Stopped with its writable layer kept.
    Stopped,
}

/// SSH material placed in a node.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SshMaterial {
    /// The cluster's private key (OpenSSH format), so nodes reach each other.
    pub private_key: String,
    /// The cluster's public key.
    pub public_key: String,
    /// Keys allowed to log in as root: the cluster's and the owner's.
    pub authorized_keys: Vec<String>,
}

/// One node a host must run (or keep stopped).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeAssignment {
    /// Stable runtime id on the host: `<cluster uid>-<node name>`.
    pub id: String,
    /// Cluster name.
    pub cluster: String,
    /// Cluster's unique id.
    pub cluster_uid: String,
    /// Project of the cluster (its owner until projects exist), for metric labels.
    #[serde(default)]
    pub project: String,
    /// Node name (hostname).
    pub name: String,
    /// What it should be.
    pub desired: DesiredState,
    /// Image manifest digest.
    pub image_digest: String,
    /// Cpu limit in millicpus.
    pub cpu_millis: u32,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Process limit.
    pub pids_max: u32,
    /// Address in the cluster's subnet.
    pub address: String,
    /// MAC address, `aa:bb:..`.
    pub mac: String,
    /// The cluster's network.
    pub network: NetworkInfo,
    /// Every node of the cluster: (name, address), for the hosts file.
    pub peers: Vec<(String, String)>,
    /// Environment.
    pub env: BTreeMap<String, String>,
    /// Lifecycle scripts.
    pub scripts: LifecycleScripts,
    /// SSH keys.
    pub ssh: SshMaterial,
    /// Whether this node was recreated after its host was lost.
    pub recovered: bool,
    /// Cold migration, source side: once stopped, send the writable layer to the server.
    #[serde(default)]
    pub export_upper: bool,
    /// Cold migration, target side: fetch the writable layer before the first start.
    #[serde(default)]
    pub import_upper: bool,
    /// The cluster's credential for the node API, placed in the node at
    /// `/etc/corral/credential`; empty for clusters made before it existed.
    #[serde(default)]
    pub credential: String,
}

/// Another host holding nodes of a segment, and those nodes' MACs.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct PeerHost {
    /// Underlay address of the host.
    pub address: String,
    /// MACs of the segment's nodes on it.
    pub macs: Vec<String>,
}

/// Who else holds a segment this host has nodes of: where its VXLAN tunnel goes.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct SegmentPeers {
    /// The segment's VNI.
    pub vni: u32,
    /// Other hosts, in address order.
    pub peers: Vec<PeerHost>,
}

/// The full set of nodes a host must hold, at a store revision.
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Assignments {
    /// Store revision this set was read at.
    pub revision: u64,
    /// Nodes; any node the host has that is not listed must go.
    pub nodes: Vec<NodeAssignment>,
    /// For each segment of those nodes, the other hosts holding it.
    #[serde(default)]
    pub segments: Vec<SegmentPeers>,
    /// Underlay addresses of every host of the pool, which nodes may never send to.
    #[serde(default)]
    pub protected: Vec<String>,
}

/// What a host observed of one node.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NodeReport {
    /// Runtime id.
    pub id: String,
    /// Observed state.
    pub state: NodeState,
    /// Why it failed, if it did.
    pub error: Option<String>,
    /// OOM kills inside the node so far.
    pub oom_kills: u64,
    /// When init last started, seconds since the Unix epoch.
    pub started_at: Option<u64>,
    /// True when the node is gone from the host entirely.
    pub removed: bool,
}

/// Samples of one node, taken by its host's agent.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeSamples {
    /// Runtime id.
    pub id: String,
    /// Samples, oldest first.
    pub samples: Vec<NodeSample>,
}

/// A batch of samples a host sends to the server.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct MetricsReport {
    /// Seconds between the host's samples.
    pub interval_secs: u32,
    /// Samples per node.
    pub nodes: Vec<NodeSamples>,
}

/// Capacity a host offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize, utoipa::ToSchema)]
pub struct HostCapacity {
    /// Cpus in millicpus.
    pub cpu_millis: u64,
    /// Memory in bytes.
    pub memory_bytes: u64,
}

/// Body of an agent listener's `POST /v1/host/nodes/{id}/save`: make an image of the
/// node's writable layer on top of `base`, in the host's image store.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct HostSaveRequest {
    /// Digest of the image the node runs.
    pub base: String,
}

/// What a node asks through the node API its host's agent serves.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeRequest {
    /// `GET /v1/self`.
    Describe,
    /// `POST /v1/scale`.
    Scale(NodeScaleRequest),
}

/// The server's answer to a [`NodeRequest`].
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum NodeAnswer {
    /// Who the node is.
    Describe(NodeSelf),
    /// What the resize did.
    Scale(NodeScaleResponse),
}

/// A node's request, forwarded by the agent of the host the node runs on (agent →
/// server, `POST /v1/agent/cluster-requests`). The agent passes the credential the
/// node presented as it is: the server decides.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClusterRequest {
    /// Runtime id of the calling node: the listener it called is that node's own.
    pub node_id: String,
    /// The bearer credential the node presented (empty when it sent none).
    pub credential: String,
    /// What it asks.
    pub request: NodeRequest,
}
