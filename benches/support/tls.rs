//! A throwaway certificate for TLS benchmarks, and a client config that
//! trusts it.

use std::path::Path;
use std::sync::Arc;

/// Writes a self-signed certificate for 127.0.0.1 and its key into `dir`;
/// their paths and a client config trusting the certificate.
pub fn self_signed(dir: &Path) -> (String, String, Arc<rustls::ClientConfig>) {
    let key = rcgen::KeyPair::generate().expect("key");
    let cert = rcgen::CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let cert_path = dir.join("bench-cert.pem");
    let key_path = dir.join("bench-key.pem");
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let mut roots = rustls::RootCertStore::empty();
    roots
        .add(cert.der().clone())
        .expect("trust the certificate");
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ClientConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .expect("protocol versions")
        .with_root_certificates(roots)
        .with_no_client_auth();
    (
        cert_path.display().to_string(),
        key_path.display().to_string(),
        Arc::new(config),
    )
}
