//! How one account's JetStream is set up: its config, the requests its
//! API takes, where its streams live, and why it could not start.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use crate::api::stream::StreamConfig;
use crate::error::ApiError;
use crate::store::{MemStore, RedbStore, Store};
use crate::writer::IngestLimits;

/// What one account's JetStream runs with: where it stores, its limits,
/// and how it commits and queues.
#[derive(Clone, Debug)]
pub struct JetStreamConfig {
    /// `<store_dir>/jetstream`.
    pub store_dir: PathBuf,
    /// The account whose JetStream this is: its streams live in
    /// `<store_dir>/<account>/streams`.
    pub account: String,
    /// The account's limits (`-1`: none), reported in account info;
    /// `max_streams` is enforced at stream create.
    pub limits: crate::api::account::AccountLimits,
    /// The server's memory storage limit in bytes, as its start-up banner
    /// reports it (`-1`: none); what an account may use is in `limits`.
    pub max_memory: i64,
    /// The server's file storage limit in bytes (`-1`: none), likewise.
    pub max_storage: i64,
    /// `None`: commit durably before every ack (the default). A period: the
    /// reference's relaxed `sync_interval`, syncing once per period.
    pub sync_interval: Option<std::time::Duration>,
    /// Reported as the cluster leader in stream info.
    pub server_name: String,
    /// The server's JetStream domain (`jetstream { domain }`), reported in
    /// account info; empty: none.
    pub domain: String,
    /// Each stream's queue limits (`max_buffered_msgs`/`max_buffered_size`).
    pub ingest: IngestLimits,
    /// API requests queued before more are refused with 429
    /// (`request_queue_limit`).
    pub api_queue_limit: usize,
    /// Shard threads running the streams' storage work.
    pub shards: usize,
    /// Called on a shard thread after idle streams closed their files, at
    /// most once a second: where the program's allocator can hand the
    /// freed memory back to the system (tern calls mimalloc's collect).
    pub release_memory: Option<fn()>,
}

impl JetStreamConfig {
    /// A config with the reference's defaults for everything but the
    /// directory.
    pub fn new(store_dir: PathBuf) -> Self {
        JetStreamConfig {
            store_dir,
            account: "$G".to_string(),
            limits: crate::api::account::AccountLimits::default(),
            max_memory: -1,
            max_storage: -1,
            sync_interval: None,
            server_name: String::new(),
            domain: String::new(),
            ingest: IngestLimits::default(),
            api_queue_limit: DEFAULT_API_QUEUE_LIMIT,
            shards: crate::writer::default_shards(),
            release_memory: None,
        }
    }
}

/// The reference's default `request_queue_limit`.
pub const DEFAULT_API_QUEUE_LIMIT: usize = 10_000;

/// One `$JS.API` request.
pub struct ApiRequest {
    /// The `$JS.API...` subject it was published to.
    pub subject: String,
    /// Where the response is published.
    pub reply: String,
    /// The request's header block, if it had one.
    pub headers: Option<Bytes>,
    /// The request body (JSON, or empty).
    pub payload: Bytes,
}

/// Why JetStream could not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum EngineError {
    /// The store directory could not be created.
    CreateDir {
        /// The directory.
        path: PathBuf,
        /// Why it could not be created.
        source: std::io::Error,
    },
    /// The store directory could not be read (recovery).
    ReadDir {
        /// The directory.
        path: PathBuf,
        /// Why it could not be read.
        source: std::io::Error,
    },
    /// A stream writer thread could not be started.
    StartWriters(std::io::Error),
    /// The API thread could not be started.
    StartApiThread(std::io::Error),
}

impl std::fmt::Display for EngineError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineError::CreateDir { path, source } => {
                write!(f, "could not create {}: {source}", path.display())
            }
            EngineError::ReadDir { path, source } => {
                write!(f, "reading {}: {source}", path.display())
            }
            EngineError::StartWriters(e) => write!(f, "could not start the stream writers: {e}"),
            EngineError::StartApiThread(e) => write!(f, "could not start the API thread: {e}"),
        }
    }
}

impl std::error::Error for EngineError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            EngineError::CreateDir { source, .. } | EngineError::ReadDir { source, .. } => {
                Some(source)
            }
            EngineError::StartWriters(e) | EngineError::StartApiThread(e) => Some(e),
        }
    }
}

/// `<store_dir>/jetstream/<account>/streams`, one redb file per stream.
pub fn streams_dir(root: &Path, account: &str) -> PathBuf {
    root.join(account).join("streams")
}

/// Opens the store a stream's config asks for (a new stream).
pub(crate) fn open_store(
    config: &StreamConfig,
    dir: &Path,
    sync_interval: Option<std::time::Duration>,
) -> Result<(Box<dyn Store>, Option<PathBuf>), ApiError> {
    if config.storage == crate::api::stream::StorageType::Memory {
        return Ok((Box::new(MemStore::new()), None));
    }
    let path = dir.join(crate::store::file_name(&config.name));
    let opened = crate::store::contain_panic(|| RedbStore::open(&path));
    let mut store = opened.map_err(|e| ApiError::store_failed(e.to_string()))?;
    store.set_sync_interval(sync_interval);
    Ok((Box::new(store), Some(path)))
}
