//! Hostile and bursty clients: the server keeps admitting and serving
//! the others, memory stays bounded (RSS sampled) and descriptors return
//! to where they were. (A client that never sends CONNECT is cut off by
//! the auth timeout: tests/auth.rs `no_connect_within_the_auth_timeout`.)

mod harness;

use std::sync::atomic::Ordering;
use std::time::{Duration, Instant};

use bytes::Bytes;
use futures::future::join_all;
use tern::auth::{Auth, Secret};
use tern::Options;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpSocket, TcpStream};

use harness::{
    connect, connect_with, round_trip, start_server, start_with, wait_until, within, within_for,
    Wire,
};

/// The tests here run one at a time: some measure memory and descriptors,
/// and the others' sockets would be in their numbers.
static SERIAL: tokio::sync::Mutex<()> = tokio::sync::Mutex::const_new(());

/// This process's resident memory, in KiB.
fn rss_kib() -> u64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|n| n.parse().ok())
        })
        .unwrap_or(0)
}

/// This process's descriptors of TCP sockets to or from `port` (the
/// server's connections and the clients' ends; other tests' sockets and
/// runtimes are not counted).
fn open_fds(port: u16) -> usize {
    let port_hex = format!(":{port:04X}");
    let mut inodes = std::collections::HashSet::new();
    for table in ["/proc/net/tcp", "/proc/net/tcp6"] {
        for line in std::fs::read_to_string(table)
            .unwrap_or_default()
            .lines()
            .skip(1)
        {
            let f: Vec<&str> = line.split_whitespace().collect();
            if f.len() > 9 && (f[1].ends_with(&port_hex) || f[2].ends_with(&port_hex)) {
                inodes.insert(format!("socket:[{}]", f[9]));
            }
        }
    }
    std::fs::read_dir("/proc/self/fd").map_or(0, |d| {
        d.filter_map(Result::ok)
            .filter_map(|e| std::fs::read_link(e.path()).ok())
            .filter(|p| inodes.contains(p.to_string_lossy().as_ref()))
            .count()
    })
}

/// A client that keeps answering quickly while something hostile runs:
/// the slowest of `rounds` round trips.
async fn slowest_round_trip(client: &async_nats::Client, rounds: usize) -> Duration {
    let mut worst = Duration::ZERO;
    for _ in 0..rounds {
        let t = Instant::now();
        round_trip(client).await;
        worst = worst.max(t.elapsed());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    worst
}

/// A burst of simultaneous connects is admitted at once: the listen
/// backlog is the reference's 4096, so none waits for SYN retries (with a
/// backlog of 128 this burst took over 10 s here; with 4096, 0.2 s).
#[tokio::test]
async fn connect_burst_is_admitted() {
    let _serial = SERIAL.lock().await;
    let s = start_server().await;
    let addr = s.addr();
    let started = std::time::Instant::now();
    let connects = (0..2000).map(|_| async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.expect("INFO");
        assert_eq!(&buf, b"INFO ");
        stream
    });
    let streams = within_for(Duration::from_secs(10), "2000 INFOs", join_all(connects)).await;
    assert_eq!(streams.len(), 2000);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a burst of 2000 connects took {took:?} (overflowing a short backlog costs SYN retries of a second and more)"
    );
}

