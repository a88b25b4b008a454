//! The key-value store end to end, as async-nats 0.51's `jetstream::kv`
//! drives it over plain JetStream: bucket create/open/status/delete, put,
//! get, entry and entry by revision, create and update with their expected
//! revisions, delete and purge markers, history, keys, every kind of watch
//! (one key, many keys, with history, all keys, from a revision, and the
//! "end of initial data" the client works out), per-key TTLs with limit
//! markers, a watcher across a restart, and the refusals.
//!
//! Every test starts its own server with JetStream on over a fresh
//! temporary store directory; every wait is bounded. Setting
//! `TERN_JS_REFERENCE=/path/to/nats-server` runs the same tests against the
//! reference server instead (spawned with `-js -sd DIR` on a fixed port, so
//! a restart comes back where the client reconnects).

mod harness;

use std::path::{Path, PathBuf};
use std::time::Duration;

use async_nats::jetstream::context::CreateKeyValueErrorKind;
use async_nats::jetstream::context::KeyValueErrorKind;
use async_nats::jetstream::kv::{
    self, CreateErrorKind, Entry, EntryErrorKind, Operation, PutErrorKind, Store, UpdateErrorKind,
    Watch, WatchErrorKind,
};
use async_nats::jetstream::stream::{DeleteMessageErrorKind, DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use async_nats::Client;
use bytes::Bytes;
use futures::{StreamExt, TryStreamExt};

use harness::js_server::Server;
use harness::{connect, free_port, within, within_for};

/// The bound on waits for TTL expiry: the TTLs here are 1-2 s, and the
/// reference checks expiry on its own timers.
const EXPIRY_WAIT: Duration = Duration::from_secs(8);

// ---------------------------------------------------------------------------
// Servers

/// A server, a client and its JetStream context, over a temporary store.
struct Setup {
    dir: tempfile::TempDir,
    port: u16,
    server: Server,
    client: Client,
    js: Context,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let port = free_port();
        let server = Server::start_on(&store_dir(dir.path()), port).await;
        let client = connect(server.addr()).await;
        let js = jetstream::new(client.clone());
        Setup {
            dir,
            port,
            server,
            client,
            js,
        }
    }

    /// Stops the server cleanly and starts a new one on the same store
    /// directory and port; the client stays and reconnects by itself.
    async fn restart(self) -> Setup {
        let Setup {
            dir,
            port,
            server,
            client,
            js,
        } = self;
        server.stop().await;
        let server = Server::start_on(&store_dir(dir.path()), port).await;
        Setup {
            dir,
            port,
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

fn bucket_config(bucket: &str) -> kv::Config {
    kv::Config {
        bucket: bucket.to_string(),
        history: 10,
        ..Default::default()
    }
}

async fn create_bucket(js: &Context, config: kv::Config) -> Store {
    let name = config.bucket.clone();
    within("create bucket", js.create_key_value(config))
        .await
        .unwrap_or_else(|e| panic!("create bucket {name}: {e}"))
}

async fn put(kv: &Store, key: &str, value: &str) -> u64 {
    within("kv put", kv.put(key, Bytes::from(value.to_string())))
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e}"))
}

async fn get(kv: &Store, key: &str) -> Option<String> {
    within("kv get", kv.get(key))
        .await
        .unwrap_or_else(|e| panic!("get {key}: {e}"))
        .map(|v| String::from_utf8_lossy(&v).into_owned())
}

async fn entry(kv: &Store, key: &str) -> Option<Entry> {
    within("kv entry", kv.entry(key))
        .await
        .unwrap_or_else(|e| panic!("entry {key}: {e}"))
}

async fn history(kv: &Store, key: &str) -> Vec<Entry> {
    let hist = within("kv history", kv.history(key))
        .await
        .unwrap_or_else(|e| panic!("history {key}: {e}"));
    within("history to end", hist.try_collect::<Vec<_>>())
        .await
        .unwrap_or_else(|e| panic!("history {key}: {e}"))
}

async fn keys(kv: &Store) -> Vec<String> {
    let keys = within("kv keys", kv.keys())
        .await
        .unwrap_or_else(|e| panic!("keys: {e}"));
    let mut keys = within("keys to end", keys.try_collect::<Vec<_>>())
        .await
        .unwrap_or_else(|e| panic!("keys: {e}"));
    keys.sort();
    keys
}

async fn next_entry(watch: &mut Watch) -> Entry {
    within("watched entry", watch.next())
        .await
        .expect("watch still open")
        .unwrap_or_else(|e| panic!("watch: {e}"))
}

/// (key, value, operation) of an entry, for compact assertions.
fn kvo(entry: &Entry) -> (String, String, Operation) {
    (
        entry.key.clone(),
        String::from_utf8_lossy(&entry.value).into_owned(),
        entry.operation,
    )
}

fn put_op(key: &str, value: &str) -> (String, String, Operation) {
    (key.to_string(), value.to_string(), Operation::Put)
}

fn marker(key: &str, op: Operation) -> (String, String, Operation) {
    (key.to_string(), String::new(), op)
}

/// The JetStream API error somewhere in `err`'s chain of sources.
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

/// Waits until `key` has no value (a TTL or max_age removed it).
async fn wait_gone(kv: &Store, key: &str) {
    within_for(EXPIRY_WAIT, "key to expire", async {
        loop {
            if get(kv, key).await.is_none() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

// ---------------------------------------------------------------------------
// Buckets

#[tokio::test]
async fn create_bucket_sets_the_stream_config_and_status() {
    let s = Setup::new().await;
    let kv = create_bucket(
        &s.js,
        kv::Config {
            bucket: "cfg".to_string(),
            description: "settings".to_string(),
            history: 5,
            max_age: Duration::from_secs(60),
            max_value_size: 128,
            storage: StorageType::File,
            ..Default::default()
        },
    )
    .await;
    let info = kv.stream.cached_info();
    assert_eq!(info.config.name, "KV_cfg");
    assert_eq!(info.config.subjects, vec!["$KV.cfg.>".to_string()]);
    assert_eq!(info.config.max_messages_per_subject, 5);
    assert_eq!(info.config.max_age, Duration::from_secs(60));
    assert_eq!(info.config.max_message_size, 128);
    assert_eq!(info.config.discard, DiscardPolicy::New);
    assert!(info.config.allow_rollup);
    assert!(info.config.deny_delete);
    assert!(!info.config.deny_purge);
    assert!(info.config.allow_direct);
    // max_age below the default 2 m duplicate window shortens the window.
    assert_eq!(info.config.duplicate_window, Duration::from_secs(60));
    assert_eq!(info.config.storage, StorageType::File);

    put(&kv, "a", "1").await;
    put(&kv, "b", "2").await;

    // Open again by name: STREAM.INFO, so the status is fresh.
    let opened = within("open bucket", s.js.get_key_value("cfg"))
        .await
        .expect("open bucket cfg");
    let status = within("status", opened.status()).await.expect("status");
    assert_eq!(status.bucket(), "cfg");
    assert_eq!(status.values(), 2);
    assert_eq!(status.history(), 5);
    assert_eq!(status.max_age(), Duration::from_secs(60));
    assert_eq!(get(&opened, "b").await.as_deref(), Some("2"));

    // A memory bucket with the defaults: history 1.
    let mem = create_bucket(
        &s.js,
        kv::Config {
            bucket: "mem".to_string(),
            storage: StorageType::Memory,
            ..Default::default()
        },
    )
    .await;
    assert_eq!(mem.stream.cached_info().config.storage, StorageType::Memory);
    assert_eq!(mem.stream.cached_info().config.max_messages_per_subject, 1);
    assert_eq!(
        mem.stream.cached_info().config.duplicate_window,
        Duration::from_secs(120)
    );
    put(&mem, "k", "1").await;
    put(&mem, "k", "2").await;
    let hist = history(&mem, "k").await;
    assert_eq!(
        hist.iter().map(kvo).collect::<Vec<_>>(),
        vec![put_op("k", "2")]
    );

    // Opening a bucket that does not exist.
    let err = within("open missing", s.js.get_key_value("nope"))
        .await
        .expect_err("no bucket nope");
    assert_eq!(err.kind(), KeyValueErrorKind::GetBucket, "{err}");
}

#[tokio::test]
async fn delete_bucket_and_create_it_again() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("gone")).await;
    put(&kv, "a", "1").await;
    put(&kv, "a", "2").await;
    let status = within("delete bucket", s.js.delete_key_value("gone"))
        .await
        .expect("delete bucket");
    assert!(status.success);

    let err = within("open deleted", s.js.get_key_value("gone"))
        .await
        .expect_err("bucket gone is deleted");
    assert_eq!(err.kind(), KeyValueErrorKind::GetBucket, "{err}");
    let names: Vec<String> = within("stream names", s.js.stream_names().try_collect())
        .await
        .expect("stream names");
    assert!(!names.contains(&"KV_gone".to_string()), "{names:?}");

    // Again from scratch: revisions start at 1.
    let kv = create_bucket(&s.js, bucket_config("gone")).await;
    assert_eq!(put(&kv, "a", "new").await, 1);
    assert_eq!(get(&kv, "a").await.as_deref(), Some("new"));
}

// ---------------------------------------------------------------------------
// Values

#[tokio::test]
async fn put_get_entry_and_entry_for_revision() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("vals")).await;

    assert_eq!(get(&kv, "a").await, None);
    assert!(entry(&kv, "a").await.is_none());

    let r1 = put(&kv, "a", "one").await;
    let r2 = put(&kv, "b", "bee").await;
    let r3 = put(&kv, "a", "two").await;
    assert_eq!((r1, r2, r3), (1, 2, 3));

    assert_eq!(get(&kv, "a").await.as_deref(), Some("two"));
    let e = entry(&kv, "a").await.expect("entry a");
    assert_eq!(e.bucket, "vals");
    assert_eq!(e.key, "a");
    assert_eq!(e.value, Bytes::from("two"));
    assert_eq!(e.revision, 3);
    assert_eq!(e.operation, Operation::Put);

    // Keys with dots, dashes, slashes, equals signs.
    put(&kv, "x.y/z-1_=", "odd").await;
    assert_eq!(get(&kv, "x.y/z-1_=").await.as_deref(), Some("odd"));

    let old = within("entry_for_revision", kv.entry_for_revision("a", r1))
        .await
        .expect("entry_for_revision")
        .expect("revision 1 of a");
    assert_eq!((old.revision, old.value), (1, Bytes::from("one")));
    // A revision of another key is not an entry of this key.
    let other = within("entry_for_revision", kv.entry_for_revision("a", r2))
        .await
        .expect("entry_for_revision");
    assert!(other.is_none(), "{other:?}");
    // A revision past the end.
    let missing = within("entry_for_revision", kv.entry_for_revision("a", 99))
        .await
        .expect("entry_for_revision");
    assert!(missing.is_none(), "{missing:?}");

    // An empty value is a value.
    within("put empty", kv.put("empty", Bytes::new()))
        .await
        .expect("put empty");
    assert_eq!(get(&kv, "empty").await.as_deref(), Some(""));
}

#[tokio::test]
async fn create_conflicts_then_succeeds_after_delete_and_purge() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("cr")).await;

    let r1 = within("create", kv.create("k", Bytes::from("v1")))
        .await
        .expect("first create");
    assert_eq!(r1, 1);

    let err = within("create again", kv.create("k", Bytes::from("v2")))
        .await
        .expect_err("key k exists");
    assert_eq!(err.kind(), CreateErrorKind::AlreadyExists, "{err}");
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v1"));

    within("delete", kv.delete("k")).await.expect("delete k");
    let r3 = within("create after delete", kv.create("k", Bytes::from("v3")))
        .await
        .expect("create after delete");
    assert_eq!(r3, 3);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v3"));

    within("purge", kv.purge("k")).await.expect("purge k");
    let r5 = within("create after purge", kv.create("k", Bytes::from("v5")))
        .await
        .expect("create after purge");
    assert_eq!(r5, 5);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v5"));
}

