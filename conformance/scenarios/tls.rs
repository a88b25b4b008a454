//! TLS configured in the file, compared with the reference on what a
//! plaintext client observes: the INFO's TLS fields, the silent close of a
//! client that does not start TLS, the handshake timeout, and a port that
//! allows non-TLS clients.

use std::path::Path;
use std::time::Duration;

use rcgen::{CertificateParams, KeyPair};

use crate::harness::ServerSpec;
use crate::runner::run_with;

/// A self-signed certificate for 127.0.0.1 in `dir`; the `tls` block that
/// names it, with `extra` lines.
fn tls_block(dir: &Path, extra: &str) -> &'static str {
    let key = KeyPair::generate().expect("key");
    let cert = CertificateParams::new(vec!["127.0.0.1".to_string()])
        .expect("params")
        .self_signed(&key)
        .expect("certificate");
    let (cert_path, key_path) = (dir.join("cert.pem"), dir.join("key.pem"));
    std::fs::write(&cert_path, cert.pem()).expect("write cert");
    std::fs::write(&key_path, key.serialize_pem()).expect("write key");
    let conf = format!(
        "tls {{\n  cert_file: \"{}\"\n  key_file: \"{}\"\n  timeout: 0.5\n{extra}}}\n",
        cert_path.display(),
        key_path.display()
    );
    Box::leak(conf.into_boxed_str())
}

#[test]
fn tls_plaintext_client_on_a_tls_port() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ServerSpec {
        conf: Some(tls_block(dir.path(), "")),
        ..ServerSpec::default()
    };
    run_with("tls_plaintext_client_on_a_tls_port", spec, |s| {
        // The INFO (recorded, compared) says TLS is required; a CONNECT in
        // plaintext is answered by a close, without a byte.
        let mut c = s.connect("plaintext");
        c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .read_until_closed()
            .expect(b"")
            .expect_closed();
        // Saying nothing: closed when the 0.5 s handshake timeout passes.
        let mut c = s.connect("silent");
        c.read_until_closed_within(Duration::from_secs(5))
            .expect(b"")
            .expect_closed();
    });
}

#[test]
fn tls_allow_non_tls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let spec = ServerSpec {
        conf: Some(Box::leak(
            format!("{}allow_non_tls: true\n", tls_block(dir.path(), "")).into_boxed_str(),
        )),
        ..ServerSpec::default()
    };
    run_with("tls_allow_non_tls", spec, |s| {
        let mut c = s.connect("plaintext");
        c.exchange(b"CONNECT {\"verbose\":false}\r\nSUB a 1\r\nPUB a 2\r\nhi\r\n")
            .expect(b"MSG a 1 2\r\nhi\r\nPONG\r\n")
            .expect_open();
    });
}
