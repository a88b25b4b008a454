#![warn(missing_docs)]
//! tern's Object Store in process. A program that embeds tern keeps files
//! here and NATS clients see the same buckets: a bucket is the stream
//! `OBJ_<bucket>`; an object is chunks on `$O.<bucket>.C.<nuid>` and one
//! meta record (JSON) on `$O.<bucket>.M.<base64url(name)>`, rolled up, as
//! the clients lay them out (ADR-20). Puts stream from an `AsyncRead` a
//! chunk at a time; gets stream back as an `AsyncRead` whose digest is
//! checked at the end.

mod info;
mod read;

use std::sync::Arc;
use std::time::Duration;

use base64::Engine as _;
use serde::de::IgnoredAny;
use sha2::Digest as _;
use tern_jetstream::api::stream::{
    DiscardPolicy, MsgGetBody, MsgGetRequest, PurgeRequest, StorageType, StreamConfig, StreamInfo,
};
use tern_link::{ApiCallError, DeliverFrom, Link, Ordered, Port, PortError, API_TIMEOUT};
use tokio::io::{AsyncRead, AsyncReadExt};

pub use info::{ObjectInfo, ObjectLink, ObjectMeta, ObjectOptions};
pub use read::ObjectReader;

/// The clients' default chunk size.
pub const DEFAULT_CHUNK_SIZE: usize = 128 * 1024;

/// Why an object store call failed.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum ObjectError {
    /// A bucket name that is not `[a-zA-Z0-9_-]+`.
    InvalidBucketName(String),
    /// An empty object name, or a link that cannot be made: one to a
    /// link, or one over an object.
    InvalidName(String),
    /// The bucket's stream `OBJ_<bucket>` does not exist.
    BucketNotFound(String),
    /// No such object, or it is deleted (or, for `get`, it links a whole
    /// bucket).
    NotFound(String),
    /// The data read back does not match the recorded digest or size.
    DigestMismatch(String),
    /// The bucket is sealed: it takes no more changes (10075).
    Sealed,
    /// A rename onto a name another object has.
    NameInUse(String),
    /// An error reply of the JetStream API.
    Api(tern_jetstream::error::ApiError),
    /// No reply within `tern_link::API_TIMEOUT`.
    Timeout,
    /// The server behind the port has stopped.
    Closed,
    /// A subject the server refused before sending.
    InvalidSubject(String),
    /// Reading the object's data failed.
    Io(String),
    /// A reply that could not be read.
    Protocol(String),
}

impl std::fmt::Display for ObjectError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{self:?}")
    }
}

impl std::error::Error for ObjectError {}

impl From<ApiCallError> for ObjectError {
    fn from(e: ApiCallError) -> Self {
        match e {
            ApiCallError::Api(e) => ObjectError::Api(e),
            ApiCallError::Timeout => ObjectError::Timeout,
            ApiCallError::Closed => ObjectError::Closed,
            ApiCallError::InvalidSubject(s) => ObjectError::InvalidSubject(s),
            ApiCallError::Protocol(p) => ObjectError::Protocol(p),
            // A kind this crate does not know yet reads as unreadable.
            e => ObjectError::Protocol(e.to_string()),
        }
    }
}

impl From<PortError> for ObjectError {
    fn from(e: PortError) -> Self {
        ApiCallError::from(e).into()
    }
}

/// "Stream not found" (10059) read as `bucket` missing.
fn bucket_missing(e: ApiCallError, bucket: &str) -> ObjectError {
    match e {
        ApiCallError::Api(e) if e.err_code == 10059 => {
            ObjectError::BucketNotFound(bucket.to_string())
        }
        e => e.into(),
    }
}

/// `^[a-zA-Z0-9_-]+$`, as for KV buckets.
pub fn valid_bucket(name: &str) -> bool {
    !name.is_empty()
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
}

