//! JetStream consumers end to end, as async-nats 0.51's `jetstream` module
//! drives them: pull fetch/batch and the `messages()` stream, every ack
//! kind and what it does to the consumer's info, redelivery after ack_wait
//! and max_deliver, push delivery, the ordered consumer, workqueue and
//! interest retention, the consumer names/list/info/delete API, and a
//! durable consumer across a restart on the same store directory.
//!
//! Every test starts its own tern with JetStream on over a fresh temporary
//! store directory; every wait is bounded.

mod harness;

use std::future::IntoFuture;
use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, push, AckPolicy, Info, PullConsumer};
use async_nats::jetstream::message::AckKind;
use async_nats::jetstream::stream::{Config, RetentionPolicy, Stream};
use async_nats::jetstream::{self, Context, Message};
use async_nats::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};
use tern::{Options, Running};

use harness::{connect, start_with, within, within_for};

// ---------------------------------------------------------------------------
// Setup and helpers

/// A tern, a client and its JetStream context, over a temporary store.
struct Setup {
    dir: tempfile::TempDir,
    server: Running,
    client: Client,
    js: Context,
}

fn store(dir: &tempfile::TempDir) -> PathBuf {
    dir.path().join("store")
}

async fn start(dir: &tempfile::TempDir) -> Running {
    start_with(Options {
        jetstream: true,
        store_dir: Some(store(dir)),
        ..Options::loopback()
    })
    .await
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = start(&dir).await;
        let client = connect(server.addr()).await;
        let js = jetstream::new(client.clone());
        Setup {
            dir,
            server,
            client,
            js,
        }
    }

    /// Stops tern cleanly and starts a new one on the same store.
    async fn restart(self) -> Setup {
        let Setup {
            dir, server, js, ..
        } = self;
        drop(js);
        within_for(Duration::from_secs(10), "tern shutdown", server.shutdown()).await;
        let server = start(&dir).await;
        let client = connect(server.addr()).await;
        let js = jetstream::new(client.clone());
        Setup {
            dir,
            server,
            client,
            js,
        }
    }

    async fn stop(self) {
        within_for(
            Duration::from_secs(10),
            "tern shutdown",
            self.server.shutdown(),
        )
        .await;
    }
}

async fn create_stream(
    js: &Context,
    name: &str,
    subjects: &[&str],
    retention: RetentionPolicy,
) -> Stream {
    let config = Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        retention,
        ..Default::default()
    };
    within("stream create", js.create_stream(config))
        .await
        .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
}

async fn publish(js: &Context, subject: &str, payload: &str) -> u64 {
    let ack = within(
        "publish",
        js.publish(subject.to_string(), Bytes::from(payload.to_string())),
    )
    .await
    .unwrap_or_else(|e| panic!("publish to {subject}: {e}"));
    within("publish ack", ack.into_future())
        .await
        .unwrap_or_else(|e| panic!("publish ack for {subject}: {e}"))
        .sequence
}

fn durable(name: &str) -> pull::Config {
    pull::Config {
        durable_name: Some(name.to_string()),
        ack_policy: AckPolicy::Explicit,
        ..Default::default()
    }
}

async fn pull_consumer(stream: &Stream, config: pull::Config) -> PullConsumer {
    within("consumer create", stream.create_consumer(config))
        .await
        .expect("consumer create")
}

/// CONSUMER.INFO with an empty body, parsed as async-nats parses it.
/// (async-nats's own `get_info` sends `{}`; that is checked separately in
/// `consumer_names_list_info_and_delete`.)
async fn info_of(client: &Client, stream: &str, name: &str) -> Info {
    let subject = format!("$JS.API.CONSUMER.INFO.{stream}.{name}");
    let resp = within("consumer info", client.request(subject, Bytes::new()))
        .await
        .expect("consumer info answered");
    serde_json::from_slice(&resp.payload).unwrap_or_else(|e| {
        panic!(
            "consumer info {stream}/{name}: {e}: {}",
            String::from_utf8_lossy(&resp.payload)
        )
    })
}

async fn info(client: &Client, consumer: &PullConsumer) -> Info {
    let cached = consumer.cached_info();
    info_of(client, &cached.stream_name, &cached.name).await
}

