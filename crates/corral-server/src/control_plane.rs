//! The server's side of the agent protocol, called in-process by agents that run in
//! the same process (`corral up`); the network transport for remote agents wraps the
//! same functions.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use corral_agent::{AgentError, ControlPlane};
use corral_api::agent::{
    Assignments, ClusterRequest, DesiredState, MetricsReport, NodeAnswer, NodeAssignment, NodeReport, PeerHost,
    SegmentPeers,
};
use corral_api::NodeState;
use corral_api::RegisterRequest;
use corral_store::{typed, Compare, Op};

use crate::cluster::ClusterRecord;
use crate::context::Context;
use crate::error::Result;
use crate::node::{self, Desired, MigrationPhase, NodeRecord};
use crate::{event, host, keys};

/// Longest time an assignments call waits for a change.
const LONG_POLL: Duration = Duration::from_secs(25);

/// The nodes assigned to a host, built from the store, and the last revision at
/// which any node or cluster changed.
pub fn assignments_of(ctx: &Context, host_name: &str) -> Result<(Assignments, u64)> {
    let revision = ctx.store.revision()?;
    let node_docs = node::all(ctx)?;
    let cluster_docs = typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)?;
    let host_docs = typed::list::<crate::host::HostRecord>(ctx.store.as_ref(), keys::HOSTS)?;
    let changed_at = node_docs
        .iter()
        .map(|d| d.revision)
        .chain(cluster_docs.iter().map(|d| d.revision))
        .chain(host_docs.iter().map(|d| d.revision))
        .max()
        .unwrap_or(0);
    let nodes: Vec<NodeRecord> = node_docs.into_iter().map(|d| d.value).collect();
    let clusters: HashMap<String, ClusterRecord> = cluster_docs
        .into_iter()
        .map(|d| (d.value.uid.clone(), d.value))
        .collect();
    let mut peers: HashMap<&str, Vec<(String, String)>> = HashMap::new();
    for n in nodes.iter().filter(|n| n.desired != Desired::Deleted) {
        peers
            .entry(n.cluster_uid.as_str())
            .or_default()
            .push((n.name.clone(), n.address.clone()));
    }
    let mut out = Vec::new();
    for n in &nodes {
        if n.host.as_deref() != Some(host_name) || n.desired == Desired::Deleted {
            continue;
        }
        let Some(c) = clusters.get(&n.cluster_uid) else {
            continue;
        };
        let mut p = peers.get(n.cluster_uid.as_str()).cloned().unwrap_or_default();
        p.sort();
        let phase = n.migration.as_ref().map(|m| m.phase);
        let stopping = phase == Some(MigrationPhase::Stopping);
        let moving = phase == Some(MigrationPhase::Moving);
        out.push(NodeAssignment {
            id: n.id.clone(),
            cluster: n.cluster.clone(),
            cluster_uid: n.cluster_uid.clone(),
            project: c.owner.clone(),
            name: n.name.clone(),
            desired: if n.desired == Desired::Running && !stopping {
                DesiredState::Running
            } else {
                DesiredState::Stopped
            },
            image_digest: n.image_digest.clone(),
            cpu_millis: n.cpu_millis,
            memory_bytes: n.memory_bytes,
            pids_max: n.pids_max,
            address: n.address.clone(),
            mac: n.mac.clone(),
            network: c.network.clone(),
            peers: p,
            env: crate::cluster::env(c),
            scripts: c.spec.scripts.clone(),
            ssh: c.ssh.clone(),
            recovered: n.recovered,
            export_upper: stopping,
            import_upper: moving,
            credential: c.credential.clone(),
        });
    }
    let hosts: Vec<crate::host::HostRecord> = host_docs.into_iter().map(|d| d.value).collect();
    let segments = segment_peers(host_name, &hosts, &nodes, &clusters);
    let mut protected: Vec<String> = hosts.into_iter().map(|h| h.address).filter(|a| !a.is_empty()).collect();
    protected.sort();
    protected.dedup();
    Ok((
        Assignments {
            revision,
            nodes: out,
            segments,
            protected,
        },
        changed_at,
    ))
}

