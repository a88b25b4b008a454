//! tern against the reference nats-server, side by side in one run.
//!
//! `cargo bench --bench vs_reference` starts both servers on loopback and
//! runs each workload on each, alternating, for several rounds, printing
//! medians and the tern/reference ratio. Load comes from raw-protocol
//! clients in this process so the client costs the same for both servers.
//! Without the reference installed it measures tern alone.
//!
//! `BENCH_ROUNDS` (default 5) sets the rounds; `BENCH_ONLY=name` runs one
//! workload. `BENCH_ONLY=buckets` runs the many-streams workload
//! (`BENCH_BUCKETS`, default 10,000 KV buckets).

#[path = "support/mod.rs"]
mod support;

/// The allocator the tern binary runs with, for the servers this process
/// embeds (the in-process workloads): glibc's malloc contends between the
/// publishing and the receiving thread.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

use std::time::{Duration, Instant};

use support::proto::{Conn, Frame};
use support::server::{reference_binary, ServerProcess};

const SUBJECT: &str = "bench.subject";

/// One measured number, where bigger (or smaller) is better.
#[derive(Clone, Copy, PartialEq)]
enum Better {
    Higher,
    Lower,
}

struct Workload {
    name: &'static str,
    unit: &'static str,
    better: Better,
    run: fn(u16) -> f64,
}

