//! WebSocket clients, compared with the reference: the upgrade's
//! refusals (method, headers, key, version) and its 101, INFO in a binary
//! frame, the NATS protocol inside masked frames (one op split over
//! fragments, several ops in one frame), a ping answered, and an unmasked
//! frame closed with 1002.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::harness::ServerSpec;
use crate::runner::run_with;
use crate::wire::Session;

const SPEC: ServerSpec = ServerSpec {
    conf: Some("websocket {\n  port: -1\n  no_tls: true\n}\n"),
    jetstream: false,
    monitor: false,
};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

fn connect(s: &Session) -> TcpStream {
    let port = s.websocket_port.expect("a websocket port");
    let sock = TcpStream::connect(("127.0.0.1", port)).expect("connect");
    sock.set_read_timeout(Some(Duration::from_millis(200)))
        .expect("timeout");
    sock
}

fn request(extra: &str, drop: &str) -> String {
    let lines = [
        "Host: localhost".to_string(),
        "Upgrade: websocket".into(),
        "Connection: Upgrade".into(),
        format!("Sec-WebSocket-Key: {KEY}"),
        "Sec-WebSocket-Version: 13".into(),
    ];
    let mut req = String::from("GET / HTTP/1.1\r\n");
    for l in lines
        .iter()
        .filter(|l| drop.is_empty() || !l.starts_with(drop))
    {
        req.push_str(l);
        req.push_str("\r\n");
    }
    req.push_str(extra);
    req.push_str("\r\n");
    req
}

/// Reads until `done` says the bytes are whole, or 3 s pass.
fn read_until(sock: &mut TcpStream, done: impl Fn(&[u8]) -> bool) -> Vec<u8> {
    let mut got = Vec::new();
    let start = Instant::now();
    let mut buf = [0u8; 4096];
    while !done(&got) && start.elapsed() < Duration::from_secs(3) {
        match sock.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => got.extend_from_slice(&buf[..n]),
            Err(_) => {}
        }
    }
    got
}

/// The HTTP answer's status line and header names (values that vary,
/// like `Date`, left out).
fn http_answer(s: &Session, what: &str, req: &str) {
    let mut sock = connect(s);
    sock.write_all(req.as_bytes()).expect("write");
    let got = read_until(&mut sock, |b| b.windows(4).any(|w| w == b"\r\n\r\n"));
    let text = String::from_utf8_lossy(&got);
    let mut lines = text.split("\r\n");
    s.note(format!("{what}: {}", lines.next().unwrap_or_default()));
    let mut headers: Vec<String> = lines
        .take_while(|l| !l.is_empty())
        .filter(|l| !l.starts_with("Date:"))
        .map(str::to_string)
        .collect();
    headers.sort();
    for h in headers {
        s.note(format!("  {h}"));
    }
}

