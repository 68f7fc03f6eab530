//! The OpenAPI 3 document of the REST API, generated from the handlers'
//! `#[utoipa::path]` annotations and the wire types of `corral-api` (one set of types for
//! the server, the CLI and the UI), served without authentication at
//! `GET /v1/openapi.json`.

use std::sync::LazyLock;

use axum::http::header::CONTENT_TYPE;
use axum::response::IntoResponse;
use corral_api::{ApiError, ErrorCode};
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::schema::{ObjectBuilder, Type};
use utoipa::openapi::security::{HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, ResponseBuilder};
use utoipa::{Modify, OpenApi};

use super::{clusters, events, exec_ws, hosts, images, metrics, migrate, nodes, operations, power, templates, users};

/// The document: every endpoint of [`super::router`].
#[derive(OpenApi)]
#[openapi(
    info(
        title = "Corral",
        description = "Cluster-as-a-Service: clusters of lightweight nodes on a pool of hosts. \
            Authenticate with `POST /v1/login` and send the token as `Authorization: Bearer TOKEN`. \
            Every error response carries an `ApiError` body whose `code` is stable; clients match \
            on it, never on the message. Requests that take time answer 202 with an `Operation` \
            to poll at `GET /v1/operations/{id}` (with `?wait_ms=` as a long poll). Request bodies \
            are JSON, or YAML when the content type says `yaml`, typed as strictly as JSON \
            (quote a YAML `true`, `null` or `8080` meant as a string). Lists take `?limit=` and \
            `?after=` and answer a JSON array, with a `Link: <URL>; rel=\"next\"` header while \
            more items follow."
    ),
    paths(
        users::login,
        users::whoami,
        users::list,
        users::create,
        users::add_key,
        clusters::list,
        clusters::create,
        templates::list,
        clusters::show,
        clusters::delete,
        clusters::scale,
        clusters::stop,
        clusters::start,
        clusters::rotate_credential,
        clusters::events,
        nodes::list,
        nodes::show,
        nodes::exec,
        exec_ws::upgrade,
        nodes::save,
        metrics::cluster,
        metrics::node,
        migrate::migrate,
        images::list,
        images::build,
        images::import,
        images::show,
        images::delete,
        images::share,
        images::unshare,
        hosts::list,
        hosts::join_token,
        hosts::show,
        hosts::remove,
        migrate::drain,
        migrate::restore,
        power::set,
        power::clear,
        power::on,
        power::off,
        power::energy,
        operations::list,
        operations::show,
        operations::events,
        events::stream,
        serve,
    ),
    components(schemas(ApiError, ErrorCode)),
    modifiers(&Extras),
    tags(
        (name = "users", description = "Logins, tokens, users and their SSH keys"),
        (name = "clusters", description = "Clusters: create, scale, stop, start, delete"),
        (name = "nodes", description = "Nodes of a cluster: show, run commands, save as image, migrate"),
        (name = "images", description = "Images: build, import, share, delete"),
        (name = "hosts", description = "The pool's hosts (admin only)"),
        (name = "operations", description = "Asynchronous requests in flight"),
        (name = "events", description = "Lifecycle and audit events"),
        (name = "metrics", description = "History of the nodes' cpu, memory, network and disk use (24 h)"),
        (name = "meta", description = "This document and the server's metrics"),
    )
)]
pub struct ApiDoc;

/// What the derive cannot say: the bearer scheme, and `/metrics` (Prometheus text, not
/// a JSON endpoint, served by `crate::metrics`).
struct Extras;

impl Modify for Extras {
    fn modify(&self, doc: &mut utoipa::openapi::OpenApi) {
        let components = doc.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(
                HttpBuilder::new()
                    .scheme(HttpAuthScheme::Bearer)
                    .description(Some("A token from `POST /v1/login`"))
                    .build(),
            ),
        );
        let text = ContentBuilder::new()
            .schema(Some(ObjectBuilder::new().schema_type(Type::String)))
            .build();
        let metrics = OperationBuilder::new()
            .operation_id(Some("metrics"))
            .tag("meta")
            .summary(Some("Prometheus metrics"))
            .description(Some(
                "Request counts and latencies by route template, scheduler passes and placements, \
                 in the OpenMetrics text format.",
            ))
            .response(
                "200",
                ResponseBuilder::new()
                    .description("The metrics")
                    .content("application/openmetrics-text; version=1.0.0; charset=utf-8", text)
                    .build(),
            )
            .build();
        doc.paths
            .paths
            .insert("/metrics".to_string(), PathItem::new(HttpMethod::Get, metrics));
    }
}

