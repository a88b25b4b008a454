//! Message bodies in the log's files. A file stream's log is not emptied
//! at a checkpoint any more: its files are the segments that hold every
//! stored message's record, written once (`jetstream/DESIGN.md`,
//! "Segments"). The active log is `<stem>.wal`; when it has grown past
//! `SEGMENT_BYTES` a checkpoint seals it as `<stem>.<generation>.seg`
//! and a new log starts under the next generation. redb keeps, per
//! message, where its record is (`Loc`).
//!
//! `SegmentFiles` serves reads from any thread (the stream's shard and
//! the in-process readers) with one positioned read per record, into a
//! buffer the message's headers and payload then share.

use std::collections::HashMap;
use std::fs::File;
use std::os::unix::fs::FileExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use bytes::{Bytes, BytesMut};
use std::sync::RwLock;

use super::StoreError;

/// A log past this many bytes is sealed at the next checkpoint. Small
/// enough that a stream whose old messages go (limits, max_age, acks)
/// gives its space back in steps of this size, large enough that a busy
/// stream does not make many files.
pub(super) const SEGMENT_BYTES: u64 = 8 << 20;

/// Where a message's record is: the log generation (its file), the
/// record's offset in that file, and its length.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(super) struct Loc {
    pub generation: u64,
    pub offset: u64,
    pub len: u32,
}

/// The open segment files of one stream, by generation.
pub(crate) struct SegmentFiles {
    /// The stream's redb file; segments are named after it.
    base: PathBuf,
    open: RwLock<HashMap<u64, Arc<File>>>,
}

impl SegmentFiles {
    pub(super) fn new(base: &Path) -> Self {
        SegmentFiles {
            base: base.to_path_buf(),
            open: RwLock::new(HashMap::new()),
        }
    }

    /// The file a sealed generation is kept in.
    pub(super) fn sealed_path(base: &Path, generation: u64) -> PathBuf {
        base.with_extension(format!("{generation}.seg"))
    }

    /// Serves reads of `generation` from `file` (the active log's, whose
    /// name changes when it is sealed).
    pub(super) fn adopt(&self, generation: u64, file: Arc<File>) {
        self.open
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(generation, file);
    }

    /// Closes a generation's file (its segment is being deleted).
    pub(super) fn forget(&self, generation: u64) {
        self.open
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .remove(&generation);
    }

    fn file(&self, generation: u64) -> Result<Arc<File>, StoreError> {
        if let Some(f) = self
            .open
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(&generation)
        {
            return Ok(f.clone());
        }
        let path = Self::sealed_path(&self.base, generation);
        let file = File::open(&path)
            .map_err(|e| StoreError::io(format!("opening segment {}", path.display()), e))?;
        let file = Arc::new(file);
        self.open
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .insert(generation, file.clone());
        Ok(file)
    }

    /// The size of a generation's file.
    pub(super) fn len(&self, generation: u64) -> Result<u64, StoreError> {
        let file = self.file(generation)?;
        let meta = file
            .metadata()
            .map_err(|e| StoreError::io(format!("sizing segment {generation}"), e))?;
        Ok(meta.len())
    }

    /// The record at `loc`, read with one positioned read.
    pub(super) fn read(&self, loc: Loc) -> Result<Bytes, StoreError> {
        let file = self.file(loc.generation)?;
        let mut buf = BytesMut::zeroed(loc.len as usize);
        file.read_exact_at(&mut buf, loc.offset).map_err(|e| {
            if e.kind() == std::io::ErrorKind::UnexpectedEof {
                StoreError::corrupt(format!(
                    "segment {} ends before the record at {} ({} bytes)",
                    loc.generation, loc.offset, loc.len
                ))
            } else {
                StoreError::io(format!("reading segment {}", loc.generation), e)
            }
        })?;
        Ok(buf.freeze())
    }

    /// The records at `locs`, which lie one after another in one segment
    /// with at most small gaps between them (a consumer's read-ahead): one
    /// positioned read for all of them.
    pub(super) fn read_run(&self, locs: &[Loc]) -> Result<Vec<Bytes>, StoreError> {
        let (Some(first), Some(last)) = (locs.first(), locs.last()) else {
            return Ok(Vec::new());
        };
        let start = first.offset;
        let end = last.offset + u64::from(last.len);
        let file = self.file(first.generation)?;
        let mut buf = BytesMut::zeroed(usize::try_from(end - start).unwrap_or(usize::MAX));
        file.read_exact_at(&mut buf, start)
            .map_err(|e| StoreError::io(format!("reading segment {}", first.generation), e))?;
        let buf = buf.freeze();
        Ok(locs
            .iter()
            .map(|l| {
                let at = (l.offset - start) as usize;
                buf.slice(at..at + l.len as usize)
            })
            .collect())
    }

