//! Compaction of segments emptied from inside: reads agree with the memory
//! store before and after, across reopens, and the files stay bounded
//! when a stream keeps replacing messages behind one that stays.

use bytes::Bytes;

use super::super::redb_store::COMPACTED_BASE_FOR_TESTS;
use super::super::schema::{BLOCKS, GAPS, SUBJECT_BLOCKS};
use super::super::segments::SegmentFiles;
use super::*;

/// A small deterministic generator (xorshift), so a failure repeats.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// Bytes in the stream's log and segment files.
fn segment_bytes(dir: &TempDir) -> u64 {
    std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry"))
        .filter(|e| {
            let n = e.file_name().to_string_lossy().into_owned();
            n.ends_with(".wal") || n.ends_with(".seg")
        })
        .map(|e| e.metadata().expect("metadata").len())
        .sum()
}

fn count_rows(path: &Path) -> (u64, u64, u64) {
    use redb::ReadableDatabase;
    let db = redb::Database::open(path).expect("open redb");
    let read = db.begin_read().expect("read");
    let blocks = read.open_table(BLOCKS).expect("blocks");
    let subject_blocks = read.open_table(SUBJECT_BLOCKS).expect("subject blocks");
    let gaps = read.open_table(GAPS).expect("gaps");
    use redb::ReadableTableMetadata;
    (
        blocks.len().expect("len"),
        subject_blocks.len().expect("len"),
        gaps.len().expect("len"),
    )
}

/// A 48 KiB body that says which message it is.
fn body(i: u64) -> Bytes {
    let mut body = vec![(i % 251) as u8; 48 << 10];
    body[..8].copy_from_slice(&i.to_le_bytes());
    Bytes::from(body)
}

fn agree(s: &RedbStore, m: &MemStore, when: &str) {
    // Each store counts stored bytes its own way: compared with itself.
    let counted: u64 = (s.state().first_seq..=s.state().last_seq)
        .filter_map(|seq| s.get(seq).expect("get"))
        .map(|msg| s.size_of(&msg.subject, msg.headers.as_deref(), &msg.payload))
        .sum();
    assert_eq!(s.state().bytes, counted, "{when}: bytes");
    let without_bytes = |mut st: StoreState| {
        st.bytes = 0;
        st
    };
    assert_eq!(
        without_bytes(s.state()),
        without_bytes(m.state()),
        "{when}: state"
    );
    assert_eq!(
        s.subjects_matching(">"),
        m.subjects_matching(">"),
        "{when}: subjects"
    );
    assert_eq!(s.deleted(), m.deleted(), "{when}: gaps");
    let st = m.state();
    for seq in st.first_seq.saturating_sub(1)..=st.last_seq + 1 {
        assert_eq!(
            s.get(seq).expect("get"),
            m.get(seq).expect("get"),
            "{when}: message {seq}"
        );
    }
    for filter in ["a.1", "a.2", "b.1", "a.*", ">"] {
        assert_eq!(
            seqs_of(s.last_matching(filter)),
            seqs_of(m.last_matching(filter)),
            "{when}: last {filter}"
        );
        for from in [0, st.first_seq + 1, st.last_seq / 3, st.last_seq / 2] {
            assert_eq!(
                seqs_of(s.next_matching(filter, from)),
                seqs_of(m.next_matching(filter, from)),
                "{when}: next {filter} from {from}"
            );
        }
    }
}

/// Removes about `percent`% of the stored messages after the first
/// (which stays, so the first sequence never passes the segments).
fn remove_some(s: &mut RedbStore, m: &mut MemStore, rng: &mut Rng, percent: u64) {
    let st = m.state();
    for seq in st.first_seq + 1..=st.last_seq {
        if m.contains(seq) && rng.below(100) < percent {
            assert!(s.remove(seq).expect("remove"));
            assert!(m.remove(seq).expect("remove"));
        }
    }
    s.commit().expect("commit");
}

/// Checkpoints until a checkpoint compacts nothing more (one compaction
/// each), at most `max` times.
fn settle(s: &mut RedbStore, dir: &TempDir, max: usize) {
    let mut before = segment_bytes(dir);
    for _ in 0..max {
        s.sync().expect("checkpoint");
        let now = segment_bytes(dir);
        if now == before {
            // Once more: a compacted segment goes one checkpoint later.
            s.sync().expect("checkpoint");
            return;
        }
        before = now;
    }
}

