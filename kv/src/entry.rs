//! What a bucket holds for a key at one revision, read from a direct get
//! reply or a watcher's delivery.

use bytes::Bytes;
use tern_jetstream::headers;

/// What a revision did to its key (`KV-Operation`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Operation {
    Put,
    Delete,
    Purge,
}

impl Operation {
    pub fn from_headers(block: Option<&[u8]>) -> Operation {
        match block.and_then(|h| headers::get(h, KV_OPERATION)) {
            Some("DEL") => Operation::Delete,
            Some("PURGE") => Operation::Purge,
            _ => Operation::Put,
        }
    }
}

pub const KV_OPERATION: &str = "KV-Operation";

#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Entry {
    pub bucket: String,
    pub key: String,
    pub value: Bytes,
    /// The stream sequence of this revision.
    pub revision: u64,
    /// When it was stored, Unix nanoseconds.
    pub created_ns: i64,
    /// For a watcher: how many newer entries were still pending then.
    pub delta: u64,
    pub operation: Operation,
}

/// The key of a `$KV.<bucket>.<key>` subject.
pub fn key_of<'a>(bucket: &str, subject: &'a str) -> Option<&'a str> {
    subject
        .strip_prefix("$KV.")?
        .strip_prefix(bucket)?
        .strip_prefix('.')
}
