//! `/v1/clusters`: create, list, show, scale, stop, start, delete, events.

use std::sync::Arc;

use axum::extract::{Path, Query, State};
use axum::http::StatusCode;
use axum::Json;
use corral_api::{Cluster, ClusterSpec, Event, Operation, ScaleRequest};
use serde::Deserialize;

use super::auth::Caller;
use super::body::Body;
use super::error::HttpResult;
use crate::cluster;
use crate::context::Context;

/// `?owner=` lets the admin act on another user's cluster.
#[derive(Debug, Default, Deserialize)]
pub struct OwnerQuery {
    /// Owner of the cluster; the caller when absent.
    pub owner: Option<String>,
}

type Accepted = (StatusCode, Json<Operation>);

fn accepted(op: crate::operation::OperationRecord) -> Accepted {
    (StatusCode::ACCEPTED, Json(op.op))
}

/// `GET /v1/clusters`.
pub async fn list(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<Vec<Cluster>>> {
    let mut out = Vec::new();
    for c in cluster::list(&ctx, &caller.0)? {
        out.push(cluster::view(&ctx, &c)?);
    }
    Ok(Json(out))
}

/// `POST /v1/clusters`: validates, admits and records; agents do the rest.
pub async fn create(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Body(spec): Body<ClusterSpec>,
) -> HttpResult<Accepted> {
    Ok(accepted(cluster::create(&ctx, &caller.0, spec).await?))
}

/// `GET /v1/clusters/{name}`.
pub async fn show(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Cluster>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    Ok(Json(cluster::view(&ctx, &doc.value)?))
}

/// `DELETE /v1/clusters/{name}`.
pub async fn delete(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::delete(&ctx, &caller.0, q.owner.as_deref(), &name).await?,
    ))
}

/// `POST /v1/clusters/{name}/scale`.
pub async fn scale(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
    Body(req): Body<ScaleRequest>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::scale(&ctx, &caller.0, q.owner.as_deref(), &name, req).await?,
    ))
}

/// `POST /v1/clusters/{name}/stop`.
pub async fn stop(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::set_running(&ctx, &caller.0, q.owner.as_deref(), &name, false).await?,
    ))
}

/// `POST /v1/clusters/{name}/start`.
pub async fn start(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Accepted> {
    Ok(accepted(
        cluster::set_running(&ctx, &caller.0, q.owner.as_deref(), &name, true).await?,
    ))
}

/// `GET /v1/clusters/{name}/events`.
pub async fn events(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Query(q): Query<OwnerQuery>,
) -> HttpResult<Json<Vec<Event>>> {
    let doc = cluster::get(&ctx, &caller.0, q.owner.as_deref(), &name)?;
    Ok(Json(crate::event::list(
        &ctx,
        &format!("clusters/{}", doc.value.name),
        500,
    )?))
}
