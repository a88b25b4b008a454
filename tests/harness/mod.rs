//! What the end-to-end tests share: a tern started in-process on a loopback
//! port, async-nats clients, raw protocol connections with send/expect, a
//! guard for spawned tern processes, and bounded waits. Every wait here has
//! a bound: a test that hangs fails with a message naming what it waited for.

// Each test binary uses a different subset of these.
#![allow(dead_code)]

use std::future::Future;
use std::net::SocketAddr;
use std::time::Duration;

use async_nats::{Client, ConnectOptions, Event, Message, Subscriber};
use bytes::Bytes;
use futures::{FutureExt, StreamExt};
use tern::{Options, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;
use tokio::sync::mpsc;

pub mod certs;
pub mod creds;
pub mod js_server;
pub mod procs;

/// The bound on any single wait for something that should happen promptly.
pub const WAIT: Duration = Duration::from_secs(5);

/// Starts tern on 127.0.0.1 with an ephemeral port.
pub async fn start_server() -> Running {
    start_with(Options::loopback()).await
}

pub async fn start_with(opts: Options) -> Running {
    tern::start(opts).await.expect("tern starts")
}

pub fn url(addr: SocketAddr) -> String {
    format!("nats://{addr}")
}

pub async fn connect(addr: SocketAddr) -> Client {
    connect_with(addr, ConnectOptions::new()).await
}

pub async fn connect_with(addr: SocketAddr, opts: ConnectOptions) -> Client {
    within("async-nats connect", opts.connect(url(addr)))
        .await
        .expect("async-nats connects")
}

/// Runs `fut` to completion, failing the test if it takes longer than `WAIT`.
pub async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    within_for(WAIT, what, fut).await
}

pub async fn within_for<F: Future>(bound: Duration, what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(bound, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out after {bound:?} waiting for {what}"),
    }
}

/// Polls `cond` until it holds, failing the test after `WAIT`. For state
/// with no event to wait on (such as the server's client count).
pub async fn wait_until(what: &str, mut cond: impl FnMut() -> bool) {
    within(what, async {
        while !cond() {
            tokio::time::sleep(Duration::from_millis(5)).await;
        }
    })
    .await;
}