/// Go's URL-safe base64 with padding: how object names become subjects.
pub fn encode_name(name: &str) -> String {
    base64::engine::general_purpose::URL_SAFE.encode(name)
}

/// A fresh 22-character id for an object's chunks.
fn nuid() -> String {
    use std::hash::{BuildHasher, Hasher};
    use std::sync::atomic::{AtomicU64, Ordering};
    static COUNTER: AtomicU64 = AtomicU64::new(0);
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let mut out = String::with_capacity(22);
    let mut state = 0u64;
    for i in 0..22u64 {
        if i % 8 == 0 {
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u64(n);
            h.write_u64(i);
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            state = h.finish();
        }
        out.push(ALPHABET[(state % 62) as usize] as char);
        state /= 62;
    }
    out
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

/// A bucket's settings, as the clients' object store config.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Config {
    /// The bucket's name; its stream is `OBJ_<bucket>`.
    pub bucket: String,
    /// Free text kept in the stream's config.
    pub description: String,
    /// Objects older than this go (zero: kept).
    pub max_age: Duration,
    /// -1: unlimited.
    pub max_bytes: i64,
    /// Where the bucket keeps its data.
    pub storage: Storage,
}

impl Config {
    /// Settings for `bucket` with the clients' defaults: no limits, file
    /// storage.
    pub fn new(bucket: &str) -> Config {
        Config {
            bucket: bucket.to_string(),
            description: String::new(),
            max_age: Duration::ZERO,
            max_bytes: -1,
            storage: Storage::File,
        }
    }

    /// The stream config the clients send for this bucket (fields left
    /// at their defaults read as absent).
    fn stream_config(&self) -> StreamConfig {
        StreamConfig {
            name: format!("OBJ_{}", self.bucket),
            description: self.description.clone(),
            subjects: vec![
                format!("$O.{}.C.>", self.bucket),
                format!("$O.{}.M.>", self.bucket),
            ],
            max_age: i64::try_from(self.max_age.as_nanos()).unwrap_or(i64::MAX),
            max_bytes: self.max_bytes,
            storage: match self.storage {
                Storage::File => StorageType::File,
                Storage::Memory => StorageType::Memory,
            },
            num_replicas: 1,
            discard: DiscardPolicy::New,
            allow_rollup_hdrs: true,
            allow_direct: true,
            ..StreamConfig::default()
        }
    }
}

/// The object store of one server.
#[derive(Clone)]
pub struct ObjectStore {
    link: Arc<Link>,
}

impl ObjectStore {
    /// The object store over an in-process port of a server that runs
    /// JetStream (`Server::connect`).
    pub fn new(port: Arc<dyn Port>) -> Result<ObjectStore, ObjectError> {
        Ok(ObjectStore {
            link: Arc::new(Link::new(port)?),
        })
    }

    /// Creates a bucket (or opens an identical existing one).
    pub async fn create_bucket(&self, config: Config) -> Result<Bucket, ObjectError> {
        if !valid_bucket(&config.bucket) {
            return Err(ObjectError::InvalidBucketName(config.bucket));
        }
        let subject = format!("$JS.API.STREAM.CREATE.OBJ_{}", config.bucket);
        self.link
            .api_typed::<_, IgnoredAny>(&subject, &config.stream_config())
            .await?;
        self.bucket(&config.bucket).await
    }

    /// Opens an existing bucket.
    pub async fn bucket(&self, name: &str) -> Result<Bucket, ObjectError> {
        if !valid_bucket(name) {
            return Err(ObjectError::InvalidBucketName(name.to_string()));
        }
        self.link
            .api_typed::<_, IgnoredAny>(&format!("$JS.API.STREAM.INFO.OBJ_{name}"), &())
            .await
            .map_err(|e| bucket_missing(e, name))?;
        Ok(Bucket {
            link: self.link.clone(),
            name: name.to_string(),
            stream: format!("OBJ_{name}"),
        })
    }

