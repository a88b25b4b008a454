//! JetStream workloads: publishing into a file stream with acks, and a
//! restart of a server holding many stored messages.

use std::time::{Duration, Instant};

use super::proto::{Conn, Frame};
use super::server::ServerProcess;

pub const STREAM: &str = "BENCH";
const SUBJECT: &str = "bench.js";

/// Sends an API request and waits for its one reply.
fn api(c: &mut Conn, subject: &str, body: &str) {
    c.request_now(subject, "_INBOX.api.1", body.as_bytes());
    c.wait_msg(Duration::from_secs(30)).expect("API reply");
}

/// A fresh file stream capturing the benchmark subject.
pub fn recreate_stream(port: u16) {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, &format!("$JS.API.STREAM.DELETE.{STREAM}"), "");
    let config =
        format!("{{\"name\":\"{STREAM}\",\"subjects\":[\"{SUBJECT}\"],\"storage\":\"file\"}}");
    api(&mut c, &format!("$JS.API.STREAM.CREATE.{STREAM}"), &config);
}

/// Publishes `count` messages of `size` bytes with at most `window` acks
/// outstanding; msgs/s acked.
pub fn publish(port: u16, size: usize, count: usize, window: usize) -> f64 {
    recreate_stream(port);
    publish_into(port, size, count, window)
}