#[tokio::test]
async fn update_needs_the_latest_revision() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("upd")).await;
    let r1 = put(&kv, "k", "v1").await;
    put(&kv, "other", "x").await;

    let r3 = within("update", kv.update("k", Bytes::from("v2"), r1))
        .await
        .expect("update at the latest revision");
    assert_eq!(r3, 3);

    let err = within("stale update", kv.update("k", Bytes::from("v3"), r1))
        .await
        .expect_err("revision 1 is stale");
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    let api = api_error(&err).expect("a JetStream API error");
    assert_eq!(api.error_code().0, 10071, "{api}");
    assert!(api.to_string().contains("wrong last sequence: 3"), "{api}");
    assert_eq!(get(&kv, "k").await.as_deref(), Some("v2"));

    // An update of a key that has never been written, at revision 1.
    let err = within("update missing", kv.update("nokey", Bytes::from("v"), 1))
        .await
        .expect_err("nokey has no revision 1");
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");

    // Delete with an expected revision.
    let err = within("stale delete", kv.delete_expect_revision("k", Some(r1)))
        .await
        .expect_err("delete at a stale revision");
    assert_eq!(err.kind(), UpdateErrorKind::WrongLastRevision, "{err}");
    within("delete", kv.delete_expect_revision("k", Some(r3)))
        .await
        .expect("delete at the latest revision");
    assert_eq!(get(&kv, "k").await, None);
}

