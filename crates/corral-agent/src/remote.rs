//! The agent's side of the network control plane: joining a pool with a one-time
//! token, then talking to the server over mutual TLS.

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_trait::async_trait;
use corral_api::agent::{Assignments, ClusterRequest, MetricsReport, NodeAnswer, NodeReport};
use corral_api::{ApiError, JoinRequest, JoinResponse, RegisterRequest};
use corral_image::{ImageManifest, ImageStore};
use futures_util::StreamExt;
use tokio::io::AsyncWriteExt;

use crate::control_plane::{AgentError, ControlPlane};

/// Longest wait for one assignments long poll (the server answers within ~25 s).
const LONG_POLL_TIMEOUT: Duration = Duration::from_secs(60);

/// An agent's identity in the pool: its key and certificate and the pool's CA.
#[derive(Debug, Clone)]
pub struct Credentials {
    /// Client certificate, PEM.
    pub cert_pem: String,
    /// Private key, PEM.
    pub key_pem: String,
    /// Pool CA, PEM.
    pub ca_pem: String,
}

fn cp_err(e: impl std::fmt::Display) -> AgentError {
    AgentError::ControlPlane(e.to_string())
}

fn io(context: String) -> impl FnOnce(std::io::Error) -> AgentError {
    move |source| AgentError::Io { context, source }
}

impl Credentials {
    fn paths(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
        (dir.join("agent.pem"), dir.join("agent.key"), dir.join("ca.pem"))
    }

    /// Credentials saved by an earlier join, if any.
    pub fn load(dir: &Path) -> Option<Credentials> {
        let (c, k, ca) = Self::paths(dir);
        Some(Credentials {
            cert_pem: std::fs::read_to_string(c).ok()?,
            key_pem: std::fs::read_to_string(k).ok()?,
            ca_pem: std::fs::read_to_string(ca).ok()?,
        })
    }

    fn save(&self, dir: &Path) -> Result<(), AgentError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let (c, k, ca) = Self::paths(dir);
        for (p, v) in [(&k, &self.key_pem), (&c, &self.cert_pem), (&ca, &self.ca_pem)] {
            corral_tls::save_private(p, v).map_err(cp_err)?;
        }
        Ok(())
    }
}

fn client(tls: corral_tls::rustls::ClientConfig, timeout: Duration) -> Result<reqwest::Client, AgentError> {
    reqwest::Client::builder()
        .use_preconfigured_tls(tls)
        .timeout(timeout)
        .connect_timeout(Duration::from_secs(5))
        .build()
        .map_err(cp_err)
}

async fn api_error(resp: reqwest::Response) -> AgentError {
    let status = resp.status();
    match resp.json::<ApiError>().await {
        Ok(e) => AgentError::ControlPlane(format!("{} ({:?})", e.message, e.code)),
        Err(_) => AgentError::ControlPlane(format!("server answered {status}")),
    }
}

/// Joins the pool at `server` with a one-time token and saves the credentials in
/// `dir`. The token carries the CA's fingerprint, so the server is authenticated
/// before the agent sends anything. `addresses` (IPs the server dials this host's
/// listener at) go into the certificate.
pub async fn join(
    server: &str,
    token: &str,
    host: &str,
    addresses: &[String],
    dir: &Path,
) -> Result<Credentials, AgentError> {
    let fp = corral_api::join_token_ca_fingerprint(token)
        .ok_or_else(|| AgentError::Invalid("malformed join token: expected crj1.<secret>.<fingerprint>".into()))?;
    let (csr, key_pem) = corral_tls::agent_request(host, addresses).map_err(cp_err)?;
    let tls = corral_tls::pinned_client_config(fp).map_err(cp_err)?;
    let http = client(tls, Duration::from_secs(30))?;
    let req = JoinRequest {
        token: token.to_string(),
        host: host.to_string(),
        csr,
    };
    let resp = http
        .post(format!("{}/v1/agent/join", server.trim_end_matches('/')))
        .json(&req)
        .send()
        .await
        .map_err(|e| AgentError::ControlPlane(format!("cannot reach {server}: {e}")))?;
    if !resp.status().is_success() {
        return Err(api_error(resp).await);
    }
    let j: JoinResponse = resp.json().await.map_err(cp_err)?;
    let creds = Credentials {
        cert_pem: j.cert,
        key_pem,
        ca_pem: j.ca,
    };
    creds.save(dir)?;
    Ok(creds)
}

