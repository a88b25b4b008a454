//! One bucket's operations, each the same request a NATS client sends.

use std::sync::Arc;
use std::time::Duration;

use bytes::Bytes;
use tern_jetstream::api::stream::{MsgGetRequest, StreamInfo};
use tern_jetstream::headers::{self, HeaderBlock};

use crate::entry::{key_of, Entry, Operation, KV_OPERATION};
use crate::names::{valid_key, valid_pattern};
use crate::watch::Watch;
use crate::KvError;
use tern_link::{DeliverFrom, Link, Msg, API_TIMEOUT};

/// A bucket's totals, from its stream.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Status {
    /// The bucket's name.
    pub bucket: String,
    /// Entries stored, every revision and marker counted.
    pub values: u64,
    /// Revisions kept per key.
    pub history: i64,
    /// How long entries are kept (zero: kept).
    pub max_age: Duration,
    /// Bytes the bucket's stream holds.
    pub bytes: u64,
}

/// One bucket, opened with [`Kv::bucket`](crate::Kv::bucket) or
/// [`Kv::create_bucket`](crate::Kv::create_bucket); clones share the
/// connection.
#[derive(Clone)]
pub struct Bucket {
    link: Arc<Link>,
    name: String,
    stream: String,
}

fn header_block(pairs: &[(&str, String)]) -> Option<Vec<u8>> {
    if pairs.is_empty() {
        return None;
    }
    let mut h = HeaderBlock::new();
    for (k, v) in pairs {
        h.add(k, v);
    }
    Some(h.finish())
}

/// The status code of a reply's header block (0 when it has none).
fn status_code(block: Option<&[u8]>) -> u16 {
    let Some(block) = block else {
        return 0;
    };
    let line = block.split(|&b| b == b'\r').next().unwrap_or(b"");
    std::str::from_utf8(line)
        .ok()
        .and_then(|l| l.split(' ').nth(1))
        .and_then(|c| c.parse().ok())
        .unwrap_or(0)
}

impl std::fmt::Debug for Bucket {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Bucket").field("name", &self.name).finish()
    }
}

impl Bucket {
    pub(crate) fn new(link: Arc<Link>, name: &str) -> Bucket {
        Bucket {
            link,
            name: name.to_string(),
            stream: format!("KV_{name}"),
        }
    }

    /// The bucket's name.
    pub fn name(&self) -> &str {
        &self.name
    }

    fn subject(&self, key: &str) -> Result<String, KvError> {
        if !valid_key(key) {
            return Err(KvError::InvalidKey(key.to_string()));
        }
        Ok(format!("$KV.{}.{key}", self.name))
    }

    /// Stores a message on the key's subject and returns its revision.
    async fn publish(
        &self,
        key: &str,
        headers: &[(&str, String)],
        value: &[u8],
    ) -> Result<u64, KvError> {
        let subject = self.subject(key)?;
        let block = header_block(headers);
        let reply = self
            .link
            .request(&subject, block.as_deref(), value, API_TIMEOUT)
            .await?;
        if status_code(reply.headers.as_deref()) == 503 {
            return Err(KvError::BucketNotFound(self.name.clone()));
        }
        match tern_jetstream::api::pub_ack::read_reply(&reply.payload) {
            Ok(Ok(ack)) => Ok(ack.seq),
            // 10071: the key's latest revision is not the one given.
            Ok(Err(error)) if error.err_code == 10071 => {
                Err(KvError::WrongLastRevision(error.description))
            }
            Ok(Err(error)) => Err(KvError::Api(error)),
            Err(e) => Err(KvError::Protocol(format!(
                "unreadable ack ({e}): {}",
                String::from_utf8_lossy(&reply.payload)
            ))),
        }
    }

    /// Stores `value` as the key's new revision and returns the revision.
    pub async fn put(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.publish(key, &[], &value).await
    }

    /// Puts only if the key has no value (never set, deleted or purged).
    pub async fn create(&self, key: &str, value: Bytes) -> Result<u64, KvError> {
        self.create_inner(key, value, None).await
    }

    /// `create` whose entry expires after `ttl` (the bucket needs limit
    /// markers).
    pub async fn create_with_ttl(
        &self,
        key: &str,
        value: Bytes,
        ttl: Duration,
    ) -> Result<u64, KvError> {
        self.create_inner(key, value, Some(ttl)).await
    }