#[tokio::test]
async fn delete_and_purge_leave_markers_in_history() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("dp")).await;
    put(&kv, "k", "1").await;
    put(&kv, "k", "2").await;
    put(&kv, "other", "o").await;
    put(&kv, "k", "3").await;

    within("delete", kv.delete("k")).await.expect("delete k");
    assert_eq!(get(&kv, "k").await, None);
    let e = entry(&kv, "k").await.expect("the delete marker");
    assert_eq!((e.operation, e.revision), (Operation::Delete, 5));
    assert!(e.value.is_empty());
    let hist = history(&kv, "k").await;
    assert_eq!(
        hist.iter().map(kvo).collect::<Vec<_>>(),
        vec![
            put_op("k", "1"),
            put_op("k", "2"),
            put_op("k", "3"),
            marker("k", Operation::Delete),
        ]
    );
    assert_eq!(
        hist.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![1, 2, 4, 5]
    );

    within("purge", kv.purge("k")).await.expect("purge k");
    assert_eq!(get(&kv, "k").await, None);
    let e = entry(&kv, "k").await.expect("the purge marker");
    assert_eq!((e.operation, e.revision), (Operation::Purge, 6));
    // The rollup removed everything older of k; other keys stay.
    let hist = history(&kv, "k").await;
    assert_eq!(
        hist.iter().map(kvo).collect::<Vec<_>>(),
        vec![marker("k", Operation::Purge)]
    );
    assert_eq!(get(&kv, "other").await.as_deref(), Some("o"));
    let status = within("status", s.js.get_key_value("dp"))
        .await
        .expect("open dp")
        .status()
        .await
        .expect("status");
    assert_eq!(status.values(), 2, "the purge marker and other");

    // History of a key never written ends at once, empty.
    assert!(history(&kv, "never").await.is_empty());

    // deny_delete: the message delete API is refused on a bucket.
    let stream = within("stream", s.js.get_stream("KV_dp"))
        .await
        .expect("KV_dp");
    let err = within("msg delete", stream.delete_message(3))
        .await
        .expect_err("deny_delete");
    match err.kind() {
        DeleteMessageErrorKind::JetStream(api) => {
            assert_eq!((api.code(), api.error_code().0), (500, 10057), "{api}")
        }
        other => panic!("not an API error: {other:?}"),
    }
}

