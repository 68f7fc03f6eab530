//! The OpenAPI document: served without a token at `/v1/openapi.json`, OpenAPI 3, with
//! the wire types' schemas, and every path in it answered by the router.

mod support;

use std::sync::Arc;

use axum::http::StatusCode;
use corral_server::Context;
use serde_json::Value;

fn context(dir: &tempfile::TempDir) -> Arc<Context> {
    support::context(dir)
}

async fn document(ctx: &Arc<Context>) -> Value {
    let (status, _, body) =
        support::send(ctx, "GET", "/v1/openapi.json", "application/json", String::new(), None).await;
    assert_eq!(status, StatusCode::OK, "{}", String::from_utf8_lossy(&body));
    serde_json::from_slice(&body).expect("the document is JSON")
}

#[tokio::test]
async fn document_is_openapi_3_with_the_wire_types() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let doc = document(&ctx).await;
    assert!(doc["openapi"].as_str().unwrap().starts_with("3."), "{}", doc["openapi"]);
    let schemas = doc["components"]["schemas"].as_object().unwrap();
    for name in [
        "ClusterSpec",
        "Cluster",
        "ApiError",
        "ErrorCode",
        "Operation",
        "Node",
        "Image",
        "Host",
        "User",
    ] {
        assert!(schemas.contains_key(name), "no schema {name}: {:?}", schemas.keys());
    }
    // Enums come out as the strings serde writes.
    let codes: Vec<&str> = schemas["ErrorCode"]["enum"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    for code in [
        "malformed_request",
        "not_found",
        "insufficient_capacity",
        "quota_exceeded",
        "internal",
    ] {
        assert!(codes.contains(&code), "{codes:?}");
        let parsed: corral_api::ErrorCode = serde_json::from_value(Value::String(code.into())).unwrap();
        assert_eq!(serde_json::to_value(parsed).unwrap(), code);
    }
    assert_eq!(schemas["ClusterState"]["enum"][0], "creating");
    let spec_fields = schemas["ClusterSpec"]["properties"].as_object().unwrap();
    assert!(spec_fields.contains_key("node_groups") && spec_fields.contains_key("max_unavailable"));
    let required: Vec<&str> = schemas["ClusterSpec"]["required"]
        .as_array()
        .unwrap()
        .iter()
        .map(|v| v.as_str().unwrap())
        .collect();
    assert_eq!(required, ["name", "image"]);
    // The create endpoint takes a ClusterSpec and answers 202 with an Operation.
    let create = &doc["paths"]["/v1/clusters"]["post"];
    assert_eq!(
        create["requestBody"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/ClusterSpec"
    );
    assert_eq!(
        create["responses"]["202"]["content"]["application/json"]["schema"]["$ref"],
        "#/components/schemas/Operation"
    );
    assert!(create["responses"]["422"].is_object());
}

#[tokio::test]
async fn every_documented_operation_is_routed() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let doc = document(&ctx).await;
    let paths = doc["paths"].as_object().unwrap();
    assert!(paths.len() >= 30, "{:?}", paths.keys());
    for (path, item) in paths {
        // `{name}` → `x`: any value reaches the handler, which answers 401 (no token)
        // or 404 for the resource, never the fallback's "no such endpoint" or a 405.
        let concrete: String = path
            .split('/')
            .map(|s| if s.starts_with('{') { "x" } else { s })
            .collect::<Vec<_>>()
            .join("/");
        for method in item.as_object().unwrap().keys() {
            let (status, _, body) = support::send(
                &ctx,
                &method.to_uppercase(),
                &concrete,
                "application/json",
                String::new(),
                None,
            )
            .await;
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!text.contains("no such endpoint"), "{method} {path}: {text}");
        }
    }
}

