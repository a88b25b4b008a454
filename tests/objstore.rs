//! The object store end to end, as async-nats 0.51's `jetstream::object_store`
//! drives it over plain JetStream (stream `OBJ_<bucket>`, chunks on
//! `$O.<bucket>.C.<nuid>`, one rolled-up meta message per object on
//! `$O.<bucket>.M.<base64url(name)>`): buckets, put and get of objects of
//! every size class with the digest checked against our own SHA-256,
//! custom chunk sizes, overwrite purging the old chunks, info, list,
//! delete, renames, links, watch, seal, the refusals, and a bounded-memory
//! check of a large object through a spawned tern process.
//!
//! Every test starts its own server with JetStream on over a fresh
//! temporary store directory; every wait is bounded. Setting
//! `TERN_JS_REFERENCE=/path/to/nats-server` runs the same tests against the
//! reference server instead.

mod harness;

use std::time::Duration;

use async_nats::jetstream::context::{CreateKeyValueErrorKind, ObjectStoreErrorKind};
use async_nats::jetstream::object_store::{
    self, AddLinkErrorKind, DeleteErrorKind, GetErrorKind, InfoErrorKind, ObjectInfo,
    ObjectMetadata, ObjectStore, PutErrorKind, UpdateMetadata, UpdateMetadataErrorKind,
};
use async_nats::jetstream::stream::{DiscardPolicy, StorageType};
use async_nats::jetstream::{self, Context};
use futures::{StreamExt, TryStreamExt};
use tokio::io::AsyncReadExt;

use harness::js_server::{spawn_server, Server, REFERENCE_ENV};
use harness::{connect, within, within_for};

/// async-nats's default chunk size.
const CHUNK_BYTES: usize = 128 * 1024;

/// The bound on moving a large object (tens of MiB) through a debug build
/// on a shared two-core machine.
const BULK_WAIT: Duration = Duration::from_secs(60);

// ---------------------------------------------------------------------------
// Servers

/// A server, a client's JetStream context, over a temporary store.
struct Setup {
    _dir: tempfile::TempDir,
    _server: Server,
    js: Context,
}

impl Setup {
    async fn new() -> Setup {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Server::start(&dir.path().join("store")).await;
        let client = connect(server.addr()).await;
        Setup {
            _dir: dir,
            _server: server,
            js: jetstream::new(client),
        }
    }
}

// ---------------------------------------------------------------------------
// Helpers

async fn create_store(js: &Context, bucket: &str) -> ObjectStore {
    create_store_with(
        js,
        object_store::Config {
            bucket: bucket.to_string(),
            ..Default::default()
        },
    )
    .await
}

async fn create_store_with(js: &Context, config: object_store::Config) -> ObjectStore {
    let name = config.bucket.clone();
    within("create object store", js.create_object_store(config))
        .await
        .unwrap_or_else(|e| panic!("create object store {name}: {e}"))
}

async fn put(store: &ObjectStore, meta: impl Into<ObjectMetadata>, data: &[u8]) -> ObjectInfo {
    let meta: ObjectMetadata = meta.into();
    let name = meta.name.clone();
    let mut reader = data;
    within_for(BULK_WAIT, "object put", store.put(meta, &mut reader))
        .await
        .unwrap_or_else(|e| panic!("put {name}: {e}"))
}

/// Reads the whole object; async-nats checks the size and digest itself
/// as the last chunk arrives, and the caller compares the bytes.
async fn get(store: &ObjectStore, name: &str) -> Vec<u8> {
    let mut object = within("object get", store.get(name))
        .await
        .unwrap_or_else(|e| panic!("get {name}: {e}"));
    let mut out = Vec::new();
    within_for(BULK_WAIT, "object read", object.read_to_end(&mut out))
        .await
        .unwrap_or_else(|e| panic!("read {name}: {e}"));
    out
}

async fn info(store: &ObjectStore, name: &str) -> ObjectInfo {
    within("object info", store.info(name))
        .await
        .unwrap_or_else(|e| panic!("info {name}: {e}"))
}

/// Names of the objects `list` shows, sorted.
async fn list(store: &ObjectStore) -> Vec<String> {
    let listing = within("object list", store.list())
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    let infos: Vec<ObjectInfo> = within("list to end", listing.try_collect())
        .await
        .unwrap_or_else(|e| panic!("list: {e}"));
    let mut names: Vec<String> = infos.into_iter().map(|i| i.name).collect();
    names.sort();
    names
}

/// The bucket stream's (messages, bytes), fresh from STREAM.INFO.
async fn stream_state(js: &Context, bucket: &str) -> (u64, u64) {
    let mut stream = within("get stream", js.get_stream(format!("OBJ_{bucket}")))
        .await
        .expect("bucket stream");
    let info = within("stream info", stream.info())
        .await
        .expect("stream info");
    (info.state.messages, info.state.bytes)
}

