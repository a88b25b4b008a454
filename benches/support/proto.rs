//! A minimal blocking NATS protocol client: enough to publish in bulk,
//! subscribe, and read frames without allocating per message.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// What the server sent, reduced to what the benchmark needs.
#[derive(Debug, PartialEq, Eq)]
pub enum Frame {
    Msg,
    /// A message with headers (a status, a heartbeat, flow control).
    HMsg,
    Ping,
    Pong,
    Other,
}

/// A plain socket, or one upgraded to TLS after the server's INFO.
enum Stream {
    Plain(TcpStream),
    Tls(Box<rustls::StreamOwned<rustls::ClientConnection, TcpStream>>),
}

impl Stream {
    fn socket(&self) -> &TcpStream {
        match self {
            Stream::Plain(s) => s,
            Stream::Tls(t) => t.get_ref(),
        }
    }

    fn set_read_timeout(&self, t: Option<Duration>) -> std::io::Result<()> {
        self.socket().set_read_timeout(t)
    }
}

impl Read for Stream {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.read(buf),
            Stream::Tls(t) => t.read(buf),
        }
    }
}

impl Write for Stream {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        match self {
            Stream::Plain(s) => s.write(buf),
            Stream::Tls(t) => t.write(buf),
        }
    }

    fn flush(&mut self) -> std::io::Result<()> {
        match self {
            Stream::Plain(s) => s.flush(),
            Stream::Tls(t) => t.flush(),
        }
    }
}

pub struct Conn {
    stream: Stream,
    buf: Vec<u8>,
    start: usize,
    end: usize,
    /// Reply subject of the last MSG read, when asked for.
    last_reply: Option<String>,
    /// The last MSG read was a JetStream error reply.
    last_error: bool,
}

const READ_CHUNK: usize = 256 * 1024;

impl Conn {
    /// Connects, reads INFO, sends CONNECT (non-verbose) and waits for PONG.
    pub fn connect(port: u16) -> Conn {
        Conn::connect_with(port, "", None)
    }

