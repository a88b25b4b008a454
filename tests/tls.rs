//! TLS as nats-server does it, through async-nats and raw TCP: the upgrade
//! after a plaintext INFO, handshake first, client certificates required
//! with `verify`, plaintext clients on a TLS port, and `allow_non_tls`.

mod harness;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rcgen::{BasicConstraints, CertificateParams, DnType, ExtendedKeyUsagePurpose, IsCa, KeyPair};
use tern::tls::{HandshakeFirst, TlsConfig};
use tern::{Options, Running};

use harness::{connect_with, round_trip, start_with, url, within, within_for, Wire};

/// A CA, a server certificate for 127.0.0.1 and a client certificate,
/// written as PEM files.
struct Certs {
    _dir: tempfile::TempDir,
    ca: PathBuf,
    server_cert: PathBuf,
    server_key: PathBuf,
    client_cert: PathBuf,
    client_key: PathBuf,
    /// A client certificate with the e-mail SAN bob@example.com.
    bob_cert: PathBuf,
    bob_key: PathBuf,
}

fn write(dir: &Path, name: &str, text: &str) -> PathBuf {
    let path = dir.join(name);
    std::fs::write(&path, text).unwrap();
    path
}

fn certs() -> Certs {
    let dir = tempfile::tempdir().unwrap();
    let ca_key = KeyPair::generate().unwrap();
    let mut ca = CertificateParams::new(Vec::<String>::new()).unwrap();
    ca.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    ca.distinguished_name
        .push(DnType::CommonName, "tern test CA");
    let ca_cert = ca.self_signed(&ca_key).unwrap();
    let leaf = |names: Vec<String>, usage: ExtendedKeyUsagePurpose, cn: &str| {
        let key = KeyPair::generate().unwrap();
        let mut p = CertificateParams::new(names).unwrap();
        p.extended_key_usages = vec![usage];
        p.distinguished_name.push(DnType::CommonName, cn);
        let cert = p.signed_by(&key, &ca_cert, &ca_key).unwrap();
        (cert.pem(), key.serialize_pem())
    };
    let (sc, sk) = leaf(
        vec!["127.0.0.1".into(), "localhost".into()],
        ExtendedKeyUsagePurpose::ServerAuth,
        "server",
    );
    let (cc, ck) = leaf(vec![], ExtendedKeyUsagePurpose::ClientAuth, "alice");
    let bob_key = KeyPair::generate().unwrap();
    let mut bob = CertificateParams::new(Vec::<String>::new()).unwrap();
    bob.extended_key_usages = vec![ExtendedKeyUsagePurpose::ClientAuth];
    bob.distinguished_name.push(DnType::CommonName, "bob");
    bob.subject_alt_names.push(rcgen::SanType::Rfc822Name(
        "bob@example.com".try_into().unwrap(),
    ));
    let bob = bob.signed_by(&bob_key, &ca_cert, &ca_key).unwrap();
    let d = dir.path();
    Certs {
        ca: write(d, "ca.pem", &ca_cert.pem()),
        server_cert: write(d, "server.pem", &sc),
        server_key: write(d, "server-key.pem", &sk),
        client_cert: write(d, "client.pem", &cc),
        client_key: write(d, "client-key.pem", &ck),
        bob_cert: write(d, "bob.pem", &bob.pem()),
        bob_key: write(d, "bob-key.pem", &bob_key.serialize_pem()),
        _dir: dir,
    }
}

async fn start(c: &Certs, adjust: impl FnOnce(&mut TlsConfig, &mut Options)) -> Running {
    let mut tls = TlsConfig {
        cert_file: Some(c.server_cert.clone()),
        key_file: Some(c.server_key.clone()),
        ca_file: Some(c.ca.clone()),
        ..TlsConfig::default()
    };
    let mut opts = Options::loopback();
    adjust(&mut tls, &mut opts);
    opts.tls = Some(tls);
    start_with(opts).await
}

fn tls_client(c: &Certs) -> async_nats::ConnectOptions {
    async_nats::ConnectOptions::new()
        .add_root_certificates(c.ca.clone())
        .require_tls(true)
}