/// `len` bytes that differ from chunk to chunk, so a chunk delivered twice,
/// out of order or from another object changes the digest.
fn data(len: usize, seed: u64) -> Vec<u8> {
    let mut x = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
    let mut out = Vec::with_capacity(len + 8);
    while out.len() < len {
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        out.extend_from_slice(&x.to_le_bytes());
    }
    out.truncate(len);
    out
}

/// The digest the object store records: `SHA-256=` and the padded URL-safe
/// base64 of the SHA-256 of the bytes.
fn digest(bytes: &[u8]) -> String {
    format!("SHA-256={}", base64url(&sha256(bytes)))
}

fn sha256(bytes: &[u8]) -> [u8; 32] {
    const K: [u32; 64] = [
        0x428a_2f98,
        0x7137_4491,
        0xb5c0_fbcf,
        0xe9b5_dba5,
        0x3956_c25b,
        0x59f1_11f1,
        0x923f_82a4,
        0xab1c_5ed5,
        0xd807_aa98,
        0x1283_5b01,
        0x2431_85be,
        0x550c_7dc3,
        0x72be_5d74,
        0x80de_b1fe,
        0x9bdc_06a7,
        0xc19b_f174,
        0xe49b_69c1,
        0xefbe_4786,
        0x0fc1_9dc6,
        0x240c_a1cc,
        0x2de9_2c6f,
        0x4a74_84aa,
        0x5cb0_a9dc,
        0x76f9_88da,
        0x983e_5152,
        0xa831_c66d,
        0xb003_27c8,
        0xbf59_7fc7,
        0xc6e0_0bf3,
        0xd5a7_9147,
        0x06ca_6351,
        0x1429_2967,
        0x27b7_0a85,
        0x2e1b_2138,
        0x4d2c_6dfc,
        0x5338_0d13,
        0x650a_7354,
        0x766a_0abb,
        0x81c2_c92e,
        0x9272_2c85,
        0xa2bf_e8a1,
        0xa81a_664b,
        0xc24b_8b70,
        0xc76c_51a3,
        0xd192_e819,
        0xd699_0624,
        0xf40e_3585,
        0x106a_a070,
        0x19a4_c116,
        0x1e37_6c08,
        0x2748_774c,
        0x34b0_bcb5,
        0x391c_0cb3,
        0x4ed8_aa4a,
        0x5b9c_ca4f,
        0x682e_6ff3,
        0x748f_82ee,
        0x78a5_636f,
        0x84c8_7814,
        0x8cc7_0208,
        0x90be_fffa,
        0xa450_6ceb,
        0xbef9_a3f7,
        0xc671_78f2,
    ];
    let mut h: [u32; 8] = [
        0x6a09_e667,
        0xbb67_ae85,
        0x3c6e_f372,
        0xa54f_f53a,
        0x510e_527f,
        0x9b05_688c,
        0x1f83_d9ab,
        0x5be0_cd19,
    ];
    let mut msg = bytes.to_vec();
    let bit_len = (bytes.len() as u64).wrapping_mul(8);
    msg.push(0x80);
    while msg.len() % 64 != 56 {
        msg.push(0);
    }
    msg.extend_from_slice(&bit_len.to_be_bytes());
    for block in msg.chunks_exact(64) {
        let mut w = [0u32; 64];
        for (i, word) in block.chunks_exact(4).enumerate() {
            w[i] = u32::from_be_bytes([word[0], word[1], word[2], word[3]]);
        }
        for i in 16..64 {
            let s0 = w[i - 15].rotate_right(7) ^ w[i - 15].rotate_right(18) ^ (w[i - 15] >> 3);
            let s1 = w[i - 2].rotate_right(17) ^ w[i - 2].rotate_right(19) ^ (w[i - 2] >> 10);
            w[i] = w[i - 16]
                .wrapping_add(s0)
                .wrapping_add(w[i - 7])
                .wrapping_add(s1);
        }
        let [mut a, mut b, mut c, mut d, mut e, mut f, mut g, mut hh] = h;
        for i in 0..64 {
            let s1 = e.rotate_right(6) ^ e.rotate_right(11) ^ e.rotate_right(25);
            let ch = (e & f) ^ (!e & g);
            let t1 = hh
                .wrapping_add(s1)
                .wrapping_add(ch)
                .wrapping_add(K[i])
                .wrapping_add(w[i]);
            let s0 = a.rotate_right(2) ^ a.rotate_right(13) ^ a.rotate_right(22);
            let maj = (a & b) ^ (a & c) ^ (b & c);
            let t2 = s0.wrapping_add(maj);
            hh = g;
            g = f;
            f = e;
            e = d.wrapping_add(t1);
            d = c;
            c = b;
            b = a;
            a = t1.wrapping_add(t2);
        }
        for (slot, v) in h.iter_mut().zip([a, b, c, d, e, f, g, hh]) {
            *slot = slot.wrapping_add(v);
        }
    }
    let mut out = [0u8; 32];
    for (i, v) in h.iter().enumerate() {
        out[i * 4..i * 4 + 4].copy_from_slice(&v.to_be_bytes());
    }
    out
}

