//! JetStream streams end to end, as async-nats 0.51's `jetstream` module
//! sees them: the stream API (create, info, update, delete, names, list,
//! account info), publishing with acks and the publish headers, message
//! get (API and direct), message delete, purge, the stream limits and
//! refusals, memory streams, and restarts on the same store directory.
//!
//! Every test starts its own server with JetStream on in a fresh temporary
//! store directory. Setting `TERN_JS_REFERENCE=/path/to/nats-server` runs
//! the same tests against the reference server instead (spawned with
//! `-js -sd DIR`), to check that what the tests expect is what the
//! reference does.

mod harness;

use std::collections::HashMap;
use std::future::IntoFuture;
use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::context::{
    CreateStreamErrorKind, PublishError, PublishErrorKind, RequestErrorKind,
};
use async_nats::jetstream::message::{PublishMessage, StreamMessage};
use async_nats::jetstream::publish::PublishAck;
use async_nats::jetstream::stream::{
    Config, DeleteMessageErrorKind, DirectGetErrorKind, DiscardPolicy, Info,
    LastRawMessageErrorKind, PurgeErrorKind, RetentionPolicy, StorageType, Stream,
};
use async_nats::jetstream::{self, Context};
use async_nats::{Client, HeaderMap, StatusCode};
use bytes::Bytes;
use futures::TryStreamExt;

use harness::js_server::Server;
use harness::{connect, within};

// ---------------------------------------------------------------------------
// Servers

/// A server, a client and its JetStream context, over a temporary store.
struct Setup {
    dir: tempfile::TempDir,
    server: Server,
    client: Client,
    js: Context,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(&store_dir(dir.path())).await;
        let client = connect(server.addr()).await;
        let js = jetstream::new(client.clone());
        Setup {
            dir,
            server,
            client,
            js,
        }
    }

    /// Stops the server cleanly and starts a new one on the same store
    /// directory, with a new client.
    async fn restart(self) -> Setup {
        let Setup {
            dir,
            server,
            client,
            js,
        } = self;
        drop(js);
        drop(client);
        server.stop().await;
        let server = Server::start(&store_dir(dir.path())).await;
        let client = connect(server.addr()).await;
        let js = jetstream::new(client.clone());
        Setup {
            dir,
            server,
            client,
            js,
        }
    }
}

fn store_dir(tmp: &Path) -> PathBuf {
    tmp.join("store")
}

// ---------------------------------------------------------------------------
// Helpers

fn stream_config(name: &str, subjects: &[&str]) -> Config {
    Config {
        name: name.to_string(),
        subjects: subjects.iter().map(|s| s.to_string()).collect(),
        ..Default::default()
    }
}

async fn create(js: &Context, config: Config) -> Stream {
    let name = config.name.clone();
    within("stream create", js.create_stream(config))
        .await
        .unwrap_or_else(|e| panic!("create stream {name}: {e}"))
}

async fn info(stream: &Stream) -> Info {
    within("stream info", stream.get_info())
        .await
        .expect("stream info")
}

async fn try_send(
    js: &Context,
    subject: &str,
    msg: PublishMessage,
) -> Result<PublishAck, PublishError> {
    let ack = within("publish", js.send_publish(subject.to_string(), msg))
        .await
        .unwrap_or_else(|e| panic!("publish to {subject} not sent: {e}"));
    within("publish ack", ack.into_future()).await
}

async fn try_publish(
    js: &Context,
    subject: &str,
    payload: &str,
) -> Result<PublishAck, PublishError> {
    try_send(
        js,
        subject,
        PublishMessage::build().payload(Bytes::from(payload.to_string())),
    )
    .await
}

async fn publish(js: &Context, subject: &str, payload: &str) -> PublishAck {
    try_publish(js, subject, payload)
        .await
        .unwrap_or_else(|e| panic!("publish {payload:?} to {subject}: {e}"))
}

async fn send(js: &Context, subject: &str, msg: PublishMessage) -> PublishAck {
    try_send(js, subject, msg)
        .await
        .unwrap_or_else(|e| panic!("publish to {subject}: {e}"))
}

fn with_id(payload: &str, id: &str) -> PublishMessage {
    PublishMessage::build()
        .payload(Bytes::from(payload.to_string()))
        .message_id(id)
}

/// The JetStream API error in `err` or its sources.
fn api_error<'a>(err: &'a (dyn std::error::Error + 'static)) -> Option<&'a jetstream::Error> {
    let mut cur = Some(err);
    while let Some(e) = cur {
        if let Some(api) = e.downcast_ref::<jetstream::Error>() {
            return Some(api);
        }
        cur = e.source();
    }
    None
}

/// `err` is the API error `code`/`err_code` with this description.
fn assert_api_error(err: &jetstream::Error, code: usize, err_code: u64, description: &str) {
    assert_eq!(
        err.to_string(),
        format!("{description} (code {code}, error code {err_code})"),
        "API error"
    );
    assert_eq!(err.code(), code, "{err}");
    assert_eq!(err.error_code().0, err_code, "{err}");
}

/// A message delete refused with this API error.
async fn expect_delete_refused(
    stream: &jetstream::stream::Stream,
    seq: u64,
    why: &str,
    code: usize,
    err_code: u64,
    description: &str,
) {
    let err = within("delete", stream.delete_message(seq))
        .await
        .expect_err(why);
    match err.kind() {
        DeleteMessageErrorKind::JetStream(api) => {
            assert_api_error(&api, code, err_code, description)
        }
        other => panic!("{why}: {other:?}"),
    }
}

/// A publish refused with this API error.
fn assert_publish_refused(
    got: Result<PublishAck, PublishError>,
    kind: PublishErrorKind,
    code: usize,
    err_code: u64,
    description: &str,
) {
    let err = match got {
        Ok(ack) => panic!("publish accepted ({ack:?}); want {err_code} {description:?}"),
        Err(err) => err,
    };
    assert_eq!(err.kind(), kind, "{err}");
    let api = api_error(&err).unwrap_or_else(|| panic!("no API error in {err}"));
    assert_api_error(api, code, err_code, description);
}

fn assert_no_stream(got: Result<PublishAck, PublishError>) {
    match got {
        Ok(ack) => panic!("publish accepted ({ack:?}); want no stream"),
        Err(err) => assert_eq!(err.kind(), PublishErrorKind::StreamNotFound, "{err}"),
    }
}

fn create_error(err: async_nats::jetstream::context::CreateStreamError) -> jetstream::Error {
    match err.kind() {
        CreateStreamErrorKind::JetStream(api) => api,
        other => panic!("want a JetStream API error, got {other:?}: {err}"),
    }
}

fn header<'a>(msg: &'a StreamMessage, name: &str) -> Option<&'a str> {
    msg.headers.get(name).map(|v| v.as_str())
}

fn payload(msg: &StreamMessage) -> String {
    String::from_utf8_lossy(&msg.payload).into_owned()
}

/// The reference's file-store size of a message without headers.
fn file_size(subject: &str, payload: &str) -> u64 {
    (30 + subject.len() + payload.len()) as u64
}

