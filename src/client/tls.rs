//! A client connection on a TLS port: the handshake after a plaintext
//! INFO (the NATS way), or first (`handshake_first`, or a fallback delay
//! after which INFO goes out in plaintext), or not at all for a plaintext
//! client when `allow_non_tls` lets it in. A failed or slow handshake
//! closes the socket without a word, as the reference does, and is logged
//! once.

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::AsyncWriteExt;
use tokio::net::TcpStream;
use tokio_rustls::TlsAcceptor;
use tracing::debug;

use crate::rate_limit::{error_limited, REFUSED_CONNECTIONS};

use super::reader::{run_connection, Greeting};
use crate::handle::CloseReason;
use crate::proto::write;
use crate::server::Connection;
use crate::server::Server;
use crate::tls::HandshakeFirst;

/// The first byte of a TLS record carrying a handshake (a ClientHello).
const TLS_HANDSHAKE_RECORD: u8 = 0x16;

pub async fn run_tls_connection(
    server: Arc<Server>,
    conn: Arc<Connection>,
    stream: TcpStream,
    peer: SocketAddr,
    client_ip: String,
    acceptor: TlsAcceptor,
) {
    let handle = conn.handle.clone();
    let Some(tls) = server.opts().tls.clone() else {
        return;
    };
    let nonce = server.new_nonce();
    let first = match tls.handshake_first {
        HandshakeFirst::On => true,
        HandshakeFirst::Off => false,
        // Anything the client sends within the delay starts the handshake.
        HandshakeFirst::Fallback(delay) => {
            let mut first = [0u8; 1];
            matches!(
                tokio::time::timeout(delay, stream.peek(&mut first)).await,
                Ok(Ok(1))
            )
        }
    };
    let mut stream = stream;
    if !first {
        let info = server.info_json(handle.id, Some(&client_ip), None, nonce.as_deref());
        let mut buf = bytes::BytesMut::new();
        write::append_info(&mut buf, &info);
        let sent = tokio::time::timeout(server.opts().write_deadline, stream.write_all(&buf)).await;
        if !matches!(sent, Ok(Ok(()))) {
            return closed(&server, &conn, peer, CloseReason::WriteError);
        }
        if server.opts().allow_non_tls && !starts_handshake(&stream, tls.timeout).await {
            debug!(
                "{peer} - cid:{} - Client connection created (no TLS)",
                handle.id
            );
            let greeting = Greeting {
                cookies: None,
                send_info: false,
                nonce,
                client_cert: None,
            };
            return run_connection(server, conn, stream.into_split(), peer, client_ip, greeting)
                .await;
        }
    }
    debug!(
        "{peer} - cid:{} - Starting TLS client connection handshake",
        handle.id
    );
    let deadline = tokio::time::Instant::now() + tls.timeout;
    // A client that speaks plaintext is closed without a word (rustls
    // would answer with an alert; the reference sends nothing).
    match tokio::time::timeout_at(deadline, first_record_is_handshake(&stream)).await {
        Ok(true) => {}
        Ok(false) => {
            error_limited(
                &REFUSED_CONNECTIONS,
                format_args!(
                    "{peer} - cid:{} - TLS handshake error: tls: first record does not look like a TLS handshake",
                    handle.id
                ),
            );
            return closed(&server, &conn, peer, CloseReason::TlsHandshakeFailure);
        }
        Err(_) => {
            error_limited(
                &REFUSED_CONNECTIONS,
                format_args!("{peer} - cid:{} - TLS handshake timeout", handle.id),
            );
            return closed(&server, &conn, peer, CloseReason::TlsHandshakeFailure);
        }
    }
    match tokio::time::timeout_at(deadline, acceptor.accept(stream)).await {
        Ok(Ok(tls_stream)) => {
            debug!("{peer} - cid:{} - TLS handshake complete", handle.id);
            if let Some(info) = handle.conn_info() {
                let session = tls_stream.get_ref().1;
                info.update(|d| {
                    d.tls_version = match session.protocol_version() {
                        Some(rustls::ProtocolVersion::TLSv1_3) => "1.3".into(),
                        Some(rustls::ProtocolVersion::TLSv1_2) => "1.2".into(),
                        Some(v) => format!("{v:?}"),
                        None => String::new(),
                    };
                    d.tls_cipher = session
                        .negotiated_cipher_suite()
                        .and_then(|c| c.suite().as_str())
                        .unwrap_or_default()
                        .to_string();
                });
            }
            // INFO goes inside TLS when the handshake came first; the
            // first certificate of the client's chain names it, for
            // `verify_and_map`.
            let greeting = Greeting {
                cookies: None,
                send_info: first,
                nonce,
                client_cert: tls_stream
                    .get_ref()
                    .1
                    .peer_certificates()
                    .and_then(|c| c.first())
                    .map(|c| c.as_ref().to_vec()),
            };
            let halves = tokio::io::split(tls_stream);
            run_connection(server, conn, halves, peer, client_ip, greeting).await;
        }
        Ok(Err(e)) => {
            error_limited(
                &REFUSED_CONNECTIONS,
                format_args!("{peer} - cid:{} - TLS handshake error: {e}", handle.id),
            );
            closed(&server, &conn, peer, CloseReason::TlsHandshakeFailure);
        }
        Err(_) => {
            error_limited(
                &REFUSED_CONNECTIONS,
                format_args!("{peer} - cid:{} - TLS handshake timeout", handle.id),
            );
            closed(&server, &conn, peer, CloseReason::TlsHandshakeFailure);
        }
    }
}

/// Whether the client's first bytes (peeked, not consumed) open a TLS
/// handshake record of a plausible version, as the reference checks its
/// first record; the rest of the record is rustls's to judge.
async fn first_record_is_handshake(stream: &TcpStream) -> bool {
    let mut header = [0u8; 2];
    match stream.peek(&mut header).await {
        Ok(0) | Err(_) => false,
        Ok(1) => header[0] == TLS_HANDSHAKE_RECORD,
        Ok(_) => header[0] == TLS_HANDSHAKE_RECORD && header[1] < 0x10,
    }
}

/// With `allow_non_tls`: whether the client's first byte (waited for up
/// to `wait`) opens a TLS handshake; silence or anything else is a
/// plaintext client, whose bytes stay unread for the protocol.
async fn starts_handshake(stream: &TcpStream, wait: Duration) -> bool {
    let mut first = [0u8; 1];
    matches!(
        tokio::time::timeout(wait, stream.peek(&mut first)).await,
        Ok(Ok(1)) if first[0] == TLS_HANDSHAKE_RECORD
    )
}

fn closed(server: &Server, conn: &Connection, peer: SocketAddr, reason: CloseReason) {
    conn.handle.close(reason);
    super::connection_closed(server, conn, peer, reason, Vec::new());
}