fn main() {
    if std::env::args().any(|a| a == "--list") {
        return;
    }
    let rounds: usize = std::env::var("BENCH_ROUNDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(5);
    let only = std::env::var("BENCH_ONLY").ok();
    let tern_bin = env!("CARGO_BIN_EXE_tern").to_string();
    let reference = reference_binary();
    if reference.is_none() {
        println!("reference nats-server not found: measuring tern alone");
    }
    let workloads = [
        Workload {
            name: "pub-only 16 B",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| pub_only(p, 16, 2_000_000),
        },
        Workload {
            name: "pub-only 128 B",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| pub_only(p, 128, 1_500_000),
        },
        Workload {
            name: "pub-only 1 KiB",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| pub_only(p, 1024, 400_000),
        },
        Workload {
            name: "fan-out 1->1 128 B",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| fan_out(p, 128, 1, None, 600_000),
        },
        Workload {
            name: "fan-out 1->5 128 B",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| fan_out(p, 128, 5, None, 200_000),
        },
        Workload {
            name: "queue group of 4, 128 B",
            unit: "msgs/s",
            better: Better::Higher,
            run: |p| fan_out(p, 128, 4, Some("workers"), 600_000),
        },
        Workload {
            name: "request/reply p50",
            unit: "us",
            better: Better::Lower,
            run: |p| request_latency(p, 4_000).0,
        },
        Workload {
            name: "request/reply p99",
            unit: "us",
            better: Better::Lower,
            run: |p| request_latency(p, 4_000).1,
        },
        Workload {
            name: "request/reply 8 in flight",
            unit: "req/s",
            better: Better::Higher,
            run: |p| request_throughput(p, 8, 40_000),
        },
    ];
    let tern = ServerProcess::start("tern", &tern_bin).expect("start tern");
    let nats = reference
        .as_ref()
        .map(|b| ServerProcess::start("nats-server", b).expect("start reference"));
    println!(
        "{:<28} {:>14} {:>14} {:>8}  unit",
        "workload", "tern", "reference", "ratio"
    );
    for w in workloads
        .iter()
        .filter(|w| only.as_deref().is_none_or(|o| w.name.contains(o)))
    {
        let mut t = Vec::new();
        let mut r = Vec::new();
        for _ in 0..rounds {
            t.push((w.run)(tern.port));
            if let Some(n) = &nats {
                r.push((w.run)(n.port));
            }
        }
        report(w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
    }
    drop(tern);
    drop(nats);
    if only
        .as_deref()
        .is_none_or(|o| o.contains("auth") || o.contains("tls"))
    {
        security_workloads(&tern_bin, reference.as_deref(), rounds);
    }
    if only.as_deref().is_none_or(|o| o.contains("ws")) {
        websocket_workload(&tern_bin, reference.as_deref(), rounds);
    }
    if only
        .as_deref()
        .is_none_or(|o| o.contains("route") || o.contains("leaf"))
    {
        route_workloads(&tern_bin, reference.as_deref(), rounds);
    }
    if only.as_deref().is_none_or(|o| o.contains("js")) {
        jetstream_workloads(&tern_bin, reference.as_deref(), rounds, only.as_deref());
    }
    // By hand only: `BENCH_ONLY=soak` (BENCH_SOAK_SECS, default 600;
    // BENCH_SOAK_KIND=keys for removals from inside the stream).
    if only.as_deref().is_some_and(|o| o.contains("soak")) {
        soak_workload(&tern_bin, reference.as_deref());
    }
    if only.as_deref().is_none_or(|o| o.contains("consume")) {
        consume_workloads(&tern_bin, reference.as_deref(), rounds);
    }
    if only.as_deref().is_none_or(|o| o.contains("kv")) {
        kv_workloads(&tern_bin, reference.as_deref(), rounds, only.as_deref());
    }
    if only.as_deref().is_none_or(|o| o.contains("obj")) {
        obj_workloads(&tern_bin, reference.as_deref(), rounds);
    }
    if only.as_deref().is_none_or(|o| o.contains("buckets")) {
        buckets_workload(&tern_bin, reference.as_deref());
    }
    if only.as_deref().is_none_or(|o| o.contains("inproc")) {
        inproc_workloads(rounds);
    }
    if only.as_deref().is_none_or(|o| {
        ["ops", "scrape", "connz", "reload"]
            .iter()
            .any(|w| o.contains(w))
    }) {
        ops_workloads(&tern_bin, reference.as_deref(), rounds, only.as_deref());
    }
    if only
        .as_deref()
        .is_none_or(|o| "idle".contains(o) || o.contains("rss"))
    {
        let t = idle_rss_per_conn(&tern_bin, 5_000);
        let r = reference.as_ref().map(|b| idle_rss_per_conn(b, 5_000));
        let w = Workload {
            name: "RSS per idle conn (5000)",
            unit: "bytes",
            better: Better::Lower,
            run: |_| 0.0,
        };
        report(&w, t, r);
    }
}

/// In-process clients (`tern_link`) against async-nats on loopback, on
/// the same embedded tern (targets: pub/sub >= 3x, request/reply p50 <=
/// 0.2x).
fn inproc_workloads(rounds: usize) {
    let (mut ip, mut np, mut il, mut nl) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (a, b, c, d) = support::inproc::compare(400_000, 4_000);
        ip.push(a);
        np.push(b);
        il.push(c);
        nl.push(d);
    }
    let (a, b) = (median(&mut ip), median(&mut np));
    println!(
        "{:<28} {a:>14.0} {b:>14.0} {:>7.2}x  msgs/s in process vs async-nats on loopback",
        "in-process pub/sub 128 B",
        a / b
    );
    let (c, d) = (median(&mut il), median(&mut nl));
    println!(
        "{:<28} {c:>14.1} {d:>14.1} {:>7.2}x  us in process vs async-nats on loopback (lower is better)",
        "in-process req/rep p50",
        c / d
    );
    // Target: the in-process KV get stays >= 10x the network one.
    let (_, get, network_get) = support::kv::in_process(2_000, 200_000);
    println!(
        "{:<28} {get:>14.0} {network_get:>14.0} {:>7.2}x  gets/s in process vs the network, same tern",
        "in-process KV get",
        get / network_get
    );
}

/// Operations: a monitoring scrape every 100 ms during pub/sub (target:
/// costs < 3%), `/connz` with 10,000 connections (< 100 ms), a reload
/// reaching 10,000 clients (< 1 s).
fn ops_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize, only: Option<&str>) {
    use support::ops;
    let wants = |w: &str| only.is_none_or(|o| o.contains(w) || o == "ops");
    if wants("scrape") {
        // tern serves /metrics; the reference has no such endpoint, so it
        // is scraped for /varz in its place.
        for (label, bin, paths) in [
            ("tern", Some(tern_bin), ["/connz?subs=1", "/metrics"]),
            ("nats-server", reference, ["/connz?subs=1", "/varz"]),
        ] {
            let Some(bin) = bin else {
                continue;
            };
            let monitor = ops::free_port().to_string();
            let server =
                ServerProcess::start_with(label, bin, &["-m", &monitor]).expect("start server");
            let m: u16 = monitor.parse().expect("port");
            let (mut plain, mut scraped, mut scrape_ms) = (Vec::new(), Vec::new(), Vec::new());
            for _ in 0..rounds {
                plain.push(fan_out(server.port, 128, 1, None, 600_000));
                let (rate, _, mean) =
                    ops::while_scraped(m, &paths, || fan_out(server.port, 128, 1, None, 600_000));
                scraped.push(rate);
                scrape_ms.push(mean.as_secs_f64() * 1e3);
            }
            let (p, sc, ms) = (
                median(&mut plain),
                median(&mut scraped),
                median(&mut scrape_ms),
            );
            println!(
                "{:<28} {sc:>14.0} {p:>14.0} {:>7.3}x  msgs/s {label}, scraped every 100 ms vs not (each GET {ms:.2} ms)",
                "pub/sub 1:1 while scraped",
                sc / p
            );
        }
    }
    if wants("connz") {
        let (t_page, t_all) = ops::connz_with(tern_bin, 10_000, rounds.max(3));
        let r = reference.map(|b| ops::connz_with(b, 10_000, rounds.max(3)));
        for (name, t, r) in [
            ("/connz, 10k conns", t_page, r.map(|x| x.0)),
            ("/connz?limit=10000, 10k", t_all, r.map(|x| x.1)),
        ] {
            let w = Workload {
                name,
                unit: "ms",
                better: Better::Lower,
                run: |_| 0.0,
            };
            report(&w, t, r);
        }
    }
    if wants("reload") {
        let t = ops::reload_reaching(tern_bin, 10_000);
        let r = reference.map(|b| ops::reload_reaching(b, 10_000));
        let w = Workload {
            name: "reload reaching 10k clients",
            unit: "ms",
            better: Better::Lower,
            run: |_| 0.0,
        };
        report(&w, t, r);
    }
}

