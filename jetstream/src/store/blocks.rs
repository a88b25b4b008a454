//! Index blocks: where the records of a run of consecutive sequences are,
//! one redb row per run instead of one per message (store format 3).
//!
//! A block is keyed by its first sequence and covers `n` sequences:
//!
//! ```text
//! u32 LE  n, the sequences covered (key .. key + n)
//! u64 LE  generation of the log segment holding every record
//! u64 LE  base offset in that segment
//! n x     u32 LE offset - base, u32 LE record length, i64 LE time_ns,
//!         u32 LE where its subject is in this value
//! ...     subjects, each u16 LE length + UTF-8, each once per block
//! ```
//!
//! Entries stay when their message is removed: whether a sequence is
//! stored is the index's answer (first sequence, gaps), not the block's.
//! A block goes when the stream's first sequence passes its end.

use std::collections::HashMap;

use super::segments::Loc;
use super::StoreError;

/// Sequences per block at most: one redb insert per this many messages,
/// and a lookup reads one block of about 20 bytes an entry.
pub(super) const BLOCK_MSGS: usize = 128;
const HEAD: usize = 4 + 8 + 8;
const ENTRY: usize = 20;

/// One message's entry in a block.
#[derive(Clone, Copy, Debug)]
pub(super) struct Entry<'a> {
    pub(super) loc: Loc,
    pub(super) time_ns: i64,
    pub(super) subject: &'a str,
}

/// A block read from its row, checked enough that every entry decodes
/// without reading out of bounds.
#[derive(Clone, Copy, Debug)]
pub(super) struct Block<'a> {
    key: u64,
    n: u64,
    generation: u64,
    base: u64,
    bytes: &'a [u8],
}

fn corrupt(key: u64, what: &str) -> StoreError {
    StoreError::corrupt(format!("index block at {key}: {what}"))
}

fn u32_at(b: &[u8], at: usize) -> Option<u32> {
    Some(u32::from_le_bytes(b.get(at..at + 4)?.try_into().ok()?))
}

fn u64_at(b: &[u8], at: usize) -> Option<u64> {
    Some(u64::from_le_bytes(b.get(at..at + 8)?.try_into().ok()?))
}

impl<'a> Block<'a> {
    pub(super) fn parse(key: u64, bytes: &'a [u8]) -> Result<Block<'a>, StoreError> {
        let n = u64::from(u32_at(bytes, 0).ok_or_else(|| corrupt(key, "short header"))?);
        let generation = u64_at(bytes, 4).ok_or_else(|| corrupt(key, "short header"))?;
        let base = u64_at(bytes, 12).ok_or_else(|| corrupt(key, "short header"))?;
        if n == 0 || (bytes.len() as u64) < HEAD as u64 + n * ENTRY as u64 {
            return Err(corrupt(key, "entries cut short"));
        }
        Ok(Block {
            key,
            n,
            generation,
            base,
            bytes,
        })
    }

    /// The segment holding its records.
    pub(super) fn generation(&self) -> u64 {
        self.generation
    }

    /// The first sequence it covers.
    pub(super) fn key(&self) -> u64 {
        self.key
    }

    /// One past the last sequence it covers.
    pub(super) fn end(&self) -> u64 {
        self.key + self.n
    }

    pub(super) fn covers(&self, seq: u64) -> bool {
        seq >= self.key && seq < self.end()
    }

    /// The entry of `seq` (which it must cover).
    pub(super) fn entry(&self, seq: u64) -> Result<Entry<'a>, StoreError> {
        if !self.covers(seq) {
            return Err(corrupt(self.key, "asked for a sequence it does not cover"));
        }
        let at = HEAD + (seq - self.key) as usize * ENTRY;
        let b = self.bytes;
        let bad = || corrupt(self.key, "bad entry");
        let rel = u32_at(b, at).ok_or_else(bad)?;
        let len = u32_at(b, at + 4).ok_or_else(bad)?;
        let time_ns = u64_at(b, at + 8).ok_or_else(bad)? as i64;
        let name_at = u32_at(b, at + 16).ok_or_else(bad)? as usize;
        Ok(Entry {
            loc: Loc {
                generation: self.generation,
                offset: self.base + u64::from(rel),
                len,
            },
            time_ns,
            subject: self.name(name_at)?,
        })
    }

    fn name(&self, at: usize) -> Result<&'a str, StoreError> {
        let b = self.bytes;
        let bad = || corrupt(self.key, "bad subject");
        let len = u16::from_le_bytes(
            b.get(at..at + 2)
                .ok_or_else(bad)?
                .try_into()
                .map_err(|_| bad())?,
        );
        let bytes = b.get(at + 2..at + 2 + usize::from(len)).ok_or_else(bad)?;
        std::str::from_utf8(bytes).map_err(|_| bad())
    }

    /// `subjects`, owned (for rows to remove after the read ends).
    pub(super) fn owned_subjects(&self) -> Result<Vec<String>, StoreError> {
        Ok(self.subjects()?.into_iter().map(str::to_owned).collect())
    }

    /// Every subject it names (a subject of a removed entry included).
    pub(super) fn subjects(&self) -> Result<Vec<&'a str>, StoreError> {
        let mut at = HEAD + self.n as usize * ENTRY;
        let mut out = Vec::new();
        while at < self.bytes.len() {
            let name = self.name(at)?;
            at += 2 + name.len();
            out.push(name);
        }
        Ok(out)
    }
}

