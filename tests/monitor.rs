//! HTTP monitoring: the port, the index, `/healthz` with its options and
//! refusals as the reference gives them, JSONP, 404, and a port in use.

mod harness;

use std::net::SocketAddr;

use tern::config::options::Port;
use tern::{Options, Running};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use harness::{start_with, within};

async fn start(jetstream: Option<&std::path::Path>) -> Running {
    let mut opts = Options::loopback();
    opts.http_port = Some(Port::Random);
    if let Some(dir) = jetstream {
        opts.jetstream = true;
        opts.store_dir = Some(dir.to_path_buf());
    }
    start_with(opts).await
}

/// One GET: status code, headers, body.
async fn get(addr: SocketAddr, path: &str) -> (u16, String, String) {
    let mut s = within("connect", TcpStream::connect(addr)).await.unwrap();
    s.write_all(format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n").as_bytes())
        .await
        .unwrap();
    let mut raw = Vec::new();
    within("the response", s.read_to_end(&mut raw))
        .await
        .unwrap();
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap();
    let status = head.split(' ').nth(1).unwrap().parse().unwrap();
    (status, head.to_string(), body.to_string())
}

#[tokio::test]
async fn healthz_answers_as_the_reference() {
    let s = start(None).await;
    let m = s.server().monitor_addr().expect("monitoring on");
    let (status, head, body) = get(m, "/healthz").await;
    assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#));
    assert!(head.contains("Content-Type: application/json"), "{head}");
    assert!(head.contains("Access-Control-Allow-Origin: *"), "{head}");
    for q in [
        "js-enabled-only=true",
        "js-server-only=1",
        "details=true",
        "foo=bar",
    ] {
        assert_eq!(get(m, &format!("/healthz?{q}")).await.0, 200, "{q}");
    }
    let (status, _, body) = get(m, "/healthz?js-enabled-only=xyz").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        "Error decoding boolean for 'js-enabled-only': strconv.ParseBool: parsing \"xyz\": invalid syntax"
    );
    let (status, _, body) = get(m, "/healthz?stream=S").await;
    assert_eq!(status, 400);
    assert_eq!(
        body,
        r#"{"status":"error","error":"\"account\" must not be empty when checking stream health"}"#
    );
    let (status, _, body) = get(m, "/healthz?callback=cb").await;
    assert_eq!((status, body.as_str()), (200, r#"cb({"status":"ok"})"#));
    let (status, _, body) = get(m, "/nope").await;
    assert_eq!((status, body.as_str()), (404, "404 page not found\n"));
    let (status, head, body) = get(m, "/").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/html"), "{head}");
    assert!(body.contains("/healthz"), "{body}");
}

#[tokio::test]
async fn healthz_checks_jetstream_assets() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Some(dir.path())).await;
    let m = s.server().monitor_addr().unwrap();
    // No stream yet: the account's JetStream is not found, as the
    // reference says before it has stored anything.
    let (status, _, body) = get(m, "/healthz?account=%24G").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"status":"unavailable","error":"JetStream account \"$G\" not found"}"#
    );
    let client = harness::connect(s.addr()).await;
    let js = async_nats::jetstream::new(client);
    let stream = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "S".into(),
            subjects: vec!["s.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("C".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    for q in [
        "account=%24G",
        "account=%24G&stream=S",
        "account=%24G&stream=S&consumer=C",
    ] {
        let (status, _, body) = get(m, &format!("/healthz?{q}")).await;
        assert_eq!((status, body.as_str()), (200, r#"{"status":"ok"}"#), "{q}");
    }
    let (status, _, body) = get(m, "/healthz?account=%24G&stream=T").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"status":"unavailable","error":"JetStream stream \"T\" not found on account \"$G\""}"#
    );
    let (status, _, body) = get(m, "/healthz?account=%24G&stream=S&consumer=D&details=true").await;
    assert_eq!(status, 404);
    assert_eq!(
        body,
        r#"{"status":"error","errors":[{"type":"CONSUMER","account":"$G","stream":"S","consumer":"D","error":"JetStream consumer \"D\" not found for stream \"S\" on account \"$G\""}]}"#
    );
}

