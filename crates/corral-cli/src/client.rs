//! The HTTP client of Corral's REST API: URLs, the bearer token and error bodies.

use std::sync::Once;
use std::time::Duration;

use anyhow::{bail, Context};
use corral_api::ApiError;
use reqwest::{Body, Method, RequestBuilder, Response, Url};
use serde::{de::DeserializeOwned, Serialize};

use crate::config::Target;
use crate::error::ClientError;

/// A connection to one Corral server, with or without a token.
pub struct Client {
    http: reqwest::Client,
    server: String,
    base: Url,
    token: Option<String>,
}

/// Picks rustls' ring provider once per process; both reqwest and the websocket
/// client need a process-wide provider and more than one may be linked in.
pub fn install_crypto_provider() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

impl Client {
    /// A client for the resolved server and token.
    pub fn new(target: &Target) -> anyhow::Result<Client> {
        let base = Url::parse(&target.server).with_context(|| format!("invalid server URL {:?}", target.server))?;
        if !matches!(base.scheme(), "http" | "https") || base.cannot_be_a_base() {
            bail!(
                "invalid server URL {:?}: expected http://HOST:PORT or https://HOST:PORT",
                target.server
            );
        }
        install_crypto_provider();
        let http = reqwest::Client::builder()
            .user_agent(concat!("corral/", env!("CARGO_PKG_VERSION")))
            .connect_timeout(Duration::from_secs(10))
            .build()
            .context("setting up the HTTP client")?;
        Ok(Client {
            http,
            server: target.server.clone(),
            base,
            token: target.token.clone(),
        })
    }

    /// The server URL as given.
    pub fn server(&self) -> &str {
        &self.server
    }

    /// The bearer token, if any.
    pub fn token(&self) -> Option<&str> {
        self.token.as_deref()
    }

    /// The URL of an API path given as segments, each percent-encoded on its own so a
    /// name can never reach another route.
    pub fn url(&self, segments: &[&str]) -> Url {
        let mut url = self.base.clone();
        url.path_segments_mut()
            .expect("checked in new: http URLs have a path")
            .pop_if_empty()
            .extend(segments);
        url
    }

    /// `GET` and decode the JSON answer.
    pub async fn get<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        let url = self.url(segments);
        self.call(self.request(Method::GET, url.clone()), &url).await
    }

    /// `GET` with query parameters and decode the JSON answer.
    pub async fn get_query<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, &str)],
    ) -> Result<T, ClientError> {
        let mut url = self.url(segments);
        url.query_pairs_mut().extend_pairs(query);
        self.call(self.request(Method::GET, url.clone()), &url).await
    }

    /// `GET` one page of a list endpoint: its items, and the cursor of the next page
    /// when the server's `Link` header says one follows.
    pub async fn list<T: DeserializeOwned>(
        &self,
        segments: &[&str],
        query: &[(&str, String)],
    ) -> Result<(Vec<T>, Option<String>), ClientError> {
        let mut url = self.url(segments);
        if !query.is_empty() {
            url.query_pairs_mut().extend_pairs(query);
        }
        let resp = self.send(self.request(Method::GET, url.clone()), &url).await?;
        let next = resp
            .headers()
            .get(reqwest::header::LINK)
            .and_then(|v| v.to_str().ok())
            .and_then(next_cursor);
        let bytes = resp.bytes().await.map_err(|e| self.transport(&url, e.into()))?;
        let items = serde_json::from_slice(&bytes).map_err(|e| self.transport(&url, e.into()))?;
        Ok((items, next))
    }

    /// `POST` a JSON body and decode the JSON answer.
    pub async fn post<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        let url = self.url(segments);
        self.call(self.request(Method::POST, url.clone()).json(body), &url)
            .await
    }

    /// `PUT` a JSON body and decode the JSON answer.
    pub async fn put<B: Serialize, T: DeserializeOwned>(&self, segments: &[&str], body: &B) -> Result<T, ClientError> {
        let url = self.url(segments);
        self.call(self.request(Method::PUT, url.clone()).json(body), &url).await
    }

    /// `POST` without a body (verbs such as `stop` or `share`).
    pub async fn post_empty<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        let url = self.url(segments);
        self.call(self.request(Method::POST, url.clone()), &url).await
    }

    /// `POST` a raw byte stream to a full URL (uploads).
    pub async fn post_stream<T: DeserializeOwned>(&self, url: Url, body: Body) -> Result<T, ClientError> {
        let req = self
            .request(Method::POST, url.clone())
            .header(reqwest::header::CONTENT_TYPE, "application/octet-stream")
            .body(body);
        self.call(req, &url).await
    }

    /// `DELETE` and decode the JSON answer.
    pub async fn delete<T: DeserializeOwned>(&self, segments: &[&str]) -> Result<T, ClientError> {
        let url = self.url(segments);
        self.call(self.request(Method::DELETE, url.clone()), &url).await
    }

    /// `DELETE` where success has no body (204).
    pub async fn delete_no_content(&self, segments: &[&str]) -> Result<(), ClientError> {
        let url = self.url(segments);
        self.send(self.request(Method::DELETE, url.clone()), &url)
            .await
            .map(drop)
    }

    fn request(&self, method: Method, url: Url) -> RequestBuilder {
        let req = self.http.request(method, url);
        match &self.token {
            Some(token) => req.bearer_auth(token),
            None => req,
        }
    }

    async fn call<T: DeserializeOwned>(&self, req: RequestBuilder, url: &Url) -> Result<T, ClientError> {
        let resp = self.send(req, url).await?;
        let bytes = resp.bytes().await.map_err(|e| self.transport(url, e.into()))?;
        serde_json::from_slice(&bytes).map_err(|e| self.transport(url, e.into()))
    }

    async fn send(&self, req: RequestBuilder, url: &Url) -> Result<Response, ClientError> {
        let resp = req.send().await.map_err(|e| {
            if e.is_connect() {
                ClientError::Unreachable {
                    server: self.server.clone(),
                    source: e.into(),
                }
            } else {
                self.transport(url, e.into())
            }
        })?;
        let status = resp.status();
        if status.is_success() {
            return Ok(resp);
        }
        let body = resp.bytes().await.unwrap_or_default();
        Err(error_from_body(url.as_str(), status.as_u16(), &body))
    }

    fn transport(&self, url: &Url, source: Box<dyn std::error::Error + Send + Sync>) -> ClientError {
        ClientError::Transport {
            url: url.to_string(),
            source,
        }
    }
}