    async fn create_inner(
        &self,
        key: &str,
        value: Bytes,
        ttl: Option<Duration>,
    ) -> Result<u64, KvError> {
        let mut hdrs = vec![("Nats-Expected-Last-Subject-Sequence", "0".to_string())];
        if let Some(ttl) = ttl {
            hdrs.push(("Nats-TTL", ttl.as_secs().max(1).to_string()));
        }
        match self.publish(key, &hdrs, &value).await {
            Err(KvError::WrongLastRevision(_)) => match self.entry(key).await? {
                // A deleted or purged key may be created again.
                Some(e) if e.operation != Operation::Put => {
                    hdrs[0].1 = e.revision.to_string();
                    self.publish(key, &hdrs, &value).await
                }
                Some(e) => Err(KvError::AlreadyExists {
                    key: key.to_string(),
                    revision: e.revision,
                }),
                None => Err(KvError::AlreadyExists {
                    key: key.to_string(),
                    revision: 0,
                }),
            },
            other => other,
        }
    }

    /// Puts only if `revision` is the key's latest.
    pub async fn update(&self, key: &str, value: Bytes, revision: u64) -> Result<u64, KvError> {
        let hdrs = [("Nats-Expected-Last-Subject-Sequence", revision.to_string())];
        self.publish(key, &hdrs, &value).await
    }

    /// Marks the key deleted (its history stays).
    pub async fn delete(&self, key: &str) -> Result<(), KvError> {
        self.publish(key, &[(KV_OPERATION, "DEL".into())], b"")
            .await?;
        Ok(())
    }

    /// Removes the key's history, leaving one purge marker.
    pub async fn purge(&self, key: &str) -> Result<(), KvError> {
        let hdrs = [
            (KV_OPERATION, "PURGE".to_string()),
            ("Nats-Rollup", "sub".to_string()),
        ];
        self.publish(key, &hdrs, b"").await?;
        Ok(())
    }

    /// The key's value, if it has one.
    pub async fn get(&self, key: &str) -> Result<Option<Entry>, KvError> {
        Ok(self
            .entry(key)
            .await?
            .filter(|e| e.operation == Operation::Put))
    }

    /// The key's latest entry, deletes and purges included.
    pub async fn entry(&self, key: &str) -> Result<Option<Entry>, KvError> {
        let subject = self.subject(key)?;
        // A file bucket is read straight from its committed data: no
        // request through the stream's shard.
        let wanted = subject.clone();
        if let Some(found) = self
            .read_committed(move |r| r.last_for_subject(&wanted))
            .await
        {
            return Ok(found.map(|m| self.entry_from_stored(m)));
        }
        let get = format!("$JS.API.DIRECT.GET.{}.{subject}", self.stream);
        let reply = self.link.request(&get, None, b"", API_TIMEOUT).await?;
        self.entry_from_get(&reply, &subject)
    }

    /// The entry at `revision`, if it belongs to `key`.
    pub async fn entry_for_revision(
        &self,
        key: &str,
        revision: u64,
    ) -> Result<Option<Entry>, KvError> {
        let subject = self.subject(key)?;
        if let Some(found) = self.read_committed(move |r| r.get(revision)).await {
            return Ok(found
                .filter(|m| m.subject == subject)
                .map(|m| self.entry_from_stored(m)));
        }
        let get = format!("$JS.API.DIRECT.GET.{}", self.stream);
        let request = MsgGetRequest {
            seq: revision,
            ..MsgGetRequest::default()
        };
        let body = serde_json::to_vec(&request).map_err(|e| KvError::Protocol(e.to_string()))?;
        let reply = self.link.request(&get, None, &body, API_TIMEOUT).await?;
        self.entry_from_get(&reply, &subject)
    }

    /// Reads a file bucket's committed data directly, without holding up
    /// the async workers' other tasks (redb reads may block). `None` when
    /// the bucket is not a file stream open here, or the read failed: the
    /// caller asks the stream.
    async fn read_committed<T, F>(&self, read: F) -> Option<T>
    where
        F: FnOnce(
            &tern_jetstream::store::StoreReader,
        ) -> Result<T, tern_jetstream::store::StoreError>,
    {
        let reader = self.link.port().committed(&self.stream)?;
        // The read may block on the disk: on a multi-threaded runtime the
        // worker hands its other tasks over first (cheaper than a trip to
        // the blocking pool, which would cost more than the read); on a
        // current-thread runtime there is no one to hand them to.
        let multi = tokio::runtime::Handle::try_current()
            .is_ok_and(|h| h.runtime_flavor() == tokio::runtime::RuntimeFlavor::MultiThread);
        let read = if multi {
            tokio::task::block_in_place(|| read(&reader))
        } else {
            read(&reader)
        };
        // A failed read is answered through the stream, which reports the
        // store's error if it persists.
        read.ok()
    }