#[tokio::test]
async fn a_monitoring_port_in_use_is_a_start_up_error() {
    let taken = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let port = taken.local_addr().unwrap().port();
    let mut opts = Options::loopback();
    opts.http_port = Some(Port::Fixed(port));
    let err = tern::start(opts).await.err().expect("refused");
    assert_eq!(
        err.to_string(),
        format!(
            "Can't start monitoring: can't listen to the monitor port: listen tcp 127.0.0.1:{port}: bind: address already in use"
        )
    );
}

/// `/varz` has the reference's fields (its `git_commit` aside: tern is not
/// built from its repository) and counts what happened.
#[tokio::test]
async fn varz_has_the_reference_fields() {
    let s = start(None).await;
    let m = s.server().monitor_addr().unwrap();
    let client = harness::connect(s.addr()).await;
    let mut sub = client.subscribe("v").await.unwrap();
    client.publish("v", "hello".into()).await.unwrap();
    harness::next_msg(&mut sub).await;
    let (status, head, body) = get(m, "/varz").await;
    assert_eq!(status, 200);
    assert!(head.contains("application/json"), "{head}");
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let keys: Vec<&str> = v.as_object().unwrap().keys().map(String::as_str).collect();
    // As nats-server 2.14.0 answers a server without auth, TLS or JetStream.
    let reference = [
        "server_id",
        "server_name",
        "version",
        "proto",
        "go",
        "host",
        "port",
        "max_connections",
        "ping_interval",
        "ping_max",
        "http_host",
        "http_port",
        "http_base_path",
        "https_port",
        "auth_timeout",
        "max_control_line",
        "max_payload",
        "max_pending",
        "cluster",
        "gateway",
        "leaf",
        "mqtt",
        "websocket",
        "jetstream",
        "tls_timeout",
        "write_deadline",
        "start",
        "now",
        "uptime",
        "mem",
        "cores",
        "gomaxprocs",
        "cpu",
        "connections",
        "total_connections",
        "routes",
        "remotes",
        "leafnodes",
        "in_msgs",
        "out_msgs",
        "in_bytes",
        "out_bytes",
        "slow_consumers",
        "stale_connections",
        "stalled_clients",
        "subscriptions",
        "http_req_stats",
        "config_load_time",
        "config_digest",
        "feature_flags",
        "system_account",
        "slow_consumer_stats",
        "stale_connection_stats",
    ];
    let mut want: Vec<&str> = reference.to_vec();
    let mut got = keys.clone();
    want.sort();
    got.sort();
    assert_eq!(got, want);
    // In the reference's order, too.
    assert!(body.find("\"server_id\"").unwrap() < body.find("\"stale_connection_stats\"").unwrap());
    assert_eq!(v["http_port"], m.port());
    assert_eq!(v["connections"], 1);
    assert!(v["in_msgs"].as_u64().unwrap() >= 1);
    assert!(v["out_msgs"].as_u64().unwrap() >= 1);
    assert!(v["subscriptions"].as_u64().unwrap() >= 1);
    assert_eq!(v["http_req_stats"]["/varz"], 1);
    assert!(v["uptime"].as_str().unwrap().ends_with('s'));
}

/// With JetStream, `/varz` carries its config and the accounts' totals.
#[tokio::test]
async fn varz_with_jetstream() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Some(dir.path())).await;
    let m = s.server().monitor_addr().unwrap();
    let (_, _, body) = get(m, "/varz").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    let js = &v["jetstream"];
    for k in [
        "max_memory",
        "max_storage",
        "store_dir",
        "sync_interval",
        "strict",
    ] {
        assert!(!js["config"][k].is_null(), "config.{k}: {js}");
    }
    for k in [
        "memory",
        "storage",
        "reserved_memory",
        "reserved_storage",
        "accounts",
        "ha_assets",
    ] {
        assert!(js["stats"][k].is_u64(), "stats.{k}: {js}");
    }
    assert_eq!(js["stats"]["accounts"], 1);
    assert_eq!(js["stats"]["api"]["level"], 4);
    // Monitoring's own asks are not the account's API use.
    let (_, _, body) = get(m, "/varz").await;
    let v: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(v["jetstream"]["stats"]["api"]["total"], 0);
    let (_, _, _) = get(m, "/healthz?account=%24G&stream=S").await;
    let js = async_nats::jetstream::new(harness::connect(s.addr()).await);
    let info = js.query_account().await.unwrap();
    // The account info request counts after its own answer, as in the
    // reference: nothing before it was the account's.
    assert_eq!(info.requests.total, 0, "monitoring asks were counted");
}

