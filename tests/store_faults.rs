//! JetStream at the edges of its store: damaged stream files at start-up,
//! a full disk under a running stream, names as long as the reference
//! allows, many streams on a few threads, and pulls for streams that do
//! not exist. Each fault is made for real (bytes overwritten, a small
//! tmpfs filled) against a spawned tern; every wait is bounded.

mod harness;

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use async_nats::Client;
use bytes::Bytes;
use serde_json::Value;

use harness::{connect, free_port, within_for, WAIT};

const TERN: &str = env!("CARGO_BIN_EXE_tern");

/// A spawned tern, killed when dropped whatever path the test takes.
struct Spawned {
    child: Child,
    log: PathBuf,
    port: u16,
}

impl Spawned {
    fn start(store: &Path, log: PathBuf) -> Spawned {
        let port = free_port();
        let child = Command::new(TERN)
            .args(["-js", "-a", "127.0.0.1", "-p", &port.to_string(), "-sd"])
            .arg(store)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(&log).expect("log file"))
            .spawn()
            .expect("spawn tern");
        let mut s = Spawned { child, log, port };
        s.wait_ready();
        s
    }

    fn log_text(&self) -> String {
        std::fs::read_to_string(&self.log).unwrap_or_default()
    }

    fn wait_ready(&mut self) {
        let deadline = Instant::now() + Duration::from_secs(20);
        while !self.log_text().contains("Server is ready") {
            if let Ok(Some(status)) = self.child.try_wait() {
                panic!("tern exited ({status}):\n{}", self.log_text());
            }
            assert!(Instant::now() < deadline, "not ready:\n{}", self.log_text());
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn addr(&self) -> std::net::SocketAddr {
        std::net::SocketAddr::from(([127, 0, 0, 1], self.port))
    }

    /// SIGTERM and wait: a clean stop.
    fn stop(mut self) {
        let pid = self.child.id().to_string();
        let _ = Command::new("kill").args(["-TERM", &pid]).status();
        let deadline = Instant::now() + Duration::from_secs(20);
        while self.child.try_wait().ok().flatten().is_none() {
            assert!(Instant::now() < deadline, "did not stop");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    fn alive(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// User plus system CPU time so far, in clock ticks.
    fn cpu_ticks(&self) -> u64 {
        let stat =
            std::fs::read_to_string(format!("/proc/{}/stat", self.child.id())).unwrap_or_default();
        let rest = stat.rsplit(')').next().unwrap_or_default();
        let f: Vec<u64> = rest
            .split_whitespace()
            .map(|v| v.parse().unwrap_or(0))
            .collect();
        f.get(11).copied().unwrap_or(0) + f.get(12).copied().unwrap_or(0)
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A request answered within the bound, as JSON; `Err` with the status
/// for a no-responders reply.
async fn api(client: &Client, subject: &str, body: &str) -> Value {
    let reply = within_for(
        WAIT,
        subject,
        client.request(subject.to_string(), Bytes::from(body.to_string())),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&reply.payload).unwrap_or(Value::Null)
}

async fn create_stream(client: &Client, name: &str, storage: &str) {
    let body = format!(r#"{{"name":"{name}","subjects":["{name}.>"],"storage":"{storage}"}}"#);
    let r = api(client, &format!("$JS.API.STREAM.CREATE.{name}"), &body).await;
    assert!(r.get("error").is_none(), "create {name}: {r}");
}

async fn publish(client: &Client, subject: &str, payload: Vec<u8>) -> Value {
    let reply = within_for(
        WAIT,
        "a publish ack",
        client.request(subject.to_string(), Bytes::from(payload)),
    )
    .await
    .expect("an ack");
    serde_json::from_slice(&reply.payload).expect("ack JSON")
}

fn messages(info: &Value) -> u64 {
    info["state"]["messages"].as_u64().unwrap_or(u64::MAX)
}

/// Overwrites `len` bytes at `at` with garbage.
fn scribble(path: &Path, at: u64, len: usize) {
    use std::io::{Seek, SeekFrom, Write};
    let mut f = std::fs::OpenOptions::new()
        .write(true)
        .open(path)
        .expect("open for damage");
    f.seek(SeekFrom::Start(at)).expect("seek");
    let garbage: Vec<u8> = (0..len).map(|i| (i * 7 + 13) as u8).collect();
    f.write_all(&garbage).expect("damage");
}

fn streams_dir(store: &Path) -> PathBuf {
    store.join("jetstream").join("$G").join("streams")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damaged_stream_files_are_skipped_and_everything_else_serves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Spawned::start(dir.path(), dir.path().join("first.log"));
    let client = connect(server.addr()).await;
    let names = [
        "GOOD", "REDB10", "REDB25", "REDB50", "REDB75", "REDBCUT", "WALMAGIC", "WALGONE",
    ];
    for name in names {
        create_stream(&client, name, "file").await;
        for i in 0..40 {
            let ack = publish(&client, &format!("{name}.x"), vec![b'a' + (i % 26); 2000]).await;
            assert!(ack.get("error").is_none(), "{ack}");
        }
    }
    drop(client);
    server.stop();

    let files = streams_dir(dir.path());
    let redb = |n: &str| files.join(format!("{n}.redb"));
    let wal = |n: &str| files.join(format!("{n}.wal"));
    // 4 KiB of garbage at several places in redb's file.
    for (name, percent) in [
        ("REDB10", 10),
        ("REDB25", 25),
        ("REDB50", 50),
        ("REDB75", 75),
    ] {
        let len = std::fs::metadata(redb(name)).expect("file").len();
        scribble(&redb(name), len * percent / 100, 4096);
    }
    let len = std::fs::metadata(redb("REDBCUT")).expect("file").len();
    std::fs::OpenOptions::new()
        .write(true)
        .open(redb("REDBCUT"))
        .and_then(|f| f.set_len(len - 4096))
        .expect("cut");
    scribble(&wal("WALMAGIC"), 0, 8);
    std::fs::remove_file(wal("WALGONE")).expect("remove the log");

    let mut server = Spawned::start(dir.path(), dir.path().join("second.log"));
    let client = connect(server.addr()).await;
    let log = server.log_text();
    assert!(
        log.contains("WALMAGIC") && log.contains("Error recovering stream"),
        "the damaged log is named:\n{log}"
    );
    // The log holds the message records: without it the stream is
    // reported and refused, never served shorter or unreadable.
    let gone = api(&client, "$JS.API.STREAM.INFO.WALGONE", "").await;
    assert!(
        gone["error"]["description"]
            .as_str()
            .is_some_and(|d| d.contains("log is missing")),
        "{gone}"
    );
    assert!(
        server.log_text().contains("WALGONE") && server.log_text().contains("log is missing"),
        "the missing log is reported:\n{}",
        server.log_text()
    );
    let good = api(&client, "$JS.API.STREAM.INFO.GOOD", "").await;
    assert_eq!(messages(&good), 40, "{good}");
    let ack = publish(&client, "GOOD.x", b"more".to_vec()).await;
    assert_eq!(ack["seq"], 41, "{ack}");
    // Every damaged stream answers every request (info, or an error),
    // reads included, and can be deleted and created again.
    for name in &names[1..] {
        let info = api(&client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
        assert!(
            info.get("error").is_some() || info.get("state").is_some(),
            "{name}: {info}"
        );
        for seq in [1, 20, 40] {
            let body = format!(r#"{{"seq":{seq}}}"#);
            let got = api(&client, &format!("$JS.API.STREAM.MSG.GET.{name}"), &body).await;
            assert!(
                got.get("error").is_some() || got.get("message").is_some(),
                "{name} seq {seq}: {got}"
            );
        }
        let deleted = api(&client, &format!("$JS.API.STREAM.DELETE.{name}"), "").await;
        assert_eq!(deleted["success"], true, "{name}: {deleted}");
        create_stream(&client, name, "file").await;
        let ack = publish(&client, &format!("{name}.x"), b"again".to_vec()).await;
        assert_eq!(ack["seq"], 1, "{name}: {ack}");
    }
    assert!(server.alive(), "tern is still up:\n{}", server.log_text());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn damage_in_the_middle_of_a_log_is_reported() {
    // The log empties at each checkpoint (about 1 s after a change): a
    // try whose kill came after one has nothing to damage, and is redone.
    for attempt in 0..4 {
        let dir = tempfile::tempdir().expect("tempdir");
        let server = Spawned::start(dir.path(), dir.path().join("first.log"));
        let client = connect(server.addr()).await;
        create_stream(&client, "LOGGED", "file").await;
        for _ in 0..30 {
            publish(&client, "LOGGED.x", vec![b'z'; 100]).await;
        }
        let wal = streams_dir(dir.path()).join("LOGGED.wal");
        let logged = std::fs::metadata(&wal).expect("log").len();
        // SIGKILL: no checkpoint at shutdown.
        drop(server);
        if logged < 1000 {
            eprintln!("attempt {attempt}: checkpointed before the kill, again");
            continue;
        }
        scribble(&wal, logged / 2, 16);
        let server = Spawned::start(dir.path(), dir.path().join("second.log"));
        let log = server.log_text();
        let client2 = connect(server.addr()).await;
        let info = api(&client2, "$JS.API.STREAM.INFO.LOGGED", "").await;
        if messages(&info) == 30 && !log.contains("damaged at offset") {
            eprintln!("attempt {attempt}: checkpointed before the kill, again");
            continue;
        }
        assert!(
            log.contains("LOGGED") && log.contains("damaged at offset") && log.contains("are lost"),
            "the damage is reported with its offset and loss:\n{log}"
        );
        let kept = messages(&info);
        assert!(kept > 0 && kept < 30, "what came before the damage: {info}");
        drop(client);
        return;
    }
    panic!("every attempt was checkpointed before the kill");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_full_disk_gives_error_acks_a_quiet_log_and_recovers() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mount = dir.path().join("small");
    std::fs::create_dir_all(&mount).expect("mount point");
    let mounted = Command::new("mount")
        .args(["-t", "tmpfs", "-o", "size=3m", "tmpfs"])
        .arg(&mount)
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    if !mounted {
        eprintln!("skipped: mounting a tmpfs needs root");
        return;
    }
    struct Unmount(PathBuf);
    impl Drop for Unmount {
        fn drop(&mut self) {
            let _ = Command::new("umount").arg("-l").arg(&self.0).status();
        }
    }
    let _unmount = Unmount(mount.clone());
    let store = mount.join("store");
    let mut server = Spawned::start(&store, dir.path().join("tern.log"));
    let client = connect(server.addr()).await;
    create_stream(&client, "DISK", "file").await;
    create_stream(&client, "RAM", "memory").await;
    let first = publish(&client, "DISK.x", vec![b'k'; 1000]).await;
    assert_eq!(first["seq"], 1, "{first}");

    // Fill what is left of the disk, then publish into the wall.
    let filler = mount.join("filler");
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]);
    let mut refused = None;
    for _ in 0..2000 {
        let ack = publish(&client, "DISK.x", vec![b'k'; 1000]).await;
        if ack.get("error").is_some() {
            refused = Some(ack);
            break;
        }
    }
    let refused = refused.expect("the full disk refuses a publish");
    assert_eq!(refused["error"]["err_code"], 10023, "{refused}");

    // While full: publishes are answered at once with errors, the log
    // stays quiet, no core spins, and everything else still works.
    let lines_before = server.log_text().lines().count();
    let ticks_before = server.cpu_ticks();
    let sampled = Instant::now();
    for _ in 0..20 {
        let ack = publish(&client, "DISK.x", vec![b'k'; 1000]).await;
        assert!(ack.get("error").is_some(), "{ack}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let secs = sampled.elapsed().as_secs_f64();
    let cpu = (server.cpu_ticks() - ticks_before) as f64 / 100.0 / secs;
    let new_lines = server.log_text().lines().count() - lines_before;
    assert!(cpu < 0.3, "CPU while the disk is full: {cpu:.2} of a core");
    assert!(
        new_lines < 10,
        "log lines while full: {new_lines}\n{}",
        server.log_text()
    );
    let ram = publish(&client, "RAM.x", b"fine".to_vec()).await;
    assert_eq!(ram["seq"], 1, "{ram}");
    let got = api(&client, "$JS.API.STREAM.MSG.GET.DISK", r#"{"seq":1}"#).await;
    assert!(
        got.get("message").is_some() || got.get("error").is_some(),
        "reads are answered: {got}"
    );

    // Space comes back: the stream resumes by itself.
    std::fs::remove_file(&filler).expect("free space");
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        let ack = publish(&client, "DISK.x", vec![b'k'; 1000]).await;
        if ack.get("error").is_none() {
            break;
        }
        assert!(Instant::now() < deadline, "never resumed: {ack}");
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    assert!(server.alive());

    // A restart with the disk full again serves what it can.
    drop(client);
    let _ = std::fs::write(&filler, vec![0u8; 4 << 20]);
    server.stop();
    let server = Spawned::start(&store, dir.path().join("again.log"));
    let client = connect(server.addr()).await;
    let info = api(&client, "$JS.API.STREAM.INFO.DISK", "").await;
    assert!(
        info.get("state").is_some() || info.get("error").is_some(),
        "{info}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn stream_names_of_255_characters_work_for_file_streams() {
    let dir = tempfile::tempdir().expect("tempdir");
    let name = format!("L{}", "o".repeat(254));
    let server = Spawned::start(dir.path(), dir.path().join("first.log"));
    let client = connect(server.addr()).await;
    let body = format!(r#"{{"name":"{name}","subjects":["long.>"],"storage":"file"}}"#);
    let r = api(&client, &format!("$JS.API.STREAM.CREATE.{name}"), &body).await;
    assert!(r.get("error").is_none(), "{r}");
    let ack = publish(&client, "long.x", b"kept".to_vec()).await;
    assert_eq!(ack["seq"], 1, "{ack}");
    drop(client);
    server.stop();
    let server = Spawned::start(dir.path(), dir.path().join("second.log"));
    let client = connect(server.addr()).await;
    let info = api(&client, &format!("$JS.API.STREAM.INFO.{name}"), "").await;
    assert_eq!(messages(&info), 1, "{info}");
    assert_eq!(info["config"]["name"], name.as_str());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_pull_for_a_missing_stream_gets_no_responders() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Spawned::start(dir.path(), dir.path().join("tern.log"));
    let client = connect(server.addr()).await;
    let r = within_for(
        WAIT,
        "the 503",
        client.request("$JS.API.CONSUMER.MSG.NEXT.NOPE.C", Bytes::from_static(b"1")),
    )
    .await;
    let err = r.expect_err("no responders");
    assert_eq!(err.kind(), async_nats::RequestErrorKind::NoResponders);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ten_thousand_streams_run_on_a_few_threads() {
    let dir = tempfile::tempdir().expect("tempdir");
    let server = Spawned::start(dir.path(), dir.path().join("tern.log"));
    let client = connect(server.addr()).await;
    let started = Instant::now();
    for i in 0..10_000 {
        let storage = if i % 20 == 0 { "file" } else { "memory" };
        create_stream(&client, &format!("S{i}"), storage).await;
    }
    let created = started.elapsed();
    for i in [0, 1, 4_999, 9_980, 9_999] {
        let ack = publish(&client, &format!("S{i}.x"), b"m".to_vec()).await;
        assert_eq!(ack["seq"], 1, "S{i}: {ack}");
    }
    let info = api(&client, "$JS.API.INFO", "").await;
    assert_eq!(info["streams"], 10_000, "{info}");
    let threads = std::fs::read_dir(format!("/proc/{}/task", server.child.id()))
        .expect("tasks")
        .count();
    let cores = std::thread::available_parallelism().map_or(2, std::num::NonZero::get);
    assert!(
        threads <= 2 * cores + 16,
        "{threads} threads for 10,000 streams on {cores} cores"
    );
    eprintln!("10,000 streams created in {created:?}, {threads} threads");
}