/// Padded URL-safe base64 (Go's `base64.URLEncoding`).
fn base64url(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for group in bytes.chunks(3) {
        let n = group
            .iter()
            .enumerate()
            .fold(0u32, |n, (i, b)| n | u32::from(*b) << (16 - 8 * i));
        for i in 0..4 {
            if i <= group.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
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

#[test]
fn own_digest_matches_known_values() {
    assert_eq!(
        digest(b""),
        "SHA-256=47DEQpj8HBSa-_TImW-5JCeuQeRkm5NMpJWZG3hSuFU="
    );
    assert_eq!(
        digest(b"hello objects"),
        "SHA-256=qXrb6MbGSCCyOU4bcj4wllUloltjYrckaqBlNSYY5EY="
    );
    assert_eq!(base64url(b"ab"), "YWI=");
    assert_eq!(base64url(&[0xfb, 0xff]), "-_8=");
}

// ---------------------------------------------------------------------------
// Buckets

#[tokio::test]
async fn bucket_create_open_status_and_delete() {
    let s = Setup::new().await;
    let store = create_store_with(
        &s.js,
        object_store::Config {
            bucket: "docs".to_string(),
            description: Some("documents".to_string()),
            max_age: Duration::from_secs(3600),
            ..Default::default()
        },
    )
    .await;
    put(&store, "a", b"hello objects").await;

    // Status is STREAM.INFO of the bucket's stream.
    let mut stream = within("get stream", s.js.get_stream("OBJ_docs"))
        .await
        .expect("bucket stream");
    let status = within("stream info", stream.info())
        .await
        .expect("stream info")
        .clone();
    let config = &status.config;
    assert_eq!(config.name, "OBJ_docs");
    assert_eq!(
        config.subjects,
        vec!["$O.docs.C.>".to_string(), "$O.docs.M.>".to_string()]
    );
    assert_eq!(config.description.as_deref(), Some("documents"));
    assert_eq!(config.discard, DiscardPolicy::New);
    assert!(config.allow_rollup);
    assert!(config.allow_direct);
    assert!(!config.sealed);
    assert_eq!(config.max_age, Duration::from_secs(3600));
    assert_eq!(config.storage, StorageType::File);
    // One chunk and one meta message.
    assert_eq!(status.state.messages, 2);
    assert!(status.state.bytes > 13, "{:?}", status.state);

    let opened = within("open store", s.js.get_object_store("docs"))
        .await
        .expect("open store docs");
    assert_eq!(get(&opened, "a").await, b"hello objects");

    let err = within("open missing", s.js.get_object_store("nope"))
        .await
        .err()
        .expect("no bucket nope");
    assert_eq!(err.kind(), ObjectStoreErrorKind::GetStore, "{err}");

    within("delete store", s.js.delete_object_store("docs"))
        .await
        .expect("delete store");
    let err = within("open deleted", s.js.get_object_store("docs"))
        .await
        .err()
        .expect("bucket docs is deleted");
    assert_eq!(err.kind(), ObjectStoreErrorKind::GetStore, "{err}");
    let err = within("delete again", s.js.delete_object_store("docs"))
        .await
        .expect_err("bucket docs already deleted");
    assert_eq!(err.kind(), ObjectStoreErrorKind::GetStore, "{err}");

    // Again from scratch: empty.
    let store = create_store(&s.js, "docs").await;
    assert_eq!(list(&store).await, Vec::<String>::new());
    assert_eq!(stream_state(&s.js, "docs").await.0, 0);
}

// ---------------------------------------------------------------------------
// Objects

/// Puts `bytes` as `name`, checks what the meta records and the stream
/// holds, and reads it back.
async fn round_trip(js: &Context, store: &ObjectStore, bucket: &str, name: &str, bytes: &[u8]) {
    let before = stream_state(js, bucket).await.0;
    let put_info = put(store, name, bytes).await;
    let chunks = bytes.len().div_ceil(CHUNK_BYTES);
    assert_eq!(
        (put_info.size, put_info.chunks),
        (bytes.len(), chunks),
        "{name}"
    );
    assert_eq!(put_info.digest.as_deref(), Some(digest(bytes).as_str()));

    let got = info(store, name).await;
    assert_eq!(got.name, name);
    assert_eq!(got.bucket, bucket);
    assert_eq!((got.size, got.chunks), (bytes.len(), chunks), "{name}");
    assert_eq!(got.digest, put_info.digest, "{name}");
    assert_eq!(got.nuid, put_info.nuid);
    assert!(!got.deleted);
    assert_eq!(
        got.options.and_then(|o| o.max_chunk_size),
        Some(CHUNK_BYTES)
    );
    // Each chunk is a message, and the meta one more.
    assert_eq!(
        stream_state(js, bucket).await.0,
        before + chunks as u64 + 1,
        "{name}"
    );

    let read = get(store, name).await;
    assert_eq!(read.len(), bytes.len(), "{name}");
    assert!(read == bytes, "{name}: bytes differ");
    assert_eq!(digest(&read), digest(bytes));
}

#[tokio::test]
async fn put_and_get_every_size() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "sizes").await;
    round_trip(&s.js, &store, "sizes", "small", b"hello objects").await;
    round_trip(&s.js, &store, "sizes", "empty", b"").await;
    round_trip(&s.js, &store, "sizes", "one", &data(CHUNK_BYTES, 1)).await;
    round_trip(&s.js, &store, "sizes", "one+1", &data(CHUNK_BYTES + 1, 2)).await;
    round_trip(
        &s.js,
        &store,
        "sizes",
        "dir/multi",
        &data(5 * CHUNK_BYTES - 7, 3),
    )
    .await;
    round_trip(&s.js, &store, "sizes", "big", &data(20 << 20, 4)).await;
    // The first objects are intact after the big one went through.
    assert_eq!(get(&store, "small").await, b"hello objects");
    assert_eq!(get(&store, "one").await, data(CHUNK_BYTES, 1));
    assert_eq!(
        list(&store).await,
        ["big", "dir/multi", "empty", "one", "one+1", "small"]
    );
}

#[tokio::test]
async fn memory_bucket_holds_objects_too() {
    let s = Setup::new().await;
    let store = create_store_with(
        &s.js,
        object_store::Config {
            bucket: "mem".to_string(),
            storage: StorageType::Memory,
            ..Default::default()
        },
    )
    .await;
    round_trip(&s.js, &store, "mem", "m", &data(3 * CHUNK_BYTES + 5, 5)).await;
    let bytes = data(CHUNK_BYTES / 2, 6);
    put(&store, "m", &bytes).await;
    assert_eq!(get(&store, "m").await, bytes);
    assert_eq!(stream_state(&s.js, "mem").await.0, 2);
}

#[tokio::test]
async fn custom_chunk_size_and_object_metadata() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "custom").await;
    let bytes = data(10_000, 7);
    let meta = ObjectMetadata {
        name: "tiny-chunks".to_string(),
        description: Some("ten chunks".to_string()),
        chunk_size: Some(1000),
        metadata: [("owner".to_string(), "tern".to_string())].into(),
        headers: None,
    };
    let put_info = put(&store, meta, &bytes).await;
    assert_eq!((put_info.size, put_info.chunks), (10_000, 10));

    let got = info(&store, "tiny-chunks").await;
    assert_eq!(got.chunks, 10);
    assert_eq!(got.options.and_then(|o| o.max_chunk_size), Some(1000));
    assert_eq!(got.description.as_deref(), Some("ten chunks"));
    assert_eq!(got.metadata.get("owner").map(String::as_str), Some("tern"));
    assert_eq!(got.digest.as_deref(), Some(digest(&bytes).as_str()));
    assert_eq!(stream_state(&s.js, "custom").await.0, 11);
    assert_eq!(get(&store, "tiny-chunks").await, bytes);
}