async fn json(addr: SocketAddr, path: &str) -> serde_json::Value {
    let (status, _, body) = get(addr, path).await;
    assert_eq!(status, 200, "{path}: {body}");
    serde_json::from_str(&body).unwrap_or_else(|e| panic!("{path}: {e}: {body}"))
}

#[tokio::test]
async fn connz_follows_live_clients() {
    let s = start(None).await;
    let m = s.server().monitor_addr().unwrap();
    let opts = async_nats::ConnectOptions::new().name("worker");
    let worker = harness::connect_with(s.addr(), opts).await;
    let _a = worker.subscribe("jobs.a").await.unwrap();
    let _b = worker.queue_subscribe("jobs.b", "q".into()).await.unwrap();
    let other = harness::connect(s.addr()).await;
    for _ in 0..3 {
        other.publish("jobs.a", "hello".into()).await.unwrap();
    }
    harness::round_trip(&other).await;
    harness::round_trip(&worker).await;
    let v = json(m, "/connz?subs=1&sort=subs").await;
    assert_eq!(v["num_connections"], 2, "{v}");
    let first = &v["connections"][0];
    assert_eq!(first["name"], "worker");
    assert_eq!(first["lang"], "rust");
    assert_eq!(first["subscriptions"], 2);
    // Each round trip is one empty message to the client itself.
    assert_eq!(first["out_msgs"], 3 + 1);
    assert_eq!(first["out_bytes"], 15);
    let mut subs: Vec<&str> = first["subscriptions_list"]
        .as_array()
        .unwrap()
        .iter()
        .map(|x| x.as_str().unwrap())
        .collect();
    subs.sort_unstable();
    assert_eq!(subs, ["jobs.a", "jobs.b"]);
    let second = &v["connections"][1];
    assert_eq!(second["in_msgs"], 3 + 1);
    assert_eq!(second["in_bytes"], 15);
    let cid = first["cid"].as_u64().unwrap();
    let v = json(m, &format!("/connz?cid={cid}&subs=detail")).await;
    let detail = &v["connections"][0]["subscriptions_list_detail"];
    assert!(
        detail
            .as_array()
            .unwrap()
            .iter()
            .any(|d| d["qgroup"] == "q"),
        "{detail}"
    );
    // A closed client moves to the ring with its reason and its count.
    drop((worker, _a, _b));
    harness::wait_until("the worker's close", || {
        s.server().closed_connections().iter().any(|c| c.cid == cid)
    })
    .await;
    let v = json(m, "/connz?state=closed").await;
    let closed = &v["connections"][0];
    assert_eq!(closed["cid"], cid);
    assert_eq!(closed["reason"], "Client Closed");
    assert_eq!(closed["subscriptions"], 2);
    assert!(closed["stop"].is_string());
    let v = json(m, "/connz?state=any").await;
    assert_eq!(v["total"], 2);
    let v = json(m, "/accstatz").await;
    assert_eq!(v["account_statz"][0]["received"]["msgs"], 3 + 2, "{v}");
    assert_eq!(v["account_statz"][0]["sent"]["msgs"], 3 + 2, "{v}");
}

