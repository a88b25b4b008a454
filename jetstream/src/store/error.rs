//! Why a store operation failed, with its cause kept: the I/O, redb or
//! JSON error underneath is the error's `source()`, and `Display` gives
//! what was being done followed by that cause (the text lands in logs
//! and in the `description` of a 10077 API error).

use std::borrow::Cow;
use std::fmt;
use std::sync::Arc;

/// A store failure. A full disk is its own variant (`NoSpace`): clients
/// hear "insufficient resources" for it, and it clears once space is
/// freed, where other failures need the store reopened.
#[derive(Debug)]
#[non_exhaustive]
pub enum StoreError {
    /// A file operation failed; `context` says which (and on what path).
    Io {
        /// What was being done, e.g. "writing the log" or a file's path.
        context: Cow<'static, str>,
        /// The operating system's error.
        source: std::io::Error,
    },
    /// The disk (or a quota) is full: writes fail until space is freed.
    NoSpace {
        /// What was being done when the space ran out.
        context: Cow<'static, str>,
        /// The ENOSPC or EDQUOT error.
        source: std::io::Error,
    },
    /// redb failed (an I/O error inside it, a damaged page, a commit that
    /// did not go through).
    Db {
        /// What was being asked of redb.
        context: &'static str,
        /// redb's error.
        source: redb::Error,
    },
    /// The file is still open elsewhere (a reader that has not let go of a
    /// closed store yet): opening it again shortly will work.
    Busy {
        /// redb's `DatabaseAlreadyOpen`.
        source: redb::Error,
    },
    /// Stored data does not decode, or contradicts the rest of the store.
    Corrupt {
        /// What is wrong, and where (a sequence, a record's name).
        what: Cow<'static, str>,
        /// The decoding error, for a stored JSON document.
        source: Option<serde_json::Error>,
    },
    /// A message part is longer than a record's 32-bit length field holds.
    TooLarge {
        /// Which part: "subject" or "header block".
        what: &'static str,
        /// Its length.
        bytes: usize,
    },
    /// An earlier failure left the store refusing writes until it is
    /// reopened; `source` is that failure.
    Unusable {
        /// How the earlier failure broke the store.
        why: &'static str,
        /// The earlier failure (also reported when it happened).
        source: Arc<StoreError>,
    },
    /// The thread or stream that would do the work is gone.
    Stopped {
        /// What stopped.
        what: &'static str,
    },
    /// Store code panicked (a damaged file can make redb panic); the
    /// panic was caught and the stream is failed instead.
    Panicked {
        /// What was being done.
        context: &'static str,
        /// The panic's message.
        message: String,
    },
    /// A request the store cannot serve by construction (a caller bug).
    Unsupported {
        /// What was asked.
        what: &'static str,
    },
}

impl StoreError {
    /// An I/O error with what was being done; a full disk is `NoSpace`.
    pub fn io(context: impl Into<Cow<'static, str>>, source: std::io::Error) -> Self {
        let context = context.into();
        if is_no_space(&source) {
            StoreError::NoSpace { context, source }
        } else {
            StoreError::Io { context, source }
        }
    }

    /// A redb error with what was being asked of redb; an I/O error inside
    /// it that is a full disk is `NoSpace`, a file open elsewhere `Busy`.
    pub fn db(context: &'static str, source: impl Into<redb::Error>) -> Self {
        match source.into() {
            redb::Error::Io(io) if is_no_space(&io) => StoreError::NoSpace {
                context: Cow::Borrowed(context),
                source: io,
            },
            source @ redb::Error::DatabaseAlreadyOpen => StoreError::Busy { source },
            source => StoreError::Db { context, source },
        }
    }

    /// Stored data that does not decode or does not add up.
    pub fn corrupt(what: impl Into<Cow<'static, str>>) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            source: None,
        }
    }

    /// A stored JSON document that does not parse.
    pub fn bad_document(what: impl Into<Cow<'static, str>>, source: serde_json::Error) -> Self {
        StoreError::Corrupt {
            what: what.into(),
            source: Some(source),
        }
    }

    /// Whether the disk is full: the failure clears once space is freed.
    /// A store made unusable by a full disk counts too.
    pub fn is_no_space(&self) -> bool {
        match self {
            StoreError::NoSpace { .. } => true,
            StoreError::Unusable { source, .. } => source.is_no_space(),
            _ => false,
        }
    }
}

