//! Requests from inside a cluster (the node API): software in a node asks, through
//! the agent of the host it runs on, who it is or to resize an elastic node group of
//! its own cluster. Authenticated by the cluster's credential, bounded by the group's
//! `[min, max]`, rate-limited per cluster and audited as a `cluster.scaled` event by
//! `node:<name>`.

use std::collections::{HashMap, HashSet};
use std::sync::Mutex;
use std::time::{Duration, Instant};

use corral_api::agent::{ClusterRequest, NodeAnswer, NodeRequest};
use corral_api::node_api::{NodeGroupView, NodeScaleRequest, NodeScaleResponse, NodeSelf, ScaleKind};
use corral_api::{ApiError, ErrorCode};
use corral_store::typed;

use crate::cluster::{self, ClusterRecord, Resize};
use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::node::{self, Desired, NodeRecord};

/// Requests a cluster may make at once before it is slowed down.
const BURST: f64 = 10.0;
/// Requests a cluster regains per second (one every 2 s).
const REFILL_PER_SEC: f64 = 0.5;

/// A token bucket per cluster, and one lane for resizes asked from inside, so the
/// bounds checked here still hold when the resize is written.
#[derive(Default)]
pub struct NodeApiLimits {
    buckets: Mutex<HashMap<String, Bucket>>,
    serial: tokio::sync::Mutex<()>,
}

#[derive(Debug, Clone, Copy)]
struct Bucket {
    tokens: f64,
    at: Instant,
}

impl NodeApiLimits {
    /// Takes one request of `cluster` at `now`; when none is left, how long until one is.
    fn take(&self, cluster: &str, now: Instant) -> std::result::Result<(), Duration> {
        let mut buckets = self.buckets.lock().unwrap_or_else(|e| e.into_inner());
        let level =
            |b: &Bucket| (b.tokens + now.saturating_duration_since(b.at).as_secs_f64() * REFILL_PER_SEC).min(BURST);
        // A full bucket is the same as none: forgetting them keeps the map as small as
        // the set of clusters that asked lately.
        buckets.retain(|_, b| level(b) < BURST);
        let tokens = buckets.get(cluster).map_or(BURST, level);
        if tokens < 1.0 {
            return Err(Duration::from_secs_f64((1.0 - tokens) / REFILL_PER_SEC));
        }
        buckets.insert(
            cluster.to_string(),
            Bucket {
                tokens: tokens - 1.0,
                at: now,
            },
        );
        Ok(())
    }
}

/// Answers a node's request forwarded by the agent of `host`.
pub async fn handle(ctx: &Context, host: &str, req: &ClusterRequest) -> Result<NodeAnswer> {
    let answer = answer(ctx, host, req).await;
    if let Err(e) = &answer {
        // Refusals are not events (a node retrying with a wrong credential would flood
        // the log users read) but the operator can find them.
        tracing::info!(host, node = %req.node_id, error = %e, "node API request refused");
    }
    answer
}

async fn answer(ctx: &Context, host: &str, req: &ClusterRequest) -> Result<NodeAnswer> {
    let (n, c) = caller(ctx, host, req)?;
    match &req.request {
        NodeRequest::Describe => Ok(NodeAnswer::Describe(describe(ctx, &n, &c)?)),
        NodeRequest::Scale(s) => Ok(NodeAnswer::Scale(scale(ctx, &n, s).await?)),
    }
}

/// The calling node and its cluster, once the node is known to be on `host` and the
/// credential is its cluster's.
fn caller(ctx: &Context, host: &str, req: &ClusterRequest) -> Result<(NodeRecord, ClusterRecord)> {
    let n = crate::control_plane::find_node(ctx, &req.node_id)?
        .map(|d| d.value)
        .filter(|n| n.desired != Desired::Deleted)
        .ok_or_else(|| ApiError::not_found("node", &req.node_id))?;
    if n.host.as_deref() != Some(host) {
        // Only the agent holding a node speaks for it.
        return Err(ApiError::new(
            ErrorCode::Forbidden,
            format!("node {} of cluster {} is not on host {host}", n.name, n.cluster),
        )
        .into());
    }
    let c = typed::get::<ClusterRecord>(ctx.store.as_ref(), &keys::cluster(&n.owner, &n.cluster))?
        .map(|d| d.value)
        .filter(|c| c.uid == n.cluster_uid)
        .ok_or_else(|| ApiError::not_found("cluster", &n.cluster))?;
    if c.credential.is_empty() {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            format!(
                "cluster {} was made before node credentials existed; recreate it to use the node API",
                c.name
            ),
        )
        .into());
    }
    if !same_secret(&c.credential, &req.credential) {
        return Err(ApiError::new(
            ErrorCode::Unauthorized,
            "missing or wrong credential: send `Authorization: Bearer <the content of /etc/corral/credential>`",
        )
        .into());
    }
    Ok((n, c))
}

