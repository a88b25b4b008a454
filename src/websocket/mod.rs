//! NATS clients over WebSocket (`websocket { }`): a port of its own,
//! the HTTP upgrade (`handshake`), then the NATS protocol unchanged
//! inside binary frames (`frame`). Each connection is a client like any
//! other: its WebSocket side is a bridge task that turns the client's
//! frames into the byte stream the client reader parses, and the
//! writer's bytes into frames, answering pings and closes itself.

mod frame;
mod handshake;

use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite, AsyncWriteExt};
use tokio::net::TcpListener;
use tokio::sync::mpsc;
use tokio::task::JoinHandle;
use tracing::{debug, error, info};

pub use crate::config::websocket::{CookieNames, OriginRules, WebsocketAuth, WebsocketOptions};
use crate::handle::{CloseReason, Handle};
use crate::server::{Connection, Server};

/// Bytes the pipe between a bridge and its client holds each way.
const PIPE_BYTES: usize = 64 * 1024;

/// Binds the WebSocket port and accepts on it.
pub async fn start(
    server: &Arc<Server>,
    ws: &WebsocketOptions,
) -> std::io::Result<(SocketAddr, JoinHandle<()>)> {
    let acceptor = match &ws.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(t.load().map_err(|e| {
            std::io::Error::new(std::io::ErrorKind::InvalidInput, e.0)
        })?)),
        None => None,
    };
    let host = if ws.host.is_empty() {
        server.opts().host.clone()
    } else {
        ws.host.clone()
    };
    let listener = TcpListener::bind((host.as_str(), ws.port)).await?;
    let addr = listener.local_addr()?;
    server.set_websocket_addr(addr);
    let scheme = if acceptor.is_some() { "wss" } else { "ws" };
    info!("Listening for websocket clients on {scheme}://{addr}");
    if acceptor.is_none() {
        info!("Websocket not configured with TLS. DO NOT USE IN PRODUCTION!");
    }
    let task = tokio::spawn(accept_loop(server.clone(), listener, acceptor, ws.clone()));
    Ok((addr, task))
}

