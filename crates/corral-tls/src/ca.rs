//! The CA: key and certificate on disk, issuing server and agent certificates.

use std::io::Write;
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use rcgen::{
    BasicConstraints, CertificateParams, CertificateSigningRequestParams, DnType, ExtendedKeyUsagePurpose, IsCa,
    Issuer, KeyPair, KeyUsagePurpose, SanType,
};
use sha2::Digest;

/// Errors of the CA.
#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    /// Certificate generation or parsing failed.
    #[error("certificate: {0}")]
    Cert(#[from] rcgen::Error),
    /// rustls refused a configuration.
    #[error("tls: {0}")]
    Rustls(#[from] rustls::Error),
    /// A file could not be read or written.
    #[error("{context}: {source}")]
    Io {
        /// What was being done.
        context: String,
        /// The cause.
        source: std::io::Error,
    },
    /// A PEM file held nothing usable.
    #[error("invalid pem: {0}")]
    Pem(String),
    /// An agent asked for the name that marks the server's own certificates.
    #[error("the name {0} is reserved for the server")]
    Reserved(String),
}

/// The common name of the server's certificates. Agents' listeners accept a client
/// only if its certificate, signed by the pool's CA, carries this name; the CA never
/// gives it to an agent (see [`Ca::sign_agent`]).
pub const SERVER_NAME: &str = "corral-server";

fn io(context: String) -> impl FnOnce(std::io::Error) -> TlsError {
    move |source| TlsError::Io { context, source }
}

/// The sha256 of a certificate in DER form, hex: how Corral names a certificate.
pub fn fingerprint(der: &[u8]) -> String {
    hex::encode(sha2::Sha256::digest(der))
}

/// A certificate authority kept in a directory (`ca.pem`, `ca.key` 0600).
pub struct Ca {
    cert_pem: String,
    issuer: Issuer<'static, KeyPair>,
}

/// What an agent needs after joining: its certificate and the CA to trust.
#[derive(Debug, Clone)]
pub struct AgentCredentials {
    /// The agent's certificate, PEM.
    pub cert_pem: String,
    /// The CA certificate, PEM.
    pub ca_pem: String,
    /// Fingerprint of the agent's certificate.
    pub fingerprint: String,
}

fn write_private(path: &Path, content: &str) -> Result<(), TlsError> {
    let tmp = path.with_extension("tmp");
    let mut f = std::fs::OpenOptions::new()
        .create(true)
        .write(true)
        .truncate(true)
        .mode(0o600)
        .open(&tmp)
        .map_err(io(format!("writing {}", tmp.display())))?;
    f.write_all(content.as_bytes())
        .and_then(|_| f.sync_all())
        .map_err(io(format!("writing {}", tmp.display())))?;
    std::fs::rename(&tmp, path).map_err(io(format!("renaming {}", path.display())))
}

fn validity(params: &mut CertificateParams, days: i64) {
    let now = time::OffsetDateTime::now_utc();
    params.not_before = now - time::Duration::hours(1);
    params.not_after = now + time::Duration::days(days);
}

impl Ca {
    /// Loads the CA from `dir`, creating it on first use.
    pub fn load_or_create(dir: &Path) -> Result<Ca, TlsError> {
        std::fs::create_dir_all(dir).map_err(io(format!("creating {}", dir.display())))?;
        let (cert_path, key_path) = (dir.join("ca.pem"), dir.join("ca.key"));
        if !cert_path.exists() || !key_path.exists() {
            let key = KeyPair::generate()?;
            let mut params = CertificateParams::new(Vec::<String>::new())?;
            params.distinguished_name.push(DnType::CommonName, "Corral pool CA");
            params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
            params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign];
            validity(&mut params, 3650);
            let cert = params.self_signed(&key)?;
            // Key first: a crash between the two leaves no certificate without key.
            write_private(&key_path, &key.serialize_pem())?;
            write_private(&cert_path, &cert.pem())?;
        }
        let read = |p: &PathBuf| std::fs::read_to_string(p).map_err(io(format!("reading {}", p.display())));
        let cert_pem = read(&cert_path)?;
        let key = KeyPair::from_pem(&read(&key_path)?)?;
        let issuer = Issuer::from_ca_cert_pem(&cert_pem, key)?;
        Ok(Ca { cert_pem, issuer })
    }

    /// The CA certificate, PEM.
    pub fn cert_pem(&self) -> &str {
        &self.cert_pem
    }

    /// Fingerprint of the CA certificate, which join tokens carry so that an agent
    /// can trust the server before it has any certificate.
    pub fn fingerprint(&self) -> Result<String, TlsError> {
        Ok(fingerprint(&pem_der(&self.cert_pem)?))
    }

    /// Issues a certificate and key for a service name (server side or client side),
    /// with DNS names and IP addresses as subject alternative names.
    pub fn issue(&self, common_name: &str, sans: &[String], server: bool) -> Result<(String, String), TlsError> {
        let key = KeyPair::generate()?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, common_name);
        for s in sans {
            params.subject_alt_names.push(match s.parse::<std::net::IpAddr>() {
                Ok(ip) => SanType::IpAddress(ip),
                Err(_) => SanType::DnsName(s.as_str().try_into()?),
            });
        }
        params.extended_key_usages = if server {
            vec![ExtendedKeyUsagePurpose::ServerAuth, ExtendedKeyUsagePurpose::ClientAuth]
        } else {
            vec![ExtendedKeyUsagePurpose::ClientAuth]
        };
        validity(&mut params, 825);
        let cert = params.signed_by(&key, &self.issuer)?;
        Ok((cert.pem(), key.serialize_pem()))
    }

    /// Signs an agent's certificate request, naming it after its host whatever the
    /// request asked for. Only IP addresses are kept from the request's alternative
    /// names, and the server's name is refused: an agent's certificate must never
    /// pass for the server's.
    pub fn sign_agent(&self, csr_pem: &str, host: &str) -> Result<AgentCredentials, TlsError> {
        if host.eq_ignore_ascii_case(SERVER_NAME) {
            return Err(TlsError::Reserved(host.to_string()));
        }
        let mut csr = CertificateSigningRequestParams::from_pem(csr_pem)?;
        let mut params = CertificateParams::new(Vec::<String>::new())?;
        params.distinguished_name.push(DnType::CommonName, host);
        params.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth, ExtendedKeyUsagePurpose::ServerAuth];
        params.subject_alt_names = csr
            .params
            .subject_alt_names
            .iter()
            .filter(|s| matches!(s, SanType::IpAddress(_)))
            .cloned()
            .collect();
        validity(&mut params, 825);
        csr.params = params;
        let cert = csr.signed_by(&self.issuer)?;
        Ok(AgentCredentials {
            fingerprint: fingerprint(cert.der()),
            cert_pem: cert.pem(),
            ca_pem: self.cert_pem.clone(),
        })
    }
}

