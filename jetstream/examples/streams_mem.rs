use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
#[global_allocator]
static A: mimalloc::MiMalloc = mimalloc::MiMalloc;
use tern_jetstream::engine::*;
use tern_jetstream::writer::StreamInbox;
struct Null(AtomicUsize, std::sync::Mutex<Vec<(String, StreamInbox)>>);
impl Outbox for Null {
    fn publish(&self, _: &str, _: Option<&[u8]>, _: &[u8]) { self.0.fetch_add(1, Ordering::SeqCst); }
    fn publish_with_reply(&self, _: &str, _: &str, _: Option<&[u8]>, _: &[u8]) {}
    fn capture(&self, s: &str, _: &[String], i: StreamInbox) { self.1.lock().unwrap().push((s.to_string(), i)); }
    fn release(&self, _: &str) {}
}
fn rss() -> u64 {
    let s = std::fs::read_to_string("/proc/self/status").unwrap();
    s.lines().find(|l| l.starts_with("VmRSS:")).unwrap().split_whitespace().nth(1).unwrap().parse::<u64>().unwrap() * 1024
}
fn main() {
    let n: usize = std::env::args().nth(1).unwrap().parse().unwrap();
    let storage = std::env::args().nth(2).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let out = Arc::new(Null(AtomicUsize::new(0), Default::default()));
    let mut cfg = JetStreamConfig::new(dir.path().to_path_buf()); cfg.release_memory = Some(|| unsafe { libmimalloc_sys::mi_collect(true) }); let js = JetStream::start(cfg, out.clone()).unwrap();
    let base = rss();
    let inbox = js.api_inbox();
    for i in 0..n {
        let body = format!("{{\"name\":\"KV_B{i}\",\"subjects\":[\"$KV.B{i}.>\"],\"max_msgs_per_subject\":1,\"storage\":\"{storage}\",\"discard\":\"new\",\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"allow_direct\":true}}");
        while inbox.offer(ApiRequest { subject: format!("$JS.API.STREAM.CREATE.KV_B{i}"), reply: "r".into(), headers: None, payload: body.clone().into() }).is_err() { std::thread::yield_now(); }
    }
    while out.0.load(Ordering::SeqCst) < n { std::thread::sleep(std::time::Duration::from_millis(10)); }
    let t = std::time::Instant::now();
    println!("{n} {storage} streams: {} KB per stream after create", (rss() - base) / n as u64 / 1024);
    for (s, i) in out.1.lock().unwrap().iter() {
        let _ = i.offer(tern_jetstream::stream::Inbound { subject: format!("$KV.{}.key", &s[3..]), reply: Some("a".into()), headers: None, payload: "value".into() });
    }
    while out.0.load(Ordering::SeqCst) < 2 * n { std::thread::sleep(std::time::Duration::from_millis(10)); }
    println!("{} KB per stream after a put ({:?})", (rss() - base) / n as u64 / 1024, t.elapsed());
    std::thread::sleep(std::time::Duration::from_secs(8));
    println!("{} KB per stream after idle, {} fds", (rss() - base) / n as u64 / 1024, std::fs::read_dir("/proc/self/fd").unwrap().count());
    let t = std::time::Instant::now();
    for (s, i) in out.1.lock().unwrap().iter() {
        let _ = i.offer(tern_jetstream::stream::Inbound { subject: format!("$KV.{}.key", &s[3..]), reply: Some("a".into()), headers: None, payload: "value".into() });
    }
    while out.0.load(Ordering::SeqCst) < 3 * n { std::thread::sleep(std::time::Duration::from_millis(1)); }
    println!("{} KB per stream after a put on parked ({:?})", (rss() - base) / n as u64 / 1024, t.elapsed());
    js.shutdown();
}
