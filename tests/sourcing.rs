//! Mirrors and sources end to end, as async-nats 0.51 configures them: a
//! mirror keeps the origin's sequences and times and skips what the
//! origin removed, a source copies with `Nats-Stream-Source`, filters and
//! transforms rename, info reports lag and activity, and both resume
//! without duplicates after a restart.
//!
//! Every test starts its own tern with JetStream on over a fresh temporary
//! store directory; every wait is bounded.

mod harness;

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::stream::{Config, External, Source, StorageType, SubjectTransform};
use async_nats::jetstream::{self, Context};
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

async fn stop(server: Running) {
    within_for(Duration::from_secs(10), "tern shutdown", server.shutdown()).await;
}

async fn publish(js: &Context, subject: &str, body: &str) -> u64 {
    js.publish(subject.to_string(), Bytes::from(body.to_string()))
        .await
        .expect("publish")
        .await
        .expect("ack")
        .sequence
}

async fn wait_for_messages(js: &Context, stream: &str, n: u64) {
    wait_until_async(&format!("{stream} holds {n} messages"), || async {
        let mut s = js.get_stream(stream).await.expect("stream");
        s.info().await.expect("info").state.messages == n
    })
    .await;
}

#[tokio::test]
async fn a_mirror_keeps_the_origins_sequences_times_and_gaps() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    js.create_stream(Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Config::default()
    })
    .await
    .expect("origin");
    for i in 1..=5 {
        publish(&js, &format!("o.{i}"), &format!("m{i}")).await;
    }
    let origin = js.get_stream("O").await.expect("origin");
    origin.delete_message(2).await.expect("delete");
    origin.delete_message(4).await.expect("delete");
    js.create_stream(Config {
        name: "M".into(),
        mirror: Some(Source {
            name: "O".into(),
            ..Source::default()
        }),
        storage: StorageType::File,
        ..Config::default()
    })
    .await
    .expect("mirror");
    wait_for_messages(&js, "M", 3).await;
    // Deleted messages stay deleted; later ones keep their sequence.
    publish(&js, "o.6", "m6").await;
    wait_for_messages(&js, "M", 4).await;
    let mut mirror = js.get_stream("M").await.expect("mirror");
    let info = mirror.info().await.expect("info");
    assert_eq!(
        (info.state.first_sequence, info.state.last_sequence),
        (1, 6)
    );
    let m = info.mirror.as_ref().expect("mirror info");
    assert_eq!((m.name.as_str(), m.lag), ("O", 0));
    assert!(m.active.is_some(), "heard from the origin");
    for seq in [1, 3, 5, 6] {
        let want = origin.get_raw_message(seq).await.expect("origin msg");
        let got = mirror.get_raw_message(seq).await.expect("mirrored msg");
        assert_eq!(
            (got.subject.as_str(), &got.payload, got.time),
            (want.subject.as_str(), &want.payload, want.time)
        );
    }
    assert!(mirror.get_raw_message(2).await.is_err());
    // The consumer the mirror reads through is not listed.
    let mut origin = js.get_stream("O").await.expect("origin");
    assert_eq!(origin.info().await.expect("info").state.consumer_count, 0);
    // A restart resumes after what the mirror holds: no duplicates.
    stop(server).await;
    let (server, js) = start(&dir).await;
    publish(&js, "o.7", "m7").await;
    wait_for_messages(&js, "M", 5).await;
    let mut mirror = js.get_stream("M").await.expect("mirror");
    let info = mirror.info().await.expect("info");
    assert_eq!(info.state.last_sequence, 7);
    stop(server).await;
}

#[tokio::test]
async fn sources_copy_with_their_origin_and_resume_after_a_restart() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    for (name, subject) in [("A", "a.>"), ("B", "b.>")] {
        js.create_stream(Config {
            name: name.into(),
            subjects: vec![subject.into()],
            ..Config::default()
        })
        .await
        .expect("origin");
    }
    publish(&js, "a.1", "a1").await;
    publish(&js, "b.1", "b1").await;
    publish(&js, "a.2", "a2").await;
    js.create_stream(Config {
        name: "ALL".into(),
        sources: Some(vec![
            Source {
                name: "A".into(),
                ..Source::default()
            },
            Source {
                name: "B".into(),
                subject_transforms: vec![SubjectTransform {
                    source: "b.>".into(),
                    destination: "from_b.>".into(),
                }],
                ..Source::default()
            },
        ]),
        ..Config::default()
    })
    .await
    .expect("aggregate");
    wait_for_messages(&js, "ALL", 3).await;
    let mut all = js.get_stream("ALL").await.expect("aggregate");
    let mut seen = Vec::new();
    for seq in 1..=3 {
        let m = all.get_raw_message(seq).await.expect("copy");
        let source = m
            .headers
            .get("Nats-Stream-Source")
            .map(|v| v.to_string())
            .expect("source header");
        seen.push((m.subject.to_string(), source));
    }
    seen.sort();
    assert_eq!(
        seen,
        vec![
            ("a.1".to_string(), "A 1 > > a.1".to_string()),
            ("a.2".to_string(), "A 2 > > a.2".to_string()),
            ("from_b.1".to_string(), "B 1 b.> from_b.> b.1".to_string()),
        ]
    );
    let info = all.info().await.expect("info");
    assert_eq!(info.sources.len(), 2);
    stop(server).await;
    // After a restart each source goes on after its last copy.
    let (server, js) = start(&dir).await;
    publish(&js, "b.2", "b2").await;
    publish(&js, "a.3", "a3").await;
    wait_for_messages(&js, "ALL", 5).await;
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut all = js.get_stream("ALL").await.expect("aggregate");
    assert_eq!(
        all.info().await.expect("info").state.messages,
        5,
        "no duplicates"
    );
    stop(server).await;
}