/// A new key and certificate request for an agent, with its addresses as names.
pub fn agent_request(host: &str, sans: &[String]) -> Result<(String, String), TlsError> {
    let key = KeyPair::generate()?;
    let mut params = CertificateParams::new(Vec::<String>::new())?;
    params.distinguished_name.push(DnType::CommonName, host);
    for s in sans {
        if let Ok(ip) = s.parse::<std::net::IpAddr>() {
            params.subject_alt_names.push(SanType::IpAddress(ip));
        }
    }
    let csr = params.serialize_request(&key)?;
    Ok((csr.pem()?, key.serialize_pem()))
}

fn pem_der(pem: &str) -> Result<Vec<u8>, TlsError> {
    let certs = crate::config::pem_certs(pem)?;
    certs
        .into_iter()
        .next()
        .map(|c| c.as_ref().to_vec())
        .ok_or_else(|| TlsError::Pem("no certificate".into()))
}

/// Saves PEM text to a private file.
pub fn save_private(path: &Path, content: &str) -> Result<(), TlsError> {
    write_private(path, content)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ca_persists_and_signs_agents() {
        let dir = tempfile::tempdir().unwrap();
        let ca = Ca::load_or_create(dir.path()).unwrap();
        let fp = ca.fingerprint().unwrap();
        let again = Ca::load_or_create(dir.path()).unwrap();
        assert_eq!(again.fingerprint().unwrap(), fp, "the CA is kept across starts");
        let (csr, _key) = agent_request("host-a", &["10.0.0.5".into()]).unwrap();
        let creds = ca.sign_agent(&csr, "host-a").unwrap();
        assert!(creds.cert_pem.contains("BEGIN CERTIFICATE"));
        assert_eq!(creds.fingerprint.len(), 64);
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(dir.path().join("ca.key"))
            .unwrap()
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}
