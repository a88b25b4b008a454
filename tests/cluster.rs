//! Routes: tern servers (separate processes) in one full-mesh cluster,
//! alone and mixed with the reference nats-server. A message published on
//! one server reaches every subscriber on the others exactly once; queue
//! groups deliver each message once across servers; request/reply works
//! across routes; a server learns the mesh from one seed (gossip); clients
//! learn the other servers' URLs from INFO; a server that restarts gets the
//! interest again and messages flow.

mod harness;

use std::net::SocketAddr;
use std::path::Path;
use std::process::Stdio;
use std::time::{Duration, Instant};

use futures::StreamExt;
use harness::procs::{self, reference_binary, tern_binary, Proc};
use harness::{connect, free_port, within_for};

/// A server of the cluster: its process and its route port.
struct Node {
    proc: Proc,
    client: SocketAddr,
    cluster_port: u16,
}

async fn spawn(bin: &Path, dir: &Path, name: &str, ports: (u16, u16), routes: &[u16]) -> Node {
    spawn_with(bin, dir, name, ports, routes, &[]).await
}

/// Starts `bin` as server `name` of cluster `c` on loopback, routing to
/// `routes` (cluster ports).
async fn spawn_with(
    bin: &Path,
    dir: &Path,
    name: &str,
    ports: (u16, u16),
    routes: &[u16],
    extra: &[&str],
) -> Node {
    let (port, cluster_port) = ports;
    let mut args: Vec<String> = vec![
        "--cluster_name".into(),
        "c".into(),
        "--cluster".into(),
        format!("nats://127.0.0.1:{cluster_port}"),
    ];
    args.extend(extra.iter().map(|s| s.to_string()));
    if !routes.is_empty() {
        let urls: Vec<String> = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        args.push("--routes".into());
        args.push(urls.join(","));
    }
    let proc = procs::spawn(bin, dir, name, port, &args).await;
    Node {
        client: proc.client,
        proc,
        cluster_port,
    }
}

fn ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// Every subscriber on every server gets each message once; queue groups
/// spread across servers get each message once in all; request/reply
/// crosses routes.
async fn exactly_once(nodes: &[&Node]) {
    let clients = futures::future::join_all(nodes.iter().map(|n| connect(n.client))).await;
    let mut subs = Vec::new();
    for c in &clients {
        subs.push(c.subscribe("fan.out").await.expect("sub"));
    }
    for c in &clients {
        c.flush().await.expect("flush");
    }
    // Every publisher's server must see every subscriber's interest.
    for (i, from) in clients.iter().enumerate() {
        for (j, sub) in subs.iter_mut().enumerate() {
            if i != j {
                procs::until_routed(from, "fan.out", sub).await;
            }
        }
    }
    for sub in &mut subs {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {}
    }
    for from in &clients {
        for i in 0..50 {
            from.publish("fan.out", format!("{i}").into())
                .await
                .expect("publish");
        }
        from.flush().await.expect("flush");
    }
    for (i, sub) in subs.iter_mut().enumerate() {
        assert_eq!(
            procs::count(sub).await,
            50 * clients.len(),
            "subscriber on server {i}"
        );
    }
    // Queue group members on every server but the first.
    let mut members = Vec::new();
    for c in &clients[1..] {
        for _ in 0..2 {
            members.push(c.queue_subscribe("work", "g".into()).await.expect("qsub"));
        }
        c.flush().await.expect("flush");
    }
    let watcher_sub = clients[1].subscribe("work").await.expect("sub");
    let mut watcher = watcher_sub;
    clients[1].flush().await.expect("flush");
    procs::until_routed(&clients[0], "work", &mut watcher).await;
    // Probes went to the group too; start counting from zero.
    for m in &mut members {
        while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), m.next()).await {}
    }
    for i in 0..200 {
        clients[0]
            .publish("work", format!("{i}").into())
            .await
            .expect("publish");
    }
    clients[0].flush().await.expect("flush");
    let mut per_member = Vec::new();
    for m in &mut members {
        per_member.push(procs::count(m).await);
    }
    assert_eq!(per_member.iter().sum::<usize>(), 200, "{per_member:?}");
    // Request/reply: the responder on the last server.
    let last = clients.last().expect("clients");
    let mut service = last.subscribe("svc").await.expect("sub");
    last.flush().await.expect("flush");
    let responder = last.clone();
    let answering = tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                let _ = responder.publish(reply, req.payload).await;
                let _ = responder.flush().await;
            }
        }
    });
    let reply = within_for(Duration::from_secs(10), "request across routes", async {
        loop {
            match clients[0].request("svc", "ping".into()).await {
                Ok(m) => return m,
                Err(_) => tokio::time::sleep(Duration::from_millis(100)).await,
            }
        }
    })
    .await;
    assert_eq!(&reply.payload[..], b"ping");
    answering.abort();
}