#[tokio::test]
async fn overwrite_purges_the_old_chunks() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "over").await;
    let first = data(3 * CHUNK_BYTES, 8);
    let old = put(&store, "obj", &first).await;
    put(&store, "other", b"stays").await;
    assert_eq!(stream_state(&s.js, "over").await.0, 3 + 1 + 1 + 1);

    let second = data(CHUNK_BYTES + 10, 9);
    let new = put(&store, "obj", &second).await;
    assert_ne!(new.nuid, old.nuid);
    // The old meta is rolled up and the old chunks purged: two chunks and
    // a meta for obj, a chunk and a meta for other.
    let (messages, bytes) = stream_state(&s.js, "over").await;
    assert_eq!(messages, 2 + 1 + 1 + 1);
    assert!(
        bytes < (2 * CHUNK_BYTES + 4096) as u64,
        "old chunks still counted: {bytes} bytes"
    );
    assert_eq!(get(&store, "obj").await, second);
    assert_eq!(get(&store, "other").await, b"stays");
    assert_eq!(info(&store, "obj").await.nuid, new.nuid);

    // Overwriting with nothing leaves only the meta.
    put(&store, "obj", b"").await;
    assert_eq!(stream_state(&s.js, "over").await.0, 1 + 2);
    assert_eq!(get(&store, "obj").await, b"");
}

