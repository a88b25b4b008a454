//! redb only: a restart restores the last commit exactly, uncommitted
//! writes are lost, and bad bytes on disk are errors, never panics.

use std::path::Path;

use bytes::Bytes;

use super::super::schema::{MESSAGES, META, META_FORMAT};
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

/// Overwrites one stored record with `bytes`, behind the store's back.
fn clobber(path: &Path, seq: u64, bytes: &[u8]) {
    let db = redb::Database::create(path).expect("db");
    let txn = db.begin_write().expect("txn");
    txn.open_table(MESSAGES)
        .expect("table")
        .insert(seq, bytes)
        .expect("insert");
    txn.commit().expect("commit");
}

#[test]
fn bad_bytes_are_errors_not_panics() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut s = open(&path);
    for _ in 0..3 {
        put(&mut s, "a", "m", 0);
    }
    s.commit().expect("commit");
    drop(s);
    clobber(&path, 2, b"\x01\x00");
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
    clobber(&path, 1, b"");
    assert!(matches!(
        RedbStore::open(&path),
        Err(StoreError::Corrupt { .. })
    ));
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
            .insert(META_FORMAT, 2u32.to_le_bytes().as_slice())
            .expect("insert");
        txn.commit().expect("commit");
    }
    let err = RedbStore::open(&path).err().expect("refused");
    assert!(err.to_string().contains("format 2"), "{err}");
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
