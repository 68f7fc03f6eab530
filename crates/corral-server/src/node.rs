//! Nodes as stored: desired state set by the API and loops, observed state set by
//! agents' reports.

use corral_api::{Node, NodeState};
use corral_store::typed;
use serde::{Deserialize, Serialize};

use crate::context::Context;
use crate::error::Result;
use crate::keys;

/// What the controller wants of a node.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum Desired {
    /// Running.
    Running,
    /// Stopped, writable layer kept.
    Stopped,
    /// Gone.
    Deleted,
}

/// A stored node.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct NodeRecord {
    /// Runtime id, `<cluster uid>-<name>`, unique in the pool.
    pub id: String,
    /// Cluster uid.
    pub cluster_uid: String,
    /// Cluster name.
    pub cluster: String,
    /// Cluster owner.
    pub owner: String,
    /// Node name.
    pub name: String,
    /// Node group.
    pub group: String,
    /// Index in the group.
    pub index: u32,
    /// Address in the cluster's subnet.
    pub address: String,
    /// MAC address.
    pub mac: String,
    /// Host, once placed.
    pub host: Option<String>,
    /// What the controller wants.
    pub desired: Desired,
    /// Image name.
    pub image: String,
    /// Image manifest digest.
    pub image_digest: String,
    /// Cpu limit in millicpus.
    pub cpu_millis: u32,
    /// Memory limit in bytes.
    pub memory_bytes: u64,
    /// Process limit.
    pub pids_max: u32,
    /// Last observed state.
    pub state: NodeState,
    /// Why it failed or waits.
    pub error: Option<String>,
    /// OOM kills seen.
    pub oom_kills: u64,
    /// When init last started.
    pub started_at: Option<u64>,
    /// Creation time.
    pub created_at: u64,
    /// Whether it was recreated after host loss.
    pub recovered: bool,
    /// A cold migration in progress.
    #[serde(default)]
    pub migration: Option<Migration>,
}

/// Where a cold migration is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum MigrationPhase {
    /// The source host stops the node and sends its writable layer.
    Stopping,
    /// The node is assigned to the target, which fetches the layer and starts it.
    Moving,
}

/// A cold migration: stop, move the writable layer, start elsewhere with the same
/// name, address and MAC.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Migration {
    /// Source host.
    pub from: String,
    /// Target host.
    pub to: String,
    /// Phase.
    pub phase: MigrationPhase,
}

impl NodeRecord {
    /// The runtime id of a node.
    pub fn make_id(cluster_uid: &str, name: &str) -> String {
        format!("{cluster_uid}-{name}")
    }

    /// The API view.
    pub fn to_api(&self) -> Node {
        Node {
            cluster: self.cluster.clone(),
            name: self.name.clone(),
            group: self.group.clone(),
            state: self.state,
            address: self.address.clone(),
            host: self.host.clone(),
            image: self.image.clone(),
            cpu_millis: self.cpu_millis,
            memory_bytes: self.memory_bytes,
            pids_max: self.pids_max,
            oom_kills: self.oom_kills,
            error: self.error.clone(),
            created_at: self.created_at,
            started_at: self.started_at,
        }
    }
}

/// The nodes of a cluster, with revisions, in name order.
pub fn of_cluster(ctx: &Context, cluster_uid: &str) -> Result<Vec<typed::Doc<NodeRecord>>> {
    Ok(typed::list(ctx.store.as_ref(), &keys::nodes_of(cluster_uid))?)
}

/// Every node of the pool.
pub fn all(ctx: &Context) -> Result<Vec<typed::Doc<NodeRecord>>> {
    Ok(typed::list(ctx.store.as_ref(), keys::NODES)?)
}

/// A MAC address derived from the node id: stable across restarts and moves, locally
/// administered and unicast.
pub fn mac_for(id: &str) -> String {
    use sha2::Digest;
    let h = sha2::Sha256::digest(id.as_bytes());
    format!("02:{:02x}:{:02x}:{:02x}:{:02x}:{:02x}", h[0], h[1], h[2], h[3], h[4])
}
