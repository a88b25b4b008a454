//! Pub/sub over WebSocket, for both servers: a raw client that upgrades,
//! sends the protocol in masked binary frames and counts the messages it
//! receives from the server's frames.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

const KEY: &str = "dGhlIHNhbXBsZSBub25jZQ==";

struct Ws {
    sock: TcpStream,
    /// Bytes read but not decoded, and the protocol bytes decoded.
    raw: Vec<u8>,
    text: Vec<u8>,
}

impl Ws {
    fn connect(port: u16) -> Ws {
        let mut sock = TcpStream::connect(("127.0.0.1", port)).expect("ws connect");
        sock.set_nodelay(true).expect("nodelay");
        let req = format!("GET / HTTP/1.1\r\nHost: 127.0.0.1:{port}\r\nUpgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Key: {KEY}\r\nSec-WebSocket-Version: 13\r\n\r\n");
        sock.write_all(req.as_bytes()).expect("upgrade");
        let mut ws = Ws {
            sock,
            raw: Vec::new(),
            text: Vec::new(),
        };
        // The 101's head, then frames.
        let mut buf = [0u8; 4096];
        loop {
            let n = ws.sock.read(&mut buf).expect("read");
            assert!(n > 0, "closed during the upgrade");
            ws.raw.extend_from_slice(&buf[..n]);
            if let Some(at) = ws.raw.windows(4).position(|w| w == b"\r\n\r\n") {
                assert!(ws.raw.starts_with(b"HTTP/1.1 101"), "upgrade refused");
                ws.raw.drain(..at + 4);
                break;
            }
        }
        ws.send(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1}\r\n");
        ws
    }

    /// One masked binary frame of `data`.
    fn send(&mut self, data: &[u8]) {
        let mask = [0x12, 0x34, 0x56, 0x78];
        let mut out = Vec::with_capacity(data.len() + 14);
        out.push(0x82);
        if data.len() < 126 {
            out.push(0x80 | data.len() as u8);
        } else if data.len() <= 65_535 {
            out.push(0x80 | 126);
            out.extend_from_slice(&(data.len() as u16).to_be_bytes());
        } else {
            out.push(0x80 | 127);
            out.extend_from_slice(&(data.len() as u64).to_be_bytes());
        }
        out.extend_from_slice(&mask);
        out.extend(data.iter().enumerate().map(|(i, b)| b ^ mask[i & 3]));
        self.sock.write_all(&out).expect("send");
    }

    /// Reads more frames into `text`; false on close or timeout.
    fn fill(&mut self) -> bool {
        let mut buf = vec![0u8; 256 * 1024];
        match self.sock.read(&mut buf) {
            Ok(0) | Err(_) => return false,
            Ok(n) => self.raw.extend_from_slice(&buf[..n]),
        }
        let mut at = 0;
        while self.raw.len() - at >= 2 {
            let b = &self.raw[at..];
            let (len, head) = match b[1] & 0x7f {
                126 if b.len() >= 4 => (usize::from(u16::from_be_bytes([b[2], b[3]])), 4),
                127 if b.len() >= 10 => {
                    let mut l = [0u8; 8];
                    l.copy_from_slice(&b[2..10]);
                    (u64::from_be_bytes(l) as usize, 10)
                }
                n if n < 126 => (usize::from(n), 2),
                _ => break,
            };
            if b.len() < head + len {
                break;
            }
            self.text.extend_from_slice(&b[head..head + len]);
            at += head + len;
        }
        self.raw.drain(..at);
        true
    }

    /// Waits for `PONG` after a `PING`.
    fn sync(&mut self) {
        self.send(b"PING\r\n");
        let start = Instant::now();
        while !self.text.windows(6).any(|w| w == b"PONG\r\n") {
            assert!(start.elapsed() < Duration::from_secs(30), "no PONG");
            self.fill();
        }
        self.text.clear();
    }
}

/// Publishes `count` messages of `size` bytes over one WebSocket client to
/// a subscriber on another; delivered msgs/s.
pub fn pub_sub(port: u16, size: usize, count: usize) -> f64 {
    let mut sub = Ws::connect(port);
    sub.send(b"SUB bench.ws 1\r\n");
    sub.sync();
    let one = format!("MSG bench.ws 1 {size}\r\n").len() + size + 2;
    let reader = std::thread::spawn(move || {
        sub.sock
            .set_read_timeout(Some(Duration::from_secs(30)))
            .expect("timeout");
        let mut bytes = sub.text.len();
        sub.text.clear();
        while bytes < one * count {
            if !sub.fill() {
                break;
            }
            bytes += sub.text.len();
            sub.text.clear();
        }
        bytes / one
    });
    let mut publisher = Ws::connect(port);
    publisher.sync();
    let mut frame = format!("PUB bench.ws {size}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    // Frames of about 64 KiB, as a client's buffered writer sends them.
    let per_frame = (64 * 1024 / frame.len()).max(1);
    let batch: Vec<u8> = frame.repeat(per_frame);
    let start = Instant::now();
    let mut sent = 0;
    while sent < count {
        let n = per_frame.min(count - sent);
        publisher.send(&batch[..n * frame.len()]);
        sent += n;
    }
    let got = reader.join().expect("reader");
    assert_eq!(got, count, "received {got} of {count} over WebSocket");
    count as f64 / start.elapsed().as_secs_f64()
}