/// Security costs: publishing as a user whose permissions have 20 allow
/// rules against the same server without auth (target >= 0.95x), and
/// pub/sub 1:1 over TLS against the reference over TLS (target >= 1.0x).
fn security_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    // 20 allow rules; the benchmark's subject matches the last.
    let mut allow: Vec<String> = (0..19).map(|i| format!("\"other.{i}.>\"")).collect();
    allow.push(format!("\"{SUBJECT}\""));
    let conf = dir.path().join("auth.conf");
    std::fs::write(
        &conf,
        format!(
            "authorization {{ users: [ {{user: bench, password: bench, permissions: {{publish: {{allow: [{}]}}, subscribe: \">\"}}}} ] }}\n",
            allow.join(", ")
        ),
    )
    .expect("write auth.conf");
    let conf = conf.display().to_string();
    let plain = ServerProcess::start("tern", tern_bin).expect("start tern");
    let authed = ServerProcess::start_with("tern", tern_bin, &["-c", &conf]).expect("start tern");
    let (mut without, mut with) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        without.push(pub_as(plain.port, "", None, 128, 1_500_000));
        with.push(pub_as(
            authed.port,
            r#""user":"bench","pass":"bench""#,
            None,
            128,
            1_500_000,
        ));
    }
    let (w, wo) = (median(&mut with), median(&mut without));
    println!(
        "{:<28} {w:>14.0} {wo:>14.0} {:>7.2}x  msgs/s (higher is better; against tern without auth)",
        "pub 128 B, 20 allow rules",
        w / wo
    );
    drop(plain);
    drop(authed);

    let (cert, key, client) = support::tls::self_signed(dir.path());
    let tls_args = [
        "--tls",
        "--tlscert",
        cert.as_str(),
        "--tlskey",
        key.as_str(),
    ];
    let tern = ServerProcess::start_with("tern", tern_bin, &tls_args).expect("start tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-server", b, &tls_args).expect("start reference"));
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        t.push(fan_out_tls(tern.port, &client, 128, 400_000));
        if let Some(n) = &nats {
            r.push(fan_out_tls(n.port, &client, 128, 400_000));
        }
    }
    let w = Workload {
        name: "TLS pub/sub 1:1 128 B",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
}

/// `pub_only` as a signed-in user, over TLS when `tls` is given.
fn pub_as(
    port: u16,
    fields: &str,
    tls: Option<std::sync::Arc<rustls::ClientConfig>>,
    size: usize,
    count: usize,
) -> f64 {
    let mut publisher = Conn::connect_with(port, fields, tls);
    publisher.ping_pong();
    let start = Instant::now();
    publisher.publish_many(SUBJECT, size, count);
    publisher.ping_pong();
    count as f64 / start.elapsed().as_secs_f64()
}

/// One publisher and one subscriber, both over TLS: msgs/s delivered,
/// timed until the last arrived.
fn fan_out_tls(
    port: u16,
    tls: &std::sync::Arc<rustls::ClientConfig>,
    size: usize,
    count: usize,
) -> f64 {
    let mut sub = Conn::connect_with(port, "", Some(tls.clone()));
    sub.subscribe(SUBJECT, None, "1");
    sub.ping_pong();
    let reader = std::thread::spawn(move || {
        let mut got = 0;
        while got < count {
            match sub.next_frame(Duration::from_secs(30)) {
                Some(Frame::Msg) => got += 1,
                Some(Frame::Ping) => sub.pong(),
                Some(_) => {}
                None => break,
            }
        }
        got
    });
    let mut publisher = Conn::connect_with(port, "", Some(tls.clone()));
    publisher.ping_pong();
    let start = Instant::now();
    publisher.publish_many(SUBJECT, size, count);
    publisher.ping_pong();
    let got = reader.join().expect("reader");
    assert_eq!(got, count, "received {got} of {count} over TLS");
    count as f64 / start.elapsed().as_secs_f64()
}

/// Pub/sub 1:1 of 128 B over WebSocket (`websocket { no_tls: true }` on
/// both servers), raw clients sending 64 KiB frames.
fn websocket_workload(tern_bin: &str, reference: Option<&str>, rounds: usize) {
    let dir = tempfile::tempdir().expect("tempdir");
    let free_port = || {
        std::net::TcpListener::bind("127.0.0.1:0")
            .and_then(|l| l.local_addr())
            .map(|a| a.port())
            .expect("a free port")
    };
    let start = |label: &str, bin: &str, name: &str| {
        let port = free_port();
        let conf = dir.path().join(name);
        std::fs::write(
            &conf,
            format!("websocket {{\n  host: 127.0.0.1\n  port: {port}\n  no_tls: true\n}}\n"),
        )
        .expect("write ws conf");
        let conf = conf.display().to_string();
        let server = ServerProcess::start_with(label, bin, &["-c", &conf]).expect("start");
        (server, port)
    };
    let tern = start("tern-ws", tern_bin, "tern-ws.conf");
    let nats = reference.map(|b| start("nats-ws", b, "nats-ws.conf"));
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        t.push(support::ws::pub_sub(tern.1, 128, 500_000));
        if let Some((_, port)) = &nats {
            r.push(support::ws::pub_sub(*port, 128, 500_000));
        }
    }
    let w = Workload {
        name: "websocket pub/sub 1:1 128 B",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
}

/// Messages per pub/sub round across a route or a leaf hop: enough for
/// a round of about a second, so buffer growth at the start and the
/// machine's noise weigh little.
const ROUTE_MSGS: usize = 2_000_000;