    /// Deletes a bucket's stream, and with it every object.
    pub async fn delete_bucket(&self, name: &str) -> Result<(), ObjectError> {
        if !valid_bucket(name) {
            return Err(ObjectError::InvalidBucketName(name.to_string()));
        }
        self.link
            .api_typed::<_, IgnoredAny>(&format!("$JS.API.STREAM.DELETE.OBJ_{name}"), &())
            .await
            .map_err(|e| bucket_missing(e, name))?;
        Ok(())
    }
}

/// A bucket's totals, from its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The bucket's name.
    pub bucket: String,
    /// Whether the bucket is sealed (takes no more changes).
    pub sealed: bool,
    /// Bytes stored, chunks and meta records counted.
    pub size: u64,
    /// How long objects are kept (zero: kept).
    pub max_age: Duration,
}

/// One bucket, opened with [`ObjectStore::bucket`] or
/// [`ObjectStore::create_bucket`]; clones share the connection.
#[derive(Clone)]
pub struct Bucket {
    link: Arc<Link>,
    name: String,
    stream: String,
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("name", &self.name).finish()
    }
}

impl Bucket {
    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn meta_subject(&self, name: &str) -> Result<String, ObjectError> {
        if name.is_empty() {
            return Err(ObjectError::InvalidName(name.to_string()));
        }
        Ok(format!("$O.{}.M.{}", self.name, encode_name(name)))
    }

    /// Stores one message and waits for its ack.
    async fn store(
        &self,
        subject: &str,
        headers: Option<&[u8]>,
        body: &[u8],
    ) -> Result<u64, ObjectError> {
        let reply = self
            .link
            .request(subject, headers, body, API_TIMEOUT)
            .await?;
        if reply.headers.is_some() && reply.payload.is_empty() {
            return Err(ObjectError::BucketNotFound(self.name.clone()));
        }
        match tern_jetstream::api::pub_ack::read_reply(&reply.payload) {
            Ok(Ok(ack)) => Ok(ack.seq),
            // 10075: the stream is sealed.
            Ok(Err(error)) if error.err_code == 10075 => Err(ObjectError::Sealed),
            Ok(Err(error)) => Err(ObjectError::Api(error)),
            Err(e) => Err(ObjectError::Protocol(format!(
                "unreadable ack ({e}): {}",
                String::from_utf8_lossy(&reply.payload)
            ))),
        }
    }

    async fn put_meta(&self, info: &ObjectInfo) -> Result<(), ObjectError> {
        let subject = self.meta_subject(&info.name)?;
        let body = serde_json::to_vec(info).map_err(|e| ObjectError::Protocol(e.to_string()))?;
        let mut h = tern_jetstream::headers::HeaderBlock::new();
        h.add("Nats-Rollup", "sub");
        self.store(&subject, Some(&h.finish()), &body).await?;
        Ok(())
    }

    async fn purge_chunks(&self, nuid: &str) -> Result<(), ObjectError> {
        self.purge(format!("$O.{}.C.{nuid}", self.name)).await
    }

    /// Purges the messages on `filter`.
    async fn purge(&self, filter: String) -> Result<(), ObjectError> {
        let request = PurgeRequest {
            filter,
            ..PurgeRequest::default()
        };
        self.link
            .api_typed::<_, IgnoredAny>(&format!("$JS.API.STREAM.PURGE.{}", self.stream), &request)
            .await?;
        Ok(())
    }