/// A no_wait fetch of up to `n` messages: what is there now.
async fn fetch(consumer: &PullConsumer, n: usize) -> Vec<Message> {
    within("fetch", async {
        consumer
            .fetch()
            .max_messages(n)
            .messages()
            .await
            .expect("fetch request")
            .try_collect::<Vec<_>>()
            .await
            .expect("fetched messages")
    })
    .await
}

/// A batch of up to `n` that waits up to `expires` for them.
async fn batch(consumer: &PullConsumer, n: usize, expires: Duration) -> Vec<Message> {
    within_for(expires + Duration::from_secs(5), "batch", async {
        consumer
            .batch()
            .max_messages(n)
            .expires(expires)
            .messages()
            .await
            .expect("batch request")
            .try_collect::<Vec<_>>()
            .await
            .expect("batch messages")
    })
    .await
}

fn text(msg: &Message) -> String {
    String::from_utf8_lossy(&msg.payload).into_owned()
}

fn texts(msgs: &[Message]) -> Vec<String> {
    msgs.iter().map(text).collect()
}

/// (stream seq, consumer seq, delivery count) from the ack subject.
fn seqs(msg: &Message) -> (u64, u64, i64) {
    let i = msg.info().expect("ack subject parses");
    (i.stream_sequence, i.consumer_sequence, i.delivered)
}

/// Acks and waits for the server's answer, so info afterwards sees it.
async fn ack_with(msg: &Message, kind: AckKind) {
    within("ack reply", msg.double_ack_with(kind))
        .await
        .unwrap_or_else(|e| panic!("ack of {:?}: {e}", msg.reply));
}

async fn ack(msg: &Message) {
    ack_with(msg, AckKind::Ack).await
}

/// (delivered, ack floor) as (consumer seq, stream seq) pairs.
fn floors(i: &Info) -> ((u64, u64), (u64, u64)) {
    (
        (i.delivered.consumer_sequence, i.delivered.stream_sequence),
        (i.ack_floor.consumer_sequence, i.ack_floor.stream_sequence),
    )
}

/// (num_ack_pending, num_redelivered, num_pending).
fn counts(i: &Info) -> (usize, usize, u64) {
    (i.num_ack_pending, i.num_redelivered, i.num_pending)
}

async fn stream_state(stream: &Stream) -> (u64, u64) {
    let info = within("stream info", stream.get_info())
        .await
        .expect("stream info");
    (info.state.messages, info.state.first_sequence)
}

