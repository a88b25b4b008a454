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

    /// Reads stderr until a line contains `text`.
    async fn wait_for_log(&mut self, text: &str) {
        let found = tokio::time::timeout(harness::WAIT, async {
            while let Ok(Some(line)) = self.stderr.next_line().await {
                let hit = line.contains(text);
                self.log.push(line);
                if hit {
                    return true;
                }
            }
            false
        })
        .await;
        assert!(
            matches!(found, Ok(true)),
            "no {text:?} on stderr; got:\n{}",
            self.log.join("\n")
        );
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