    /// Deletes a sealed segment's file (nothing refers to it any more).
    pub(super) fn delete(&self, generation: u64) -> Result<(), StoreError> {
        self.forget(generation);
        let path = Self::sealed_path(&self.base, generation);
        match std::fs::remove_file(&path) {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(StoreError::io(
                format!("deleting segment {}", path.display()),
                e,
            )),
        }
    }

    /// The sealed segments on disk beside `base`, by generation.
    pub(super) fn sealed_on_disk(base: &Path) -> Result<Vec<u64>, StoreError> {
        let Some(dir) = base.parent() else {
            return Ok(Vec::new());
        };
        let Some(stem) = base.file_stem().and_then(|s| s.to_str()) else {
            return Ok(Vec::new());
        };
        let prefix = format!("{stem}.");
        let mut out = Vec::new();
        let entries = match std::fs::read_dir(dir) {
            Ok(e) => e,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(out),
            Err(e) => return Err(StoreError::io(format!("listing {}", dir.display()), e)),
        };
        for entry in entries.flatten() {
            let name = entry.file_name();
            let Some(name) = name.to_str() else { continue };
            let Some(rest) = name.strip_prefix(&prefix) else {
                continue;
            };
            let Some(generation) = rest.strip_suffix(".seg") else {
                continue;
            };
            if let Ok(g) = generation.parse::<u64>() {
                out.push(g);
            }
        }
        out.sort_unstable();
        Ok(out)
    }

    /// Deletes every file of the stream kept in `base`: the redb file, the
    /// active log and the sealed segments.
    pub(crate) fn remove_stream_files(base: &Path) -> Vec<(PathBuf, std::io::Error)> {
        let mut paths = vec![base.to_path_buf(), base.with_extension("wal")];
        if let Ok(sealed) = Self::sealed_on_disk(base) {
            paths.extend(sealed.into_iter().map(|g| Self::sealed_path(base, g)));
        }
        paths
            .into_iter()
            .filter_map(|p| match std::fs::remove_file(&p) {
                Ok(()) => None,
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
                Err(e) => Some((p, e)),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sealed_segments_are_found_by_name_and_removed_with_the_stream() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("ORDERS.redb");
        std::fs::write(&base, b"db").unwrap();
        std::fs::write(base.with_extension("wal"), b"log").unwrap();
        for g in [3u64, 12, 7] {
            std::fs::write(SegmentFiles::sealed_path(&base, g), b"seg").unwrap();
        }
        // Another stream's files, and a stray name, are not ours.
        std::fs::write(dir.path().join("ORDERS2.4.seg"), b"x").unwrap();
        std::fs::write(dir.path().join("ORDERS.x.seg"), b"x").unwrap();
        assert_eq!(SegmentFiles::sealed_on_disk(&base).unwrap(), [3, 7, 12]);
        assert!(SegmentFiles::remove_stream_files(&base).is_empty());
        let mut left: Vec<String> = std::fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        left.sort();
        assert_eq!(left, ["ORDERS.x.seg", "ORDERS2.4.seg"]);
    }

    #[test]
    fn records_are_read_alone_or_as_a_run() {
        let dir = tempfile::tempdir().unwrap();
        let base = dir.path().join("S.redb");
        std::fs::write(SegmentFiles::sealed_path(&base, 2), b"..abc.de..fgh").unwrap();
        let files = SegmentFiles::new(&base);
        let loc = |offset, len| Loc {
            generation: 2,
            offset,
            len,
        };
        assert_eq!(&files.read(loc(2, 3)).unwrap()[..], b"abc");
        let run = files.read_run(&[loc(2, 3), loc(6, 2), loc(10, 3)]).unwrap();
        let run: Vec<&[u8]> = run.iter().map(|b| &b[..]).collect();
        assert_eq!(run, [&b"abc"[..], b"de", b"fgh"]);
        assert!(matches!(
            files.read(loc(11, 5)),
            Err(StoreError::Corrupt { .. })
        ));
        assert!(files
            .read(Loc {
                generation: 9,
                offset: 0,
                len: 1
            })
            .is_err());
    }
}
