#![warn(missing_docs)]
//! tern's Key/Value store in process. A program that embeds tern opens
//! buckets here and gets the same buckets NATS clients see: a bucket is the
//! stream `KV_<bucket>` on subjects `$KV.<bucket>.>`, a revision is a stream
//! sequence, deletes and purges are `KV-Operation` markers, exactly as the
//! clients lay them out (ADR-8), so a value put here is read by async-nats
//! and the reverse, watchers included.
//!
//! Requests go through an in-process connection port (`tern_link`, which
//! the server implements: `Server::connect`): no socket, the same
//! JetStream API the network clients use.
//!
//! ```no_run
//! # async fn demo(port: std::sync::Arc<dyn tern_link::Port>) -> Result<(), tern_kv::KvError> {
//! let kv = tern_kv::Kv::new(port)?;
//! let bucket = kv.create_bucket(tern_kv::Config::new("settings")).await?;
//! let revision = bucket.put("colour", "blue".into()).await?;
//! assert_eq!(bucket.get("colour").await?.map(|e| e.revision), Some(revision));
//! # Ok(()) }
//! ```

mod bucket;
mod entry;
mod names;
mod watch;

use std::sync::Arc;
use std::time::Duration;

pub use bucket::{Bucket, Status};
pub use entry::{Entry, Operation};
pub use names::{valid_bucket, valid_key};
pub use watch::Watch;

use serde::de::{DeserializeOwned, IgnoredAny};
use serde::Serialize;
use tern_jetstream::api::stream::{
    DiscardPolicy, NamesBody, StorageType, StreamConfig, StreamNamesRequest,
};
use tern_link::{ApiCallError, Link, Port, PortError};

/// Why a KV call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum KvError {
    /// A bucket name that is not `[a-zA-Z0-9_-]+`.
    InvalidBucketName(String),
    /// A key or watch pattern the clients would not accept.
    InvalidKey(String),
    /// The bucket's stream `KV_<bucket>` does not exist.
    BucketNotFound(String),
    /// `create` of a key that has a value.
    AlreadyExists {
        /// The key.
        key: String,
        /// The revision holding its value (0 if it could not be read).
        revision: u64,
    },
    /// `update` with a revision that is not the key's latest (10071).
    WrongLastRevision(String),
    /// A bucket configuration this crate refuses before asking (a
    /// history outside 1..=64).
    InvalidConfig(String),
    /// An error reply of the JetStream API.
    Api(tern_jetstream::error::ApiError),
    /// No reply within `tern_link::API_TIMEOUT`.
    Timeout,
    /// The server behind the port has stopped.
    Closed,
    /// A subject the server refused before sending (a key or bucket name
    /// that slipped past the checks).
    InvalidSubject(String),
    /// A reply that could not be read.
    Protocol(String),
}

impl std::fmt::Display for KvError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            KvError::InvalidBucketName(b) => write!(f, "invalid bucket name {b:?}"),
            KvError::InvalidKey(k) => write!(f, "invalid key {k:?}"),
            KvError::BucketNotFound(b) => write!(f, "bucket {b} not found"),
            KvError::AlreadyExists { key, revision } => {
                write!(f, "key {key} exists at revision {revision}")
            }
            KvError::WrongLastRevision(d) => write!(f, "wrong last revision: {d}"),
            KvError::InvalidConfig(d) => write!(f, "invalid bucket configuration: {d}"),
            KvError::Api(e) => write!(f, "{e} (status {})", e.code),
            KvError::Timeout => f.write_str("timed out"),
            KvError::Closed => f.write_str("server closed"),
            KvError::Protocol(p) => write!(f, "unexpected reply: {p}"),
            KvError::InvalidSubject(s) => write!(f, "invalid subject {s:?}"),
        }
    }
}

impl std::error::Error for KvError {}

/// JetStream's "stream not found": a bucket's stream is missing.
const STREAM_NOT_FOUND: u16 = 10059;

impl KvError {
    /// An API error, with "stream not found" read as the bucket missing.
    pub(crate) fn from_api(e: ApiCallError, bucket: &str) -> KvError {
        KvError::from(e).for_bucket(bucket)
    }

    /// "Stream not found" (10059) read as `bucket` missing: the one place
    /// the code is read so.
    pub(crate) fn for_bucket(self, bucket: &str) -> KvError {
        match self {
            KvError::Api(e) if e.err_code == STREAM_NOT_FOUND => {
                KvError::BucketNotFound(bucket.to_string())
            }
            e => e,
        }
    }
}

impl From<ApiCallError> for KvError {
    fn from(e: ApiCallError) -> Self {
        match e {
            ApiCallError::Api(e) => KvError::Api(e),
            ApiCallError::Timeout => KvError::Timeout,
            ApiCallError::Closed => KvError::Closed,
            ApiCallError::InvalidSubject(s) => KvError::InvalidSubject(s),
            ApiCallError::Protocol(p) => KvError::Protocol(p),
            // A kind this crate does not know yet reads as unreadable.
            e => KvError::Protocol(e.to_string()),
        }
    }
}

impl From<PortError> for KvError {
    fn from(e: PortError) -> Self {
        ApiCallError::from(e).into()
    }
}

/// Where a bucket keeps its data.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
#[non_exhaustive]
pub enum Storage {
    /// On disk: kept across restarts.
    #[default]
    File,
    /// In memory: lost when the server stops.
    Memory,
}