#[tokio::test]
async fn delete_hides_the_object_from_get_info_and_list() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "del").await;
    put(&store, "keep", b"k").await;
    put(&store, "gone", &data(2 * CHUNK_BYTES + 1, 10)).await;
    assert_eq!(list(&store).await, ["gone", "keep"]);

    within("delete", store.delete("gone"))
        .await
        .expect("delete gone");
    // The chunks are purged; the meta stays as a deletion marker.
    assert_eq!(stream_state(&s.js, "del").await.0, 2 + 1);
    let marker = info(&store, "gone").await;
    assert!(marker.deleted);
    assert_eq!((marker.size, marker.chunks), (0, 0));
    let err = within("get deleted", store.get("gone"))
        .await
        .expect_err("gone is deleted");
    assert_eq!(err.kind(), GetErrorKind::NotFound, "{err}");
    assert_eq!(list(&store).await, ["keep"]);

    // Never-existing objects.
    let err = within("info missing", store.info("never"))
        .await
        .expect_err("no object never");
    assert_eq!(err.kind(), InfoErrorKind::NotFound, "{err}");
    let err = within("get missing", store.get("never"))
        .await
        .expect_err("no object never");
    assert_eq!(err.kind(), GetErrorKind::NotFound, "{err}");
    let err = within("delete missing", store.delete("never"))
        .await
        .expect_err("no object never");
    assert_eq!(err.kind(), DeleteErrorKind::NotFound, "{err}");

    // Put again after delete: visible again.
    put(&store, "gone", b"back").await;
    assert_eq!(get(&store, "gone").await, b"back");
    assert_eq!(list(&store).await, ["gone", "keep"]);

    // Deleting everything leaves an empty listing.
    within("delete", store.delete("gone"))
        .await
        .expect("delete");
    within("delete", store.delete("keep"))
        .await
        .expect("delete");
    assert_eq!(list(&store).await, Vec::<String>::new());
    assert_eq!(stream_state(&s.js, "del").await.0, 2);
}

#[tokio::test]
async fn update_metadata_renames_and_describes() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "meta").await;
    let bytes = data(2 * CHUNK_BYTES, 11);
    let old = put(&store, "before", &bytes).await;
    put(&store, "taken", b"t").await;

    let renamed = within(
        "rename",
        store.update_metadata(
            "before",
            UpdateMetadata {
                name: "after".to_string(),
                description: Some("renamed".to_string()),
                ..Default::default()
            },
        ),
    )
    .await
    .expect("rename");
    assert_eq!(renamed.name, "after");
    assert_eq!(renamed.nuid, old.nuid);

    let err = within("info old name", store.info("before"))
        .await
        .expect_err("old name purged");
    assert_eq!(err.kind(), InfoErrorKind::NotFound, "{err}");
    let got = info(&store, "after").await;
    assert_eq!(got.description.as_deref(), Some("renamed"));
    assert_eq!(got.digest, old.digest);
    assert_eq!(get(&store, "after").await, bytes);
    assert_eq!(list(&store).await, ["after", "taken"]);
    // Two chunks, two metas: the old name's meta is gone.
    assert_eq!(stream_state(&s.js, "meta").await.0, 2 + 1 + 1 + 1);

    // Description only, same name.
    within(
        "describe",
        store.update_metadata(
            "after",
            UpdateMetadata {
                name: "after".to_string(),
                description: Some("again".to_string()),
                ..Default::default()
            },
        ),
    )
    .await
    .expect("describe");
    assert_eq!(
        info(&store, "after").await.description.as_deref(),
        Some("again")
    );

    let err = within(
        "rename onto taken",
        store.update_metadata(
            "after",
            UpdateMetadata {
                name: "taken".to_string(),
                ..Default::default()
            },
        ),
    )
    .await
    .expect_err("name in use");
    assert_eq!(err.kind(), UpdateMetadataErrorKind::NameAlreadyInUse);
    let err = within(
        "rename missing",
        store.update_metadata(
            "never",
            UpdateMetadata {
                name: "x".to_string(),
                ..Default::default()
            },
        ),
    )
    .await
    .expect_err("no object never");
    assert_eq!(err.kind(), UpdateMetadataErrorKind::NotFound);
}

