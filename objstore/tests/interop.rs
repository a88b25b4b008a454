//! The in-process object store against a real tern, and interop with
//! async-nats's object store in both directions.

use std::future::{Future, IntoFuture};
use std::pin::Pin;
use std::task::{Context, Poll};
use std::time::Duration;

use async_nats::jetstream;
use futures::StreamExt;
use tern::{Options, Running};
use tern_objstore::{Config, ObjectError, ObjectMeta, ObjectOptions, ObjectStore};
use tokio::io::{AsyncRead, AsyncReadExt, ReadBuf};

const WAIT: Duration = Duration::from_secs(20);

async fn within<F: Future>(what: &str, fut: F) -> F::Output {
    match tokio::time::timeout(WAIT, fut).await {
        Ok(out) => out,
        Err(_) => panic!("timed out waiting for {what}"),
    }
}

struct Setup {
    _dir: tempfile::TempDir,
    server: Running,
    store: ObjectStore,
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
            store: ObjectStore::new(server.server().connect()).expect("the object store"),
            js: jetstream::new(client),
            server,
        }
    }

    async fn stop(self) {
        drop(self.store);
        within("shutdown", self.server.shutdown()).await;
    }

    async fn messages(&self, bucket: &str) -> u64 {
        let mut stream = within("stream", self.js.get_stream(format!("OBJ_{bucket}")))
            .await
            .expect("stream");
        within("info", stream.info())
            .await
            .expect("info")
            .state
            .messages
    }
}