#[tokio::test]
async fn keys_skip_deleted_and_purged() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("keys")).await;
    assert!(keys(&kv).await.is_empty(), "no keys in a new bucket");

    put(&kv, "a", "1").await;
    put(&kv, "b", "1").await;
    put(&kv, "c", "1").await;
    put(&kv, "a", "2").await;
    put(&kv, "d.e", "1").await;
    within("delete", kv.delete("b")).await.expect("delete b");
    within("purge", kv.purge("c")).await.expect("purge c");
    assert_eq!(keys(&kv).await, vec!["a".to_string(), "d.e".to_string()]);

    // A deleted key that is written again is back.
    put(&kv, "b", "again").await;
    assert_eq!(
        keys(&kv).await,
        vec!["a".to_string(), "b".to_string(), "d.e".to_string()]
    );

    // Only deleted keys: the stream is not empty but no key is listed.
    let kv2 = create_bucket(&s.js, bucket_config("keys2")).await;
    put(&kv2, "x", "1").await;
    within("delete", kv2.delete("x")).await.expect("delete x");
    assert!(keys(&kv2).await.is_empty());
}

// ---------------------------------------------------------------------------
// Watches

#[tokio::test]
async fn watch_one_key_sees_only_new_changes_of_it() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("w1")).await;
    put(&kv, "a", "old").await;

    let mut watch = within("watch", kv.watch("a")).await.expect("watch a");
    put(&kv, "b", "not watched").await;
    put(&kv, "a", "new").await;
    within("delete", kv.delete("a")).await.expect("delete a");
    within("purge", kv.purge("a")).await.expect("purge a");

    let e = next_entry(&mut watch).await;
    assert_eq!(kvo(&e), put_op("a", "new"));
    assert_eq!(e.revision, 3);
    assert_eq!(e.bucket, "w1");
    assert!(e.seen_current, "deliver new: nothing initial to wait for");
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision), (marker("a", Operation::Delete), 4));
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision), (marker("a", Operation::Purge), 5));

    // A wildcard key spec.
    let mut watch = within("watch", kv.watch("x.*")).await.expect("watch x.*");
    put(&kv, "x", "no").await;
    put(&kv, "x.y.z", "no").await;
    put(&kv, "x.y", "yes").await;
    assert_eq!(kvo(&next_entry(&mut watch).await), put_op("x.y", "yes"));
}