#[tokio::test]
async fn links_to_objects_and_buckets() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "src").await;
    let other = create_store(&s.js, "dst").await;
    let bytes = data(CHUNK_BYTES + 99, 12);
    let target = put(&store, "target", &bytes).await;

    let link = within("add link", store.add_link("ln", &target))
        .await
        .expect("add link");
    let link_opts = link.options.clone().expect("link options");
    let to = link_opts.link.expect("a link");
    assert_eq!(
        (to.bucket.as_str(), to.name.as_deref()),
        ("src", Some("target"))
    );
    assert_eq!((link.size, link.chunks, link.digest), (0, 0, None));
    assert_eq!(get(&store, "ln").await, bytes);
    assert_eq!(list(&store).await, ["ln", "target"]);

    // Across buckets, the link is followed into the other bucket.
    within("cross link", other.add_link("far", &target))
        .await
        .expect("cross-bucket link");
    assert_eq!(get(&other, "far").await, bytes);

    // A link to a bucket cannot be read as an object.
    within("bucket link", store.add_bucket_link("to-dst", "dst"))
        .await
        .expect("bucket link");
    let got = info(&store, "to-dst").await;
    let to = got.options.and_then(|o| o.link).expect("a bucket link");
    assert_eq!((to.bucket.as_str(), to.name), ("dst", None));
    let err = within("get bucket link", store.get("to-dst"))
        .await
        .expect_err("bucket link");
    assert_eq!(err.kind(), GetErrorKind::BucketLink);

    // Refusals, client side.
    let ln = info(&store, "ln").await;
    let err = within("link to link", store.add_link("ln2", &ln))
        .await
        .expect_err("link to a link");
    assert_eq!(err.kind(), AddLinkErrorKind::LinkToLink);
    let err = within("link over object", store.add_link("target", &target))
        .await
        .expect_err("name taken by an object");
    assert_eq!(err.kind(), AddLinkErrorKind::AlreadyExists);
    let err = within("empty link name", store.add_link("", &target))
        .await
        .expect_err("empty name");
    assert_eq!(err.kind(), AddLinkErrorKind::EmptyName);
    within("delete target", store.delete("target"))
        .await
        .expect("delete target");
    let deleted = info(&store, "target").await;
    let err = within("link to deleted", store.add_link("ln3", &deleted))
        .await
        .expect_err("target deleted");
    assert_eq!(err.kind(), AddLinkErrorKind::Deleted);
    // The old link now dangles.
    let err = within("get dangling", store.get("ln"))
        .await
        .expect_err("target deleted");
    assert_eq!(err.kind(), GetErrorKind::NotFound);
}

#[tokio::test]
async fn watch_sees_puts_and_deletes() {
    let s = Setup::new().await;
    let store = create_store(&s.js, "w").await;
    put(&store, "early", b"1").await;

    // `watch` starts at new changes; with history it first gives the
    // latest meta of each object.
    let mut watch = within("watch", store.watch()).await.expect("watch");
    let mut history = within("watch with history", store.watch_with_history())
        .await
        .expect("watch with history");
    let first = within("history entry", history.next())
        .await
        .expect("history open")
        .expect("history entry");
    assert_eq!((first.name.as_str(), first.deleted), ("early", false));

    put(&store, "late", &data(CHUNK_BYTES + 1, 13)).await;
    within("delete", store.delete("early"))
        .await
        .expect("delete early");
    for w in [&mut watch, &mut history] {
        let mut seen = Vec::new();
        for _ in 0..2 {
            let info = within("watched change", w.next())
                .await
                .expect("watch open")
                .expect("watched info");
            seen.push((info.name, info.size, info.deleted));
        }
        assert_eq!(
            seen,
            [
                ("late".to_string(), CHUNK_BYTES + 1, false),
                ("early".to_string(), 0, true)
            ]
        );
    }
    // Chunks never show up in a watch: nothing more is pending.
    let quiet = tokio::time::timeout(Duration::from_millis(200), watch.next()).await;
    assert!(quiet.is_err(), "unexpected watch item: {quiet:?}");
}

#[tokio::test]
async fn sealed_bucket_refuses_changes() {
    let s = Setup::new().await;
    let mut store = create_store(&s.js, "seal").await;
    let bytes = data(CHUNK_BYTES + 3, 14);
    put(&store, "kept", &bytes).await;
    within("seal", store.seal()).await.expect("seal");

    let mut stream = within("get stream", s.js.get_stream("OBJ_seal"))
        .await
        .expect("bucket stream");
    let status = within("stream info", stream.info())
        .await
        .expect("stream info");
    assert!(status.config.sealed);
    let messages = status.state.messages;

    let err = within("put sealed", store.put("new", &mut &b"x"[..]))
        .await
        .expect_err("bucket sealed");
    assert_eq!(err.kind(), PutErrorKind::PublishChunks, "{err}");
    // async-nats keeps the ack's error only as text here.
    assert!(
        err.to_string()
            .contains("invalid operation on sealed stream (code 400, error code 10109)"),
        "{err}"
    );
    let err = within("delete sealed", store.delete("kept"))
        .await
        .expect_err("bucket sealed");
    assert_eq!(err.kind(), DeleteErrorKind::Other, "{err}");
    let api = api_error(&err).expect("a JetStream API error");
    assert_eq!((api.code(), api.error_code().0), (400, 10109), "{api}");

    // Reads still work and nothing changed.
    assert_eq!(get(&store, "kept").await, bytes);
    assert_eq!(list(&store).await, ["kept"]);
    assert_eq!(stream_state(&s.js, "seal").await.0, messages);
}

