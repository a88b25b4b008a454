//! The tern binary as a supervisor sees it: flags, the ports and pid
//! files, SIGTERM, --version, and configuration errors.

mod harness;

use std::path::Path;
use std::process::{Output, Stdio};
use std::time::Duration;

use tokio::io::{AsyncBufReadExt, BufReader};
use tokio::process::{Child, ChildStderr, Command};

use harness::{within, within_for, Wire};

const TERN: &str = env!("CARGO_BIN_EXE_tern");

/// A spawned tern, killed when dropped whatever path the test takes.
struct Spawned {
    child: Child,
    stderr: tokio::io::Lines<BufReader<ChildStderr>>,
    /// Every stderr line read so far, for failure messages.
    log: Vec<String>,
}

impl Spawned {
    fn start(args: &[&str]) -> Spawned {
        let mut child = Command::new(TERN)
            .args(args)
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .kill_on_drop(true)
            .spawn()
            .expect("spawn tern");
        let stderr = child.stderr.take().expect("stderr piped");
        Spawned {
            child,
            stderr: BufReader::new(stderr).lines(),
            log: Vec::new(),
        }
    }

    fn pid(&self) -> u32 {
        self.child.id().expect("child still running")
    }

    /// Reads stderr until a line contains `text`; that line.
    async fn wait_for_log(&mut self, text: &str) -> String {
        let found = tokio::time::timeout(harness::WAIT, async {
            while let Ok(Some(line)) = self.stderr.next_line().await {
                let hit = line.contains(text);
                self.log.push(line.clone());
                if hit {
                    return Some(line);
                }
            }
            None
        })
        .await;
        match found {
            Ok(Some(line)) => line,
            _ => panic!("no {text:?} on stderr; got:\n{}", self.log.join("\n")),
        }
    }

    /// The client address from the "Listening for client connections"
    /// line (which must come next).
    async fn client_addr(&mut self) -> std::net::SocketAddr {
        let line = self
            .wait_for_log("Listening for client connections on ")
            .await;
        let addr = line.rsplit(' ').next().expect("an address ends the line");
        addr.parse().expect("host:port")
    }

    /// Sends `signal` (a `kill` name: HUP, USR1...).
    fn signal(&self, signal: &str) {
        let status = std::process::Command::new("kill")
            .args([&format!("-{signal}"), &self.pid().to_string()])
            .status()
            .expect("run kill");
        assert!(status.success());
    }

    /// Waits for the process to exit, collecting the rest of stderr.
    async fn wait_exit(&mut self) -> std::process::ExitStatus {
        within("rest of stderr", async {
            while let Ok(Some(line)) = self.stderr.next_line().await {
                self.log.push(line);
            }
        })
        .await;
        within("tern to exit", self.child.wait())
            .await
            .expect("wait for tern")
    }
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.start_kill();
    }
}

