//! A remote agent's own listener, over mutual TLS: the server shows its client
//! certificate (which only it can have) and accepts only the certificate the host
//! joined with, for the address it dials.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use async_trait::async_trait;
use corral_agent::exec::{ExecInput, ExecOutput, ExecSession, SessionDriver};
use corral_agent::exec_ws::{Control, Last};
use corral_api::agent::HostSaveRequest;
use corral_api::{ApiError, ErrorCode, ExecRequest, ExecResult};
use corral_image::{ImageManifest, ImageStore};
use futures_util::{SinkExt, StreamExt, TryStreamExt};
use tokio_tungstenite::tungstenite::Message;

use super::HostChannel;
use crate::error::{Result, ServerError};
use crate::pki::Pki;

/// A host reached through its agent's listener.
pub struct RemoteHost {
    host: String,
    address: String,
    fingerprint: String,
    tls: Arc<corral_tls::rustls::ClientConfig>,
    http: reqwest::Client,
}

impl RemoteHost {
    /// A channel to `host`'s listener at `address` (`ip:port`), which must show the
    /// certificate with `fingerprint`.
    pub fn new(host: &str, address: &str, fingerprint: &str, pki: &Pki) -> std::result::Result<Self, String> {
        address
            .parse::<SocketAddr>()
            .map_err(|_| format!("its listener address {address:?} is not ip:port"))?;
        let identity = (pki.client_cert_pem.as_str(), pki.client_key_pem.as_str());
        let tls =
            corral_tls::host_client_config(pki.ca.cert_pem(), identity, fingerprint).map_err(|e| e.to_string())?;
        // No overall timeout: a command or a save may take as long as it takes.
        let http = reqwest::Client::builder()
            .use_preconfigured_tls(tls.clone())
            .connect_timeout(Duration::from_secs(5))
            .tcp_keepalive(Duration::from_secs(15))
            .build()
            .map_err(|e| e.to_string())?;
        Ok(RemoteHost {
            host: host.to_string(),
            address: address.to_string(),
            fingerprint: fingerprint.to_string(),
            tls: Arc::new(tls),
            http,
        })
    }

    /// Whether this channel still matches the host's record.
    pub fn is_for(&self, address: &str, fingerprint: &str) -> bool {
        self.address == address && self.fingerprint == fingerprint
    }

    fn url(&self, path: &str) -> String {
        format!("https://{}{path}", self.address)
    }

    fn unreachable(&self, e: impl std::fmt::Display) -> ServerError {
        ApiError::new(ErrorCode::Conflict, format!("host {} is not reachable: {e}", self.host)).into()
    }

    /// Sends a request; an error answer comes back as the agent's `ApiError`.
    async fn call(&self, req: reqwest::RequestBuilder) -> Result<reqwest::Response> {
        let resp = req.send().await.map_err(|e| self.unreachable(error_chain(&e)))?;
        if resp.status().is_success() {
            return Ok(resp);
        }
        let status = resp.status();
        Err(match resp.json::<ApiError>().await {
            Ok(e) if e.code == ErrorCode::Internal => {
                ServerError::Internal(format!("host {}: {}", self.host, e.message))
            }
            Ok(e) => ApiError::new(e.code, format!("host {}: {}", self.host, e.message)).into(),
            Err(_) => ServerError::Internal(format!("host {} answered {status}", self.host)),
        })
    }

    /// Asks the agent to power its machine off.
    pub async fn power_off(&self) -> Result<()> {
        self.call(self.http.post(self.url("/v1/host/power-off")))
            .await
            .map(drop)
    }

    /// Pulls one layer from the host into `into`, verified against its digest while
    /// it is unpacked, without keeping the stream in memory or on disk.
    async fn pull_layer(&self, digest: &str, into: &ImageStore) -> Result<()> {
        let resp = self
            .call(self.http.get(self.url(&format!("/v1/host/layers/{digest}"))))
            .await?;
        let stream = resp.bytes_stream().map_err(std::io::Error::other);
        let reader = tokio_util::io::StreamReader::new(stream);
        let (into, digest) = (into.clone(), digest.to_string());
        tokio::task::spawn_blocking(move || {
            let mut input = tokio_util::io::SyncIoBridge::new(reader);
            into.install_layer(&digest, &mut input)
        })
        .await
        .map_err(|e| ServerError::Internal(e.to_string()))??;
        Ok(())
    }
}

/// An error with its causes: reqwest's own message rarely says what went wrong.
fn error_chain(e: &dyn std::error::Error) -> String {
    let mut s = e.to_string();
    let mut cur = e.source();
    while let Some(c) = cur {
        s.push_str(": ");
        s.push_str(&c.to_string());
        cur = c.source();
    }
    s
}