#[tokio::test]
async fn bad_names_are_refused() {
    let s = Setup::new().await;
    for name in ["", "a.b", "a b", "a*", "a>", "OBJ.x"] {
        let err = within(
            "create bad bucket",
            s.js.create_object_store(object_store::Config {
                bucket: name.to_string(),
                ..Default::default()
            }),
        )
        .await
        .err()
        .expect("bad bucket name");
        assert_eq!(
            err.kind(),
            CreateKeyValueErrorKind::InvalidStoreName,
            "{name:?}: {err}"
        );
        let err = within("open bad bucket", s.js.get_object_store(name))
            .await
            .err()
            .expect("bad bucket name");
        assert_eq!(
            err.kind(),
            ObjectStoreErrorKind::InvalidBucketName,
            "{name:?}"
        );
    }

    let store = create_store(&s.js, "names").await;
    // Names are base64 encoded into the subject, so anything but the empty
    // name is fine, including characters a subject cannot hold.
    for name in ["a b", "a.b.", "*", ">", "\u{e9}t\u{e9}", "x/y/z"] {
        put(&store, name, name.as_bytes()).await;
        assert_eq!(get(&store, name).await, name.as_bytes(), "{name:?}");
    }
    let err = within("info empty name", store.info(""))
        .await
        .expect_err("empty name");
    assert_eq!(err.kind(), InfoErrorKind::InvalidName);
    let err = within("get empty name", store.get(""))
        .await
        .expect_err("empty name");
    assert_eq!(err.kind(), GetErrorKind::InvalidName);
    let err = within("put empty name", store.put("", &mut &b"x"[..]))
        .await
        .expect_err("empty name");
    assert_eq!(err.kind(), PutErrorKind::InvalidName);
    let err = within(
        "rename to bad",
        store.update_metadata(
            "a b",
            UpdateMetadata {
                name: "bad name".to_string(),
                ..Default::default()
            },
        ),
    )
    .await
    .expect_err("bad new name");
    assert_eq!(err.kind(), UpdateMetadataErrorKind::InvalidName);

    // A bucket over its max_bytes refuses the chunk that does not fit.
    let small = create_store_with(
        &s.js,
        object_store::Config {
            bucket: "small".to_string(),
            max_bytes: 300_000,
            ..Default::default()
        },
    )
    .await;
    let err = within_for(
        BULK_WAIT,
        "put too big",
        small.put("big", &mut &data(4 * CHUNK_BYTES, 15)[..]),
    )
    .await
    .expect_err("over max_bytes");
    assert_eq!(err.kind(), PutErrorKind::PublishChunks, "{err}");
    assert!(
        err.to_string()
            .contains("maximum bytes exceeded (code 503, error code 10077)"),
        "{err}"
    );
    // Two chunks fit; the reference counts each as subject, payload and a
    // fixed overhead, and so does tern.
    assert_eq!(stream_state(&s.js, "small").await, (2, 262_270));
    let err = within("info big", small.info("big"))
        .await
        .expect_err("never written");
    assert_eq!(err.kind(), InfoErrorKind::NotFound);
}

// ---------------------------------------------------------------------------
// Memory

/// Size of the object the memory check moves, in MiB.
const RSS_OBJECT_MIB_ENV: &str = "TERN_OBJ_RSS_MIB";
/// The server binary the memory check spawns (default: this build's tern,
/// or the reference when `TERN_JS_REFERENCE` is set).
const RSS_BIN_ENV: &str = "TERN_OBJ_RSS_BIN";
/// How far above its idle RSS the server may go while an object of any
/// size goes in or comes out.
const RSS_GROWTH_LIMIT_BYTES: u64 = 64 << 20;

/// The deterministic bytes of a large object, produced and checked a
/// piece at a time so the test itself never holds the object.
struct Pattern {
    pos: u64,
    len: u64,
}

impl Pattern {
    fn new(len: u64) -> Pattern {
        Pattern { pos: 0, len }
    }

    fn byte_at(pos: u64) -> u8 {
        // splitmix64 of the word index: every 8-byte word differs.
        let mut z = (pos / 8).wrapping_add(0x9E37_79B9_7F4A_7C15);
        z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
        z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
        z ^= z >> 31;
        z.to_le_bytes()[(pos % 8) as usize]
    }
}

impl tokio::io::AsyncRead for Pattern {
    fn poll_read(
        mut self: std::pin::Pin<&mut Self>,
        _cx: &mut std::task::Context<'_>,
        buf: &mut tokio::io::ReadBuf<'_>,
    ) -> std::task::Poll<std::io::Result<()>> {
        let n = buf
            .remaining()
            .min(usize::try_from(self.len - self.pos).unwrap_or(usize::MAX));
        let start = self.pos;
        let bytes: Vec<u8> = (start..start + n as u64).map(Pattern::byte_at).collect();
        buf.put_slice(&bytes);
        self.pos += n as u64;
        std::task::Poll::Ready(Ok(()))
    }
}

