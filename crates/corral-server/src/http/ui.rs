//! The web UI: the files Vite builds into `web/dist`, embedded in the binary at compile
//! time and served at `/` (index.html) and `/assets/*` (content-hashed bundles).
//!
//! Routes are explicit rather than a catch-all fallback, so every API path keeps its
//! own JSON answers (an unknown `/v1/...` path is still a JSON `not_found`).

use axum::extract::Path;
use axum::http::{header, HeaderMap, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use rust_embed::Embed;

/// The built UI. The folder may be missing (a fresh clone before `scripts/web.sh`);
/// the binary then serves [`NOT_BUILT`] at `/`.
#[derive(Embed)]
#[folder = "../../web/dist/"]
#[allow_missing = true]
struct Dist;

/// Vite names everything under `assets/` by its content hash, so it never changes.
const IMMUTABLE: &str = "public, max-age=31536000, immutable";

/// index.html names the current bundles, so browsers must ask again each time.
const REVALIDATE: &str = "no-cache";

/// What `/` shows when the binary was built without the UI.
const NOT_BUILT: &str = "<!doctype html><meta charset=utf-8><title>Corral</title>\
<body style=\"font-family:sans-serif;max-width:40em;margin:4em auto\">\
<h1>Corral</h1><p>This corral binary was built without its web UI.</p>\
<p>Build the UI with <code>scripts/web.sh</code> (needs Node.js 20 and npm), then \
rebuild corral (<code>cargo build --release -p corral</code>), or run \
<code>scripts/install.sh</code>, which does both.</p>\
<p>The REST API works as usual: <a href=\"/v1/openapi.json\">/v1/openapi.json</a>.</p>";

/// `GET /`: the UI's page.
pub async fn index(headers: HeaderMap) -> Response {
    match serve("index.html", REVALIDATE, &headers) {
        Some(r) => r,
        None => (
            [
                (header::CONTENT_TYPE, "text/html; charset=utf-8"),
                (header::CACHE_CONTROL, REVALIDATE),
            ],
            NOT_BUILT,
        )
            .into_response(),
    }
}

/// `GET /assets/{*path}`: a bundle, style sheet or icon.
pub async fn asset(Path(path): Path<String>, headers: HeaderMap) -> Response {
    serve(&format!("assets/{path}"), IMMUTABLE, &headers).unwrap_or_else(|| {
        (
            StatusCode::NOT_FOUND,
            [(header::CONTENT_TYPE, "text/plain; charset=utf-8")],
            "no such file in the web UI\n",
        )
            .into_response()
    })
}

/// One embedded file with its content type and caching headers; 304 when the
/// browser's copy (by ETag) is current.
fn serve(path: &str, cache: &'static str, headers: &HeaderMap) -> Option<Response> {
    let file = Dist::get(path)?;
    let etag = format!("\"{}\"", hex::encode(&file.metadata.sha256_hash()[..16]));
    let mime = file.metadata.mimetype();
    let mime = if mime.starts_with("text/") || mime == "application/javascript" {
        format!("{mime}; charset=utf-8")
    } else {
        mime.to_string()
    };
    let fresh = headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag));
    let etag = HeaderValue::from_str(&etag).ok()?;
    if fresh {
        return Some((StatusCode::NOT_MODIFIED, [(header::ETAG, etag)]).into_response());
    }
    let mut resp = (
        [(header::CONTENT_TYPE, mime), (header::CACHE_CONTROL, cache.to_string())],
        file.data,
    )
        .into_response();
    resp.headers_mut().insert(header::ETAG, etag);
    resp.headers_mut()
        .insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    Some(resp)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn embedded_files_have_content_types() {
        // Whatever was built (possibly nothing), every file gets a real type.
        for name in Dist::iter() {
            let f = Dist::get(&name).unwrap();
            if name.ends_with(".js") {
                assert_eq!(f.metadata.mimetype(), "text/javascript", "{name}");
            }
            if name.ends_with(".css") {
                assert_eq!(f.metadata.mimetype(), "text/css", "{name}");
            }
        }
    }
}
