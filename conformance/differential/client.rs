//! A blocking NATS client for differential runs: one connection, one
//! wildcard subscription for every reply inbox, requests with a deadline.
//!
//! Replies are matched by inbox; a message for an inbox no longer waited
//! on (a delivery after a pull request gave up) is dropped, so it cannot
//! be mistaken for the answer to a later request.

use std::io::{self, ErrorKind, Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use crate::scenarios::jetstream::publish_frame;

/// Every reply inbox is `_INBOX.d.<n>`, numbered per connection: the same
/// operations name the same inboxes on every target.
const INBOX_PREFIX: &str = "_INBOX.d.";

/// A message received.
#[derive(Clone, Debug)]
pub struct Msg {
    pub subject: String,
    pub sid: u64,
    pub reply: Option<String>,
    /// The header block as sent, status line first.
    pub headers: Option<String>,
    pub payload: Vec<u8>,
}

pub struct Client {
    stream: TcpStream,
    buf: Vec<u8>,
    next_inbox: u64,
    next_sid: u64,
}

impl Client {
    pub fn connect(port: u16) -> io::Result<Client> {
        let stream = TcpStream::connect(("127.0.0.1", port))?;
        stream.set_nodelay(true)?;
        let mut client = Client {
            stream,
            buf: Vec::new(),
            next_inbox: 0,
            next_sid: 1,
        };
        let connect = format!(
            "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true}}\r\nSUB {INBOX_PREFIX}> 1\r\nPING\r\n"
        );
        client.stream.write_all(connect.as_bytes())?;
        let deadline = Instant::now() + Duration::from_secs(5);
        loop {
            match client.next_frame(deadline)? {
                Some(Frame::Pong) => return Ok(client),
                Some(_) => {}
                None => return Err(io::Error::new(ErrorKind::TimedOut, "no PONG")),
            }
        }
    }

    /// A fresh reply inbox.
    pub fn inbox(&mut self) -> String {
        self.next_inbox += 1;
        format!("{INBOX_PREFIX}{}", self.next_inbox)
    }

    /// Publishes with `reply` (PUB, or HPUB when there are headers).
    pub fn publish(
        &mut self,
        subject: &str,
        reply: &str,
        headers: &[(String, String)],
        body: &[u8],
    ) -> io::Result<()> {
        let headers: Vec<(&str, &str)> = headers
            .iter()
            .map(|(k, v)| (k.as_str(), v.as_str()))
            .collect();
        let out = publish_frame(subject, reply, &headers, body);
        self.stream.write_all(&out)
    }

    /// Sends a request and waits up to `timeout` for its one reply.
    pub fn request(
        &mut self,
        subject: &str,
        headers: &[(String, String)],
        body: &[u8],
        timeout: Duration,
    ) -> io::Result<Option<Msg>> {
        let inbox = self.inbox();
        self.publish(subject, &inbox, headers, body)?;
        self.next_on(&inbox, Instant::now() + timeout)
    }

    /// The next message sent to `inbox` before `deadline`; messages to
    /// other inboxes are dropped.
    pub fn next_on(&mut self, inbox: &str, deadline: Instant) -> io::Result<Option<Msg>> {
        loop {
            match self.next_frame(deadline)? {
                None => return Ok(None),
                Some(Frame::Msg(m)) if m.sid == 1 && m.subject == inbox => return Ok(Some(m)),
                Some(_) => {}
            }
        }
    }

    /// Subscribes a fresh inbox on a subscription of its own: JetStream
    /// deliveries carry the message's own subject, so only the
    /// subscription id tells whose they are.
    pub fn subscribe_inbox(&mut self) -> io::Result<(String, u64)> {
        self.next_sid += 1;
        self.next_inbox += 1;
        let inbox = format!("_INBOX.f.{}", self.next_inbox);
        self.stream
            .write_all(format!("SUB {inbox} {}\r\n", self.next_sid).as_bytes())?;
        Ok((inbox, self.next_sid))
    }

    pub fn unsubscribe(&mut self, sid: u64) -> io::Result<()> {
        self.stream.write_all(format!("UNSUB {sid}\r\n").as_bytes())
    }

    /// The next message for subscription `sid` before `deadline`; others
    /// are dropped.
    pub fn next_for(&mut self, sid: u64, deadline: Instant) -> io::Result<Option<Msg>> {
        loop {
            match self.next_frame(deadline)? {
                None => return Ok(None),
                Some(Frame::Msg(m)) if m.sid == sid => return Ok(Some(m)),
                Some(_) => {}
            }
        }
    }

    /// The next frame, answering the server's PINGs on the way.
    fn next_frame(&mut self, deadline: Instant) -> io::Result<Option<Frame>> {
        loop {
            if let Some(frame) = self.parse()? {
                if let Frame::Ping = frame {
                    self.stream.write_all(b"PONG\r\n")?;
                    continue;
                }
                return Ok(Some(frame));
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return Ok(None);
            }
            self.stream.set_read_timeout(Some(left))?;
            let mut chunk = [0u8; 64 * 1024];
            match self.stream.read(&mut chunk) {
                Ok(0) => return Err(io::Error::new(ErrorKind::UnexpectedEof, "server closed")),
                Ok(n) => self.buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return Ok(None)
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Takes one whole frame off the buffer, if there is one.
    fn parse(&mut self) -> io::Result<Option<Frame>> {
        let Some(eol) = self.buf.windows(2).position(|w| w == b"\r\n") else {
            return Ok(None);
        };
        let line = String::from_utf8_lossy(&self.buf[..eol]).into_owned();
        let tokens: Vec<&str> = line.split(' ').filter(|t| !t.is_empty()).collect();
        let bad = || io::Error::new(ErrorKind::InvalidData, format!("bad frame: {line}"));
        let (frame, used) = match tokens.first().copied() {
            Some("MSG") | Some("HMSG") => {
                let has_headers = tokens[0] == "HMSG";
                let sizes = if has_headers { 2 } else { 1 };
                let n = tokens.len();
                if n < 3 + sizes {
                    return Err(bad());
                }
                let total: usize = tokens[n - 1].parse().map_err(|_| bad())?;
                let header_len: usize = if has_headers {
                    tokens[n - 2].parse().map_err(|_| bad())?
                } else {
                    0
                };
                let start = eol + 2;
                if self.buf.len() < start + total + 2 {
                    return Ok(None);
                }
                let body = &self.buf[start..start + total];
                let reply = (n - sizes == 4).then(|| tokens[3].to_string());
                let msg = Msg {
                    subject: tokens[1].to_string(),
                    sid: tokens[2].parse().map_err(|_| bad())?,
                    reply,
                    headers: has_headers
                        .then(|| String::from_utf8_lossy(&body[..header_len]).into_owned()),
                    payload: body[header_len..].to_vec(),
                };
                (Frame::Msg(msg), start + total + 2)
            }
            Some("PING") => (Frame::Ping, eol + 2),
            Some("PONG") => (Frame::Pong, eol + 2),
            Some("-ERR") => return Err(io::Error::other(line)),
            _ => (Frame::Other, eol + 2),
        };
        self.buf.drain(..used);
        Ok(Some(frame))
    }
}

enum Frame {
    Msg(Msg),
    Ping,
    Pong,
    Other,
}
