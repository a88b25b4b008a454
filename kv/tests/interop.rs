//! The in-process KV against a real tern, and interop with async-nats's KV
//! in both directions: values, revisions, deletes and purges, history,
//! keys and watchers written on one side are seen on the other.

use std::future::Future;
use std::time::Duration;

use async_nats::jetstream::{self, kv};
use bytes::Bytes;
use futures::StreamExt;
use tern::{Options, Running};
use tern_kv::{Config, Kv, KvError, Operation};

const WAIT: Duration = Duration::from_secs(5);

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    server: Running,
    kv: Kv,
    js: jetstream::Context,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = tern::start(Options {
            jetstream: true,
            store_dir: Some(dir.path().join("store")),
            ..Options::loopback()
        })
        .await
        .expect("tern starts");
        let client = within(
            "connect",
            async_nats::connect(format!("nats://{}", server.addr())),
        )
        .await
        .expect("connect");
        Setup {
            _dir: dir,
            kv: Kv::new(server.server().connect()).expect("the KV"),
            js: jetstream::new(client),
            server,
        }
    }

    async fn stop(self) {
        drop(self.kv);
        within("shutdown", self.server.shutdown()).await;
    }
}

fn b(s: &str) -> Bytes {
    Bytes::from(s.to_string())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn values_cross_both_ways() {
    let s = Setup::new().await;
    let mut config = Config::new("cfg");
    config.history = 5;
    let bucket = within("create", s.kv.create_bucket(config))
        .await
        .expect("bucket");
    let rev = within("put", bucket.put("colour", b("blue")))
        .await
        .expect("put");
    assert_eq!(rev, 1);

    let remote = within("open", s.js.get_key_value("cfg"))
        .await
        .expect("open");
    let e = within("get", remote.entry("colour"))
        .await
        .expect("entry")
        .expect("set");
    assert_eq!((e.value, e.revision), (b("blue"), 1));

    let rev2 = within("remote put", remote.put("colour", b("green")))
        .await
        .expect("put");
    assert_eq!(rev2, 2);
    let e = within("get", bucket.get("colour"))
        .await
        .expect("get")
        .expect("set");
    assert_eq!(
        (e.value, e.revision, e.operation),
        (b("green"), 2, Operation::Put)
    );
    let old = within("rev", bucket.entry_for_revision("colour", 1))
        .await
        .expect("rev")
        .expect("kept");
    assert_eq!(old.value, b("blue"));
    assert!(within("rev", bucket.entry_for_revision("other", 1))
        .await
        .expect("rev")
        .is_none());

    let status = within("status", bucket.status()).await.expect("status");
    assert_eq!((status.values, status.history), (2, 5));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn create_update_delete_purge_as_the_clients_do() {
    let s = Setup::new().await;
    let mut config = Config::new("ops");
    config.history = 10;
    let bucket = within("create", s.kv.create_bucket(config))
        .await
        .expect("bucket");
    let r1 = within("create", bucket.create("k", b("1")))
        .await
        .expect("create");
    let err = within("create again", bucket.create("k", b("2")))
        .await
        .unwrap_err();
    assert_eq!(
        err,
        KvError::AlreadyExists {
            key: "k".into(),
            revision: r1
        }
    );
    let r2 = within("update", bucket.update("k", b("2"), r1))
        .await
        .expect("update");
    let stale = within("stale", bucket.update("k", b("3"), r1))
        .await
        .unwrap_err();
    assert!(matches!(stale, KvError::WrongLastRevision(_)), "{stale:?}");
    within("delete", bucket.delete("k")).await.expect("delete");
    assert!(within("get", bucket.get("k")).await.expect("get").is_none());
    let marker = within("entry", bucket.entry("k"))
        .await
        .expect("entry")
        .expect("marker");
    assert_eq!(marker.operation, Operation::Delete);
    // A deleted key may be created again.
    let r4 = within("create after delete", bucket.create("k", b("4")))
        .await
        .expect("create");
    assert!(r4 > r2);
    let history = within("history", bucket.history("k"))
        .await
        .expect("history");
    let ops: Vec<(String, Operation)> = history
        .iter()
        .map(|e| (String::from_utf8_lossy(&e.value).into_owned(), e.operation))
        .collect();
    assert_eq!(
        ops,
        vec![
            ("1".into(), Operation::Put),
            ("2".into(), Operation::Put),
            ("".into(), Operation::Delete),
            ("4".into(), Operation::Put),
        ]
    );
    // async-nats sees the same history.
    let remote = within("open", s.js.get_key_value("ops"))
        .await
        .expect("open");
    let remote_history: Vec<u64> = within("remote history", async {
        let mut h = remote.history("k").await.expect("history");
        let mut out = Vec::new();
        while let Some(e) = h.next().await {
            out.push(e.expect("entry").revision);
        }
        out
    })
    .await;
    assert_eq!(
        remote_history,
        history.iter().map(|e| e.revision).collect::<Vec<_>>()
    );

    within("purge", bucket.purge("k")).await.expect("purge");
    let history = within("history", bucket.history("k"))
        .await
        .expect("history");
    assert_eq!(history.len(), 1);
    assert_eq!(history[0].operation, Operation::Purge);
    assert!(within("remote get", remote.get("k"))
        .await
        .expect("get")
        .is_none());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_skip_deleted_ones() {
    let s = Setup::new().await;
    let remote = within(
        "remote create",
        s.js.create_key_value(kv::Config {
            bucket: "keys".into(),
            history: 3,
            ..Default::default()
        }),
    )
    .await
    .expect("bucket");
    for k in ["a.1", "a.2", "b.1", "gone"] {
        within("put", remote.put(k, b("v"))).await.expect("put");
    }
    within("put again", remote.put("a.1", b("w")))
        .await
        .expect("put");
    within("delete", remote.delete("gone"))
        .await
        .expect("delete");
    let bucket = within("open", s.kv.bucket("keys")).await.expect("open");
    let mut keys = within("keys", bucket.keys(">")).await.expect("keys");
    keys.sort();
    assert_eq!(keys, vec!["a.1", "a.2", "b.1"]);
    let mut some = within("keys", bucket.keys("a.*")).await.expect("keys");
    some.sort();
    assert_eq!(some, vec!["a.1", "a.2"]);
    let empty = within("create", s.kv.create_bucket(Config::new("empty")))
        .await
        .expect("bucket");
    assert!(within("keys", empty.keys(">"))
        .await
        .expect("keys")
        .is_empty());
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn watchers_see_the_other_side() {
    let s = Setup::new().await;
    let bucket = within("create", s.kv.create_bucket(Config::new("w")))
        .await
        .expect("bucket");
    within("put", bucket.put("before", b("0")))
        .await
        .expect("put");
    let remote = within("open", s.js.get_key_value("w")).await.expect("open");

    // In-process watchers of async-nats writes.
    let mut live = within("watch", bucket.watch("x.*")).await.expect("watch");
    let mut all = within("watch all", bucket.watch_with_history(">"))
        .await
        .expect("watch");
    assert_eq!(all.initial_pending(), 1);
    let first = within("initial", all.next()).await.expect("entry");
    assert_eq!((first.key.as_str(), first.delta), ("before", 0));
    within("remote put", remote.put("x.1", b("1")))
        .await
        .expect("put");
    within("remote delete", remote.delete("x.1"))
        .await
        .expect("delete");
    let e = within("live", live.next()).await.expect("entry");
    assert_eq!(
        (e.key.as_str(), e.value.clone(), e.operation),
        ("x.1", b("1"), Operation::Put)
    );
    let e = within("live delete", live.next()).await.expect("entry");
    assert_eq!(e.operation, Operation::Delete);
    let e = within("all", all.next()).await.expect("entry");
    assert_eq!(e.key, "x.1");

    // An async-nats watcher of in-process writes.
    let mut remote_watch = within("remote watch", remote.watch("y"))
        .await
        .expect("watch");
    within("put", bucket.put("y", b("from inside")))
        .await
        .expect("put");
    let e = within("remote watch next", remote_watch.next())
        .await
        .expect("open")
        .expect("entry");
    assert_eq!((e.key.as_str(), e.value), ("y", b("from inside")));
    let from = within("from rev", bucket.watch_from_revision(">", 2))
        .await
        .expect("watch");
    // History 1: x.1's put was replaced by its delete marker.
    assert_eq!(from.initial_pending(), 2);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_names_and_missing_buckets() {
    let s = Setup::new().await;
    assert_eq!(
        within("bad bucket", s.kv.create_bucket(Config::new("a.b")))
            .await
            .unwrap_err(),
        KvError::InvalidBucketName("a.b".into())
    );
    assert_eq!(
        within("missing", s.kv.bucket("nope")).await.unwrap_err(),
        KvError::BucketNotFound("nope".into())
    );
    let mut config = Config::new("small");
    config.max_value_size = 4;
    let bucket = within("create", s.kv.create_bucket(config))
        .await
        .expect("bucket");
    assert_eq!(
        within("bad key", bucket.put(".x", b("v")))
            .await
            .unwrap_err(),
        KvError::InvalidKey(".x".into())
    );
    let big = within("too big", bucket.put("k", b("12345")))
        .await
        .unwrap_err();
    assert!(
        matches!(big, KvError::Api(ref e) if e.err_code == 10054),
        "{big:?}"
    );
    within("delete bucket", s.kv.delete_bucket("small"))
        .await
        .expect("delete");
    assert!(matches!(
        within("watch deleted", bucket.watch(">")).await.err(),
        Some(KvError::BucketNotFound(_))
    ));
    assert_eq!(
        within("names", s.kv.bucket_names()).await.expect("names"),
        Vec::<String>::new()
    );
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn memory_buckets_are_read_through_the_stream() {
    let s = Setup::new().await;
    let mut config = Config::new("mem");
    config.storage = tern_kv::Storage::Memory;
    config.history = 2;
    let bucket = within("create", s.kv.create_bucket(config))
        .await
        .expect("bucket");
    let r1 = within("put", bucket.put("k", b("1"))).await.expect("put");
    within("put", bucket.put("k", b("2"))).await.expect("put");
    let e = within("get", bucket.get("k"))
        .await
        .expect("get")
        .expect("set");
    assert_eq!(e.value, b("2"));
    let old = within("rev", bucket.entry_for_revision("k", r1))
        .await
        .expect("rev")
        .expect("kept");
    assert_eq!(old.value, b("1"));
    s.stop().await;
}
