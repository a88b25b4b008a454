//! tern embedded in a program: the lifecycle (start without a client
//! port, restart on the same store, shutdown with work in flight, two
//! servers in one process), in-process and network clients talking to
//! each other, and misuse answered with typed errors.

mod harness;

use std::time::{Duration, Instant};

use tern::embed::{Builder, Embedded};
use tern::Options;
use tern_link::{ApiCallError, PortError};

use harness::within;

async fn embedded(dir: &std::path::Path, listen: bool) -> Embedded {
    let mut b = Builder::new(Options::loopback()).jetstream(dir);
    if !listen {
        b = b.dont_listen();
    }
    within("the embedded start", b.start())
        .await
        .expect("start")
}

#[tokio::test]
async fn restart_on_the_same_store_keeps_the_data() {
    let dir = tempfile::tempdir().unwrap();
    let first = embedded(dir.path(), false).await;
    assert!(first.local_addr().is_none(), "no client port");
    let bucket = first
        .kv()
        .unwrap()
        .create_bucket(tern_kv::Config::new("cfg"))
        .await
        .unwrap();
    let revision = bucket.put("mode", "fast".into()).await.unwrap();
    within("shutdown", first.shutdown()).await;
    let second = embedded(dir.path(), false).await;
    let bucket = second.kv().unwrap().bucket("cfg").await.unwrap();
    let entry = bucket.get("mode").await.unwrap().expect("kept");
    assert_eq!(entry.revision, revision);
    assert_eq!(&entry.value[..], b"fast");
    within("shutdown", second.shutdown()).await;
}

#[tokio::test]
async fn two_servers_in_one_process_are_apart() {
    let (a_dir, b_dir) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let a = embedded(a_dir.path(), true).await;
    let b = embedded(b_dir.path(), true).await;
    assert_ne!(a.local_addr(), b.local_addr());
    let a_kv = a.kv().unwrap();
    a_kv.create_bucket(tern_kv::Config::new("only_a"))
        .await
        .unwrap();
    let missing = b.kv().unwrap().bucket("only_a").await;
    assert!(
        matches!(missing, Err(tern_kv::KvError::BucketNotFound(_))),
        "{missing:?}"
    );
    within("shutdown a", a.shutdown()).await;
    within("shutdown b", b.shutdown()).await;
}

#[tokio::test]
async fn in_process_and_network_clients_meet() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path(), true).await;
    let inproc = std::sync::Arc::new(server.client().unwrap());
    let net = harness::connect(server.local_addr().unwrap()).await;

    // Network publishes, in process receives.
    let (_, mut rx) = inproc.subscribe("events.>").unwrap();
    net.publish("events.1", "from the network".into())
        .await
        .unwrap();
    net.flush().await.unwrap();
    let got = within("the in-process delivery", rx.recv()).await.unwrap();
    assert_eq!(got.subject, "events.1");

    // In process serves requests the network makes.
    let (_, mut requests) = inproc.subscribe("svc.echo").unwrap();
    let server_link = inproc.clone();
    tokio::spawn(async move {
        while let Some(req) = requests.recv().await {
            if let Some(reply) = req.reply {
                let _ = server_link.publish(&reply, None, None, &req.payload);
            }
        }
    });
    let reply = within("the echo", net.request("svc.echo", "ping".into()))
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], b"ping");

    // The network serves requests made in process.
    let mut svc = net.subscribe("svc.upper").await.unwrap();
    net.flush().await.unwrap();
    let net2 = net.clone();
    tokio::spawn(async move {
        use futures::StreamExt;
        while let Some(m) = svc.next().await {
            if let Some(reply) = m.reply {
                let text = String::from_utf8_lossy(&m.payload).to_uppercase();
                let _ = net2.publish(reply, text.into()).await;
            }
        }
    });
    harness::round_trip(&net).await;
    let reply = inproc
        .request("svc.upper", None, b"shout", Duration::from_secs(5))
        .await
        .unwrap();
    assert_eq!(&reply.payload[..], b"SHOUT");

    // An object put in process is read by the network client.
    let objects = server.object_store().unwrap();
    let bucket = objects
        .create_bucket(tern_objstore::Config::new("files"))
        .await
        .unwrap();
    bucket
        .put(
            tern_objstore::ObjectMeta::named("hello.txt"),
            &b"hello, world"[..],
        )
        .await
        .unwrap();
    let js = async_nats::jetstream::new(net.clone());
    let store = js.get_object_store("files").await.unwrap();
    let mut object = store.get("hello.txt").await.unwrap();
    let mut data = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut object, &mut data)
        .await
        .unwrap();
    assert_eq!(data, b"hello, world");
    within("shutdown", server.shutdown()).await;
}

