//! A server with JetStream on for the JetStream, KV and object store tests:
//! tern in-process, or, when `TERN_JS_REFERENCE=/path/to/nats-server` is
//! set, the reference server spawned with `-js -sd DIR` on a loopback port,
//! to check that what the tests expect is what the reference does.

use std::net::SocketAddr;
use std::path::Path;
use std::process::{Child, Stdio};
use std::time::Duration;

use tern::config::options::Port;
use tern::{Options, Running};

use super::{free_port, start_with, within_for};

/// The environment variable naming a reference nats-server binary to run
/// these tests against instead of tern.
pub const REFERENCE_ENV: &str = "TERN_JS_REFERENCE";

/// A server with JetStream on, in-process tern or a spawned reference.
pub enum Server {
    Tern(Running),
    Reference(Spawned),
}

/// A spawned server process, killed when dropped.
pub struct Spawned {
    pub child: Child,
    pub addr: SocketAddr,
}

impl Drop for Spawned {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Server {
    /// Starts a server storing JetStream under `store`, on an ephemeral
    /// port.
    pub async fn start(store: &Path) -> Server {
        Server::start_port(store, None).await
    }

    /// Starts a server storing JetStream under `store`, listening on
    /// `port`: a restart comes back where a client reconnects.
    pub async fn start_on(store: &Path, port: u16) -> Server {
        Server::start_port(store, Some(port)).await
    }

    async fn start_port(store: &Path, port: Option<u16>) -> Server {
        match std::env::var_os(REFERENCE_ENV) {
            None => {
                let mut opts = Options {
                    jetstream: true,
                    store_dir: Some(store.to_path_buf()),
                    ..Options::loopback()
                };
                if let Some(port) = port {
                    opts.port = Port::Fixed(port);
                }
                Server::Tern(start_with(opts).await)
            }
            Some(bin) => Server::Reference(spawn_server(Path::new(&bin), store, port).await),
        }
    }

    pub fn addr(&self) -> SocketAddr {
        match self {
            Server::Tern(running) => running.addr(),
            Server::Reference(spawned) => spawned.addr,
        }
    }

    /// A clean shutdown (SIGTERM for the reference), waiting until the
    /// server has stopped.
    pub async fn stop(self) {
        match self {
            Server::Tern(running) => {
                within_for(Duration::from_secs(10), "tern shutdown", running.shutdown()).await
            }
            Server::Reference(mut spawned) => {
                let pid = spawned.child.id().to_string();
                let status = std::process::Command::new("kill")
                    .args(["-TERM", &pid])
                    .status()
                    .expect("run kill");
                assert!(status.success(), "kill -TERM {pid}");
                within_for(Duration::from_secs(10), "reference to exit", async {
                    while spawned.child.try_wait().expect("try_wait").is_none() {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                })
                .await;
            }
        }
    }
}

/// Spawns a nats-server-compatible binary (the reference or tern) with
/// JetStream over `store` on loopback `port` (a free one if `None`); ready
/// once its log, `store` with the extension `log`, says so.
pub async fn spawn_server(bin: &Path, store: &Path, port: Option<u16>) -> Spawned {
    std::fs::create_dir_all(store).expect("store dir");
    let port = port.unwrap_or_else(free_port);
    let log = store.with_extension("log");
    // A restart appends to the same log; readiness is the count of lines.
    let ready_before = std::fs::read_to_string(&log)
        .unwrap_or_default()
        .matches("Server is ready")
        .count();
    let log_file = std::fs::OpenOptions::new()
        .create(true)
        .append(true)
        .open(&log)
        .expect("log file");
    let child = std::process::Command::new(bin)
        .args(["-js", "-sd"])
        .arg(store)
        .args(["-a", "127.0.0.1", "-p", &port.to_string()])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(log_file)
        .spawn()
        .unwrap_or_else(|e| panic!("spawn {}: {e}", bin.display()));
    let spawned = Spawned {
        child,
        addr: SocketAddr::from(([127, 0, 0, 1], port)),
    };
    within_for(Duration::from_secs(10), "server to be ready", async {
        loop {
            let text = std::fs::read_to_string(&log).unwrap_or_default();
            if text.matches("Server is ready").count() > ready_before {
                return;
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }
    })
    .await;
    spawned
}