#[tokio::test]
async fn metrics_parse_as_prometheus_text() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Some(dir.path())).await;
    let m = s.server().monitor_addr().unwrap();
    let client = harness::connect(s.addr()).await;
    let js = async_nats::jetstream::new(client.clone());
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    for i in 0..4 {
        js.publish("orders.new", format!("o{i}").into())
            .await
            .unwrap()
            .await
            .unwrap();
    }
    let stream = js.get_stream("ORDERS").await.unwrap();
    stream
        .create_consumer(async_nats::jetstream::consumer::pull::Config {
            durable_name: Some("billing".into()),
            ..Default::default()
        })
        .await
        .unwrap();
    // A refused client counts as an auth failure only with auth on; here
    // the counter is present and zero.
    let (status, head, body) = get(m, "/metrics").await;
    assert_eq!(status, 200);
    assert!(head.contains("text/plain; version=0.0.4"), "{head}");
    let lines = body.lines().map(|l| Ok(l.to_string()));
    let scrape = prometheus_parse::Scrape::parse(lines).expect("parses as Prometheus text");
    let value = |name: &str, label: Option<(&str, &str)>| -> f64 {
        let sample = scrape
            .samples
            .iter()
            .find(|x| x.metric == name && label.is_none_or(|(k, v)| x.labels.get(k) == Some(v)))
            .unwrap_or_else(|| panic!("no {name} {label:?} in\n{body}"));
        match sample.value {
            prometheus_parse::Value::Gauge(v)
            | prometheus_parse::Value::Counter(v)
            | prometheus_parse::Value::Untyped(v) => v,
            _ => panic!("{name} is not a plain value"),
        }
    };
    assert_eq!(value("nats_varz_connections", None), 1.0);
    assert!(value("nats_varz_in_msgs", None) >= 4.0);
    assert_eq!(value("nats_connz_num_connections", None), 1.0);
    assert_eq!(value("nats_server_total_streams", None), 1.0);
    let orders = Some(("stream_name", "ORDERS"));
    assert_eq!(value("nats_stream_total_messages", orders), 4.0);
    assert_eq!(value("nats_stream_consumer_count", orders), 1.0);
    let billing = Some(("consumer_name", "billing"));
    assert_eq!(value("nats_consumer_num_pending", billing), 4.0);
    assert_eq!(value("nats_tern_stream_ingest_queue_depth", orders), 0.0);
    assert_eq!(value("nats_tern_auth_failures_total", None), 0.0);
    let commits = scrape
        .samples
        .iter()
        .find(|x| x.metric == "nats_tern_store_commit_seconds")
        .expect("the commit latency histogram");
    match &commits.value {
        prometheus_parse::Value::Histogram(buckets) => {
            let total = buckets.iter().map(|b| b.count).fold(0.0, f64::max);
            assert!(
                total >= 4.0,
                "four acked publishes were committed: {buckets:?}"
            );
        }
        other => panic!("not a histogram: {other:?}"),
    }
    let server_id = s.server().id().to_string();
    let labelled = scrape
        .samples
        .iter()
        .filter(|x| x.metric.starts_with("nats_varz_"))
        .all(|x| x.labels.get("server_id") == Some(&server_id));
    assert!(labelled, "every varz metric carries the server id");
}

#[tokio::test]
async fn standalone_cluster_endpoints_and_jsz() {
    let dir = tempfile::tempdir().unwrap();
    let s = start(Some(dir.path())).await;
    let m = s.server().monitor_addr().unwrap();
    let v = json(m, "/routez").await;
    assert_eq!(v["num_routes"], 0);
    assert_eq!(v["routes"], serde_json::json!([]));
    let v = json(m, "/gatewayz").await;
    assert_eq!(v["outbound_gateways"], serde_json::json!({}));
    let v = json(m, "/leafz").await;
    assert_eq!(v["leafnodes"], 0);
    let js = async_nats::jetstream::new(harness::connect(s.addr()).await);
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "S".into(),
        subjects: vec!["s".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    js.publish("s", "x".into()).await.unwrap().await.unwrap();
    let v = json(m, "/jsz?streams=1").await;
    assert_eq!(v["streams"], 1);
    assert_eq!(v["messages"], 1);
    let detail = &v["account_details"][0]["stream_detail"][0];
    assert_eq!(detail["name"], "S");
    assert_eq!(detail["state"]["messages"], 1);
    assert!(
        detail["config"].is_null(),
        "config only when asked: {detail}"
    );
    let v = json(m, "/accountz?acc=%24G").await;
    assert_eq!(v["account_detail"]["jetstream_enabled"], true);
    // The stream's own capture of its subject is a subscription too.
    let v = json(m, "/subsz?subs=1&test=s").await;
    assert_eq!(v["total"], 1, "{v}");
    assert_eq!(v["subscriptions_list"][0]["subject"], "s");
    let v = json(m, "/subsz?subs=1&test=t").await;
    assert_eq!(v["total"], 0, "{v}");
}