/// For every cluster with nodes on `host_name`, the other hosts holding its nodes:
/// what the host's VXLAN forwarding entries must say.
fn segment_peers(
    host_name: &str,
    hosts: &[crate::host::HostRecord],
    nodes: &[NodeRecord],
    clusters: &HashMap<String, ClusterRecord>,
) -> Vec<SegmentPeers> {
    let addresses: HashMap<&str, &str> = hosts.iter().map(|h| (h.name.as_str(), h.address.as_str())).collect();
    let placed = || {
        nodes
            .iter()
            .filter(|n| n.desired != Desired::Deleted && n.host.is_some())
    };
    let mut mine: Vec<&str> = placed()
        .filter(|n| n.host.as_deref() == Some(host_name))
        .map(|n| n.cluster_uid.as_str())
        .collect();
    mine.sort();
    mine.dedup();
    let mut out = Vec::new();
    for uid in mine {
        let Some(c) = clusters.get(uid) else { continue };
        let mut by_host: std::collections::BTreeMap<String, Vec<String>> = Default::default();
        for n in placed().filter(|n| n.cluster_uid == uid && n.host.as_deref() != Some(host_name)) {
            let addr = n
                .host
                .as_deref()
                .and_then(|h| addresses.get(h))
                .copied()
                .unwrap_or_default();
            if !addr.is_empty() {
                by_host.entry(addr.to_string()).or_default().push(n.mac.clone());
            }
        }
        let peers = by_host.into_iter().map(|(address, mut macs)| {
            macs.sort();
            PeerHost { address, macs }
        });
        out.push(SegmentPeers {
            vni: c.network.vni,
            peers: peers.collect(),
        });
    }
    out
}

/// Applies an agent's reports to the node records.
pub fn apply_reports(ctx: &Context, host_name: &str, reports: &[NodeReport]) -> Result<()> {
    for r in reports {
        apply_report(ctx, host_name, r)?;
    }
    Ok(())
}

/// Adds a host's samples to the history of the nodes it holds; samples of nodes it
/// does not hold (any more) are dropped.
pub fn apply_metrics(ctx: &Context, host_name: &str, report: &MetricsReport) -> Result<()> {
    for n in &report.nodes {
        let Some(doc) = find_node(ctx, &n.id)? else {
            continue;
        };
        if doc.value.host.as_deref() == Some(host_name) && doc.value.desired != Desired::Deleted {
            ctx.metrics_history.record(&n.id, report.interval_secs, &n.samples);
        }
    }
    Ok(())
}

pub(crate) fn find_node(ctx: &Context, id: &str) -> Result<Option<typed::Doc<NodeRecord>>> {
    // Ids are `<8 hex uid>-<name>`: the key is found without a scan.
    let Some((uid, name)) = id.split_once('-') else {
        return Ok(None);
    };
    Ok(typed::get(ctx.store.as_ref(), &keys::node(uid, name))?)
}

fn apply_report(ctx: &Context, host_name: &str, r: &NodeReport) -> Result<()> {
    for _ in 0..20 {
        let Some(doc) = find_node(ctx, &r.id)? else {
            return Ok(());
        };
        let n = &doc.value;
        if n.host.as_deref() != Some(host_name) {
            // A report from a host the node no longer belongs to says nothing about it.
            return Ok(());
        }
        let target = format!("clusters/{}/nodes/{}", n.cluster, n.name);
        let compare = [Compare::ModRevision(doc.key.clone(), doc.revision)];
        if r.removed {
            if n.desired != Desired::Deleted {
                return Ok(());
            }
            if ctx.store.txn(&compare, &[Op::Delete(doc.key.clone())])?.is_some() {
                event::record_owned(ctx, "corral", &n.owner, &target, "node.deleted", "deleted");
                return Ok(());
            }
            continue;
        }
        if n.desired == Desired::Deleted {
            return Ok(());
        }
        let mut m = n.clone();
        m.state = r.state;
        m.error = r.error.clone();
        m.started_at = r.started_at;
        let new_ooms = r.oom_kills.saturating_sub(n.oom_kills);
        m.oom_kills = r.oom_kills;
        let arrived = crate::migration::finish_if_arrived(ctx, &mut m, host_name);
        if &m == n {
            return Ok(());
        }
        if ctx.store.txn(&compare, &[typed::put_op(&doc.key, &m)?])?.is_some() {
            if m.state != n.state {
                let msg = match (&m.state, &m.error) {
                    (NodeState::Failed, Some(e)) => format!("failed: {e}"),
                    (s, _) => s.as_str().to_string(),
                };
                event::record_owned(
                    ctx,
                    "corral",
                    &n.owner,
                    &target,
                    &format!("node.{}", m.state.as_str()),
                    msg,
                );
            }
            if arrived {
                event::record_owned(
                    ctx,
                    "corral",
                    &n.owner,
                    &target,
                    "node.migrated",
                    format!("now on {host_name}"),
                );
            }
            if new_ooms > 0 {
                event::record_owned(
                    ctx,
                    "corral",
                    &n.owner,
                    &target,
                    "node.oom",
                    format!(
                        "out of memory: the kernel killed {new_ooms} process(es) in the node (limit {} MiB)",
                        m.memory_bytes >> 20
                    ),
                );
            }
            return Ok(());
        }
    }
    Ok(())
}

