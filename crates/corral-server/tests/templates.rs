//! `GET /v1/templates`: the built-in cluster templates as specs, which the web UI's
//! create form starts from; a listed spec, named, is one the server accepts.

mod support;

use axum::http::StatusCode;
use support::call;

#[tokio::test]
async fn templates_are_listed_as_specs_the_server_accepts() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = support::pool(&dir, &["h1", "h2"]).await;
    // The Slurm image, faked like `minimal`: admission only needs it to exist.
    let manifest = corral_image::ImageManifest::new(vec![], Default::default(), 0);
    corral_server::ensure_builtin_image(&ctx, "slurm", |_| Ok(manifest)).unwrap();

    let (status, body) = call(&ctx, "GET", "/v1/templates", None, None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");

    let token = support::admin_token(&ctx).await;

    let (status, list) = call(&ctx, "GET", "/v1/templates", Some(&token), None).await;
    assert_eq!(status, StatusCode::OK, "{list}");
    let slurm = list
        .as_array()
        .unwrap()
        .iter()
        .find(|t| t["name"] == "slurm")
        .unwrap_or_else(|| panic!("no slurm template in {list}"))
        .clone();
    assert!(slurm["description"].as_str().unwrap().contains("Slurm"), "{slurm}");
    let mut spec = slurm["spec"].clone();
    assert_eq!(spec["name"], "");
    assert_eq!(spec["image"], "slurm");
    let worker = spec["node_groups"]
        .as_array()
        .unwrap()
        .iter()
        .find(|g| g["name"] == "worker")
        .unwrap();
    assert_eq!(worker["elastic"]["min"], 0, "{worker}");
    assert_eq!(spec["scripts"]["on_create"], spec["scripts"]["on_recovery"]);

    // What a client sends after naming it is a valid create request.
    spec["name"] = "hpc".into();
    let (status, op) = call(&ctx, "POST", "/v1/clusters", Some(&token), Some(spec)).await;
    assert_eq!(status, StatusCode::ACCEPTED, "{op}");

    // Paged like every list.
    let (status, page) = call(&ctx, "GET", "/v1/templates?limit=0", Some(&token), None).await;
    assert_eq!(status, StatusCode::BAD_REQUEST, "{page}");
    assert_eq!(page["code"], "invalid_request");
}