    /// Stores an object read from `data`, chunk by chunk (never the whole
    /// object in memory), then its meta record; an older version's chunks
    /// are purged. On failure the chunks already stored are purged.
    pub async fn put(
        &self,
        meta: ObjectMeta,
        data: impl AsyncRead + Unpin,
    ) -> Result<ObjectInfo, ObjectError> {
        let subject_check = self.meta_subject(&meta.name)?;
        let previous = self.info_any(&meta.name).await?;
        let nuid = nuid();
        let chunk_subject = format!("$O.{}.C.{nuid}", self.name);
        let chunk_size = meta
            .options
            .as_ref()
            .and_then(|o| o.max_chunk_size)
            .filter(|s| *s > 0)
            .map_or(DEFAULT_CHUNK_SIZE, |s| s as usize);
        let result = self.put_chunks(&chunk_subject, chunk_size, data).await;
        let (size, chunks, digest) = match result {
            Ok(done) => done,
            Err(e) => {
                let _ = self.purge_chunks(&nuid).await;
                return Err(e);
            }
        };
        let info = ObjectInfo {
            name: meta.name,
            description: meta.description,
            headers: meta.headers,
            metadata: meta.metadata,
            options: Some(ObjectOptions {
                link: None,
                max_chunk_size: Some(chunk_size as i64),
            }),
            bucket: self.name.clone(),
            nuid: nuid.clone(),
            size,
            chunks,
            mtime: tern_jetstream::api::format_time(tern_jetstream::engine::now_ns()),
            digest: Some(digest),
            deleted: false,
        };
        debug_assert_eq!(subject_check, self.meta_subject(&info.name)?);
        if let Err(e) = self.put_meta(&info).await {
            let _ = self.purge_chunks(&nuid).await;
            return Err(e);
        }
        if let Some(old) = previous.filter(|p| !p.nuid.is_empty() && p.nuid != nuid) {
            self.purge_chunks(&old.nuid).await?;
        }
        Ok(info)
    }

    async fn put_chunks(
        &self,
        subject: &str,
        chunk_size: usize,
        mut data: impl AsyncRead + Unpin,
    ) -> Result<(u64, u64, String), ObjectError> {
        let mut hasher = sha2::Sha256::new();
        let mut buf = vec![0u8; chunk_size];
        let (mut size, mut chunks) = (0u64, 0u64);
        loop {
            // Fill a whole chunk (or reach the end).
            let mut filled = 0;
            while filled < chunk_size {
                let n = data
                    .read(&mut buf[filled..])
                    .await
                    .map_err(|e| ObjectError::Io(e.to_string()))?;
                if n == 0 {
                    break;
                }
                filled += n;
            }
            if filled == 0 {
                break;
            }
            hasher.update(&buf[..filled]);
            self.store(subject, None, &buf[..filled]).await?;
            size += filled as u64;
            chunks += 1;
            if filled < chunk_size {
                break;
            }
        }
        let digest = format!(
            "SHA-256={}",
            base64::engine::general_purpose::URL_SAFE.encode(hasher.finalize())
        );
        Ok((size, chunks, digest))
    }

    /// Stores a whole object held in memory.
    pub async fn put_bytes(&self, name: &str, data: &[u8]) -> Result<ObjectInfo, ObjectError> {
        self.put(ObjectMeta::named(name), data).await
    }

    /// The object's meta record, deleted ones included.
    async fn info_any(&self, name: &str) -> Result<Option<ObjectInfo>, ObjectError> {
        let subject = self.meta_subject(name)?;
        let request = MsgGetRequest {
            last_by_subj: subject,
            ..MsgGetRequest::default()
        };
        match self
            .link
            .api_typed::<_, MsgGetBody>(
                &format!("$JS.API.STREAM.MSG.GET.{}", self.stream),
                &request,
            )
            .await
        {
            Ok(MsgGetBody { message: Some(msg) }) => {
                let mut info: ObjectInfo = serde_json::from_slice(&msg.data)
                    .map_err(|e| ObjectError::Protocol(e.to_string()))?;
                info.mtime = tern_jetstream::api::format_time(msg.time);
                Ok(Some(info))
            }
            Ok(MsgGetBody { message: None }) => Err(ObjectError::Protocol(
                "msg get reply without message".into(),
            )),
            // 10037: no message for that subject.
            Err(ApiCallError::Api(e)) if e.err_code == 10037 => Ok(None),
            Err(e) => Err(bucket_missing(e, &self.name)),
        }
    }

