//! A JetStream file stream survives SIGKILL: the tern binary is killed
//! while async publishes are in flight, restarted with the same command
//! line, and everything it acknowledged is there, sequences go on after the
//! last stored message, and the dedupe window still knows the acked ids.
//!
//! `TERN_JS_REFERENCE=/path/to/nats-server` runs the same test against the
//! reference server, to check what the test expects.

mod harness;

use std::collections::{HashMap, HashSet};
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use async_nats::jetstream::message::PublishMessage;
use async_nats::jetstream::stream::{Config, StorageType};
use async_nats::jetstream::{self, Context};
use async_nats::{ClientError, ConnectOptions, Event};
use bytes::Bytes;
use futures::StreamExt;

use harness::{connect, connect_with, free_port, wait_event, with_events, within, within_for};

const TERN: &str = env!("CARGO_BIN_EXE_tern");
const REFERENCE_ENV: &str = "TERN_JS_REFERENCE";

/// Publishes sent at most; the server is killed long before.
const TOTAL: usize = 20_000;
/// The kill comes once this many publishes are acked.
const KILL_AFTER_ACKS: usize = 1000;

/// A spawned server, killed when dropped whatever path the test takes.
struct Spawned {
    child: Child,
    log: PathBuf,
}

impl Spawned {
    fn start(bin: &Path, args: &[String], log: PathBuf) -> Spawned {
        let child = Command::new(bin)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("create log file"))
            .spawn()
            .expect("spawn server");
        Spawned { child, log }
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    async fn wait_ready(&mut self) {
        let ready = tokio::time::timeout(Duration::from_secs(10), async {
            loop {
                if self.log_text().contains("Server is ready") {
                    return true;
                }
                if let Ok(Some(_)) = self.child.try_wait() {
                    return false;
                }
                tokio::time::sleep(Duration::from_millis(20)).await;
            }
        })
        .await;
        assert!(
            matches!(ready, Ok(true)),
            "server not ready; log:\n{}",
            self.log_text()
        );
    }