#[tokio::test]
async fn lists_document_paging_and_every_query_documents_its_400() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let doc = document(&ctx).await;
    let lists = [
        "list_clusters",
        "list_nodes",
        "list_cluster_events",
        "list_images",
        "list_users",
        "list_hosts",
        "list_operations",
        "list_events",
    ];
    let mut seen = Vec::new();
    for (path, item) in doc["paths"].as_object().unwrap() {
        for (method, op) in item.as_object().unwrap() {
            let id = op["operationId"].as_str().unwrap();
            let params: Vec<(&str, &str)> = op["parameters"]
                .as_array()
                .map(|ps| {
                    ps.iter()
                        .map(|p| (p["name"].as_str().unwrap(), p["in"].as_str().unwrap()))
                        .collect()
                })
                .unwrap_or_default();
            // A query string that does not parse is a 400 with the API's error body.
            if params.iter().any(|(_, place)| *place == "query") {
                assert!(op["responses"]["400"].is_object(), "{method} {path} has no 400");
            }
            if lists.contains(&id) {
                seen.push(id);
                for name in ["limit", "after"] {
                    assert!(params.contains(&(name, "query")), "{id}: no {name}");
                }
                let ok = &op["responses"]["200"];
                assert!(ok["headers"]["Link"].is_object(), "{id}: no Link header");
                assert_eq!(ok["content"]["application/json"]["schema"]["type"], "array", "{id}");
            }
        }
    }
    seen.sort();
    let mut want = lists.to_vec();
    want.sort();
    assert_eq!(seen, want);
}

#[tokio::test]
async fn request_examples_are_what_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let doc = document(&ctx).await;
    let schemas = &doc["components"]["schemas"];
    fn parses<T: serde::de::DeserializeOwned>(schemas: &Value, name: &str) {
        let example = &schemas[name]["example"];
        assert!(!example.is_null(), "{name} has no example");
        if let Err(e) = serde_json::from_value::<T>(example.clone()) {
            panic!("the example of {name} does not parse: {e}: {example}");
        }
    }
    parses::<corral_api::ClusterSpec>(schemas, "ClusterSpec");
    parses::<corral_api::ElasticSpec>(schemas, "ElasticSpec");
    parses::<corral_api::ScaleRequest>(schemas, "ScaleRequest");
    parses::<corral_api::ExecRequest>(schemas, "ExecRequest");
    parses::<corral_api::SaveNodeRequest>(schemas, "SaveNodeRequest");
    parses::<corral_api::MigrateRequest>(schemas, "MigrateRequest");
    parses::<corral_api::BuildImageRequest>(schemas, "BuildImageRequest");
    parses::<corral_api::CreateUserRequest>(schemas, "CreateUserRequest");
    parses::<corral_api::LoginRequest>(schemas, "LoginRequest");
    parses::<corral_api::AddSshKeyRequest>(schemas, "AddSshKeyRequest");
    parses::<corral_api::JoinTokenRequest>(schemas, "JoinTokenRequest");
    // Answers too: a client generated from the document can read them.
    parses::<corral_api::Operation>(schemas, "Operation");
    parses::<corral_api::Event>(schemas, "Event");
    parses::<corral_api::Image>(schemas, "Image");
    parses::<corral_api::User>(schemas, "User");
    parses::<corral_api::TokenResponse>(schemas, "TokenResponse");
    parses::<corral_api::JoinToken>(schemas, "JoinToken");
    parses::<corral_api::ExecResult>(schemas, "ExecResult");
    parses::<corral_api::ApiError>(schemas, "ApiError");
}

#[tokio::test]
async fn elasticity_is_in_the_document() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let doc = document(&ctx).await;
    let schemas = &doc["components"]["schemas"];
    let elastic = schemas["ElasticSpec"]["properties"].as_object().unwrap();
    for field in ["min", "max", "cooldown", "metrics", "schedule", "queue"] {
        assert!(elastic.contains_key(field), "ElasticSpec lacks {field}: {elastic:?}");
    }
    for name in [
        "Adjustment",
        "MetricsTrigger",
        "ScheduleSpec",
        "ScheduleRuleSpec",
        "QueueTrigger",
        "GroupScaling",
    ] {
        assert!(schemas[name].is_object(), "no schema {name}");
    }
    assert!(schemas["Cluster"]["properties"]["scaling"].is_object());
    // An adjustment is one of three one-key objects, as serde reads them.
    let variants = schemas["Adjustment"]["oneOf"].as_array().unwrap();
    let keys: Vec<&str> = variants
        .iter()
        .flat_map(|v| v["properties"].as_object().unwrap().keys())
        .map(|k| k.as_str())
        .collect();
    assert_eq!(keys, ["exact_capacity", "change_in_capacity", "change_in_percentage"]);
}
