//! Host power (admin): how a host is switched, `PUT`/`DELETE /v1/hosts/{name}/power`,
//! and switching it by hand, `POST /v1/hosts/{name}/power/on|off`.

use std::sync::Arc;

use axum::extract::{Path, State};
use axum::Json;
use corral_api::{ApiError, EnergyReport, Host, PowerConfig};

use super::auth::{require_admin, Caller};
use super::body::Body;
use super::error::HttpResult;
use super::migrate::host_view;
use super::responses::{AdminOnly, Internal, NoSuchHost, Unauthorized};
use crate::context::Context;
use crate::{event, power};

/// `PUT /v1/hosts/{name}/power`: sets the driver that switches the host.
#[utoipa::path(
    put,
    path = "/v1/hosts/{name}/power",
    operation_id = "set_host_power",
    tag = "hosts",
    params(("name" = String, Path, description = "Host name")),
    request_body(description = "The power driver and its settings (JSON, or YAML with a `yaml` content type)", content((PowerConfig = "application/json"), (PowerConfig = "application/yaml"))),
    responses(
        (status = 200, description = "The host, now managed by the power manager (secrets are never shown)", body = Host),
        (status = 400, description = "Malformed body (`malformed_request`) or an unusable setting (`invalid_request`)", body = ApiError),
        Unauthorized,
        AdminOnly,
        NoSuchHost,
        (status = 409, description = "The host runs this server (`corral up`): Corral does not power off its own machine (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn set(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
    Body(config): Body<PowerConfig>,
) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let driver = config.driver();
    let rec = power::configure(&ctx, &name, Some(config))?;
    event::record(
        &ctx,
        &caller.0.name,
        &format!("hosts/{name}"),
        "host.power_configured",
        format!("power switched by the {driver} driver"),
    );
    Ok(Json(host_view(&ctx, &rec)?))
}

/// `DELETE /v1/hosts/{name}/power`: Corral stops switching the host.
#[utoipa::path(
    delete,
    path = "/v1/hosts/{name}/power",
    operation_id = "clear_host_power",
    tag = "hosts",
    params(("name" = String, Path, description = "Host name")),
    responses(
        (status = 200, description = "The host, no longer switched by Corral", body = Host),
        Unauthorized,
        AdminOnly,
        NoSuchHost,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn clear(
    State(ctx): State<Arc<Context>>,
    caller: Caller,
    Path(name): Path<String>,
) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = power::configure(&ctx, &name, None)?;
    Ok(Json(host_view(&ctx, &rec)?))
}

/// `POST /v1/hosts/{name}/power/on`: powers the host on now.
#[utoipa::path(
    post,
    path = "/v1/hosts/{name}/power/on",
    operation_id = "power_on_host",
    tag = "hosts",
    params(("name" = String, Path, description = "Host name")),
    responses(
        (status = 200, description = "The host, powering on (a driver failure shows in `power.error`)", body = Host),
        Unauthorized,
        AdminOnly,
        NoSuchHost,
        (status = 409, description = "The host has no power driver (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn on(State(ctx): State<Arc<Context>>, caller: Caller, Path(name): Path<String>) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = power::manual(&ctx, &name, true).await?;
    Ok(Json(host_view(&ctx, &rec)?))
}

/// `POST /v1/hosts/{name}/power/off`: powers the host off now; refused while it holds nodes.
#[utoipa::path(
    post,
    path = "/v1/hosts/{name}/power/off",
    operation_id = "power_off_host",
    tag = "hosts",
    params(("name" = String, Path, description = "Host name")),
    responses(
        (status = 200, description = "The host, powering off (a driver failure shows in `power.error`)", body = Host),
        Unauthorized,
        AdminOnly,
        NoSuchHost,
        (status = 409, description = "The host holds nodes, or has no power driver (`conflict`)", body = ApiError),
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn off(State(ctx): State<Arc<Context>>, caller: Caller, Path(name): Path<String>) -> HttpResult<Json<Host>> {
    require_admin(&caller)?;
    let rec = power::manual(&ctx, &name, false).await?;
    Ok(Json(host_view(&ctx, &rec)?))
}

/// `GET /v1/energy`: the energy the pool drew, what it saved against keeping every host
/// on, and what each cluster and project was charged.
#[utoipa::path(
    get,
    path = "/v1/energy",
    operation_id = "energy",
    tag = "hosts",
    responses(
        (status = 200, description = "The pool's energy since accounting started", body = EnergyReport),
        Unauthorized,
        AdminOnly,
        Internal,
    ),
    security(("bearer" = [])),
)]
pub async fn energy(State(ctx): State<Arc<Context>>, caller: Caller) -> HttpResult<Json<EnergyReport>> {
    require_admin(&caller)?;
    Ok(Json(ctx.energy.report()))
}