    /// SIGKILL, then reap the process.
    fn kill_9(&mut self) {
        let pid = self.child.id().to_string();
        let status = Command::new("kill")
            .args(["-9", &pid])
            .status()
            .expect("run kill");
        assert!(status.success(), "kill -9 {pid}");
        let status = self.child.wait().expect("wait for killed server");
        assert!(
            !status.success(),
            "server exited {status:?} before the kill"
        );
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn msg_id(i: usize) -> String {
    format!("crash-{i}")
}

fn subject(i: usize) -> String {
    format!("crash.{}", i % 8)
}

fn body(i: usize) -> Bytes {
    let mut text = format!("message {i} ");
    while text.len() < 200 {
        text.push_str(&format!("{i:06}"));
    }
    Bytes::from(text)
}

/// What the publisher saw: acked index → sequence, and how many publishes
/// were handed to the connection.
#[derive(Default)]
struct Progress {
    acked: Mutex<HashMap<usize, u64>>,
    acks: AtomicUsize,
    failed: AtomicUsize,
    sent: AtomicUsize,
    stop: AtomicBool,
}

/// Publishes `TOTAL` messages without waiting for each ack; each ack is
/// awaited on its own task and recorded.
async fn publisher(js: Context, progress: Arc<Progress>) {
    let mut waiters = Vec::new();
    for i in 0..TOTAL {
        if progress.stop.load(Ordering::SeqCst) {
            break;
        }
        let msg = PublishMessage::build()
            .payload(body(i))
            .message_id(msg_id(i));
        let Ok(ack) = js.send_publish(subject(i), msg).await else {
            break;
        };
        progress.sent.fetch_add(1, Ordering::SeqCst);
        let progress = progress.clone();
        waiters.push(tokio::spawn(async move {
            match ack.into_future().await {
                Ok(ack) => {
                    assert!(!ack.duplicate, "first publish of {i} acked as duplicate");
                    progress.acked.lock().expect("lock").insert(i, ack.sequence);
                    progress.acks.fetch_add(1, Ordering::SeqCst);
                }
                Err(_) => {
                    progress.failed.fetch_add(1, Ordering::SeqCst);
                }
            }
        }));
        if i % 64 == 63 {
            tokio::task::yield_now().await;
        }
    }
    for w in waiters {
        w.await.expect("ack waiter");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acked_messages_survive_sigkill_mid_stream() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let port = free_port();
    let args: Vec<String> = vec![
        "-js".into(),
        "-sd".into(),
        store.to_str().expect("utf-8 path").into(),
        "-a".into(),
        "127.0.0.1".into(),
        "-p".into(),
        port.to_string(),
    ];
    let bin = std::env::var_os(REFERENCE_ENV)
        .map(PathBuf::from)
        .unwrap_or_else(|| PathBuf::from(TERN));
    let addr = std::net::SocketAddr::from(([127, 0, 0, 1], port));

    let mut server = Spawned::start(&bin, &args, dir.path().join("first.log"));
    server.wait_ready().await;

    // One reconnect attempt at most, made while the server is down: the
    // client then closes, so nothing it buffered can reach the restarted
    // server.
    let (opts, mut events) = with_events(
        ConnectOptions::new()
            .max_reconnects(1)
            .reconnect_delay_callback(|_| Duration::ZERO),
    );
    let client = connect_with(addr, opts).await;
    let js = jetstream::new(client.clone());
    within(
        "create stream",
        js.create_stream(Config {
            name: "CRASH".into(),
            subjects: vec!["crash.>".into()],
            storage: StorageType::File,
            ..Default::default()
        }),
    )
    .await
    .expect("create CRASH");

    let progress = Arc::new(Progress::default());
    let publishing = tokio::spawn(publisher(js.clone(), progress.clone()));
    within_for(Duration::from_secs(20), "acks before the kill", async {
        while progress.acks.load(Ordering::SeqCst) < KILL_AFTER_ACKS {
            tokio::time::sleep(Duration::from_millis(1)).await;
        }
    })
    .await;
    server.kill_9();
    progress.stop.store(true, Ordering::SeqCst);

    wait_event(&mut events, "client to give up reconnecting", |e| {
        matches!(
            e,
            Event::Closed | Event::ClientError(ClientError::MaxReconnects)
        )
    })
    .await;
    within_for(
        Duration::from_secs(15),
        "outstanding acks to fail",
        publishing,
    )
    .await
    .expect("publisher task");
    drop(js);
    drop(client);

    let acked: HashMap<usize, u64> = progress.acked.lock().expect("lock").clone();
    let sent = progress.sent.load(Ordering::SeqCst);
    assert!(acked.len() >= KILL_AFTER_ACKS);
    assert!(
        acked.len() < sent,
        "all {sent} publishes were acked before the kill landed: nothing was in flight"
    );
    assert_eq!(
        acked.len() + progress.failed.load(Ordering::SeqCst),
        sent,
        "every publish sent was acked or failed"
    );
    let seqs: HashSet<u64> = acked.values().copied().collect();
    assert_eq!(seqs.len(), acked.len(), "acks share sequences");
    let max_acked = *seqs.iter().max().expect("acks");

    // The same command line again.
    let mut server = Spawned::start(&bin, &args, dir.path().join("second.log"));
    server.wait_ready().await;
    let client = connect(addr).await;
    let js = jetstream::new(client.clone());
    let stream = within("get stream", js.get_stream("CRASH"))
        .await
        .unwrap_or_else(|e| panic!("CRASH after restart: {e}; log:\n{}", server.log_text()));
    let state = stream.cached_info().state.clone();
    eprintln!(
        "sent {sent}, acked {} (highest seq {max_acked}), stored after restart {}",
        acked.len(),
        state.last_sequence
    );
    assert!(
        state.last_sequence >= max_acked,
        "last_seq {} below the highest acked sequence {max_acked}",
        state.last_sequence
    );
    assert_eq!(state.first_sequence, 1, "{state:?}");
    assert_eq!(
        state.messages, state.last_sequence,
        "gaps in the stored messages: {state:?}"
    );

    // Every stored message is one that was published, once; every acked one
    // is at its acked sequence with its payload.
    let seq_of_index: HashMap<u64, usize> = acked.iter().map(|(i, s)| (*s, *i)).collect();
    let stream_ref = &stream;
    let mut gets = futures::stream::iter(1..=state.last_sequence)
        .map(|seq| async move { (seq, stream_ref.get_raw_message(seq).await) })
        .buffer_unordered(16);
    let mut seen = HashSet::new();
    within_for(
        Duration::from_secs(30),
        "reading every stored message",
        async {
            while let Some((seq, got)) = gets.next().await {
                let msg = got.unwrap_or_else(|e| panic!("get seq {seq}: {e}"));
                let id = msg
                    .headers
                    .get("Nats-Msg-Id")
                    .unwrap_or_else(|| panic!("seq {seq} has no Nats-Msg-Id"))
                    .as_str()
                    .to_string();
                let i: usize = id
                    .strip_prefix("crash-")
                    .and_then(|n| n.parse().ok())
                    .unwrap_or_else(|| panic!("seq {seq}: odd id {id:?}"));
                assert!(seen.insert(i), "message {i} stored twice (again at {seq})");
                assert_eq!(msg.payload, body(i), "payload at seq {seq}");
                assert_eq!(msg.subject.as_str(), subject(i), "subject at seq {seq}");
                if let Some(index) = seq_of_index.get(&seq) {
                    assert_eq!(*index, i, "seq {seq} was acked for message {index}");
                }
            }
        },
    )
    .await;
    for (i, seq) in &acked {
        assert!(seen.contains(i), "acked message {i} (seq {seq}) lost");
    }

    // Sequences go on after the last stored message.
    let ack = within(
        "publish after restart",
        js.send_publish(
            "crash.new",
            PublishMessage::build()
                .payload(Bytes::from_static(b"after"))
                .message_id("after-restart"),
        ),
    )
    .await
    .expect("publish sent");
    let ack = within("ack", ack.into_future()).await.expect("ack");
    assert_eq!(ack.sequence, state.last_sequence + 1);
    assert!(!ack.duplicate);

    // The dedupe window knows the acked ids: the last acked ones (written
    // just before the kill) and a spread of earlier ones.
    let mut by_seq: Vec<(u64, usize)> = acked.iter().map(|(i, s)| (*s, *i)).collect();
    by_seq.sort();
    let mut sample: Vec<(u64, usize)> = by_seq.iter().rev().take(20).copied().collect();
    sample.extend(by_seq.iter().step_by(97).copied());
    for (seq, i) in sample {
        let ack = within(
            "republish",
            js.send_publish(
                subject(i),
                PublishMessage::build()
                    .payload(body(i))
                    .message_id(msg_id(i)),
            ),
        )
        .await
        .expect("republish sent");
        let ack = within("republish ack", ack.into_future())
            .await
            .unwrap_or_else(|e| panic!("republish {i}: {e}"));
        assert!(
            ack.duplicate,
            "republish of {i} (seq {seq}) not a duplicate: {ack:?}"
        );
        assert_eq!(ack.sequence, seq, "duplicate of {i} names another sequence");
    }
    let after = within("info", stream.get_info()).await.expect("info");
    assert_eq!(after.state.last_sequence, state.last_sequence + 1);
}
