//! redb only: a restart restores the last commit exactly, uncommitted
//! writes are lost, and bad bytes on disk are errors, never panics.

use std::path::{Path, PathBuf};

use bytes::Bytes;

use super::super::schema::{entry_of, BLOCKS, META, META_FORMAT};
use super::*;

#[test]
fn reopen_restores_everything() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    s.save_config(br#"{"name":"S"}"#).expect("save");
    for i in 0..40 {
        put(
            &mut s,
            ["a.1", "a.2", "b.1"][i % 3],
            &format!("payload {i}"),
            i as i64,
        );
    }
    s.append(
        "h",
        Some(Bytes::from_static(b"NATS/1.0\r\n\r\n")),
        Bytes::new(),
        99,
    )
    .expect("append");
    for seq in [1, 2, 10, 11, 41] {
        assert!(s.remove(seq).expect("remove"));
    }
    s.purge(Some("a.2"), Some(20), None).expect("purge");
    s.commit().expect("commit");
    let before = snapshot(&s);
    assert!(!s.deleted().is_empty());
    drop(s);
    let mut s = open(&db_path(&dir));
    assert_eq!(snapshot(&s), before);
    s.purge(None, None, None).expect("purge");
    s.commit().expect("commit");
    drop(s);
    let mut s = open(&db_path(&dir));
    let st = s.state();
    assert_eq!(
        (st.msgs, st.first_seq, st.last_seq, st.last_ts),
        (0, 42, 41, 99)
    );
    assert_eq!(
        s.load_config().expect("load").as_deref(),
        Some(&br#"{"name":"S"}"#[..])
    );
    assert_eq!(put(&mut s, "c", "m", 1), 42);
    s.purge(None, Some(1000), None).expect("purge");
    s.commit().expect("commit");
    drop(s);
    let mut s = open(&db_path(&dir));
    assert_eq!((s.state().first_seq, s.state().last_seq), (1000, 999));
    assert_eq!(put(&mut s, "c", "m", 1), 1000);
}

#[test]
fn uncommitted_writes_are_lost() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    let mut oracle = MemStore::new();
    for i in 0..10 {
        let subject = ["x", "y"][i % 2];
        put(&mut s, subject, "m", i as i64);
        put(&mut oracle, subject, "m", i as i64);
    }
    s.remove(4).expect("remove");
    oracle.remove(4).expect("remove");
    s.save_config(b"{1}").expect("save");
    oracle.save_config(b"{1}").expect("save");
    s.commit().expect("commit");
    put(&mut s, "z", "lost", 0);
    s.remove(5).expect("remove");
    s.remove(1).expect("remove");
    s.purge(Some("y"), None, Some(1)).expect("purge");
    s.save_config(b"{2}").expect("save");
    assert_ne!(snapshot(&s), snapshot(&oracle));
    drop(s);
    let mut s = open(&db_path(&dir));
    assert_eq!(snapshot(&s), snapshot(&oracle));
    s.purge(None, None, None).expect("purge");
    drop(s);
    assert_eq!(snapshot(&open(&db_path(&dir))), snapshot(&oracle));
}

