//! Message schedules end to end through async-nats: a repeating
//! schedule keeps firing (each copy saying when the next comes), goes on
//! after a restart, and stops when a plain message replaces it.

mod harness;

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::{self, stream::Config, Context};
use async_nats::HeaderMap;
use bytes::Bytes;
use tern::{Options, Running};

use harness::{connect, start_with, wait_until_async, within_for};

fn store(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store")
}

async fn start(dir: &tempfile::TempDir) -> (Running, Context) {
    let server = start_with(Options {
        jetstream: true,
        store_dir: Some(store(dir)),
        ..Options::loopback()
    })
    .await;
    let client = connect(server.addr()).await;
    (server, jetstream::new(client))
}

#[tokio::test]
async fn a_repeating_schedule_fires_survives_a_restart_and_is_cancelled() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    js.create_stream(Config {
        name: "S".into(),
        subjects: vec!["sched.>".into(), "target.>".into()],
        allow_message_schedules: true,
        ..Config::default()
    })
    .await
    .expect("stream");
    let mut h = HeaderMap::new();
    h.insert("Nats-Schedule", "@every 1s");
    h.insert("Nats-Schedule-Target", "target.t");
    js.publish_with_headers("sched.t", h, Bytes::from("tick"))
        .await
        .expect("publish")
        .await
        .expect("ack");
    // Copies are counted through the stream's sequence.
    let last_seq = |js: Context| async move {
        let mut s = js.get_stream("S").await.expect("stream");
        s.info().await.expect("info").state.last_sequence
    };
    wait_until_async("two copies", || async { last_seq(js.clone()).await >= 3 }).await;
    let stream = js.get_stream("S").await.expect("stream");
    let copy = stream
        .get_last_raw_message_by_subject("target.t")
        .await
        .expect("a copy");
    assert_eq!(copy.payload, Bytes::from("tick"));
    assert_eq!(
        copy.headers.get("Nats-Scheduler").map(|v| v.to_string()),
        Some("sched.t".into())
    );
    let next = copy
        .headers
        .get("Nats-Schedule-Next")
        .expect("next")
        .to_string();
    assert!(next.ends_with('Z') && next.len() == 20, "{next}");
    // After a restart the schedule is found again and keeps firing.
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
    let (server, js) = start(&dir).await;
    let before = last_seq(js.clone()).await;
    wait_until_async("firing again", || async {
        last_seq(js.clone()).await > before
    })
    .await;
    // A plain message on the schedule's subject cancels it.
    js.publish("sched.t", Bytes::from("stop"))
        .await
        .expect("publish")
        .await
        .expect("ack");
    tokio::time::sleep(Duration::from_millis(200)).await;
    let stopped = last_seq(js.clone()).await;
    tokio::time::sleep(Duration::from_millis(2_300)).await;
    assert_eq!(
        last_seq(js.clone()).await,
        stopped,
        "no copies after the cancel"
    );
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}