/// A slowloris dribbling its CONNECT a byte per 100 ms is cut off by the
/// auth timeout; a signed-in client is served meanwhile.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slowloris_is_cut_off_by_the_auth_timeout() {
    let _serial = SERIAL.lock().await;
    let mut opts = Options::loopback();
    opts.auth = Auth {
        token: Some(Secret::new("t".into())),
        ..Auth::default()
    };
    opts.auth_timeout = Duration::from_secs(1);
    let s = start_with(opts).await;
    let good = connect_with(s.addr(), async_nats::ConnectOptions::with_token("t".into())).await;
    let (slow, _) = Wire::connect_past_info(s.addr()).await;
    let started = Instant::now();
    let dribble = tokio::spawn(async move {
        let mut stream = slow.into_stream();
        for b in b"CONNECT {\"auth_token\":\"t\"}\r\n" {
            if stream.write_all(&[*b]).await.is_err() {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut got = Vec::new();
        let _ = tokio::time::timeout(Duration::from_secs(5), stream.read_to_end(&mut got)).await;
        got
    });
    let worst = slowest_round_trip(&good, 20).await;
    eprintln!("slowloris: slowest other round trip {worst:?}");
    assert!(
        worst < Duration::from_secs(1),
        "a round trip took {worst:?}"
    );
    let got = within_for(
        Duration::from_secs(10),
        "the slowloris to be cut off",
        dribble,
    )
    .await
    .unwrap();
    assert!(
        String::from_utf8_lossy(&got).contains("-ERR 'Authentication Timeout'"),
        "{}",
        String::from_utf8_lossy(&got)
    );
    assert!(started.elapsed() < Duration::from_secs(4));
}

/// A 100 KB control line is refused and the connection closed; nothing
/// like 100 KB per connection is kept.
#[tokio::test]
async fn a_100_kb_control_line_is_refused() {
    let _serial = SERIAL.lock().await;
    let s = start_server().await;
    let (wire, _) = Wire::connect_past_info(s.addr()).await;
    let mut line = b"PUB ".to_vec();
    line.extend(std::iter::repeat_n(b'a', 100 * 1024));
    let mut stream = wire.into_stream();
    let _ = stream.write_all(&line).await;
    let mut got = Vec::new();
    within("the close", stream.read_to_end(&mut got)).await.ok();
    let text = String::from_utf8_lossy(&got).to_lowercase();
    assert!(text.contains("maximum control line exceeded"), "{text}");
    let client = connect(s.addr()).await;
    round_trip(&client).await;
}

/// 10,000 subscriptions on one connection are held, the next is refused
/// (`max_subscriptions`), and others are served throughout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_subscriptions_then_the_limit() {
    let _serial = SERIAL.lock().await;
    let s = start_with(Options {
        max_subscriptions: 10_000,
        ..Options::loopback()
    })
    .await;
    let before = rss_kib();
    let (mut wire, _) = Wire::connect_past_info(s.addr()).await;
    let mut subs = String::from("CONNECT {\"verbose\":false}\r\n");
    for i in 0..10_001 {
        subs.push_str(&format!("SUB subject.{i} {i}\r\n"));
    }
    subs.push_str("PING\r\n");
    wire.send(subs.as_bytes()).await;
    wire.expect(b"-ERR 'maximum subscriptions exceeded'\r\nPONG\r\n")
        .await;
    let other = connect(s.addr()).await;
    let worst = slowest_round_trip(&other, 5).await;
    assert!(
        worst < Duration::from_secs(1),
        "a round trip took {worst:?}"
    );
    let grown = rss_kib().saturating_sub(before);
    eprintln!("10,000 subscriptions: RSS +{grown} KiB, slowest other round trip {worst:?}");
    assert!(grown < 64 * 1024, "10,000 subscriptions cost {grown} KiB");
}

/// 5,000 connects and disconnects: every descriptor comes back, memory
/// stays bounded, and the server still serves.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn connect_and_disconnect_flood() {
    let _serial = SERIAL.lock().await;
    let s = start_server().await;
    let srv = s.server().clone();
    let port = s.addr().port();
    let fds = open_fds(port);
    let before = rss_kib();
    let addr = s.addr();
    for _ in 0..25 {
        let batch = (0..200).map(|_| async move {
            let Ok(mut stream) = TcpStream::connect(addr).await else {
                return;
            };
            let mut buf = [0u8; 5];
            let _ = stream.read_exact(&mut buf).await;
            let _ = stream.write_all(b"CONNECT {}\r\n").await;
        });
        within_for(
            Duration::from_secs(20),
            "a batch of connects",
            join_all(batch),
        )
        .await;
    }
    wait_until("every flood client to be gone", || srv.num_clients() == 0).await;
    let client = connect(s.addr()).await;
    round_trip(&client).await;
    drop(client);
    wait_until("descriptors back to the baseline", || open_fds(port) <= fds).await;
    let grown = rss_kib().saturating_sub(before);
    eprintln!(
        "5,000 connects: sockets of the port {fds} -> {}, RSS +{grown} KiB",
        open_fds(port)
    );
    assert!(
        grown < 64 * 1024,
        "5,000 connections left {grown} KiB behind"
    );
}

/// A subscriber that never reads while 200 MB are published at it is cut
/// off as a slow consumer; memory stays bounded by max_pending, the
/// publisher and others are served.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_subscriber_that_never_reads() {
    let _serial = SERIAL.lock().await;
    let s = start_with(Options {
        max_payload: 64 * 1024,
        ..Options::loopback()
    })
    .await;
    let srv = s.server().clone();
    let socket = TcpSocket::new_v4().unwrap();
    socket.set_recv_buffer_size(4096).unwrap();
    let stream = within("connect", socket.connect(s.addr())).await.unwrap();
    let mut stalled = Wire::from_stream(stream);
    stalled.read_line().await;
    stalled
        .send(b"CONNECT {\"verbose\":false}\r\nSUB firehose 1\r\nPING\r\n")
        .await;
    stalled.expect(b"PONG\r\n").await;
    let before = rss_kib();
    let mut peak = before;
    let publisher = connect(s.addr()).await;
    let other = connect(s.addr()).await;
    let payload = Bytes::from(vec![b'x'; 64 * 1024]);
    within_for(Duration::from_secs(60), "200 MB published", async {
        for _ in 0..50 {
            for _ in 0..64 {
                publisher
                    .publish("firehose", payload.clone())
                    .await
                    .unwrap();
            }
            round_trip(&publisher).await;
            peak = peak.max(rss_kib());
        }
    })
    .await;
    assert!(srv.stats().slow_consumers.load(Ordering::Relaxed) > 0);
    round_trip(&other).await;
    let grown = peak.saturating_sub(before);
    eprintln!("200 MB at a stalled subscriber: peak RSS +{grown} KiB");
    assert!(
        grown < 192 * 1024,
        "RSS grew by {grown} KiB with 200 MB published at a stalled subscriber"
    );
    drop(stalled);
}