#[tokio::test]
async fn watch_many_sees_each_named_key() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("wm")).await;
    put(&kv, "a", "old").await;
    let mut watch = within("watch_many", kv.watch_many(["a", "b"]))
        .await
        .expect("watch_many");
    put(&kv, "c", "no").await;
    put(&kv, "b", "1").await;
    put(&kv, "c", "no").await;
    put(&kv, "a", "2").await;
    assert_eq!(kvo(&next_entry(&mut watch).await), put_op("b", "1"));
    assert_eq!(kvo(&next_entry(&mut watch).await), put_op("a", "2"));

    // With history: the latest of each named key first.
    let mut watch = within(
        "watch_many_with_history",
        kv.watch_many_with_history(["a", "c"]),
    )
    .await
    .expect("watch_many_with_history");
    let first = next_entry(&mut watch).await;
    let second = next_entry(&mut watch).await;
    assert_eq!(kvo(&first), put_op("c", "no"));
    assert_eq!((kvo(&second), second.delta), (put_op("a", "2"), 0));
    assert!(!first.seen_current && second.seen_current);
}

#[tokio::test]
async fn watch_with_history_gives_the_latest_then_live_updates() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("wh")).await;

    // On a key with no entries the initial data is already over.
    let mut empty = within("watch_with_history", kv.watch_with_history("z"))
        .await
        .expect("watch_with_history z");

    put(&kv, "a", "1").await;
    put(&kv, "a", "2").await;
    let mut watch = within("watch_with_history", kv.watch_with_history("a"))
        .await
        .expect("watch_with_history a");
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision, e.delta), (put_op("a", "2"), 2, 0));
    assert!(e.seen_current);
    put(&kv, "a", "3").await;
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision), (put_op("a", "3"), 3));

    put(&kv, "z", "first").await;
    let e = next_entry(&mut empty).await;
    assert_eq!(kvo(&e), put_op("z", "first"));
    assert!(e.seen_current);

    // The latest entry of a deleted key is its delete marker.
    within("delete", kv.delete("a")).await.expect("delete a");
    let mut watch = within("watch_with_history", kv.watch_with_history("a"))
        .await
        .expect("watch_with_history a");
    let e = next_entry(&mut watch).await;
    assert_eq!(kvo(&e), marker("a", Operation::Delete));
}

