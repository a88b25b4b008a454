//! Object store workloads over the network (raw protocol, as the clients
//! put and get): chunks of 128 KiB published with acks, a rolled-up meta
//! record, and a read through an ordered push consumer.

use std::time::{Duration, Instant};

use super::proto::{Conn, Frame};

pub const BUCKET: &str = "OBENCH";
const CHUNK: usize = 128 * 1024;
/// Chunk acks outstanding during a put: one, as the clients wait for each
/// chunk's ack before sending the next.
const WINDOW: usize = 1;

fn api(c: &mut Conn, subject: &str, body: &str) {
    c.request_now(subject, "_INBOX.api.1", body.as_bytes());
    c.wait_msg(Duration::from_secs(30)).expect("API reply");
}

/// A fresh bucket as the clients create it.
pub fn recreate_bucket(port: u16) {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, &format!("$JS.API.STREAM.DELETE.OBJ_{BUCKET}"), "");
    let config = format!(
        "{{\"name\":\"OBJ_{BUCKET}\",\"subjects\":[\"$O.{BUCKET}.C.>\",\"$O.{BUCKET}.M.>\"],\"max_age\":0,\"max_bytes\":-1,\"storage\":\"file\",\"num_replicas\":1,\"discard\":\"new\",\"allow_rollup_hdrs\":true,\"allow_direct\":true}}"
    );
    api(
        &mut c,
        &format!("$JS.API.STREAM.CREATE.OBJ_{BUCKET}"),
        &config,
    );
}

/// Puts an object of `size` bytes under chunk id `nuid`; MB/s. `sample`
/// is called after every chunk ack (to watch the server's memory).
pub fn put(port: u16, nuid: &str, size: usize, mut sample: impl FnMut()) -> f64 {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.chunk.*", None, "1");
    c.ping_pong();
    let chunk = vec![b'o'; CHUNK];
    let chunks = size.div_ceil(CHUNK);
    let subject = format!("$O.{BUCKET}.C.{nuid}");
    let start = Instant::now();
    let (mut sent, mut acked) = (0, 0);
    while acked < chunks {
        while sent < chunks && sent - acked < WINDOW {
            c.request_now(&subject, "_INBOX.chunk.1", &chunk);
            sent += 1;
        }
        match c.next_frame(Duration::from_secs(60)) {
            Some(Frame::Msg) => {
                acked += 1;
                sample();
            }
            Some(Frame::Ping) => c.pong(),
            Some(_) => {}
            None => panic!("chunk ack {acked} of {chunks} never came"),
        }
    }
    let meta = format!(
        "{{\"name\":\"{nuid}\",\"bucket\":\"{BUCKET}\",\"nuid\":\"{nuid}\",\"size\":{size},\"chunks\":{chunks}}}"
    );
    let headers = "NATS/1.0\r\nNats-Rollup: sub\r\n\r\n";
    let frame = format!(
        "HPUB $O.{BUCKET}.M.{nuid} _INBOX.chunk.1 {} {}\r\n{headers}{meta}\r\n",
        headers.len(),
        headers.len() + meta.len()
    );
    c.send_raw(frame.as_bytes());
    c.wait_msg(Duration::from_secs(30)).expect("meta ack");
    size as f64 / 1e6 / start.elapsed().as_secs_f64()
}

/// Reads back the chunks of `nuid` (`size` bytes) through an ordered push
/// consumer, answering flow control; MB/s.
pub fn get(port: u16, nuid: &str, size: usize) -> f64 {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.subscribe("_INBOX.chunks", None, "2");
    c.ping_pong();
    let config = format!(
        "{{\"stream_name\":\"OBJ_{BUCKET}\",\"config\":{{\"deliver_policy\":\"all\",\"ack_policy\":\"none\",\"max_deliver\":1,\"flow_control\":true,\"idle_heartbeat\":5000000000,\"mem_storage\":true,\"num_replicas\":1,\"filter_subject\":\"$O.{BUCKET}.C.{nuid}\",\"deliver_subject\":\"_INBOX.chunks\"}}}}"
    );
    let start = Instant::now();
    api(
        &mut c,
        &format!("$JS.API.CONSUMER.CREATE.OBJ_{BUCKET}"),
        &config,
    );
    let chunks = size.div_ceil(CHUNK);
    let mut got = 0;
    while got < chunks {
        match c.next_frame_reply(Duration::from_secs(60)) {
            Some(Frame::Msg) => got += 1,
            Some(Frame::HMsg) => {
                if let Some(reply) = c.take_reply() {
                    c.send_raw(format!("PUB {reply} 0\r\n\r\n").as_bytes());
                }
            }
            Some(Frame::Ping) => c.pong(),
            Some(_) => {}
            None => panic!("chunk {got} of {chunks} never came"),
        }
    }
    size as f64 / 1e6 / start.elapsed().as_secs_f64()
}