    /// Connects with extra CONNECT fields (`"user":"a","pass":"b"`), over
    /// TLS when `tls` is given: the server's INFO is read in plaintext,
    /// then the handshake, as NATS clients do.
    pub fn connect_with(
        port: u16,
        fields: &str,
        tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    ) -> Conn {
        let mut socket = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        socket.set_nodelay(true).expect("nodelay");
        let stream = match tls {
            None => Stream::Plain(socket),
            Some(config) => {
                // The INFO line, byte by byte so nothing past it is taken.
                let mut byte = [0u8; 1];
                loop {
                    socket.read_exact(&mut byte).expect("INFO");
                    if byte[0] == b'\n' {
                        break;
                    }
                }
                let name = rustls::pki_types::ServerName::try_from("127.0.0.1").expect("name");
                let conn = rustls::ClientConnection::new(config, name).expect("tls client");
                Stream::Tls(Box::new(rustls::StreamOwned::new(conn, socket)))
            }
        };
        let mut c = Conn {
            stream,
            buf: vec![0; READ_CHUNK],
            start: 0,
            end: 0,
            last_reply: None,
            last_error: false,
        };
        let sep = if fields.is_empty() { "" } else { "," };
        c.write(
            format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true{sep}{fields}}}\r\n")
                .as_bytes(),
        );
        c
    }

    /// Writes bytes as they are (many protocol lines at once).
    pub fn send_raw(&mut self, bytes: &[u8]) {
        self.write(bytes);
    }

    /// The reply subject of the last frame read with `next_frame_reply`.
    pub fn take_reply(&mut self) -> Option<String> {
        self.last_reply.take()
    }

    /// Reads one frame, keeping its reply subject for `take_reply`.
    pub fn next_frame_reply(&mut self, timeout: Duration) -> Option<Frame> {
        self.last_reply = None;
        self.next_frame_inner(timeout, true)
    }

    fn write(&mut self, bytes: &[u8]) {
        self.stream.write_all(bytes).expect("write");
    }

    pub fn subscribe(&mut self, subject: &str, queue: Option<&str>, sid: &str) {
        let line = match queue {
            Some(q) => format!("SUB {subject} {q} {sid}\r\n"),
            None => format!("SUB {subject} {sid}\r\n"),
        };
        self.write(line.as_bytes());
    }

    pub fn pong(&mut self) {
        self.write(b"PONG\r\n");
    }

    /// Sends PING and reads until the PONG, answering server PINGs.
    pub fn ping_pong(&mut self) {
        self.write(b"PING\r\n");
        loop {
            match self.next_frame(Duration::from_secs(30)) {
                Some(Frame::Pong) => return,
                Some(Frame::Ping) => self.pong(),
                Some(_) => {}
                None => panic!("no PONG"),
            }
        }
    }

    /// Publishes `count` messages of `size` bytes in large writes.
    pub fn publish_many(&mut self, subject: &str, size: usize, count: usize) {
        let mut frame = format!("PUB {subject} {size}\r\n").into_bytes();
        frame.extend(std::iter::repeat_n(b'x', size));
        frame.extend_from_slice(b"\r\n");
        let per_batch = (64 * 1024 / frame.len()).max(1);
        let batch: Vec<u8> = frame.repeat(per_batch);
        let mut left = count;
        while left >= per_batch {
            self.write(&batch);
            left -= per_batch;
        }
        self.write(&frame.repeat(left));
    }

    pub fn publish_now(&mut self, subject: &str, payload: &[u8]) {
        let mut f = format!("PUB {subject} {}\r\n", payload.len()).into_bytes();
        f.extend_from_slice(payload);
        f.extend_from_slice(b"\r\n");
        self.write(&f);
    }

    pub fn request_now(&mut self, subject: &str, reply: &str, payload: &[u8]) {
        let mut f = format!("PUB {subject} {reply} {}\r\n", payload.len()).into_bytes();
        f.extend_from_slice(payload);
        f.extend_from_slice(b"\r\n");
        self.write(&f);
    }

    /// Waits for the next MSG, answering PINGs.
    pub fn wait_msg(&mut self, timeout: Duration) -> Option<()> {
        let deadline = Instant::now() + timeout;
        loop {
            let left = deadline.checked_duration_since(Instant::now())?;
            match self.next_frame(left)? {
                Frame::Msg => return Some(()),
                Frame::Ping => self.pong(),
                _ => {}
            }
        }
    }

    /// The next MSG's reply subject: `Some(Some(reply))`, `Some(None)` for
    /// another frame, `None` on timeout.
    pub fn next_msg_reply(&mut self, timeout: Duration) -> Option<Option<String>> {
        self.last_reply = None;
        let want = true;
        match self.next_frame_inner(timeout, want)? {
            Frame::Msg => Some(self.last_reply.take()),
            Frame::Ping => {
                self.pong();
                Some(None)
            }
            _ => Some(None),
        }
    }

    /// Bytes read but not parsed yet.
    /// Whether the last MSG read was a JetStream error reply (a failed
    /// publish must not count as one done).
    pub fn last_was_error(&self) -> bool {
        self.last_error
    }

    pub fn buffered(&self) -> usize {
        self.end - self.start
    }

    /// Reads one frame; `None` on timeout or close.
    pub fn next_frame(&mut self, timeout: Duration) -> Option<Frame> {
        self.next_frame_inner(timeout, false)
    }

    fn next_frame_inner(&mut self, timeout: Duration, keep_reply: bool) -> Option<Frame> {
        let deadline = Instant::now() + timeout;
        loop {
            if let Some(f) = self.parse_one(keep_reply) {
                return Some(f);
            }
            let left = deadline.checked_duration_since(Instant::now())?;
            if !self.fill(left.max(Duration::from_millis(1))) {
                return None;
            }
        }
    }

    /// Reads more bytes; false on timeout or close.
    fn fill(&mut self, timeout: Duration) -> bool {
        if self.start > 0 {
            self.buf.copy_within(self.start..self.end, 0);
            self.end -= self.start;
            self.start = 0;
        }
        if self.end == self.buf.len() {
            self.buf.resize(self.buf.len() * 2, 0);
        }
        self.stream
            .set_read_timeout(Some(timeout))
            .expect("timeout");
        match self.stream.read(&mut self.buf[self.end..]) {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.end += n;
                true
            }
        }
    }

    fn parse_one(&mut self, keep_reply: bool) -> Option<Frame> {
        let data = &self.buf[self.start..self.end];
        let nl = data.iter().position(|&b| b == b'\n')?;
        let line = &data[..nl.saturating_sub(1)];
        if line.starts_with(b"MSG ") {
            let mut parts = line.split(|&b| b == b' ');
            let args: Vec<&[u8]> = parts.by_ref().skip(1).collect();
            let size: usize = std::str::from_utf8(args[args.len() - 1])
                .ok()?
                .parse()
                .ok()?;
            if data.len() < nl + 1 + size + 2 {
                return None;
            }
            if keep_reply && args.len() == 4 {
                self.last_reply = Some(String::from_utf8_lossy(args[2]).into_owned());
            }
            let body = &data[nl + 1..nl + 1 + size];
            self.last_error =
                body.starts_with(b"{\"error\"") || body.windows(9).any(|w| w == b"\"error\":{");
            self.start += nl + 1 + size + 2;
            return Some(Frame::Msg);
        }
        if line.starts_with(b"HMSG ") {
            let args: Vec<&[u8]> = line.split(|&b| b == b' ').skip(1).collect();
            let size: usize = std::str::from_utf8(args[args.len() - 1])
                .ok()?
                .parse()
                .ok()?;
            if data.len() < nl + 1 + size + 2 {
                return None;
            }
            if keep_reply && args.len() == 5 {
                self.last_reply = Some(String::from_utf8_lossy(args[2]).into_owned());
            }
            self.start += nl + 1 + size + 2;
            return Some(Frame::HMsg);
        }
        self.start += nl + 1;
        Some(match line {
            b"PING" => Frame::Ping,
            b"PONG" => Frame::Pong,
            _ => Frame::Other,
        })
    }
}
