//! The server's side of the pool's PKI: its CA, the certificate its agent API
//! listener presents, and the client certificate it shows agents' listeners.

use std::path::Path;

use corral_tls::{Ca, TlsError};

/// CA plus the server's own certificate.
pub struct Pki {
    /// The pool's CA.
    pub ca: Ca,
    /// Server certificate chain (server, then CA), PEM.
    pub chain_pem: String,
    /// Server key, PEM.
    pub key_pem: String,
    /// Client certificate for calling agents' listeners, PEM: named
    /// [`corral_tls::SERVER_NAME`], which no agent's certificate can be.
    pub client_cert_pem: String,
    /// Its key, PEM.
    pub client_key_pem: String,
}

impl Pki {
    /// Loads the CA from `dir` (creating it at first start) and issues a fresh server
    /// certificate for `names` (DNS names or addresses agents use to reach it) and a
    /// fresh client certificate, kept in memory only.
    pub fn load(dir: &Path, names: &[String]) -> Result<Pki, TlsError> {
        let ca = Ca::load_or_create(dir)?;
        let (cert, key_pem) = ca.issue(corral_tls::SERVER_NAME, names, true)?;
        // The CA goes with the chain: a joining agent pins it by fingerprint.
        let chain_pem = format!("{cert}{}", ca.cert_pem());
        let (client_cert_pem, client_key_pem) = ca.issue(corral_tls::SERVER_NAME, &[], false)?;
        Ok(Pki {
            ca,
            chain_pem,
            key_pem,
            client_cert_pem,
            client_key_pem,
        })
    }

    /// A rustls server configuration for the agent API.
    pub fn server_config(&self) -> Result<corral_tls::rustls::ServerConfig, TlsError> {
        corral_tls::server_config(self.ca.cert_pem(), &self.chain_pem, &self.key_pem)
    }
}