#[tokio::test]
async fn watch_all_initial_values_end_of_initial_data_then_live() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("wa")).await;
    put(&kv, "a", "1").await;
    put(&kv, "b", "1").await;
    put(&kv, "a", "2").await;
    put(&kv, "c", "1").await;
    within("delete", kv.delete("c")).await.expect("delete c");

    // watch_all is deliver-new: only what comes after it.
    let mut live = within("watch_all", kv.watch_all())
        .await
        .expect("watch_all");

    // All keys with history: the latest per key, in stream order; the
    // last one carries pending 0, which is the end of initial data.
    let mut all = within("watch_with_history >", kv.watch_with_history(">"))
        .await
        .expect("watch all with history");
    let initial = [
        next_entry(&mut all).await,
        next_entry(&mut all).await,
        next_entry(&mut all).await,
    ];
    assert_eq!(
        initial.iter().map(kvo).collect::<Vec<_>>(),
        vec![
            put_op("b", "1"),
            put_op("a", "2"),
            marker("c", Operation::Delete)
        ]
    );
    assert_eq!(
        initial.iter().map(|e| e.revision).collect::<Vec<_>>(),
        vec![2, 3, 5]
    );
    assert_eq!(
        initial.iter().map(|e| e.delta).collect::<Vec<_>>(),
        vec![2, 1, 0]
    );
    assert_eq!(
        initial.iter().map(|e| e.seen_current).collect::<Vec<_>>(),
        vec![false, false, true]
    );

    put(&kv, "d", "live").await;
    for watch in [&mut all, &mut live] {
        let e = next_entry(watch).await;
        assert_eq!((kvo(&e), e.revision), (put_op("d", "live"), 6));
        assert!(e.seen_current);
    }
    within("purge", kv.purge("a")).await.expect("purge a");
    for watch in [&mut all, &mut live] {
        let e = next_entry(watch).await;
        assert_eq!((kvo(&e), e.revision), (marker("a", Operation::Purge), 7));
    }

    // On an empty bucket the initial data is over before anything comes.
    let kv2 = create_bucket(&s.js, bucket_config("wa2")).await;
    let mut all = within("watch_with_history >", kv2.watch_with_history(">"))
        .await
        .expect("watch all with history");
    put(&kv2, "k", "v").await;
    let e = next_entry(&mut all).await;
    assert_eq!(kvo(&e), put_op("k", "v"));
    assert!(e.seen_current);
}

#[tokio::test]
async fn watch_from_revision_replays_from_there() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("wr")).await;
    put(&kv, "a", "1").await;
    put(&kv, "b", "1").await;
    put(&kv, "a", "2").await;
    put(&kv, "a", "3").await;

    let mut watch = within("watch_from_revision", kv.watch_from_revision("a", 2))
        .await
        .expect("watch_from_revision");
    let got = [next_entry(&mut watch).await, next_entry(&mut watch).await];
    assert_eq!(
        got.iter()
            .map(|e| (e.revision, e.delta))
            .collect::<Vec<_>>(),
        vec![(3, 1), (4, 0)]
    );
    assert_eq!(
        got.iter().map(kvo).collect::<Vec<_>>(),
        vec![put_op("a", "2"), put_op("a", "3")]
    );

    let mut all = within("watch_all_from_revision", kv.watch_all_from_revision(2))
        .await
        .expect("watch_all_from_revision");
    let revs: Vec<u64> = [
        next_entry(&mut all).await,
        next_entry(&mut all).await,
        next_entry(&mut all).await,
    ]
    .iter()
    .map(|e| e.revision)
    .collect();
    assert_eq!(revs, vec![2, 3, 4]);

    put(&kv, "a", "4").await;
    assert_eq!(next_entry(&mut watch).await.revision, 5);
    assert_eq!(next_entry(&mut all).await.revision, 5);
}

