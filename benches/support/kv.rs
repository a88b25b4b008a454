//! KV workloads over the network (raw protocol, as the clients put and
//! get: a publish with a reply, a direct get), watch latency, and the
//! in-process API of `tern-kv` on a tern started inside this process.

use std::time::{Duration, Instant};

use super::proto::{Conn, Frame};

pub const BUCKET: &str = "BENCH";
const KEYS: usize = 100;
const VALUE: [u8; 128] = [b'v'; 128];

fn api(c: &mut Conn, subject: &str, body: &str) {
    c.request_now(subject, "_INBOX.api.1", body.as_bytes());
    c.wait_msg(Duration::from_secs(30)).expect("API reply");
}

/// A fresh bucket as the clients create it (history 1, file storage),
/// with every key set once.
pub fn recreate_bucket(port: u16) {
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.api.*", None, "1");
    c.ping_pong();
    api(&mut c, &format!("$JS.API.STREAM.DELETE.KV_{BUCKET}"), "");
    let config = format!(
        "{{\"name\":\"KV_{BUCKET}\",\"subjects\":[\"$KV.{BUCKET}.>\"],\"max_msgs_per_subject\":1,\"max_bytes\":-1,\"max_age\":0,\"max_msg_size\":-1,\"storage\":\"file\",\"num_replicas\":1,\"discard\":\"new\",\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"allow_direct\":true}}"
    );
    api(
        &mut c,
        &format!("$JS.API.STREAM.CREATE.KV_{BUCKET}"),
        &config,
    );
    drop(c);
    puts(port, KEYS, 0);
}

/// `count` sequential puts (each waits for its ack); ops/s.
pub fn puts(port: u16, count: usize, client: usize) -> f64 {
    // Each client its own inbox: an ack must reach only its publisher.
    let inbox = format!("_INBOX.put{client}.1");
    let mut c = Conn::connect(port);
    c.subscribe(&inbox, None, "1");
    c.ping_pong();
    let start = Instant::now();
    for i in 0..count {
        let key = format!("$KV.{BUCKET}.k{}", (i + client * 7) % KEYS);
        c.request_now(&key, &inbox, &VALUE);
        c.wait_msg(Duration::from_secs(30)).expect("put ack");
        assert!(!c.last_was_error(), "put {i} failed");
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// `count` sequential direct gets of the last value of a key; ops/s.
pub fn gets(port: u16, count: usize, client: usize) -> f64 {
    let inbox = format!("_INBOX.get{client}.1");
    let mut c = Conn::connect(port);
    c.subscribe(&inbox, None, "1");
    c.ping_pong();
    let start = Instant::now();
    for i in 0..count {
        let subject = format!(
            "$JS.API.DIRECT.GET.KV_{BUCKET}.$KV.{BUCKET}.k{}",
            (i + client * 7) % KEYS
        );
        c.request_now(&subject, &inbox, b"");
        loop {
            match c.next_frame(Duration::from_secs(30)) {
                Some(Frame::HMsg) => break,
                Some(Frame::Ping) => c.pong(),
                Some(_) => {}
                None => panic!("get {i}: no reply"),
            }
        }
    }
    count as f64 / start.elapsed().as_secs_f64()
}

/// `clients` connections each running `per_client` of `op` at once; the
/// total ops/s.
pub fn concurrent(
    port: u16,
    clients: usize,
    per_client: usize,
    op: fn(u16, usize, usize) -> f64,
) -> f64 {
    let start = Instant::now();
    let threads: Vec<_> = (0..clients)
        .map(|n| std::thread::spawn(move || op(port, per_client, n)))
        .collect();
    for t in threads {
        t.join().expect("client thread");
    }
    (clients * per_client) as f64 / start.elapsed().as_secs_f64()
}

/// Median microseconds from a put being sent to a watcher (an ordered
/// push consumer on the key, deliver new) receiving it.
pub fn watch_latency(port: u16, samples: usize) -> f64 {
    let mut w = Conn::connect(port);
    w.subscribe("_INBOX.api.*", None, "1");
    w.subscribe("_INBOX.watch", None, "2");
    w.ping_pong();
    let config = format!(
        "{{\"stream_name\":\"KV_{BUCKET}\",\"config\":{{\"deliver_policy\":\"new\",\"ack_policy\":\"none\",\"max_deliver\":1,\"flow_control\":true,\"idle_heartbeat\":5000000000,\"mem_storage\":true,\"num_replicas\":1,\"filter_subject\":\"$KV.{BUCKET}.watched\",\"deliver_subject\":\"_INBOX.watch\"}}}}"
    );
    api(
        &mut w,
        &format!("$JS.API.CONSUMER.CREATE.KV_{BUCKET}"),
        &config,
    );
    let mut p = Conn::connect(port);
    p.ping_pong();
    let mut took = Vec::with_capacity(samples);
    for _ in 0..samples {
        let start = Instant::now();
        p.publish_now(&format!("$KV.{BUCKET}.watched"), &VALUE);
        loop {
            match w.next_frame_reply(Duration::from_secs(30)) {
                Some(Frame::Msg) => break,
                Some(Frame::HMsg) => {
                    if let Some(reply) = w.take_reply() {
                        w.send_raw(format!("PUB {reply} 0\r\n\r\n").as_bytes());
                    }
                }
                Some(Frame::Ping) => w.pong(),
                Some(_) => {}
                None => panic!("watch: update never came"),
            }
        }
        took.push(start.elapsed().as_secs_f64() * 1e6);
    }
    took.sort_by(f64::total_cmp);
    took[took.len() / 2]
}

/// The in-process API on a tern started in this process: (put ops/s,
/// get ops/s, network get ops/s against the same server).
pub fn in_process(puts_n: usize, gets_n: usize) -> (f64, f64, f64) {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let running = tern::start(tern::Options {
            jetstream: true,
            store_dir: Some(dir.path().join("store")),
            ..tern::Options::loopback()
        })
        .await
        .expect("tern starts");
        let kv = tern_kv::Kv::new(running.server().connect()).expect("the KV");
        let mut config = tern_kv::Config::new(BUCKET);
        config.history = 1;
        let bucket = kv.create_bucket(config).await.expect("bucket");
        let value = bytes::Bytes::from_static(&VALUE);
        let start = Instant::now();
        for i in 0..puts_n {
            bucket
                .put(&format!("k{}", i % KEYS), value.clone())
                .await
                .expect("put");
        }
        let put_rate = puts_n as f64 / start.elapsed().as_secs_f64();
        let keys: Vec<String> = (0..KEYS).map(|i| format!("k{i}")).collect();
        let start = Instant::now();
        for i in 0..gets_n {
            let e = bucket.get(&keys[i % KEYS]).await.expect("get");
            assert!(e.is_some());
        }
        let get_rate = gets_n as f64 / start.elapsed().as_secs_f64();
        let port = running.addr().port();
        let network = tokio::task::spawn_blocking(move || gets(port, 5_000, 0))
            .await
            .expect("network gets");
        drop(bucket);
        drop(kv);
        running.shutdown().await;
        (put_rate, get_rate, network)
    })
}
