//! Embedding tern in a program: start a server in the caller's tokio
//! runtime (from [`Options`] or a config file, with or without a client
//! port), talk to it in process, and use its KV and object store on the
//! same JetStream; [`Embedded::shutdown`] makes stored data durable and
//! ends every task.
//!
//! ```
//! # #[tokio::main(flavor = "multi_thread", worker_threads = 2)]
//! # async fn main() -> Result<(), Box<dyn std::error::Error>> {
//! let dir = tempfile::tempdir()?;
//! let server = tern::embed::Builder::new(tern::Options::loopback())
//!     .jetstream(dir.path())
//!     .dont_listen()
//!     .start()
//!     .await?;
//! assert!(server.local_addr().is_none());
//! let settings = server
//!     .kv()?
//!     .create_bucket(tern_kv::Config::new("settings"))
//!     .await?;
//! settings.put("colour", "blue".into()).await?;
//! let entry = settings.get("colour").await?.expect("just put");
//! assert_eq!(&entry.value[..], b"blue");
//! server.shutdown().await;
//! # Ok(()) }
//! ```

use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use crate::config::options::Options;
use crate::lifecycle::{Running, StartError};
use crate::server::Server;

/// How to start an embedded server.
#[derive(Debug, Clone)]
pub struct Builder {
    opts: Options,
    listen: bool,
}

impl Builder {
    /// From options built in code.
    pub fn new(opts: Options) -> Builder {
        Builder { opts, listen: true }
    }

    /// From a nats-server configuration file, as `tern -c` reads it.
    pub fn from_config_file(path: &Path) -> Result<Builder, crate::config::ConfigError> {
        let mut opts = Options::default();
        crate::config::apply_file(&mut opts, path)?;
        opts.config_file = Some(path.to_path_buf());
        Ok(Builder::new(opts))
    }

    /// JetStream on, storing in `dir`.
    pub fn jetstream(mut self, dir: &Path) -> Builder {
        self.opts.jetstream = true;
        self.opts.store_dir = Some(dir.to_path_buf());
        self
    }

    /// No client port: only in-process clients reach the server.
    pub fn dont_listen(mut self) -> Builder {
        self.listen = false;
        self
    }

    /// Starts the server on the current tokio runtime.
    pub async fn start(self) -> Result<Embedded, StartError> {
        let running = crate::lifecycle::start_listening(self.opts, self.listen).await?;
        Ok(Embedded { running })
    }
}

/// A running embedded server.
pub struct Embedded {
    running: Running,
}

impl Embedded {
    /// The server (its counters, monitoring, accounts).
    pub fn server(&self) -> &Arc<Server> {
        self.running.server()
    }

    /// Where clients connect, if the server listens for them.
    pub fn local_addr(&self) -> Option<SocketAddr> {
        self.running.local_addr()
    }

    /// An in-process connection into the default account.
    pub fn connect(&self) -> Arc<dyn tern_link::Port> {
        self.server().connect()
    }

    /// An in-process client: request/reply, subscriptions and JetStream
    /// calls over [`Embedded::connect`].
    pub fn client(&self) -> Result<tern_link::Link, tern_link::PortError> {
        tern_link::Link::new(self.connect())
    }

    /// The Key/Value store (JetStream must be on).
    pub fn kv(&self) -> Result<tern_kv::Kv, tern_kv::KvError> {
        tern_kv::Kv::new(self.connect())
    }

    /// The object store (JetStream must be on).
    pub fn object_store(&self) -> Result<tern_objstore::ObjectStore, tern_objstore::ObjectError> {
        tern_objstore::ObjectStore::new(self.connect())
    }

    /// Stops the server: no new clients, every client closed, every
    /// stream's batch committed and its files closed; in-process handles
    /// fail with `Closed` from then on.
    pub async fn shutdown(self) {
        self.running.shutdown().await;
    }
}