/// The INFO a raw client gets from `addr`.
async fn client_info(addr: SocketAddr) -> serde_json::Value {
    let mut wire = harness::Wire::connect(addr).await;
    let line = wire.read_line().await;
    let text = String::from_utf8_lossy(&line);
    let json = text.trim().strip_prefix("INFO ").expect("INFO").trim();
    serde_json::from_str(json).expect("INFO json")
}

/// Waits until server `addr`'s client INFO lists `n` connect URLs.
async fn until_urls(addr: SocketAddr, n: usize) -> Duration {
    let start = Instant::now();
    within_for(Duration::from_secs(10), "connect_urls", async {
        loop {
            let info = client_info(addr).await;
            if info["connect_urls"].as_array().map_or(0, Vec::len) == n {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    start.elapsed()
}

#[tokio::test]
async fn three_tern_servers_learn_the_mesh_from_one_seed_and_deliver_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let monitor_port = free_port();
    let monitor = monitor_port.to_string();
    let a = spawn_with(&bin, dir.path(), "A", ports(), &[], &["-m", &monitor]).await;
    let b = spawn(&bin, dir.path(), "B", ports(), &[a.cluster_port]).await;
    until_urls(a.client, 2).await;
    // C knows only A: it hears of B from A (and B of C), and dials it.
    let c = spawn(&bin, dir.path(), "C", ports(), &[a.cluster_port]).await;
    let converged = until_urls(b.client, 3).await;
    until_urls(c.client, 3).await;
    assert!(
        converged < Duration::from_secs(2),
        "gossip took {converged:?}"
    );
    let info = client_info(c.client).await;
    assert_eq!(info["cluster"], "c");
    exactly_once(&[&a, &b, &c]).await;
    // B and C talk directly (one hop: A does not relay what it routed),
    // each pair over a pool of 3 connections and one pinned to $SYS.
    let log = std::fs::read_to_string(&c.proc.log).expect("log");
    assert_eq!(log.matches("Route connection created").count(), 8, "{log}");
    // Monitoring shows every route connection, with the other servers'
    // names, and the cluster section.
    let (cb, cc) = (connect(b.client).await, connect(c.client).await);
    let _watched = (
        cb.subscribe("watch.me").await.expect("sub"),
        cc.subscribe("watch.me").await.expect("sub"),
    );
    cb.flush().await.expect("flush");
    cc.flush().await.expect("flush");
    let routez = within_for(Duration::from_secs(10), "routez with the interest", async {
        loop {
            let routez = procs::http_json(monitor_port, "/routez?subs=1").await;
            // $G's interest goes over one connection of each pool.
            let listed = routez["routes"].as_array().is_some_and(|routes| {
                routes.len() == 8
                    && ["B", "C"].iter().all(|name| {
                        routes.iter().any(|r| {
                            r["remote_name"] == *name
                                && r["subscriptions_list"]
                                    .as_array()
                                    .is_some_and(|l| l.iter().any(|s| s == "watch.me"))
                        })
                    })
            });
            if listed {
                return routez;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(routez["num_routes"], 8, "{routez}");
    let mut names: Vec<String> = routez["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .filter(|r| r["account"] == "$SYS")
        .map(|r| r["remote_name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["B", "C"]);
    let varz = procs::http_json(monitor_port, "/varz").await;
    assert_eq!(varz["cluster"]["name"], "c");
    assert_eq!(varz["cluster"]["pool_size"], 3);
    assert_eq!(
        (varz["routes"].as_u64(), varz["remotes"].as_u64()),
        (Some(8), Some(2))
    );
    assert_eq!(varz["connect_urls"].as_array().map(Vec::len), Some(3));
}

#[tokio::test]
async fn a_restarted_server_gets_interest_again() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let (pa, pb) = (ports(), ports());
    let a = spawn(&bin, dir.path(), "A", pa, &[pb.1]).await;
    let b = spawn(&bin, dir.path(), "B", pb, &[pa.1]).await;
    let ca = connect(a.client).await;
    let mut on_a = ca.subscribe("after.restart").await.expect("sub");
    ca.flush().await.expect("flush");
    {
        let cb = connect(b.client).await;
        procs::until_routed(&cb, "after.restart", &mut on_a).await;
    }
    // B goes away; A keeps serving its own clients.
    drop(b);
    ca.publish("after.restart", "local".into())
        .await
        .expect("publish");
    ca.flush().await.expect("flush");
    let got = within_for(Duration::from_secs(5), "local delivery", on_a.next()).await;
    assert!(got.is_some());
    // B comes back on the same ports: A redials and sends its interest.
    let b = spawn(&bin, dir.path(), "B", pb, &[pa.1]).await;
    let cb = connect(b.client).await;
    procs::until_routed(&cb, "after.restart", &mut on_a).await;
    for i in 0..20 {
        cb.publish("after.restart", format!("{i}").into())
            .await
            .expect("publish");
    }
    cb.flush().await.expect("flush");
    assert_eq!(procs::count(&mut on_a).await, 20);
}

#[tokio::test]
async fn mixed_clusters_with_the_reference_deliver_once() {
    let Some(reference) = reference_binary() else {
        eprintln!("reference nats-server not installed: skipped");
        return;
    };
    let dir = tempfile::tempdir().expect("tempdir");
    let tern = tern_binary();
    // tern, nats-server, tern; each routes to the one before it.
    let a = spawn(&tern, dir.path(), "A", ports(), &[]).await;
    let b = spawn(&reference, dir.path(), "B", ports(), &[a.cluster_port]).await;
    let c = spawn(&tern, dir.path(), "C", ports(), &[b.cluster_port]).await;
    until_urls(a.client, 3).await;
    until_urls(c.client, 3).await;
    exactly_once(&[&a, &b, &c]).await;
    drop((a, b, c));
    // And the reverse: nats-server, tern, nats-server.
    let a = spawn(&reference, dir.path(), "D", ports(), &[]).await;
    let b = spawn(&tern, dir.path(), "E", ports(), &[a.cluster_port]).await;
    let c = spawn(&reference, dir.path(), "F", ports(), &[b.cluster_port]).await;
    until_urls(b.client, 3).await;
    exactly_once(&[&a, &b, &c]).await;
}

#[tokio::test]
async fn the_route_port_refuses_clients_garbage_and_other_clusters() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let a = spawn(&bin, dir.path(), "A", ports(), &[]).await;
    let route_port = SocketAddr::from(([127, 0, 0, 1], a.cluster_port));
    let cases: [(&[u8], &[u8]); 3] = [
        (
            b"CONNECT {\"lang\":\"rust\",\"verbose\":false}\r\n",
            b"-ERR 'attempted to connect to route port'\r\n",
        ),
        (
            b"CONNECT {\"name\":\"x\",\"cluster\":\"other\"}\r\n",
            b"-ERR 'Rejecting connection, cluster name \"other\" does not match \"c\"'\r\n",
        ),
        (b"GARBAGE\r\n", b"-ERR 'Unknown Protocol Operation'\r\n"),
    ];
    for (send, want) in cases {
        let mut wire = harness::Wire::connect(route_port).await;
        let info = wire.read_line().await;
        assert!(info.starts_with(b"INFO "), "{}", harness::show(&info));
        wire.send(send).await;
        wire.expect(want).await;
        wire.expect_closed().await;
    }
    // A server of another cluster is refused, and says so in the log.
    let refusal = "Rejecting connection, cluster name \"other\" does not match \"c\"";
    let before = std::fs::read_to_string(&a.proc.log)
        .unwrap_or_default()
        .matches(refusal)
        .count();
    let other = ports();
    let log = dir.path().join("X.log");
    let child = std::process::Command::new(&bin)
        .args(["-a", "127.0.0.1", "-p", &other.0.to_string(), "-n", "X"])
        .args(["--cluster_name", "other"])
        .arg("--cluster")
        .arg(format!("nats://127.0.0.1:{}", other.1))
        .arg("--routes")
        .arg(format!("nats://127.0.0.1:{}", a.cluster_port))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(std::fs::File::create(&log).expect("log"))
        .spawn()
        .expect("spawn");
    let _x = Proc {
        child,
        client: SocketAddr::from(([127, 0, 0, 1], other.0)),
        log,
    };
    within_for(Duration::from_secs(10), "the refusal in the log", async {
        loop {
            let text = std::fs::read_to_string(&a.proc.log).unwrap_or_default();
            if text.matches(refusal).count() > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(
        client_info(a.client).await["connect_urls"],
        serde_json::Value::Null
    );
}

#[tokio::test]
async fn websocket_clients_learn_the_clusters_websocket_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let ws_conf = |name: &str, port: u16| {
        let path = dir.path().join(format!("{name}.conf"));
        std::fs::write(
            &path,
            format!("websocket {{ host: 127.0.0.1, port: {port}, no_tls: true }}\n"),
        )
        .expect("conf");
        path.display().to_string()
    };
    let (wa, wb) = (free_port(), free_port());
    let (ca, cb) = (ws_conf("A", wa), ws_conf("B", wb));
    let a = spawn_with(&bin, dir.path(), "A", ports(), &[], &["-c", &ca]).await;
    let b = spawn_with(
        &bin,
        dir.path(),
        "B",
        ports(),
        &[a.cluster_port],
        &["-c", &cb],
    )
    .await;
    until_urls(a.client, 2).await;
    // A WebSocket client of A is told both servers' WebSocket ports.
    let client = within_for(
        Duration::from_secs(10),
        "websocket connect",
        async_nats::connect(format!("ws://127.0.0.1:{wa}")),
    )
    .await
    .expect("ws connect");
    let mut urls = client.server_info().connect_urls;
    urls.sort();
    let mut want = vec![format!("127.0.0.1:{wa}"), format!("127.0.0.1:{wb}")];
    want.sort();
    assert_eq!(urls, want);
    // TCP clients still get the client ports.
    let info = client_info(b.client).await;
    let tcp: Vec<String> = info["connect_urls"]
        .as_array()
        .expect("urls")
        .iter()
        .map(|u| u.as_str().unwrap_or("").to_string())
        .collect();
    assert!(tcp.contains(&a.client.to_string()), "{tcp:?}");
}

#[tokio::test]
async fn a_route_that_stops_answering_pings_is_closed_as_stale() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("fast-pings.conf");
    std::fs::write(&conf, "ping_interval: \"200ms\"\nping_max: 2\n").expect("conf");
    let conf = conf.display().to_string();
    let a = spawn_with(
        &tern_binary(),
        dir.path(),
        "A",
        ports(),
        &[],
        &["-c", &conf],
    )
    .await;
    // A peer that introduces itself, then never answers.
    let mut wire = harness::Wire::connect(SocketAddr::from(([127, 0, 0, 1], a.cluster_port))).await;
    let info = wire.read_line().await;
    assert!(info.starts_with(b"INFO "), "{}", harness::show(&info));
    wire.send(b"CONNECT {\"name\":\"FAKE\",\"cluster\":\"c\"}\r\nINFO {\"server_id\":\"FAKE\",\"server_name\":\"fake\",\"cluster\":\"c\",\"port\":1}\r\n")
        .await;
    let mut sock = wire.into_stream();
    let mut seen = Vec::new();
    within_for(
        Duration::from_secs(5),
        "the stale route closed",
        tokio::io::AsyncReadExt::read_to_end(&mut sock, &mut seen),
    )
    .await
    .expect("read");
    let text = String::from_utf8_lossy(&seen);
    assert!(text.matches("PING\r\n").count() >= 2, "{text}");
    procs::until_logged(
        &a.proc,
        "Router connection closed: Stale Connection - Remote: fake",
        0,
    )
    .await;
}

#[tokio::test]
async fn a_server_in_lame_duck_mode_is_dropped_from_the_others_client_urls() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("slow-ldm.conf");
    std::fs::write(
        &conf,
        "lame_duck_duration: \"30s\"\nlame_duck_grace_period: \"10s\"\n",
    )
    .expect("conf");
    let conf = conf.display().to_string();
    let bin = tern_binary();
    let a = spawn(&bin, dir.path(), "A", ports(), &[]).await;
    let b = spawn_with(
        &bin,
        dir.path(),
        "B",
        ports(),
        &[a.cluster_port],
        &["-c", &conf],
    )
    .await;
    until_urls(a.client, 2).await;
    signal(&b, "USR2");
    // A's clients hear of A alone again while B is still up.
    within_for(Duration::from_secs(10), "B dropped from A's INFO", async {
        loop {
            if client_info(a.client).await["connect_urls"].is_null() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
}

#[tokio::test]
async fn jetstream_in_a_tern_cluster_answers_as_a_standalone_server() {
    let dir = tempfile::tempdir().expect("tempdir");
    let bin = tern_binary();
    let store = |n: &str| dir.path().join(n).display().to_string();
    let (sa, sb) = (store("a-store"), store("b-store"));
    let a = spawn_with(&bin, dir.path(), "A", ports(), &[], &["-js", "-sd", &sa]).await;
    let b = spawn_with(
        &bin,
        dir.path(),
        "B",
        ports(),
        &[a.cluster_port],
        &["-js", "-sd", &sb],
    )
    .await;
    until_urls(a.client, 2).await;
    let log = std::fs::read_to_string(&a.proc.log).expect("log");
    assert!(
        log.contains("JetStream in a cluster runs standalone"),
        "{log}"
    );
    let js = async_nats::jetstream::new(connect(a.client).await);
    let replicated = js
        .create_stream(async_nats::jetstream::stream::Config {
            name: "R3".into(),
            num_replicas: 3,
            ..Default::default()
        })
        .await
        .expect_err("no replicas");
    assert!(
        replicated
            .to_string()
            .contains("replicas > 1 not supported in non-clustered mode"),
        "{replicated}"
    );
    js.create_stream(async_nats::jetstream::stream::Config {
        name: "R1".into(),
        subjects: vec!["r1.>".into()],
        ..Default::default()
    })
    .await
    .expect("R1 stream");
    // A client of B publishes into A's stream across the route.
    let from_b = async_nats::jetstream::new(connect(b.client).await);
    let ack = within_for(Duration::from_secs(10), "ack from A's stream", async {
        loop {
            if let Ok(ack) = from_b.publish("r1.x", "1".into()).await {
                if let Ok(ack) = ack.await {
                    return ack;
                }
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    })
    .await;
    assert_eq!(ack.stream, "R1");
}

/// A server of a cluster with accounts A, B and PIN (users a, b, p), its
/// `cluster` block extended by `cluster_extra`.
async fn spawn_accounts(
    bin: &Path,
    dir: &Path,
    name: &str,
    routes: &[u16],
    cluster_extra: &str,
) -> (Node, u16) {
    let (port, cluster_port) = ports();
    let urls: Vec<String> = routes
        .iter()
        .map(|p| format!("\"nats://127.0.0.1:{p}\""))
        .collect();
    let conf = dir.join(format!("{name}.conf"));
    std::fs::write(
        &conf,
        format!(
            "accounts {{\n  A {{ users [ {{ user: a, password: a }} ] }}\n  B {{ users [ {{ user: b, password: b }} ] }}\n  PIN {{ users [ {{ user: p, password: p }} ] }}\n}}\ncluster {{\n  name: c\n  listen: \"127.0.0.1:{cluster_port}\"\n  routes: [{}]\n  {cluster_extra}\n}}\n",
            urls.join(", ")
        ),
    )
    .expect("conf");
    let monitor = free_port();
    let args = vec![
        "-c".to_string(),
        conf.display().to_string(),
        "-m".to_string(),
        monitor.to_string(),
    ];
    let proc = procs::spawn(bin, dir, name, port, &args).await;
    let node = Node {
        client: proc.client,
        proc,
        cluster_port,
    };
    (node, monitor)
}

/// In each account, a subscriber on every server gets what every server
/// publishes exactly once, and nothing of the other accounts.
async fn once_per_account(nodes: &[&Node]) {
    for user in ["a", "b", "p"] {
        let opts = || async_nats::ConnectOptions::with_user_and_password(user.into(), user.into());
        let mut clients = Vec::new();
        for n in nodes {
            clients.push(harness::connect_with(n.client, opts()).await);
        }
        let mut subs = Vec::new();
        for c in &clients {
            subs.push(c.subscribe("per.account").await.expect("sub"));
            c.flush().await.expect("flush");
        }
        for (i, c) in clients.iter().enumerate() {
            for (j, sub) in subs.iter_mut().enumerate() {
                if i != j {
                    procs::until_routed(c, "per.account", sub).await;
                }
            }
        }
        for c in &clients {
            for k in 0..20 {
                c.publish("per.account", format!("{user}{k}").into())
                    .await
                    .expect("pub");
            }
            c.flush().await.expect("flush");
        }
        for (j, sub) in subs.iter_mut().enumerate() {
            let mut got = 0;
            while let Ok(Some(m)) =
                tokio::time::timeout(Duration::from_millis(300), sub.next()).await
            {
                if &m.payload[..] == b"probe" {
                    continue;
                }
                assert!(
                    m.payload.starts_with(user.as_bytes()),
                    "account {user} got {:?}",
                    m.payload
                );
                got += 1;
            }
            assert_eq!(got, 20 * nodes.len(), "account {user}, server {j}");
        }
    }
}

#[tokio::test]
async fn accounts_spread_over_route_pools_and_pinned_accounts_keep_their_own_route() {
    let dir = tempfile::tempdir().expect("tempdir");
    let tern = tern_binary();
    let pinned = "pool_size: 3\n  accounts: [PIN]";
    let (t1, monitor) = spawn_accounts(&tern, dir.path(), "T1", &[], pinned).await;
    // A server with pooling off shares one route for every account.
    let (t2, _) =
        spawn_accounts(&tern, dir.path(), "T2", &[t1.cluster_port], "pool_size: -1").await;
    let mut nodes = vec![t1, t2];
    if let Some(reference) = reference_binary() {
        let (g, _) = spawn_accounts(
            &reference,
            dir.path(),
            "G",
            &[nodes[0].cluster_port],
            pinned,
        )
        .await;
        nodes.push(g);
    } else {
        eprintln!("reference nats-server not installed: tern alone");
    }
    let all: Vec<&Node> = nodes.iter().collect();
    until_urls(all[0].client, all.len()).await;
    once_per_account(&all).await;
    // T1's routes: to T2 one for everything; to G a pool of 3 and one
    // each for PIN and $SYS.
    let routez = procs::http_json(monitor, "/routez").await;
    let mut seen: Vec<(String, String)> = routez["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| {
            let account = r["account"].as_str().unwrap_or("pool").to_string();
            (r["remote_name"].as_str().unwrap_or("").to_string(), account)
        })
        .collect();
    seen.sort();
    let mut want = vec![("T2".to_string(), "pool".to_string())];
    if all.len() == 3 {
        for account in ["$SYS", "PIN", "pool", "pool", "pool"] {
            want.push(("G".to_string(), account.to_string()));
        }
    }
    want.sort();
    assert_eq!(seen, want, "{routez}");
}

/// Sends `signal` (STOP, CONT, USR2) to `node`'s process.
fn signal(node: &Node, signal: &str) {
    let status = std::process::Command::new("kill")
        .args([format!("-{signal}"), node.proc.child.id().to_string()])
        .status()
        .expect("kill");
    assert!(status.success(), "kill -{signal}");
}

#[tokio::test]
async fn a_partitioned_server_does_not_hold_up_the_others_and_rejoins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("fast-pings.conf");
    std::fs::write(&conf, "ping_interval: \"300ms\"\nping_max: 2\n").expect("conf");
    let conf = conf.display().to_string();
    let bin = tern_binary();
    let extra = ["-c", conf.as_str()];
    let a = spawn_with(&bin, dir.path(), "A", ports(), &[], &extra).await;
    let b = spawn_with(&bin, dir.path(), "B", ports(), &[a.cluster_port], &extra).await;
    let c = spawn_with(&bin, dir.path(), "C", ports(), &[a.cluster_port], &extra).await;
    until_urls(a.client, 3).await;
    until_urls(c.client, 3).await;
    let (ca, cb, cc) = (
        connect(a.client).await,
        connect(b.client).await,
        connect(c.client).await,
    );
    let mut on_b = cb.subscribe("part.x").await.expect("sub");
    let mut on_c = cc.subscribe("part.x").await.expect("sub");
    cb.flush().await.expect("flush");
    cc.flush().await.expect("flush");
    procs::until_routed(&ca, "part.x", &mut on_b).await;
    procs::until_routed(&ca, "part.x", &mut on_c).await;
    // The probes that reached B too.
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), on_b.next()).await {}
    // C stops answering with its sockets open, as behind a partition.
    signal(&c, "STOP");
    for i in 0..100 {
        ca.publish("part.x", format!("{i}").into())
            .await
            .expect("pub");
    }
    ca.flush().await.expect("flush");
    assert_eq!(procs::count(&mut on_b).await, 100, "A -> B while C is away");
    // A and B give up on C as stale, and keep serving each other.
    procs::until_logged(&a.proc, "Stale Connection - Remote: C", 0).await;
    procs::until_logged(&b.proc, "Stale Connection - Remote: C", 0).await;
    for i in 0..100 {
        ca.publish("part.x", format!("{i}").into())
            .await
            .expect("pub");
    }
    ca.flush().await.expect("flush");
    assert_eq!(procs::count(&mut on_b).await, 100, "A -> B after C went");
    // The partition heals: C rejoins, its interest is sent again, and
    // messages reach it once each.
    signal(&c, "CONT");
    // What C had in its socket from before goes first.
    tokio::time::sleep(Duration::from_millis(500)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(100), on_c.next()).await {}
    procs::until_routed(&ca, "part.x", &mut on_c).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), on_b.next()).await {}
    for i in 0..50 {
        ca.publish("part.x", format!("{i}").into())
            .await
            .expect("pub");
    }
    ca.flush().await.expect("flush");
    assert_eq!(
        procs::count(&mut on_c).await,
        50,
        "A -> C after the partition"
    );
    assert_eq!(
        procs::count(&mut on_b).await,
        50,
        "A -> B after the partition"
    );
}

#[tokio::test]
async fn routes_run_over_tls_with_each_side_verified() {
    let certs = harness::certs::server_certs();
    let dir = tempfile::tempdir().expect("tempdir");
    let tern = tern_binary();
    let tls = format!(
        "tls {{ cert_file: \"{}\", key_file: \"{}\", ca_file: \"{}\" }}",
        certs.cert.display(),
        certs.key.display(),
        certs.ca.display()
    );
    let (t1, monitor) = spawn_accounts(&tern, dir.path(), "T1", &[], &tls).await;
    let (t2, _) = spawn_accounts(&tern, dir.path(), "T2", &[t1.cluster_port], &tls).await;
    let mut nodes = vec![t1, t2];
    if let Some(reference) = reference_binary() {
        let (g, _) =
            spawn_accounts(&reference, dir.path(), "G", &[nodes[0].cluster_port], &tls).await;
        nodes.push(g);
    } else {
        eprintln!("reference nats-server not installed: tern alone");
    }
    let all: Vec<&Node> = nodes.iter().collect();
    until_urls(all[0].client, all.len()).await;
    until_urls(all[1].client, all.len()).await;
    once_per_account(&all).await;
    let varz = procs::http_json(monitor, "/varz").await;
    assert_eq!(
        varz["remotes"].as_u64(),
        Some(all.len() as u64 - 1),
        "{varz}"
    );
    // A server without TLS is not let in.
    let (_plain, _) = spawn_accounts(&tern, dir.path(), "P", &[all[0].cluster_port], "").await;
    procs::until_logged(&all[0].proc, "TLS route handshake error", 0).await;
}