// ---------------------------------------------------------------------------
// Pull consumers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pull_fetch_batch_and_messages_with_explicit_acks() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "P", &["p.>"], RetentionPolicy::Limits).await;
    for i in 0..5 {
        publish(&s.js, "p.a", &format!("m{i}")).await;
    }
    let c = pull_consumer(&stream, durable("D")).await;
    assert_eq!(counts(&info(&s.client, &c).await), (0, 0, 5));

    let got = fetch(&c, 2).await;
    assert_eq!(texts(&got), ["m0", "m1"]);
    assert_eq!(seqs(&got[0]), (1, 1, 1));
    assert_eq!(seqs(&got[1]), (2, 2, 1));
    assert_eq!(got[0].subject.as_str(), "p.a");
    let i = info(&s.client, &c).await;
    assert_eq!(floors(&i), ((2, 2), (0, 0)));
    assert_eq!(counts(&i), (2, 0, 3));
    for m in &got {
        ack(m).await;
    }
    let i = info(&s.client, &c).await;
    assert_eq!(floors(&i), ((2, 2), (2, 2)));
    assert_eq!(counts(&i), (0, 0, 3));

    // A batch asks for more than there is: it ends at its expiry.
    let got = batch(&c, 10, Duration::from_millis(500)).await;
    assert_eq!(texts(&got), ["m2", "m3", "m4"]);
    for m in &got {
        ack(m).await;
    }
    // Nothing left: a fetch comes back empty at once.
    assert!(fetch(&c, 3).await.is_empty());

    // The messages() stream gets new publishes as they come.
    let mut msgs = within("messages()", c.messages())
        .await
        .expect("messages stream");
    publish(&s.js, "p.b", "live1").await;
    publish(&s.js, "p.b", "live2").await;
    for want in ["live1", "live2"] {
        let m = within("next from messages()", msgs.next())
            .await
            .expect("stream open")
            .expect("message");
        assert_eq!(text(&m), want);
        assert_eq!(m.subject.as_str(), "p.b");
        ack(&m).await;
    }
    drop(msgs);
    let i = info(&s.client, &c).await;
    assert_eq!(floors(&i), ((7, 7), (7, 7)));
    assert_eq!(counts(&i), (0, 0, 0));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ack_kinds_move_the_floor_and_counts() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "F", &["f.>"], RetentionPolicy::Limits).await;
    for i in 1..=5 {
        publish(&s.js, "f.x", &format!("m{i}")).await;
    }
    let c = pull_consumer(&stream, durable("E")).await;
    let got = fetch(&c, 5).await;
    assert_eq!(texts(&got), ["m1", "m2", "m3", "m4", "m5"]);
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (0, 0)), (5, 0, 0)));

    ack(&got[1]).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (0, 0)), (4, 0, 0)));
    // The floor jumps over the already acked 2.
    ack(&got[0]).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (2, 2)), (3, 0, 0)));
    // A second ack of an acked message is answered and changes nothing.
    ack(&got[0]).await;
    assert_eq!(floors(&info(&s.client, &c).await), ((5, 5), (2, 2)));

    ack_with(&got[2], AckKind::Nak(None)).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (2, 2)), (3, 0, 0)));
    let again = fetch(&c, 1).await;
    assert_eq!(texts(&again), ["m3"]);
    assert_eq!(seqs(&again[0]), (3, 6, 2), "redelivery: new cseq, count 2");
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((6, 5), (2, 2)), (3, 1, 0)));
    // The floor takes the original consumer sequence of message 3.
    ack(&again[0]).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((6, 5), (3, 3)), (2, 0, 0)));

    ack_with(&got[3], AckKind::Term).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((6, 5), (4, 4)), (1, 0, 0)));
    ack_with(&got[4], AckKind::Progress).await;
    assert_eq!(counts(&info(&s.client, &c).await), (1, 0, 0));
    // Terminated and in-progress messages are not redelivered now.
    assert!(fetch(&c, 5).await.is_empty());
    ack(&got[4]).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((6, 5), (6, 5)), (0, 0, 0)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn nak_with_delay_holds_the_redelivery_back() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "N", &["n.>"], RetentionPolicy::Limits).await;
    for i in 1..=3 {
        publish(&s.js, "n.x", &format!("m{i}")).await;
    }
    let c = pull_consumer(&stream, durable("N")).await;
    let first = fetch(&c, 1).await;
    assert_eq!(texts(&first), ["m1"]);
    let delay = Duration::from_millis(700);
    let naked = std::time::Instant::now();
    ack_with(&first[0], AckKind::Nak(Some(delay))).await;
    // Within the delay the next pulls get the new messages, not m1.
    let next = fetch(&c, 5).await;
    if naked.elapsed() < delay {
        assert_eq!(texts(&next), ["m2", "m3"]);
    }
    for m in &next {
        ack(m).await;
    }
    // After the delay m1 comes back, delivered twice.
    let back = batch(&c, 1, Duration::from_secs(3)).await;
    assert!(
        naked.elapsed() >= delay,
        "redelivered after {:?}",
        naked.elapsed()
    );
    assert_eq!(texts(&back), ["m1"]);
    assert_eq!(seqs(&back[0]).0, 1);
    assert_eq!(seqs(&back[0]).2, 2);
    ack(&back[0]).await;
    let i = info(&s.client, &c).await;
    assert_eq!(counts(&i), (0, 0, 0));
    assert_eq!(floors(&i).1, floors(&i).0);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn redelivery_after_ack_wait_until_max_deliver() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "W", &["w.>"], RetentionPolicy::Limits).await;
    for i in 1..=2 {
        publish(&s.js, "w.x", &format!("m{i}")).await;
    }
    let c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(300),
            max_deliver: 2,
            ..durable("W")
        },
    )
    .await;
    let got = fetch(&c, 2).await;
    assert_eq!(texts(&got), ["m1", "m2"]);
    // Not acked: both come back after ack_wait, in stream order.
    let mut again = Vec::new();
    within("both redelivered", async {
        while again.len() < 2 {
            again.extend(batch(&c, 2 - again.len(), Duration::from_secs(2)).await);
        }
    })
    .await;
    assert_eq!(texts(&again), ["m1", "m2"]);
    assert_eq!(seqs(&again[0]), (1, 3, 2));
    assert_eq!(seqs(&again[1]), (2, 4, 2));
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((4, 2), (0, 0)), (2, 2, 0)));
    // max_deliver reached: never again, and no longer pending (the ack
    // floor stays where it was), as the reference does.
    assert!(batch(&c, 2, Duration::from_millis(900)).await.is_empty());
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((4, 2), (0, 0)), (0, 0, 0)));
    // Acking them afterwards changes nothing: they are not pending.
    ack(&got[0]).await;
    ack(&again[1]).await;
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((4, 2), (0, 0)), (0, 0, 0)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn in_progress_holds_off_redelivery() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "I", &["i.>"], RetentionPolicy::Limits).await;
    publish(&s.js, "i.x", "work").await;
    let c = pull_consumer(
        &stream,
        pull::Config {
            ack_wait: Duration::from_millis(1200),
            ..durable("I")
        },
    )
    .await;
    let got = fetch(&c, 1).await;
    assert_eq!(texts(&got), ["work"]);
    // Three progress reports 600 ms apart: 1.8 s in all, past ack_wait.
    for _ in 0..3 {
        tokio::time::sleep(Duration::from_millis(600)).await;
        ack_with(&got[0], AckKind::Progress).await;
    }
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((1, 1), (0, 0)), (1, 0, 0)));
    // Without more reports it comes back.
    let back = batch(&c, 1, Duration::from_secs(3)).await;
    assert_eq!(texts(&back), ["work"]);
    assert_eq!(seqs(&back[0]), (1, 2, 2));
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Push and ordered consumers

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_consumer_delivers_to_its_subject() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "PS", &["ps.>"], RetentionPolicy::Limits).await;
    publish(&s.js, "ps.a", "old").await;
    let deliver = s.client.new_inbox();
    let c: jetstream::consumer::PushConsumer = within(
        "push consumer create",
        stream.create_consumer(push::Config {
            durable_name: Some("PD".into()),
            deliver_subject: deliver.clone(),
            ack_policy: AckPolicy::Explicit,
            ..Default::default()
        }),
    )
    .await
    .expect("push consumer");
    let mut msgs = within("push messages", c.messages())
        .await
        .expect("push messages");
    publish(&s.js, "ps.b", "new").await;
    let mut got = Vec::new();
    for _ in 0..2 {
        let m = within("push delivery", msgs.next())
            .await
            .expect("open")
            .expect("message");
        got.push(m);
    }
    assert_eq!(texts(&got), ["old", "new"]);
    assert_eq!(seqs(&got[1]), (2, 2, 1));
    for m in &got {
        ack(m).await;
    }
    let i = info_of(&s.client, "PS", "PD").await;
    assert!(i.push_bound, "push_bound with a subscriber");
    assert_eq!((floors(&i), counts(&i)), (((2, 2), (2, 2)), (0, 0, 0)));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ordered_consumer_reads_the_whole_stream() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "O", &["o.>"], RetentionPolicy::Limits).await;
    let n = 50;
    for i in 1..=n {
        let subject = if i % 2 == 0 { "o.even" } else { "o.odd" };
        publish(&s.js, subject, &format!("m{i}")).await;
    }
    let c = within(
        "ordered create",
        stream.create_consumer(pull::OrderedConfig::default()),
    )
    .await
    .expect("ordered consumer");
    let mut msgs = within("ordered messages", c.messages())
        .await
        .expect("ordered messages");
    for i in 1..=n {
        let m = within("ordered next", msgs.next())
            .await
            .expect("open")
            .expect("message");
        assert_eq!(text(&m), format!("m{i}"));
        assert_eq!(m.info().expect("info").stream_sequence, i);
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn push_ordered_consumer_reads_megabytes_through_flow_control() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "F", &["f.>"], RetentionPolicy::Limits).await;
    // 3 MiB: past tern's 2 MiB flow-control window, so the consumer
    // stalls unless the client's flow-control replies are honoured.
    let n = 300;
    let body = "x".repeat(10 * 1024);
    for i in 1..=n {
        publish(&s.js, "f.data", &format!("{i}:{body}")).await;
    }
    let c = within(
        "push ordered create",
        stream.create_consumer(push::OrderedConfig {
            deliver_subject: s.client.new_inbox(),
            ..Default::default()
        }),
    )
    .await
    .expect("push ordered consumer");
    let mut msgs = within("push ordered messages", c.messages())
        .await
        .expect("messages");
    for i in 1..=n {
        let m = within_for(Duration::from_secs(10), "push ordered next", msgs.next())
            .await
            .expect("open")
            .expect("message");
        assert!(
            text(&m).starts_with(&format!("{i}:")),
            "message {i} out of order"
        );
    }
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn idle_ephemeral_consumer_goes_after_its_inactive_threshold() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "E", &["e.>"], RetentionPolicy::Limits).await;
    let c = pull_consumer(
        &stream,
        pull::Config {
            inactive_threshold: Duration::from_millis(300),
            ..Default::default()
        },
    )
    .await;
    let name = c.cached_info().name.clone();
    let names = || async {
        stream
            .consumer_names()
            .try_collect::<Vec<String>>()
            .await
            .expect("names")
    };
    assert_eq!(within("names", names()).await, vec![name.clone()]);
    within_for(Duration::from_secs(5), "ephemeral removal", async {
        while !names().await.is_empty() {
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Retention

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn workqueue_stream_drops_acked_messages() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "WQ", &["wq.>"], RetentionPolicy::WorkQueue).await;
    for i in 1..=5 {
        publish(&s.js, "wq.x", &format!("m{i}")).await;
    }
    let c = pull_consumer(&stream, durable("W")).await;
    let got = fetch(&c, 5).await;
    assert_eq!(got.len(), 5);
    assert_eq!(
        stream_state(&stream).await,
        (5, 1),
        "delivery removes nothing"
    );
    ack(&got[1]).await;
    assert_eq!(stream_state(&stream).await, (4, 1));
    ack(&got[0]).await;
    assert_eq!(stream_state(&stream).await, (3, 3));
    ack_with(&got[2], AckKind::Term).await;
    assert_eq!(stream_state(&stream).await, (2, 4));
    ack_with(&got[3], AckKind::Nak(Some(Duration::from_secs(30)))).await;
    assert_eq!(stream_state(&stream).await, (2, 4));
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (3, 3)), (2, 0, 0)));
    within("consumer delete", stream.delete_consumer("W"))
        .await
        .expect("delete");
    assert_eq!(stream_state(&stream).await, (2, 4));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn interest_stream_keeps_messages_until_every_consumer_acked() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "IN", &["in.>"], RetentionPolicy::Interest).await;
    // No consumers: nothing kept.
    publish(&s.js, "in.x", "lost").await;
    assert_eq!(stream_state(&stream).await.0, 0);
    let a = pull_consumer(&stream, durable("A")).await;
    let b = pull_consumer(
        &stream,
        pull::Config {
            filter_subject: "in.x".into(),
            ..durable("B")
        },
    )
    .await;
    publish(&s.js, "in.x", "x1").await;
    publish(&s.js, "in.y", "y1").await;
    let from_a = fetch(&a, 5).await;
    let from_b = fetch(&b, 5).await;
    assert_eq!(texts(&from_a), ["x1", "y1"]);
    assert_eq!(texts(&from_b), ["x1"]);
    ack(&from_a[0]).await;
    assert_eq!(stream_state(&stream).await, (2, 2), "B has not acked x1");
    ack(&from_b[0]).await;
    assert_eq!(stream_state(&stream).await, (1, 3));
    // Only A wants y1.
    ack(&from_a[1]).await;
    assert_eq!(stream_state(&stream).await.0, 0);

    // Deleting the last interested consumer lets its messages go.
    publish(&s.js, "in.y", "y2").await;
    assert_eq!(stream_state(&stream).await.0, 1);
    within("delete A", stream.delete_consumer("A"))
        .await
        .expect("delete A");
    assert_eq!(stream_state(&stream).await.0, 0);
    s.stop().await;
}