#[tokio::test]
async fn a_mirror_of_a_missing_stream_reports_the_error_then_catches_up() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    js.create_stream(Config {
        name: "M".into(),
        mirror: Some(Source {
            name: "LATER".into(),
            external: None::<External>,
            ..Source::default()
        }),
        ..Config::default()
    })
    .await
    .expect("mirror");
    let mirror_error = || async {
        let info: serde_json::Value = js
            .request("STREAM.INFO.M".to_string(), &())
            .await
            .expect("info");
        info.pointer("/mirror/error/err_code")
            .and_then(serde_json::Value::as_u64)
    };
    // The origin's "stream not found", as the reference reports it.
    wait_until_async("the mirror reports its origin missing", || async {
        mirror_error().await == Some(10059)
    })
    .await;
    js.create_stream(Config {
        name: "LATER".into(),
        subjects: vec!["later".into()],
        ..Config::default()
    })
    .await
    .expect("origin");
    publish(&js, "later", "x").await;
    // The next try (after the back-off) finds it.
    within_for(Duration::from_secs(30), "the mirror catches up", async {
        loop {
            let mut m = js.get_stream("M").await.expect("mirror");
            if m.info().await.expect("info").state.messages == 1 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(mirror_error().await, None);
    stop(server).await;
}

#[tokio::test]
async fn kv_mirrors_and_sourced_buckets_read_their_origins_keys() {
    use async_nats::jetstream::kv;
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    let origin = js
        .create_key_value(kv::Config {
            bucket: "TEST".into(),
            history: 3,
            ..kv::Config::default()
        })
        .await
        .expect("origin bucket");
    origin.put("name", "derek".into()).await.expect("put");
    origin.put("age", "22".into()).await.expect("put");
    origin.delete("age").await.expect("delete");
    js.create_key_value(kv::Config {
        bucket: "MIRROR".into(),
        mirror: Some(Source {
            name: "TEST".into(),
            ..Source::default()
        }),
        ..kv::Config::default()
    })
    .await
    .expect("mirror bucket");
    // async-nats reads a local mirror bucket through the mirror's stream
    // by the origin's key subjects (a get through the bucket's handle
    // rewrites keys only for external mirrors).
    let last = |subject: &'static str| {
        let js = js.clone();
        async move {
            let stream = js.get_stream("KV_MIRROR").await.expect("mirror stream");
            stream
                .direct_get_last_for_subject(subject)
                .await
                .ok()
                .map(|m| {
                    (
                        m.payload,
                        m.headers.get("KV-Operation").map(|v| v.to_string()),
                    )
                })
        }
    };
    wait_until_async("the mirror has the keys", || async {
        last("$KV.TEST.age")
            .await
            .is_some_and(|(_, op)| op.as_deref() == Some("DEL"))
    })
    .await;
    assert_eq!(
        last("$KV.TEST.name").await.map(|(p, _)| p),
        Some(Bytes::from("derek"))
    );
    origin.put("name", "rip".into()).await.expect("put");
    wait_until_async("the mirror follows", || async {
        last("$KV.TEST.name").await.map(|(p, _)| p) == Some(Bytes::from("rip"))
    })
    .await;
    // A bucket sourcing two others holds both's keys under its own name.
    let other = js
        .create_key_value(kv::Config {
            bucket: "OTHER".into(),
            ..kv::Config::default()
        })
        .await
        .expect("second origin");
    other.put("colour", "blue".into()).await.expect("put");
    js.create_key_value(kv::Config {
        bucket: "AGG".into(),
        sources: Some(vec![
            Source {
                name: "TEST".into(),
                subject_transforms: vec![SubjectTransform {
                    source: "$KV.TEST.>".into(),
                    destination: "$KV.AGG.>".into(),
                }],
                ..Source::default()
            },
            Source {
                name: "OTHER".into(),
                subject_transforms: vec![SubjectTransform {
                    source: "$KV.OTHER.>".into(),
                    destination: "$KV.AGG.>".into(),
                }],
                ..Source::default()
            },
        ]),
        ..kv::Config::default()
    })
    .await
    .expect("aggregate bucket");
    let agg = js.get_key_value("AGG").await.expect("bind aggregate");
    wait_until_async("the aggregate has both buckets' keys", || async {
        agg.get("name").await.ok().flatten().as_deref() == Some(&b"rip"[..])
            && agg.get("colour").await.ok().flatten().as_deref() == Some(&b"blue"[..])
    })
    .await;
    stop(server).await;
}

#[tokio::test]
async fn a_mirror_with_mirror_direct_answers_for_an_origin_not_here() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    js.create_stream(Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        allow_direct: true,
        ..Config::default()
    })
    .await
    .expect("origin");
    publish(&js, "o.k", "v1").await;
    js.create_stream(Config {
        name: "M".into(),
        mirror: Some(Source {
            name: "O".into(),
            ..Source::default()
        }),
        mirror_direct: true,
        ..Config::default()
    })
    .await
    .expect("mirror");
    wait_for_messages(&js, "M", 1).await;
    js.delete_stream("O").await.expect("delete origin");
    // The origin's direct gets now find the mirror (the stream handle is
    // the origin's name; the answer says which stream served it).
    let reply = js
        .get_stream_no_info("O")
        .await
        .expect("handle")
        .direct_get_last_for_subject("o.k")
        .await
        .expect("served by the mirror");
    assert_eq!(reply.payload, Bytes::from("v1"));
    assert_eq!(
        reply.headers.get("Nats-Stream").map(|v| v.to_string()),
        Some("M".to_string())
    );
    stop(server).await;
}