/// Across a route: two-server clusters of tern and of the reference,
/// publisher (requester) on one server, subscriber (responder) on the
/// other.
fn route_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize) {
    let tern = support::cluster::pair("tern-route", tern_bin);
    let nats = reference.map(|b| support::cluster::pair("nats-route", b));
    let ports = |p: &(ServerProcess, ServerProcess)| (p.0.port, p.1.port);
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (a, b) = ports(&tern);
        t.push(support::cluster::pub_sub(a, b, 128, ROUTE_MSGS));
        if let Some(n) = &nats {
            let (a, b) = ports(n);
            r.push(support::cluster::pub_sub(a, b, 128, ROUTE_MSGS));
        }
    }
    let w = Workload {
        name: "route pub/sub 1:1 128 B",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (a, b) = ports(&tern);
        t.push(support::cluster::request_latency(a, b, 4_000).0);
        if let Some(n) = &nats {
            let (a, b) = ports(n);
            r.push(support::cluster::request_latency(a, b, 4_000).0);
        }
    }
    let w = Workload {
        name: "route request/reply p50",
        unit: "us",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
    drop((tern, nats));
    // A leaf hop: publisher on the leaf, subscriber on the hub.
    let dir = tempfile::tempdir().expect("tempdir");
    let tern = support::cluster::leaf_pair("tern", tern_bin, dir.path());
    let nats = reference.map(|b| support::cluster::leaf_pair("nats", b, dir.path()));
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        let (hub, leaf) = ports(&tern);
        t.push(support::cluster::pub_sub(leaf, hub, 128, ROUTE_MSGS));
        if let Some(n) = &nats {
            let (hub, leaf) = ports(n);
            r.push(support::cluster::pub_sub(leaf, hub, 128, ROUTE_MSGS));
        }
    }
    let w = Workload {
        name: "leaf pub/sub 1:1 128 B",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
}

/// One reported figure of the buckets workload: name, unit, direction,
/// and how to read it off a result.
type BucketRow = (
    &'static str,
    &'static str,
    Better,
    fn(&support::scale::BucketsResult) -> f64,
);