/// Compares secrets in time independent of where they differ (the length is not
/// secret: every credential is 64 hex digits).
fn same_secret(stored: &str, given: &str) -> bool {
    let (a, b) = (stored.as_bytes(), given.trim().as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let diff = a
        .iter()
        .zip(b)
        .fold(0u8, |acc, (x, y)| std::hint::black_box(acc | (x ^ y)));
    diff == 0
}

fn live_of(ctx: &Context, c: &ClusterRecord) -> Result<Vec<NodeRecord>> {
    Ok(node::of_cluster(ctx, &c.uid)?
        .into_iter()
        .map(|d| d.value)
        .filter(|n| n.desired != Desired::Deleted)
        .collect())
}

fn describe(ctx: &Context, n: &NodeRecord, c: &ClusterRecord) -> Result<NodeSelf> {
    let live = live_of(ctx, c)?;
    let groups = c
        .spec
        .node_groups
        .iter()
        .map(|g| NodeGroupView {
            name: g.name.clone(),
            nodes: live.iter().filter(|m| m.group == g.name).count() as u32,
            min: g.elastic.as_ref().map(|e| e.min),
            max: g.elastic.as_ref().map(|e| e.max),
        })
        .collect();
    Ok(NodeSelf {
        cluster: c.name.clone(),
        owner: c.owner.clone(),
        node: n.name.clone(),
        group: n.group.clone(),
        address: n.address.clone(),
        created_at: n.created_at,
        groups,
    })
}

/// Resizes an elastic group of the caller's cluster within its bounds.
async fn scale(ctx: &Context, n: &NodeRecord, r: &NodeScaleRequest) -> Result<NodeScaleResponse> {
    let kind = r.kind()?;
    let _one_at_a_time = ctx.node_api.serial.lock().await;
    // Read again in the lane: a resize just before this one may have moved the group.
    let c = typed::get::<ClusterRecord>(ctx.store.as_ref(), &keys::cluster(&n.owner, &n.cluster))?
        .map(|d| d.value)
        .ok_or_else(|| ApiError::not_found("cluster", &n.cluster))?;
    let g = c
        .spec
        .node_groups
        .iter()
        .find(|g| g.name == r.group)
        .ok_or_else(|| ApiError::not_found("node group", &r.group))?;
    let bounds = g.elastic.as_ref().ok_or_else(|| {
        ApiError::invalid(format!(
            "node group {:?} is not elastic: only groups with `elastic: {{min, max}}` can be resized from inside the cluster",
            g.name
        ))
    })?;
    let present: HashSet<String> = live_of(ctx, &c)?
        .into_iter()
        .filter(|m| m.group == g.name)
        .map(|m| m.name)
        .collect();
    let current = present.len() as u32;
    let planned = plan(&g.name, current, &present, &n.name, kind)?;
    if planned.to < bounds.min || planned.to > bounds.max {
        return Err(ApiError::invalid(format!(
            "node group {:?} would have {} nodes; it is kept within [{}, {}]",
            g.name, planned.to, bounds.min, bounds.max
        ))
        .into());
    }
    if let Err(wait) = ctx.node_api.take(&c.uid, Instant::now()) {
        return Err(ApiError::new(
            ErrorCode::RateLimited,
            format!(
                "cluster {} asks too often: {BURST} requests at once, then one every {} s; try again in {} s",
                c.name,
                1.0 / REFILL_PER_SEC,
                wait.as_secs_f64().ceil()
            ),
        )
        .into());
    }
    if !planned.changes {
        return Ok(NodeScaleResponse {
            group: g.name.clone(),
            from: current,
            to: current,
            added: Vec::new(),
            removed: Vec::new(),
            operation: None,
        });
    }
    let done = cluster::resize(
        ctx,
        &format!("node:{}", n.name),
        &c.owner,
        &c.name,
        Some(&g.name),
        planned.resize,
        Some(&format!("requested by node {}", n.name)),
    )
    .await?;
    Ok(NodeScaleResponse {
        group: done.group,
        from: done.from,
        to: done.to,
        added: done.added,
        removed: done.removed,
        operation: Some(done.operation.op.id),
    })
}

/// A request turned into the resize to make.
#[derive(Debug)]
struct Planned {
    /// The group's size after it.
    to: u32,
    /// Whether anything changes at all.
    changes: bool,
    resize: Resize,
}

/// The size a request from node `caller` leads to from `current` nodes named `present`.
fn plan(group: &str, current: u32, present: &HashSet<String>, caller: &str, kind: ScaleKind) -> Result<Planned> {
    let exact = |to: u32| Planned {
        to,
        changes: to != current,
        resize: Resize::To {
            nodes: to,
            remove: victims(present, caller, current.saturating_sub(to)),
        },
    };
    match kind {
        ScaleKind::To(to) => Ok(exact(to)),
        ScaleKind::Change(d) => {
            let to = i64::from(current) + d;
            let to = u32::try_from(to)
                .map_err(|_| ApiError::invalid(format!("a change of {d} from {current} nodes leaves no valid size")))?;
            Ok(exact(to))
        }
        ScaleKind::Named { add, remove } => {
            for name in add.iter().chain(&remove) {
                check_node_name(group, name)?;
            }
            if let Some(both) = add.iter().find(|a| remove.contains(a)) {
                return Err(ApiError::invalid(format!("{both:?} is both added and removed")).into());
            }
            let new: HashSet<&String> = add.iter().filter(|a| !present.contains(*a)).collect();
            let gone: HashSet<&String> = remove.iter().filter(|r| present.contains(*r)).collect();
            Ok(Planned {
                to: current + new.len() as u32 - gone.len() as u32,
                changes: !new.is_empty() || !gone.is_empty(),
                resize: Resize::Named { add, remove },
            })
        }
    }
}

/// The `count` nodes a shrink removes: the highest-numbered first, as any resize does,
/// but the node that asked last of all, since it is running whatever asked.
fn victims(present: &HashSet<String>, caller: &str, count: u32) -> Vec<String> {
    let index = |name: &str| name.rsplit_once('-').and_then(|(_, i)| i.parse::<u32>().ok());
    let mut order: Vec<&String> = present.iter().collect();
    order.sort_by_key(|name| (name.as_str() == caller, std::cmp::Reverse(index(name))));
    order.into_iter().take(count as usize).cloned().collect()
}

/// Node names of a group are `<group>-<index>`.
fn check_node_name(group: &str, name: &str) -> Result<()> {
    let index = name
        .strip_prefix(group)
        .and_then(|rest| rest.strip_prefix('-'))
        .and_then(|i| i.parse::<u32>().ok());
    match index {
        Some(i) if i < cluster::MAX_GROUP_NODES && format!("{group}-{i}") == name => Ok(()),
        _ => Err(ApiError::invalid(format!(
            "{name:?} is not a node name of group {group:?} (`{group}-<index>`)"
        ))
        .into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bucket_allows_a_burst_then_one_every_two_seconds() {
        let limits = NodeApiLimits::default();
        let t0 = Instant::now();
        for _ in 0..10 {
            limits.take("c", t0).unwrap();
        }
        let wait = limits.take("c", t0).unwrap_err();
        assert_eq!(wait, Duration::from_secs(2));
        // Other clusters have their own bucket.
        limits.take("d", t0).unwrap();
        assert!(limits.take("c", t0 + Duration::from_millis(1900)).is_err());
        limits.take("c", t0 + Duration::from_secs(2)).unwrap();
        assert!(limits.take("c", t0 + Duration::from_secs(2)).is_err());
        // Refilled to the burst, never beyond, and forgotten when full.
        let later = t0 + Duration::from_secs(3600);
        for _ in 0..10 {
            limits.take("c", later).unwrap();
        }
        assert!(limits.take("c", later).is_err());
        assert_eq!(limits.buckets.lock().unwrap().len(), 1);
    }

    #[test]
    fn secrets_compare_whole() {
        assert!(same_secret("abcd", "abcd"));
        assert!(same_secret("abcd", "abcd\n"));
        assert!(!same_secret("abcd", "abce"));
        assert!(!same_secret("abcd", "abc"));
        assert!(!same_secret("abcd", ""));
    }

    fn names(v: &[&str]) -> HashSet<String> {
        v.iter().map(|s| s.to_string()).collect()
    }

    #[test]
    fn sizes_of_each_form() {
        let present = names(&["worker-0", "worker-1"]);
        let p = plan("worker", 2, &present, "head-0", ScaleKind::Change(-1)).unwrap();
        assert_eq!((p.to, p.changes), (1, true));
        assert!(plan("worker", 2, &present, "head-0", ScaleKind::Change(-3)).is_err());
        let p = plan("worker", 2, &present, "head-0", ScaleKind::To(2)).unwrap();
        assert!(!p.changes);
        let named = |add: &[&str], remove: &[&str]| ScaleKind::Named {
            add: add.iter().map(|s| s.to_string()).collect(),
            remove: remove.iter().map(|s| s.to_string()).collect(),
        };
        let p = plan(
            "worker",
            2,
            &present,
            "head-0",
            named(&["worker-1", "worker-3"], &["worker-0", "worker-7"]),
        )
        .unwrap();
        assert_eq!((p.to, p.changes), (2, true));
        let p = plan("worker", 2, &present, "head-0", named(&["worker-1"], &["worker-5"])).unwrap();
        assert!(!p.changes);
        assert!(plan("worker", 2, &present, "head-0", named(&["head-0"], &[])).is_err());
        assert!(plan("worker", 2, &present, "head-0", named(&["worker-01"], &[])).is_err());
        assert!(plan("worker", 2, &present, "head-0", named(&["worker-4"], &["worker-4"])).is_err());
    }
}