#[tokio::test]
async fn watcher_resumes_after_a_server_restart() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("rs")).await;
    put(&kv, "a", "1").await;
    let mut watch = within("watch_all", kv.watch_all())
        .await
        .expect("watch_all");
    put(&kv, "a", "2").await;
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision), (put_op("a", "2"), 2));

    // Polled all along, as an application would, so the ordered consumer
    // sees the disconnect and the reconnect as they happen.
    let (tx, mut rx) = tokio::sync::mpsc::unbounded_channel();
    let forward = tokio::spawn(async move {
        while let Some(item) = watch.next().await {
            if tx.send(item).is_err() {
                return;
            }
        }
    });

    let s = s.restart().await;
    // The client reconnects on its own, and the ordered consumer is
    // recreated from the stream sequence after the last one it delivered.
    let kv = within_for(Duration::from_secs(15), "bucket after restart", async {
        loop {
            if let Ok(kv) = s.js.get_key_value("rs").await {
                return kv;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(get(&kv, "a").await.as_deref(), Some("2"));
    put(&kv, "b", "after").await;
    // A consumer that vanished while the client was away may first be
    // reported as a missed heartbeat (async-nats then recreates it).
    let e = within_for(Duration::from_secs(25), "entry after restart", async {
        loop {
            match rx.recv().await.expect("watch open") {
                Ok(entry) => return entry,
                Err(err) if err.kind() == kv::WatcherErrorKind::Consumer => continue,
                Err(err) => panic!("watch: {err}"),
            }
        }
    })
    .await;
    assert_eq!((kvo(&e), e.revision), (put_op("b", "after"), 3));
    forward.abort();
    s.server.stop().await;
}

// ---------------------------------------------------------------------------
// TTLs and limit markers

#[tokio::test]
async fn per_key_ttl_with_limit_markers() {
    let s = Setup::new().await;
    let kv = create_bucket(
        &s.js,
        kv::Config {
            bucket: "ttl".to_string(),
            history: 5,
            limit_markers: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    )
    .await;
    let cfg = &kv.stream.cached_info().config;
    assert!(cfg.allow_message_ttl);
    assert_eq!(cfg.subject_delete_marker_ttl, Some(Duration::from_secs(1)));

    put(&kv, "stay", "forever").await;
    let mut watch = within("watch_all", kv.watch_all())
        .await
        .expect("watch_all");
    let rev = within(
        "create_with_ttl",
        kv.create_with_ttl("k", Bytes::from("short"), Duration::from_secs(1)),
    )
    .await
    .expect("create_with_ttl");
    assert_eq!(rev, 2);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("short"));
    let e = next_entry(&mut watch).await;
    assert_eq!(kvo(&e), put_op("k", "short"));

    // The TTL removes the only message of k, and the server writes a
    // MaxAge marker in its place, which the client reads as a purge.
    let e = within_for(EXPIRY_WAIT, "limit marker", watch.next())
        .await
        .expect("watch open")
        .expect("marker entry");
    assert_eq!((kvo(&e), e.revision), (marker("k", Operation::Purge), 3));
    assert_eq!(get(&kv, "k").await, None);
    let marker_entry = entry(&kv, "k").await.expect("the marker is the entry");
    assert_eq!(marker_entry.operation, Operation::Purge);

    // A key whose last entry is a marker can be created again.
    let rev = within("create again", kv.create("k", Bytes::from("back")))
        .await
        .expect("create after the marker");
    assert_eq!(rev, 4);
    assert_eq!(get(&kv, "k").await.as_deref(), Some("back"));
    let e = next_entry(&mut watch).await;
    assert_eq!((kvo(&e), e.revision), (put_op("k", "back"), 4));

    // The untouched key is still there.
    assert_eq!(get(&kv, "stay").await.as_deref(), Some("forever"));
}

#[tokio::test]
async fn limit_marker_expires_itself() {
    let s = Setup::new().await;
    let kv = create_bucket(
        &s.js,
        kv::Config {
            bucket: "mk".to_string(),
            limit_markers: Some(Duration::from_secs(1)),
            ..Default::default()
        },
    )
    .await;
    within(
        "create_with_ttl",
        kv.create_with_ttl("k", Bytes::from("v"), Duration::from_secs(1)),
    )
    .await
    .expect("create_with_ttl");
    wait_gone(&kv, "k").await;
    // The marker (TTL 1 s) goes too, and the bucket is empty.
    within_for(EXPIRY_WAIT, "marker to expire", async {
        loop {
            let info =
                s.js.get_stream("KV_mk")
                    .await
                    .expect("stream")
                    .cached_info()
                    .clone();
            if info.state.messages == 0 {
                assert!(entry(&kv, "k").await.is_none());
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn bucket_max_age_with_markers() {
    let s = Setup::new().await;
    let kv = create_bucket(
        &s.js,
        kv::Config {
            bucket: "age".to_string(),
            max_age: Duration::from_secs(1),
            limit_markers: Some(Duration::from_secs(2)),
            ..Default::default()
        },
    )
    .await;
    assert_eq!(
        kv.stream.cached_info().config.duplicate_window,
        Duration::from_secs(1)
    );
    let mut watch = within("watch_all", kv.watch_all())
        .await
        .expect("watch_all");
    put(&kv, "k", "v").await;
    assert_eq!(kvo(&next_entry(&mut watch).await), put_op("k", "v"));
    let e = within_for(EXPIRY_WAIT, "max_age marker", watch.next())
        .await
        .expect("watch open")
        .expect("marker entry");
    assert_eq!((kvo(&e), e.revision), (marker("k", Operation::Purge), 2));
    assert_eq!(get(&kv, "k").await, None);
}

#[tokio::test]
async fn ttl_needs_limit_markers() {
    let s = Setup::new().await;
    let kv = create_bucket(&s.js, bucket_config("nottl")).await;
    let err = within(
        "create_with_ttl",
        kv.create_with_ttl("k", Bytes::from("v"), Duration::from_secs(1)),
    )
    .await
    .expect_err("the bucket does not allow per-message TTLs");
    let api = api_error(&err).expect("a JetStream API error");
    assert_eq!(api.error_code().0, 10166, "{api}");
    assert_eq!(get(&kv, "k").await, None);
}

// ---------------------------------------------------------------------------
// Bad input

#[tokio::test]
async fn bad_names_keys_and_values_are_refused() {
    let s = Setup::new().await;

    // Client-side checks.
    for name in ["", "a.b", "a b", "a*", "a>"] {
        let err = within(
            "create bad bucket",
            s.js.create_key_value(kv::Config {
                bucket: name.to_string(),
                ..Default::default()
            }),
        )
        .await
        .expect_err("bad bucket name");
        assert_eq!(
            err.kind(),
            CreateKeyValueErrorKind::InvalidStoreName,
            "{name:?}: {err}"
        );
        let err = within("open bad bucket", s.js.get_key_value(name))
            .await
            .expect_err("bad bucket name");
        assert_eq!(err.kind(), KeyValueErrorKind::InvalidStoreName, "{name:?}");
    }
    let err = within(
        "create long history",
        s.js.create_key_value(kv::Config {
            bucket: "long".to_string(),
            history: 65,
            ..Default::default()
        }),
    )
    .await
    .expect_err("history over 64");
    assert_eq!(err.kind(), CreateKeyValueErrorKind::TooLongHistory);

    let kv = create_bucket(
        &s.js,
        kv::Config {
            bucket: "small".to_string(),
            max_value_size: 8,
            ..Default::default()
        },
    )
    .await;
    for key in ["", ".a", "a.", "a b", "a*", "a>", "a\u{e9}"] {
        let err = within("put bad key", kv.put(key, Bytes::from("v")))
            .await
            .expect_err("bad key");
        assert_eq!(err.kind(), PutErrorKind::InvalidKey, "{key:?}");
        let err = within("get bad key", kv.get(key))
            .await
            .expect_err("bad key");
        assert_eq!(err.kind(), EntryErrorKind::InvalidKey, "{key:?}");
        let err = within("create bad key", kv.create(key, Bytes::from("v")))
            .await
            .expect_err("bad key");
        assert_eq!(err.kind(), CreateErrorKind::InvalidKey, "{key:?}");
    }
    let err = within("history bad key", kv.history(".a"))
        .await
        .err()
        .expect("bad key");
    assert_eq!(err.kind(), WatchErrorKind::InvalidKey);

    // Server-side: a value over max_value_size.
    put(&kv, "fits", "12345678").await;
    let err = within("put too big", kv.put("big", Bytes::from("123456789")))
        .await
        .expect_err("value over max_value_size");
    assert_eq!(err.kind(), PutErrorKind::Ack, "{err}");
    let api = api_error(&err).expect("a JetStream API error");
    assert_eq!((api.code(), api.error_code().0), (400, 10054), "{api}");
    assert!(
        api.to_string()
            .contains("message size exceeds maximum allowed"),
        "{api}"
    );
    assert_eq!(get(&kv, "big").await, None);
    assert_eq!(get(&kv, "fits").await.as_deref(), Some("12345678"));
}
