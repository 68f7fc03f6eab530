//! Serving the agent's listener over TLS; who may connect is settled in the
//! handshake (see `corral_tls::server_only_config`), so handlers need not ask.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use hyper_util::service::TowerToHyperService;

/// Accepts TLS connections on `listener` and serves `app` on each until the process
/// ends.
pub async fn serve_tls(listener: tokio::net::TcpListener, cfg: Arc<corral_tls::rustls::ServerConfig>, app: Router) {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    loop {
        let tcp = match listener.accept().await {
            Ok((tcp, _)) => tcp,
            Err(e) => {
                // Out of descriptors and the like: wait rather than spin or stop.
                tracing::warn!(error = %e, "accepting on the agent listener");
                tokio::time::sleep(Duration::from_millis(200)).await;
                continue;
            }
        };
        let acceptor = acceptor.clone();
        let svc = TowerToHyperService::new(app.clone());
        tokio::spawn(async move {
            // A client that never finishes its handshake must not hold a task forever.
            let tls = match tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await {
                Ok(Ok(tls)) => tls,
                Ok(Err(e)) => {
                    tracing::info!(error = %e, "refused a connection to the agent listener");
                    return;
                }
                Err(_) => return,
            };
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                .await;
        });
    }
}