/// Publishes into the existing benchmark stream; msgs/s acked.
fn publish_into(port: u16, size: usize, count: usize, window: usize) -> f64 {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.ack.*", None, "1");
    c.ping_pong();
    let mut frame = format!("PUB {SUBJECT} _INBOX.ack.1 {size}\r\n").into_bytes();
    frame.extend(std::iter::repeat_n(b'x', size));
    frame.extend_from_slice(b"\r\n");
    // Publishes freed by the acks read so far go out in one write, as a
    // client's buffered writer sends them (the same for both servers).
    let mut out = Vec::with_capacity(frame.len() * window.min(1024));
    let start = Instant::now();
    let (mut sent, mut acked) = (0, 0);
    while acked < count {
        while sent < count && sent - acked < window {
            out.extend_from_slice(&frame);
            sent += 1;
        }
        if !out.is_empty() {
            c.send_raw(&out);
            out.clear();
        }
        // Every ack already received, then wait for at least one more.
        loop {
            match c.next_frame(Duration::from_secs(30)) {
                Some(Frame::Msg) => {
                    assert!(!c.last_was_error(), "publish {acked} failed");
                    acked += 1;
                }
                Some(Frame::Ping) => c.pong(),
                Some(_) => {}
                None => panic!("ack {acked} of {count} never came"),
            }
            if c.buffered() == 0 {
                break;
            }
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Publishes `count` messages of 128 B (256 in flight) into a stream
/// with a mirror; returns the rate at which the mirror held them (msgs/s,
/// from the first publish until the mirror has the last message) and how
/// long after the last ack that was (ms).
pub fn mirror(port: u16, count: usize) -> (f64, f64) {
    recreate_stream(port);
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, "$JS.API.STREAM.DELETE.BENCH_M", "");
    let config = format!(
        "{{\"name\":\"BENCH_M\",\"mirror\":{{\"name\":\"{STREAM}\"}},\"storage\":\"file\"}}"
    );
    api(&mut c, "$JS.API.STREAM.CREATE.BENCH_M", &config);
    let start = Instant::now();
    publish_into(port, 128, count, 256);
    let acked = Instant::now();
    let get = format!("{{\"seq\":{count}}}");
    loop {
        c.request_now(
            "$JS.API.STREAM.MSG.GET.BENCH_M",
            "_INBOX.api.1",
            get.as_bytes(),
        );
        c.wait_msg(Duration::from_secs(30)).expect("API reply");
        if !c.last_was_error() {
            break;
        }
        assert!(
            acked.elapsed() < Duration::from_secs(120),
            "the mirror never caught up"
        );
        std::thread::sleep(Duration::from_millis(2));
    }
    let done = Instant::now();
    (
        count as f64 / (done - start).as_secs_f64(),
        (done - acked).as_secs_f64() * 1000.0,
    )
}

/// Stores `count` messages, kills the server, restarts it on the same
/// store and port, and measures the time until it answers a STREAM.INFO
/// showing them; returns (restart seconds, RSS bytes after restart).
pub fn restart_with_stored(bin: &str, extra: &[&str], count: usize) -> (f64, u64) {
    let first = ServerProcess::start_with("fill", bin, extra).expect("start");
    let port = first.port;
    publish(port, 128, count, 1024);
    first.kill();
    let start = Instant::now();
    let again = ServerProcess::start_on("restart", bin, extra, i32::from(port)).expect("restart");
    let mut c = Conn::connect(again.port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, &format!("$JS.API.STREAM.INFO.{STREAM}"), "");
    let took = start.elapsed().as_secs_f64();
    (took, again.rss_bytes())
}

/// A consumer request's reply, waited for.
fn create_consumer(c: &mut Conn, subject: &str, body: &str) {
    api(c, subject, body);
}

/// Consumes `count` stored messages with a durable pull consumer (batches
/// of 500, two requests outstanding, every message acked explicitly);
/// msgs/s. `round` names the consumer.
pub fn consume_pull(port: u16, count: usize, round: usize) -> f64 {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.subscribe("_INBOX.pull", None, "2");
    c.ping_pong();
    let name = format!("PULL{round}");
    let config = format!(
        "{{\"stream_name\":\"{STREAM}\",\"config\":{{\"durable_name\":\"{name}\",\"ack_policy\":\"explicit\",\"max_ack_pending\":-1}}}}"
    );
    create_consumer(
        &mut c,
        &format!("$JS.API.CONSUMER.CREATE.{STREAM}.{name}"),
        &config,
    );
    let next = format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{name}");
    let request = br#"{"batch":500,"expires":5000000000}"#;
    let start = Instant::now();
    let (mut got, mut asked) = (0usize, 0usize);
    let mut acks = Vec::new();
    let mut batch_got = 0;
    while got < count {
        while asked < count && asked - got < 1000 {
            c.request_now(&next, "_INBOX.pull", request);
            asked += 500;
        }
        match c.next_frame_reply(Duration::from_secs(30)) {
            Some(Frame::Msg) => {
                got += 1;
                batch_got += 1;
                if let Some(reply) = c.take_reply() {
                    acks.extend_from_slice(format!("PUB {reply} 4\r\n+ACK\r\n").as_bytes());
                }
                if batch_got == 100 || got == count || c.buffered() == 0 {
                    c.send_raw(&acks);
                    acks.clear();
                    batch_got = 0;
                }
            }
            Some(Frame::Ping) => c.pong(),
            Some(_) => {}
            None => panic!("pull: message {got} of {count} never came"),
        }
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    api(
        &mut c,
        &format!("$JS.API.CONSUMER.DELETE.{STREAM}.{name}"),
        "",
    );
    rate
}

/// Consumes `count` stored messages with an ordered push consumer as the
/// clients create it (ephemeral, ack none, flow control, heartbeats,
/// memory storage); msgs/s.
pub fn consume_ordered(port: u16, count: usize) -> f64 {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.subscribe("_INBOX.ordered", None, "2");
    c.ping_pong();
    let config = format!(
        "{{\"stream_name\":\"{STREAM}\",\"config\":{{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":1,\"flow_control\":true,\"idle_heartbeat\":5000000000,\"mem_storage\":true,\"num_replicas\":1,\"deliver_subject\":\"_INBOX.ordered\"}}}}"
    );
    let start = Instant::now();
    create_consumer(
        &mut c,
        &format!("$JS.API.CONSUMER.CREATE.{STREAM}"),
        &config,
    );
    let mut got = 0usize;
    while got < count {
        match c.next_frame_reply(Duration::from_secs(30)) {
            Some(Frame::Msg) => got += 1,
            Some(Frame::HMsg) => {
                // A flow control request carries a reply: answer it.
                if let Some(reply) = c.take_reply() {
                    c.send_raw(format!("PUB {reply} 0\r\n\r\n").as_bytes());
                }
            }
            Some(Frame::Ping) => c.pong(),
            Some(_) => {}
            None => panic!("ordered: message {got} of {count} never came"),
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// Creates `consumers` durable pull consumers on a stream of 1,000
/// messages (each with some delivered and acked), kills the server,
/// restarts it on the same store and port, and measures the time until the
/// last consumer's CONSUMER.INFO is answered; returns (seconds, RSS).
pub fn restart_with_consumers(bin: &str, extra: &[&str], consumers: usize) -> (f64, u64) {
    let first = ServerProcess::start_with("fill-consumers", bin, extra).expect("start");
    let port = first.port;
    publish(port, 128, 1_000, 256);
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.subscribe("_INBOX.pull", None, "2");
    c.ping_pong();
    for i in 0..consumers {
        let name = format!("D{i}");
        let config = format!(
            "{{\"stream_name\":\"{STREAM}\",\"config\":{{\"durable_name\":\"{name}\",\"ack_policy\":\"explicit\"}}}}"
        );
        create_consumer(
            &mut c,
            &format!("$JS.API.CONSUMER.CREATE.{STREAM}.{name}"),
            &config,
        );
        // One message delivered and acked, one left pending.
        c.request_now(
            &format!("$JS.API.CONSUMER.MSG.NEXT.{STREAM}.{name}"),
            "_INBOX.pull",
            b"2",
        );
        for n in 0..2 {
            let reply = loop {
                match c.next_frame_reply(Duration::from_secs(30)) {
                    Some(Frame::Msg) => break c.take_reply(),
                    Some(Frame::Ping) => c.pong(),
                    Some(_) => {}
                    None => panic!("consumer {name}: delivery never came"),
                }
            };
            if let (0, Some(r)) = (n, reply) {
                c.request_now(&r, "_INBOX.api.ack", b"+ACK");
                c.wait_msg(Duration::from_secs(30)).expect("ack reply");
            }
        }
    }
    let last = format!("$JS.API.CONSUMER.INFO.{STREAM}.D{}", consumers - 1);
    api(&mut c, &last, "");
    // Let the consumers' state reach the disk as it would in service.
    std::thread::sleep(Duration::from_millis(1500));
    drop(c);
    first.kill();
    let start = Instant::now();
    let again =
        ServerProcess::start_on("restart-consumers", bin, extra, i32::from(port)).expect("restart");
    let mut c = Conn::connect(again.port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, &last, "");
    let took = start.elapsed().as_secs_f64();
    (took, again.rss_bytes())
}

/// The disk space the files under `dir` take (allocated blocks, so a
/// sparse or preallocated file counts as the disk sees it).
pub fn disk_bytes(dir: &std::path::Path) -> u64 {
    use std::os::unix::fs::MetadataExt;
    let Ok(entries) = std::fs::read_dir(dir) else {
        return 0;
    };
    entries
        .flatten()
        .map(|e| match e.metadata() {
            Ok(m) if m.is_dir() => disk_bytes(&e.path()),
            Ok(m) => m.blocks() * 512,
            Err(_) => 0,
        })
        .sum()
}

/// What a soak's stream keeps: messages for 5 s (`MaxAge`), or the last
/// message of each of 100 keys behind one key written once (`Keys`, as a
/// KV bucket of history 1: every write removes one from inside).
#[derive(Clone, Copy, Debug)]
pub enum SoakKind {
    MaxAge,
    Keys,
}

/// Publishes `rate` messages a second of `size` bytes into a stream that
/// keeps them as `kind` says, for `secs` seconds, and samples the disk
/// the store's files take every `every` seconds: (seconds since start,
/// messages acked, disk bytes). A steady publish-and-remove load must
/// level off, not grow.
pub fn soak(
    port: u16,
    store_dir: &std::path::Path,
    kind: SoakKind,
    secs: u64,
    rate: usize,
    size: usize,
) -> Vec<(u64, usize, u64)> {
    const MAX_AGE_SECS: u64 = 5;
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    let limit = match kind {
        SoakKind::MaxAge => format!("\"max_age\":{}", MAX_AGE_SECS * 1_000_000_000),
        SoakKind::Keys => "\"max_msgs_per_subject\":1".to_string(),
    };
    let config =
        format!("{{\"name\":\"SOAK\",\"subjects\":[\"soak.>\"],\"storage\":\"file\",{limit}}}");
    api(&mut c, "$JS.API.STREAM.CREATE.SOAK", &config);
    drop(c);
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.soak.*", None, "1");
    c.ping_pong();
    let frame_to = |subject: &str| {
        let mut frame = format!("PUB {subject} _INBOX.soak.1 {size}\r\n").into_bytes();
        frame.extend(std::iter::repeat_n(b's', size));
        frame.extend_from_slice(b"\r\n");
        frame
    };
    let frame = frame_to("soak.x");
    let keys: Vec<Vec<u8>> = (0..100).map(|k| frame_to(&format!("soak.k.{k}"))).collect();
    if matches!(kind, SoakKind::Keys) {
        c.send_raw(&frame_to("soak.static"));
        while !matches!(c.next_frame(Duration::from_secs(5)), Some(Frame::Msg)) {}
    }
    // Bursts every 10 ms, at most 256 unacked.
    let burst = (rate / 100).max(1);
    let start = Instant::now();
    let mut samples = Vec::new();
    let mut next_sample = 0;
    let (mut sent, mut acked) = (0usize, 0usize);
    let mut out = Vec::new();
    let mut tick = start;
    while start.elapsed().as_secs() < secs {
        let now_secs = start.elapsed().as_secs();
        if now_secs >= next_sample {
            samples.push((now_secs, acked, disk_bytes(store_dir)));
            next_sample += 30;
        }
        tick += Duration::from_millis(10);
        let due = (start.elapsed().as_millis() as usize / 10 + 1) * burst;
        while sent < due && sent - acked < 256 {
            match kind {
                SoakKind::MaxAge => out.extend_from_slice(&frame),
                SoakKind::Keys => out.extend_from_slice(&keys[sent % keys.len()]),
            }
            sent += 1;
        }
        if !out.is_empty() {
            c.send_raw(&out);
            out.clear();
        }
        while acked < sent {
            let left = tick.saturating_duration_since(Instant::now());
            if left.is_zero() && sent - acked < 256 {
                break;
            }
            match c.next_frame(left.max(Duration::from_millis(1))) {
                Some(Frame::Msg) => {
                    assert!(!c.last_was_error(), "soak publish {acked} failed");
                    acked += 1;
                }
                Some(Frame::Ping) => c.pong(),
                Some(_) => {}
                None if Instant::now() >= tick => break,
                None => {}
            }
        }
    }
    samples.push((start.elapsed().as_secs(), acked, disk_bytes(store_dir)));
    samples
}