async fn get(stream: &Stream, seq: u64) -> StreamMessage {
    within("message get", stream.get_raw_message(seq))
        .await
        .unwrap_or_else(|e| panic!("get seq {seq}: {e}"))
}

async fn assert_get_missing(stream: &Stream, seq: u64) {
    match within("message get", stream.get_raw_message(seq)).await {
        Ok(msg) => panic!("seq {seq} still there: {:?} {:?}", msg.subject, msg.payload),
        Err(err) => assert_eq!(
            err.kind(),
            LastRawMessageErrorKind::NoMessageFound,
            "get seq {seq}: {err}"
        ),
    }
}

async fn last_for(stream: &Stream, subject: &str) -> StreamMessage {
    within(
        "last message get",
        stream.get_last_raw_message_by_subject(subject),
    )
    .await
    .unwrap_or_else(|e| panic!("last for {subject}: {e}"))
}

/// The sequences stored for each payload, read back by sequence.
async fn stored(stream: &Stream) -> Vec<(u64, String, String)> {
    let state = info(stream).await.state;
    let mut out = Vec::new();
    if state.messages == 0 {
        return out;
    }
    for seq in state.first_sequence..=state.last_sequence {
        match within("message get", stream.get_raw_message(seq)).await {
            Ok(msg) => out.push((seq, msg.subject.to_string(), payload(&msg))),
            Err(err) => assert_eq!(
                err.kind(),
                LastRawMessageErrorKind::NoMessageFound,
                "get seq {seq}: {err}"
            ),
        }
    }
    out
}

fn triples(list: &[(u64, &str, &str)]) -> Vec<(u64, String, String)> {
    list.iter()
        .map(|(s, subj, p)| (*s, subj.to_string(), p.to_string()))
        .collect()
}