    /// The object's meta record; deleted objects are not found.
    pub async fn info(&self, name: &str) -> Result<ObjectInfo, ObjectError> {
        match self.info_any(name).await? {
            Some(info) if !info.deleted => Ok(info),
            _ => Err(ObjectError::NotFound(name.to_string())),
        }
    }

    /// Reads an object (following a link to another object); its digest
    /// is checked when the last byte has been read.
    pub async fn get(&self, name: &str) -> Result<ObjectReader, ObjectError> {
        let info = self.info(name).await?;
        if let Some(link) = info.options.as_ref().and_then(|o| o.link.as_ref()) {
            let Some(target) = link.name.as_deref() else {
                return Err(ObjectError::NotFound(format!("{name} links a bucket")));
            };
            let bucket = if link.bucket == self.name {
                self.clone()
            } else {
                Bucket {
                    link: self.link.clone(),
                    name: link.bucket.clone(),
                    stream: format!("OBJ_{}", link.bucket),
                }
            };
            return Box::pin(bucket.get(target)).await;
        }
        let chunks = if info.chunks == 0 {
            None
        } else {
            let filter = format!("$O.{}.C.{}", self.name, info.nuid);
            Some(
                Ordered::start(&self.link, &self.stream, &filter, DeliverFrom::All, false)
                    .await
                    .map_err(|e| bucket_missing(e, &self.name))?,
            )
        };
        Ok(ObjectReader::new(info, chunks))
    }

    /// Reads a whole object into memory.
    pub async fn get_bytes(&self, name: &str) -> Result<Vec<u8>, ObjectError> {
        let mut reader = self.get(name).await?;
        let mut out = Vec::new();
        reader
            .read_to_end(&mut out)
            .await
            .map_err(read::io_to_error)?;
        Ok(out)
    }

    /// Marks the object deleted and purges its chunks.
    pub async fn delete(&self, name: &str) -> Result<(), ObjectError> {
        let mut info = self.info(name).await?;
        let nuid = std::mem::take(&mut info.nuid);
        info.deleted = true;
        info.size = 0;
        info.chunks = 0;
        info.digest = None;
        info.nuid = nuid.clone();
        info.mtime = tern_jetstream::api::format_time(tern_jetstream::engine::now_ns());
        self.put_meta(&info).await?;
        if !nuid.is_empty() {
            self.purge_chunks(&nuid).await?;
        }
        Ok(())
    }

    /// Changes an object's name, description, headers or metadata.
    pub async fn update_meta(
        &self,
        name: &str,
        meta: ObjectMeta,
    ) -> Result<ObjectInfo, ObjectError> {
        let mut info = self.info(name).await?;
        if meta.name != name && self.info(&meta.name).await.is_ok() {
            return Err(ObjectError::NameInUse(meta.name));
        }
        info.name = meta.name.clone();
        info.description = meta.description;
        info.headers = meta.headers;
        info.metadata = meta.metadata;
        self.put_meta(&info).await?;
        if meta.name != name {
            self.purge(self.meta_subject(name)?).await?;
        }
        Ok(info)
    }

    /// Adds `name` as a link to another object.
    pub async fn link(&self, name: &str, target: &ObjectInfo) -> Result<ObjectInfo, ObjectError> {
        if target.deleted {
            return Err(ObjectError::NotFound(target.name.clone()));
        }
        if target.options.as_ref().is_some_and(|o| o.link.is_some()) {
            return Err(ObjectError::InvalidName(
                "a link cannot point to a link".into(),
            ));
        }
        self.put_link(
            name,
            ObjectLink {
                bucket: target.bucket.clone(),
                name: Some(target.name.clone()),
            },
        )
        .await
    }

    /// Adds `name` as a link to a whole bucket.
    pub async fn link_bucket(&self, name: &str, bucket: &str) -> Result<ObjectInfo, ObjectError> {
        if !valid_bucket(bucket) {
            return Err(ObjectError::InvalidBucketName(bucket.to_string()));
        }
        self.put_link(
            name,
            ObjectLink {
                bucket: bucket.to_string(),
                name: None,
            },
        )
        .await
    }

