//! The OpenAPI document: served without a token at `/v1/openapi.json`, OpenAPI 3, with
//! the wire types' schemas, and every path in it answered by the router.

use std::sync::Arc;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use corral_server::{Context, ServerConfig};
use http_body_util::BodyExt;
use serde_json::Value;
use tower::ServiceExt;

fn context(dir: &tempfile::TempDir) -> Arc<Context> {
    let store = Arc::new(corral_store::sqlite::SqliteStore::open(&dir.path().join("state.db")).unwrap());
    let images = corral_image::ImageStore::open(&dir.path().join("images")).unwrap();
    let ctx = Context::new(store, images, ServerConfig::new(dir.path().join("server")));
    corral_server::bootstrap(&ctx).unwrap();
    ctx
}

async fn call(ctx: &Arc<Context>, method: &str, path: &str) -> (StatusCode, Vec<u8>) {
    let req = Request::builder().method(method).uri(path).body(Body::empty()).unwrap();
    let resp = corral_server::router(ctx.clone()).oneshot(req).await.unwrap();
    let status = resp.status();
    (status, resp.into_body().collect().await.unwrap().to_bytes().to_vec())
}

async fn document(ctx: &Arc<Context>) -> Value {
    let (status, body) = call(ctx, "GET", "/v1/openapi.json").await;
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
            let (status, body) = call(&ctx, &method.to_uppercase(), &concrete).await;
            let text = String::from_utf8_lossy(&body);
            assert_ne!(status, StatusCode::METHOD_NOT_ALLOWED, "{method} {path}");
            assert!(!text.contains("no such endpoint"), "{method} {path}: {text}");
        }
    }
}