/// ENOSPC or EDQUOT: the write can succeed once space is freed.
fn is_no_space(e: &std::io::Error) -> bool {
    const ENOSPC: i32 = 28;
    const EDQUOT: i32 = 122;
    e.kind() == std::io::ErrorKind::StorageFull || matches!(e.raw_os_error(), Some(ENOSPC | EDQUOT))
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            StoreError::Io { context, source } => write!(f, "store error: {context}: {source}"),
            StoreError::NoSpace { context, source } => {
                write!(f, "out of disk space: {context}: {source}")
            }
            StoreError::Db { context, source } => write!(f, "store error: {context}: {source}"),
            StoreError::Busy { source } => write!(f, "store busy: {source}"),
            StoreError::Corrupt { what, source } => {
                write!(f, "corrupt store record: {what}")?;
                match source {
                    Some(e) => write!(f, ": {e}"),
                    None => Ok(()),
                }
            }
            StoreError::TooLarge { what, bytes } => {
                write!(
                    f,
                    "store error: {what} of {bytes} bytes is too long to store"
                )
            }
            StoreError::Unusable { why, source } => {
                write!(f, "store error: store unusable: {why}: {source}")
            }
            StoreError::Stopped { what } => write!(f, "store error: {what}"),
            StoreError::Panicked { context, message } => {
                write!(f, "store error: {context} panicked: {message}")
            }
            StoreError::Unsupported { what } => write!(f, "store error: {what}"),
        }
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        match self {
            StoreError::Io { source, .. } | StoreError::NoSpace { source, .. } => Some(source),
            StoreError::Db { source, .. } | StoreError::Busy { source } => Some(source),
            StoreError::Corrupt { source, .. } => source.as_ref().map(|e| e as _),
            StoreError::Unusable { source, .. } => Some(&**source),
            StoreError::TooLarge { .. }
            | StoreError::Stopped { .. }
            | StoreError::Panicked { .. }
            | StoreError::Unsupported { .. } => None,
        }
    }
}

/// What each kind of redb error says was being done, for a `?` without
/// a context of its own.
macro_rules! from_redb {
    ($($t:ty => $context:literal),* $(,)?) => {$(
        impl From<$t> for StoreError {
            fn from(e: $t) -> Self {
                StoreError::db($context, e)
            }
        }
    )*};
}
from_redb!(
    redb::Error => "reading or writing the stream's file",
    redb::DatabaseError => "opening the stream's file",
    redb::TransactionError => "beginning a transaction",
    redb::TableError => "opening a table",
    redb::StorageError => "reading or writing the stream's file",
    redb::CommitError => "committing",
);

#[cfg(test)]
mod tests {
    use super::*;
    use std::error::Error as _;

    #[test]
    fn crosses_threads() {
        fn send_sync<T: Send + Sync + 'static>() {}
        send_sync::<StoreError>();
    }

    #[test]
    fn a_full_disk_is_no_space_and_keeps_its_cause() {
        let full = std::io::Error::from_raw_os_error(28);
        let e = StoreError::io("writing the log", full);
        assert!(e.is_no_space());
        assert!(e
            .to_string()
            .starts_with("out of disk space: writing the log: "));
        let cause = e.source().and_then(|s| s.downcast_ref::<std::io::Error>());
        assert_eq!(cause.and_then(std::io::Error::raw_os_error), Some(28));

        let db = StoreError::from(redb::StorageError::Io(std::io::Error::from_raw_os_error(
            28,
        )));
        assert!(db.is_no_space(), "{db:?}");
        let unusable = StoreError::Unusable {
            why: "applying a logged batch failed",
            source: Arc::new(db),
        };
        assert!(unusable.is_no_space());
        assert!(unusable.source().is_some());
    }

    #[test]
    fn other_failures_are_not_no_space() {
        let denied = std::io::Error::from(std::io::ErrorKind::PermissionDenied);
        let e = StoreError::io(String::from("/data/s.wal"), denied);
        assert!(matches!(&e, StoreError::Io { context, .. } if context == "/data/s.wal"));
        assert!(!e.is_no_space());
        assert!(matches!(
            StoreError::db("opening", redb::Error::DatabaseAlreadyOpen),
            StoreError::Busy { .. }
        ));
        let json = serde_json::from_slice::<u64>(b"{").expect_err("not JSON");
        let bad = StoreError::bad_document("bad stored config", json);
        assert!(bad
            .to_string()
            .starts_with("corrupt store record: bad stored config: "));
        assert!(bad.source().is_some());
        assert!(StoreError::corrupt("no state record").source().is_none());
    }
}