    async fn put_link(&self, name: &str, link: ObjectLink) -> Result<ObjectInfo, ObjectError> {
        if let Some(existing) = self.info_any(name).await?.filter(|i| !i.deleted) {
            if existing.options.as_ref().is_none_or(|o| o.link.is_none()) {
                return Err(ObjectError::InvalidName(format!(
                    "{name} is an object, not a link"
                )));
            }
        }
        let info = ObjectInfo {
            name: name.to_string(),
            bucket: self.name.clone(),
            nuid: nuid(),
            options: Some(ObjectOptions {
                link: Some(link),
                max_chunk_size: None,
            }),
            mtime: tern_jetstream::api::format_time(tern_jetstream::engine::now_ns()),
            ..ObjectInfo::default()
        };
        self.put_meta(&info).await?;
        Ok(info)
    }

    /// Every object that is not deleted.
    pub async fn list(&self) -> Result<Vec<ObjectInfo>, ObjectError> {
        let filter = format!("$O.{}.M.>", self.name);
        let mut ordered = Ordered::start(
            &self.link,
            &self.stream,
            &filter,
            DeliverFrom::LastPerSubject,
            false,
        )
        .await
        .map_err(|e| bucket_missing(e, &self.name))?;
        let mut out = Vec::new();
        if ordered.initial_pending == 0 {
            return Ok(out);
        }
        loop {
            let d = tokio::time::timeout(API_TIMEOUT, ordered.next())
                .await
                .map_err(|_| ObjectError::Timeout)?
                .ok_or(ObjectError::Closed)?;
            if let Ok(info) = serde_json::from_slice::<ObjectInfo>(&d.msg.payload) {
                if !info.deleted {
                    out.push(info);
                }
            }
            if d.pending == 0 {
                return Ok(out);
            }
        }
    }

    /// Meta records as they change (puts, deletes, renames), from now on.
    pub async fn watch(&self) -> Result<ObjectWatch, ObjectError> {
        let filter = format!("$O.{}.M.>", self.name);
        let ordered = Ordered::start(&self.link, &self.stream, &filter, DeliverFrom::New, false)
            .await
            .map_err(|e| bucket_missing(e, &self.name))?;
        Ok(ObjectWatch { ordered })
    }

    /// Seals the bucket: no more changes.
    pub async fn seal(&self) -> Result<(), ObjectError> {
        let mut config = self.stream_info().await?.config;
        config.sealed = true;
        self.link
            .api_typed::<_, IgnoredAny>(&format!("$JS.API.STREAM.UPDATE.{}", self.stream), &config)
            .await?;
        Ok(())
    }

    /// The bucket's totals, read from its stream info.
    pub async fn status(&self) -> Result<Status, ObjectError> {
        let info = self.stream_info().await?;
        Ok(Status {
            bucket: self.name.clone(),
            sealed: info.config.sealed,
            size: info.state.bytes,
            max_age: Duration::from_nanos(u64::try_from(info.config.max_age).unwrap_or(0)),
        })
    }

    async fn stream_info(&self) -> Result<StreamInfo, ObjectError> {
        self.link
            .api_typed(&format!("$JS.API.STREAM.INFO.{}", self.stream), &())
            .await
            .map_err(|e| bucket_missing(e, &self.name))
    }
}

/// Changes to a bucket's objects.
pub struct ObjectWatch {
    ordered: Ordered,
}

impl ObjectWatch {
    /// The next changed object (a deleted one has `deleted` set).
    pub async fn next(&mut self) -> Option<ObjectInfo> {
        loop {
            let d = self.ordered.next().await?;
            if let Ok(info) = serde_json::from_slice::<ObjectInfo>(&d.msg.payload) {
                return Some(info);
            }
        }
    }
}