/// Runs tern to completion (killed if it outlives the bound).
async fn run(args: &[&str]) -> Output {
    let child = Command::new(TERN)
        .args(args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    within_for(Duration::from_secs(10), "tern to finish", child)
        .await
        .expect("run tern")
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

fn path_str(p: &Path) -> &str {
    p.to_str().expect("utf-8 temp path")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ports_and_pid_files_then_clean_exit_on_sigterm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("tern.pid");
    let mut tern = Spawned::start(&[
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
        "--ports_file_dir",
        path_str(dir.path()),
        "-P",
        path_str(&pid_file),
    ]);
    tern.wait_for_log("Server is ready").await;
    let pid = tern.pid();

    assert_eq!(
        std::fs::read_to_string(&pid_file).expect("pid file"),
        pid.to_string()
    );
    let exe = Path::new(TERN).file_name().expect("exe name");
    let ports_file = dir
        .path()
        .join(format!("{}_{pid}.ports", exe.to_string_lossy()));
    let ports: serde_json::Value =
        serde_json::from_slice(&std::fs::read(&ports_file).expect("ports file"))
            .expect("ports file is JSON");
    let urls = ports["nats"].as_array().expect("nats URL list");
    assert_eq!(urls.len(), 1, "{ports}");
    let url = urls[0].as_str().expect("URL string");
    let addr = url
        .strip_prefix("nats://")
        .unwrap_or_else(|| panic!("not a nats URL: {url}"));
    let addr: std::net::SocketAddr = addr.parse().expect("host:port");
    assert_ne!(addr.port(), 0);
    // The advertised port is the one serving.
    let (mut wire, _) = Wire::connect_past_info(addr).await;
    wire.expect_only_pong().await;
    drop(wire);

    let status = std::process::Command::new("kill")
        .args(["-TERM", &pid.to_string()])
        .status()
        .expect("run kill");
    assert!(status.success());
    let exit = tern.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "stderr:\n{}", tern.log.join("\n"));
    assert!(
        tern.log
            .iter()
            .any(|l| l.contains("Trapped \"terminated\" signal")),
        "stderr:\n{}",
        tern.log.join("\n")
    );
    assert!(!ports_file.exists(), "ports file left behind");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn version_flag_prints_the_matched_version() {
    let out = run(&["--version"]).await;
    assert_eq!(out.status.code(), Some(0));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("v2.14.0"), "{stdout}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unknown_config_key_names_the_key_and_its_place() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("bad.conf");
    std::fs::write(&conf, "port: -1\n\n  bogus_key: 1\n").expect("write conf");
    let out = run(&["-c", path_str(&conf)]).await;
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let place = format!("{}:3:3", conf.display());
    assert!(stderr.contains(&place), "no {place} in {stderr}");
    assert!(stderr.contains("unknown field \"bogus_key\""), "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn jetstream_flag_starts_jetstream_in_the_store_dir() {
    let dir = tempfile::tempdir().expect("tempdir");
    let store = dir.path().join("store");
    let mut tern = Spawned::start(&[
        "-js",
        "-sd",
        path_str(&store),
        "-a",
        "127.0.0.1",
        "-p",
        "-1",
    ]);
    let want = format!("Store Directory: \"{}\"", store.join("jetstream").display());
    tern.wait_for_log(&want).await;
    tern.wait_for_log("Server is ready").await;
    let _ = Command::new("kill")
        .arg(tern.pid().to_string())
        .status()
        .await;
    assert!(tern.wait_exit().await.success(), "{}", tern.log.join("\n"));
    assert!(
        tern.log.iter().any(|l| l.contains("JetStream Shutdown")),
        "{}",
        tern.log.join("\n")
    );
}

/// Users `a` and `b`; `b` may subscribe to `x` and `y`.
const TWO_USERS: &str = "authorization { users: [ {user: a, password: a}, {user: b, password: b, permissions: {subscribe: [\"x\", \"y\"]}} ] }\n";

/// A client signed in as `user` (password the same), past its PONG.
async fn signed_in(addr: std::net::SocketAddr, user: &str) -> Wire {
    let (mut wire, _) = Wire::connect_past_info(addr).await;
    wire.send(
        format!(
            "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false}}\r\nPING\r\n"
        )
        .as_bytes(),
    )
    .await;
    wire.expect(b"PONG\r\n").await;
    wire
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn sighup_reloads_users_and_permissions_for_live_clients() {
    let dir = tempfile::tempdir().expect("tempdir");
    let conf = dir.path().join("tern.conf");
    std::fs::write(&conf, TWO_USERS).expect("write config");
    let mut tern = Spawned::start(&["-a", "127.0.0.1", "-p", "-1", "-c", path_str(&conf)]);
    let addr = tern.client_addr().await;
    tern.wait_for_log("Server is ready").await;
    let mut a = signed_in(addr, "a").await;
    let mut b = signed_in(addr, "b").await;
    b.send(b"SUB x 1\r\nSUB y 2\r\nPING\r\n").await;
    b.expect(b"PONG\r\n").await;

    // a is removed, b may only subscribe to x now.
    std::fs::write(
        &conf,
        "authorization { users: [ {user: b, password: b, permissions: {subscribe: [\"x\"]}} ] }\n",
    )
    .expect("rewrite config");
    tern.signal("HUP");
    tern.wait_for_log("Trapped \"hangup\" signal").await;
    tern.wait_for_log("Reloaded: authorization users").await;
    tern.wait_for_log("Reloaded server configuration (sha256:")
        .await;
    // A user no longer configured is closed without an error.
    a.expect_closed().await;
    b.expect(b"-ERR 'Permissions Violation for Subscription to \"y\" (sid \"2\")'\r\n")
        .await;
    b.send(b"SUB y 3\r\nPING\r\n").await;
    b.expect(b"-ERR 'Permissions Violation for Subscription to \"y\"'\r\nPONG\r\n")
        .await;
    // A new connection as a is refused.
    let (mut again, _) = Wire::connect_past_info(addr).await;
    again
        .send(b"CONNECT {\"user\":\"a\",\"pass\":\"a\",\"verbose\":false}\r\nPING\r\n")
        .await;
    again.expect(b"-ERR 'Authorization Violation'\r\n").await;

    // A key that cannot change refuses the reload; the old config stays.
    // (The port is not one: the command line's -p wins over the file.)
    std::fs::write(&conf, format!("max_subscriptions: 10\n{TWO_USERS}")).expect("rewrite config");
    tern.signal("HUP");
    let line = tern
        .wait_for_log("Failed to reload server configuration")
        .await;
    assert!(
        line.ends_with("config reload not supported for MaxSubs: old=0, new=10"),
        "{line}"
    );
    b.send(b"PING\r\n").await;
    b.expect(b"PONG\r\n").await;

    // A config that does not parse is reported with its place, and kept out.
    std::fs::write(
        &conf,
        "authorization { users: [ {user: b, password: b} ] }\nbogus_key: 1\n",
    )
    .expect("rewrite config");
    tern.signal("HUP");
    let line = tern
        .wait_for_log("Failed to reload server configuration")
        .await;
    assert!(line.contains("bogus_key"), "{line}");
    assert!(line.contains("tern.conf:2:"), "the file and line: {line}");
    b.send(b"SUB y 4\r\nPING\r\n").await;
    b.expect(b"-ERR 'Permissions Violation for Subscription to \"y\"'\r\nPONG\r\n")
        .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reload_without_a_config_file_is_refused() {
    let mut tern = Spawned::start(&["-a", "127.0.0.1", "-p", "-1"]);
    tern.wait_for_log("Server is ready").await;
    tern.signal("HUP");
    tern.wait_for_log(
        "Failed to reload server configuration: can only reload config when a file is provided using -c or --config",
    )
    .await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_log_file_rotates_at_its_limit_and_reopens_on_usr1() {
    let dir = tempfile::tempdir().expect("tempdir");
    let log = dir.path().join("tern.log");
    let conf = dir.path().join("tern.conf");
    std::fs::write(
        &conf,
        format!(
            "debug: true\nlog_file: {:?}\nlogfile_size_limit: 2048\nlogfile_max_num: 3\n",
            path_str(&log)
        ),
    )
    .expect("write config");
    let tern = Spawned::start(&["-a", "127.0.0.1", "-p", "-1", "-c", path_str(&conf)]);
    let ready = || std::fs::read_to_string(&log).unwrap_or_default();
    harness::wait_until("the server to be ready", || {
        ready().contains("Server is ready")
    })
    .await;
    let addr: std::net::SocketAddr = ready()
        .lines()
        .find_map(|l| l.split("Listening for client connections on ").nth(1))
        .expect("listening line")
        .trim()
        .parse()
        .expect("host:port");
    // Each connection logs a few debug lines: enough of them fill the
    // file several times over.
    for _ in 0..60 {
        let (mut wire, _) = Wire::connect_past_info(addr).await;
        wire.expect_only_pong().await;
    }
    let backups = || -> Vec<std::path::PathBuf> {
        std::fs::read_dir(dir.path())
            .expect("read dir")
            .filter_map(Result::ok)
            .map(|e| e.path())
            .filter(|p| {
                p.file_name()
                    .is_some_and(|n| n.to_string_lossy().starts_with("tern.log."))
            })
            .collect()
    };
    harness::wait_until("a rotation", || !backups().is_empty()).await;
    assert!(
        backups().len() <= 2,
        "logfile_max_num 3 keeps 2 backups: {:?}",
        backups()
    );
    let current = ready();
    assert!(
        current.contains("Rotated log, backup saved as \""),
        "the new file names its backup:\n{current}"
    );
    // Moved away by an outside tool, then reopened on SIGUSR1.
    let moved = dir.path().join("moved.log");
    std::fs::rename(&log, &moved).expect("move the log");
    tern.signal("USR1");
    harness::wait_until("the reopened log", || {
        ready().contains("File log re-opened")
    })
    .await;
}

/// One GET on the monitoring port: the status code.
async fn http_status(addr: std::net::SocketAddr, path: &str) -> u16 {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let Ok(mut s) = tokio::net::TcpStream::connect(addr).await else {
        return 0;
    };
    let req = format!("GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    if s.write_all(req.as_bytes()).await.is_err() {
        return 0;
    }
    let mut raw = Vec::new();
    let _ = within("the response", s.read_to_end(&mut raw)).await;
    String::from_utf8_lossy(&raw)
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

/// The NATS Helm chart's probes, in its order, against a starting
/// server; then its preStop hook, `--signal ldm=<pid file>`, puts the
/// server in lame duck mode and it exits.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_helm_chart_probe_sequence() {
    let dir = tempfile::tempdir().expect("tempdir");
    let pid_file = dir.path().join("nats.pid");
    let conf = dir.path().join("nats.conf");
    std::fs::write(
        &conf,
        format!(
            "port: -1\nhttp_port: -1\npid_file: {:?}\nlame_duck_grace_period: 100ms\nlame_duck_duration: 30s\njetstream {{ store_dir: {:?} }}\n",
            path_str(&pid_file),
            path_str(&dir.path().join("js"))
        ),
    )
    .expect("write config");
    let mut tern = Spawned::start(&["-a", "127.0.0.1", "-c", path_str(&conf)]);
    let line = tern.wait_for_log("Starting http monitor on ").await;
    let monitor: std::net::SocketAddr = line
        .rsplit(' ')
        .next()
        .expect("address")
        .parse()
        .expect("host:port");
    // startupProbe: /healthz until it answers 200.
    let mut status = 0;
    for _ in 0..100 {
        status = http_status(monitor, "/healthz").await;
        if status == 200 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert_eq!(status, 200, "startup probe");
    tern.wait_for_log("Server is ready").await;
    assert_eq!(
        http_status(monitor, "/healthz?js-server-only=true").await,
        200,
        "readiness probe"
    );
    assert_eq!(
        http_status(monitor, "/healthz?js-enabled-only=true").await,
        200,
        "liveness probe"
    );
    let out = run(&["--signal", &format!("ldm={}", path_str(&pid_file))]).await;
    assert!(out.status.success(), "{}", text(&out.stderr));
    tern.wait_for_log("Entering lame duck mode, stop accepting new clients")
        .await;
    let exit = tern.wait_exit().await;
    assert_eq!(exit.code(), Some(0), "{}", tern.log.join("\n"));
}