async fn accept_loop(
    server: Arc<Server>,
    listener: TcpListener,
    acceptor: Option<tokio_rustls::TlsAcceptor>,
    ws: WebsocketOptions,
) {
    // Ended by aborting the task (shutdown, lame duck).
    loop {
        match listener.accept().await {
            Ok((stream, peer)) => {
                let _ = stream.set_nodelay(true);
                let (server, acceptor, ws) = (server.clone(), acceptor.clone(), ws.clone());
                tokio::spawn(async move {
                    let Some(a) = acceptor else {
                        return serve(server, stream, peer, false, ws).await;
                    };
                    match tokio::time::timeout(ws.handshake_timeout, a.accept(stream)).await {
                        Ok(Ok(tls)) => serve(server, tls, peer, true, ws).await,
                        _ => debug!("{peer} - websocket TLS handshake failed"),
                    }
                });
            }
            Err(e) => {
                error!("Temporary websocket Accept Error({e})");
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        }
    }
}

/// Reads the upgrade request (up to its blank line).
async fn read_request<S: AsyncRead + Unpin>(sock: &mut S) -> std::io::Result<Vec<u8>> {
    let mut req = Vec::with_capacity(512);
    let mut byte = [0u8; 1];
    // A byte at a time: nothing past the request may be taken from the
    // socket (the client speaks only after the 101).
    while !req.ends_with(b"\r\n\r\n") {
        if req.len() >= handshake::MAX_REQUEST || sock.read(&mut byte).await? == 0 {
            return Err(std::io::ErrorKind::InvalidData.into());
        }
        req.push(byte[0]);
    }
    Ok(req)
}

/// One WebSocket client: the upgrade, then a client connection behind a
/// bridge.
async fn serve<S>(
    server: Arc<Server>,
    mut sock: S,
    peer: SocketAddr,
    tls: bool,
    ws: WebsocketOptions,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let request = match tokio::time::timeout(ws.handshake_timeout, read_request(&mut sock)).await {
        Ok(Ok(r)) => r,
        _ => {
            debug!("{peer} - websocket handshake error: no complete request");
            return;
        }
    };
    let upgrade = match handshake::upgrade(&request, tls, &ws.origins, ws.compression, &ws.headers)
    {
        Ok(u) => u,
        Err(refusal) => {
            error!("{peer} - websocket handshake error: {}", refusal.reason);
            let _ = sock.write_all(&refusal.response).await;
            let _ = sock.shutdown().await;
            return;
        }
    };
    if sock.write_all(&upgrade.response).await.is_err() {
        return;
    }
    let opts = server.opts();
    let id = server.next_id();
    let handle = Arc::new(Handle::socket(id, opts.max_pending, peer));
    handle.set_websocket();
    let conn = Arc::new(Connection::new(
        handle.clone(),
        server.global_account().clone(),
    ));
    if !server.register(&conn, opts.max_connections) {
        let _ = sock.write_all(&frame::close(1008)).await;
        return;
    }
    debug!("{peer} - wid:{id} - Websocket connection created");
    let (client_side, bridge_side) = tokio::io::duplex(PIPE_BYTES);
    tokio::spawn(bridge(
        sock,
        bridge_side,
        !upgrade.no_masking,
        upgrade.deflate,
        handle,
    ));
    let ip = upgrade
        .forwarded_for
        .unwrap_or_else(|| peer.ip().to_string());
    let cookies = ws.cookies.any().then(|| {
        let named = |name: &Option<String>| {
            name.as_ref()
                .and_then(|n| upgrade.cookies.iter().find(|(k, _)| k == n))
                .map(|(_, v)| v.clone())
                .unwrap_or_default()
        };
        crate::client::CookieCredentials {
            jwt: named(&ws.cookies.jwt),
            user: named(&ws.cookies.username),
            pass: named(&ws.cookies.password),
            token: named(&ws.cookies.token),
        }
    });
    let greeting = crate::client::Greeting {
        send_info: true,
        nonce: server.new_nonce(),
        client_cert: None,
        cookies,
    };
    crate::client::run_connection(
        server,
        conn,
        tokio::io::split(client_side),
        peer,
        ip,
        greeting,
    )
    .await;
}

/// The close code a closed client's WebSocket gets, as the reference
/// chooses it.
fn close_code(reason: Option<CloseReason>) -> u16 {
    match reason {
        Some(
            CloseReason::AuthenticationTimeout
            | CloseReason::AuthenticationViolation
            | CloseReason::MaxConnectionsExceeded
            | CloseReason::MaxSubscriptionsExceeded,
        ) => 1008,
        Some(CloseReason::ProtocolError) => 1002,
        Some(
            CloseReason::ReadError
            | CloseReason::WriteError
            | CloseReason::StaleConnection
            | CloseReason::ServerShutdown
            | CloseReason::LameDuck
            | CloseReason::SlowConsumerWriteDeadline,
        ) => 1001,
        Some(CloseReason::ClientClosed) | None => frame::CLOSE_NORMAL,
        Some(_) => 1011,
    }
}

/// Carries bytes between the WebSocket and the client's pipe: frames in,
/// protocol bytes out to the pipe; the client's bytes framed back.
async fn bridge<S>(
    sock: S,
    pipe: tokio::io::DuplexStream,
    masked: bool,
    deflate: bool,
    handle: Arc<Handle>,
) where
    S: AsyncRead + AsyncWrite + Unpin + Send + 'static,
{
    let (mut sock_rd, mut sock_wr) = tokio::io::split(sock);
    let (mut pipe_rd, mut pipe_wr) = tokio::io::split(pipe);
    let (control_tx, mut control_rx) = mpsc::channel::<Vec<u8>>(16);
    // Frames in: their bytes to the client reader.
    let inbound = tokio::spawn(async move {
        let mut decoder = frame::Decoder::new(masked, deflate);
        let mut buf = Vec::with_capacity(16 * 1024);
        let mut chunk = vec![0u8; 16 * 1024];
        let mut events = Vec::new();
        loop {
            let n = match sock_rd.read(&mut chunk).await {
                Ok(0) | Err(_) => break,
                Ok(n) => n,
            };
            buf.extend_from_slice(&chunk[..n]);
            decoder.feed(&mut buf, &mut events);
            for e in events.drain(..) {
                match e {
                    frame::Event::Data(d) => {
                        if pipe_wr.write_all(&d).await.is_err() {
                            return;
                        }
                    }
                    frame::Event::Reply(r) => {
                        let _ = control_tx.send(r).await;
                    }
                    frame::Event::Close(c) => {
                        let _ = control_tx.send(c).await;
                        let _ = pipe_wr.shutdown().await;
                        return;
                    }
                }
            }
        }
        let _ = pipe_wr.shutdown().await;
    });
    // The client's bytes out as binary frames, control frames between.
    let mut chunk = vec![0u8; 64 * 1024];
    let mut out = Vec::with_capacity(64 * 1024 + 16);
    let mut control_open = true;
    loop {
        tokio::select! {
            read = pipe_rd.read(&mut chunk) => {
                let n = match read {
                    Ok(0) | Err(_) => {
                        let code = close_code(handle.outbound().and_then(|o| o.close_reason()));
                        let _ = sock_wr.write_all(&frame::close(code)).await;
                        break;
                    }
                    Ok(n) => n,
                };
                out.clear();
                // Compressed when agreed, but not the smallest writes
                // (the reference's threshold).
                if deflate && n > 64 {
                    frame::binary_deflated(&chunk[..n], &mut out);
                } else {
                    frame::binary(&chunk[..n], &mut out);
                }
                if sock_wr.write_all(&out).await.is_err() {
                    break;
                }
            }
            control = control_rx.recv(), if control_open => {
                let Some(c) = control else {
                    control_open = false;
                    continue;
                };
                let closing = c.first() == Some(&0x88);
                if sock_wr.write_all(&c).await.is_err() || closing {
                    break;
                }
            }
        }
    }
    let _ = sock_wr.shutdown().await;
    inbound.abort();
}
