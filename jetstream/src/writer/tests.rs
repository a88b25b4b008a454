//! The shard pool: streams on one shard fail alone, are reopened, park
//! when idle, and refuse publishes past their queue limits.

use std::sync::mpsc::{channel, Receiver, Sender};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use bytes::Bytes;

use super::{IngestLimits, Refused, Reopen, StreamInbox, WriterPool};
use crate::outbox::Outbox;
use crate::store::{Readers, RedbStore, StoreError};
use crate::stream::{Inbound, Policy, Stream};

const WAIT: Duration = Duration::from_secs(10);

/// One publish: (subject, headers, payload).
type Sent = (String, Option<Vec<u8>>, Vec<u8>);

/// Records what JetStream publishes.
#[derive(Default)]
struct Recorder {
    sent: Mutex<Vec<Sent>>,
}

impl Outbox for Recorder {
    fn publish(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) {
        let mut sent = self
            .sent
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        sent.push((
            subject.into(),
            headers.map(<[u8]>::to_vec),
            payload.to_vec(),
        ));
    }
    fn publish_with_reply(&self, _: &str, _: &str, _: Option<&[u8]>, _: &[u8]) {}
}

impl Recorder {
    /// Waits for the reply sent to `subject`.
    fn reply_to(&self, subject: &str) -> String {
        let deadline = Instant::now() + WAIT;
        loop {
            {
                let sent = self
                    .sent
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner);
                if let Some((_, _, p)) = sent.iter().find(|(s, _, _)| s == subject) {
                    return String::from_utf8_lossy(p).into_owned();
                }
            }
            assert!(Instant::now() < deadline, "no reply to {subject}");
            std::thread::sleep(Duration::from_millis(5));
        }
    }
}

fn policy(name: &str) -> Policy {
    let config: crate::api::stream::StreamConfig = serde_json::from_str(&format!(
        "{{\"name\":\"{name}\",\"subjects\":[\"{name}.>\"]}}"
    ))
    .expect("config");
    Policy::from_config(&config)
}

fn file_stream(dir: &std::path::Path, name: &str) -> (Stream, Reopen) {
    let path = dir.join(format!("{name}.redb"));
    let store = RedbStore::open(&path).expect("open");
    let stream = Stream::new(policy(name), Box::new(store), 0).expect("stream");
    let name = name.to_string();
    let reopen: Reopen = Box::new(move || {
        let store = RedbStore::open(&path)?;
        Stream::new(policy(&name), Box::new(store), 0)
    });
    (stream, reopen)
}

fn publish(inbox: &StreamInbox, subject: &str, reply: &str) -> Result<(), Refused> {
    inbox.offer(Inbound {
        subject: subject.into(),
        reply: Some(reply.into()),
        headers: None,
        payload: Bytes::from_static(b"x"),
    })
}

/// The stream's message count, read on its shard (or its failure).
fn msgs(inbox: &StreamInbox) -> Result<u64, String> {
    let (tx, rx): (Sender<Result<u64, String>>, Receiver<_>) = channel();
    let failed = tx.clone();
    inbox.run(
        move |s| {
            let _ = tx.send(Ok(s.store().state().msgs));
        },
        move |e| {
            let _ = failed.send(Err(e.description.clone()));
        },
    );
    rx.recv_timeout(WAIT).expect("an answer")
}

fn pool(shards: usize) -> (WriterPool, Arc<Recorder>, Arc<Readers>) {
    let out = Arc::new(Recorder::default());
    let outbox: Arc<dyn Outbox> = out.clone();
    let readers: Arc<Readers> = Arc::default();
    let pool = WriterPool::start(shards, &outbox, &readers, None).expect("pool");
    (pool, out, readers)
}