/// Builds one block from consecutive entries.
#[derive(Debug, Default)]
pub(super) struct BlockBuilder {
    key: u64,
    n: usize,
    generation: u64,
    base: u64,
    entries: Vec<u8>,
    names: Vec<u8>,
    name_at: HashMap<String, u32>,
}

impl BlockBuilder {
    pub(super) fn is_empty(&self) -> bool {
        self.n == 0
    }

    /// Whether `loc` can go into this block (same segment, offset in
    /// reach, room left).
    pub(super) fn fits(&self, loc: Loc) -> bool {
        self.n == 0
            || (self.n < BLOCK_MSGS
                && loc.generation == self.generation
                && loc.offset >= self.base
                && loc.offset - self.base <= u64::from(u32::MAX))
    }

    /// Adds the entry of the next sequence (`fits` said yes; a name over
    /// 65,535 bytes cannot be a subject).
    pub(super) fn push(&mut self, seq: u64, loc: Loc, time_ns: i64, subject: &str) {
        if self.n == 0 {
            self.key = seq;
            self.generation = loc.generation;
            self.base = loc.offset;
        }
        debug_assert_eq!(seq, self.key + self.n as u64);
        let name_at = match self.name_at.get(subject) {
            Some(&at) => at,
            None => {
                let at = self.names.len() as u32;
                let len = u16::try_from(subject.len()).unwrap_or(u16::MAX);
                self.names.extend_from_slice(&len.to_le_bytes());
                self.names
                    .extend_from_slice(&subject.as_bytes()[..usize::from(len)]);
                self.name_at.insert(subject.to_owned(), at);
                at
            }
        };
        let rel = (loc.offset - self.base) as u32;
        self.entries.extend_from_slice(&rel.to_le_bytes());
        self.entries.extend_from_slice(&loc.len.to_le_bytes());
        self.entries.extend_from_slice(&time_ns.to_le_bytes());
        // Relative to the names for now; made absolute in `finish`.
        self.entries.extend_from_slice(&name_at.to_le_bytes());
        self.n += 1;
    }

    /// The block's key and value; the builder is empty again.
    pub(super) fn finish(&mut self) -> (u64, Vec<u8>) {
        let names_start = (HEAD + self.n * ENTRY) as u32;
        let mut out = Vec::with_capacity(names_start as usize + self.names.len());
        out.extend_from_slice(&(self.n as u32).to_le_bytes());
        out.extend_from_slice(&self.generation.to_le_bytes());
        out.extend_from_slice(&self.base.to_le_bytes());
        for entry in self.entries.chunks_exact(ENTRY) {
            out.extend_from_slice(&entry[..16]);
            let rel = u32::from_le_bytes([entry[16], entry[17], entry[18], entry[19]]);
            out.extend_from_slice(&(names_start + rel).to_le_bytes());
        }
        out.extend_from_slice(&self.names);
        let key = self.key;
        self.n = 0;
        self.entries.clear();
        self.names.clear();
        self.name_at.clear();
        (key, out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn loc(generation: u64, offset: u64, len: u32) -> Loc {
        Loc {
            generation,
            offset,
            len,
        }
    }

    #[test]
    fn entries_and_subjects_come_back_as_built() {
        let mut b = BlockBuilder::default();
        b.push(10, loc(3, 1000, 50), 7, "a.b");
        assert!(b.fits(loc(3, 1050, 60)));
        assert!(!b.fits(loc(4, 16, 60)));
        b.push(11, loc(3, 1050, 60), 8, "c");
        b.push(12, loc(3, 1110, 70), 9, "a.b");
        let (key, value) = b.finish();
        assert!(b.is_empty());
        assert_eq!(key, 10);
        let block = Block::parse(key, &value).expect("parse");
        assert_eq!((block.key(), block.end()), (10, 13));
        let e = block.entry(12).expect("entry");
        assert_eq!((e.loc, e.time_ns, e.subject), (loc(3, 1110, 70), 9, "a.b"));
        assert_eq!(block.entry(11).expect("entry").subject, "c");
        assert!(block.entry(13).is_err());
        assert_eq!(block.subjects().expect("subjects"), vec!["a.b", "c"]);
    }

    #[test]
    fn damaged_blocks_are_errors() {
        let mut b = BlockBuilder::default();
        b.push(1, loc(1, 16, 10), 1, "x");
        let (key, value) = b.finish();
        assert!(Block::parse(key, &value[..10]).is_err());
        assert!(Block::parse(key, &value[..HEAD + 5]).is_err());
        let mut bad = value.clone();
        let last = bad.len() - 1;
        bad[last] = 0xFF;
        let block = Block::parse(key, &bad).expect("header is fine");
        assert!(block.entry(1).is_err());
    }

    #[test]
    fn a_block_is_full_at_its_size() {
        let mut b = BlockBuilder::default();
        for i in 0..BLOCK_MSGS as u64 {
            assert!(b.fits(loc(1, 16 + i * 10, 10)));
            b.push(1 + i, loc(1, 16 + i * 10, 10), 0, "s");
        }
        assert!(!b.fits(loc(1, 5000, 10)));
        let (_, value) = b.finish();
        assert_eq!(value.len(), HEAD + BLOCK_MSGS * ENTRY + 3);
    }
}