/// The document as JSON, made once.
static DOCUMENT: LazyLock<String> = LazyLock::new(|| {
    ApiDoc::openapi()
        .to_pretty_json()
        .expect("the OpenAPI document serialises")
});

/// `GET /v1/openapi.json`: this document; no token needed.
#[utoipa::path(
    get,
    path = "/v1/openapi.json",
    operation_id = "openapi",
    tag = "meta",
    responses((status = 200, description = "The OpenAPI 3 document of this API", content_type = "application/json")),
)]
pub async fn serve() -> impl IntoResponse {
    ([(CONTENT_TYPE, "application/json")], DOCUMENT.as_str())
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    /// `(METHOD, path)` of every `.route(...)` in [`super::super::router`], read from
    /// its source so a route added there without an annotation fails this test.
    fn registered() -> BTreeSet<(String, String)> {
        let src = include_str!("mod.rs");
        let mut rest = &src[src.find("pub fn router(").expect("router in mod.rs")..];
        let mut out = BTreeSet::new();
        while let Some(i) = rest.find(".route(") {
            let args = &rest[i + ".route(".len()..];
            let mut depth = 1;
            let end = args
                .char_indices()
                .find(|&(_, c)| {
                    depth += match c {
                        '(' => 1,
                        ')' => -1,
                        _ => 0,
                    };
                    depth == 0
                })
                .map(|(j, _)| j)
                .expect("balanced .route( call");
            let call = &args[..end];
            let path = call.split('"').nth(1).expect("a literal path");
            // The web UI's files are not part of the API.
            if path == "/" || path == "/index.html" || path.starts_with("/assets/") {
                rest = &args[end..];
                continue;
            }
            let mut methods = 0;
            for m in ["get", "post", "put", "patch", "delete"] {
                if call.contains(&format!(" {m}(")) || call.contains(&format!(".{m}(")) {
                    out.insert((m.to_uppercase(), path.to_string()));
                    methods += 1;
                }
            }
            assert!(methods > 0, "cannot read the methods of {call:?}");
            rest = &args[end..];
        }
        out
    }

    /// `(METHOD, path)` of every operation in the document.
    fn documented(doc: &utoipa::openapi::OpenApi) -> BTreeSet<(String, String)> {
        let mut out = BTreeSet::new();
        for (path, item) in &doc.paths.paths {
            for (m, op) in [
                ("GET", &item.get),
                ("POST", &item.post),
                ("PUT", &item.put),
                ("PATCH", &item.patch),
                ("DELETE", &item.delete),
            ] {
                if op.is_some() {
                    out.insert((m.to_string(), path.clone()));
                }
            }
        }
        out
    }

    #[test]
    fn every_route_is_documented_and_nothing_else() {
        let routes = registered();
        assert!(routes.len() >= 35, "{routes:?}");
        let doc = documented(&ApiDoc::openapi());
        let missing: Vec<_> = routes.difference(&doc).collect();
        assert!(missing.is_empty(), "routes without #[utoipa::path]: {missing:?}");
        let extra: Vec<_> = doc.difference(&routes).collect();
        assert!(extra.is_empty(), "documented but not routed: {extra:?}");
    }

    #[test]
    fn operations_have_unique_ids_errors_and_security() {
        let doc: serde_json::Value = serde_json::from_str(&DOCUMENT).unwrap();
        assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
        let public = ["login", "openapi", "metrics"];
        let mut ids = BTreeSet::new();
        for (path, item) in doc["paths"].as_object().unwrap() {
            for (method, op) in item.as_object().unwrap() {
                let id = op["operationId"]
                    .as_str()
                    .unwrap_or_else(|| panic!("{method} {path}: no id"));
                assert!(ids.insert(id.to_string()), "duplicate operationId {id}");
                let responses = op["responses"].as_object().unwrap();
                if !public.contains(&id) {
                    assert_eq!(op["security"][0]["bearer"], serde_json::json!([]), "{id}");
                    assert!(responses.contains_key("401"), "{id}: no 401");
                }
                for (status, r) in responses {
                    if status.starts_with('4') || status.starts_with('5') {
                        let schema = &r["content"]["application/json"]["schema"]["$ref"];
                        assert_eq!(schema, "#/components/schemas/ApiError", "{id} {status}");
                    }
                }
            }
        }
        assert!(doc["components"]["securitySchemes"]["bearer"]["scheme"] == "bearer");
    }
}