/// A bucket's settings, as the clients' KV config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The bucket's name; its stream is `KV_<bucket>`.
    pub bucket: String,
    /// Free text kept in the stream's config.
    pub description: String,
    /// Revisions kept per key (1..=64).
    pub history: i64,
    /// Entries older than this go (zero: kept).
    pub max_age: Duration,
    /// -1: unlimited.
    pub max_bytes: i64,
    /// -1: unlimited.
    pub max_value_size: i32,
    /// Where the bucket keeps its data.
    pub storage: Storage,
    /// Per-key TTLs allowed, and a marker kept this long when a key's
    /// entries expire (`limit_markers` in the clients).
    pub limit_markers: Option<Duration>,
}

impl Config {
    /// Settings for `bucket` with the clients' defaults: one revision per
    /// key, no limits, file storage, no per-key TTLs.
    pub fn new(bucket: &str) -> Config {
        Config {
            bucket: bucket.to_string(),
            description: String::new(),
            history: 1,
            max_age: Duration::ZERO,
            max_bytes: -1,
            max_value_size: -1,
            storage: Storage::File,
            limit_markers: None,
        }
    }

    /// The stream config the clients send for this bucket (fields left
    /// at their defaults read as absent).
    fn stream_config(&self) -> StreamConfig {
        let nanos = |d: Duration| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX);
        StreamConfig {
            name: format!("KV_{}", self.bucket),
            description: self.description.clone(),
            subjects: vec![format!("$KV.{}.>", self.bucket)],
            max_msgs_per_subject: self.history.max(1),
            max_bytes: self.max_bytes,
            max_age: nanos(self.max_age),
            max_msg_size: self.max_value_size,
            storage: match self.storage {
                Storage::File => StorageType::File,
                Storage::Memory => StorageType::Memory,
            },
            num_replicas: 1,
            discard: DiscardPolicy::New,
            allow_rollup_hdrs: true,
            deny_delete: true,
            deny_purge: false,
            allow_direct: true,
            allow_msg_ttl: self.limit_markers.is_some(),
            subject_delete_marker_ttl: self.limit_markers.map_or(0, nanos),
            ..StreamConfig::default()
        }
    }
}

/// The KV store of one server.
#[derive(Clone)]
pub struct Kv {
    link: Arc<Link>,
}

impl Kv {
    /// The KV over an in-process port of a server that runs JetStream
    /// (`Server::connect`).
    pub fn new(port: Arc<dyn Port>) -> Result<Kv, KvError> {
        Ok(Kv {
            link: Arc::new(Link::new(port)?),
        })
    }

    /// Creates a bucket (or opens an identical existing one).
    pub async fn create_bucket(&self, config: Config) -> Result<Bucket, KvError> {
        if !valid_bucket(&config.bucket) {
            return Err(KvError::InvalidBucketName(config.bucket));
        }
        if !(1..=64).contains(&config.history) {
            return Err(KvError::InvalidConfig(
                "history must be between 1 and 64".into(),
            ));
        }
        let subject = format!("$JS.API.STREAM.CREATE.KV_{}", config.bucket);
        self.api::<_, IgnoredAny>(&subject, &config.stream_config())
            .await?;
        self.bucket(&config.bucket).await
    }

    /// Opens an existing bucket.
    pub async fn bucket(&self, name: &str) -> Result<Bucket, KvError> {
        if !valid_bucket(name) {
            return Err(KvError::InvalidBucketName(name.to_string()));
        }
        self.api::<_, IgnoredAny>(&format!("$JS.API.STREAM.INFO.KV_{name}"), &())
            .await
            .map_err(|e| e.for_bucket(name))?;
        Ok(Bucket::new(self.link.clone(), name))
    }

    /// Deletes a bucket's stream, and with it every key.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), KvError> {
        if !valid_bucket(name) {
            return Err(KvError::InvalidBucketName(name.to_string()));
        }
        self.api::<_, IgnoredAny>(&format!("$JS.API.STREAM.DELETE.KV_{name}"), &())
            .await
            .map_err(|e| e.for_bucket(name))?;
        Ok(())
    }

    /// The names of every bucket.
    pub async fn bucket_names(&self) -> Result<Vec<String>, KvError> {
        let mut names = Vec::new();
        let mut offset = 0i64;
        loop {
            let request = StreamNamesRequest {
                offset,
                ..StreamNamesRequest::default()
            };
            let reply: NamesBody = self.api("$JS.API.STREAM.NAMES", &request).await?;
            let page = reply.streams.unwrap_or_default();
            offset += i64::try_from(page.len()).unwrap_or(i64::MAX);
            let done = page.is_empty() || offset >= reply.paged.total;
            names.extend(
                page.iter()
                    .filter_map(|s| s.strip_prefix("KV_").map(str::to_string)),
            );
            if done {
                return Ok(names);
            }
        }
    }

    /// A JetStream API call; `()` sends an empty body, and a reply not
    /// read is taken as [`IgnoredAny`].
    async fn api<Q: Serialize, R: DeserializeOwned>(
        &self,
        subject: &str,
        request: &Q,
    ) -> Result<R, KvError> {
        Ok(self.link.api_typed(subject, request).await?)
    }
}
