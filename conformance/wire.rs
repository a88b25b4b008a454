//! Raw TCP clients for scenarios. Every send and every read step is written
//! to the session's transcript; scenarios state what they expect with
//! `expect*`, and a failed expectation is recorded as a violation rather than
//! a panic, so the whole transcript is still there to compare.
//!
//! Reads are bounded: a step reads until its condition holds (a PONG at the
//! end, a complete INFO, the server closing), the server closes, or
//! `ANSWER_TIMEOUT` passes. Only "nothing more arrives" steps wait for a
//! quiet period, so a passing scenario rarely sleeps.

use std::cell::RefCell;
use std::collections::BTreeMap;
use std::io::{ErrorKind, Read, Write};
use std::net::TcpStream;
use std::rc::Rc;
use std::time::{Duration, Instant};

use serde_json::Value;

use crate::harness::Target;
use crate::transcript::{
    complete_msgs, escape, parse_info, render_frame, split_frames, Transcript,
};

/// What a real client sends: protocol 1, headers and no-responders on,
/// verbose and pedantic off.
pub const C1: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true}\r\n";

/// The longest a step waits for an answer that should come.
const ANSWER_TIMEOUT: Duration = Duration::from_secs(3);

/// How long "nothing more arrives" is watched for.
pub const QUIET: Duration = Duration::from_millis(300);

/// One scenario run against one target: its connections share a transcript.
pub struct Session {
    pub target: Target,
    pub port: u16,
    /// The HTTP monitoring port, when the server runs one.
    pub monitor_port: Option<u16>,
    /// The WebSocket port, when the server has one.
    pub websocket_port: Option<u16>,
    log: Rc<RefCell<Transcript>>,
}

impl Session {
    pub fn new(target: Target, port: u16) -> Session {
        Session {
            target,
            port,
            monitor_port: None,
            websocket_port: None,
            log: Rc::default(),
        }
    }

    /// Opens a TCP connection without reading anything.
    pub fn connect_raw(&self, name: &str) -> Conn {
        let stream = TcpStream::connect(("127.0.0.1", self.port))
            .unwrap_or_else(|e| panic!("{name}: connect to {}: {e}", self.target));
        stream.set_nodelay(true).expect("nodelay");
        Conn {
            name: name.to_string(),
            port: self.port,
            stream,
            log: self.log.clone(),
            closed: false,
            sort_next: false,
            sorted: false,
            pending_sent: Vec::new(),
            last_sent: Vec::new(),
            last: Vec::new(),
            info: None,
        }
    }

    /// Opens a connection and reads the server's INFO, checking its shape.
    pub fn connect(&self, name: &str) -> Conn {
        let mut conn = self.connect_raw(name);
        conn.read_info();
        conn
    }

    /// A connection after the handshake a real client does: INFO, then
    /// `C1` and PING, answered by PONG and the connect INFO.
    pub fn client(&self, name: &str) -> Conn {
        let mut conn = self.connect(name);
        conn.handshake(C1, true);
        conn
    }

    /// Records a line written by the scenario itself (counts, summaries).
    pub fn note(&self, text: impl Into<String>) {
        self.log.borrow_mut().push(format!("-- {}", text.into()));
    }

    /// Records a violation unless `ok`.
    pub fn check(&self, ok: bool, text: impl Into<String>) {
        if !ok {
            self.log.borrow_mut().violation(text.into());
        }
    }

    pub fn into_transcript(self) -> Transcript {
        std::mem::take(&mut *self.log.borrow_mut())
    }
}

/// Why a read step stopped.
#[derive(Clone, Copy, PartialEq, Eq)]
enum ReadEnd {
    Done,
    Closed,
    TimedOut,
}

pub struct Conn {
    name: String,
    port: u16,
    stream: TcpStream,
    log: Rc<RefCell<Transcript>>,
    closed: bool,
    /// Whether the next read step's frames are sorted (`exchange_sorted`).
    sort_next: bool,
    /// Whether the last read step's frames were sorted.
    sorted: bool,
    /// Sent since the last read step.
    pending_sent: Vec<u8>,
    /// Sent before the last read step, for violation messages.
    last_sent: Vec<u8>,
    /// Received in the last read step.
    last: Vec<u8>,
    /// The INFO received on connect.
    info: Option<BTreeMap<String, Value>>,
}

impl Conn {
    /// Writes `bytes` in one write. A write to a connection the server has
    /// closed may fail; that is not recorded, the reads show the close.
    pub fn send(&mut self, bytes: &[u8]) -> &mut Self {
        self.log
            .borrow_mut()
            .push(format!("{} > {}", self.name, escape(bytes)));
        self.pending_sent.extend_from_slice(bytes);
        let _ = self.stream.write_all(bytes);
        self
    }

