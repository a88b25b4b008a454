//! What a bucket holds for a key at one revision, read from a direct get
//! reply or a watcher's delivery.

use bytes::Bytes;
use tern_jetstream::headers;

/// What a revision did to its key (`KV-Operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum Operation {
    /// A value was stored.
    Put,
    /// The key was deleted (`DEL`); its history stays.
    Delete,
    /// The key was purged (`PURGE`); the earlier revisions are gone.
    Purge,
}

impl Operation {
    /// The operation a message's header block records; a message without
    /// `KV-Operation` is a put.
    pub fn from_headers(block: Option<&[u8]>) -> Operation {
        match block.and_then(|h| headers::get(h, KV_OPERATION)) {
            Some("DEL") => Operation::Delete,
            Some("PURGE") => Operation::Purge,
            _ => Operation::Put,
        }
    }
}

/// The header that marks a delete or a purge.
pub const KV_OPERATION: &str = "KV-Operation";

/// One revision of a key: its value and what the revision did.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    /// The bucket the key is in.
    pub bucket: String,
    /// The key.
    pub key: String,
    /// The value; empty for a delete or purge marker.
    pub value: Bytes,
    /// The stream sequence of this revision.
    pub revision: u64,
    /// When it was stored, Unix nanoseconds.
    pub created_ns: i64,
    /// For a watcher: how many newer entries were still pending then.
    pub delta: u64,
    /// Whether this revision put, deleted or purged the key.
    pub operation: Operation,
}

/// The key of a `$KV.<bucket>.<key>` subject.
pub fn key_of<'a>(bucket: &str, subject: &'a str) -> Option<&'a str> {
    subject
        .strip_prefix("$KV.")?
        .strip_prefix(bucket)?
        .strip_prefix('.')
}
