//! Two servers for the route and leaf node workloads (a cluster of two,
//! a hub and its leaf): a publisher on one server, its subscriber (or
//! responder) on the other, so every message crosses between them.

use std::time::{Duration, Instant};

use super::proto::{Conn, Frame};
use super::server::ServerProcess;

fn free_port() -> u16 {
    std::net::TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// Servers `a` and `b` of one cluster, `b` routed to `a`.
pub fn pair(label: &str, bin: &str) -> (ServerProcess, ServerProcess) {
    let (ca, cb) = (free_port(), free_port());
    let listen = |p: u16| format!("nats://127.0.0.1:{p}");
    let (la, lb, route) = (listen(ca), listen(cb), listen(ca));
    let a = ServerProcess::start_with(
        &format!("{label}-a"),
        bin,
        &["--cluster", &la, "--cluster_name", "bench", "-n", "a"],
    )
    .expect("start a");
    let b = ServerProcess::start_with(
        &format!("{label}-b"),
        bin,
        &[
            "--cluster",
            &lb,
            "--cluster_name",
            "bench",
            "-n",
            "b",
            "--routes",
            &route,
        ],
    )
    .expect("start b");
    (a, b)
}

/// A hub and a leaf node of it (config files under `dir`).
pub fn leaf_pair(label: &str, bin: &str, dir: &std::path::Path) -> (ServerProcess, ServerProcess) {
    let port = free_port();
    let hub_conf = dir.join(format!("{label}-hub.conf"));
    std::fs::write(
        &hub_conf,
        format!("leafnodes {{ listen: \"127.0.0.1:{port}\" }}\n"),
    )
    .expect("hub conf");
    let leaf_conf = dir.join(format!("{label}-leaf.conf"));
    std::fs::write(
        &leaf_conf,
        format!("leafnodes {{ remotes [ {{ url: \"nats-leaf://127.0.0.1:{port}\" }} ] }}\n"),
    )
    .expect("leaf conf");
    let hub = ServerProcess::start_with(
        &format!("{label}-hub"),
        bin,
        &["-c", &hub_conf.display().to_string(), "-n", "hub"],
    )
    .expect("start hub");
    let leaf = ServerProcess::start_with(
        &format!("{label}-leaf"),
        bin,
        &["-c", &leaf_conf.display().to_string(), "-n", "leaf"],
    )
    .expect("start leaf");
    (hub, leaf)
}

/// Publishes probes from `publisher` until `sub` gets one (the interest
/// crossed the route), then drains the rest.
fn until_routed(publisher: &mut Conn, sub: &mut Conn, subject: &str) {
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        publisher.publish_now(subject, b"probe");
        publisher.ping_pong();
        if sub.wait_msg(Duration::from_millis(100)).is_some() {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "interest never crossed the route"
        );
    }
    while sub.wait_msg(Duration::from_millis(200)).is_some() {}
}

/// Pub/sub 1:1 across the route: messages per second delivered.
pub fn pub_sub(pub_port: u16, sub_port: u16, size: usize, count: usize) -> f64 {
    const SUBJECT: &str = "bench.route";
    let mut sub = Conn::connect(sub_port);
    sub.subscribe(SUBJECT, None, "1");
    sub.ping_pong();
    let mut publisher = Conn::connect(pub_port);
    publisher.ping_pong();
    until_routed(&mut publisher, &mut sub, SUBJECT);
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < count {
            match sub.next_frame(Duration::from_secs(30)) {
                Some(Frame::Msg) => got += 1,
                Some(Frame::Ping) => sub.pong(),
                Some(_) => {}
                None => break,
            }
        }
        got
    });
    let start = Instant::now();
    publisher.publish_many(SUBJECT, size, count);
    publisher.ping_pong();
    let got = reader.join().expect("reader");
    assert_eq!(
        got, count,
        "received {got} of {count} from the other server"
    );
    count as f64 / start.elapsed().as_secs_f64()
}

/// Request/reply across the route (requester on one server, responder on
/// the other): p50 and p99 in microseconds.
pub fn request_latency(req_port: u16, resp_port: u16, count: usize) -> (f64, f64) {
    use std::sync::atomic::{AtomicBool, Ordering};
    use std::sync::Arc;
    let mut responder = Conn::connect(resp_port);
    responder.subscribe("req", None, "1");
    responder.ping_pong();
    let stop = Arc::new(AtomicBool::new(false));
    let flag = stop.clone();
    let answering = std::thread::spawn(move || {
        while !flag.load(Ordering::Relaxed) {
            if let Some(Some(reply)) = responder.next_msg_reply(Duration::from_millis(100)) {
                responder.publish_now(&reply, b"pong");
            }
        }
    });
    let mut c = Conn::connect(req_port);
    c.subscribe("_INBOX.bench.*", None, "9");
    c.ping_pong();
    // Both interests must have crossed: ask until an answer comes.
    let deadline = Instant::now() + Duration::from_secs(30);
    loop {
        c.request_now("req", "_INBOX.bench.probe", b"ping");
        if c.wait_msg(Duration::from_millis(200)).is_some() {
            break;
        }
        assert!(Instant::now() < deadline, "no answer across the route");
    }
    while c.wait_msg(Duration::from_millis(200)).is_some() {}
    let mut lat = Vec::with_capacity(count);
    for i in 0..count {
        let reply = format!("_INBOX.bench.{i}");
        let t = Instant::now();
        c.request_now("req", &reply, b"ping");
        c.wait_msg(Duration::from_secs(5)).expect("reply");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    stop.store(true, Ordering::Relaxed);
    let _ = answering.join();
    lat.sort_by(|a, b| a.total_cmp(b));
    (lat[lat.len() / 2], lat[lat.len() * 99 / 100])
}