/// Deterministic bytes of any length.
fn data(len: usize) -> Vec<u8> {
    (0..len).map(|i| (i * 31 % 251) as u8).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn objects_cross_both_ways() {
    let s = Setup::new().await;
    let bucket = within("create", s.store.create_bucket(Config::new("files")))
        .await
        .expect("bucket");
    let remote = within("open", s.js.get_object_store("files"))
        .await
        .expect("open");
    for (name, len) in [
        ("empty", 0),
        ("small", 10),
        ("one-chunk", 128 * 1024),
        ("multi", 700_000),
    ] {
        let bytes = data(len);
        let info = within("put", bucket.put_bytes(name, &bytes))
            .await
            .expect("put");
        assert_eq!(
            (info.size, info.chunks),
            (len as u64, len.div_ceil(128 * 1024) as u64)
        );
        let mut obj = within("remote get", remote.get(name))
            .await
            .expect("remote get");
        let mut got = Vec::new();
        within("remote read", obj.read_to_end(&mut got))
            .await
            .expect("read");
        assert_eq!(got, bytes, "{name} read by async-nats");
        let remote_info = within("remote info", remote.info(name))
            .await
            .expect("info");
        assert_eq!(remote_info.digest, info.digest);
    }
    let bytes = data(300_000);
    within(
        "remote put",
        remote.put("from-remote", &mut bytes.as_slice()),
    )
    .await
    .expect("remote put");
    let got = within("get", bucket.get_bytes("from-remote"))
        .await
        .expect("get");
    assert_eq!(got, bytes);
    let info = within("info", bucket.info("from-remote"))
        .await
        .expect("info");
    assert_eq!(info.size, 300_000);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn overwrite_delete_list_and_rename() {
    let s = Setup::new().await;
    let bucket = within("create", s.store.create_bucket(Config::new("b")))
        .await
        .expect("bucket");
    within("put", bucket.put_bytes("a", &data(300_000)))
        .await
        .expect("put");
    within("put", bucket.put_bytes("keep", b"k"))
        .await
        .expect("put");
    // 3 chunks + meta, 1 chunk + meta.
    assert_eq!(s.messages("b").await, 6);
    within("overwrite", bucket.put_bytes("a", b"short"))
        .await
        .expect("put");
    // The old chunks were purged: 1 + meta, 1 + meta.
    assert_eq!(s.messages("b").await, 4);
    assert_eq!(
        within("get", bucket.get_bytes("a")).await.expect("get"),
        b"short"
    );
    let mut names: Vec<String> = within("list", bucket.list())
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    names.sort();
    assert_eq!(names, vec!["a", "keep"]);
    within("delete", bucket.delete("a")).await.expect("delete");
    assert_eq!(
        within("get deleted", bucket.get("a")).await.err(),
        Some(ObjectError::NotFound("a".into()))
    );
    let names: Vec<String> = within("list", bucket.list())
        .await
        .expect("list")
        .into_iter()
        .map(|i| i.name)
        .collect();
    assert_eq!(names, vec!["keep"]);
    let remote = within("open", s.js.get_object_store("b"))
        .await
        .expect("open");
    assert!(within("remote get deleted", remote.get("a")).await.is_err());
    within(
        "rename",
        bucket.update_meta(
            "keep",
            ObjectMeta {
                description: Some("renamed".into()),
                ..ObjectMeta::named("kept")
            },
        ),
    )
    .await
    .expect("rename");
    assert!(within("old name", bucket.info("keep")).await.is_err());
    assert_eq!(
        within("get renamed", bucket.get_bytes("kept"))
            .await
            .expect("get"),
        b"k"
    );
    let remote_info = within("remote info", remote.info("kept"))
        .await
        .expect("info");
    assert_eq!(remote_info.description.as_deref(), Some("renamed"));
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn chunk_size_links_watch_and_seal() {
    let s = Setup::new().await;
    let bucket = within("create", s.store.create_bucket(Config::new("c")))
        .await
        .expect("bucket");
    let mut watch = within("watch", bucket.watch()).await.expect("watch");
    let meta = ObjectMeta {
        options: Some(ObjectOptions {
            link: None,
            max_chunk_size: Some(1000),
        }),
        ..ObjectMeta::named("tiny-chunks")
    };
    let info = within("put", bucket.put(meta, &data(4500)[..]))
        .await
        .expect("put");
    assert_eq!(info.chunks, 5);
    let seen = within("watch put", watch.next()).await.expect("change");
    assert_eq!(seen.name, "tiny-chunks");
    let link = within("link", bucket.link("alias", &info))
        .await
        .expect("link");
    assert_eq!(
        link.options
            .and_then(|o| o.link)
            .and_then(|l| l.name)
            .as_deref(),
        Some("tiny-chunks")
    );
    assert_eq!(
        within("via link", bucket.get_bytes("alias"))
            .await
            .expect("get"),
        data(4500)
    );
    let remote = within("open", s.js.get_object_store("c"))
        .await
        .expect("open");
    let mut obj = within("remote via link", remote.get("alias"))
        .await
        .expect("remote get");
    let mut got = Vec::new();
    within("read", obj.read_to_end(&mut got))
        .await
        .expect("read");
    assert_eq!(got, data(4500));
    // async-nats watches what the in-process store changes.
    let mut remote_watch = within("remote watch", remote.watch()).await.expect("watch");
    within("bucket link", bucket.link_bucket("other", "c"))
        .await
        .expect("link");
    let seen = within("remote watch next", remote_watch.next())
        .await
        .expect("open")
        .expect("change");
    assert_eq!(seen.name, "other");
    within("seal", bucket.seal()).await.expect("seal");
    assert!(
        within("status", bucket.status())
            .await
            .expect("status")
            .sealed
    );
    let refused = within("put sealed", bucket.put_bytes("late", b"x"))
        .await
        .err();
    assert!(refused.is_some(), "a sealed bucket took a put");
    s.stop().await;
}

/// Yields `len` bytes, then fails: a writer that goes away mid-put.
struct Broken {
    left: usize,
}

impl AsyncRead for Broken {
    fn poll_read(
        mut self: Pin<&mut Self>,
        _: &mut Context<'_>,
        buf: &mut ReadBuf<'_>,
    ) -> Poll<std::io::Result<()>> {
        if self.left == 0 {
            return Poll::Ready(Err(std::io::Error::other("source went away")));
        }
        let n = self.left.min(buf.remaining()).min(10_000);
        buf.put_slice(&vec![7u8; n]);
        self.left -= n;
        Poll::Ready(Ok(()))
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_put_that_fails_halfway_leaves_nothing() {
    let s = Setup::new().await;
    let bucket = within("create", s.store.create_bucket(Config::new("h")))
        .await
        .expect("bucket");
    within("put", bucket.put_bytes("other", b"untouched"))
        .await
        .expect("put");
    let before = s.messages("h").await;
    let err = within(
        "broken put",
        bucket.put(ObjectMeta::named("half"), Broken { left: 400_000 }),
    )
    .await
    .unwrap_err();
    assert!(matches!(err, ObjectError::Io(_)), "{err:?}");
    assert_eq!(
        s.messages("h").await,
        before,
        "chunks of the failed put remain"
    );
    assert!(within("info", bucket.info("half")).await.is_err());
    assert_eq!(
        within("get", bucket.get_bytes("other")).await.expect("get"),
        b"untouched"
    );
    assert_eq!(
        within("bad bucket", s.store.create_bucket(Config::new("a.b")))
            .await
            .err(),
        Some(ObjectError::InvalidBucketName("a.b".into()))
    );
    let remote = within("remote list", s.js.get_object_store("h"))
        .await
        .expect("open");
    let listed: Vec<String> = within("list", async {
        let mut l = remote.list().await.expect("list");
        let mut out = Vec::new();
        while let Some(i) = l.next().await {
            out.push(i.expect("info").name);
        }
        out
    })
    .await;
    assert_eq!(listed, vec!["other"]);
    s.stop().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_digest_mismatch_is_an_error_at_the_end() {
    let s = Setup::new().await;
    let bucket = within("create", s.store.create_bucket(Config::new("d")))
        .await
        .expect("bucket");
    let info = within("put", bucket.put_bytes("doc", b"original bytes"))
        .await
        .expect("put");
    // Replace the chunk with other bytes of the same length, as damage
    // on the way would.
    within("purge chunk", s.js.get_stream("OBJ_d"))
        .await
        .expect("stream")
        .purge()
        .filter(format!("$O.d.C.{}", info.nuid))
        .await
        .expect("purge");
    let ack = within(
        "tamper",
        s.js.publish(format!("$O.d.C.{}", info.nuid), "ORIGINAL BYTES".into()),
    )
    .await
    .expect("publish");
    within("tamper ack", ack.into_future()).await.expect("ack");
    let err = within("get", bucket.get_bytes("doc")).await.unwrap_err();
    assert!(matches!(err, ObjectError::DigestMismatch(_)), "{err:?}");
    s.stop().await;
}