    fn entry_from_stored(&self, m: tern_jetstream::store::StoredMsg) -> Entry {
        Entry {
            bucket: self.name.clone(),
            key: key_of(&self.name, &m.subject)
                .unwrap_or_default()
                .to_string(),
            operation: Operation::from_headers(m.headers.as_deref()),
            value: m.payload,
            revision: m.seq,
            created_ns: m.time_ns,
            delta: 0,
        }
    }

    fn entry_from_get(&self, reply: &Msg, subject: &str) -> Result<Option<Entry>, KvError> {
        let block = reply.headers.as_deref();
        match status_code(block) {
            0 => {}
            404 => return Ok(None),
            503 => return Err(KvError::BucketNotFound(self.name.clone())),
            code => {
                return Err(KvError::Protocol(format!("direct get status {code}")));
            }
        }
        let Some(block) = block else {
            return Err(KvError::Protocol("direct get without headers".into()));
        };
        if headers::get(block, "Nats-Subject") != Some(subject) {
            return Ok(None);
        }
        let revision = headers::get(block, "Nats-Sequence")
            .and_then(|s| s.parse().ok())
            .ok_or_else(|| KvError::Protocol("no Nats-Sequence".into()))?;
        let created_ns = headers::get(block, "Nats-Time-Stamp")
            .and_then(tern_jetstream::api::parse_time)
            .unwrap_or(0);
        Ok(Some(Entry {
            bucket: self.name.clone(),
            key: key_of(&self.name, subject).unwrap_or_default().to_string(),
            value: reply.payload.clone(),
            revision,
            created_ns,
            delta: 0,
            operation: Operation::from_headers(Some(block)),
        }))
    }

    /// Every stored revision of the key, oldest first.
    pub async fn history(&self, key: &str) -> Result<Vec<Entry>, KvError> {
        let subject = self.subject(key)?;
        let mut watch =
            Watch::start(&self.link, &self.name, &subject, DeliverFrom::All, false).await?;
        watch.initial().await
    }

    /// The keys that have a value, among those matching `filter` (`>` for
    /// all).
    pub async fn keys(&self, filter: &str) -> Result<Vec<String>, KvError> {
        if !valid_pattern(filter) {
            return Err(KvError::InvalidKey(filter.to_string()));
        }
        let subject = format!("$KV.{}.{filter}", self.name);
        let mut watch = Watch::start(
            &self.link,
            &self.name,
            &subject,
            DeliverFrom::LastPerSubject,
            true,
        )
        .await?;
        let entries = watch.initial().await?;
        Ok(entries
            .into_iter()
            .filter(|e| e.operation == Operation::Put)
            .map(|e| e.key)
            .collect())
    }

    /// Updates to keys matching `pattern` from now on.
    pub async fn watch(&self, pattern: &str) -> Result<Watch, KvError> {
        self.watch_from(pattern, DeliverFrom::New).await
    }

    /// The latest entry of every key matching `pattern`, then updates.
    pub async fn watch_with_history(&self, pattern: &str) -> Result<Watch, KvError> {
        self.watch_from(pattern, DeliverFrom::LastPerSubject).await
    }

    /// Every entry from `revision` on, then updates.
    pub async fn watch_from_revision(
        &self,
        pattern: &str,
        revision: u64,
    ) -> Result<Watch, KvError> {
        self.watch_from(pattern, DeliverFrom::Sequence(revision))
            .await
    }

    async fn watch_from(&self, pattern: &str, from: DeliverFrom) -> Result<Watch, KvError> {
        if !valid_pattern(pattern) {
            return Err(KvError::InvalidKey(pattern.to_string()));
        }
        let subject = format!("$KV.{}.{pattern}", self.name);
        Watch::start(&self.link, &self.name, &subject, from, false).await
    }

    /// The bucket's totals, read from its stream info.
    pub async fn status(&self) -> Result<Status, KvError> {
        let info: StreamInfo = self
            .link
            .api_typed(&format!("$JS.API.STREAM.INFO.{}", self.stream), &())
            .await
            .map_err(|e| KvError::from_api(e, &self.name))?;
        Ok(Status {
            bucket: self.name.clone(),
            values: info.state.messages,
            history: info.config.max_msgs_per_subject,
            max_age: Duration::from_nanos(u64::try_from(info.config.max_age).unwrap_or(0)),
            bytes: info.state.bytes,
        })
    }
}
