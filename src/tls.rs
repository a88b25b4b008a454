//! TLS for client connections (`tls { }`, `--tls*` flags): the
//! certificate and key, the CA that client certificates must chain to when
//! `verify` is on, the handshake timeout, and when the handshake comes
//! (after a plaintext INFO, as NATS does, or first). Load errors are the
//! reference's words.

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::server::WebPkiClientVerifier;
use rustls::{RootCertStore, ServerConfig};
use rustls_pki_types::pem::PemObject;
use rustls_pki_types::{CertificateDer, PrivateKeyDer};

/// The reference's default handshake timeout.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(2);
/// `handshake_first: auto`: how long to wait for a ClientHello before
/// sending a plaintext INFO.
pub const AUTO_FALLBACK: Duration = Duration::from_millis(50);

/// When the TLS handshake happens.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum HandshakeFirst {
    /// INFO in plaintext, then the handshake (the NATS way).
    #[default]
    Off,
    /// The handshake before anything is sent.
    On,
    /// Wait this long for the client to start one; if it says nothing,
    /// INFO in plaintext, then the handshake.
    Fallback(Duration),
}

/// A `tls { }` block (or the flags), as configured.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsConfig {
    /// The server's certificate chain, PEM (`cert_file`, `--tlscert`).
    pub cert_file: Option<PathBuf>,
    /// The certificate's private key, PEM (`key_file`, `--tlskey`).
    pub key_file: Option<PathBuf>,
    /// CA certificates, PEM, that client certificates must chain to when
    /// `verify` is on (`ca_file`, `--tlscacert`).
    pub ca_file: Option<PathBuf>,
    /// Client certificates are required and verified.
    pub verify: bool,
    /// And the certificate names the user (`verify_and_map`).
    pub map_users: bool,
    /// How long a client's handshake may take (`timeout`).
    pub timeout: Duration,
    /// Whether the handshake comes before or after the plaintext INFO
    /// (`handshake_first`).
    pub handshake_first: HandshakeFirst,
}

impl Default for TlsConfig {
    fn default() -> Self {
        TlsConfig {
            cert_file: None,
            key_file: None,
            ca_file: None,
            verify: false,
            map_users: false,
            timeout: DEFAULT_TIMEOUT,
            handshake_first: HandshakeFirst::Off,
        }
    }
}

/// Why a TLS configuration cannot be used, in the reference's words.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsError(pub String);

impl std::fmt::Display for TlsError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

impl std::error::Error for TlsError {}

impl TlsConfig {
    /// Builds the rustls server config: reads the certificate chain, the
    /// key (which must match), and the CA for client certificates.
    pub fn load(&self) -> Result<Arc<ServerConfig>, TlsError> {
        let (cert, key) = match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => (c, k),
            (Some(_), None) => {
                return Err(TlsError("missing 'key_file' in TLS configuration".into()))
            }
            (None, Some(_)) => {
                return Err(TlsError("missing 'cert_file' in TLS configuration".into()))
            }
            (None, None) => {
                return Err(TlsError(
                    "TLS Server certificate must be present and valid".into(),
                ))
            }
        };
        let chain = read_certs(cert)?;
        let key = read_key(key)?;
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let builder = ServerConfig::builder_with_provider(provider.clone())
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError(e.to_string()))?;
        let builder = if self.verify {
            let mut roots = RootCertStore::empty();
            if let Some(ca) = &self.ca_file {
                let certs = read_ca(ca)?;
                let (added, _) = roots.add_parsable_certificates(certs);
                if added == 0 {
                    return Err(TlsError("failed to parse root ca certificate".into()));
                }
            }
            let verifier = WebPkiClientVerifier::builder_with_provider(Arc::new(roots), provider)
                .build()
                .map_err(|e| TlsError(format!("error setting up client verification: {e}")))?;
            builder.with_client_cert_verifier(verifier)
        } else {
            if let Some(ca) = &self.ca_file {
                // Read anyway, so an unreadable file is refused as the
                // reference refuses it.
                read_ca(ca)?;
            }
            builder.with_no_client_auth()
        };
        let config = builder.with_single_cert(chain, key).map_err(|e| {
            TlsError(format!(
                "error parsing X509 certificate/key pair: {}",
                match e {
                    rustls::Error::InconsistentKeys(_) => {
                        "tls: private key does not match public key".to_string()
                    }
                    other => other.to_string(),
                }
            ))
        })?;
        Ok(Arc::new(config))
    }
}

impl TlsConfig {
    /// The client side (a leaf node dialling a hub): servers are checked
    /// against `ca_file`; `cert_file`/`key_file`, when given, are this
    /// side's certificate for hubs that verify it.
    pub fn load_client(&self) -> Result<Arc<rustls::ClientConfig>, TlsError> {
        let provider = Arc::new(rustls::crypto::ring::default_provider());
        let mut roots = RootCertStore::empty();
        let Some(ca) = &self.ca_file else {
            return Err(TlsError(
                "TLS to another server (a hub, a route) needs 'ca_file' to check it".into(),
            ));
        };
        let (added, _) = roots.add_parsable_certificates(read_ca(ca)?);
        if added == 0 {
            return Err(TlsError("failed to parse root ca certificate".into()));
        }
        let builder = rustls::ClientConfig::builder_with_provider(provider)
            .with_protocol_versions(&[&rustls::version::TLS13, &rustls::version::TLS12])
            .map_err(|e| TlsError(e.to_string()))?
            .with_root_certificates(roots);
        let config = match (&self.cert_file, &self.key_file) {
            (Some(c), Some(k)) => builder
                .with_client_auth_cert(read_certs(c)?, read_key(k)?)
                .map_err(|e| TlsError(format!("error parsing X509 certificate/key pair: {e}")))?,
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

fn read_file(path: &Path) -> Result<Vec<u8>, String> {
    std::fs::read(path).map_err(|e| format!("open {}: {}", path.display(), os_error(&e)))
}

/// An I/O error as Go prints it ("no such file or directory").
fn os_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::NotFound => "no such file or directory".into(),
        std::io::ErrorKind::PermissionDenied => "permission denied".into(),
        _ => e.to_string(),
    }
}

fn read_certs(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pair_error = |m: String| TlsError(format!("error parsing X509 certificate/key pair: {m}"));
    let pem = read_file(path).map_err(pair_error)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(pair_error(
            "tls: failed to find any PEM data in certificate input".into(),
        ));
    }
    Ok(certs)
}

fn read_key(path: &Path) -> Result<PrivateKeyDer<'static>, TlsError> {
    let pair_error = |m: String| TlsError(format!("error parsing X509 certificate/key pair: {m}"));
    let pem = read_file(path).map_err(pair_error)?;
    PrivateKeyDer::from_pem_slice(&pem)
        .map_err(|_| pair_error("tls: failed to find any PEM data in key input".into()))
}

fn read_ca(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let pem = read_file(path).map_err(TlsError)?;
    let certs: Vec<_> = CertificateDer::pem_slice_iter(&pem)
        .filter_map(Result::ok)
        .collect();
    if certs.is_empty() {
        return Err(TlsError("failed to parse root ca certificate".into()));
    }
    Ok(certs)
}