    /// Writes `bytes` like `send`, recording `shown` in their place: for
    /// what names something that varies between runs (a reply subject).
    pub fn send_as(&mut self, bytes: &[u8], shown: &str) -> &mut Self {
        self.log
            .borrow_mut()
            .push(format!("{} > {shown}", self.name));
        self.pending_sent.extend_from_slice(bytes);
        let _ = self.stream.write_all(bytes);
        self
    }

    /// Sends `bytes` followed by PING and reads up to the PONG (or close).
    pub fn exchange(&mut self, bytes: &[u8]) -> &mut Self {
        let mut all = bytes.to_vec();
        all.extend_from_slice(b"PING\r\n");
        self.send(&all);
        self.read_to_pong()
    }

    /// Reads up to a PONG that ends what was received (or the close).
    pub fn read_to_pong(&mut self) -> &mut Self {
        self.read_step("PONG", ANSWER_TIMEOUT, |buf| buf.ends_with(b"PONG\r\n"))
    }

    /// PING and read up to the PONG: everything the server had queued for
    /// this connection before it arrives.
    pub fn ping(&mut self) -> &mut Self {
        self.exchange(b"")
    }

    /// Like `exchange`, but the frames of this step are sorted before they
    /// are recorded and compared: for deliveries to several subscriptions of
    /// one connection, whose order the protocol leaves unspecified.
    pub fn exchange_sorted(&mut self, bytes: &[u8]) -> &mut Self {
        self.sort_next = true;
        self.exchange(bytes)
    }

    /// Sends `bytes` + PING and returns what came back up to the PONG
    /// without recording it: for deliveries that vary between runs.
    pub fn exchange_unrecorded(&mut self, bytes: &[u8]) -> Vec<u8> {
        let mut all = bytes.to_vec();
        all.extend_from_slice(b"PING\r\n");
        self.send(&all);
        let (buf, end) = self.read_raw(ANSWER_TIMEOUT, |buf| buf.ends_with(b"PONG\r\n"));
        self.log
            .borrow_mut()
            .push(format!("{} < [received, not recorded]", self.name));
        self.finish_step(buf.clone(), end, "PONG", false);
        buf
    }

    /// Reads until `count` complete MSG/HMSG frames have arrived (or the
    /// server closes, or `ANSWER_TIMEOUT` passes) and returns what came,
    /// without recording it: for replies the scenario renders itself (with
    /// `record`), e.g. JSON with times masked. A timeout is recorded.
    pub fn read_msgs_unrecorded(&mut self, count: usize) -> Vec<u8> {
        let (buf, end) = self.read_raw(ANSWER_TIMEOUT, |buf| complete_msgs(buf) >= count);
        let what = format!("{count} message(s)");
        self.finish_step(buf.clone(), end, &what, false);
        buf
    }

    /// Sends `bytes` and reads up to `count` messages, neither logged nor
    /// recorded: for polling until a server's asynchronous work has caught
    /// up, so the transcript shows only the check that follows (the
    /// number of polls differs between servers and runs).
    pub fn poll_unlogged(&mut self, bytes: &[u8], count: usize) -> Vec<u8> {
        let _ = self.stream.write_all(bytes);
        let (buf, _) = self.read_raw(ANSWER_TIMEOUT, |buf| complete_msgs(buf) >= count);
        buf
    }

    /// Records a line as received by this connection (`name < text`), for
    /// replies rendered by the scenario.
    pub fn record(&mut self, text: impl AsRef<str>) {
        self.log
            .borrow_mut()
            .push(format!("{} < {}", self.name, text.as_ref()));
    }

    /// Reads until the server closes the connection.
    pub fn read_until_closed(&mut self) -> &mut Self {
        self.read_until_closed_within(ANSWER_TIMEOUT)
    }

    pub fn read_until_closed_within(&mut self, timeout: Duration) -> &mut Self {
        self.read_step("the server to close", timeout, |_| false)
    }

    /// Reads until a whole line has arrived, waiting up to `timeout` (for
    /// what the server sends on its own, such as its PINGs).
    pub fn read_line_within(&mut self, timeout: Duration) -> &mut Self {
        self.read_step("a line", timeout, |buf| buf.ends_with(b"\r\n"))
    }

