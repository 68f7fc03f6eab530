//! Who may talk to whom once a chain verifies against the pool's CA.
//!
//! Every agent holds a certificate of the pool, so "signed by the CA" is not enough
//! in the server → agent direction:
//! - an agent's listener accepts only a client whose certificate names the server
//!   ([`SERVER_NAME`], which the CA never gives an agent): one joined agent cannot
//!   run commands in another host's nodes;
//! - the server reaches a host only if the host shows the very certificate it joined
//!   with (its fingerprint is in the server's state) for the address it dialled: a
//!   joined agent cannot pass for another host.

use std::sync::Arc;

use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::pki_types::{CertificateDer, ServerName, UnixTime};
use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{CertificateError, ClientConfig, DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};

use crate::ca::{fingerprint, TlsError, SERVER_NAME};
use crate::config::{pem_certs, pem_key, provider, roots};

/// The common name in a certificate's subject, if it has one.
pub fn common_name(der: &[u8]) -> Option<String> {
    let (_, cert) = x509_parser::parse_x509_certificate(der).ok()?;
    let cn = cert.subject().iter_common_name().next()?;
    cn.as_str().ok().map(str::to_string)
}

fn refused() -> rustls::Error {
    rustls::Error::InvalidCertificate(CertificateError::ApplicationVerificationFailure)
}

/// Requires a chain to the CA (checked by webpki) and then the server's name.
#[derive(Debug)]
struct ServerOnly {
    inner: Arc<dyn ClientCertVerifier>,
}

impl ClientCertVerifier for ServerOnly {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        self.inner.root_hint_subjects()
    }

    fn client_auth_mandatory(&self) -> bool {
        true
    }

    fn verify_client_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        now: UnixTime,
    ) -> Result<ClientCertVerified, rustls::Error> {
        self.inner.verify_client_cert(end_entity, intermediates, now)?;
        match common_name(end_entity) {
            Some(cn) if cn == SERVER_NAME => Ok(ClientCertVerified::assertion()),
            _ => Err(refused()),
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A server (an agent's listener) that accepts only the pool's server as a client.
pub fn server_only_config(ca_pem: &str, cert_pem: &str, key_pem: &str) -> Result<ServerConfig, TlsError> {
    let inner = WebPkiClientVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider())
        .build()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let cfg = ServerConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .with_client_cert_verifier(Arc::new(ServerOnly { inner }))
        .with_single_cert(pem_certs(cert_pem)?, pem_key(key_pem)?)?;
    Ok(cfg)
}

/// Requires the one certificate a host joined with, valid for the dialled address.
#[derive(Debug)]
struct PinnedHost {
    inner: Arc<WebPkiServerVerifier>,
    fingerprint: String,
}

impl ServerCertVerifier for PinnedHost {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        if fingerprint(end_entity) != self.fingerprint {
            return Err(refused());
        }
        self.inner
            .verify_server_cert(end_entity, intermediates, server_name, ocsp, now)
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls12_signature(message, cert, dss)
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        self.inner.verify_tls13_signature(message, cert, dss)
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.inner.supported_verify_schemes()
    }
}

/// A client (the server) that presents `identity` and trusts only the host whose
/// certificate has `host_fingerprint`, chained to the CA and naming the address.
pub fn host_client_config(
    ca_pem: &str,
    identity: (&str, &str),
    host_fingerprint: &str,
) -> Result<ClientConfig, TlsError> {
    let inner = WebPkiServerVerifier::builder_with_provider(Arc::new(roots(ca_pem)?), provider())
        .build()
        .map_err(|e| TlsError::Pem(e.to_string()))?;
    let verifier = Arc::new(PinnedHost {
        inner,
        fingerprint: host_fingerprint.to_lowercase(),
    });
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()?
        .dangerous()
        .with_custom_certificate_verifier(verifier)
        .with_client_auth_cert(pem_certs(identity.0)?, pem_key(identity.1)?)?)
}

#[cfg(test)]
mod tests {
    use rustls::{ClientConnection, ServerConnection};

    use super::*;
    use crate::ca::{agent_request, Ca};

    /// Runs a handshake in memory; the first error either side raises.
    fn handshake(client: ClientConfig, server: ServerConfig) -> Result<(), rustls::Error> {
        let name = ServerName::try_from("127.0.0.1").expect("ip name");
        let mut c = ClientConnection::new(Arc::new(client), name)?;
        let mut s = ServerConnection::new(Arc::new(server))?;
        for _ in 0..16 {
            let mut buf = Vec::new();
            while c.wants_write() {
                c.write_tls(&mut buf).expect("write");
            }
            let mut rd = &buf[..];
            while !rd.is_empty() {
                s.read_tls(&mut rd).expect("read");
                s.process_new_packets()?;
            }
            let mut buf = Vec::new();
            while s.wants_write() {
                s.write_tls(&mut buf).expect("write");
            }
            let mut rd = &buf[..];
            while !rd.is_empty() {
                c.read_tls(&mut rd).expect("read");
                c.process_new_packets()?;
            }
            if !c.is_handshaking() && !s.is_handshaking() && !c.wants_write() {
                return Ok(());
            }
        }
        Err(rustls::Error::General("handshake made no progress".into()))
    }

    #[test]
    fn only_the_server_reaches_only_the_pinned_host() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let (server_cert, server_key) = ca.issue(SERVER_NAME, &[], false).unwrap();
        let agent = |host: &str| {
            let (csr, key) = agent_request(host, &["127.0.0.1".into()]).unwrap();
            (ca.sign_agent(&csr, host).unwrap(), key)
        };
        let (a, a_key) = agent("host-a");
        let (b, b_key) = agent("host-b");
        let listener = || server_only_config(ca.cert_pem(), &a.cert_pem, &a_key).unwrap();
        let ca_pem = ca.cert_pem();

        let server = host_client_config(ca_pem, (&server_cert, &server_key), &a.fingerprint).unwrap();
        handshake(server, listener()).expect("the server reaches host-a");

        let other_agent = host_client_config(ca_pem, (&b.cert_pem, &b_key), &a.fingerprint).unwrap();
        assert!(
            handshake(other_agent, listener()).is_err(),
            "host-b's certificate is refused"
        );

        let anonymous = crate::client_config(ca_pem, None).unwrap();
        assert!(handshake(anonymous, listener()).is_err(), "no certificate, no entry");

        let wrong_pin = host_client_config(ca_pem, (&server_cert, &server_key), &b.fingerprint).unwrap();
        assert!(handshake(wrong_pin, listener()).is_err(), "host-a is not host-b");
    }

    #[test]
    fn agents_cannot_take_the_server_s_name() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let (csr, _) = agent_request(SERVER_NAME, &[]).unwrap();
        assert!(matches!(ca.sign_agent(&csr, SERVER_NAME), Err(TlsError::Reserved(_))));
        let (csr, _) = agent_request("h1", &["10.0.0.5".into()]).unwrap();
        let creds = ca.sign_agent(&csr, "h1").unwrap();
        let der = crate::pem_certs(&creds.cert_pem).unwrap().remove(0);
        assert_eq!(common_name(&der).as_deref(), Some("h1"));
    }
}