#[test]
fn a_panic_fails_its_stream_only_and_the_stream_is_reopened() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut pool, out, _) = pool(1);
    let (a, reopen_a) = file_stream(dir.path(), "A");
    let (b, reopen_b) = file_stream(dir.path(), "B");
    let a = pool
        .attach(a, Some(reopen_a), IngestLimits::default(), false)
        .expect("attach");
    let b = pool
        .attach(b, Some(reopen_b), IngestLimits::default(), false)
        .expect("attach");
    publish(&a, "A.x", "ack.a1").expect("queued");
    assert!(out.reply_to("ack.a1").contains("\"seq\":1"));

    // A panic on purpose inside A's work: its caller hears an error.
    let (tx, rx) = channel();
    a.run(
        |_| panic!("on purpose"),
        move |e| {
            let _ = tx.send(e.description.clone());
        },
    );
    let why = rx.recv_timeout(WAIT).expect("failed answered");
    assert!(why.contains("on purpose"), "{why}");
    assert!(a.failure().is_some());

    // B, on the same shard, is untouched.
    publish(&b, "B.x", "ack.b1").expect("queued");
    assert!(out.reply_to("ack.b1").contains("\"seq\":1"));

    // A comes back from its files, with what it had acked.
    let deadline = Instant::now() + WAIT;
    loop {
        match msgs(&a) {
            Ok(n) => {
                assert_eq!(n, 1);
                break;
            }
            Err(e) => assert!(Instant::now() < deadline, "not reopened: {e}"),
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    publish(&a, "A.x", "ack.a2").expect("queued");
    assert!(out.reply_to("ack.a2").contains("\"seq\":2"));
    assert!(a.failure().is_none());
    pool.stop();
}

#[test]
fn publishes_to_a_failed_stream_get_error_acks() {
    let (mut pool, out, _) = pool(1);
    let mem = Stream::new(policy("M"), Box::new(crate::store::MemStore::new()), 0).expect("mem");
    let m = pool
        .attach(mem, None, IngestLimits::default(), false)
        .expect("attach");
    m.run(|_| panic!("on purpose"), |_| {});
    publish(&m, "M.x", "ack.m1").expect("queued");
    let ack = out.reply_to("ack.m1");
    assert!(ack.contains("\"err_code\":10077"), "{ack}");
    // A memory stream has no files to come back from: still failed.
    std::thread::sleep(Duration::from_millis(600));
    assert!(msgs(&m).is_err());
    pool.stop();
}

#[test]
fn a_full_queue_refuses_publishes() {
    let (mut pool, out, _) = pool(1);
    let mem = Stream::new(policy("Q"), Box::new(crate::store::MemStore::new()), 0).expect("mem");
    let limits = IngestLimits {
        max_msgs: 2,
        max_bytes: 1 << 20,
    };
    let q = pool.attach(mem, None, limits, false).expect("attach");
    // Hold the shard so the queue fills.
    let (release, held) = channel::<()>();
    let (started_tx, started) = channel();
    q.run(
        move |_| {
            let _ = started_tx.send(());
            let _ = held.recv_timeout(WAIT);
        },
        |_| {},
    );
    started.recv_timeout(WAIT).expect("shard held");
    publish(&q, "Q.x", "ack.q1").expect("queued");
    publish(&q, "Q.x", "ack.q2").expect("queued");
    assert_eq!(publish(&q, "Q.x", "ack.q3"), Err(Refused::Full));
    release.send(()).expect("release");
    assert!(out.reply_to("ack.q2").contains("\"seq\":2"));
    // Room again once the shard took them.
    publish(&q, "Q.x", "ack.q4").expect("queued");
    assert!(out.reply_to("ack.q4").contains("\"seq\":3"));
    let (h, body) = super::refusal_ack("Q");
    assert_eq!(h, b"NATS/1.0 429 Too Many Requests\r\n\r\n");
    assert!(String::from_utf8_lossy(&body).contains("\"err_code\":10167"));
    pool.stop();
}

#[test]
fn idle_file_streams_close_their_files_and_reopen_on_use() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut pool, out, readers) = pool(2);
    let (s, reopen) = file_stream(dir.path(), "P");
    readers.set("P", s.store().reader());
    let p = pool
        .attach(s, Some(reopen), IngestLimits::default(), false)
        .expect("attach");
    publish(&p, "P.x", "ack.p1").expect("queued");
    assert!(out.reply_to("ack.p1").contains("\"seq\":1"));
    // Parked: the reader is withdrawn with the files.
    let deadline = Instant::now() + WAIT;
    while readers.get("P").is_some() {
        assert!(Instant::now() < deadline, "never parked");
        std::thread::sleep(Duration::from_millis(20));
    }
    publish(&p, "P.x", "ack.p2").expect("queued");
    assert!(out.reply_to("ack.p2").contains("\"seq\":2"));
    assert_eq!(msgs(&p), Ok(2));
    assert!(readers.get("P").is_some(), "reader back after reopening");
    pool.stop();
}

#[test]
fn a_store_that_cannot_reopen_stays_failed_and_answers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (mut pool, out, _) = pool(1);
    let (s, _) = file_stream(dir.path(), "R");
    let reopen: Reopen = Box::new(|| Err(StoreError::corrupt("damaged on purpose")));
    let r = pool
        .attach(s, Some(reopen), IngestLimits::default(), false)
        .expect("attach");
    r.run(|_| panic!("on purpose"), |_| {});
    std::thread::sleep(Duration::from_millis(600));
    publish(&r, "R.x", "ack.r1").expect("queued");
    let ack = out.reply_to("ack.r1");
    assert!(ack.contains("\"err_code\":10077"), "{ack}");
    assert!(r
        .failure()
        .is_some_and(|f| f.contains("damaged on purpose")));
    // Stopping a failed stream answers at once.
    r.stop();
    pool.stop();
}