    /// Reads until nothing arrives for `QUIET`.
    pub fn read_quiet(&mut self) -> &mut Self {
        let started = Instant::now();
        let mut buf = Vec::new();
        let mut end = ReadEnd::Done;
        while !self.closed && started.elapsed() < ANSWER_TIMEOUT {
            let before = buf.len();
            let (more, e) = self.read_raw(QUIET, |_| false);
            buf.extend_from_slice(&more);
            end = e;
            if e == ReadEnd::Closed || buf.len() == before {
                break;
            }
        }
        if end == ReadEnd::TimedOut {
            end = ReadEnd::Done;
        }
        self.finish_step(buf, end, "quiet", true);
        self
    }

    /// Reads the server's first line, which must be an INFO of the expected
    /// shape.
    fn read_info(&mut self) -> &mut Self {
        self.read_step("INFO", ANSWER_TIMEOUT, |buf| buf.contains(&b'\n'));
        let first = split_frames(&self.last).first().map(|f| f.to_vec());
        match first.as_deref().and_then(parse_info) {
            Some((json, tail)) => {
                let tail_ok = tail == b" \r\n";
                self.check_info(&json, false);
                self.check(tail_ok, "INFO must end in `} \\r\\n`".to_string());
                self.info = Some(json);
            }
            None => self.violate("expected INFO on connect".to_string()),
        }
        self
    }

    /// Sends `connect` (and whatever the caller appended to it) and PING,
    /// reading to the PONG and, when `connect_info` (protocol 1), the INFO
    /// the reference sends after it; the last two frames must be those.
    pub fn handshake(&mut self, connect: &[u8], connect_info: bool) -> &mut Self {
        let mut all = connect.to_vec();
        all.extend_from_slice(b"PING\r\n");
        self.send(&all);
        self.read_handshake(connect_info)
    }

    /// `handshake`, recording `shown` for the CONNECT: for one carrying
    /// what varies between runs (a signature of the nonce).
    pub fn handshake_as(&mut self, connect: &[u8], shown: &str) -> &mut Self {
        let mut all = connect.to_vec();
        all.extend_from_slice(b"PING\r\n");
        self.send_as(&all, shown);
        self.read_handshake(true)
    }

    fn read_handshake(&mut self, connect_info: bool) -> &mut Self {
        if !connect_info {
            return self.read_step("PONG", ANSWER_TIMEOUT, |buf| buf.ends_with(b"PONG\r\n"));
        }
        self.read_step("PONG and INFO", ANSWER_TIMEOUT, |buf| {
            find(buf, b"PONG\r\n")
                .is_some_and(|at| buf[at..].starts_with(b"PONG\r\nINFO ") && buf.ends_with(b"\n"))
        });
        let frames: Vec<Vec<u8>> = split_frames(&self.last)
            .iter()
            .map(|f| f.to_vec())
            .collect();
        let n = frames.len();
        let info = frames.last().and_then(|f| parse_info(f));
        match info {
            Some((json, _)) if n >= 2 && frames[n - 2] == b"PONG\r\n" => {
                self.check_info(&json, true);
            }
            _ => self.violate("expected PONG then the connect INFO".to_string()),
        }
        self
    }

    /// The last read step received exactly `want` (frame by frame, so the
    /// way TCP split the bytes does not matter).
    pub fn expect(&mut self, want: &[u8]) -> &mut Self {
        let mut got = split_frames(&self.last);
        let mut wanted = split_frames(want);
        if self.sorted {
            got.sort();
            wanted.sort();
        }
        if got != wanted {
            let text = format!("expected {}, received {}", quoted(want), quoted(&self.last));
            self.violate(text);
        }
        self
    }

    pub fn expect_closed(&mut self) -> &mut Self {
        if !self.closed {
            self.violate("expected the server to close the connection".to_string());
        }
        self
    }

    pub fn expect_open(&mut self) -> &mut Self {
        if self.closed {
            self.violate("expected the connection to stay open".to_string());
        }
        self
    }

    /// A field of the INFO received on connect.
    pub fn info_field(&self, key: &str) -> Option<&Value> {
        self.info.as_ref()?.get(key)
    }

    /// What the last read step received.
    pub fn received(&self) -> &[u8] {
        &self.last
    }

    /// Records a violation unless `ok`, naming this connection's last step.
    pub fn check(&mut self, ok: bool, text: String) -> &mut Self {
        if !ok {
            self.violate(text);
        }
        self
    }

    fn violate(&mut self, text: String) {
        let sent = if self.last_sent.is_empty() {
            "on connect".to_string()
        } else {
            format!("after sending {}", quoted(&self.last_sent))
        };
        self.log
            .borrow_mut()
            .violation(format!("{} {sent}: {text}", self.name));
    }