#[tokio::test]
async fn a_mirror_reads_through_a_durable_consumer_acked_by_flow_control() {
    let dir = tempfile::tempdir().expect("tempdir");
    let (server, js) = start(&dir).await;
    js.create_stream(Config {
        name: "O".into(),
        subjects: vec!["o.>".into()],
        ..Config::default()
    })
    .await
    .expect("origin");
    for i in 1..=3 {
        publish(&js, &format!("o.{i}"), "m").await;
    }
    // The user's durable consumer, acking by flow control (2.14).
    let created: serde_json::Value = js
        .request(
            "CONSUMER.CREATE.O.MC".to_string(),
            &serde_json::json!({"stream_name": "O", "config": {
                "durable_name": "MC",
                "deliver_subject": "deliver.m",
                "ack_policy": "flow_control",
                "flow_control": true,
                "idle_heartbeat": 1_000_000_000u64,
                "max_ack_pending": 100,
            }}),
        )
        .await
        .expect("consumer");
    assert!(created.get("error").is_none(), "{created}");
    js.create_stream(Config {
        name: "M".into(),
        mirror: Some(Source {
            name: "O".into(),
            consumer: Some(async_nats::jetstream::stream::StreamConsumerSource {
                name: "MC".into(),
                deliver_subject: "deliver.m".into(),
            }),
            ..Source::default()
        }),
        ..Config::default()
    })
    .await
    .expect("mirror");
    wait_for_messages(&js, "M", 3).await;
    publish(&js, "o.4", "m").await;
    wait_for_messages(&js, "M", 4).await;
    // The mirror's flow-control answers ack the durable consumer.
    wait_until_async("the durable consumer is acked", || async {
        let info: serde_json::Value = js
            .request("CONSUMER.INFO.O.MC".to_string(), &serde_json::json!({}))
            .await
            .expect("info");
        info.pointer("/ack_floor/stream_seq")
            .and_then(serde_json::Value::as_u64)
            == Some(4)
    })
    .await;
    // A durable consumer acking otherwise is refused, as the reference
    // says in the source's info.
    let created: serde_json::Value = js
        .request(
            "CONSUMER.CREATE.O.EX".to_string(),
            &serde_json::json!({"stream_name": "O", "config": {
                "durable_name": "EX", "deliver_subject": "deliver.x", "ack_policy": "explicit",
            }}),
        )
        .await
        .expect("consumer");
    assert!(created.get("error").is_none(), "{created}");
    js.create_stream(Config {
        name: "S".into(),
        sources: Some(vec![Source {
            name: "O".into(),
            consumer: Some(async_nats::jetstream::stream::StreamConsumerSource {
                name: "EX".into(),
                deliver_subject: "deliver.x".into(),
            }),
            ..Source::default()
        }]),
        ..Config::default()
    })
    .await
    .expect("sourcing stream");
    wait_until_async("the source reports the ack policy", || async {
        let info: serde_json::Value = js
            .request("STREAM.INFO.S".to_string(), &serde_json::json!({}))
            .await
            .expect("info");
        info.pointer("/sources/0/error/err_code")
            .and_then(serde_json::Value::as_u64)
            == Some(10217)
    })
    .await;
    stop(server).await;
}