/// The control plane over HTTPS with the agent's certificate.
pub struct HttpControlPlane {
    base: String,
    http: reqwest::Client,
    long: reqwest::Client,
    exec_address: String,
}

impl HttpControlPlane {
    /// A control plane talking to `server` with `creds`.
    pub fn new(server: &str, creds: &Credentials) -> Result<Self, AgentError> {
        let tls = || corral_tls::agent_client_config(&creds.ca_pem, &creds.cert_pem, &creds.key_pem).map_err(cp_err);
        Ok(HttpControlPlane {
            base: server.trim_end_matches('/').to_string(),
            http: client(tls()?, Duration::from_secs(30))?,
            long: client(tls()?, LONG_POLL_TIMEOUT)?,
            exec_address: String::new(),
        })
    }

    /// Announces, at registration, where this host's own listener is reached.
    pub fn with_exec_address(mut self, address: String) -> Self {
        self.exec_address = address;
        self
    }

    async fn check(resp: reqwest::Result<reqwest::Response>) -> Result<reqwest::Response, AgentError> {
        let resp = resp.map_err(cp_err)?;
        if resp.status().is_success() {
            Ok(resp)
        } else {
            Err(api_error(resp).await)
        }
    }

    /// Downloads a layer into the image store, verified against its digest.
    async fn pull_layer(&self, images: &ImageStore, digest: &str) -> Result<(), AgentError> {
        let url = format!("{}/v1/agent/layers/{digest}", self.base);
        let resp = Self::check(self.long.get(url).send().await).await?;
        let tmp = images.root().join("tmp").join(format!(
            "pull-{}-{}.tar",
            digest.trim_start_matches("sha256:"),
            std::process::id() as u64 * 1_000_000 + u64::from(rand_suffix())
        ));
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(io(format!("creating {}", tmp.display())))?;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.map_err(cp_err)?)
                .await
                .map_err(io("writing layer".into()))?;
        }
        file.flush().await.map_err(io("writing layer".into()))?;
        drop(file);
        let (images, d, path) = (images.clone(), digest.to_string(), tmp.clone());
        let result = tokio::task::spawn_blocking(move || {
            let mut f = std::fs::File::open(&path).map_err(io(format!("opening {}", path.display())))?;
            images.install_layer(&d, &mut f).map_err(AgentError::from)
        })
        .await
        .map_err(cp_err)?;
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }
}

#[async_trait]
impl ControlPlane for HttpControlPlane {
    async fn register(&self, _host: &str, mut req: RegisterRequest) -> Result<(), AgentError> {
        if req.exec_address.is_empty() {
            req.exec_address = self.exec_address.clone();
        }
        Self::check(
            self.http
                .post(format!("{}/v1/agent/register", self.base))
                .json(&req)
                .send()
                .await,
        )
        .await?;
        Ok(())
    }

    async fn assignments(&self, _host: &str, after: u64) -> Result<Assignments, AgentError> {
        let url = format!("{}/v1/agent/assignments?after={after}", self.base);
        let resp = Self::check(self.long.get(url).send().await).await?;
        resp.json().await.map_err(cp_err)
    }

    async fn report(&self, _host: &str, reports: Vec<NodeReport>) -> Result<(), AgentError> {
        Self::check(
            self.http
                .post(format!("{}/v1/agent/reports", self.base))
                .json(&reports)
                .send()
                .await,
        )
        .await?;
        Ok(())
    }

    async fn metrics(&self, _host: &str, report: MetricsReport) -> Result<(), AgentError> {
        Self::check(
            self.http
                .post(format!("{}/v1/agent/metrics", self.base))
                .json(&report)
                .send()
                .await,
        )
        .await?;
        Ok(())
    }

    async fn heartbeat(&self, _host: &str) -> Result<(), AgentError> {
        Self::check(self.http.post(format!("{}/v1/agent/heartbeat", self.base)).send().await).await?;
        Ok(())
    }