fn vm_rss_bytes(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).expect("proc status");
    let line = status
        .lines()
        .find(|l| l.starts_with("VmRSS:"))
        .expect("VmRSS line");
    let kib: u64 = line
        .split_whitespace()
        .nth(1)
        .and_then(|v| v.parse().ok())
        .expect("VmRSS value");
    kib * 1024
}

/// Samples `pid`'s RSS every 10 ms while `work` runs; returns the peak
/// together with `work`'s output.
async fn peak_rss_during<F: std::future::Future>(pid: u32, work: F) -> (u64, F::Output) {
    let done = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let sampler = tokio::spawn({
        let done = done.clone();
        async move {
            let mut peak = 0;
            while !done.load(std::sync::atomic::Ordering::Relaxed) {
                peak = peak.max(vm_rss_bytes(pid));
                tokio::time::sleep(Duration::from_millis(10)).await;
            }
            peak.max(vm_rss_bytes(pid))
        }
    });
    let out = work.await;
    done.store(true, std::sync::atomic::Ordering::Relaxed);
    let peak = sampler.await.expect("sampler");
    (peak, out)
}

fn mib(bytes: u64) -> f64 {
    bytes as f64 / f64::from(1 << 20)
}

/// A large object goes in and comes back out of a server process whose
/// RSS stays within `RSS_GROWTH_LIMIT_BYTES` of idle: chunks are written
/// and delivered as they come, never gathered. 64 MiB through this build's
/// tern by default; the measurement is
/// `TERN_OBJ_RSS_MIB=1024 TERN_OBJ_RSS_BIN=target/release/tern`. Against
/// the reference it only reports: nats-server buffers over 100 MiB for an
/// ordered consumer's reads.
#[tokio::test]
async fn large_object_memory_stays_bounded() {
    let object_mib: u64 = std::env::var(RSS_OBJECT_MIB_ENV)
        .ok()
        .map_or(64, |v| v.parse().expect("TERN_OBJ_RSS_MIB is a number"));
    let bin = std::env::var_os(RSS_BIN_ENV)
        .or_else(|| std::env::var_os(REFERENCE_ENV))
        .map_or_else(
            || std::path::PathBuf::from(env!("CARGO_BIN_EXE_tern")),
            std::path::PathBuf::from,
        );
    let dir = tempfile::tempdir().expect("tempdir");
    let server = spawn_server(&bin, &dir.path().join("store"), None).await;
    let pid = server.child.id();
    let js = jetstream::new(connect(server.addr).await);
    let store = create_store(&js, "big").await;
    let len = object_mib << 20;
    // Let start-up allocations settle before taking the idle figure.
    tokio::time::sleep(Duration::from_millis(500)).await;
    let idle = vm_rss_bytes(pid);

    let bound = Duration::from_secs(60 + 2 * object_mib);
    let started = std::time::Instant::now();
    let (put_peak, put_info) = peak_rss_during(
        pid,
        within_for(bound, "large put", store.put("big", &mut Pattern::new(len))),
    )
    .await;
    let put_secs = started.elapsed().as_secs_f64();
    let put_info = put_info.expect("large put");
    assert_eq!(put_info.size as u64, len);
    let after_put = vm_rss_bytes(pid);

    let started = std::time::Instant::now();
    let (get_peak, read) = peak_rss_during(
        pid,
        within_for(bound, "large get", async {
            let mut object = store.get("big").await.expect("get big");
            let mut buf = vec![0u8; 1 << 20];
            let mut pos = 0u64;
            loop {
                let n = object.read(&mut buf).await.expect("read big");
                if n == 0 {
                    return pos;
                }
                for (i, b) in buf[..n].iter().enumerate() {
                    if *b != Pattern::byte_at(pos + i as u64) {
                        panic!("byte {} differs", pos + i as u64);
                    }
                }
                pos += n as u64;
            }
        }),
    )
    .await;
    let get_secs = started.elapsed().as_secs_f64();
    assert_eq!(read, len, "read back the whole object");

    eprintln!(
        "{} {object_mib} MiB: idle {:.1} MiB, put peak {:.1} MiB ({:.1} s), after put {:.1} MiB, \
         get peak {:.1} MiB ({:.1} s)",
        bin.display(),
        mib(idle),
        mib(put_peak),
        put_secs,
        mib(after_put),
        mib(get_peak),
        get_secs
    );
    if std::env::var_os(REFERENCE_ENV).is_some() {
        return;
    }
    assert!(
        put_peak.saturating_sub(idle) < RSS_GROWTH_LIMIT_BYTES,
        "put: RSS {:.1} MiB over idle {:.1} MiB",
        mib(put_peak - idle),
        mib(idle)
    );
    assert!(
        get_peak.saturating_sub(idle) < RSS_GROWTH_LIMIT_BYTES,
        "get: RSS {:.1} MiB over idle {:.1} MiB",
        mib(get_peak - idle),
        mib(idle)
    );
}
