//! The REST API: one module per resource, sharing the error, auth and body helpers.

mod auth;
mod body;
mod clusters;
mod error;
pub(crate) mod events;
mod exec_ws;
mod hosts;
mod images;
mod metrics;
mod migrate;
mod nodes;
mod openapi;
mod operations;
mod page;
mod power;
mod query;
mod responses;
mod templates;
mod ui;
mod users;

use std::sync::Arc;

use axum::routing::{get, post, put};
use axum::Router;

use crate::context::Context;

pub use error::{not_found, HttpError};

/// Largest request body accepted, except image uploads which stream to disk.
const MAX_BODY: usize = 1 << 20;

/// All routes of the API.
pub fn router(ctx: Arc<Context>) -> Router {
    let api = Router::new()
        .route("/v1/login", post(users::login))
        .route("/v1/whoami", get(users::whoami))
        .route("/v1/users", get(users::list).post(users::create))
        .route("/v1/users/{name}/ssh-keys", post(users::add_key))
        .route("/v1/clusters", get(clusters::list).post(clusters::create))
        .route("/v1/templates", get(templates::list))
        .route("/v1/clusters/{name}", get(clusters::show).delete(clusters::delete))
        .route("/v1/clusters/{name}/scale", post(clusters::scale))
        .route("/v1/clusters/{name}/stop", post(clusters::stop))
        .route("/v1/clusters/{name}/start", post(clusters::start))
        .route("/v1/clusters/{name}/events", get(clusters::events))
        .route(
            "/v1/clusters/{name}/credential/rotate",
            post(clusters::rotate_credential),
        )
        .route("/v1/clusters/{name}/metrics", get(metrics::cluster))
        .route("/v1/clusters/{name}/nodes", get(nodes::list))
        .route("/v1/clusters/{name}/nodes/{node}", get(nodes::show))
        .route("/v1/clusters/{name}/nodes/{node}/exec", post(nodes::exec))
        .route("/v1/clusters/{name}/nodes/{node}/exec/ws", get(exec_ws::upgrade))
        .route("/v1/clusters/{name}/nodes/{node}/save", post(nodes::save))
        .route("/v1/clusters/{name}/nodes/{node}/metrics", get(metrics::node))
        .route("/v1/images", get(images::list))
        .route("/v1/images/build", post(images::build))
        .route("/v1/images/{name}", get(images::show).delete(images::delete))
        .route("/v1/images/{name}/share", post(images::share))
        .route("/v1/images/{name}/unshare", post(images::unshare))
        .route("/v1/hosts", get(hosts::list))
        .route("/v1/hosts/join-tokens", post(hosts::join_token))
        .route("/v1/hosts/{name}", get(hosts::show).delete(hosts::remove))
        .route("/v1/hosts/{name}/drain", post(migrate::drain))
        .route("/v1/hosts/{name}/restore", post(migrate::restore))
        .route("/v1/hosts/{name}/power", put(power::set).delete(power::clear))
        .route("/v1/hosts/{name}/power/on", post(power::on))
        .route("/v1/hosts/{name}/power/off", post(power::off))
        .route("/v1/energy", get(power::energy))
        .route("/v1/clusters/{name}/nodes/{node}/migrate", post(migrate::migrate))
        .route("/v1/operations", get(operations::list))
        .route("/v1/operations/{id}", get(operations::show))
        .route("/v1/events", get(operations::events))
        .route("/v1/openapi.json", get(openapi::serve))
        .route("/v1/events/stream", get(events::stream))
        .layer(axum::extract::DefaultBodyLimit::max(MAX_BODY));
    // Image import streams the archive to disk, so it has no body limit.
    let uploads = Router::new()
        .route("/v1/images/import", post(images::import))
        .layer(axum::extract::DefaultBodyLimit::disable());
    // The web UI has explicit routes, so unknown API paths still get the JSON 404.
    api.merge(uploads)
        .route("/", get(ui::index))
        .route("/index.html", get(ui::index))
        .route("/assets/{*path}", get(ui::asset))
        .route("/metrics", get(crate::metrics::serve))
        .fallback(error::not_found)
        .layer(axum::middleware::from_fn_with_state(ctx.clone(), crate::metrics::track))
        .with_state(ctx)
}
