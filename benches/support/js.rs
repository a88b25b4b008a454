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
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.ack.*", None, "1");
    c.ping_pong();
    let payload = vec![b'x'; size];
    let start = Instant::now();
    let (mut sent, mut acked) = (0, 0);
    while acked < count {
        while sent < count && sent - acked < window {
            c.request_now(SUBJECT, "_INBOX.ack.1", &payload);
            sent += 1;
        }
        match c.next_frame(Duration::from_secs(30)) {
            Some(Frame::Msg) => acked += 1,
            Some(Frame::Ping) => c.pong(),
            Some(_) => {}
            None => panic!("ack {acked} of {count} never came"),
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
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
