//! `/v1/clusters/{name}/metrics` and `/v1/clusters/{name}/nodes/{node}/metrics`: the
//! kept samples of a cluster's nodes, for charts. (Prometheus metrics are
//! `crate::metrics`.)

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use corral_api::{ApiError, NodeMetrics};
use serde::Deserialize;

use super::auth::Caller;
use super::error::HttpResult;
use super::query::Query;
use super::responses::{Internal, NotFound, Unauthorized};
use crate::cluster;
use crate::context::Context;
use crate::node::{self, Desired, NodeRecord};

/// Interval reported for a node no sample arrived from yet: the agents' default.
const DEFAULT_INTERVAL_SECS: u32 = 10;

/// Query of the metrics routes.
#[derive(Debug, Default, Deserialize, utoipa::IntoParams)]
#[into_params(parameter_in = Query)]
pub struct MetricsQuery {
    /// Only samples taken after this time, seconds since the Unix epoch; all kept
    /// samples (up to 24 h) when absent.
    pub since: Option<u64>,
    /// Owner of the cluster; the caller when absent (the admin may name any user).
    pub owner: Option<String>,
}

fn node_metrics(ctx: &Context, n: &NodeRecord, since: u64) -> NodeMetrics {
    let (interval_secs, samples) = ctx
        .metrics_history
        .samples(&n.id, since)
        .unwrap_or((DEFAULT_INTERVAL_SECS, Vec::new()));
    NodeMetrics {
        cluster: n.cluster.clone(),
        node: n.name.clone(),
        interval_secs,
        samples,
    }
}

/// `GET /v1/clusters/{name}/metrics`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/metrics",
    operation_id = "get_cluster_metrics",
    tag = "metrics",
    params(("name" = String, Path, description = "Cluster name"), MetricsQuery),
    responses(
        (status = 200, description = "Samples of every node of the cluster, in node name order", body = [NodeMetrics]),
        (status = 400, description = "A malformed query (`invalid_request`)", body = ApiError),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn cluster(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<MetricsQuery>,
) -> HttpResult<Json<Vec<NodeMetrics>>> {
    let c = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    let mut nodes: Vec<NodeRecord> = node::of_cluster(&ctx, &c.value.uid)?
        .into_iter()
        .map(|d| d.value)
        .filter(|n| n.desired != Desired::Deleted)
        .collect();
    nodes.sort_by(|a, b| (&a.group, a.index).cmp(&(&b.group, b.index)));
    let since = q.since.unwrap_or(0);
    Ok(Json(nodes.iter().map(|n| node_metrics(&ctx, n, since)).collect()))
}

/// `GET /v1/clusters/{name}/nodes/{node}/metrics`.
#[utoipa::path(
    get,
    path = "/v1/clusters/{name}/nodes/{node}/metrics",
    operation_id = "get_node_metrics",
    tag = "metrics",
    params(
        ("name" = String, Path, description = "Cluster name"),
        ("node" = String, Path, description = "Node name, `<group>-<index>`"),
        MetricsQuery,
    ),
    responses(
        (status = 200, description = "The node's samples, oldest first", body = NodeMetrics),
        (status = 400, description = "A malformed query (`invalid_request`)", body = ApiError),
        Unauthorized,
        NotFound,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn node(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path((name, node_name)): Path<(String, String)>,
    Query(q): Query<MetricsQuery>,
) -> HttpResult<Json<NodeMetrics>> {
    let n = super::nodes::find(&ctx, &caller.0, q.owner.as_deref(), &name, &node_name)?;
    Ok(Json(node_metrics(&ctx, &n, q.since.unwrap_or(0))))
}