    async fn cluster_request(&self, _host: &str, req: ClusterRequest) -> Result<NodeAnswer, AgentError> {
        let resp = self
            .http
            .post(format!("{}/v1/agent/cluster-requests", self.base))
            .json(&req)
            .send()
            .await
            .map_err(cp_err)?;
        if resp.status().is_success() {
            return resp.json().await.map_err(cp_err);
        }
        // The node sees the server's own refusal (401, 400, 429...), not a transport error.
        let status = resp.status();
        match resp.json::<ApiError>().await {
            Ok(e) => Err(AgentError::Refused(e)),
            Err(_) => Err(AgentError::ControlPlane(format!("server answered {status}"))),
        }
    }

    async fn upload_upper(&self, _host: &str, id: &str, upper: &Path) -> Result<(), AgentError> {
        let tmp = upper.with_extension("outgoing.tar");
        let (src, dst) = (upper.to_path_buf(), tmp.clone());
        tokio::task::spawn_blocking(move || -> Result<(), AgentError> {
            let mut f = std::fs::File::create(&dst).map_err(io(format!("creating {}", dst.display())))?;
            corral_image::export_dir(&src, &mut f)?;
            Ok(())
        })
        .await
        .map_err(cp_err)??;
        let file = tokio::fs::File::open(&tmp)
            .await
            .map_err(io(format!("opening {}", tmp.display())))?;
        let body = reqwest::Body::wrap_stream(tokio_util::io::ReaderStream::new(file));
        let url = format!("{}/v1/agent/nodes/{id}/upper", self.base);
        let result = Self::check(self.long.put(url).body(body).send().await).await;
        let _ = tokio::fs::remove_file(&tmp).await;
        result.map(|_| ())
    }

    async fn download_upper(&self, _host: &str, id: &str, dest: &Path) -> Result<(), AgentError> {
        let url = format!("{}/v1/agent/nodes/{id}/upper", self.base);
        let resp = Self::check(self.long.get(url).send().await).await?;
        let tmp = dest.with_extension("incoming.tar");
        if let Some(dir) = tmp.parent() {
            tokio::fs::create_dir_all(dir)
                .await
                .map_err(io(format!("creating {}", dir.display())))?;
        }
        let mut file = tokio::fs::File::create(&tmp)
            .await
            .map_err(io(format!("creating {}", tmp.display())))?;
        let mut body = resp.bytes_stream();
        while let Some(chunk) = body.next().await {
            file.write_all(&chunk.map_err(cp_err)?)
                .await
                .map_err(io("writing layer".into()))?;
        }
        file.flush().await.map_err(io("writing layer".into()))?;
        drop(file);
        let (src, dst) = (tmp.clone(), dest.to_path_buf());
        let result = tokio::task::spawn_blocking(move || unpack_into(&src, &dst))
            .await
            .map_err(cp_err)?;
        let _ = tokio::fs::remove_file(&tmp).await;
        result
    }

    async fn fetch_image(&self, digest: &str, images: &ImageStore) -> Result<(), AgentError> {
        if images.manifest(digest).is_ok() {
            return Ok(());
        }
        let url = format!("{}/v1/agent/manifests/{digest}", self.base);
        let m: ImageManifest = Self::check(self.http.get(url).send().await)
            .await?
            .json()
            .await
            .map_err(cp_err)?;
        for layer in images.missing_layers(&m) {
            self.pull_layer(images, &layer).await?;
        }
        let images = images.clone();
        tokio::task::spawn_blocking(move || images.install_manifest(&m))
            .await
            .map_err(cp_err)??;
        Ok(())
    }
}

/// Unpacks a transferred writable layer next to `dest`, then renames it into place,
/// so a crash never leaves a half layer where the runtime would use it.
pub fn unpack_into(tar: &Path, dest: &Path) -> Result<(), AgentError> {
    let staging = dest.with_extension("incoming");
    let _ = std::fs::remove_dir_all(&staging);
    let mut f = std::fs::File::open(tar).map_err(io(format!("opening {}", tar.display())))?;
    corral_image::unpack_dir(&mut f, &staging)?;
    std::fs::rename(&staging, dest).map_err(io(format!("moving the layer to {}", dest.display())))
}

/// A number to keep concurrent temporary files apart.
fn rand_suffix() -> u32 {
    use std::sync::atomic::{AtomicU32, Ordering};
    static NEXT: AtomicU32 = AtomicU32::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}
