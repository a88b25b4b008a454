//! Operations workloads: what monitoring costs the data path (a scrape of
//! `/connz?subs=1` and `/metrics` every 100 ms during pub/sub), how long
//! `/connz` takes with 10,000 connections, and how long a reload takes to
//! reach 10,000 connected clients.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use super::server::ServerProcess;

/// A port free a moment ago, for the monitoring port.
pub fn free_port() -> u16 {
    TcpListener::bind("127.0.0.1:0")
        .and_then(|l| l.local_addr())
        .map(|a| a.port())
        .expect("a free port")
}

/// One GET: how long the whole answer took, and its size.
pub fn get(port: u16, path: &str) -> (Duration, usize) {
    let start = Instant::now();
    let Ok(mut s) = TcpStream::connect(("127.0.0.1", port)) else {
        return (start.elapsed(), 0);
    };
    let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
    let _ = write!(
        s,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    );
    let mut body = Vec::new();
    let _ = s.read_to_end(&mut body);
    (start.elapsed(), body.len())
}

/// Runs `work` while a scraper GETs `paths` every 100 ms; the scraper's
/// requests and their mean time.
pub fn while_scraped<T>(
    port: u16,
    paths: &[&str],
    work: impl FnOnce() -> T,
) -> (T, usize, Duration) {
    let stop = Arc::new(AtomicBool::new(false));
    let paths: Vec<String> = paths.iter().map(|p| p.to_string()).collect();
    let scraper = {
        let stop = stop.clone();
        std::thread::spawn(move || {
            let (mut n, mut spent) = (0usize, Duration::ZERO);
            while !stop.load(Ordering::Relaxed) {
                for p in &paths {
                    let (took, _) = get(port, p);
                    spent += took;
                    n += 1;
                }
                std::thread::sleep(Duration::from_millis(100));
            }
            (n, spent)
        })
    };
    let out = work();
    stop.store(true, Ordering::Relaxed);
    let (n, spent) = scraper.join().expect("scraper");
    (out, n, spent / u32::try_from(n.max(1)).unwrap_or(1))
}

/// `count` idle clients, each past CONNECT and its PONG (so the server
/// has them as signed-in connections), with `setup` sent after CONNECT.
pub fn idle_clients(port: u16, count: usize, connect: &str, setup: &str) -> Vec<TcpStream> {
    let mut conns = Vec::with_capacity(count);
    for _ in 0..count {
        let mut s = TcpStream::connect(("127.0.0.1", port)).expect("connect");
        let _ = s.set_nodelay(true);
        let _ = write!(s, "CONNECT {connect}\r\n{setup}PING\r\n");
        conns.push(s);
    }
    // Every client reads up to its PONG (after its INFO).
    for s in &mut conns {
        let _ = s.set_read_timeout(Some(Duration::from_secs(30)));
        let mut seen = Vec::new();
        let mut buf = [0u8; 4096];
        while !seen.windows(6).any(|w| w == b"PONG\r\n") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }
    conns
}

/// `/connz` (default page) and `/connz?limit=10000` with `count`
/// connections: the median time of `rounds` GETs each, in ms.
pub fn connz_with(bin: &str, count: usize, rounds: usize) -> (f64, f64) {
    let monitor = free_port();
    let m = monitor.to_string();
    let server = ServerProcess::start_with("server", bin, &["-m", &m]).expect("start");
    let _clients = idle_clients(
        server.port,
        count,
        r#"{"verbose":false}"#,
        "SUB idle.x 1\r\n",
    );
    let time = |path: &str| {
        let mut ms: Vec<f64> = (0..rounds)
            .map(|_| get(monitor, path).0.as_secs_f64() * 1e3)
            .collect();
        ms.sort_by(f64::total_cmp);
        ms[ms.len() / 2]
    };
    (time("/connz"), time("/connz?limit=10000"))
}

/// A reload narrowing every client's subscribe permission, with `count`
/// clients connected: ms from SIGHUP until every client has been told its
/// subscription was removed (the reload has reached them all).
pub fn reload_reaching(bin: &str, count: usize) -> f64 {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("reload.conf");
    let users = |subscribe: &str| {
        format!(
            "authorization {{ users: [ {{user: u, password: u, permissions: {{subscribe: [{subscribe}]}}}} ] }}\nmax_connections: 100000\n"
        )
    };
    std::fs::write(&conf, users("\"keep\", \"drop\"")).expect("write config");
    let conf_arg = conf.display().to_string();
    let server = ServerProcess::start_with("server", bin, &["-c", &conf_arg]).expect("start");
    let mut clients = idle_clients(
        server.port,
        count,
        r#"{"verbose":false,"user":"u","pass":"u"}"#,
        "SUB drop 1\r\n",
    );
    std::fs::write(&conf, users("\"keep\"")).expect("rewrite config");
    let start = Instant::now();
    let status = std::process::Command::new("kill")
        .args(["-HUP", &server.pid().to_string()])
        .status()
        .expect("kill -HUP");
    assert!(status.success());
    for s in &mut clients {
        let mut seen = Vec::new();
        let mut buf = [0u8; 1024];
        while !seen.windows(4).any(|w| w == b"-ERR") {
            match s.read(&mut buf) {
                Ok(0) | Err(_) => break,
                Ok(n) => seen.extend_from_slice(&buf[..n]),
            }
        }
    }
    start.elapsed().as_secs_f64() * 1e3
}
