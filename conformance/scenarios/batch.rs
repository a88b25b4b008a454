//! Atomic batch publish (ADR-50), compared with the reference: staged
//! messages answered with an empty reply, the commit's ack with `batch`
//! and `count`, `eob`, every refusal (disabled, missing or bad sequence,
//! gaps, a bad commit, an id too long, unsupported and duplicate
//! headers, expectations inside a batch, rollups, discard-new limits),
//! and that a refused batch stores nothing.

use super::jetstream::{api, create, js_client, publish, run_js};
use crate::wire::Conn;

fn batch(c: &mut Conn, subject: &str, id: &str, seq: &str, extra: &[(&str, &str)], body: &[u8]) {
    let mut headers = vec![("Nats-Batch-Id", id), ("Nats-Batch-Sequence", seq)];
    headers.extend_from_slice(extra);
    publish(c, subject, &headers, body);
}

fn info(c: &mut Conn, stream: &str) {
    api(c, &format!("$JS.API.STREAM.INFO.{stream}"), "");
}

#[test]
fn js_atomic_batch() {
    run_js("js_atomic_batch", |s| {
        let mut c = js_client(s, "c");
        create(
            &mut c,
            "B",
            r#"{"name":"B","subjects":["b.>"],"allow_atomic":true,"allow_rollup_hdrs":true}"#,
        );
        create(&mut c, "N", r#"{"name":"N","subjects":["n.>"]}"#);
        // A batch of three: two staged, the commit stores all.
        batch(&mut c, "b.1", "one", "1", &[("H", "v")], b"a");
        batch(&mut c, "b.2", "one", "2", &[], b"b");
        info(&mut c, "B");
        batch(
            &mut c,
            "b.3",
            "one",
            "3",
            &[("Nats-Batch-Commit", "1")],
            b"c",
        );
        for seq in 1..=3 {
            api(
                &mut c,
                "$JS.API.STREAM.MSG.GET.B",
                &format!(r#"{{"seq":{seq}}}"#),
            );
        }
        // Ended by an end-of-batch message, not stored.
        batch(&mut c, "b.4", "two", "1", &[], b"d");
        batch(&mut c, "b.5", "two", "2", &[], b"e");
        batch(
            &mut c,
            "b.6",
            "two",
            "3",
            &[("Nats-Batch-Commit", "eob")],
            b"",
        );
        api(&mut c, "$JS.API.STREAM.MSG.GET.B", r#"{"seq":5}"#);
        // Refusals.
        batch(&mut c, "n.1", "x", "1", &[], b"");
        publish(&mut c, "b.1", &[("Nats-Batch-Id", "nos")], b"");
        batch(&mut c, "b.1", "unknown", "2", &[], b"");
        batch(&mut c, "b.1", "unknown", "1001", &[], b"");
        batch(&mut c, "b.1", &"i".repeat(65), "1", &[], b"");
        batch(
            &mut c,
            "b.1",
            &"i".repeat(64),
            "1",
            &[("Nats-Batch-Commit", "1")],
            b"ok",
        );
        batch(
            &mut c,
            "b.1",
            "badcommit",
            "1",
            &[("Nats-Batch-Commit", "yes")],
            b"",
        );
        batch(&mut c, "b.1", "gap", "1", &[], b"");
        batch(&mut c, "b.1", "gap", "3", &[], b"");
        batch(&mut c, "b.1", "gap", "2", &[], b"");
        batch(
            &mut c,
            "b.1",
            "eob1",
            "1",
            &[("Nats-Batch-Commit", "eob")],
            b"",
        );
        // Checked at the commit: the whole batch is refused.
        batch(
            &mut c,
            "b.1",
            "lastid",
            "1",
            &[("Nats-Expected-Last-Msg-Id", "x")],
            b"",
        );
        batch(
            &mut c,
            "b.1",
            "lastid",
            "2",
            &[("Nats-Batch-Commit", "1")],
            b"",
        );
        batch(&mut c, "b.1", "dup", "1", &[("Nats-Msg-Id", "m1")], b"");
        batch(
            &mut c,
            "b.2",
            "dup",
            "2",
            &[("Nats-Msg-Id", "m1"), ("Nats-Batch-Commit", "1")],
            b"",
        );
        batch(
            &mut c,
            "b.1",
            "lseq",
            "1",
            &[("Nats-Expected-Last-Sequence", "6")],
            b"",
        );
        batch(
            &mut c,
            "b.2",
            "lseq",
            "2",
            &[
                ("Nats-Expected-Last-Sequence", "7"),
                ("Nats-Batch-Commit", "1"),
            ],
            b"",
        );
        batch(
            &mut c,
            "b.1",
            "lseq2",
            "1",
            &[("Nats-Expected-Last-Sequence", "6")],
            b"",
        );
        batch(
            &mut c,
            "b.2",
            "lseq2",
            "2",
            &[("Nats-Batch-Commit", "1")],
            b"",
        );
        batch(&mut c, "b.s", "subj", "1", &[], b"");
        batch(
            &mut c,
            "b.s",
            "subj",
            "2",
            &[
                ("Nats-Expected-Last-Subject-Sequence", "0"),
                ("Nats-Batch-Commit", "1"),
            ],
            b"",
        );
        batch(&mut c, "b.r", "roll", "1", &[], b"");
        batch(
            &mut c,
            "b.r",
            "roll",
            "2",
            &[("Nats-Rollup", "sub"), ("Nats-Batch-Commit", "1")],
            b"",
        );
        batch(&mut c, "b.r", "rollall", "1", &[], b"");
        batch(
            &mut c,
            "b.q",
            "rollall",
            "2",
            &[("Nats-Rollup", "all"), ("Nats-Batch-Commit", "1")],
            b"",
        );
        info(&mut c, "B");
        // Discard new counts the batch's own messages.
        create(
            &mut c,
            "D",
            r#"{"name":"D","subjects":["d.>"],"allow_atomic":true,"max_msgs":2,"discard":"new"}"#,
        );
        publish(&mut c, "d.0", &[], b"");
        batch(&mut c, "d.1", "full", "1", &[], b"");
        batch(
            &mut c,
            "d.2",
            "full",
            "2",
            &[("Nats-Batch-Commit", "1")],
            b"",
        );
        info(&mut c, "D");
    });
}

/// A fast batch message: published with its batch in the reply subject;
/// reads the `expect` answers it gets (flow, gap, error, PubAck).
fn fast(c: &mut Conn, subject: &str, reply: &str, body: &[u8], expect: usize) {
    let mut frame = format!("PUB {subject} {reply} {}\r\n", body.len()).into_bytes();
    frame.extend_from_slice(body);
    frame.extend_from_slice(b"\r\n");
    c.send(&frame);
    let got = c.read_msgs_unrecorded(expect);
    for f in crate::transcript::split_frames(&got) {
        c.record(crate::transcript::render_frame(f));
    }
}

/// Fast batch publish (`allow_batched`), compared with the reference:
/// the first ack with the pace, acks as messages are stored, the commit's
/// PubAck with `batch` and `count`, gaps in `fail` and `ok` modes, a
/// ping, an end-of-batch commit, an error inside a batch, and the
/// refusals of the batch itself.
#[test]
fn js_fast_batch() {
    run_js("js_fast_batch", |s| {
        let mut c = js_client(s, "c");
        c.exchange(b"SUB fb.> 2\r\n").expect(b"PONG\r\n");
        create(
            &mut c,
            "F",
            r#"{"name":"F","subjects":["f.>"],"allow_batched":true}"#,
        );
        create(&mut c, "N", r#"{"name":"N","subjects":["n.>"]}"#);
        // Flow 2: an ack every two stored messages.
        fast(&mut c, "f.a", "fb.b1.2.fail.1.0.$FI", b"1", 1);
        fast(&mut c, "f.a", "fb.b1.2.fail.2.1.$FI", b"2", 1);
        fast(&mut c, "f.a", "fb.b1.2.fail.3.1.$FI", b"3", 0);
        fast(&mut c, "f.a", "fb.b1.2.fail.4.2.$FI", b"4", 1);
        // A gap ends a `fail` batch with what it stored.
        fast(&mut c, "f.b", "fb.b2.10.fail.1.0.$FI", b"1", 1);
        fast(&mut c, "f.b", "fb.b2.10.fail.3.1.$FI", b"3", 2);
        // ... and is passed over in `ok` mode.
        fast(&mut c, "f.c", "fb.b3.10.ok.1.0.$FI", b"1", 1);
        fast(&mut c, "f.c", "fb.b3.10.ok.3.1.$FI", b"3", 1);
        fast(&mut c, "f.c", "fb.b3.10.ok.4.2.$FI", b"4", 1);
        // A ping, and an end-of-batch commit (not stored).
        fast(&mut c, "f.d", "fb.b4.10.fail.1.0.$FI", b"1", 1);
        fast(&mut c, "f.d", "fb.b4.10.fail.1.4.$FI", b"", 1);
        fast(&mut c, "f.d", "fb.b4.10.fail.2.1.$FI", b"2", 0);
        fast(&mut c, "f.d", "fb.b4.10.fail.3.3.$FI", b"", 1);
        // A one-message batch committing at once.
        fast(&mut c, "f.e", "fb.b5.10.fail.1.2.$FI", b"only", 1);
        // Refusals of the batch itself.
        fast(&mut c, "n.a", "fb.x.10.fail.1.0.$FI", b"", 1);
        fast(&mut c, "f.a", "fb.x.10.maybe.1.0.$FI", b"", 1);
        fast(&mut c, "f.a", "fb.unknown.10.fail.2.1.$FI", b"", 1);
        let long = format!("fb.{}.10.fail.1.0.$FI", "i".repeat(65));
        fast(&mut c, "f.a", &long, b"", 1);
        api(&mut c, "$JS.API.STREAM.INFO.F", "");
        // A message refused inside a batch: its error, then the commit
        // in `fail` mode.
        create(
            &mut c,
            "L",
            r#"{"name":"L","subjects":["l.>"],"allow_batched":true,"max_msg_size":4}"#,
        );
        fast(&mut c, "l.a", "fb.b6.10.fail.1.0.$FI", b"ok", 1);
        fast(&mut c, "l.a", "fb.b6.10.fail.2.1.$FI", b"too large", 1);
        fast(&mut c, "l.a", "fb.b7.10.fail.1.0.$FI", b"too large", 1);
    });
}