#[tokio::test]
async fn upgrade_after_plaintext_info() {
    let c = certs();
    let s = start(&c, |_, _| {}).await;
    let client = connect_with(s.addr(), tls_client(&c)).await;
    round_trip(&client).await;
    // The INFO a raw client sees says TLS is required; a plaintext
    // CONNECT gets nothing back and the socket closes.
    let (mut wire, info) = Wire::connect_past_info(s.addr()).await;
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains(r#""tls_required":true"#), "{info}");
    assert!(!info.contains("tls_verify"), "{info}");
    wire.send(b"CONNECT {}\r\nPING\r\n").await;
    wire.expect_closed().await;
}

#[tokio::test]
async fn client_certificates_with_verify() {
    let c = certs();
    let s = start(&c, |t, _| t.verify = true).await;
    let with_cert =
        tls_client(&c).add_client_certificate(c.client_cert.clone(), c.client_key.clone());
    let client = connect_with(s.addr(), with_cert).await;
    round_trip(&client).await;
    let (_, info) = Wire::connect_past_info(s.addr()).await;
    assert!(String::from_utf8_lossy(&info).contains(r#""tls_verify":true"#));
    let refused = tokio::time::timeout(
        Duration::from_secs(10),
        tls_client(&c)
            .retry_on_initial_connect()
            .max_reconnects(Some(1))
            .connect(url(s.addr())),
    )
    .await;
    let connected = matches!(refused, Ok(Ok(ref cl)) if cl.flush().await.is_ok());
    assert!(!connected, "a client without a certificate must not get in");
}

#[tokio::test]
async fn handshake_first() {
    let c = certs();
    let s = start(&c, |t, _| t.handshake_first = HandshakeFirst::On).await;
    let client = connect_with(s.addr(), tls_client(&c).tls_first()).await;
    round_trip(&client).await;
    // Nothing is sent before the handshake: a raw client hears nothing.
    let mut wire = Wire::connect(s.addr()).await;
    wire.send(b"CONNECT {}\r\n").await;
    wire.expect_closed().await;
}

#[tokio::test]
async fn handshake_first_with_fallback() {
    let c = certs();
    let s = start(&c, |t, _| {
        t.handshake_first = HandshakeFirst::Fallback(Duration::from_millis(50))
    })
    .await;
    // A client starting TLS at once, and one that waits for INFO.
    let first = connect_with(s.addr(), tls_client(&c).tls_first()).await;
    round_trip(&first).await;
    let upgrade = connect_with(s.addr(), tls_client(&c)).await;
    round_trip(&upgrade).await;
}

#[tokio::test]
async fn allow_non_tls_lets_plaintext_clients_in() {
    let c = certs();
    let s = start(&c, |_, o| o.allow_non_tls = true).await;
    let (mut wire, info) = Wire::connect_past_info(s.addr()).await;
    let info = String::from_utf8_lossy(&info);
    assert!(info.contains(r#""tls_available":true"#), "{info}");
    assert!(!info.contains("tls_required"), "{info}");
    wire.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    wire.expect(b"PONG\r\n").await;
    let client = connect_with(s.addr(), tls_client(&c)).await;
    round_trip(&client).await;
}

#[test]
fn unreadable_files_are_refused_in_the_reference_words() {
    let c = certs();
    let missing = TlsConfig {
        cert_file: Some(PathBuf::from("/nonexistent.pem")),
        key_file: Some(c.server_key.clone()),
        ..TlsConfig::default()
    };
    assert_eq!(
        missing.load().unwrap_err().0,
        "error parsing X509 certificate/key pair: open /nonexistent.pem: no such file or directory"
    );
    let mismatched = TlsConfig {
        cert_file: Some(c.server_cert.clone()),
        key_file: Some(c.client_key.clone()),
        ..TlsConfig::default()
    };
    assert_eq!(
        mismatched.load().unwrap_err().0,
        "error parsing X509 certificate/key pair: tls: private key does not match public key"
    );
    let no_key = TlsConfig {
        cert_file: Some(c.server_cert.clone()),
        ..TlsConfig::default()
    };
    assert_eq!(
        no_key.load().unwrap_err().0,
        "missing 'key_file' in TLS configuration"
    );
}

/// `verify_and_map`: the certificate names the user, by its e-mail SAN
/// or its subject; a certificate naming no user is refused.
#[tokio::test]
async fn verify_and_map_names_the_user() {
    let c = certs();
    let s = start(&c, |t, o| {
        t.verify = true;
        t.map_users = true;
        let mut alice = tern::auth::User::new("CN=alice", "");
        alice.permissions = Some(std::sync::Arc::new(tern::permissions::Permissions {
            publish: tern::permissions::Rules {
                allow: Some(vec![tern::permissions::Entry::parse("alice.>")]),
                deny: vec![],
            },
            ..Default::default()
        }));
        o.auth.users = vec![alice, tern::auth::User::new("bob@example.com", "")];
    })
    .await;
    let bob = connect_with(
        s.addr(),
        tls_client(&c).add_client_certificate(c.bob_cert.clone(), c.bob_key.clone()),
    )
    .await;
    round_trip(&bob).await;
    // Alice is mapped by her subject, and her permissions apply: her
    // publish to alice.x arrives, the one to nope does not.
    let alice = connect_with(
        s.addr(),
        tls_client(&c).add_client_certificate(c.client_cert.clone(), c.client_key.clone()),
    )
    .await;
    let mut seen = bob.subscribe("*").await.unwrap();
    let mut seen_alice = bob.subscribe("alice.>").await.unwrap();
    round_trip(&bob).await;
    alice.publish("nope", "x".into()).await.unwrap();
    alice.publish("alice.x", "y".into()).await.unwrap();
    alice.flush().await.unwrap();
    let got = within("alice's message", futures::StreamExt::next(&mut seen_alice))
        .await
        .unwrap();
    assert_eq!(got.subject.as_str(), "alice.x");
    // Her publish to `nope` (one token, which `*` would see) was refused.
    round_trip(&bob).await;
    let stray = tokio::time::timeout(
        std::time::Duration::from_millis(200),
        futures::StreamExt::next(&mut seen),
    )
    .await;
    assert!(stray.is_err(), "alice's refused publish arrived: {stray:?}");
    // A server mapping no user for the certificate refuses it.
    let s2 = start(&c, |t, o| {
        t.verify = true;
        t.map_users = true;
        o.auth.users = vec![tern::auth::User::new("somebody", "")];
    })
    .await;
    let opts = tls_client(&c).add_client_certificate(c.client_cert.clone(), c.client_key.clone());
    let err = opts
        .connect(url(s2.addr()))
        .await
        .expect_err("no user for this certificate");
    assert!(
        err.to_string().to_lowercase().contains("authorization"),
        "{err}"
    );
}

/// `https_port`: monitoring over TLS with the client certificate; plain
/// HTTP on it gets nothing.
#[tokio::test]
async fn https_monitoring() {
    use rustls_pki_types::pem::PemObject;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let c = certs();
    let s = start(&c, |_, o| {
        o.https_port = Some(tern::config::options::Port::Random);
    })
    .await;
    let addr = s.server().monitor_addr().expect("the https port");
    let mut roots = tokio_rustls::rustls::RootCertStore::empty();
    for cert in rustls_pki_types::CertificateDer::pem_file_iter(&c.ca).unwrap() {
        roots.add(cert.unwrap()).unwrap();
    }
    let config = tokio_rustls::rustls::ClientConfig::builder_with_provider(Arc::new(
        tokio_rustls::rustls::crypto::ring::default_provider(),
    ))
    .with_safe_default_protocol_versions()
    .unwrap()
    .with_root_certificates(roots)
    .with_no_client_auth();
    let connector = tokio_rustls::TlsConnector::from(Arc::new(config));
    let tcp = tokio::net::TcpStream::connect(addr).await.unwrap();
    let name = rustls_pki_types::ServerName::try_from("localhost").unwrap();
    let mut tls = within("the TLS handshake", connector.connect(name, tcp))
        .await
        .unwrap();
    tls.write_all(b"GET /varz HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n")
        .await
        .unwrap();
    let mut raw = Vec::new();
    let _ = within("the response", tls.read_to_end(&mut raw)).await;
    let text = String::from_utf8_lossy(&raw);
    assert!(text.starts_with("HTTP/1.1 200"), "{text}");
    assert!(
        text.contains(&format!("\"https_port\": {}", addr.port())),
        "{text}"
    );
    assert!(text.contains("\"http_port\": 0"), "{text}");
}

#[tokio::test]
async fn websocket_over_tls() {
    use futures::StreamExt;
    let c = certs();
    let server = start_with(Options {
        websocket: Some(tern::websocket::WebsocketOptions {
            host: "127.0.0.1".into(),
            tls: Some(TlsConfig {
                cert_file: Some(c.server_cert.clone()),
                key_file: Some(c.server_key.clone()),
                ..TlsConfig::default()
            }),
            ..tern::websocket::WebsocketOptions::default()
        }),
        ..Options::loopback()
    })
    .await;
    let addr = server.websocket_addr().expect("websocket port");
    let ws = within(
        "a wss client",
        async_nats::ConnectOptions::new()
            .add_root_certificates(c.ca.clone())
            .connect(format!("wss://{addr}")),
    )
    .await
    .expect("wss connect");
    let mut sub = ws.subscribe("secure").await.expect("subscribe");
    ws.publish("secure", "over wss".into())
        .await
        .expect("publish");
    let m = within("the message", sub.next()).await.expect("message");
    assert_eq!(&m.payload[..], b"over wss");
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}