#[test]
fn interior_removals_are_compacted_and_reads_agree_with_the_memory_store() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    let mut m = MemStore::new();
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let subjects = ["a.1", "a.2", "b.1"];
    let append = |s: &mut RedbStore, m: &mut MemStore, i: u64| {
        let subject = subjects[(i % 3) as usize];
        s.append(subject, None, body(i), i as i64).expect("append");
        m.append(subject, None, body(i), i as i64).expect("append");
        if i % 16 == 0 {
            s.commit().expect("commit");
        }
    };
    // About 24 MiB: three sealed segments and the active log.
    for i in 0..520 {
        append(&mut s, &mut m, i);
    }
    s.commit().expect("commit");
    s.sync().expect("checkpoint");
    let full = segment_bytes(&dir);
    assert!(full > 24 << 20, "{full} bytes logged");

    remove_some(&mut s, &mut m, &mut rng, 80);
    settle(&mut s, &dir, 10);
    let compacted = segment_bytes(&dir);
    assert!(
        compacted < full / 2,
        "{full} bytes before, {compacted} after removing 80%"
    );
    let names = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .collect::<Vec<_>>();
    let base = COMPACTED_BASE_FOR_TESTS;
    assert!(
        names.iter().any(|n| n.contains(&format!(".{base}."))),
        "a compacted segment: {names:?}"
    );
    agree(&s, &m, "after compaction");

    // Compacted segments are compacted again; new messages mix in.
    remove_some(&mut s, &mut m, &mut rng, 70);
    for i in 520..600 {
        append(&mut s, &mut m, i);
    }
    s.commit().expect("commit");
    settle(&mut s, &dir, 10);
    agree(&s, &m, "after a second round");

    drop(s);
    let mut s = open(&path);
    agree(&s, &m, "reopened");

    // Removing what is left from the head lets everything go.
    s.purge(None, Some(m.state().last_seq), None)
        .expect("purge");
    m.purge(None, Some(m.state().last_seq), None)
        .expect("purge");
    s.commit().expect("commit");
    settle(&mut s, &dir, 10);
    agree(&s, &m, "after the purge");
    assert!(segment_bytes(&dir) < 10 << 20);
}

/// A bucket whose one key is replaced forever behind a key that never
/// changes (so the first sequence stays put): its files and index rows
/// stay bounded, as the reference's do.
#[test]
fn a_stream_replacing_messages_behind_one_that_stays_stays_bounded() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    s.append("kv.static", None, body(0), 0).expect("append");
    let mut previous: Option<u64> = None;
    let mut peak = 0;
    for i in 1..=1200u64 {
        let seq = s.append("kv.hot", None, body(i), i as i64).expect("append");
        if let Some(p) = previous {
            assert!(s.remove(p).expect("remove"));
        }
        previous = Some(seq);
        s.commit().expect("commit");
        if i % 40 == 0 {
            s.sync().expect("checkpoint");
            peak = peak.max(segment_bytes(&dir));
        }
    }
    s.sync().expect("checkpoint");
    s.sync().expect("checkpoint");
    // 1,200 x 48 KiB = 56 MiB written; two live messages.
    assert!(peak < 28 << 20, "the files reached {peak} bytes");
    let st = s.state();
    assert_eq!((st.msgs, st.first_seq, st.last_seq), (2, 1, 1201));
    assert_eq!(s.get(1).expect("get").expect("stored").payload, body(0));
    assert_eq!(
        s.get(1201).expect("get").expect("stored").payload,
        body(1200)
    );
    drop(s);
    let (blocks, subject_rows, gap_rows) = count_rows(&path);
    // 1,199 removed sequences in a row: one run.
    assert_eq!(gap_rows, 1);
    // Without dropping dead blocks: one per 128 messages and more.
    assert!(blocks <= 8, "{blocks} index blocks for 2 messages");
    assert!(subject_rows <= 16, "{subject_rows} subject rows");
    let s = open(&path);
    assert_eq!(s.state(), st);
    assert_eq!(st.num_deleted, 1199);
    assert_eq!(
        seqs_of(s.last_matching("kv.hot")),
        Some(1201),
        "the hot key's last"
    );
}

/// A compaction a crash interrupted before its commit leaves a segment
/// nothing points at: the next open deletes it.
#[test]
fn an_uncommitted_compaction_is_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    put(&mut s, "a", "m", 1);
    s.commit().expect("commit");
    drop(s);
    let orphan = SegmentFiles::sealed_path(&path, COMPACTED_BASE_FOR_TESTS);
    std::fs::write(&orphan, b"TERNSEG\x01 half written").expect("write");
    let s = open(&path);
    assert!(!orphan.exists(), "left {}", orphan.display());
    assert_eq!(s.state().msgs, 1);
}