// ---------------------------------------------------------------------------
// The stream API

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_info_update_delete_names_and_list() {
    let s = Setup::new().await;
    let js = &s.js;

    let stream = create(js, stream_config("ORDERS", &["orders.>"])).await;
    let created = stream.cached_info().clone();
    let c = &created.config;
    assert_eq!(c.name, "ORDERS");
    assert_eq!(c.subjects, vec!["orders.>".to_string()]);
    assert_eq!(c.retention, RetentionPolicy::Limits);
    assert_eq!(c.storage, StorageType::File);
    assert_eq!(c.discard, DiscardPolicy::Old);
    assert_eq!(
        (c.max_messages, c.max_bytes, c.max_messages_per_subject),
        (-1, -1, -1)
    );
    assert_eq!((c.max_consumers, c.max_message_size), (-1, -1));
    assert_eq!(c.max_age, Duration::ZERO);
    assert_eq!(c.num_replicas, 1);
    assert_eq!(c.duplicate_window, Duration::from_secs(120));
    assert!(!c.sealed && !c.deny_delete && !c.deny_purge && !c.allow_direct);
    let st = &created.state;
    assert_eq!(
        (st.messages, st.bytes, st.first_sequence, st.last_sequence),
        (0, 0, 0, 0)
    );
    assert_eq!(st.consumer_count, 0);

    // Creating again with the same config is fine; the stream is unchanged.
    let again = create(js, stream_config("ORDERS", &["orders.>"])).await;
    assert_eq!(again.cached_info().config, created.config);
    assert_eq!(again.cached_info().created, created.created);

    // A stream without subjects captures its own name.
    create(js, stream_config("EVENTS", &[])).await;
    let events = within("get stream", js.get_stream("EVENTS"))
        .await
        .expect("get EVENTS");
    assert_eq!(events.cached_info().config.subjects, vec!["EVENTS"]);
    assert_eq!(publish(js, "EVENTS", "e1").await.sequence, 1);

    // get_stream returns what create returned, plus the new state.
    let mut got = within("get stream", js.get_stream("ORDERS"))
        .await
        .expect("get ORDERS");
    assert_eq!(got.cached_info().config, created.config);
    assert_eq!(got.cached_info().created, created.created);
    let ack = publish(js, "orders.new", "o1").await;
    assert_eq!((ack.stream.as_str(), ack.sequence), ("ORDERS", 1));
    let now = within("info", got.info()).await.expect("info").clone();
    assert_eq!(now.state.messages, 1);
    assert_eq!(now.state.last_sequence, 1);

    // Update: limits and an added subject take effect.
    let mut updated_config = created.config.clone();
    updated_config.max_messages = 100;
    updated_config.subjects.push("returns.*".to_string());
    let updated = within("update", js.update_stream(&updated_config))
        .await
        .expect("update ORDERS");
    assert_eq!(updated.config.max_messages, 100);
    assert_eq!(
        updated.config.subjects,
        vec!["orders.>".to_string(), "returns.*".to_string()]
    );
    assert_eq!(updated.state.messages, 1, "update keeps the messages");
    assert_eq!(publish(js, "returns.r1", "r1").await.sequence, 2);
    // And a subject taken away is no longer captured.
    updated_config.subjects = vec!["orders.>".to_string()];
    within("update", js.update_stream(&updated_config))
        .await
        .expect("update ORDERS back");
    assert_no_stream(try_publish(js, "returns.r2", "r2").await);

    // Names and list.
    let mut names: Vec<String> = within("stream names", js.stream_names().try_collect())
        .await
        .expect("stream names");
    names.sort();
    assert_eq!(names, vec!["EVENTS", "ORDERS"]);
    let list: Vec<Info> = within("stream list", js.streams().try_collect())
        .await
        .expect("stream list");
    let by_name: HashMap<_, _> = list
        .iter()
        .map(|i| (i.config.name.as_str(), i.state.messages))
        .collect();
    assert_eq!(by_name, HashMap::from([("EVENTS", 1), ("ORDERS", 2)]));

    // Delete.
    let status = within("delete", js.delete_stream("ORDERS"))
        .await
        .expect("delete ORDERS");
    assert!(status.success);
    assert_no_stream(try_publish(js, "orders.new", "o2").await);
    let names: Vec<String> = within("stream names", js.stream_names().try_collect())
        .await
        .expect("stream names");
    assert_eq!(names, vec!["EVENTS"]);
    within("delete", js.delete_stream("EVENTS"))
        .await
        .expect("delete EVENTS");
    let names: Vec<String> = within("stream names", js.stream_names().try_collect())
        .await
        .expect("stream names with no streams");
    assert!(names.is_empty(), "{names:?}");
    let list: Vec<Info> = within("stream list", js.streams().try_collect())
        .await
        .expect("stream list with no streams");
    assert!(list.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_api_errors_come_back_as_client_error_kinds() {
    let s = Setup::new().await;
    let js = &s.js;
    create(js, stream_config("A", &["a.>", "shared.one"])).await;

    // Same name, different config.
    let err = within("create", js.create_stream(stream_config("A", &["other.>"])))
        .await
        .expect_err("create A with other subjects");
    assert_api_error(
        &create_error(err),
        400,
        10058,
        "stream name already in use with a different configuration",
    );

    // Overlapping subjects, on create and on update.
    let err = within("create", js.create_stream(stream_config("B", &["a.b"])))
        .await
        .expect_err("create B over a.>");
    assert_api_error(
        &create_error(err),
        400,
        10065,
        "subjects overlap with an existing stream",
    );
    let err = within(
        "create",
        js.create_stream(stream_config("B", &["shared.*"])),
    )
    .await
    .expect_err("create B over shared.one");
    assert_api_error(
        &create_error(err),
        400,
        10065,
        "subjects overlap with an existing stream",
    );
    create(js, stream_config("B", &["b.>"])).await;
    let err = within(
        "update",
        js.update_stream(stream_config("B", &["b.>", "a.x.>"])),
    )
    .await
    .expect_err("update B over a.>");
    assert_api_error(
        &create_error(err),
        400,
        10065,
        "subjects overlap with an existing stream",
    );
    // The refused update changed nothing.
    assert_no_stream(try_publish(js, "zzz", "x").await);
    assert_eq!(publish(js, "a.x.y", "to A").await.stream, "A");

    // Storage type cannot change.
    let mut mem = stream_config("B", &["b.>"]);
    mem.storage = StorageType::Memory;
    let err = within("update", js.update_stream(&mem))
        .await
        .expect_err("update B to memory");
    assert_api_error(
        &create_error(err),
        500,
        10052,
        "stream configuration update can not change storage type",
    );

    // Missing streams.
    let err = within("update", js.update_stream(stream_config("NOPE", &["nope"])))
        .await
        .expect_err("update missing");
    assert_eq!(err.kind(), CreateStreamErrorKind::NotFound, "{err}");
    let err = within("get", js.get_stream("NOPE"))
        .await
        .expect_err("get missing");
    match err.kind() {
        async_nats::jetstream::context::GetStreamErrorKind::JetStream(api) => {
            assert_api_error(&api, 404, 10059, "stream not found")
        }
        other => panic!("get missing stream: {other:?}"),
    }
    let err = match within("delete", js.delete_stream("NOPE")).await {
        Ok(status) => panic!("delete missing stream: success {}", status.success),
        Err(err) => err,
    };
    match err.kind() {
        async_nats::jetstream::context::DeleteStreamErrorKind::JetStream(api) => {
            assert_api_error(&api, 404, 10059, "stream not found")
        }
        other => panic!("delete missing stream: {other:?}"),
    }
    let nope = within("get", js.get_stream_no_info("NOPE"))
        .await
        .expect("handle without info");
    let err = within("get", nope.get_raw_message(1))
        .await
        .expect_err("message get on missing stream");
    match err.kind() {
        LastRawMessageErrorKind::JetStream(api) => {
            assert_api_error(&api, 404, 10059, "stream not found")
        }
        other => panic!("message get on missing stream: {other:?}"),
    }
    let err = within("info", nope.get_info())
        .await
        .expect_err("info on missing stream");
    assert_eq!(err.kind(), RequestErrorKind::Other, "{err}");
    let api = api_error(&err).unwrap_or_else(|| panic!("no API error in {err}"));
    assert_api_error(api, 404, 10059, "stream not found");

    // No stream captures the subject.
    assert_no_stream(try_publish(js, "nobody.home", "x").await);

    // Replicas > 1 in a standalone server.
    let mut r3 = stream_config("R3", &["r3"]);
    r3.num_replicas = 3;
    let err = within("create", js.create_stream(r3))
        .await
        .expect_err("create R3");
    assert_api_error(
        &create_error(err),
        500,
        10074,
        "replicas > 1 not supported in non-clustered mode",
    );
}

// ---------------------------------------------------------------------------
// Publishing

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn publish_acks_sequences_and_stream_state() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("ORDERS", &["orders.*"])).await;

    let mut want_bytes = 0;
    for i in 1..=10u64 {
        let subject = format!("orders.{}", ["new", "paid", "sent"][(i % 3) as usize]);
        let body = format!("order-{i}");
        let ack = publish(js, &subject, &body).await;
        assert_eq!(ack.stream, "ORDERS");
        assert_eq!(ack.sequence, i);
        assert!(!ack.duplicate);
        want_bytes += file_size(&subject, &body);
    }
    // Acks may be outstanding together; each gets its own sequence.
    let mut futures = Vec::new();
    for i in 11..=60u64 {
        futures.push(
            within(
                "publish",
                js.publish("orders.bulk", Bytes::from(format!("bulk-{i}"))),
            )
            .await
            .expect("publish sent"),
        );
        want_bytes += file_size("orders.bulk", &format!("bulk-{i}"));
    }
    let mut seqs = Vec::new();
    for f in futures {
        seqs.push(within("ack", f.into_future()).await.expect("ack").sequence);
    }
    assert_eq!(seqs, (11..=60).collect::<Vec<_>>());

    let state = info(&stream).await.state;
    assert_eq!(state.messages, 60);
    assert_eq!(state.first_sequence, 1);
    assert_eq!(state.last_sequence, 60);
    assert_eq!(state.subjects_count, 4);
    assert_eq!(state.bytes, want_bytes, "file-store byte count");
    assert!(state.first_timestamp <= state.last_timestamp);
    assert_eq!(state.deleted_count, None);

    // Per-subject counts on request.
    let with_subjects = within("info with subjects", async {
        stream
            .info_with_subjects("orders.*")
            .await?
            .try_collect::<Vec<_>>()
            .await
    })
    .await
    .expect("info with subjects");
    let counts: HashMap<String, usize> = with_subjects.into_iter().collect();
    assert_eq!(
        counts,
        HashMap::from([
            ("orders.new".to_string(), 3),
            ("orders.paid".to_string(), 4),
            ("orders.sent".to_string(), 3),
            ("orders.bulk".to_string(), 50),
        ])
    );

    // A publish on the plain connection without a reply is stored too.
    s.client
        .publish("orders.quiet", Bytes::from_static(b"q"))
        .await
        .expect("core publish");
    assert_eq!(publish(js, "orders.new", "after").await.sequence, 62);
    assert_eq!(payload(&get(&stream, 61).await), "q");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn account_info_counts_streams_and_usage() {
    let s = Setup::new().await;
    let js = &s.js;
    let empty = within("account info", js.query_account())
        .await
        .expect("account info");
    assert_eq!(empty.streams, 0);
    assert_eq!((empty.memory, empty.storage), (0, 0));
    assert_eq!(empty.consumers, 0);

    let file = create(js, stream_config("F", &["f"])).await;
    let mut mem_config = stream_config("M", &["m"]);
    mem_config.storage = StorageType::Memory;
    let mem = create(js, mem_config).await;
    publish(js, "f", "file bytes").await;
    publish(js, "f", "more").await;
    publish(js, "m", "memory bytes").await;

    let account = within("account info", js.query_account())
        .await
        .expect("account info");
    assert_eq!(account.streams, 2);
    assert_eq!(account.consumers, 0);
    assert_eq!(account.storage, info(&file).await.state.bytes);
    assert_eq!(account.memory, info(&mem).await.state.bytes);
    assert!(account.memory > 0 && account.storage > 0, "{account:?}");
    assert_eq!(
        account.limits.max_streams,
        Some(-1).filter(|_| false).or(account.limits.max_streams)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn msg_id_dedupe_reports_duplicates_with_the_original_sequence() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("D", &["d.*"])).await;

    let first = send(js, "d.a", with_id("one", "id-1")).await;
    assert_eq!((first.sequence, first.duplicate), (1, false));
    let second = send(js, "d.a", with_id("two", "id-2")).await;
    assert_eq!((second.sequence, second.duplicate), (2, false));

    // Same id again, even with another payload and subject: a duplicate of 1.
    let dup = send(js, "d.b", with_id("one again", "id-1")).await;
    assert_eq!(dup.stream, "D");
    assert_eq!((dup.sequence, dup.duplicate), (1, true));
    // The id set with the header constant, through publish_with_headers.
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_MESSAGE_ID, "id-2");
    let ack = within(
        "publish",
        js.publish_with_headers("d.a", headers, Bytes::from_static(b"two again")),
    )
    .await
    .expect("sent");
    let dup = within("ack", ack.into_future()).await.expect("ack");
    assert_eq!((dup.sequence, dup.duplicate), (2, true));

    let state = info(&stream).await.state;
    assert_eq!((state.messages, state.last_sequence), (2, 2));
    let stored_first = get(&stream, 1).await;
    assert_eq!(payload(&stored_first), "one");
    assert_eq!(header(&stored_first, "Nats-Msg-Id"), Some("id-1"));

    // A new id gets the next sequence.
    let third = send(js, "d.a", with_id("three", "id-3")).await;
    assert_eq!((third.sequence, third.duplicate), (3, false));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_sequence_and_stream_headers() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("E", &["e.*"])).await;
    publish(js, "e.a", "1").await;
    publish(js, "e.b", "2").await;

    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_sequence(1);
    assert_publish_refused(
        try_send(js, "e.a", msg).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 2",
    );
    let msg = PublishMessage::build()
        .payload("3".into())
        .expected_last_sequence(2);
    assert_eq!(send(js, "e.a", msg).await.sequence, 3);

    // The header set by name, through publish_with_headers.
    let mut headers = HeaderMap::new();
    headers.insert(async_nats::header::NATS_EXPECTED_LAST_SEQUENCE, "2");
    let ack = within(
        "publish",
        js.publish_with_headers("e.a", headers, Bytes::from_static(b"x")),
    )
    .await
    .expect("sent");
    assert_publish_refused(
        within("ack", ack.into_future()).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 3",
    );

    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_stream("OTHER");
    assert_publish_refused(
        try_send(js, "e.a", msg).await,
        PublishErrorKind::Other,
        400,
        10060,
        "expected stream does not match",
    );
    let msg = PublishMessage::build()
        .payload("4".into())
        .expected_stream("E");
    assert_eq!(send(js, "e.a", msg).await.sequence, 4);

    // Nothing refused was stored.
    let payloads: Vec<String> = stored(&stream).await.into_iter().map(|t| t.2).collect();
    assert_eq!(payloads, ["1", "2", "3", "4"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_subject_sequence_header() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("E", &["e.*"])).await;
    publish(js, "e.a", "1").await;
    publish(js, "e.b", "2").await;
    publish(js, "e.a", "3").await;

    // e.a is at 3, e.b at 2, e.c empty.
    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_subject_sequence(2);
    assert_publish_refused(
        try_send(js, "e.a", msg).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 3",
    );
    let msg = PublishMessage::build()
        .payload("4".into())
        .expected_last_subject_sequence(2);
    assert_eq!(send(js, "e.b", msg).await.sequence, 4);
    let msg = PublishMessage::build()
        .payload("5".into())
        .expected_last_subject_sequence(0);
    assert_eq!(send(js, "e.c", msg).await.sequence, 5);
    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_subject_sequence(0);
    assert_publish_refused(
        try_send(js, "e.c", msg).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 5",
    );
    let msg = PublishMessage::build()
        .payload("6".into())
        .expected_last_subject_sequence(3);
    assert_eq!(send(js, "e.a", msg).await.sequence, 6);

    let payloads: Vec<String> = stored(&stream).await.into_iter().map(|t| t.2).collect();
    assert_eq!(payloads, ["1", "2", "3", "4", "5", "6"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expected_last_msg_id_header() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("E", &["e.*"])).await;
    send(js, "e.a", with_id("1", "m-1")).await;
    send(js, "e.b", with_id("2", "m-2")).await;

    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_message_id("m-1");
    assert_publish_refused(
        try_send(js, "e.a", msg).await,
        PublishErrorKind::WrongLastMessageId,
        400,
        10070,
        "wrong last msg ID: m-2",
    );
    let msg = with_id("3", "m-3").expected_last_message_id("m-2");
    assert_eq!(send(js, "e.a", msg).await.sequence, 3);

    // The check is against the last message's id: after a message without
    // one, the last id is empty.
    publish(js, "e.a", "4").await;
    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_message_id("m-3");
    assert_publish_refused(
        try_send(js, "e.a", msg).await,
        PublishErrorKind::WrongLastMessageId,
        400,
        10070,
        "wrong last msg ID: ",
    );

    let payloads: Vec<String> = stored(&stream).await.into_iter().map(|t| t.2).collect();
    assert_eq!(payloads, ["1", "2", "3", "4"]);
}

// ---------------------------------------------------------------------------
// Reading and removing messages

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn message_get_by_sequence_and_last_by_subject() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("G", &["g.>"])).await;

    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "abc");
    let ack = within(
        "publish",
        js.publish_with_headers("g.one", headers, Bytes::from_static(b"first")),
    )
    .await
    .expect("sent");
    within("ack", ack.into_future()).await.expect("ack");
    publish(js, "g.two", "second").await;
    publish(js, "g.one", "third").await;

    let msg = get(&stream, 1).await;
    assert_eq!(msg.sequence, 1);
    assert_eq!(msg.subject.as_str(), "g.one");
    assert_eq!(payload(&msg), "first");
    assert_eq!(header(&msg, "X-Trace"), Some("abc"));
    let msg = get(&stream, 2).await;
    assert_eq!(
        (msg.subject.as_str(), payload(&msg).as_str()),
        ("g.two", "second")
    );
    assert!(msg.time <= get(&stream, 3).await.time);

    let last = last_for(&stream, "g.one").await;
    assert_eq!((last.sequence, payload(&last).as_str()), (3, "third"));
    let last = last_for(&stream, "g.two").await;
    assert_eq!((last.sequence, payload(&last).as_str()), (2, "second"));
    // A wildcard subject: the last message of any matching subject.
    let last = last_for(&stream, "g.*").await;
    assert_eq!(last.sequence, 3);

    assert_get_missing(&stream, 4).await;
    let err = within("last", stream.get_last_raw_message_by_subject("g.none"))
        .await
        .expect_err("no message on g.none");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");

    // Next by subject from a sequence.
    let next = within(
        "first by subject",
        stream.get_first_raw_message_by_subject("g.one", 2),
    )
    .await
    .expect("next g.one from 2");
    assert_eq!(next.sequence, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn direct_get_by_sequence_and_last_for_subject() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("DG", &["dg.*"]);
    config.allow_direct = true;
    let stream = create(js, config).await;
    assert!(stream.cached_info().config.allow_direct);

    let mut headers = HeaderMap::new();
    headers.insert("X-Kind", "k1");
    let ack = within(
        "publish",
        js.publish_with_headers("dg.a", headers, Bytes::from_static(b"a1")),
    )
    .await
    .expect("sent");
    within("ack", ack.into_future()).await.expect("ack");
    publish(js, "dg.b", "b1").await;
    publish(js, "dg.a", "a2").await;

    let msg = within("direct get", stream.direct_get(1))
        .await
        .expect("direct get 1");
    assert_eq!(msg.sequence, 1);
    assert_eq!(msg.subject.as_str(), "dg.a");
    assert_eq!(payload(&msg), "a1");
    assert_eq!(header(&msg, "X-Kind"), Some("k1"));
    assert_eq!(header(&msg, "Nats-Stream"), Some("DG"));
    assert_eq!(header(&msg, "Nats-Subject"), Some("dg.a"));
    assert_eq!(header(&msg, "Nats-Sequence"), Some("1"));
    // The same message as the API get.
    let api = get(&stream, 1).await;
    assert_eq!(api.time, msg.time);

    let last = within("direct last", stream.direct_get_last_for_subject("dg.a"))
        .await
        .expect("direct last dg.a");
    assert_eq!((last.sequence, payload(&last).as_str()), (3, "a2"));
    let last = within("direct last", stream.direct_get_last_for_subject("dg.b"))
        .await
        .expect("direct last dg.b");
    assert_eq!((last.sequence, payload(&last).as_str()), (2, "b1"));

    let err = within("direct get", stream.direct_get(9))
        .await
        .expect_err("direct get past the end");
    assert_eq!(err.kind(), DirectGetErrorKind::NotFound, "{err}");
    let err = within("direct last", stream.direct_get_last_for_subject("dg.none"))
        .await
        .expect_err("direct last on an empty subject");
    assert_eq!(err.kind(), DirectGetErrorKind::NotFound, "{err}");

    // Turning allow_direct on by update makes direct gets answer.
    let later = create(js, stream_config("LATER", &["later"])).await;
    publish(js, "later", "l").await;
    let mut config = later.cached_info().config.clone();
    config.allow_direct = true;
    within("update", js.update_stream(&config))
        .await
        .expect("update allow_direct");
    let msg = within("direct get", later.direct_get(1))
        .await
        .expect("direct get after update");
    assert_eq!(payload(&msg), "l");

    // Without allow_direct nobody answers direct gets: the client gets
    // no responders at once rather than waiting for its timeout.
    let plain = create(js, stream_config("PLAIN", &["plain"])).await;
    publish(js, "plain", "p").await;
    let err = within("direct get", plain.direct_get(1))
        .await
        .expect_err("direct get without allow_direct");
    assert_eq!(
        err.kind(),
        DirectGetErrorKind::ErrorResponse(StatusCode::NO_RESPONDERS, "no responders".into()),
        "{err}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn delete_message_leaves_a_gap() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("DEL", &["del.*"])).await;
    for i in 1..=5 {
        publish(js, &format!("del.{}", i % 2), &format!("m{i}")).await;
    }

    assert!(within("delete", stream.delete_message(3))
        .await
        .expect("delete 3"));
    assert_get_missing(&stream, 3).await;
    let state = info(&stream).await.state;
    assert_eq!(state.messages, 4);
    assert_eq!((state.first_sequence, state.last_sequence), (1, 5));
    assert_eq!(state.deleted_count, Some(1));
    let detailed = within(
        "info with deleted",
        stream.info_builder().with_deleted(true).fetch(),
    )
    .await
    .expect("info with deleted details");
    assert_eq!(detailed.info.state.deleted, Some(vec![3]));

    // Deleting the first moves first_seq; the last keeps last_seq.
    assert!(within("delete", stream.delete_message(1))
        .await
        .expect("delete 1"));
    assert!(within("delete", stream.delete_message(5))
        .await
        .expect("delete 5"));
    let state = info(&stream).await.state;
    assert_eq!(state.messages, 2);
    assert_eq!((state.first_sequence, state.last_sequence), (2, 5));
    // del.1 had 1, 3 and 5, all deleted; del.0 has 2 and 4.
    let err = within("last", stream.get_last_raw_message_by_subject("del.1"))
        .await
        .expect_err("del.1 has nothing left");
    assert_eq!(err.kind(), LastRawMessageErrorKind::NoMessageFound, "{err}");
    assert_eq!(last_for(&stream, "del.0").await.sequence, 4);

    // New messages go on after the last sequence, not into the gaps.
    assert_eq!(publish(js, "del.1", "m6").await.sequence, 6);

    // Deleting what is not there: past the end, then a gap.
    expect_delete_refused(
        &stream,
        99,
        "delete past the end",
        500,
        10057,
        "stream store EOF",
    )
    .await;

    expect_delete_refused(
        &stream,
        3,
        "delete 3 twice",
        400,
        10043,
        "sequence 3 not found",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn purge_with_filter_keep_and_sequence() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("P", &["p.*"])).await;
    // a at 1, 3, 5, 7; b at 2, 4, 6, 8.
    for i in 1..=8 {
        let subject = if i % 2 == 1 { "p.a" } else { "p.b" };
        publish(js, subject, &format!("{i}")).await;
    }

    // Keep the newest p.a only.
    let r = within("purge", stream.purge().filter("p.a").keep(1).into_future())
        .await
        .expect("purge p.a keep 1");
    assert!(r.success);
    assert_eq!(r.purged, 3);
    assert_eq!(
        stored(&stream).await,
        triples(&[
            (2, "p.b", "2"),
            (4, "p.b", "4"),
            (6, "p.b", "6"),
            (7, "p.a", "7"),
            (8, "p.b", "8")
        ])
    );

    // Everything below 5.
    let r = within("purge", stream.purge().sequence(5).into_future())
        .await
        .expect("purge below 5");
    assert_eq!(r.purged, 2);
    let state = info(&stream).await.state;
    assert_eq!((state.messages, state.first_sequence), (3, 6));

    // p.b below 8.
    let r = within(
        "purge",
        stream.purge().filter("p.b").sequence(8).into_future(),
    )
    .await
    .expect("purge p.b below 8");
    assert_eq!(r.purged, 1);
    assert_eq!(
        stored(&stream).await,
        triples(&[(7, "p.a", "7"), (8, "p.b", "8")])
    );

    // Keep the newest 1 over all subjects.
    let r = within("purge", stream.purge().keep(1).into_future())
        .await
        .expect("purge keep 1");
    assert_eq!(r.purged, 1);
    assert_eq!(stored(&stream).await, triples(&[(8, "p.b", "8")]));

    // Everything.
    let r = within("purge", stream.purge().into_future())
        .await
        .expect("purge all");
    assert_eq!(r.purged, 1);
    let state = info(&stream).await.state;
    assert_eq!(state.messages, 0);
    assert_eq!(state.bytes, 0);
    assert_eq!((state.first_sequence, state.last_sequence), (9, 8));
    assert_eq!(state.first_timestamp.year(), 1, "zero time when empty");

    // Sequences go on.
    assert_eq!(publish(js, "p.a", "9").await.sequence, 9);
    let state = info(&stream).await.state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (1, 9, 9)
    );
}