// ---------------------------------------------------------------------------
// The consumer API

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn consumer_names_list_info_and_delete() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "L", &["l.>"], RetentionPolicy::Limits).await;
    publish(&s.js, "l.x", "one").await;
    for name in ["c3", "c1", "c2"] {
        pull_consumer(&stream, durable(name)).await;
    }
    let mut names: Vec<String> = within("names", stream.consumer_names().try_collect())
        .await
        .expect("names");
    names.sort();
    assert_eq!(names, ["c1", "c2", "c3"]);
    let infos: Vec<Info> = within("list", stream.consumers().try_collect())
        .await
        .expect("list");
    let mut listed: Vec<(String, u64)> = infos
        .iter()
        .map(|i| (i.name.clone(), i.num_pending))
        .collect();
    listed.sort();
    assert_eq!(
        listed,
        [("c1".into(), 1), ("c2".into(), 1), ("c3".into(), 1)]
    );
    let i = within("info", stream.consumer_info("c2"))
        .await
        .expect("info c2");
    assert_eq!((i.stream_name.as_str(), i.name.as_str()), ("L", "c2"));
    assert_eq!(i.config.durable_name.as_deref(), Some("c2"));

    within("delete", stream.delete_consumer("c2"))
        .await
        .expect("delete c2");
    within("info of deleted", stream.consumer_info("c2"))
        .await
        .expect_err("c2 is gone");
    assert!(
        within("delete again", stream.delete_consumer("c2"))
            .await
            .is_err(),
        "c2 is gone"
    );
    let mut names: Vec<String> = within("names", stream.consumer_names().try_collect())
        .await
        .expect("names");
    names.sort();
    assert_eq!(names, ["c1", "c3"]);
    s.stop().await;
}