fn masked(first: u8, payload: &[u8]) -> Vec<u8> {
    let mask = [0x11, 0x22, 0x33, 0x44];
    let mut out = vec![first];
    if payload.len() < 126 {
        out.push(0x80 | payload.len() as u8);
    } else {
        out.push(0x80 | 126);
        out.extend_from_slice(&(payload.len() as u16).to_be_bytes());
    }
    out.extend_from_slice(&mask);
    out.extend(payload.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
    out
}

/// The payloads of whole server frames in `bytes`: (opcode, payload).
fn frames(mut bytes: &[u8]) -> Vec<(u8, Vec<u8>)> {
    let mut out = Vec::new();
    while bytes.len() >= 2 {
        let (len, at) = match bytes[1] & 0x7f {
            126 if bytes.len() >= 4 => (usize::from(u16::from_be_bytes([bytes[2], bytes[3]])), 4),
            n if n < 126 => (usize::from(n), 2),
            _ => break,
        };
        if bytes.len() < at + len {
            break;
        }
        out.push((bytes[0], bytes[at..at + len].to_vec()));
        bytes = &bytes[at + len..];
    }
    out
}

/// The protocol text the server's frames carry, until `want` shows.
fn protocol(sock: &mut TcpStream, want: &str) -> String {
    let got = read_until(sock, |b| {
        let text: Vec<u8> = frames(b).into_iter().flat_map(|(_, p)| p).collect();
        String::from_utf8_lossy(&text).contains(want)
    });
    let text: Vec<u8> = frames(&got).into_iter().flat_map(|(_, p)| p).collect();
    String::from_utf8_lossy(&text).into_owned()
}

#[test]
fn ws_upgrade_and_frames() {
    run_with("ws_upgrade_and_frames", SPEC, |s| {
        http_answer(s, "POST", "POST / HTTP/1.1\r\nHost: localhost\r\n\r\n");
        http_answer(s, "no Host", &request("", "Host"));
        http_answer(s, "no Upgrade", &request("", "Upgrade"));
        http_answer(s, "no Connection", &request("", "Connection"));
        http_answer(s, "no key", &request("", "Sec-WebSocket-Key"));
        http_answer(s, "no version", &request("", "Sec-WebSocket-Version"));
        let bad_key = request("", "").replace(KEY, "c2hvcnQ=");
        http_answer(s, "short key", &bad_key);
        http_answer(s, "upgrade", &request("", ""));
        // A session: INFO in a binary frame, then the protocol.
        let mut sock = connect(s);
        sock.write_all(request("", "").as_bytes()).expect("upgrade");
        let head = read_until(&mut sock, |b| b.windows(4).any(|w| w == b"\r\n\r\n"));
        let after = head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(Vec::new(), |at| head[at + 4..].to_vec());
        let mut rest = after;
        rest.extend(read_until(&mut sock, |b| !frames(b).is_empty()));
        let first = frames(&rest);
        let (op, info) = first.first().cloned().unwrap_or_default();
        s.note(format!(
            "first frame: opcode {op:#x}, starts with INFO: {}",
            info.starts_with(b"INFO {")
        ));
        sock.write_all(&masked(0x82, b"CONNECT {\"verbose\":false}\r\nPING\r\n"))
            .expect("connect");
        s.note(format!(
            "after CONNECT+PING: {:?}",
            protocol(&mut sock, "PONG\r\n")
        ));
        // One op over fragments: SUB, then a PUB split in three.
        sock.write_all(&masked(0x82, b"SUB ws.a 1\r\n"))
            .expect("sub");
        sock.write_all(&masked(0x02, b"PUB ws.a 5\r"))
            .expect("frag 1");
        sock.write_all(&masked(0x00, b"\nhel")).expect("frag 2");
        sock.write_all(&masked(0x80, b"lo\r\nPING\r\n"))
            .expect("frag 3");
        s.note(format!(
            "after the fragmented PUB: {:?}",
            protocol(&mut sock, "PONG\r\n")
        ));
        // A ping control frame.
        sock.write_all(&masked(0x89, b"hi")).expect("ping");
        let got = read_until(&mut sock, |b| !frames(b).is_empty());
        s.note(format!("ping answered with: {:?}", frames(&got)));
        // An unmasked frame ends the connection (the reference means to
        // send close 1002 first, and sometimes closes before it is out).
        sock.write_all(&[0x82, 0x06, b'P', b'I', b'N', b'G', b'\r', b'\n'])
            .expect("unmasked");
        let start = Instant::now();
        let mut buf = [0u8; 256];
        let mut closed = false;
        while start.elapsed() < Duration::from_secs(3) {
            match sock.read(&mut buf) {
                Ok(0) => {
                    closed = true;
                    break;
                }
                Ok(_) => {}
                Err(e) if e.kind() == std::io::ErrorKind::ConnectionReset => {
                    closed = true;
                    break;
                }
                Err(_) => {}
            }
        }
        s.note(format!("an unmasked frame ends the connection: {closed}"));
    });
}

const COMPRESSED: ServerSpec = ServerSpec {
    conf: Some("websocket {\n  port: -1\n  no_tls: true\n  compression: true\n}\n"),
    jetstream: false,
    monitor: false,
};

fn deflate(data: &[u8]) -> Vec<u8> {
    let mut c = flate2::Compress::new(flate2::Compression::default(), false);
    let mut out = Vec::with_capacity(data.len() + 64);
    c.compress_vec(data, &mut out, flate2::FlushCompress::Sync)
        .expect("deflate");
    if out.ends_with(&[0, 0, 0xff, 0xff]) {
        out.truncate(out.len() - 4);
    }
    out
}

fn inflate(data: &[u8]) -> Vec<u8> {
    let mut input = data.to_vec();
    input.extend_from_slice(&[0, 0, 0xff, 0xff]);
    let mut d = flate2::Decompress::new(false);
    let mut out = Vec::with_capacity(64 * 1024);
    let _ = d.decompress_vec(&input, &mut out, flate2::FlushDecompress::Sync);
    out
}

/// permessage-deflate: agreed when configured and offered; a compressed
/// client frame is read; the server compresses what it sends past 64
/// bytes (RSV1 set) and not what is shorter.
#[test]
fn ws_compression() {
    run_with("ws_compression", COMPRESSED, |s| {
        let offer = "Sec-WebSocket-Extensions: permessage-deflate; client_max_window_bits\r\n";
        http_answer(s, "offered", &request(offer, ""));
        http_answer(s, "not offered", &request("", ""));
        let mut sock = connect(s);
        sock.write_all(request(offer, "").as_bytes())
            .expect("upgrade");
        let head = read_until(&mut sock, |b| b.windows(4).any(|w| w == b"\r\n\r\n"));
        let mut rest = head
            .windows(4)
            .position(|w| w == b"\r\n\r\n")
            .map_or(Vec::new(), |at| head[at + 4..].to_vec());
        rest.extend(read_until(&mut sock, |b| !frames(b).is_empty()));
        // INFO: compressed, as it is longer than 64 bytes.
        let info = frames(&rest);
        let (op, body) = info.first().cloned().unwrap_or_default();
        s.note(format!(
            "INFO frame: opcode {op:#x}, inflates to INFO: {}",
            inflate(&body).starts_with(b"INFO {")
        ));
        let connect = b"CONNECT {\"verbose\":false}\r\nSUB ws.c 1\r\nPING\r\n";
        sock.write_all(&masked(0xC2, &deflate(connect)))
            .expect("connect");
        let got = read_until(&mut sock, |b| !frames(b).is_empty());
        let texts: Vec<String> = frames(&got)
            .into_iter()
            .map(|(op, p)| {
                let text = if op & 0x40 != 0 { inflate(&p) } else { p };
                format!("{op:#x} {:?}", String::from_utf8_lossy(&text))
            })
            .collect();
        s.note(format!("after a compressed CONNECT+SUB+PING: {texts:?}"));
        let publish = format!("PUB ws.c 80\r\n{}\r\nPING\r\n", "x".repeat(80));
        sock.write_all(&masked(0x82, publish.as_bytes()))
            .expect("publish");
        let got = read_until(&mut sock, |b| {
            frames(b)
                .into_iter()
                .flat_map(|(op, p)| if op & 0x40 != 0 { inflate(&p) } else { p })
                .collect::<Vec<u8>>()
                .windows(6)
                .any(|w| w == b"PONG\r\n")
        });
        let texts: Vec<String> = frames(&got)
            .into_iter()
            .map(|(op, p)| {
                let text = if op & 0x40 != 0 { inflate(&p) } else { p };
                format!("{op:#x} {:?}", String::from_utf8_lossy(&text))
            })
            .collect();
        s.note(format!("the message back: {texts:?}"));
    });
}