/// A saved image may differ from its base only by one layer on top: the host
/// chooses the content of the node's layer, nothing else.
fn check_saved(saved: &ImageManifest, base: &ImageManifest) -> Result<()> {
    let extends = saved.config == base.config
        && saved
            .layers
            .split_last()
            .is_some_and(|(_, below)| below.iter().all(|l| base.layers.contains(l)));
    if extends {
        Ok(())
    } else {
        Err(ServerError::Internal(format!(
            "the host's saved image {} does not extend {}",
            saved.digest, base.digest
        )))
    }
}

#[async_trait]
impl HostChannel for RemoteHost {
    async fn exec(&self, id: &str, req: &ExecRequest) -> Result<ExecResult> {
        let url = self.url(&format!("/v1/host/nodes/{id}/exec"));
        let resp = self.call(self.http.post(url).json(req)).await?;
        resp.json().await.map_err(|e| self.unreachable(error_chain(&e)))
    }

    async fn session(&self, id: &str, req: &ExecRequest) -> Result<ExecSession> {
        let addr: SocketAddr = self.address.parse().map_err(|_| self.unreachable("bad address"))?;
        let tcp = tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
            .await
            .map_err(|_| self.unreachable("connection timed out"))?
            .map_err(|e| self.unreachable(e))?;
        let name = corral_tls::rustls::pki_types::ServerName::IpAddress(addr.ip().into());
        let tls = tokio_rustls::TlsConnector::from(self.tls.clone())
            .connect(name, tcp)
            .await
            .map_err(|e| self.unreachable(e))?;
        let url = format!("wss://{}/v1/host/nodes/{id}/exec/ws", self.address);
        let (mut ws, _) = tokio_tungstenite::client_async(url, tls)
            .await
            .map_err(|e| self.unreachable(e))?;
        let first = serde_json::to_string(req).map_err(|e| ServerError::Internal(e.to_string()))?;
        ws.send(Message::text(first)).await.map_err(|e| self.unreachable(e))?;
        let (session, driver) = ExecSession::pair();
        tokio::spawn(relay(ws, driver, self.host.clone()));
        Ok(session)
    }

    async fn save(&self, id: &str, base: &str, into: &ImageStore) -> Result<ImageManifest> {
        let base_manifest = into.manifest(base)?;
        let url = self.url(&format!("/v1/host/nodes/{id}/save"));
        let body = HostSaveRequest { base: base.to_string() };
        let saved: ImageManifest = self
            .call(self.http.post(url).json(&body))
            .await?
            .json()
            .await
            .map_err(|e| self.unreachable(error_chain(&e)))?;
        check_saved(&saved, &base_manifest)?;
        for layer in into.missing_layers(&saved) {
            self.pull_layer(&layer, into).await?;
        }
        let (into, m) = (into.clone(), saved.clone());
        tokio::task::spawn_blocking(move || into.install_manifest(&m))
            .await
            .map_err(|e| ServerError::Internal(e.to_string()))??;
        Ok(saved)
    }
}

type HostWs = tokio_tungstenite::WebSocketStream<tokio_rustls::client::TlsStream<tokio::net::TcpStream>>;

/// Moves a session between its caller and the host's websocket until it ends;
/// when the caller leaves, closing the websocket ends the command on the host.
async fn relay(ws: HostWs, mut d: SessionDriver, host: String) {
    let (mut sink, mut stream) = ws.split();
    loop {
        tokio::select! {
            frame = stream.next() => {
                let out = match frame {
                    Some(Ok(Message::Binary(b))) => ExecOutput::Data(b.to_vec()),
                    Some(Ok(Message::Text(t))) => match serde_json::from_str::<Last>(&t) {
                        Ok(Last { exit_code: Some(code), .. }) => ExecOutput::Exit(code),
                        Ok(Last { error: Some(e), .. }) => ExecOutput::Error(format!("host {host}: {e}")),
                        _ => continue,
                    },
                    Some(Ok(Message::Close(_))) | None => {
                        ExecOutput::Error(format!("host {host} ended the session without an exit code"))
                    }
                    Some(Ok(_)) => continue,
                    Some(Err(e)) => ExecOutput::Error(format!("session with host {host} broke: {e}")),
                };
                let last = !matches!(out, ExecOutput::Data(_));
                if d.output.send(out).await.is_err() || last {
                    return;
                }
            }
            input = d.input.recv() => {
                let msg = match input {
                    Some(ExecInput::Data(b)) => Message::binary(b),
                    Some(other) => match Control::frame(&other) {
                        Some(text) => Message::text(text),
                        None => continue,
                    },
                    None => {
                        let _ = sink.close().await;
                        return;
                    }
                };
                // A failed send means the host closed; its last frame says why.
                let _ = sink.send(msg).await;
            }
        }
    }
}