/// Many KV buckets on one server (`BENCH_BUCKETS`, default 10,000):
/// creation time, idle threads, RSS, CPU and descriptors, and the restart
/// until the last bucket answers.
fn buckets_workload(tern_bin: &str, reference: Option<&str>) {
    let count: usize = std::env::var("BENCH_BUCKETS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(10_000);
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let t = support::scale::buckets(tern_bin, &sd(&dirs[0]), count);
    let r = reference.map(|b| support::scale::buckets(b, &sd(&dirs[1]), count));
    let rows: [BucketRow; 7] = [
        ("create buckets", "s", Better::Lower, |x| x.create_secs),
        ("then a put into each", "s", Better::Lower, |x| x.put_secs),
        ("restart to last bucket", "ms", Better::Lower, |x| {
            x.restart_secs * 1000.0
        }),
        ("threads, idle", "threads", Better::Lower, |x| {
            x.threads as f64
        }),
        ("RSS, idle", "bytes", Better::Lower, |x| x.rss_bytes as f64),
        ("CPU, idle", "% core x100", Better::Lower, |x| {
            x.idle_cpu_pct * 100.0
        }),
        ("open descriptors", "fds", Better::Lower, |x| x.fds as f64),
    ];
    for (what, unit, better, get) in rows {
        let name = Box::leak(format!("{count} KV buckets: {what}").into_boxed_str());
        let w = Workload {
            name,
            unit,
            better,
            run: |_| 0.0,
        };
        report(&w, get(&t), r.as_ref().map(get));
    }
}

/// One measurement against the server on a port.
type Measure = fn(u16) -> f64;

/// A mirror following an async publisher (256 in flight): the rate at
/// which the mirror holds the messages, and how long after the last ack
/// it has them all (the target: within a second).
fn mirror_workload(tern: u16, reference: Option<u16>, rounds: usize) {
    const COUNT: usize = 100_000;
    let (mut t, mut r) = (Vec::new(), Vec::new());
    for _ in 0..rounds {
        t.push(support::js::mirror(tern, COUNT));
        if let Some(p) = reference {
            r.push(support::js::mirror(p, COUNT));
        }
    }
    let pick = |v: &[(f64, f64)], i: usize| -> Vec<f64> {
        v.iter().map(|x| if i == 0 { x.0 } else { x.1 }).collect()
    };
    let rows: [(&'static str, &'static str, Better, usize); 2] = [
        ("js mirror, 256 in flight", "msgs/s", Better::Higher, 0),
        ("js mirror caught up after last ack", "ms", Better::Lower, 1),
    ];
    for (name, unit, better, i) in rows {
        let w = Workload {
            name,
            unit,
            better,
            run: |_| 0.0,
        };
        let mut tv = pick(&t, i);
        let mut rv = pick(&r, i);
        report(
            &w,
            median(&mut tv),
            (!rv.is_empty()).then(|| median(&mut rv)),
        );
    }
}

/// JetStream publish (sync and 256 in flight) into a file stream, and the
/// restart with many stored messages. tern's acks follow a durable commit;
/// the reference's default acks before its fsync, so it is also measured
/// with `sync_interval: always`.
fn jetstream_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize, only: Option<&str>) {
    let dirs: Vec<tempfile::TempDir> = (0..4)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let relaxed_conf = dirs[3].path().join("relaxed.conf");
    let relaxed_text = format!(
        "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: \"2m\"\n}}\n",
        dirs[3].path().display()
    );
    std::fs::write(&relaxed_conf, relaxed_text).expect("write config");
    let relaxed_path = relaxed_conf.to_string_lossy().into_owned();
    let tern_relaxed =
        ServerProcess::start_with("tern-js-2m", tern_bin, &["-c", &relaxed_path]).expect("tern");
    let conf = dirs[2].path().join("always.conf");
    let conf_text = format!(
        "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: always\n}}\n",
        dirs[2].path().display()
    );
    std::fs::write(&conf, conf_text).expect("write config");
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern = ServerProcess::start_with("tern-js", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-js", b, &["-js", "-sd", &d1]).expect("nats"));
    let conf_path = conf.to_string_lossy().into_owned();
    let nats_always = reference.map(|b| {
        ServerProcess::start_with("nats-js-always", b, &["-c", &conf_path]).expect("nats")
    });
    let runs: [(&str, Measure); 2] = [
        ("js publish sync 128 B", |p| {
            support::js::publish(p, 128, 2_000, 1)
        }),
        ("js publish 256 in flight", |p| {
            support::js::publish(p, 128, 100_000, 256)
        }),
    ];
    for (name, run) in runs {
        // `BENCH_ONLY=js` runs them all; a longer filter picks one.
        if only.is_some_and(|o| o != "js" && !name.contains(o)) {
            continue;
        }
        let (mut t, mut r, mut a, mut tr) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            t.push(run(tern.port));
            tr.push(run(tern_relaxed.port));
            if let Some(n) = &nats {
                r.push(run(n.port));
            }
            if let Some(n) = &nats_always {
                a.push(run(n.port));
            }
        }
        let w = Workload {
            name,
            unit: "msgs/s",
            better: Better::Higher,
            run: |_| 0.0,
        };
        report(&w, median(&mut t), (!r.is_empty()).then(|| median(&mut r)));
        if !a.is_empty() {
            let label = format!("{name} (ref sync always)");
            let w = Workload {
                name: Box::leak(label.into_boxed_str()),
                unit: "msgs/s",
                better: Better::Higher,
                run: |_| 0.0,
            };
            report(&w, median(&mut t), Some(median(&mut a)));
        }
        let label = format!("{name} (both sync_interval 2m)");
        let w = Workload {
            name: Box::leak(label.into_boxed_str()),
            unit: "msgs/s",
            better: Better::Higher,
            run: |_| 0.0,
        };
        report(&w, median(&mut tr), (!r.is_empty()).then(|| median(&mut r)));
    }
    if only.is_none_or(|o| o == "js" || "js mirror".contains(o) || o.contains("mirror")) {
        mirror_workload(tern.port, nats.as_ref().map(|n| n.port), rounds);
    }
    drop((tern, tern_relaxed, nats, nats_always));
    if only.is_some_and(|o| o != "js" && !o.contains("restart")) {
        return;
    }
    let count: usize = std::env::var("BENCH_RESTART_MSGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let restart_dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (r0, r1) = (sd(&restart_dirs[0]), sd(&restart_dirs[1]));
    let (t_secs, t_rss) = support::js::restart_with_stored(tern_bin, &["-js", "-sd", &r0], count);
    let reference_restart =
        reference.map(|b| support::js::restart_with_stored(b, &["-js", "-sd", &r1], count));
    let name = Box::leak(format!("restart after kill, {count} msgs, ms").into_boxed_str());
    let w = Workload {
        name,
        unit: "ms",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(
        &w,
        t_secs * 1000.0,
        reference_restart.map(|(s, _)| s * 1000.0),
    );
    // What the stored messages take on disk (the restarted servers have
    // checkpointed: both have been up since a clean open).
    let per_msg = |d: &tempfile::TempDir| support::js::disk_bytes(d.path()) as f64 / count as f64;
    let name = Box::leak(format!("disk per stored msg (128 B), {count} msgs").into_boxed_str());
    let w = Workload {
        name,
        unit: "bytes",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(
        &w,
        per_msg(&restart_dirs[0]),
        reference_restart.map(|_| per_msg(&restart_dirs[1])),
    );
    let name = Box::leak(format!("RSS after restart, {count} msgs").into_boxed_str());
    let w = Workload {
        name,
        unit: "bytes",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(
        &w,
        t_rss as f64,
        reference_restart.map(|(_, rss)| rss as f64),
    );
}

/// A steady publish-and-expire load (2,000 msgs/s of 1 KiB kept 5 s) on
/// tern and the reference side by side, each on its own store; prints the
/// disk their files take every 30 s. Run by hand: it takes
/// `BENCH_SOAK_SECS` (default 600).
fn soak_workload(tern_bin: &str, reference: Option<&str>) {
    let secs: u64 = std::env::var("BENCH_SOAK_SECS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(600);
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern =
        ServerProcess::start_with("tern-soak", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-soak", b, &["-js", "-sd", &d1]).expect("nats"));
    let (tp, rp) = (tern.port, nats.as_ref().map(|n| n.port));
    let (p0, p1) = (dirs[0].path().to_path_buf(), dirs[1].path().to_path_buf());
    // BENCH_SOAK_KIND=keys: 100 keys kept at one message each behind a
    // key written once, as a KV bucket (removals from inside the stream).
    let kind = match std::env::var("BENCH_SOAK_KIND").as_deref() {
        Ok("keys") => support::js::SoakKind::Keys,
        _ => support::js::SoakKind::MaxAge,
    };
    let t = std::thread::spawn(move || support::js::soak(tp, &p0, kind, secs, 2_000, 1024));
    let r = rp.map(|port| {
        std::thread::spawn(move || support::js::soak(port, &p1, kind, secs, 2_000, 1024))
    });
    let t = t.join().expect("tern soak");
    let r = r.map(|h| h.join().expect("reference soak"));
    let what = match kind {
        support::js::SoakKind::MaxAge => "max_age 5 s",
        support::js::SoakKind::Keys => "100 keys of one message each behind one written once",
    };
    println!("soak: 2,000 msgs/s of 1 KiB, {what}; disk bytes the store takes");
    println!(
        "{:>6} {:>12} {:>14} {:>14}",
        "secs", "acked", "tern", "reference"
    );
    for (i, (at, acked, bytes)) in t.iter().enumerate() {
        let reference = r
            .as_ref()
            .and_then(|r| r.get(i))
            .map_or("-".to_string(), |s| s.2.to_string());
        println!("{at:>6} {acked:>12} {bytes:>14} {reference:>14}");
    }
    drop((tern, nats));
}

/// Consuming a pre-filled stream (`BENCH_CONSUME_MSGS`, default 1,000,000
/// messages of 128 B): a durable pull consumer acking every message, and an
/// ordered push consumer.
fn consume_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize) {
    let count: usize = std::env::var("BENCH_CONSUME_MSGS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000_000);
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern =
        ServerProcess::start_with("tern-consume", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-consume", b, &["-js", "-sd", &d1]).expect("nats"));
    support::js::publish(tern.port, 128, count, 1024);
    if let Some(n) = &nats {
        support::js::publish(n.port, 128, count, 1024);
    }
    let (mut tp, mut rp, mut to, mut ro) = (Vec::new(), Vec::new(), Vec::new(), Vec::new());
    for round in 0..rounds {
        tp.push(support::js::consume_pull(tern.port, count, round));
        to.push(support::js::consume_ordered(tern.port, count));
        if let Some(n) = &nats {
            rp.push(support::js::consume_pull(n.port, count, round));
            ro.push(support::js::consume_ordered(n.port, count));
        }
    }
    let pull = Workload {
        name: "consume, durable pull batch 500, explicit acks",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(
        &pull,
        median(&mut tp),
        (!rp.is_empty()).then(|| median(&mut rp)),
    );
    let ordered = Workload {
        name: "consume, ordered push consumer",
        unit: "msgs/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(
        &ordered,
        median(&mut to),
        (!ro.is_empty()).then(|| median(&mut ro)),
    );
    drop((tern, nats));
    let consumers: usize = std::env::var("BENCH_RESTART_CONSUMERS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1_000);
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let (t_secs, t_rss) =
        support::js::restart_with_consumers(tern_bin, &["-js", "-sd", &d0], consumers);
    let reference_restart =
        reference.map(|b| support::js::restart_with_consumers(b, &["-js", "-sd", &d1], consumers));
    let name = Box::leak(
        format!("restart after kill, {consumers} durable consumers, ms").into_boxed_str(),
    );
    let w = Workload {
        name,
        unit: "ms",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(
        &w,
        t_secs * 1000.0,
        reference_restart.map(|(s, _)| s * 1000.0),
    );
    let name =
        Box::leak(format!("RSS after restart, {consumers} durable consumers").into_boxed_str());
    let w = Workload {
        name,
        unit: "bytes",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(
        &w,
        t_rss as f64,
        reference_restart.map(|(_, rss)| rss as f64),
    );
}

/// Object store: put and get of a 64 MiB object (MB/s), and the server's
/// RSS growth over idle during a 1 GiB put (`BENCH_OBJ_BIG_MIB`).
fn obj_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize) {
    use support::obj;
    const SIZE: usize = 64 << 20;
    let big: usize = std::env::var("BENCH_OBJ_BIG_MIB")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(1024);
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern = ServerProcess::start_with("tern-obj", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    // tern relaxed as the reference's default is (`sync_interval` 2m).
    let relaxed_dir = tempfile::tempdir().expect("tempdir");
    let relaxed_conf = relaxed_dir.path().join("relaxed.conf");
    let relaxed_text = format!(
        "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: \"2m\"\n}}\n",
        relaxed_dir.path().display()
    );
    std::fs::write(&relaxed_conf, relaxed_text).expect("write config");
    let relaxed_path = relaxed_conf.to_string_lossy().into_owned();
    let tern_relaxed =
        ServerProcess::start_with("tern-obj-2m", tern_bin, &["-c", &relaxed_path]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-obj", b, &["-js", "-sd", &d1]).expect("nats"));
    // tern, tern relaxed, then the reference.
    let servers: Vec<&ServerProcess> = [&tern, &tern_relaxed]
        .into_iter()
        .chain(nats.as_ref())
        .collect();
    let (mut puts, mut gets) = (vec![Vec::new(); 3], vec![Vec::new(); 3]);
    for round in 0..rounds {
        for (i, server) in servers.iter().enumerate() {
            obj::recreate_bucket(server.port);
            let nuid = format!("round{round}");
            puts[i].push(obj::put(server.port, &nuid, SIZE, || {}));
            gets[i].push(obj::get(server.port, &nuid, SIZE));
        }
    }
    let reference_put = (!puts[2].is_empty()).then(|| median(&mut puts[2]));
    let reference_get = (!gets[2].is_empty()).then(|| median(&mut gets[2]));
    let rows = [
        ("obj put 64 MiB", median(&mut puts[0]), reference_put),
        (
            "obj put 64 MiB (both sync_interval 2m)",
            median(&mut puts[1]),
            reference_put,
        ),
        ("obj get 64 MiB", median(&mut gets[0]), reference_get),
    ];
    for (name, t, r) in rows {
        let w = Workload {
            name,
            unit: "MB/s",
            better: Better::Higher,
            run: |_| 0.0,
        };
        report(&w, t, r);
    }
    drop(servers);
    drop((tern, tern_relaxed, nats));
    // Fresh servers, so idle is idle.
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern =
        ServerProcess::start_with("tern-obj-big", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-obj-big", b, &["-js", "-sd", &d1]).expect("nats"));
    let servers: Vec<&ServerProcess> = std::iter::once(&tern).chain(nats.as_ref()).collect();
    let mut growth = Vec::new();
    for server in &servers {
        obj::recreate_bucket(server.port);
        let idle = server.rss_bytes();
        let mut peak = idle;
        obj::put(server.port, "big", big << 20, || {
            peak = peak.max(server.rss_bytes())
        });
        growth.push(peak.saturating_sub(idle) as f64);
    }
    let name = Box::leak(format!("RSS growth during a {big} MiB put, bytes").into_boxed_str());
    let w = Workload {
        name,
        unit: "bytes",
        better: Better::Lower,
        run: |_| 0.0,
    };
    report(&w, growth[0], growth.get(1).copied());
}

/// A KV workload: name, unit, which way is better, the measure.
type KvRun = (&'static str, &'static str, Better, fn(u16) -> f64);

/// The KV over the network, as the clients put (publish with a reply,
/// durable on tern) and get (direct get), one client and eight; watch
/// latency; and the in-process API.
fn kv_workloads(tern_bin: &str, reference: Option<&str>, rounds: usize, only: Option<&str>) {
    use support::kv;
    let dirs: Vec<tempfile::TempDir> = (0..2)
        .map(|_| tempfile::tempdir().expect("tempdir"))
        .collect();
    let sd = |d: &tempfile::TempDir| d.path().to_string_lossy().into_owned();
    let (d0, d1) = (sd(&dirs[0]), sd(&dirs[1]));
    let tern = ServerProcess::start_with("tern-kv", tern_bin, &["-js", "-sd", &d0]).expect("tern");
    let nats = reference
        .map(|b| ServerProcess::start_with("nats-kv", b, &["-js", "-sd", &d1]).expect("nats"));
    // tern relaxed as the reference's default is (`sync_interval` 2m).
    let relaxed_dir = tempfile::tempdir().expect("tempdir");
    let relaxed_conf = relaxed_dir.path().join("relaxed.conf");
    let relaxed_text = format!(
        "jetstream {{\n  store_dir: \"{}\"\n  sync_interval: \"2m\"\n}}\n",
        relaxed_dir.path().display()
    );
    std::fs::write(&relaxed_conf, relaxed_text).expect("write config");
    let relaxed_path = relaxed_conf.to_string_lossy().into_owned();
    let tern_relaxed =
        ServerProcess::start_with("tern-kv-2m", tern_bin, &["-c", &relaxed_path]).expect("tern");
    kv::recreate_bucket(tern.port);
    kv::recreate_bucket(tern_relaxed.port);
    if let Some(n) = &nats {
        kv::recreate_bucket(n.port);
    }
    let runs: [KvRun; 5] = [
        ("kv put, 1 client", "ops/s", Better::Higher, |p| {
            kv::puts(p, 2_000, 0)
        }),
        ("kv put, 8 clients", "ops/s", Better::Higher, |p| {
            kv::concurrent(p, 8, 500, kv::puts)
        }),
        ("kv get, 1 client", "ops/s", Better::Higher, |p| {
            kv::gets(p, 10_000, 0)
        }),
        ("kv get, 8 clients", "ops/s", Better::Higher, |p| {
            kv::concurrent(p, 8, 5_000, kv::gets)
        }),
        ("kv watch latency p50", "us", Better::Lower, |p| {
            kv::watch_latency(p, 500)
        }),
    ];
    for (name, unit, better, run) in runs {
        // `BENCH_ONLY=kv` runs them all; a longer filter picks some.
        if only.is_some_and(|o| o != "kv" && !name.contains(o)) {
            continue;
        }
        // Reads do not depend on how writes are synced.
        let writes = !name.contains("get");
        let (mut t, mut r, mut tr) = (Vec::new(), Vec::new(), Vec::new());
        for _ in 0..rounds {
            t.push(run(tern.port));
            if writes {
                tr.push(run(tern_relaxed.port));
            }
            if let Some(n) = &nats {
                r.push(run(n.port));
            }
        }
        let reference = (!r.is_empty()).then(|| median(&mut r));
        let w = Workload {
            name,
            unit,
            better,
            run: |_| 0.0,
        };
        report(&w, median(&mut t), reference);
        if writes {
            let label = format!("{name} (both sync_interval 2m)");
            let w = Workload {
                name: Box::leak(label.into_boxed_str()),
                unit,
                better,
                run: |_| 0.0,
            };
            report(&w, median(&mut tr), reference);
        }
    }
    drop((tern, tern_relaxed, nats));
    if only.is_some_and(|o| o != "kv" && !o.contains("in-process")) {
        return;
    }
    let (put, get, network_get) = kv::in_process(2_000, 200_000);
    let w = Workload {
        name: "kv in-process put (tern-kv)",
        unit: "ops/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, put, None);
    let w = Workload {
        name: "kv in-process get vs network get, same tern",
        unit: "ops/s",
        better: Better::Higher,
        run: |_| 0.0,
    };
    report(&w, get, Some(network_get));
}

fn report(w: &Workload, tern: f64, reference: Option<f64>) {
    let (r, ratio) = match reference {
        Some(r) => (format!("{r:>14.0}"), format!("{:>7.2}x", tern / r)),
        None => (format!("{:>14}", "-"), format!("{:>8}", "-")),
    };
    let note = match w.better {
        Better::Higher => "higher is better",
        Better::Lower => "lower is better",
    };
    println!(
        "{:<28} {tern:>14.0} {r} {ratio}  {} ({note})",
        w.name, w.unit
    );
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(|a, b| a.total_cmp(b));
    v[v.len() / 2]
}

/// One publisher sending `count` messages as fast as it can, no subscribers;
/// done when the server answers the PING sent after the last one.
fn pub_only(port: u16, size: usize, count: usize) -> f64 {
    let mut publisher = Conn::connect(port);
    let start = Instant::now();
    publisher.publish_many(SUBJECT, size, count);
    publisher.ping_pong();
    count as f64 / start.elapsed().as_secs_f64()
}

/// One publisher, `subs` subscribers (a queue group when `queue` is set);
/// msgs/s delivered in total, timed until the last one arrived.
fn fan_out(port: u16, size: usize, subs: usize, queue: Option<&str>, count: usize) -> f64 {
    use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
    use std::sync::Arc;
    let total_expected = if queue.is_some() { count } else { count * subs };
    let received = Arc::new(AtomicUsize::new(0));
    let stop = Arc::new(AtomicBool::new(false));
    let mut readers = Vec::new();
    for _ in 0..subs {
        let mut c = Conn::connect(port);
        c.subscribe(SUBJECT, queue, "1");
        c.ping_pong();
        let (received, stop) = (received.clone(), stop.clone());
        readers.push(std::thread::spawn(move || {
            let mut unreported = 0;
            while !stop.load(Ordering::Relaxed) {
                match c.next_frame(Duration::from_millis(100)) {
                    Some(Frame::Msg) => unreported += 1,
                    Some(Frame::Ping) => c.pong(),
                    Some(_) => {}
                    None => {}
                }
                if unreported == 256 || (unreported > 0 && c.buffered() == 0) {
                    received.fetch_add(unreported, Ordering::Relaxed);
                    unreported = 0;
                }
            }
        }));
    }
    let mut publisher = Conn::connect(port);
    publisher.ping_pong();
    let start = Instant::now();
    publisher.publish_many(SUBJECT, size, count);
    publisher.ping_pong();
    let deadline = Instant::now() + Duration::from_secs(60);
    while received.load(Ordering::Relaxed) < total_expected && Instant::now() < deadline {
        std::thread::sleep(Duration::from_micros(200));
    }
    let elapsed = start.elapsed().as_secs_f64();
    stop.store(true, Ordering::Relaxed);
    for r in readers {
        let _ = r.join();
    }
    let got = received.load(Ordering::Relaxed);
    assert!(got >= total_expected, "received {got} of {total_expected}");
    total_expected as f64 / elapsed
}

/// Spawns a responder answering every request on `req` with the same bytes.
fn responder(
    port: u16,
) -> (
    std::thread::JoinHandle<()>,
    std::sync::Arc<std::sync::atomic::AtomicBool>,
) {
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let mut c = Conn::connect(port);
    c.subscribe("req", None, "1");
    c.ping_pong();
    let flag = stop.clone();
    let h = std::thread::spawn(move || {
        while !flag.load(std::sync::atomic::Ordering::Relaxed) {
            match c.next_msg_reply(Duration::from_millis(100)) {
                Some(Some(reply)) => c.publish_now(&reply, b"pong"),
                Some(None) => {}
                None => {}
            }
        }
    });
    (h, stop)
}

/// Sequential request/reply round trips: (p50, p99) in microseconds.
fn request_latency(port: u16, count: usize) -> (f64, f64) {
    let (h, stop) = responder(port);
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.bench.*", None, "9");
    c.ping_pong();
    let mut lat = Vec::with_capacity(count);
    for i in 0..count {
        let reply = format!("_INBOX.bench.{i}");
        let t = Instant::now();
        c.request_now("req", &reply, b"ping");
        c.wait_msg(Duration::from_secs(5)).expect("reply");
        lat.push(t.elapsed().as_secs_f64() * 1e6);
    }
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = h.join();
    lat.sort_by(|a, b| a.total_cmp(b));
    (lat[lat.len() / 2], lat[lat.len() * 99 / 100])
}

/// Request/reply with `inflight` outstanding: requests per second.
fn request_throughput(port: u16, inflight: usize, count: usize) -> f64 {
    let (h, stop) = responder(port);
    let mut c = Conn::connect(port);
    c.subscribe("_INBOX.bench.*", None, "9");
    c.ping_pong();
    let start = Instant::now();
    let mut sent = 0;
    for _ in 0..inflight {
        c.request_now("req", "_INBOX.bench.x", b"ping");
        sent += 1;
    }
    let mut got = 0;
    while got < count {
        c.wait_msg(Duration::from_secs(5)).expect("reply");
        got += 1;
        if sent < count {
            c.request_now("req", "_INBOX.bench.x", b"ping");
            sent += 1;
        }
    }
    let rate = count as f64 / start.elapsed().as_secs_f64();
    stop.store(true, std::sync::atomic::Ordering::Relaxed);
    let _ = h.join();
    rate
}

/// Server RSS growth per connection with `n` idle connections (each
/// connected, CONNECT sent and answered).
fn idle_rss_per_conn(bin: &str, n: usize) -> f64 {
    let server = ServerProcess::start("rss", bin).expect("start server");
    let before = server.rss_bytes();
    let mut conns = Vec::with_capacity(n);
    for _ in 0..n {
        conns.push(Conn::connect(server.port));
    }
    for c in &mut conns {
        c.ping_pong();
    }
    std::thread::sleep(Duration::from_millis(300));
    let after = server.rss_bytes();
    drop(conns);
    (after.saturating_sub(before)) as f64 / n as f64
}