// ---------------------------------------------------------------------------
// Restarts

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn durable_consumer_survives_a_restart_mid_flight() {
    let s = Setup::new().await;
    let stream = create_stream(&s.js, "R", &["r.>"], RetentionPolicy::Limits).await;
    for i in 1..=5 {
        publish(&s.js, "r.x", &format!("m{i}")).await;
    }
    let c = pull_consumer(&stream, durable("D")).await;
    let got = fetch(&c, 3).await;
    assert_eq!(texts(&got), ["m1", "m2", "m3"]);
    ack(&got[0]).await;
    ack(&got[2]).await;
    let before = info(&s.client, &c).await;
    assert_eq!(
        (floors(&before), counts(&before)),
        (((3, 3), (1, 1)), (1, 0, 2))
    );
    drop(c);
    drop(stream);

    let s = s.restart().await;
    let stream = within("stream after restart", s.js.get_stream("R"))
        .await
        .expect("stream R after restart");
    // Creating it again with the same config finds the restored one.
    let c = pull_consumer(&stream, durable("D")).await;
    let after = info(&s.client, &c).await;
    assert_eq!(
        (floors(&after), counts(&after)),
        (((3, 3), (1, 1)), (1, 0, 2))
    );
    // It goes on where it was: new messages from 4, m2 still owed.
    let next = fetch(&c, 5).await;
    assert_eq!(texts(&next), ["m4", "m5"]);
    assert_eq!(seqs(&next[0]), (4, 4, 1));
    for m in &next {
        ack(m).await;
    }
    // The ack of m2 from before the restart still counts.
    let reply = got[1].reply.clone().expect("ack subject");
    within(
        "ack from before the restart",
        s.client.request(reply, Bytes::from_static(b"+ACK")),
    )
    .await
    .expect("ack answered");
    let i = info(&s.client, &c).await;
    assert_eq!((floors(&i), counts(&i)), (((5, 5), (5, 5)), (0, 0, 0)));
    s.stop().await;
}