/// Overwrites one stored record in its log segment with bytes no record
/// can start with, behind the store's back.
fn clobber(path: &Path, seq: u64) {
    use std::os::unix::fs::FileExt;
    let (generation, offset, len) = {
        let db = redb::Database::create(path).expect("db");
        let read = redb::ReadableDatabase::begin_read(&db).expect("read");
        let table = read.open_table(BLOCKS).expect("table");
        let (loc, _) = entry_of(&table, seq).expect("get").expect("stored");
        (loc.generation, loc.offset, loc.len)
    };
    let sealed = path.with_extension(format!("{generation}.seg"));
    let file_path = if sealed.exists() {
        sealed
    } else {
        RedbStore::wal_path(path)
    };
    let file = std::fs::OpenOptions::new()
        .write(true)
        .open(&file_path)
        .expect("segment");
    file.write_all_at(&vec![0xFF; len as usize], offset)
        .expect("write");
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    for _ in 0..3 {
        put(&mut s, "a", "m", 0);
    }
    // Checkpointed: the rows `clobber` reads are in redb.
    s.sync().expect("sync");
    drop(s);
    clobber(&path, 2);
    let s = open(&path);
    assert!(matches!(s.get(2), Err(StoreError::Corrupt { .. })));
    assert!(matches!(
        s.next_matching(">", 2),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        s.next_matching("*", 2),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(
        seqs_of(s.next_matching("a", 3)),
        Some(3),
        "other records still read"
    );
    drop(s);
    clobber(&path, 1);
    // The index does not read records: the stream opens, the damaged
    // record reads as corrupt.
    let s = RedbStore::open(&path).expect("opens");
    assert!(matches!(s.get(1), Err(StoreError::Corrupt { .. })));
    assert_eq!(seqs_of(s.next_matching("a", 3)), Some(3));
}

#[test]
fn other_format_versions_are_refused() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    drop(open(&path));
    {
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        txn.open_table(META)
            .expect("table")
            .insert(META_FORMAT, 5u32.to_le_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let err = RedbStore::open(&path).err().expect("refused");
    assert!(err.to_string().contains("format 5"), "{err}");
}

/// A damaged index block is an error for the reads that need it, never a
/// panic, and the rest of the stream still reads; a block the first
/// message needs makes the open fail with the reason.
#[test]
fn damaged_index_blocks_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    for i in 0..300 {
        put(&mut s, ["a", "b"][i % 2], "m", i as i64);
    }
    s.sync().expect("sync");
    drop(s);
    // The second block (sequences 129..=256) cut short, the third given a
    // subject offset out of bounds.
    {
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        {
            let mut blocks = txn.open_table(BLOCKS).expect("blocks");
            let third: Vec<u8> = {
                let row = redb::ReadableTable::get(&blocks, 257)
                    .expect("get")
                    .expect("third block");
                row.value().to_vec()
            };
            blocks.insert(129, [1u8, 2, 3].as_slice()).expect("insert");
            let mut bad = third;
            let len = bad.len();
            bad.truncate(len - 1);
            blocks.insert(257, bad.as_slice()).expect("insert");
        }
        txn.commit().expect("commit");
    }
    let s = open(&path);
    assert!(matches!(s.get(130), Err(StoreError::Corrupt { .. })));
    assert!(matches!(s.get(300), Err(StoreError::Corrupt { .. })));
    assert!(matches!(
        s.next_matching(">", 129),
        Err(StoreError::Corrupt { .. })
    ));
    assert!(matches!(
        s.scan(">", 1, 500),
        Err(StoreError::Corrupt { .. })
    ));
    assert_eq!(
        seqs_of(s.next_matching("a", 3)),
        Some(3),
        "the first block reads"
    );
    assert_eq!(s.get(5).expect("get").map(|m| m.seq), Some(5));
    drop(s);
    {
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        txn.open_table(BLOCKS)
            .expect("blocks")
            .insert(1, [0u8; 4].as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let err = RedbStore::open(&path).err().expect("refused");
    assert!(err.to_string().contains("index block at 1"), "{err}");
}

/// A file of format 2 (a row per message) is converted to blocks at open
/// and reads as it did.
#[test]
fn the_row_per_message_format_is_converted() {
    const V2_MESSAGES: redb::TableDefinition<u64, (u64, u64, u32, i64, &str)> =
        redb::TableDefinition::new("msg_locations");
    const V2_SUBJECT_SEQS: redb::TableDefinition<(&str, u64), ()> =
        redb::TableDefinition::new("subject_seqs");
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    for i in 0..300 {
        put(
            &mut s,
            ["a.1", "a.2", "b.1"][i % 3],
            &format!("m{i}"),
            i as i64,
        );
    }
    for seq in [1, 2, 50, 51, 52, 200] {
        s.remove(seq).expect("remove");
    }
    s.sync().expect("sync");
    let before = snapshot(&s);
    drop(s);
    // Written back as format 2 wrote it: a row per stored message.
    {
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        {
            let blocks = txn.open_table(BLOCKS).expect("blocks");
            let mut rows = txn.open_table(V2_MESSAGES).expect("rows");
            let mut seqs = txn.open_table(V2_SUBJECT_SEQS).expect("seqs");
            for seq in 3..=300u64 {
                if [50, 51, 52, 200].contains(&seq) {
                    continue;
                }
                let block = super::super::schema::block_row(&blocks, seq)
                    .expect("read")
                    .expect("block");
                let (l, time_ns, subject) = {
                    let b = super::super::blocks::Block::parse(block.0, block.1.value())
                        .expect("parse");
                    let e = b.entry(seq).expect("entry");
                    (e.loc, e.time_ns, e.subject.to_string())
                };
                drop(block);
                rows.insert(
                    seq,
                    (l.generation, l.offset, l.len, time_ns, subject.as_str()),
                )
                .expect("insert");
                seqs.insert((subject.as_str(), seq), ()).expect("insert");
            }
        }
        txn.delete_table(BLOCKS).expect("delete");
        txn.delete_table(super::super::schema::SUBJECT_BLOCKS)
            .expect("delete");
        // Gaps as a row per sequence, as formats 2 and 3 kept them.
        txn.delete_table(super::super::schema::GAPS)
            .expect("delete");
        {
            const V3_DELETED: redb::TableDefinition<u64, ()> =
                redb::TableDefinition::new("deleted");
            let mut deleted = txn.open_table(V3_DELETED).expect("deleted");
            for seq in [50, 51, 52, 200] {
                deleted.insert(seq, ()).expect("insert");
            }
        }
        txn.open_table(META)
            .expect("table")
            .insert(META_FORMAT, 2u32.to_le_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let mut s = open(&path);
    assert_eq!(snapshot(&s), before);
    s.remove(3).expect("remove");
    put(&mut s, "a.1", "after", 999);
    s.sync().expect("sync");
    let after = snapshot(&s);
    drop(s);
    assert_eq!(snapshot(&open(&path)), after);
}

/// A stream file of the format before segments is refused with what to
/// do about it, not misread.
#[test]
fn the_format_before_segments_is_refused_with_a_way_out() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    drop(open(&path));
    {
        let db = redb::Database::create(&path).expect("db");
        let txn = db.begin_write().expect("txn");
        txn.open_table(META)
            .expect("table")
            .insert(META_FORMAT, 1u32.to_le_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let err = RedbStore::open(&path).err().expect("refused");
    let text = err.to_string();
    assert!(
        text.contains("format 1") && text.contains("backup"),
        "{text}"
    );
}

#[test]
fn msg_ids_survive_reopen_and_can_be_forgotten() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    let seq = put(&mut s, "a", "x", 1);
    s.record_msg_id("id-1", seq, 5).expect("record");
    s.record_msg_id("id-2", seq, 6).expect("record");
    s.commit().expect("commit");
    drop(s);
    let mut s = open(&db_path(&dir));
    let mut ids = s.msg_ids().expect("ids");
    ids.sort();
    assert_eq!(
        ids,
        vec![("id-1".to_string(), seq, 5), ("id-2".to_string(), seq, 6)]
    );
    s.forget_msg_ids(&["id-1".to_string()]).expect("forget");
    s.record_msg_id("id-3", seq, 7).expect("record");
    drop(s);
    let s = open(&db_path(&dir));
    assert_eq!(
        s.msg_ids().expect("ids").len(),
        2,
        "uncommitted changes are lost"
    );
}

#[test]
fn relaxed_commits_are_durable_after_sync() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    s.set_sync_interval(Some(std::time::Duration::from_secs(120)));
    put(&mut s, "a", "first", 1);
    s.commit().expect("commit");
    // Within the interval, commits skip the disk sync until `sync`.
    put(&mut s, "a", "second", 2);
    s.commit().expect("relaxed commit");
    assert!(
        s.sync_deadline().is_some(),
        "a relaxed commit waits for a sync"
    );
    s.sync().expect("sync");
    assert!(s.sync_deadline().is_none(), "nothing waits after a sync");
    drop(s);
    let s = open(&db_path(&dir));
    assert_eq!(s.state().msgs, 2);
}

/// The files as a crash would leave them: copied while the store is open,
/// so redb's file is at its last durable commit (the checkpoint at open)
/// and everything committed since is only in the log.
fn crash_copy(from: &TempDir) -> TempDir {
    let to = tempfile::tempdir().expect("tempdir");
    for entry in std::fs::read_dir(from.path()).expect("read dir") {
        let path = entry.expect("entry").path();
        let name = path.file_name().expect("file name");
        std::fs::copy(&path, to.path().join(name)).expect("copy");
    }
    to
}

#[test]
fn commits_since_the_checkpoint_are_replayed_from_the_log() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    s.save_config(br#"{"name":"S"}"#).expect("save");
    for i in 0..30 {
        put(
            &mut s,
            ["a.1", "a.2", "b.1"][i % 3],
            &format!("p{i}"),
            i as i64,
        );
    }
    s.record_msg_id("id-1", 30, 29).expect("msg id");
    s.commit().expect("commit");
    assert!(s.remove(2).expect("remove"));
    s.purge(Some("a.2"), Some(20), None).expect("purge");
    s.purge(None, None, Some(20)).expect("purge keep");
    put(&mut s, "c", "after purge", 40);
    s.forget_msg_ids(&["id-1".to_string()]).expect("forget");
    s.record_msg_id("id-2", 31, 40).expect("msg id");
    s.commit().expect("commit");
    let want = snapshot(&s);
    let want_ids = s.msg_ids().expect("ids");
    // Logged but never committed: must not come back.
    put(&mut s, "lost", "uncommitted", 50);
    let copy = crash_copy(&dir);
    drop(s);
    let mut again = open(&db_path(&copy));
    assert_eq!(snapshot(&again), want);
    assert_eq!(again.msg_ids().expect("ids"), want_ids);
    // Reopening the recovered store (after its checkpoint) changes nothing.
    put(&mut again, "next", "x", 60);
    again.commit().expect("commit");
    let settled = snapshot(&again);
    drop(again);
    assert_eq!(snapshot(&open(&db_path(&copy))), settled);
}

#[test]
fn consumers_are_saved_with_the_messages_and_replayed() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut s = open(&db_path(&dir));
    put(&mut s, "a", "m", 1);
    s.save_consumer("A", b"{\"a\":1}").expect("save");
    s.save_consumer("B", b"{\"b\":1}").expect("save");
    s.commit().expect("commit");
    s.save_consumer("A", b"{\"a\":2}").expect("save");
    s.remove_consumer("B").expect("remove");
    s.commit_unsynced().expect("commit");
    let want = vec![("A".to_string(), b"{\"a\":2}".to_vec())];
    assert_eq!(s.load_consumers().expect("load"), want);
    // A crash image: the later changes come back from the log.
    let copy = crash_copy(&dir);
    drop(s);
    assert_eq!(open(&db_path(&copy)).load_consumers().expect("load"), want);
    assert_eq!(open(&db_path(&dir)).load_consumers().expect("load"), want);
}

/// The files of the stream in `dir` other than the redb file: the active
/// log and the sealed segments, sorted.
fn log_files(dir: &TempDir) -> Vec<String> {
    let mut names: Vec<String> = std::fs::read_dir(dir.path())
        .expect("read dir")
        .map(|e| e.expect("entry").file_name().to_string_lossy().into_owned())
        .filter(|n| n.ends_with(".wal") || n.ends_with(".seg"))
        .collect();
    names.sort();
    names
}

/// Appends `n` messages of 128 KiB (enough, with `SEGMENT_BYTES` at
/// 8 MiB, to seal a segment every 64 or so), committing each.
fn put_large(s: &mut RedbStore, n: usize, tag: u8) -> Vec<u64> {
    (0..n)
        .map(|i| {
            let mut body = vec![tag; 128 << 10];
            body[..8].copy_from_slice(&(i as u64).to_le_bytes());
            let seq = s
                .append("big", None, Bytes::from(body), i as i64)
                .expect("append");
            s.commit().expect("commit");
            s.sync().expect("checkpoint");
            seq
        })
        .collect()
}

/// A log that grows past the segment size is sealed at a checkpoint; the
/// sealed records read back from their segment, before and after a
/// reopen, and a crash copy recovers them too.
#[test]
fn grown_logs_are_sealed_and_their_records_still_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    let seqs = put_large(&mut s, 150, 7);
    let files = log_files(&dir);
    assert!(
        files.iter().filter(|n| n.ends_with(".seg")).count() >= 2,
        "sealed segments: {files:?}"
    );
    let check = |s: &RedbStore| {
        for (i, &seq) in seqs.iter().enumerate() {
            let m = s.get(seq).expect("get").expect("stored");
            assert_eq!(m.payload.len(), 128 << 10);
            assert_eq!(&m.payload[..8], &(i as u64).to_le_bytes());
        }
        let scanned = s.scan(">", 1, 1000).expect("scan");
        assert_eq!(scanned.len(), seqs.len());
        assert!(scanned
            .iter()
            .enumerate()
            .all(|(i, m)| m.payload[..8] == (i as u64).to_le_bytes()));
    };
    check(&s);
    let reader = s.reader().expect("reader");
    assert_eq!(
        reader.get(seqs[3]).expect("read").expect("stored").payload[..8],
        3u64.to_le_bytes()
    );
    drop(reader);
    let copy = crash_copy(&dir);
    drop(s);
    check(&open(&path));
    check(&open(&db_path(&copy)));
}

/// Segments whose messages are all gone (limits, purges) are deleted at
/// a checkpoint: the files follow what is stored, not what was ever
/// written.
#[test]
fn emptied_segments_are_deleted() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    let first = put_large(&mut s, 150, 1);
    let before = log_files(&dir).len();
    // Remove from the head, as limits do, then publish more.
    s.purge(None, Some(first[140]), None).expect("purge below");
    s.commit().expect("commit");
    s.sync().expect("checkpoint");
    let after_purge = log_files(&dir);
    assert!(
        after_purge.len() < before,
        "{before} files before, {after_purge:?} after"
    );
    for round in 0..3 {
        let more = put_large(&mut s, 100, 2 + round);
        let newest = *more.last().expect("some");
        s.purge(None, Some(newest - 20), None).expect("purge");
        s.commit().expect("commit");
        s.sync().expect("checkpoint");
        let files = log_files(&dir);
        assert!(files.len() <= 5, "round {round}: {files:?}");
    }
    let kept = s.state();
    drop(s);
    let s = open(&path);
    assert_eq!(s.state(), kept);
    let last = s.get(kept.last_seq).expect("get").expect("stored");
    assert_eq!(last.payload.len(), 128 << 10);
    // Purging everything lets every sealed segment go.
    let mut s = s;
    s.purge(None, None, None).expect("purge all");
    s.commit().expect("commit");
    s.sync().expect("checkpoint");
    let files = log_files(&dir);
    assert!(
        files.iter().filter(|n| n.ends_with(".seg")).count() <= 1,
        "{files:?}"
    );
}

/// A segment a checkpoint let go of whose file is still there (a crash
/// between the commit and the delete) is deleted at the next open, found
/// from the checkpoint's record (no listing of the directory).
#[test]
fn a_segment_let_go_of_before_a_crash_is_deleted_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    let first = put_large(&mut s, 150, 1);
    s.sync().expect("checkpoint");
    let sealed: Vec<String> = log_files(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    assert!(!sealed.is_empty(), "150 records of 128 KiB seal a segment");
    // Keep copies of the sealed files, as a crash would have left them.
    let copies: Vec<(PathBuf, Vec<u8>)> = sealed
        .iter()
        .map(|n| {
            let p = dir.path().join(n);
            let bytes = std::fs::read(&p).expect("read");
            (p, bytes)
        })
        .collect();
    s.purge(None, Some(first[149]), None).expect("purge below");
    s.commit().expect("commit");
    s.sync().expect("checkpoint");
    drop(s);
    for (p, bytes) in &copies {
        if !p.exists() {
            std::fs::write(p, bytes).expect("put back");
        }
    }
    let s = open(&path);
    for (p, _) in &copies {
        assert!(!p.exists(), "{} left behind", p.display());
    }
    assert_eq!(s.state().msgs, 1);
}

/// A checkpoint that recorded the next generation and crashed before
/// sealing its log leaves the old log in place: the next open seals it
/// and every record in it still reads.
#[test]
fn a_seal_interrupted_by_a_crash_is_finished_at_open() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    // Up to the checkpoint that seals: the new log is then empty, as a
    // crash right after that checkpoint's commit would find it.
    let mut seqs = Vec::new();
    while !log_files(&dir).iter().any(|n| n.ends_with(".seg")) {
        let i = seqs.len();
        let mut body = vec![3u8; 128 << 10];
        body[..8].copy_from_slice(&(i as u64).to_le_bytes());
        seqs.push(s.append("big", None, Bytes::from(body), 0).expect("append"));
        s.commit().expect("commit");
        s.sync().expect("checkpoint");
        assert!(seqs.len() < 200, "no segment sealed");
    }
    drop(s);
    let sealed: Vec<String> = log_files(&dir)
        .into_iter()
        .filter(|n| n.ends_with(".seg"))
        .collect();
    let newest = sealed.last().expect("a sealed segment").clone();
    // Undo the rename: the newest sealed log back as the active one.
    let wal = RedbStore::wal_path(&path);
    std::fs::remove_file(&wal).expect("remove the new log");
    std::fs::rename(dir.path().join(&newest), &wal).expect("unseal");
    let s = open(&path);
    assert_eq!(log_files(&dir).iter().filter(|n| **n == newest).count(), 1);
    for (i, &seq) in seqs.iter().enumerate() {
        let m = s.get(seq).expect("get").expect("stored");
        assert_eq!(&m.payload[..8], &(i as u64).to_le_bytes());
    }
}
