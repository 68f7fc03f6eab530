//! The operation tracker: ends operations when what they wait for is true, and
//! finalises deleted clusters once their last node is gone.

use std::sync::Arc;

use corral_api::{ApiError, ErrorCode, NodeState, OperationStatus};
use corral_store::typed;

use crate::cluster::{self, ClusterRecord};
use crate::context::Context;
use crate::error::Result;
use crate::keys;
use crate::node::{self, Desired, NodeRecord};
use crate::operation::{self, WaitFor};

/// Runs the tracker until the process ends.
pub async fn run(ctx: Arc<Context>) {
    let mut watch = ctx.store.watch();
    loop {
        if let Err(e) = pass(&ctx) {
            tracing::warn!(error = %e, "tracker pass failed");
        }
        crate::scheduler::wait_for_change(&mut watch, &[keys::NODES, keys::CLUSTERS, keys::OPERATIONS]).await;
    }
}

fn pass(ctx: &Context) -> Result<()> {
    for doc in typed::list::<ClusterRecord>(ctx.store.as_ref(), keys::CLUSTERS)? {
        cluster::finalise(ctx, &doc)?;
    }
    for doc in operation::all(ctx)? {
        if doc.value.op.status != OperationStatus::Running {
            continue;
        }
        let (status, progress, error) = match &doc.value.wait {
            WaitFor::Task => continue,
            WaitFor::ClusterRunning { uid } => running(ctx, uid)?,
            WaitFor::ClusterStopped { uid } => stopped(ctx, uid)?,
            WaitFor::NodeOn { uid, name, host } => node_on(ctx, uid, name, host)?,
            WaitFor::ClusterGone { uid, key } => {
                let left = node::of_cluster(ctx, uid)?.len();
                if ctx.store.get(key)?.is_none() {
                    (OperationStatus::Succeeded, "deleted".to_string(), None)
                } else {
                    (OperationStatus::Running, format!("{left} nodes left"), None)
                }
            }
        };
        operation::update(ctx, &doc, status, &progress, error)?;
    }
    Ok(())
}

fn live_nodes(ctx: &Context, uid: &str) -> Result<(Vec<NodeRecord>, usize)> {
    let all: Vec<NodeRecord> = node::of_cluster(ctx, uid)?.into_iter().map(|d| d.value).collect();
    let leaving = all.iter().filter(|n| n.desired == Desired::Deleted).count();
    Ok((
        all.into_iter().filter(|n| n.desired != Desired::Deleted).collect(),
        leaving,
    ))
}

type Verdict = (OperationStatus, String, Option<ApiError>);

fn running(ctx: &Context, uid: &str) -> Result<Verdict> {
    let (live, leaving) = live_nodes(ctx, uid)?;
    if let Some(f) = live.iter().find(|n| n.state == NodeState::Failed) {
        let msg = format!("node {} failed: {}", f.name, f.error.clone().unwrap_or_default());
        return Ok((
            OperationStatus::Failed,
            "failed".into(),
            Some(ApiError::new(ErrorCode::Conflict, msg)),
        ));
    }
    let up = live.iter().filter(|n| n.state == NodeState::Running).count();
    let progress = format!("{up}/{} nodes running", live.len());
    if up == live.len() && leaving == 0 {
        return Ok((OperationStatus::Succeeded, progress, None));
    }
    if let Some(p) = live.iter().find(|n| n.host.is_none() && n.error.is_some()) {
        return Ok((
            OperationStatus::Running,
            format!(
                "{progress}; {} pending: {}",
                p.name,
                p.error.clone().unwrap_or_default()
            ),
            None,
        ));
    }
    Ok((OperationStatus::Running, progress, None))
}

fn stopped(ctx: &Context, uid: &str) -> Result<Verdict> {
    let (live, _) = live_nodes(ctx, uid)?;
    let down = live.iter().filter(|n| n.state == NodeState::Stopped).count();
    let progress = format!("{down}/{} nodes stopped", live.len());
    if down == live.len() {
        return Ok((OperationStatus::Succeeded, progress, None));
    }
    Ok((OperationStatus::Running, progress, None))
}

fn node_on(ctx: &Context, uid: &str, name: &str, host: &str) -> Result<Verdict> {
    let Some(n) = node::of_cluster(ctx, uid)?
        .into_iter()
        .map(|d| d.value)
        .find(|n| n.name == name)
    else {
        let e = ApiError::new(ErrorCode::NotFound, format!("node {name} is gone"));
        return Ok((OperationStatus::Failed, "failed".into(), Some(e)));
    };
    if n.state == NodeState::Failed {
        let e = ApiError::new(
            ErrorCode::Conflict,
            format!("node {name} failed: {}", n.error.unwrap_or_default()),
        );
        return Ok((OperationStatus::Failed, "failed".into(), Some(e)));
    }
    match &n.migration {
        None if n.host.as_deref() == Some(host) => Ok((OperationStatus::Succeeded, format!("on {host}"), None)),
        None => {
            let e = ApiError::new(ErrorCode::Conflict, format!("node {name} ended on {:?}", n.host));
            Ok((OperationStatus::Failed, "failed".into(), Some(e)))
        }
        Some(m) => Ok((
            OperationStatus::Running,
            format!("{:?} {} → {}", m.phase, m.from, m.to).to_lowercase(),
            None,
        )),
    }
}