/// The advisories a monitoring client sees on `$JS.EVENT.ADVISORY.>`:
/// stream and consumer lifecycle, a NAK, a termination and a message past
/// max_deliver, each with its subject and `type`.
#[tokio::test]
async fn advisories_announce_lifecycle_and_deliveries() {
    let s = Setup::new().await;
    let mut events = s.client.subscribe("$JS.EVENT.ADVISORY.>").await.unwrap();
    harness::round_trip(&s.client).await;
    let stream =
        s.js.create_stream(Config {
            name: "ADV".into(),
            subjects: vec!["adv.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("worker".into()),
            ack_policy: AckPolicy::Explicit,
            max_deliver: 2,
            ack_wait: Duration::from_millis(300),
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..3 {
        s.js.publish(format!("adv.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut msgs = consumer.fetch().max_messages(3).messages().await.unwrap();
    let first = msgs.next().await.unwrap().unwrap();
    first.ack_with(AckKind::Nak(None)).await.unwrap();
    let second = msgs.next().await.unwrap().unwrap();
    second.ack_with(AckKind::Term).await.unwrap();
    // The third is never acked: after two deliveries it is exhausted.
    let mut seen: Vec<(String, serde_json::Value)> = Vec::new();
    let wanted = [
        "$JS.EVENT.ADVISORY.STREAM.CREATED.ADV",
        "$JS.EVENT.ADVISORY.CONSUMER.CREATED.ADV.worker",
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ADV.worker",
        "$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.worker",
        "$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.worker",
    ];
    within_for(Duration::from_secs(10), "the advisories", async {
        while !wanted.iter().all(|w| seen.iter().any(|(s, _)| s == w)) {
            tokio::select! {
                Some(m) = events.next() => {
                    let body = serde_json::from_slice(&m.payload).unwrap();
                    seen.push((m.subject.to_string(), body));
                }
                // Keep pulling so the unacked message is redelivered until
                // it reaches max_deliver.
                () = tokio::time::sleep(Duration::from_millis(350)) => {
                    let pull = consumer.fetch().max_messages(10).expires(Duration::from_millis(300));
                    if let Ok(mut batch) = pull.messages().await {
                        while let Some(Ok(_)) = batch.next().await {}
                    }
                }
            }
        }
    })
    .await;
    let body = |subject: &str| &seen.iter().find(|(s, _)| s == subject).unwrap().1;
    let created = body("$JS.EVENT.ADVISORY.STREAM.CREATED.ADV");
    assert_eq!(
        created["type"],
        "io.nats.jetstream.advisory.v1.stream_action"
    );
    assert_eq!(created["action"], "create");
    assert_eq!(created["stream"], "ADV");
    let nak = body("$JS.EVENT.ADVISORY.CONSUMER.MSG_NAKED.ADV.worker");
    assert_eq!(nak["type"], "io.nats.jetstream.advisory.v1.nak");
    assert_eq!(nak["stream_seq"], 1);
    assert_eq!(nak["deliveries"], 1);
    let term = body("$JS.EVENT.ADVISORY.CONSUMER.MSG_TERMINATED.ADV.worker");
    assert_eq!(term["type"], "io.nats.jetstream.advisory.v1.terminated");
    assert_eq!(term["stream_seq"], 2);
    let max = body("$JS.EVENT.ADVISORY.CONSUMER.MAX_DELIVERIES.ADV.worker");
    assert_eq!(max["type"], "io.nats.jetstream.advisory.v1.max_deliver");
    assert_eq!(max["deliveries"], 2);
    stream.delete_consumer("worker").await.unwrap();
    s.js.delete_stream("ADV").await.unwrap();
    for subject in [
        "$JS.EVENT.ADVISORY.CONSUMER.DELETED.ADV.worker",
        "$JS.EVENT.ADVISORY.STREAM.DELETED.ADV",
    ] {
        let m = within("the deletion advisory", async {
            loop {
                let m = events.next().await.unwrap();
                if m.subject.as_str() == subject {
                    return m;
                }
            }
        })
        .await;
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(v["action"], "delete");
    }
}

/// Each API request is audited on `$JS.EVENT.ADVISORY.API` with who asked,
/// the request and the response, errors included.
#[tokio::test]
async fn api_requests_are_audited() {
    let s = Setup::new().await;
    let mut audits = s.client.subscribe("$JS.EVENT.ADVISORY.API").await.unwrap();
    harness::round_trip(&s.client).await;
    s.js.create_stream(Config {
        name: "AUD".into(),
        subjects: vec!["aud".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    assert!(s.js.get_stream("NOPE").await.is_err());
    let mut seen = Vec::new();
    while seen.len() < 2 {
        let m = within("the audits", audits.next()).await.unwrap();
        let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        seen.push(v);
    }
    let create = &seen[0];
    assert_eq!(create["type"], "io.nats.jetstream.advisory.v1.api_audit");
    assert_eq!(create["subject"], "$JS.API.STREAM.CREATE.AUD");
    assert!(create["request"].as_str().unwrap().contains("\"AUD\""));
    assert!(create["response"]
        .as_str()
        .unwrap()
        .contains("stream_create_response"));
    assert_eq!(create["client"]["lang"], "rust", "{create}");
    assert_eq!(create["client"]["acc"], "$G");
    let missing = &seen[1];
    assert_eq!(missing["subject"], "$JS.API.STREAM.INFO.NOPE");
    assert!(
        missing["response"].as_str().unwrap().contains("10059"),
        "{missing}"
    );
}

/// `sample_freq`: at 100% every ack of an explicit-ack consumer is
/// reported on `$JS.EVENT.METRIC.CONSUMER.ACK.<stream>.<consumer>` with
/// the delivery it acks and how long after it the ack came.
#[tokio::test]
async fn sampled_acks_are_reported_as_metrics() {
    let s = Setup::new().await;
    let mut metrics = s
        .client
        .subscribe("$JS.EVENT.METRIC.CONSUMER.ACK.>")
        .await
        .unwrap();
    harness::round_trip(&s.client).await;
    let stream =
        s.js.create_stream(Config {
            name: "MET".into(),
            subjects: vec!["met.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let consumer: PullConsumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("sampled".into()),
            ack_policy: AckPolicy::Explicit,
            sample_frequency: 100,
            ..Default::default()
        })
        .await
        .unwrap();
    for i in 0..2 {
        s.js.publish(format!("met.{i}"), "x".into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let mut msgs = consumer.fetch().max_messages(2).messages().await.unwrap();
    for _ in 0..2 {
        let m = within("a delivery", msgs.next()).await.unwrap().unwrap();
        m.double_ack().await.unwrap();
    }
    for seq in 1..=2u64 {
        let m = within("a sampled ack", metrics.next()).await.unwrap();
        assert_eq!(&*m.subject, "$JS.EVENT.METRIC.CONSUMER.ACK.MET.sampled");
        let body: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
        assert_eq!(body["type"], "io.nats.jetstream.metric.v1.consumer_ack");
        assert_eq!(body["stream"], "MET");
        assert_eq!(body["consumer"], "sampled");
        assert_eq!(body["stream_seq"], seq);
        assert_eq!(body["consumer_seq"], seq);
        assert_eq!(body["deliveries"], 1);
        assert!(body["ack_time"].as_i64().is_some_and(|t| t >= 0), "{body}");
    }
    s.stop().await;
}

/// Pinned client advisories: a pin given is announced on
/// `$JS.EVENT.ADVISORY.CONSUMER.PINNED`, an UNPIN on `...UNPINNED` with
/// the reason `admin`.
#[tokio::test]
async fn pins_are_announced() {
    let s = Setup::new().await;
    let mut pins = s
        .client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.PINNED.PIN.worker")
        .await
        .unwrap();
    let mut unpins = s
        .client
        .subscribe("$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PIN.worker")
        .await
        .unwrap();
    harness::round_trip(&s.client).await;
    s.js.create_stream(Config {
        name: "PIN".into(),
        subjects: vec!["pin.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    let created = s
        .client
        .request(
            "$JS.API.CONSUMER.CREATE.PIN.worker",
            r#"{"stream_name":"PIN","config":{"durable_name":"worker","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["jobs"]}}"#.into(),
        )
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&created.payload).contains("error"));
    s.js.publish("pin.1", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    let inbox = s.client.new_inbox();
    let mut replies = s.client.subscribe(inbox.clone()).await.unwrap();
    s.client
        .publish_with_reply(
            "$JS.API.CONSUMER.MSG.NEXT.PIN.worker",
            inbox,
            r#"{"batch":1,"group":"jobs","expires":1000000000}"#.into(),
        )
        .await
        .unwrap();
    let msg = within("the pinned delivery", replies.next()).await.unwrap();
    let pin = msg
        .headers
        .as_ref()
        .and_then(|h| h.get("Nats-Pin-Id"))
        .map(|v| v.to_string())
        .expect("a pin id");
    let pinned = within("the pinned advisory", pins.next()).await.unwrap();
    assert_eq!(
        &*pinned.subject,
        "$JS.EVENT.ADVISORY.CONSUMER.PINNED.PIN.worker"
    );
    let body: serde_json::Value = serde_json::from_slice(&pinned.payload).unwrap();
    assert_eq!(
        body["type"],
        "io.nats.jetstream.advisory.v1.consumer_group_pinned"
    );
    assert_eq!(body["pinned_id"], pin);
    assert_eq!(body["group"], "jobs");
    let unpinned = s
        .client
        .request(
            "$JS.API.CONSUMER.UNPIN.PIN.worker",
            r#"{"group":"jobs"}"#.into(),
        )
        .await
        .unwrap();
    assert!(!String::from_utf8_lossy(&unpinned.payload).contains("error"));
    let event = within("the unpinned advisory", unpins.next())
        .await
        .unwrap();
    assert_eq!(
        &*event.subject,
        "$JS.EVENT.ADVISORY.CONSUMER.UNPINNED.PIN.worker"
    );
    let body: serde_json::Value = serde_json::from_slice(&event.payload).unwrap();
    assert_eq!(body["reason"], "admin");
    s.stop().await;
}
