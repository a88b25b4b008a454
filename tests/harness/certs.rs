//! A throwaway CA and a server certificate for 127.0.0.1, as PEM files,
//! for tests that run TLS between servers.

use std::path::{Path, PathBuf};

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};

pub struct ServerCerts {
    _dir: tempfile::TempDir,
    pub ca: PathBuf,
    pub cert: PathBuf,
    pub key: PathBuf,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).expect("write pem");
    path
}

pub fn server_certs() -> ServerCerts {
    let dir = tempfile::tempdir().expect("tempdir");
    let ca_key = KeyPair::generate().expect("key");
    let mut ca = CertificateParams::new(Vec::<String>::new()).expect("params");
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "tern test CA");
    let ca_cert = ca.self_signed(&ca_key).expect("ca");
    let key = KeyPair::generate().expect("key");
    let mut p = CertificateParams::new(vec!["127.0.0.1".to_string(), "localhost".to_string()])
        .expect("params");
    p.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ServerAuth,
        ExtendedKeyUsagePurpose::ClientAuth,
    ];
    p.distinguished_name.push(DnType::CommonName, "server");
    let cert = p.signed_by(&key, &ca_cert, &ca_key).expect("cert");
    let d = dir.path();
    ServerCerts {
        ca: write(d, "ca.pem", &ca_cert.pem()),
        cert: write(d, "server.pem", &cert.pem()),
        key: write(d, "server-key.pem", &key.serialize_pem()),
        _dir: dir,
    }
}