    fn check_info(&mut self, json: &BTreeMap<String, Value>, connect_info: bool) {
        let get = |k: &str| json.get(k).cloned().unwrap_or(Value::Null);
        let id = get("server_id");
        let id_ok = id
            .as_str()
            .is_some_and(|s| s.len() == 56 && s.starts_with('N'));
        let mut problems = Vec::new();
        let mut want = |ok: bool, what: &str| {
            if !ok {
                problems.push(what.to_string());
            }
        };
        want(id_ok, "server_id: 56 characters starting with N");
        want(get("server_name") == id, "server_name = server_id");
        want(get("version") == "2.14.0", "version 2.14.0");
        want(get("proto") == 1, "proto 1");
        want(get("host") == "127.0.0.1", "host 127.0.0.1");
        want(get("port") == self.port, "port = the listening port");
        want(get("headers") == true, "headers true");
        // After CONNECT it may be the user's own limit (a JWT's `payload`);
        // the transcript compares the value.
        if connect_info {
            want(get("max_payload").is_u64(), "max_payload a number");
        } else {
            want(get("max_payload") == 1_048_576, "max_payload 1048576");
        }
        want(get("client_id").is_u64(), "client_id a number");
        want(get("client_ip") == "127.0.0.1", "client_ip 127.0.0.1");
        want(get("go").is_string(), "go a string");
        if connect_info {
            want(get("connect_info") == true, "connect_info true");
            // The account signed in to; the transcript compares its name.
            want(get("remote_account").is_string(), "remote_account a string");
        } else {
            want(!json.contains_key("connect_info"), "no connect_info");
        }
        if !problems.is_empty() {
            self.violate(format!("INFO fields: want {}", problems.join("; ")));
        }
    }

    /// One recorded read step; see `read_raw`.
    fn read_step(
        &mut self,
        what: &str,
        timeout: Duration,
        done: impl Fn(&[u8]) -> bool,
    ) -> &mut Self {
        let (buf, end) = self.read_raw(timeout, done);
        self.finish_step(buf, end, what, true);
        self
    }

    fn finish_step(&mut self, buf: Vec<u8>, end: ReadEnd, what: &str, record: bool) {
        let newly_closed = end == ReadEnd::Closed && !self.closed;
        self.sorted = std::mem::take(&mut self.sort_next);
        self.closed |= end == ReadEnd::Closed;
        let mut log = self.log.borrow_mut();
        if record {
            let mut frames = split_frames(&buf);
            if self.sorted {
                frames.sort();
            }
            for frame in frames {
                log.push(format!("{} < {}", self.name, render_frame(frame)));
            }
        }
        if newly_closed {
            log.push(format!("{} < [closed]", self.name));
        }
        // Waiting for the server to close and timing out is an outcome
        // (the transcript lacks "[closed]"), not noise to record.
        if end == ReadEnd::TimedOut && what != "the server to close" {
            log.push(format!(
                "{} < [no {what} within {ANSWER_TIMEOUT:?}]",
                self.name
            ));
        }
        drop(log);
        self.last_sent = std::mem::take(&mut self.pending_sent);
        self.last = buf;
    }

    /// Reads until `done(received)`, the server closes (EOF or reset), or
    /// `timeout` passes.
    fn read_raw(&mut self, timeout: Duration, done: impl Fn(&[u8]) -> bool) -> (Vec<u8>, ReadEnd) {
        let deadline = Instant::now() + timeout;
        let mut buf = Vec::new();
        let mut chunk = vec![0u8; 64 * 1024];
        if self.closed {
            return (buf, ReadEnd::Closed);
        }
        loop {
            if done(&buf) {
                return (buf, ReadEnd::Done);
            }
            let left = deadline.saturating_duration_since(Instant::now());
            if left.is_zero() {
                return (buf, ReadEnd::TimedOut);
            }
            self.stream
                .set_read_timeout(Some(left))
                .expect("set_read_timeout");
            match self.stream.read(&mut chunk) {
                Ok(0) => return (buf, ReadEnd::Closed),
                Ok(n) => buf.extend_from_slice(&chunk[..n]),
                Err(e) if matches!(e.kind(), ErrorKind::WouldBlock | ErrorKind::TimedOut) => {
                    return (buf, ReadEnd::TimedOut)
                }
                Err(e) if e.kind() == ErrorKind::Interrupted => {}
                Err(_) => return (buf, ReadEnd::Closed),
            }
        }
    }
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

fn quoted(bytes: &[u8]) -> String {
    format!("\"{}\"", escape(bytes))
}