/// `wait_until` for a condition that must await (an API call, say).
pub async fn wait_until_async<F, Fut>(what: &str, mut cond: F)
where
    F: FnMut() -> Fut,
    Fut: Future<Output = bool>,
{
    within(what, async {
        while !cond().await {
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// Subjects of `round_trip` sentinels; `buffered` leaves them out.
pub const SYNC_PREFIX: &str = "_SYNC.";

/// A round trip through the server on `client`'s connection (which must
/// have echo on): the server has processed everything the client sent
/// before, and every message it queued for the client before has been
/// handed to the client's subscriptions. async-nats 0.51's `flush` only
/// writes the socket, so this sends a sentinel message to itself.
pub async fn round_trip(client: &Client) {
    let subject = format!("{SYNC_PREFIX}{}", client.new_inbox());
    let mut sentinel = client.subscribe(subject.clone()).await.expect("subscribe");
    client
        .publish(subject, Bytes::new())
        .await
        .expect("publish");
    within("round trip sentinel", sentinel.next())
        .await
        .expect("sentinel subscription open");
}

/// `round_trip` for a client with echo off: a request nobody answers comes
/// back as a no-responders status on the same connection.
pub async fn round_trip_no_echo(client: &Client) {
    let subject = format!("{SYNC_PREFIX}{}", client.new_inbox());
    let err = within(
        "no-responders round trip",
        client.request(subject, Bytes::new()),
    )
    .await
    .expect_err("nobody answers a sentinel request");
    assert_eq!(
        err.kind(),
        async_nats::RequestErrorKind::NoResponders,
        "{err}"
    );
}

pub async fn next_msg(sub: &mut Subscriber) -> Message {
    within("next message", sub.next())
        .await
        .expect("subscription still open")
}

pub async fn next_msgs(sub: &mut Subscriber, n: usize) -> Vec<Message> {
    let mut out = Vec::with_capacity(n);
    while out.len() < n {
        out.push(next_msg(sub).await);
    }
    out
}

/// Messages already handed to `sub`, without waiting for more.
pub fn buffered(sub: &mut Subscriber) -> Vec<Message> {
    let mut out = Vec::new();
    // Unconstrained: tokio's cooperative budget would otherwise make a
    // ready channel look empty after 128 polls in one task turn.
    while let Some(Some(msg)) = tokio::task::unconstrained(sub.next()).now_or_never() {
        if !msg.subject.starts_with(SYNC_PREFIX) {
            out.push(msg);
        }
    }
    out
}

/// Waits for the subscription's stream to end, returning what it yielded
/// before the end.
pub async fn until_end(sub: &mut Subscriber) -> Vec<Message> {
    within("subscription to end", async {
        let mut out = Vec::new();
        while let Some(msg) = sub.next().await {
            out.push(msg);
        }
        out
    })
    .await
}

pub fn payload_str(msg: &Message) -> String {
    String::from_utf8_lossy(&msg.payload).into_owned()
}

/// Connect options that report the client's events on a channel.
pub fn with_events(opts: ConnectOptions) -> (ConnectOptions, mpsc::UnboundedReceiver<Event>) {
    let (tx, rx) = mpsc::unbounded_channel();
    let opts = opts.event_callback(move |event| {
        let tx = tx.clone();
        async move {
            let _ = tx.send(event);
        }
    });
    (opts, rx)
}

/// Waits for the first event `want` accepts, skipping others.
pub async fn wait_event(
    events: &mut mpsc::UnboundedReceiver<Event>,
    what: &str,
    want: impl Fn(&Event) -> bool,
) -> Event {
    within(what, async {
        loop {
            let event = events.recv().await.expect("event channel open");
            if want(&event) {
                return event;
            }
        }
    })
    .await
}

/// A port that was free a moment ago, for tests that need to know the port
/// before the server binds it.
pub fn free_port() -> u16 {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").expect("bind 127.0.0.1:0");
    listener.local_addr().expect("local addr").port()
}

/// A raw protocol connection: send bytes, expect exact bytes back.
pub struct Wire {
    stream: TcpStream,
    /// Received and not yet consumed by an expectation.
    buf: Vec<u8>,
}

impl Wire {
    pub async fn connect(addr: SocketAddr) -> Wire {
        let stream = within("tcp connect", TcpStream::connect(addr))
            .await
            .expect("tcp connect");
        Wire::from_stream(stream)
    }

    pub fn from_stream(stream: TcpStream) -> Wire {
        stream.set_nodelay(true).expect("TCP_NODELAY");
        Wire {
            stream,
            buf: Vec::new(),
        }
    }

    /// Connects and consumes the server's INFO line, returning it.
    pub async fn connect_past_info(addr: SocketAddr) -> (Wire, Vec<u8>) {
        let mut wire = Wire::connect(addr).await;
        let info = wire.read_line().await;
        assert!(info.starts_with(b"INFO "), "first line: {}", show(&info));
        (wire, info)
    }

    pub async fn send(&mut self, bytes: &[u8]) {
        within("tcp write", self.stream.write_all(bytes))
            .await
            .expect("tcp write");
    }

    /// Reads more bytes into the buffer; false at end of stream or error.
    async fn fill(&mut self) -> bool {
        let mut chunk = [0u8; 16 * 1024];
        match self.stream.read(&mut chunk).await {
            Ok(0) | Err(_) => false,
            Ok(n) => {
                self.buf.extend_from_slice(&chunk[..n]);
                true
            }
        }
    }

    /// Reads until the buffer holds at least `n` bytes, then takes them.
    pub async fn read_exact(&mut self, n: usize) -> Vec<u8> {
        let got = tokio::time::timeout(WAIT, async {
            while self.buf.len() < n {
                if !self.fill().await {
                    return false;
                }
            }
            true
        })
        .await;
        match got {
            Ok(true) => self.buf.drain(..n).collect(),
            Ok(false) => panic!(
                "connection closed while waiting for {n} bytes; got {}",
                show(&self.buf)
            ),
            Err(_) => panic!("timed out waiting for {n} bytes; got {}", show(&self.buf)),
        }
    }

    /// Reads through the next occurrence of `end`, and takes it all.
    pub async fn read_through(&mut self, end: &[u8]) -> Vec<u8> {
        let got = tokio::time::timeout(WAIT, async {
            loop {
                if let Some(i) = find(&self.buf, end) {
                    return Some(i + end.len());
                }
                if !self.fill().await {
                    return None;
                }
            }
        })
        .await;
        match got {
            Ok(Some(n)) => self.buf.drain(..n).collect(),
            Ok(None) => panic!(
                "connection closed before {}; got {}",
                show(end),
                show(&self.buf)
            ),
            Err(_) => panic!(
                "timed out waiting for {}; got {}",
                show(end),
                show(&self.buf)
            ),
        }
    }

    pub async fn read_line(&mut self) -> Vec<u8> {
        self.read_through(b"\r\n").await
    }

    /// The next bytes received are exactly `want`.
    pub async fn expect(&mut self, want: &[u8]) {
        let got = self.read_exact(want.len()).await;
        assert_eq!(show(&got), show(want));
    }

    /// PING answered by a PONG with nothing before it: the connection is
    /// open and the server had nothing else queued for it.
    pub async fn expect_only_pong(&mut self) {
        self.send(b"PING\r\n").await;
        self.expect(b"PONG\r\n").await;
    }

    /// The server closes the connection without sending anything more.
    pub async fn expect_closed(&mut self) {
        let closed = tokio::time::timeout(WAIT, async { while self.fill().await {} }).await;
        assert!(
            closed.is_ok(),
            "connection still open after {WAIT:?}; got {}",
            show(&self.buf)
        );
        assert!(
            self.buf.is_empty(),
            "unexpected bytes before close: {}",
            show(&self.buf)
        );
    }

    pub fn into_stream(self) -> TcpStream {
        self.stream
    }
}

fn find(hay: &[u8], needle: &[u8]) -> Option<usize> {
    hay.windows(needle.len()).position(|w| w == needle)
}

/// Bytes as text with CR and LF made visible, for assertion messages.
pub fn show(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes)
        .replace('\r', "\\r")
        .replace('\n', "\\n")
}