/// The `after` cursor of the `rel="next"` URL of a `Link` header.
fn next_cursor(link: &str) -> Option<String> {
    link.split(',').find_map(|part| {
        let (target, params) = part.trim().split_once(';')?;
        if !params.split(';').any(|p| p.trim() == "rel=\"next\"") {
            return None;
        }
        let url = target.trim().strip_prefix('<')?.strip_suffix('>')?;
        let (_, query) = url.split_once('?')?;
        query
            .split('&')
            .find_map(|kv| kv.strip_prefix("after="))
            .map(str::to_string)
    })
}

/// Turns an error answer into the API error it carries, or says what came instead.
pub fn error_from_body(url: &str, status: u16, body: &[u8]) -> ClientError {
    match serde_json::from_slice::<ApiError>(body) {
        Ok(error) => ClientError::Api { status, error },
        Err(_) => {
            let text = String::from_utf8_lossy(body);
            let mut short: String = text.chars().take(200).collect();
            if text.chars().count() > 200 {
                short.push('…');
            }
            ClientError::Unexpected {
                url: url.to_string(),
                status,
                body: short.trim().to_string(),
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn client(server: &str) -> anyhow::Result<Client> {
        Client::new(&Target {
            server: server.into(),
            token: None,
        })
    }

    #[test]
    fn urls_are_built_from_encoded_segments() {
        let c = client("http://127.0.0.1:7700").unwrap();
        assert_eq!(
            c.url(&["v1", "clusters", "demo"]).as_str(),
            "http://127.0.0.1:7700/v1/clusters/demo"
        );
        assert_eq!(
            c.url(&["v1", "clusters", "a/../b"]).as_str(),
            "http://127.0.0.1:7700/v1/clusters/a%2F..%2Fb"
        );
        let c = client("https://corral.example/api/").unwrap();
        assert_eq!(
            c.url(&["v1", "images"]).as_str(),
            "https://corral.example/api/v1/images"
        );
    }

    #[test]
    fn rejects_urls_without_http_scheme() {
        assert!(client("127.0.0.1:7700").is_err());
        assert!(client("ftp://x").is_err());
    }

    #[test]
    fn next_cursor_comes_from_the_next_link() {
        assert_eq!(
            next_cursor("</v1/clusters?limit=2&after=6162>; rel=\"next\"").as_deref(),
            Some("6162")
        );
        assert_eq!(
            next_cursor("</v1/x?after=1>; rel=\"prev\", </v1/x?after=2>; rel=\"next\"").as_deref(),
            Some("2")
        );
        assert_eq!(next_cursor("</v1/x?limit=2>; rel=\"next\""), None);
        assert_eq!(next_cursor("nonsense"), None);
    }

    #[test]
    fn error_bodies_become_api_errors() {
        let body = br#"{"code":"not_found","message":"cluster \"x\" not found"}"#;
        match error_from_body("u", 404, body) {
            ClientError::Api { status, error } => {
                assert_eq!(status, 404);
                assert_eq!(error.code, corral_api::ErrorCode::NotFound);
            }
            other => panic!("{other:?}"),
        }
        match error_from_body("u", 502, b"<html>bad gateway</html>") {
            ClientError::Unexpected { status, body, .. } => {
                assert_eq!(status, 502);
                assert_eq!(body, "<html>bad gateway</html>");
            }
            other => panic!("{other:?}"),
        }
    }
}