/// The control plane for agents running inside the server's process.
pub struct InProcessControlPlane {
    ctx: Arc<Context>,
}

impl InProcessControlPlane {
    /// A control plane over a context.
    pub fn new(ctx: Arc<Context>) -> Arc<Self> {
        Arc::new(InProcessControlPlane { ctx })
    }
}

fn cp_err(e: crate::error::ServerError) -> AgentError {
    AgentError::ControlPlane(e.to_string())
}

#[async_trait]
impl ControlPlane for InProcessControlPlane {
    async fn register(&self, host_name: &str, req: RegisterRequest) -> std::result::Result<(), AgentError> {
        host::register(&self.ctx, host_name, req).map_err(cp_err)
    }

    async fn assignments(&self, host_name: &str, after: u64) -> std::result::Result<Assignments, AgentError> {
        let mut watch = self.ctx.store.watch();
        let deadline = tokio::time::Instant::now() + LONG_POLL;
        let (first, changed_at) = assignments_of(&self.ctx, host_name).map_err(cp_err)?;
        if after == 0 || changed_at > after {
            return Ok(first);
        }
        let mut last = first;
        loop {
            let relevant = tokio::select! {
                _ = tokio::time::sleep_until(deadline) => return Ok(last),
                ev = watch.recv() => match ev {
                    Ok(ev) => [keys::NODES, keys::CLUSTERS, keys::HOSTS].iter().any(|k| ev.key.starts_with(k)),
                    Err(_) => true,
                },
            };
            if !relevant {
                continue;
            }
            // Let a burst of writes (a 32-node create is one transaction, but reports
            // and placements follow) settle into one assignment set.
            tokio::time::sleep(Duration::from_millis(2)).await;
            while watch.try_recv().is_ok() {}
            let (next, _) = assignments_of(&self.ctx, host_name).map_err(cp_err)?;
            if next.nodes != last.nodes || next.segments != last.segments || next.protected != last.protected {
                return Ok(next);
            }
            last = next;
        }
    }

    async fn upload_upper(
        &self,
        host_name: &str,
        id: &str,
        upper: &std::path::Path,
    ) -> std::result::Result<(), AgentError> {
        let tmp = crate::migration::upper_tmp_path(&self.ctx, id);
        let src = upper.to_path_buf();
        let ctx = self.ctx.clone();
        let (host, id) = (host_name.to_string(), id.to_string());
        tokio::task::spawn_blocking(move || -> std::result::Result<(), AgentError> {
            if let Some(dir) = tmp.parent() {
                std::fs::create_dir_all(dir).map_err(|e| cp_err(crate::error::ServerError::Internal(e.to_string())))?;
            }
            let mut f =
                std::fs::File::create(&tmp).map_err(|e| cp_err(crate::error::ServerError::Internal(e.to_string())))?;
            corral_image::export_dir(&src, &mut f)
                .map_err(|e| cp_err(crate::error::ServerError::Internal(e.to_string())))?;
            crate::migration::upper_received(&ctx, &host, &id).map_err(cp_err)
        })
        .await
        .map_err(|e| AgentError::ControlPlane(e.to_string()))?
    }

    async fn download_upper(
        &self,
        _host: &str,
        id: &str,
        dest: &std::path::Path,
    ) -> std::result::Result<(), AgentError> {
        let tar = crate::migration::upper_path(&self.ctx, id);
        let dest = dest.to_path_buf();
        tokio::task::spawn_blocking(move || corral_agent::unpack_upper(&tar, &dest))
            .await
            .map_err(|e| AgentError::ControlPlane(e.to_string()))?
    }

    async fn metrics(&self, host_name: &str, report: MetricsReport) -> std::result::Result<(), AgentError> {
        apply_metrics(&self.ctx, host_name, &report).map_err(cp_err)
    }

    async fn heartbeat(&self, host_name: &str) -> std::result::Result<(), AgentError> {
        host::touch(&self.ctx, host_name).map_err(cp_err)
    }

    async fn report(&self, host_name: &str, reports: Vec<NodeReport>) -> std::result::Result<(), AgentError> {
        apply_reports(&self.ctx, host_name, &reports).map_err(cp_err)
    }

    async fn cluster_request(
        &self,
        host_name: &str,
        req: ClusterRequest,
    ) -> std::result::Result<NodeAnswer, AgentError> {
        crate::in_cluster::handle(&self.ctx, host_name, &req)
            .await
            .map_err(|e| AgentError::Refused(e.to_api()))
    }
}