// ---------------------------------------------------------------------------
// Limits

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msgs_with_discard_old_and_new() {
    let s = Setup::new().await;
    let js = &s.js;

    let mut old = stream_config("OLD", &["old"]);
    old.max_messages = 3;
    let old = create(js, old).await;
    for i in 1..=5 {
        assert_eq!(publish(js, "old", &format!("{i}")).await.sequence, i);
    }
    let state = info(&old).await.state;
    assert_eq!(state.messages, 3);
    assert_eq!((state.first_sequence, state.last_sequence), (3, 5));
    assert_get_missing(&old, 2).await;
    assert_eq!(payload(&get(&old, 3).await), "3");

    let mut new = stream_config("NEW", &["new"]);
    new.max_messages = 3;
    new.discard = DiscardPolicy::New;
    let new = create(js, new).await;
    for i in 1..=3 {
        publish(js, "new", &format!("{i}")).await;
    }
    assert_publish_refused(
        try_publish(js, "new", "4").await,
        PublishErrorKind::Other,
        503,
        10077,
        "maximum messages exceeded",
    );
    let state = info(&new).await.state;
    assert_eq!(state.messages, 3);
    assert_eq!((state.first_sequence, state.last_sequence), (1, 3));
    // Room again after a delete.
    within("delete", new.delete_message(1))
        .await
        .expect("delete 1");
    assert_eq!(publish(js, "new", "4").await.sequence, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_bytes_with_discard_old_and_new() {
    let s = Setup::new().await;
    let js = &s.js;
    let one = file_size("bytes.old", "0123456789");

    let mut old = stream_config("BOLD", &["bytes.old"]);
    old.max_bytes = (3 * one) as i64;
    let old = create(js, old).await;
    for i in 1..=5 {
        publish(js, "bytes.old", "0123456789").await;
        let state = info(&old).await.state;
        assert_eq!(state.messages, i.min(3), "after {i}");
        assert_eq!(state.bytes, i.min(3) * one, "after {i}");
    }
    assert_eq!(info(&old).await.state.first_sequence, 3);

    let mut new = stream_config("BNEW", &["bytes.new"]);
    new.max_bytes = (2 * one + file_size("bytes.new", "")) as i64;
    new.discard = DiscardPolicy::New;
    let new = create(js, new).await;
    publish(js, "bytes.new", "0123456789").await;
    publish(js, "bytes.new", "0123456789").await;
    assert_publish_refused(
        try_publish(js, "bytes.new", "0123456789").await,
        PublishErrorKind::Other,
        503,
        10077,
        "maximum bytes exceeded",
    );
    // A smaller message that fits is taken.
    assert_eq!(publish(js, "bytes.new", "").await.sequence, 3);
    let state = info(&new).await.state;
    assert_eq!(state.messages, 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msgs_per_subject_keeps_history_per_subject() {
    let s = Setup::new().await;
    let js = &s.js;

    let mut config = stream_config("KV", &["kv.>"]);
    config.max_messages_per_subject = 2;
    let kv = create(js, config).await;
    for (subject, value) in [
        ("kv.a", "a1"),
        ("kv.b", "b1"),
        ("kv.a", "a2"),
        ("kv.a", "a3"),
        ("kv.b", "b2"),
        ("kv.a", "a4"),
        ("kv.c", "c1"),
    ] {
        publish(js, subject, value).await;
    }
    assert_eq!(
        stored(&kv).await,
        triples(&[
            (2, "kv.b", "b1"),
            (4, "kv.a", "a3"),
            (5, "kv.b", "b2"),
            (6, "kv.a", "a4"),
            (7, "kv.c", "c1"),
        ])
    );
    let state = info(&kv).await.state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (5, 2, 7)
    );
    assert_eq!(state.subjects_count, 3);
    assert_eq!(payload(&last_for(&kv, "kv.a").await), "a4");

    // Discard new per subject: a full subject refuses, others still take.
    let mut config = stream_config("KVN", &["kvn.>"]);
    config.max_messages_per_subject = 1;
    config.discard = DiscardPolicy::New;
    config.discard_new_per_subject = true;
    config.max_messages = 10;
    let kvn = create(js, config).await;
    publish(js, "kvn.a", "a1").await;
    assert_publish_refused(
        try_publish(js, "kvn.a", "a2").await,
        PublishErrorKind::Other,
        503,
        10077,
        "maximum messages per subject exceeded",
    );
    assert_eq!(publish(js, "kvn.b", "b1").await.sequence, 2);
    assert_eq!(payload(&last_for(&kvn, "kvn.a").await), "a1");

    // discard_new_per_subject needs discard new.
    let mut bad = stream_config("BAD", &["bad"]);
    bad.max_messages_per_subject = 1;
    bad.discard_new_per_subject = true;
    let err = within("create", js.create_stream(bad))
        .await
        .expect_err("discard_new_per_subject with discard old");
    let api = create_error(err);
    assert_eq!((api.code(), api.error_code().0), (500, 10052), "{api}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_msg_size_refuses_larger_messages() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("SIZE", &["size"]);
    config.max_message_size = 10;
    let stream = create(js, config).await;
    assert_eq!(stream.cached_info().config.max_message_size, 10);

    assert_eq!(publish(js, "size", "0123456789").await.sequence, 1);
    assert_publish_refused(
        try_publish(js, "size", "0123456789A").await,
        PublishErrorKind::Other,
        400,
        10054,
        "message size exceeds maximum allowed",
    );
    assert_eq!(info(&stream).await.state.messages, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn max_age_expires_messages() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("AGE", &["age"]);
    config.max_age = Duration::from_secs(1);
    let stream = create(js, config).await;
    // The duplicate window follows a max_age below two minutes.
    assert_eq!(
        stream.cached_info().config.duplicate_window,
        Duration::from_secs(1)
    );
    assert_eq!(stream.cached_info().config.max_age, Duration::from_secs(1));

    for i in 1..=3 {
        publish(js, "age", &format!("{i}")).await;
    }
    assert_eq!(info(&stream).await.state.messages, 3);

    within("messages to expire", async {
        loop {
            if info(&stream).await.state.messages == 0 {
                break;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    let state = info(&stream).await.state;
    assert_eq!((state.first_sequence, state.last_sequence), (4, 3));
    assert_eq!(state.bytes, 0);
    assert_get_missing(&stream, 3).await;
    assert_eq!(publish(js, "age", "4").await.sequence, 4);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rollup_header_keeps_only_the_rollup_message() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("ROLL", &["roll.*"]);
    config.allow_rollup = true;
    let stream = create(js, config).await;
    assert!(stream.cached_info().config.allow_rollup);

    for (subject, value) in [("roll.a", "a1"), ("roll.b", "b1"), ("roll.a", "a2")] {
        publish(js, subject, value).await;
    }
    let msg = PublishMessage::build()
        .payload("a-rollup".into())
        .header(async_nats::header::NATS_ROLLUP, "sub");
    assert_eq!(send(js, "roll.a", msg).await.sequence, 4);
    assert_eq!(
        stored(&stream).await,
        triples(&[(2, "roll.b", "b1"), (4, "roll.a", "a-rollup")])
    );

    // Rollup all: only the rollup message is left.
    let msg = PublishMessage::build()
        .payload("everything".into())
        .header(async_nats::header::NATS_ROLLUP, "all");
    assert_eq!(send(js, "roll.c", msg).await.sequence, 5);
    assert_eq!(
        stored(&stream).await,
        triples(&[(5, "roll.c", "everything")])
    );

    // A bad value.
    let msg = PublishMessage::build()
        .payload("x".into())
        .header(async_nats::header::NATS_ROLLUP, "bad");
    assert_publish_refused(
        try_send(js, "roll.a", msg).await,
        PublishErrorKind::Other,
        500,
        10111,
        "rollup value invalid: \"bad\"",
    );

    // Without allow_rollup_hdrs.
    create(js, stream_config("NOROLL", &["noroll"])).await;
    publish(js, "noroll", "1").await;
    let msg = PublishMessage::build()
        .payload("x".into())
        .header(async_nats::header::NATS_ROLLUP, "sub");
    assert_publish_refused(
        try_send(js, "noroll", msg).await,
        PublishErrorKind::Other,
        500,
        10111,
        "rollup not permitted",
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sealed_stream_refuses_publishes_deletes_and_purges() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("SEAL", &["seal"])).await;
    publish(js, "seal", "1").await;
    publish(js, "seal", "2").await;

    // Sealed cannot be set on create.
    let mut sealed_create = stream_config("SEAL2", &["seal2"]);
    sealed_create.sealed = true;
    let err = within("create", js.create_stream(sealed_create))
        .await
        .expect_err("create sealed");
    assert_api_error(
        &create_error(err),
        500,
        10052,
        "stream configuration for create can not be sealed",
    );

    let mut config = stream.cached_info().config.clone();
    config.sealed = true;
    let updated = within("update", js.update_stream(&config))
        .await
        .expect("seal by update");
    assert!(updated.config.sealed);

    assert_publish_refused(
        try_publish(js, "seal", "3").await,
        PublishErrorKind::Other,
        400,
        10109,
        "invalid operation on sealed stream",
    );
    let err = within("purge", stream.purge().into_future())
        .await
        .expect_err("purge on sealed");
    match err.kind() {
        PurgeErrorKind::JetStream(api) => {
            assert_api_error(&api, 400, 10109, "invalid operation on sealed stream")
        }
        other => panic!("purge on sealed: {other:?}"),
    }
    // Unsealing is refused too.
    config.sealed = false;
    let err = within("update", js.update_stream(&config))
        .await
        .expect_err("unseal");
    assert_api_error(
        &create_error(err),
        500,
        10052,
        "stream configuration update can not unseal a sealed stream",
    );

    let state = info(&stream).await.state;
    assert_eq!((state.messages, state.last_sequence), (2, 2));
    assert_eq!(payload(&get(&stream, 2).await), "2");
    expect_delete_refused(
        &stream,
        1,
        "delete on sealed",
        400,
        10109,
        "invalid operation on sealed stream",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn deny_delete_and_deny_purge_refuse() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("DENY", &["deny"]);
    config.deny_delete = true;
    config.deny_purge = true;
    let stream = create(js, config).await;
    assert!(stream.cached_info().config.deny_delete);
    assert!(stream.cached_info().config.deny_purge);
    publish(js, "deny", "1").await;

    expect_delete_refused(
        &stream,
        1,
        "delete with deny_delete",
        500,
        10057,
        "message delete not permitted",
    )
    .await;
    let err = within("purge", stream.purge().into_future())
        .await
        .expect_err("purge with deny_purge");
    match err.kind() {
        PurgeErrorKind::JetStream(api) => {
            assert_api_error(&api, 500, 10110, "stream purge not permitted")
        }
        other => panic!("purge with deny_purge: {other:?}"),
    }
    assert_eq!(info(&stream).await.state.messages, 1);
    // Publishing is still fine.
    assert_eq!(publish(js, "deny", "2").await.sequence, 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_storage_stream() {
    let s = Setup::new().await;
    let js = &s.js;
    let mut config = stream_config("MEM", &["mem.*"]);
    config.storage = StorageType::Memory;
    config.max_messages_per_subject = 2;
    config.allow_direct = true;
    let stream = create(js, config).await;
    assert_eq!(stream.cached_info().config.storage, StorageType::Memory);

    for i in 1..=4 {
        let ack = send(js, "mem.a", with_id(&format!("v{i}"), &format!("id{i}"))).await;
        assert_eq!(ack.sequence, i);
    }
    let dup = send(js, "mem.a", with_id("v1", "id1")).await;
    assert_eq!((dup.sequence, dup.duplicate), (1, true));
    publish(js, "mem.b", "b").await;

    let state = info(&stream).await.state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (3, 3, 5)
    );
    assert!(state.bytes > 0);
    assert_eq!(payload(&get(&stream, 3).await), "v3");
    assert_eq!(payload(&last_for(&stream, "mem.a").await), "v4");
    let direct = within("direct last", stream.direct_get_last_for_subject("mem.b"))
        .await
        .expect("direct last mem.b");
    assert_eq!(direct.sequence, 5);

    assert!(within("delete", stream.delete_message(3))
        .await
        .expect("delete 3"));
    let r = within("purge", stream.purge().filter("mem.b").into_future())
        .await
        .expect("purge mem.b");
    assert_eq!(r.purged, 1);
    assert_eq!(stored(&stream).await, triples(&[(4, "mem.a", "v4")]));
    assert_eq!(publish(js, "mem.b", "b2").await.sequence, 6);
}

// ---------------------------------------------------------------------------
// Restart

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_restores_streams_sequences_and_dedupe() {
    let s = Setup::new().await;

    // ORDERS: per-subject history 2, ids on every message, a deleted one.
    let mut orders = stream_config("ORDERS", &["orders.*"]);
    orders.max_messages_per_subject = 2;
    orders.description = Some("orders stream".to_string());
    let orders_stream = create(&s.js, orders).await;
    let mut acked = Vec::new();
    for i in 1..=9u64 {
        let subject = format!("orders.{}", ["a", "b", "c"][(i % 3) as usize]);
        let ack = send(
            &s.js,
            &subject,
            with_id(&format!("o{i}"), &format!("oid-{i}")),
        )
        .await;
        assert_eq!(ack.sequence, i);
        acked.push((i, subject));
    }
    assert!(within("delete", orders_stream.delete_message(9))
        .await
        .expect("delete 9"));
    // EMPTY: everything purged, sequences must go on after a restart.
    let empty_stream = create(&s.js, stream_config("EMPTY", &["empty"])).await;
    for i in 1..=3 {
        publish(&s.js, "empty", &format!("{i}")).await;
    }
    within("purge", empty_stream.purge().into_future())
        .await
        .expect("purge EMPTY");
    // A memory stream is gone after a restart, as in the reference.
    let mut mem = stream_config("MEM", &["mem"]);
    mem.storage = StorageType::Memory;
    create(&s.js, mem).await;
    publish(&s.js, "mem", "m").await;
    // A deleted stream stays deleted.
    create(&s.js, stream_config("GONE", &["gone"])).await;
    publish(&s.js, "gone", "x").await;
    within("delete stream", s.js.delete_stream("GONE"))
        .await
        .expect("delete GONE");

    let orders_before = info(&orders_stream).await;
    let empty_before = info(&empty_stream).await;
    let orders_msgs = stored(&orders_stream).await;
    assert_eq!(
        orders_msgs,
        triples(&[
            (4, "orders.b", "o4"),
            (5, "orders.c", "o5"),
            (6, "orders.a", "o6"),
            (7, "orders.b", "o7"),
            (8, "orders.c", "o8"),
        ])
    );

    let s = s.restart().await;
    let js = &s.js;

    let mut names: Vec<String> = within("stream names", js.stream_names().try_collect())
        .await
        .expect("stream names");
    names.sort();
    assert_eq!(names, vec!["EMPTY", "ORDERS"]);
    assert_no_stream(try_publish(js, "gone", "y").await);
    assert_no_stream(try_publish(js, "mem", "y").await);

    let orders_stream = within("get", js.get_stream("ORDERS"))
        .await
        .expect("ORDERS after restart");
    let orders_after = orders_stream.cached_info().clone();
    assert_eq!(orders_after.config, orders_before.config);
    assert_eq!(orders_after.created, orders_before.created);
    assert_eq!(orders_after.state, orders_before.state);
    assert_eq!(stored(&orders_stream).await, orders_msgs);
    for (subject, seq, value) in [
        ("orders.a", 6, "o6"),
        ("orders.b", 7, "o7"),
        ("orders.c", 8, "o8"),
    ] {
        let last = last_for(&orders_stream, subject).await;
        assert_eq!(
            (last.sequence, payload(&last).as_str()),
            (seq, value),
            "{subject}"
        );
        assert_eq!(
            header(&last, "Nats-Msg-Id"),
            Some(format!("oid-{seq}").as_str())
        );
    }

    // The dedupe window survived for the messages still stored.
    for i in [4u64, 5, 8] {
        let subject = &acked[(i - 1) as usize].1;
        let dup = send(js, subject, with_id(&format!("o{i}"), &format!("oid-{i}"))).await;
        assert_eq!((dup.sequence, dup.duplicate), (i, true), "oid-{i}");
    }
    // Expected-last checks see the restored state.
    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_sequence(8);
    assert_publish_refused(
        try_send(js, "orders.a", msg).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 9",
    );
    let msg = PublishMessage::build()
        .payload("x".into())
        .expected_last_subject_sequence(5);
    assert_publish_refused(
        try_send(js, "orders.a", msg).await,
        PublishErrorKind::WrongLastSequence,
        400,
        10071,
        "wrong last sequence: 6",
    );
    let msg = with_id("o10", "oid-10").expected_last_subject_sequence(6);
    let ack = send(js, "orders.a", msg).await;
    assert_eq!((ack.sequence, ack.duplicate), (10, false));
    // Limits still apply: orders.a keeps 2 (6 and 10; 9 was deleted).
    let state = info(&orders_stream).await.state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (6, 4, 10)
    );
    send(js, "orders.a", with_id("o11", "oid-11")).await;
    assert_get_missing(&orders_stream, 6).await;

    let empty_stream = within("get", js.get_stream("EMPTY"))
        .await
        .expect("EMPTY after restart");
    assert_eq!(empty_stream.cached_info().state, empty_before.state);
    assert_eq!(
        (
            empty_before.state.messages,
            empty_before.state.first_sequence,
            empty_before.state.last_sequence
        ),
        (0, 4, 3)
    );
    assert_eq!(publish(js, "empty", "4").await.sequence, 4);

    // And a second restart after new writes.
    let s = s.restart().await;
    let orders_stream = within("get", s.js.get_stream("ORDERS"))
        .await
        .expect("ORDERS after second restart");
    assert_eq!(orders_stream.cached_info().state.last_sequence, 11);
    let dup = send(&s.js, "orders.a", with_id("o10", "oid-10")).await;
    assert_eq!((dup.sequence, dup.duplicate), (10, true));
    assert_eq!(publish(&s.js, "orders.b", "o12").await.sequence, 12);
    let empty_stream = within("get", s.js.get_stream("EMPTY"))
        .await
        .expect("EMPTY after second restart");
    let state = &empty_stream.cached_info().state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (1, 4, 4)
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn restart_keeps_config_changes_and_limits() {
    let s = Setup::new().await;
    let stream = create(&s.js, stream_config("CFG", &["cfg.>"])).await;
    for i in 1..=6 {
        publish(&s.js, "cfg.x", &format!("{i}")).await;
    }
    let mut config = stream.cached_info().config.clone();
    config.max_messages = 8;
    config.subjects = vec!["cfg.>".to_string(), "more.*".to_string()];
    config.allow_direct = true;
    config.deny_delete = true;
    within("update", s.js.update_stream(&config))
        .await
        .expect("update CFG");
    let before = info(&stream).await;

    let s = s.restart().await;
    let js = &s.js;
    let stream = within("get", js.get_stream("CFG"))
        .await
        .expect("CFG after restart");
    assert_eq!(stream.cached_info().config, before.config);
    assert_eq!(stream.cached_info().state, before.state);
    for seq in 7..=9 {
        assert_eq!(publish(js, "more.y", &format!("{seq}")).await.sequence, seq);
    }
    let state = info(&stream).await.state;
    assert_eq!((state.messages, state.first_sequence), (8, 2));
    let direct = within("direct", stream.direct_get(9))
        .await
        .expect("direct get after restart");
    assert_eq!(payload(&direct), "9");
    expect_delete_refused(
        &stream,
        9,
        "deny_delete after restart",
        500,
        10057,
        "message delete not permitted",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn update_applies_lower_limits_to_stored_messages() {
    let s = Setup::new().await;
    let js = &s.js;
    let stream = create(js, stream_config("LOWER", &["lower.*"])).await;
    for i in 1..=6 {
        publish(js, &format!("lower.{}", i % 2), &format!("{i}")).await;
    }

    let mut config = stream.cached_info().config.clone();
    config.max_messages = 3;
    let updated = within("update", js.update_stream(&config))
        .await
        .expect("update max_msgs");
    assert_eq!(
        (updated.state.messages, updated.state.first_sequence),
        (3, 4),
        "update reply state"
    );
    let state = info(&stream).await.state;
    assert_eq!(
        (state.messages, state.first_sequence, state.last_sequence),
        (3, 4, 6)
    );

    config.max_bytes = (2 * file_size("lower.0", "6")) as i64;
    let updated = within("update", js.update_stream(&config))
        .await
        .expect("update max_bytes");
    assert_eq!(
        (updated.state.messages, updated.state.first_sequence),
        (2, 5),
        "update reply state"
    );
    assert_eq!(
        stored(&stream).await,
        triples(&[(5, "lower.1", "5"), (6, "lower.0", "6")])
    );
}
