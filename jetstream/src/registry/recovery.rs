//! Recovery: the stream files found at start-up are opened (on several
//! threads) and started, idle ones parked; a file that cannot be opened
//! is kept as a broken stream, answered with its failure and retried in
//! the background.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use super::{Body, Registry, StoredConfig};
use crate::config::EngineError;
use crate::outbox::now_ns;
use crate::store::{Store as _, StoreError};
use crate::stream::{Policy, Stream};

/// A stored stream that could not be opened: its requests are answered
/// with the failure, and it is tried again with a backoff.
pub(super) struct Broken {
    pub(super) path: PathBuf,
    pub(super) reason: String,
    retry_at: Instant,
    backoff: Duration,
}

const FIRST_REOPEN: Duration = Duration::from_secs(1);
const MAX_REOPEN: Duration = Duration::from_secs(60);

impl Registry {
    /// Reopens every stream stored under `dir`. One that cannot be opened
    /// is skipped with a warning naming it and why; the rest start.
    pub fn recover(&mut self, dir: &Path) -> Result<(), EngineError> {
        let entries = std::fs::read_dir(dir).map_err(|source| EngineError::ReadDir {
            path: dir.to_path_buf(),
            source,
        })?;
        let mut paths: Vec<PathBuf> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "redb"))
            .collect();
        paths.sort();
        // Opening is file work (redb's header, the index, the log): the
        // shards' worth of threads open them side by side.
        let sync = self.config.sync_interval;
        let workers = self.config.shards.max(1);
        let chunk = paths.len().div_ceil(workers).max(1);
        let opened: Vec<(PathBuf, Opened)> = std::thread::scope(|scope| {
            let handles: Vec<_> = paths
                .chunks(chunk)
                .map(|part| {
                    scope.spawn(move || {
                        part.iter()
                            .map(|p| (p.clone(), recover_file_stream(p, sync)))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            handles
                .into_iter()
                .flat_map(|h| h.join().unwrap_or_default())
                .collect()
        });
        for (path, result) in opened {
            let started = result.and_then(|found| match found {
                Some((stored, stream)) => self.start_opened(&path, stored, stream).map(Some),
                None => {
                    tracing::warn!("{}: no stream config stored, skipped", path.display());
                    Ok(None)
                }
            });
            match started {
                Ok(Some(name)) => tracing::info!("  Restored stream {name}"),
                Ok(None) => {}
                Err(e) => {
                    let name = name_from_path(&path);
                    tracing::warn!(
                        "  Error recovering stream '{name}' ({}), skipped and retried in the background: {e}",
                        path.display()
                    );
                    self.broken.insert(
                        name,
                        Broken {
                            path,
                            reason: e.to_string(),
                            retry_at: Instant::now() + FIRST_REOPEN,
                            backoff: FIRST_REOPEN,
                        },
                    );
                }
            }
        }
        self.recovering_done = true;
        Ok(())
    }

    /// Opens a stored stream and starts it; `None` for a file without a
    /// stream config.
    fn open_stored(&mut self, path: &Path) -> Result<Option<String>, StoreError> {
        let Some((stored, stream)) = open_file_stream(path, self.config.sync_interval)? else {
            tracing::warn!("{}: no stream config stored, skipped", path.display());
            return Ok(None);
        };
        self.start_opened(path, stored, Body::Open(Box::new(stream)))
            .map(Some)
    }

    fn start_opened(
        &mut self,
        path: &Path,
        stored: StoredConfig,
        stream: Body,
    ) -> Result<String, StoreError> {
        let name = stored.config.name.clone();
        if self.streams.contains_key(&name) {
            return Err(StoreError::corrupt(format!(
                "a second file for stream '{name}'"
            )));
        }
        self.attach(
            stored.config,
            stored.created_ns,
            stream,
            Some(path.to_path_buf()),
        )?;
        Ok(name)
    }

    pub fn next_retry(&self) -> Option<Instant> {
        self.broken
            .values()
            .map(|b| b.retry_at)
            .chain(self.backup_deadline())
            .min()
    }

    /// Tries again to open the broken streams that are due.
    pub fn retry_broken(&mut self) {
        self.backup_timers();
        let now = Instant::now();
        let due: Vec<String> = self
            .broken
            .iter()
            .filter(|(_, b)| b.retry_at <= now)
            .map(|(n, _)| n.clone())
            .collect();
        for name in due {
            let Some(mut b) = self.broken.remove(&name) else {
                continue;
            };
            match self.open_stored(&b.path) {
                Ok(_) => tracing::info!("JetStream stream '{name}' recovered"),
                Err(e) => {
                    let reason = e.to_string();
                    if reason != b.reason {
                        tracing::warn!(
                            "JetStream stream '{name}' still cannot be opened: {reason}"
                        );
                    }
                    b.reason = reason;
                    b.backoff = (b.backoff * 2).min(MAX_REOPEN);
                    b.retry_at = now + b.backoff;
                    self.broken.insert(name, b);
                }
            }
        }
    }
}

/// Opens a stream file: its store (log replayed), its config and its
/// state machine. `None` when the file holds no stream config. A panic in
/// the store (a damaged file) is an error here, not a crash.
pub(super) fn open_file_stream(
    path: &Path,
    sync_interval: Option<std::time::Duration>,
) -> Result<Option<(StoredConfig, Stream)>, StoreError> {
    crate::store::contain_panic(|| {
        let mut store = crate::store::RedbStore::open(path)?;
        store.set_sync_interval(sync_interval);
        let Some(doc) = store.load_config()? else {
            return Ok(None);
        };
        let stored: StoredConfig = serde_json::from_slice(&doc)
            .map_err(|e| StoreError::bad_document("bad stored config", e))?;
        let policy = Policy::from_config(&stored.config);
        let stream = Stream::new(policy, Box::new(store), now_ns())?;
        Ok(Some((stored, stream)))
    })
}

/// What recovering a stream file gave.
type Opened = Result<Option<(StoredConfig, Body)>, StoreError>;

/// Recovers a stream file at start-up. One with nothing to do until used
/// (no log to replay, no consumers, no expiry) is only read, not opened
/// for writing, and attached parked; any other is opened.
fn recover_file_stream(path: &Path, sync_interval: Option<std::time::Duration>) -> Opened {
    let peeked = crate::store::contain_panic(|| crate::store::RedbStore::peek(path))?;
    if let Some(peek) = peeked {
        let Some(doc) = peek.config else {
            return Ok(None);
        };
        let stored: StoredConfig = serde_json::from_slice(&doc)
            .map_err(|e| StoreError::bad_document("bad stored config", e))?;
        let c = &stored.config;
        // A mirror or a stream with sources copies all the time.
        let timers = c.allow_msg_ttl
            || (c.max_age > 0 && peek.msgs > 0)
            || c.mirror.is_some()
            || !c.sources.is_empty();
        if !peek.has_consumers && !timers {
            let bytes = peek.bytes;
            return Ok(Some((stored, Body::Parked { bytes })));
        }
    }
    let opened = open_file_stream(path, sync_interval)?;
    Ok(opened.map(|(stored, stream)| (stored, Body::Open(Box::new(stream)))))
}

/// A stream's name as its file gives it (for one that cannot be opened:
/// a long name's file holds only a prefix of it).
fn name_from_path(path: &Path) -> String {
    path.file_stem()
        .map(|s| s.to_string_lossy().into_owned())
        .unwrap_or_default()
}
