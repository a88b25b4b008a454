//! NATS clients over WebSocket: async-nats's `ws://` transport publishes,
//! subscribes and makes requests across to plain TCP clients; the
//! upgrade's refusals are the reference's HTTP errors; a frame breaking
//! the rules (unmasked) gets close 1002; pings are answered.

mod harness;

use std::time::Duration;

use bytes::Bytes;
use futures::StreamExt;
use tern::websocket::WebsocketOptions;
use tern::{Options, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::{connect, start_with, within, within_for};

async fn start() -> Running {
    start_with(Options {
        websocket: Some(WebsocketOptions {
            host: "127.0.0.1".into(),
            no_tls: true,
            ..WebsocketOptions::default()
        }),
        ..Options::loopback()
    })
    .await
}

#[tokio::test]
async fn websocket_clients_talk_with_tcp_clients() {
    let server = start().await;
    let ws_addr = server.websocket_addr().expect("websocket port");
    let ws = within(
        "a websocket client",
        async_nats::connect(format!("ws://{ws_addr}")),
    )
    .await
    .expect("ws connect");
    let tcp = connect(server.addr()).await;
    // TCP -> WebSocket.
    let mut sub = ws.subscribe("to.ws").await.expect("subscribe");
    ws.flush().await.expect("flush");
    tcp.publish("to.ws", Bytes::from("hello"))
        .await
        .expect("publish");
    let m = within("the message over ws", sub.next())
        .await
        .expect("msg");
    assert_eq!(m.payload, Bytes::from("hello"));
    // WebSocket -> TCP, large enough to span frames.
    let mut sub = tcp.subscribe("to.tcp").await.expect("subscribe");
    tcp.flush().await.expect("flush");
    let big = Bytes::from(vec![b'x'; 200_000]);
    ws.publish("to.tcp", big.clone()).await.expect("publish");
    let m = within("the message over tcp", sub.next())
        .await
        .expect("msg");
    assert_eq!(m.payload, big);
    // Request/reply across.
    let mut service = tcp.subscribe("svc").await.expect("subscribe");
    tcp.flush().await.expect("flush");
    let responder = tcp.clone();
    tokio::spawn(async move {
        while let Some(m) = service.next().await {
            if let Some(reply) = m.reply {
                let _ = responder.publish(reply, Bytes::from("pong")).await;
            }
        }
    });
    let answer = within("a reply", ws.request("svc", Bytes::from("ping")))
        .await
        .expect("request");
    assert_eq!(answer.payload, Bytes::from("pong"));
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}

async fn raw_upgrade(addr: std::net::SocketAddr, request: &str) -> (TcpStream, String) {
    let mut s = TcpStream::connect(addr).await.expect("connect");
    s.write_all(request.as_bytes()).await.expect("write");
    let mut got = Vec::new();
    let mut byte = [0u8; 1];
    within("the upgrade answer", async {
        while !got.ends_with(b"\r\n\r\n") {
            if s.read(&mut byte).await.expect("read") == 0 {
                break;
            }
            got.push(byte[0]);
        }
    })
    .await;
    (s, String::from_utf8_lossy(&got).into_owned())
}

const UPGRADE: &str = "GET / HTTP/1.1\r\nHost: localhost\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: dGhlIHNhbXBsZSBub25jZQ==\r\nSec-WebSocket-Version: 13\r\n\r\n";

#[tokio::test]
async fn bad_upgrades_and_bad_frames_are_refused_as_the_reference_does() {
    let server = start().await;
    let addr = server.websocket_addr().expect("websocket port");
    let (_, answer) = raw_upgrade(addr, "POST / HTTP/1.1\r\nHost: x\r\n\r\n").await;
    assert!(
        answer.starts_with("HTTP/1.1 405 Method Not Allowed\r\n"),
        "{answer}"
    );
    let no_version = UPGRADE.replace("Sec-WebSocket-Version: 13\r\n", "");
    let (_, answer) = raw_upgrade(addr, &no_version).await;
    assert!(
        answer.starts_with("HTTP/1.1 400 Bad Request\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Sec-Websocket-Version: 13\r\n"));
    // A good upgrade, then INFO in a binary frame; a ping is answered.
    let (mut s, answer) = raw_upgrade(addr, UPGRADE).await;
    assert!(
        answer.starts_with("HTTP/1.1 101 Switching Protocols\r\n"),
        "{answer}"
    );
    assert!(answer.contains("Sec-WebSocket-Accept: s3pPLMBiTxaQ9kYGzzhZRbK+xOo=\r\n"));
    let mut head = [0u8; 2];
    within("INFO", s.read_exact(&mut head))
        .await
        .expect("frame");
    assert_eq!(head[0], 0x82, "a final binary frame");
    let len = match head[1] {
        126 => {
            let mut ext = [0u8; 2];
            within("INFO", s.read_exact(&mut ext))
                .await
                .expect("length");
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut info = vec![0u8; len];
    within("INFO", s.read_exact(&mut info)).await.expect("info");
    assert!(String::from_utf8_lossy(&info).starts_with("INFO {"));
    // A masked ping: a pong with the same payload.
    s.write_all(&[0x89, 0x82, 1, 2, 3, 4, b'h' ^ 1, b'i' ^ 2])
        .await
        .expect("ping");
    let mut pong = [0u8; 4];
    within("the pong", s.read_exact(&mut pong))
        .await
        .expect("pong");
    assert_eq!(pong, [0x8A, 2, b'h', b'i']);
    // An unmasked frame breaks the rules: close 1002.
    s.write_all(&[0x82, 0x04, b'P', b'I', b'N', b'G'])
        .await
        .expect("frame");
    let mut close = [0u8; 20];
    within("the close", s.read_exact(&mut close))
        .await
        .expect("close");
    assert_eq!(&close[..4], &[0x88, 18, 0x03, 0xEA], "1002 with its reason");
    assert_eq!(&close[4..], b"mask bit missing");
    // Then the connection ends.
    let mut rest = [0u8; 16];
    let n = within("the end of the connection", s.read(&mut rest))
        .await
        .unwrap_or(0);
    assert_eq!(n, 0);
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}

/// Reads one server frame's payload (no masking from the server).
async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let mut head = [0u8; 2];
    within("a frame", s.read_exact(&mut head))
        .await
        .expect("frame");
    let len = match head[1] & 0x7f {
        126 => {
            let mut ext = [0u8; 2];
            within("a frame", s.read_exact(&mut ext))
                .await
                .expect("len");
            usize::from(u16::from_be_bytes(ext))
        }
        n => usize::from(n),
    };
    let mut payload = vec![0u8; len];
    within("a frame", s.read_exact(&mut payload))
        .await
        .expect("payload");
    payload
}

/// Upgrades without masking (`Nats-No-Masking`), with `cookie` when
/// given, reads INFO, sends `CONNECT {}` and PING; what comes back.
async fn sign_in_raw(addr: std::net::SocketAddr, cookie: Option<&str>) -> (String, String) {
    let extra = match cookie {
        Some(c) => format!("Nats-No-Masking: true\r\nCookie: {c}\r\n"),
        None => "Nats-No-Masking: true\r\n".to_string(),
    };
    let request = UPGRADE.replace(
        "Sec-WebSocket-Version: 13\r\n",
        &format!("Sec-WebSocket-Version: 13\r\n{extra}"),
    );
    let (mut s, answer) = raw_upgrade(addr, &request).await;
    assert!(answer.starts_with("HTTP/1.1 101"), "{answer}");
    let info = String::from_utf8_lossy(&read_frame(&mut s).await).into_owned();
    let connect = b"CONNECT {\"verbose\":false}\r\nPING\r\n";
    let mut frame = vec![0x82, connect.len() as u8];
    frame.extend_from_slice(connect);
    s.write_all(&frame).await.expect("connect");
    let reply = String::from_utf8_lossy(&read_frame(&mut s).await).into_owned();
    (info, reply)
}

#[tokio::test]
async fn websocket_authorization_overrides_the_servers_and_cookies_sign_in() {
    let server = start_with(Options {
        websocket: Some(WebsocketOptions {
            host: "127.0.0.1".into(),
            no_tls: true,
            auth: tern::websocket::WebsocketAuth {
                user: Some(("ws".into(), "secret".into())),
                ..Default::default()
            },
            cookies: tern::websocket::CookieNames {
                username: Some("nats_user".into()),
                password: Some("nats_pass".into()),
                ..Default::default()
            },
            advertise: Some("ws.example.com:443".into()),
            ..WebsocketOptions::default()
        }),
        ..Options::loopback()
    })
    .await;
    let addr = server.websocket_addr().expect("websocket port");
    // TCP clients still need nothing.
    let tcp = connect(server.addr()).await;
    tcp.flush().await.expect("tcp without credentials");
    // A WebSocket client without credentials is refused.
    let (info, reply) = sign_in_raw(addr, None).await;
    assert!(info.contains("\"auth_required\":true"), "{info}");
    assert!(reply.contains("Authorization Violation"), "{reply}");
    // Cookies stand in for what CONNECT leaves out.
    let (_, reply) = sign_in_raw(addr, Some("theme=dark; nats_user=ws; nats_pass=secret")).await;
    assert!(reply.starts_with("PONG"), "{reply}");
    let (_, reply) = sign_in_raw(addr, Some("nats_user=ws; nats_pass=wrong")).await;
    assert!(reply.contains("Authorization Violation"), "{reply}");
    // And a client that brings them in CONNECT.
    let ws = within(
        "a websocket client with a password",
        async_nats::ConnectOptions::with_user_and_password("ws".into(), "secret".into())
            .connect(format!("ws://{addr}")),
    )
    .await
    .expect("ws connect");
    ws.flush().await.expect("flush");
    // `advertise` is what the cluster tells WebSocket clients.
    assert_eq!(
        server.server().ws_urls(),
        vec!["ws.example.com:443".to_string()]
    );
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}
