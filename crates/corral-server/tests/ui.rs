//! The embedded web UI: `/` serves index.html (or, in a binary built without the UI,
//! a page saying how to build it), hashed assets get their content type and a long
//! cache, and API paths keep their JSON answers.

mod support;

use std::sync::Arc;

use axum::body::Body;
use axum::http::{header, Request, StatusCode};
use corral_server::Context;
use http_body_util::BodyExt;
use tower::ServiceExt;

fn context(dir: &tempfile::TempDir) -> Arc<Context> {
    support::context(dir)
}

async fn get(ctx: &Arc<Context>, path: &str, etag: Option<&str>) -> (StatusCode, axum::http::HeaderMap, String) {
    let mut req = Request::builder().uri(path);
    if let Some(t) = etag {
        req = req.header(header::IF_NONE_MATCH, t);
    }
    let resp = corral_server::router(ctx.clone())
        .oneshot(req.body(Body::empty()).unwrap())
        .await
        .unwrap();
    let (status, headers) = (resp.status(), resp.headers().clone());
    let body = resp.into_body().collect().await.unwrap().to_bytes();
    (status, headers, String::from_utf8_lossy(&body).into_owned())
}

/// The `/assets/...` paths index.html refers to.
fn assets(html: &str) -> Vec<String> {
    html.split(['"', '\''])
        .filter(|s| s.starts_with("/assets/"))
        .map(str::to_string)
        .collect()
}

#[tokio::test]
async fn index_and_assets_are_served_with_types_and_caching() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let (status, h, html) = get(&ctx, "/", None).await;
    assert_eq!(status, StatusCode::OK);
    assert_eq!(h[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(h[header::CACHE_CONTROL], "no-cache");
    if !html.contains("id=\"app\"") {
        // Built before `scripts/web.sh`: the page says what to do.
        assert!(html.contains("scripts/web.sh"), "{html}");
        return;
    }
    let found = assets(&html);
    assert!(found.iter().any(|a| a.ends_with(".js")), "no script in {html}");
    assert!(found.iter().any(|a| a.ends_with(".css")), "no style sheet in {html}");
    for a in found {
        let (status, h, _) = get(&ctx, &a, None).await;
        assert_eq!(status, StatusCode::OK, "{a}");
        let ty = h[header::CONTENT_TYPE].to_str().unwrap();
        let want = match a.rsplit('.').next().unwrap() {
            "js" => "text/javascript",
            "css" => "text/css",
            "svg" => "image/svg+xml",
            other => panic!("unexpected asset type {other}"),
        };
        assert!(ty.starts_with(want), "{a}: {ty}");
        assert_eq!(h[header::CACHE_CONTROL], "public, max-age=31536000, immutable", "{a}");
        // A browser holding the same version is told so without the body.
        let etag = h[header::ETAG].to_str().unwrap().to_string();
        let (status, _, body) = get(&ctx, &a, Some(&etag)).await;
        assert_eq!(status, StatusCode::NOT_MODIFIED, "{a}");
        assert!(body.is_empty());
    }
}

#[tokio::test]
async fn api_paths_keep_their_json_answers() {
    let dir = tempfile::tempdir().unwrap();
    let ctx = context(&dir);
    let (status, h, body) = get(&ctx, "/v1/no-such-thing", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    assert!(h[header::CONTENT_TYPE]
        .to_str()
        .unwrap()
        .starts_with("application/json"));
    assert!(body.contains("\"not_found\""), "{body}");
    let (status, _, body) = get(&ctx, "/v1/clusters", None).await;
    assert_eq!(status, StatusCode::UNAUTHORIZED, "{body}");
    let (status, _, _) = get(&ctx, "/assets/no-such-file.js", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
    let (status, _, _) = get(&ctx, "/no-such-page", None).await;
    assert_eq!(status, StatusCode::NOT_FOUND);
}