#[tokio::test]
async fn misuse_gets_typed_errors_not_hangs() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path(), false).await;
    let link = server.client().unwrap();
    assert!(matches!(
        link.publish("bad subject", None, None, b""),
        Err(PortError::InvalidSubject(_))
    ));
    assert!(matches!(
        link.subscribe("a..b"),
        Err(PortError::InvalidSubject(_))
    ));
    let kv = server.kv().unwrap();
    let bucket = kv.create_bucket(tern_kv::Config::new("k")).await.unwrap();
    assert!(matches!(
        bucket.put("bad key!", "x".into()).await,
        Err(tern_kv::KvError::InvalidKey(_))
    ));
    // A request in flight when the server stops fails fast.
    let waiting = tokio::spawn(async move {
        let started = Instant::now();
        let r = link
            .request("nobody.home", None, b"", Duration::from_secs(30))
            .await;
        (r, started.elapsed())
    });
    tokio::time::sleep(Duration::from_millis(50)).await;
    within("shutdown", server.shutdown()).await;
    let (result, took) = within("the waiting request", waiting).await.unwrap();
    assert_eq!(result, Err(ApiCallError::Closed));
    assert!(took < Duration::from_secs(5), "failed fast: {took:?}");
    // After the stop, handles fail at once.
    let after = within("a put after shutdown", bucket.put("k", "v".into())).await;
    assert_eq!(after, Err(tern_kv::KvError::Closed));
    assert!(matches!(
        kv.create_bucket(tern_kv::Config::new("late")).await,
        Err(tern_kv::KvError::Closed)
    ));
}

#[tokio::test]
async fn handles_dropped_mid_operation_leave_the_server_serving() {
    let dir = tempfile::tempdir().unwrap();
    let server = embedded(dir.path(), false).await;
    let objects = server.object_store().unwrap();
    let files = objects
        .create_bucket(tern_objstore::Config::new("big"))
        .await
        .unwrap();
    let data = vec![7u8; 1 << 20];
    files
        .put(tern_objstore::ObjectMeta::named("blob"), &data[..])
        .await
        .unwrap();
    // A reader dropped after its first bytes.
    let mut reader = files.get("blob").await.unwrap();
    let mut first = [0u8; 1024];
    tokio::io::AsyncReadExt::read_exact(&mut reader, &mut first)
        .await
        .unwrap();
    drop(reader);
    // A watcher dropped while waiting.
    let kv = server.kv().unwrap();
    let bucket = kv.create_bucket(tern_kv::Config::new("w")).await.unwrap();
    let mut watch = bucket.watch(">").await.unwrap();
    let pending = tokio::time::timeout(Duration::from_millis(50), watch.next()).await;
    assert!(pending.is_err(), "nothing to see yet");
    drop(watch);
    // The server goes on: a put, a full read, and the consumers of the
    // dropped handles go away.
    bucket.put("k", "v".into()).await.unwrap();
    let mut again = files.get("blob").await.unwrap();
    let mut all = Vec::new();
    tokio::io::AsyncReadExt::read_to_end(&mut again, &mut all)
        .await
        .unwrap();
    assert_eq!(all.len(), data.len());
    drop(again);
    let link = server.client().unwrap();
    harness::wait_until_async("the dropped handles' consumers to go", || async {
        let info = link
            .api("$JS.API.STREAM.INFO.KV_w", &serde_json::Value::Null)
            .await
            .unwrap();
        info["state"]["consumer_count"] == 0
    })
    .await;
    within("shutdown", server.shutdown()).await;
}

/// A config file that cannot be used says why in a form a program can
/// match: unreadable or malformed, or with values that do not hold.
#[test]
fn config_file_errors_are_typed() {
    use tern::config::ConfigError;
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("missing.conf");
    match tern::embed::Builder::from_config_file(&missing) {
        Err(ConfigError::Parse(e)) => {
            assert!(std::error::Error::source(&ConfigError::Parse(e)).is_some())
        }
        other => panic!("a missing file: {:?}", other.err()),
    }
    let broken = dir.path().join("broken.conf");
    std::fs::write(&broken, "port: {\n").unwrap();
    assert!(matches!(
        tern::embed::Builder::from_config_file(&broken),
        Err(ConfigError::Parse(_))
    ));
    let invalid = dir.path().join("invalid.conf");
    std::fs::write(&invalid, "port: 70000\nmax_payload: \"x\"\n").unwrap();
    match tern::embed::Builder::from_config_file(&invalid) {
        Err(ConfigError::Invalid(problems)) => {
            assert_eq!(problems.len(), 2, "{problems:?}");
            assert!(problems[0].contains("invalid.conf:1:"), "{problems:?}");
        }
        other => panic!("bad values: {:?}", other.err()),
    }
}

/// Subject mappings apply to an embedded program's publishes as to a
/// network client's.
#[tokio::test]
async fn mappings_apply_to_in_process_publishes() {
    let dir = tempfile::tempdir().unwrap();
    let mut mappings = tern::mapping::Mappings::default();
    mappings
        .add(
            "in.*",
            &[tern::mapping::MapDest {
                subject: "out.$1".into(),
                weight: 100,
                cluster: None,
            }],
        )
        .unwrap();
    let mut opts = Options::loopback();
    opts.mappings = Some(std::sync::Arc::new(mappings));
    let server = within(
        "the embedded start",
        Builder::new(opts).jetstream(dir.path()).start(),
    )
    .await
    .expect("start");
    let link = server.client().unwrap();
    let (_, mut rx) = link.subscribe(">").unwrap();
    link.publish("in.one", None, None, b"m").unwrap();
    let got = within("the mapped delivery", rx.recv()).await.unwrap();
    assert_eq!(got.subject, "out.one");
    let net = harness::connect(server.local_addr().unwrap()).await;
    net.publish("in.two", "n".into()).await.unwrap();
    net.flush().await.unwrap();
    let got = within("the mapped network delivery", rx.recv())
        .await
        .unwrap();
    assert_eq!(got.subject, "out.two");
    within("shutdown", server.shutdown()).await;
}
