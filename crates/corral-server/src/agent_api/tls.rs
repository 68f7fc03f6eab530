//! Serving a router over TLS, with each request tagged by its connection's client
//! certificate.

use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use hyper_util::rt::{TokioExecutor, TokioIo};
use tower::ServiceExt;

use super::identity::PeerCert;

/// Accepts TLS connections on `listener` and serves `app` on each until the process
/// ends.
pub async fn serve_tls(
    listener: tokio::net::TcpListener,
    cfg: Arc<corral_tls::rustls::ServerConfig>,
    app: Router,
) -> std::io::Result<()> {
    let acceptor = tokio_rustls::TlsAcceptor::from(cfg);
    loop {
        let (tcp, _) = listener.accept().await?;
        let acceptor = acceptor.clone();
        let app = app.clone();
        tokio::spawn(async move {
            // A client that never finishes its handshake must not hold a task forever.
            let Ok(Ok(tls)) = tokio::time::timeout(Duration::from_secs(10), acceptor.accept(tcp)).await else {
                return;
            };
            let peer = PeerCert(
                tls.get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| corral_tls::fingerprint(c)),
            );
            let svc = hyper::service::service_fn(move |mut req: hyper::Request<hyper::body::Incoming>| {
                req.extensions_mut().insert(peer.clone());
                app.clone().oneshot(req.map(axum::body::Body::new))
            });
            let _ = hyper_util::server::conn::auto::Builder::new(TokioExecutor::new())
                .serve_connection_with_upgrades(TokioIo::new(tls), svc)
                .await;
        });
    }
}
