//! Object stores over raw TCP: what the object store clients (async-nats,
//! nats.go) put on the wire, and what they read back, against servers
//! started with `-js -sd <tempdir>`. A bucket is a stream `OBJ_<b>` on
//! `$O.<b>.C.>` (chunks) and `$O.<b>.M.>` (meta records); a put publishes
//! the chunks to `$O.<b>.C.<nuid>` and then the meta JSON, rolled up
//! (`Nats-Rollup: sub`), to `$O.<b>.M.<base64url(name)>`; old chunks go with
//! a filtered purge. Info is a get of the last meta (JSON get or direct
//! get), reads and lists are ordered push consumers.
//!
//! The scenario's nuids, mtimes and digests are fixed strings: the servers
//! do not look inside them. Chunk payloads are runs of one byte (the
//! transcript abbreviates them), and chunk deliveries are recorded by size.

use serde_json::{json, Value};

use super::jetstream::{
    ack_frame, api_type, direct_msg, expect_frame, expect_has, expect_lines, js_client,
    parse_reply, run_js,
};
use super::kv::{
    api, create, deliveries, direct, ephemeral, is_ping, mask_ack_subject, not_found, ordered,
    publish, watcher, EPHEMERAL,
};
use crate::transcript::{escape, render_frame, split_frames};
use crate::wire::Conn;

/// The default chunk size of the clients.
const CHUNK: usize = 128 * 1024;
const MTIME: &str = "2026-01-02T03:04:05.123456789Z";
const DIGEST: &str = "SHA-256=IdgP4UYMGt47rgecOqFoLrd24AXukHf5-SVzqQ5Psg8=";
const ROLLUP: (&str, &str) = ("Nats-Rollup", "sub");

/// Go's `base64.URLEncoding` (async-nats `URL_SAFE`): URL-safe, padded.
fn encode_name(name: &str) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_";
    let mut out = String::new();
    for group in name.as_bytes().chunks(3) {
        let b = [
            group[0],
            group.get(1).copied().unwrap_or(0),
            group.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= group.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn meta_subject(b: &str, name: &str) -> String {
    format!("$O.{b}.M.{}", encode_name(name))
}

fn chunk_subject(b: &str, nuid: &str) -> String {
    format!("$O.{b}.C.{nuid}")
}

/// The stream config async-nats sends for bucket `b`
/// (`create_object_store`: unset limits are zeros), with `patch` merged in.
fn bucket_config(b: &str, patch: Value) -> String {
    let mut config = json!({
        "name": format!("OBJ_{b}"),
        "max_bytes": 0,
        "max_msgs": 0,
        "max_msgs_per_subject": 0,
        "discard": "new",
        "subjects": [format!("$O.{b}.C.>"), format!("$O.{b}.M.>")],
        "retention": "limits",
        "max_consumers": 0,
        "max_age": 0,
        "storage": "file",
        "num_replicas": 0,
        "allow_rollup_hdrs": true,
        "allow_direct": true,
        "consumer_limits": null,
    });
    if let (Value::Object(c), Value::Object(p)) = (&mut config, patch) {
        c.extend(p);
    }
    config.to_string()
}

/// A bucket created the async-nats way, expecting success.
fn bucket(c: &mut Conn, b: &str, patch: Value) -> Value {
    create(c, &format!("OBJ_{b}"), &bucket_config(b, patch))
}

/// The meta record of object `name` as async-nats writes it (`ObjectInfo`).
fn meta(b: &str, name: &str, nuid: &str, size: usize, chunks: usize) -> Value {
    json!({
        "name": name,
        "description": null,
        "metadata": {},
        "headers": null,
        "options": {"link": null, "max_chunk_size": CHUNK},
        "bucket": b,
        "nuid": nuid,
        "size": size,
        "chunks": chunks,
        "mtime": MTIME,
        "digest": DIGEST,
    })
}

/// A deleted object's meta: size and chunks 0, `deleted: true`.
fn deleted(mut info: Value) -> Value {
    info["size"] = json!(0);
    info["chunks"] = json!(0);
    info["deleted"] = json!(true);
    info
}

/// A publish expecting the PubAck `{"stream":"OBJ_<b>","seq":seq}`.
fn stored(c: &mut Conn, b: &str, subject: &str, headers: &[(&str, &str)], body: &[u8], seq: u64) {
    let got = publish(c, subject, headers, body);
    expect_frame(
        c,
        &got,
        &ack_frame(&format!(r#"{{"stream":"OBJ_{b}","seq":{seq}}}"#)),
    );
}

/// A publish expecting the error PubAck `{"error":want,"stream":..,"seq":0}`.
fn refused(
    c: &mut Conn,
    b: &str,
    subject: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    want: &str,
) {
    let got = publish(c, subject, headers, body);
    expect_frame(
        c,
        &got,
        &ack_frame(&format!(r#"{{"error":{want},"stream":"OBJ_{b}","seq":0}}"#)),
    );
}

/// The chunks of an object of `size` bytes: chunk `i` is a run of
/// `'a' + i`.
fn chunks(size: usize) -> Vec<Vec<u8>> {
    (0..size.div_ceil(CHUNK))
        .map(|i| vec![b'a' + i as u8; CHUNK.min(size - i * CHUNK)])
        .collect()
}

/// A put: the chunks (acked from sequence `seq`), then the meta, rolled up.
/// Returns the meta and the next sequence.
fn put(c: &mut Conn, b: &str, name: &str, nuid: &str, size: usize, seq: u64) -> (Value, u64) {
    let parts = chunks(size);
    let mut seq = seq;
    for part in &parts {
        stored(c, b, &chunk_subject(b, nuid), &[], part, seq);
        seq += 1;
    }
    let info = meta(b, name, nuid, size, parts.len());
    put_meta(c, b, &info, seq);
    (info, seq + 1)
}

/// Publishes a meta record, expecting the PubAck `seq`.
fn put_meta(c: &mut Conn, b: &str, info: &Value, seq: u64) {
    let name = info["name"].as_str().unwrap_or_default();
    stored(
        c,
        b,
        &meta_subject(b, name),
        &[ROLLUP],
        info.to_string().as_bytes(),
        seq,
    );
}

/// `STREAM.PURGE.OBJ_<b>` of one subject, expecting `purged`.
fn purge(c: &mut Conn, b: &str, subject: &str, purged: u64) {
    let got = api(
        c,
        &format!("$JS.API.STREAM.PURGE.OBJ_{b}"),
        &json!({ "filter": subject }).to_string(),
    );
    expect_has(
        c,
        &got,
        json!({"type": api_type("stream_purge"), "success": true, "purged": purged}),
    );
}

/// Info the nats.go / notes way: the JSON get of the last meta.
fn info_json(c: &mut Conn, b: &str, name: &str) -> Value {
    api(
        c,
        &format!("$JS.API.STREAM.MSG.GET.OBJ_{b}"),
        &json!({ "last_by_subj": meta_subject(b, name) }).to_string(),
    )
}

/// Info the async-nats way: a direct get of the last meta, expecting the
/// meta `info` stored at `seq` (or `None`: not found).
fn info_direct(c: &mut Conn, b: &str, name: &str, want: Option<(&Value, u64)>) {
    let subject = meta_subject(b, name);
    let got = direct(c, &format!("$JS.API.DIRECT.GET.OBJ_{b}.{subject}"), "", 1);
    let want = match want {
        Some((info, seq)) => direct_msg(
            &["Nats-Rollup: sub"],
            &format!("OBJ_{b}"),
            &subject,
            seq,
            &escape(info.to_string().as_bytes()),
        ),
        None => not_found(),
    };
    expect_lines(c, &got, &[want]);
}

/// The stream state of `OBJ_<b>` has `want`.
fn state_has(c: &mut Conn, b: &str, want: Value) {
    let got = api(c, &format!("$JS.API.STREAM.INFO.OBJ_{b}"), "");
    expect_has(c, &got, json!({ "state": want }));
}

/// The ordered push consumer a get creates (async-nats `OrderedConfig`
/// defaults: deliver all), on chunk subject `subject`.
fn read_chunks(c: &mut Conn, w: &mut Conn, b: &str, deliver: &str, subject: &str, count: usize) {
    let got = ordered(
        c,
        &format!("OBJ_{b}"),
        deliver,
        &format!(r#","deliver_policy":"all","filter_subject":"{subject}""#),
    );
    expect_has(c, &got, json!({ "num_pending": count }));
    chunk_deliveries(w, count);
}

/// Reads `count` chunk deliveries and records each as its control line
/// (ack subject masked), sizes, headers and payload size.
fn chunk_deliveries(w: &mut Conn, count: usize) {
    let data = flow_controlled(w, count, true);
    w.check(
        data == count,
        format!("expected {count} message(s), received {data}"),
    );
}

/// Reads `frames` messages (chunk deliveries and flow-control requests)
/// and records them; each flow-control request is answered after the
/// frames are read, as a client does. Returns the number of deliveries.
///
/// The servers send a flow-control request once about 1 MiB is delivered
/// unanswered and stop delivering at 2 MiB until it is answered: reading
/// up to such a stop (or to the end) never cuts a frame in two.
fn flow_controlled(w: &mut Conn, frames: usize, answer: bool) -> usize {
    let got = w.read_msgs_unrecorded(frames);
    let mut data = 0;
    let mut answers = Vec::new();
    for frame in split_frames(&got).into_iter().filter(|f| !is_ping(f)) {
        let Some(r) = parse_reply(frame) else {
            w.record(render_frame(frame));
            continue;
        };
        let mut control: Vec<String> = r.control.split(' ').map(mask_ack_subject).collect();
        if let Some(reply) = control.get_mut(3) {
            let masked = mask_fc(reply);
            if masked != *reply {
                answers.push((reply.clone(), masked.clone()));
                *reply = masked;
            }
        }
        w.record(format!("{} {}", control.join(" "), r.sizes));
        for h in r.headers.iter().flatten() {
            // A stalled consumer's heartbeat names the unanswered request,
            // which the client answers.
            match h.strip_prefix("Nats-Consumer-Stalled: ") {
                Some(reply) => {
                    let masked = mask_fc(reply);
                    w.record(format!("  Nats-Consumer-Stalled: {masked}"));
                    answers.push((reply.to_string(), masked));
                }
                None => w.record(format!("  {h}")),
            }
        }
        if r.headers.is_none() {
            data += 1;
            w.record(format!("  payload: {} bytes", r.payload.len()));
        }
    }
    for (reply, masked) in answers.into_iter().filter(|_| answer) {
        let pub_ = |subject: &str| format!("PUB {subject} 0\r\n\r\n");
        w.send_as(pub_(&reply).as_bytes(), &escape(pub_(&masked).as_bytes()));
    }
    data
}

/// A flow-control subject `$JS.FC.<stream>.<consumer>.<token>` with the
/// consumer's generated name and the token masked.
fn mask_fc(subject: &str) -> String {
    let tokens: Vec<&str> = subject.split('.').collect();
    match tokens[..] {
        ["$JS", "FC", stream, _, _] => format!("$JS.FC.{stream}.{EPHEMERAL}.<token>"),
        _ => subject.to_string(),
    }
}

/// A list or watch with history: the ordered consumer on the meta subjects
/// (`policy` `last_per_subject`, or `all` as async-nats `list` does).
fn list(c: &mut Conn, w: &mut Conn, b: &str, deliver: &str, policy: &str, count: usize) {
    let got = ordered(
        c,
        &format!("OBJ_{b}"),
        deliver,
        &format!(
            r#","description":"object store list","deliver_policy":"{policy}","filter_subject":"$O.{b}.M.>""#
        ),
    );
    expect_has(c, &got, json!({ "num_pending": count }));
    deliveries(w, count);
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

#[test]
fn obj_bucket_create() {
    run_js("obj_bucket_create", |s| {
        let mut c = js_client(s, "c");
        // async-nats defaults: zero limits, zero replicas.
        let got = bucket(&mut c, "a", json!({}));
        expect_has(
            &mut c,
            &got,
            json!({"config": {"discard": "new", "allow_rollup_hdrs": true, "allow_direct": true,
                   "max_bytes": -1, "num_replicas": 1, "compression": "none"}}),
        );
        // TTL, size limit, compression, placement, description, memory.
        let got = bucket(
            &mut c,
            "b",
            json!({"description": "docs", "max_age": 60_000_000_000u64, "max_bytes": 1_000_000,
                   "compression": "s2", "placement": {"tags": ["x"]}, "storage": "memory",
                   "num_replicas": 1}),
        );
        expect_has(
            &mut c,
            &got,
            json!({"config": {"max_age": 60_000_000_000u64, "max_bytes": 1_000_000,
                   "compression": "s2", "duplicate_window": 60_000_000_000u64}}),
        );
        // A short TTL: the duplicate window follows it.
        bucket(&mut c, "t", json!({"max_age": 1_000_000_000u64}));
        // Creating again with the same config is fine; a different one not.
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.OBJ_a",
            &bucket_config("a", json!({})),
        );
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.OBJ_a",
            &bucket_config("a", json!({"max_bytes": 5})),
        );
        // Status: STREAM.INFO.
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_a", "");
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_nope", "");
        // Placement in a cluster that does not exist.
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.OBJ_pc",
            &bucket_config("pc", json!({"placement": {"cluster": "elsewhere"}})),
        );
        // Delete the bucket.
        api(&mut c, "$JS.API.STREAM.DELETE.OBJ_t", "");
        api(&mut c, "$JS.API.STREAM.NAMES", "");
    });
}

#[test]
fn obj_put_get() {
    run_js("obj_put_get", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({"compression": "s2"}));
        const NUID: &str = "CkuyLEX4z2hbyjj1aWCfiH";
        // Info of an object not there: both ways.
        info_json(&mut c, "b", "report.pdf");
        info_direct(&mut c, "b", "report.pdf", None);
        // Three chunks: two whole, one partial; then the meta.
        let size = 2 * CHUNK + 1000;
        let (info, _) = put(&mut c, "b", "report.pdf", NUID, size, 1);
        state_has(
            &mut c,
            "b",
            json!({"messages": 4, "first_seq": 1, "last_seq": 4, "num_subjects": 2}),
        );
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        // Info both ways.
        info_json(&mut c, "b", "report.pdf");
        info_direct(&mut c, "b", "report.pdf", Some((&info, 4)));
        // Get: the chunks through an ordered push consumer.
        let mut w = watcher(s, "w", "_INBOX.get");
        read_chunks(
            &mut c,
            &mut w,
            "b",
            "_INBOX.get",
            &chunk_subject("b", NUID),
            3,
        );
        // An empty object: no chunks, just the meta.
        let empty = meta("b", "empty", "NUIDEMPTY0000000000000", 0, 0);
        put_meta(&mut c, "b", &empty, 5);
        info_direct(&mut c, "b", "empty", Some((&empty, 5)));
        let mut e = watcher(s, "e", "_INBOX.empty");
        read_chunks(
            &mut c,
            &mut e,
            "b",
            "_INBOX.empty",
            &chunk_subject("b", "NUIDEMPTY0000000000000"),
            0,
        );
        // A name needing padding, and one with characters base64url maps.
        let (odd, _) = put(&mut c, "b", "a/b?c~d", "NUIDODD00000000000000", 10, 6);
        c.check(
            meta_subject("b", "a/b?c~d") == "$O.b.M.YS9iP2N-ZA==",
            "encoding".to_string(),
        );
        info_direct(&mut c, "b", "a/b?c~d", Some((&odd, 7)));
        info_json(&mut c, "b", "a/b?c~d");
        state_has(
            &mut c,
            "b",
            json!({"messages": 7, "last_seq": 7, "num_subjects": 5}),
        );
    });
}

#[test]
fn obj_overwrite_delete_list() {
    run_js("obj_overwrite_delete_list", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({}));
        let (a1, seq) = put(&mut c, "b", "a", "NUIDA1000000000000000", CHUNK + 10, 1);
        let (_b1, seq) = put(&mut c, "b", "b", "NUIDB1000000000000000", 20, seq);
        assert_eq!(seq, 6);
        // Overwrite a: the old meta looked up, new chunks, the meta rolled
        // up, the old chunks purged.
        info_direct(&mut c, "b", "a", Some((&a1, 3)));
        let (a2, seq) = put(&mut c, "b", "a", "NUIDA2000000000000000", 30, seq);
        purge(&mut c, "b", &chunk_subject("b", "NUIDA1000000000000000"), 2);
        state_has(
            &mut c,
            "b",
            json!({"messages": 4, "first_seq": 4, "last_seq": 7, "num_subjects": 4}),
        );
        info_direct(&mut c, "b", "a", Some((&a2, 7)));
        // Delete b: its meta marked deleted, rolled up; its chunks purged.
        let gone = deleted(_b1.clone());
        put_meta(&mut c, "b", &gone, seq);
        purge(&mut c, "b", &chunk_subject("b", "NUIDB1000000000000000"), 1);
        info_direct(&mut c, "b", "b", Some((&gone, 8)));
        info_json(&mut c, "b", "b");
        state_has(
            &mut c,
            "b",
            json!({"messages": 3, "first_seq": 6, "last_seq": 8, "num_subjects": 3}),
        );
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        // Purging chunks of a nuid never used.
        purge(&mut c, "b", &chunk_subject("b", "NUIDNONE0000000000000"), 0);
        // List: the last of each meta subject, and everything (async-nats).
        let mut l = watcher(s, "l", "_INBOX.list");
        list(&mut c, &mut l, "b", "_INBOX.list", "last_per_subject", 2);
        let mut a = watcher(s, "a", "_INBOX.all");
        list(&mut c, &mut a, "b", "_INBOX.all", "all", 2);
        // A watch (deliver new) sees the next put's meta only.
        let mut n = watcher(s, "n", "_INBOX.new");
        let got = ordered(
            &mut c,
            "OBJ_b",
            "_INBOX.new",
            r#","description":"object store watcher","deliver_policy":"new","filter_subject":"$O.b.M.>""#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 0}));
        let (_, _) = put(&mut c, "b", "c", "NUIDC1000000000000000", 5, 9);
        deliveries(&mut n, 1);
        // The consumer on an empty bucket's metas: nothing pending.
        bucket(&mut c, "e", json!({}));
        let _e = watcher(s, "e", "_INBOX.empty");
        let got = ordered(
            &mut c,
            "OBJ_e",
            "_INBOX.empty",
            r#","description":"object store list","deliver_policy":"all","filter_subject":"$O.e.M.>""#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 0}));
    });
}

#[test]
fn obj_rename_link() {
    run_js("obj_rename_link", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({}));
        let (old, seq) = put(&mut c, "b", "old", "NUIDOLD00000000000000", 40, 1);
        // Rename (async-nats update_metadata): the new name not taken, the
        // old meta subject purged, the meta published under the new name.
        info_direct(&mut c, "b", "old", Some((&old, 2)));
        info_direct(&mut c, "b", "new.txt", None);
        purge(&mut c, "b", &meta_subject("b", "old"), 1);
        let mut renamed = old.clone();
        renamed["name"] = json!("new.txt");
        renamed["description"] = json!("renamed");
        put_meta(&mut c, "b", &renamed, seq);
        info_direct(&mut c, "b", "old", None);
        info_direct(&mut c, "b", "new.txt", Some((&renamed, 3)));
        // The notes' order: new meta first, then the old subject purged.
        let mut again = renamed.clone();
        again["name"] = json!("newer");
        put_meta(&mut c, "b", &again, 4);
        purge(&mut c, "b", &meta_subject("b", "new.txt"), 1);
        // A link to the object, and a link to a bucket.
        let link = json!({
            "name": "ln", "description": null, "metadata": {}, "headers": null,
            "options": {"link": {"name": "newer", "bucket": "b"}, "max_chunk_size": null},
            "bucket": "b", "nuid": "NUIDLINK0000000000000", "size": 0, "chunks": 0,
            "mtime": MTIME,
        });
        put_meta(&mut c, "b", &link, 5);
        let bucket_link = json!({
            "name": "bl", "description": null, "metadata": {}, "headers": null,
            "options": {"link": {"name": null, "bucket": "other"}, "max_chunk_size": null},
            "bucket": "b", "nuid": "NUIDBLINK000000000000", "size": 0, "chunks": 0,
            "mtime": MTIME,
        });
        put_meta(&mut c, "b", &bucket_link, 6);
        info_json(&mut c, "b", "ln");
        info_direct(&mut c, "b", "bl", Some((&bucket_link, 6)));
        state_has(
            &mut c,
            "b",
            json!({"messages": 4, "first_seq": 1, "last_seq": 6, "num_subjects": 4}),
        );
        let mut l = watcher(s, "l", "_INBOX.list");
        list(&mut c, &mut l, "b", "_INBOX.list", "last_per_subject", 3);
    });
}

#[test]
fn obj_seal() {
    run_js("obj_seal", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({"compression": "s2"}));
        let (info, seq) = put(&mut c, "b", "x", "NUIDX10000000000000000", 100, 1);
        // Seal: the config from STREAM.INFO sent back with sealed:true.
        let sealed = json!({
            "name": "OBJ_b", "max_bytes": -1, "max_msgs": -1, "max_msgs_per_subject": -1,
            "discard": "new", "subjects": ["$O.b.C.>", "$O.b.M.>"], "retention": "limits",
            "max_consumers": -1, "max_age": 0, "max_msg_size": -1, "storage": "file",
            "num_replicas": 1, "duplicate_window": 120_000_000_000u64, "sealed": true,
            "allow_rollup_hdrs": true, "allow_direct": true,
            "metadata": {"_nats.level": "1", "_nats.req.level": "0", "_nats.ver": "2.14.0"},
            "compression": "s2", "consumer_limits": null,
        });
        let got = api(&mut c, "$JS.API.STREAM.UPDATE.OBJ_b", &sealed.to_string());
        expect_has(
            &mut c,
            &got,
            json!({"type": api_type("stream_update"), "config": {"sealed": true}}),
        );
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        // Puts are refused: a chunk and a meta.
        let chunk = chunk_subject("b", "NUIDX20000000000000000");
        const SEALED: &str =
            r#"{"code":400,"err_code":10109,"description":"invalid operation on sealed stream"}"#;
        refused(&mut c, "b", &chunk, &[], b"more", SEALED);
        refused(
            &mut c,
            "b",
            &meta_subject("b", "x"),
            &[ROLLUP],
            b"{}",
            SEALED,
        );
        // Purges (delete's and overwrite's) are refused.
        api(
            &mut c,
            "$JS.API.STREAM.PURGE.OBJ_b",
            &json!({ "filter": chunk_subject("b", "NUIDX10000000000000000") }).to_string(),
        );
        // Reads still work.
        info_direct(&mut c, "b", "x", Some((&info, seq - 1)));
        let mut w = watcher(s, "w", "_INBOX.get");
        read_chunks(
            &mut c,
            &mut w,
            "b",
            "_INBOX.get",
            &chunk_subject("b", "NUIDX10000000000000000"),
            1,
        );
        // Unsealing is not allowed.
        let mut unsealed = sealed.clone();
        unsealed["sealed"] = json!(false);
        api(&mut c, "$JS.API.STREAM.UPDATE.OBJ_b", &unsealed.to_string());
        state_has(&mut c, "b", json!({"messages": 2, "last_seq": 2}));
    });
}

#[test]
fn obj_max_bytes() {
    run_js("obj_max_bytes", |s| {
        let mut c = js_client(s, "c");
        // Room for two whole chunks, not three.
        bucket(&mut c, "b", json!({"max_bytes": 300_000}));
        let nuid = "NUIDBIG00000000000000";
        let subject = chunk_subject("b", nuid);
        let parts = chunks(3 * CHUNK);
        stored(&mut c, "b", &subject, &[], &parts[0], 1);
        stored(&mut c, "b", &subject, &[], &parts[1], 2);
        // Discard new: the third chunk is refused.
        refused(
            &mut c,
            "b",
            &subject,
            &[],
            &parts[2],
            r#"{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}"#,
        );
        state_has(
            &mut c,
            "b",
            json!({"messages": 2, "first_seq": 1, "last_seq": 2}),
        );
        // The client gives up and purges what it stored; a smaller object
        // then fits.
        purge(&mut c, "b", &subject, 2);
        let (info, _) = put(&mut c, "b", "small", "NUIDSMALL000000000000", 1000, 3);
        info_direct(&mut c, "b", "small", Some((&info, 4)));
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        // A bucket whose single chunk is larger than max_bytes.
        bucket(&mut c, "t", json!({"max_bytes": 1000}));
        refused(
            &mut c,
            "t",
            &chunk_subject("t", nuid),
            &[],
            &parts[0],
            r#"{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}"#,
        );
    });
}

#[test]
fn obj_encoding() {
    // Checks the scenario's own encoder against Go's URLEncoding.
    assert_eq!(encode_name("report.pdf"), "cmVwb3J0LnBkZg==");
    assert_eq!(encode_name("ab"), "YWI=");
    assert_eq!(encode_name("abc"), "YWJj");
    assert_eq!(encode_name("a/b?c~d"), "YS9iP2N-ZA==");
}

#[test]
fn obj_large_get() {
    run_js("obj_large_get", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({}));
        const NUID: &str = "NUIDLARGE000000000000";
        let (_, _) = put(&mut c, "b", "big", NUID, 24 * CHUNK, 1);
        let mut w = watcher(s, "w", "_INBOX.get");
        let got = ordered(
            &mut c,
            "OBJ_b",
            "_INBOX.get",
            &format!(r#","deliver_policy":"all","filter_subject":"$O.b.C.{NUID}""#),
        );
        expect_has(&mut c, &got, json!({ "num_pending": 24 }));
        let mut data = flow_controlled(&mut w, 17, true);
        data += flow_controlled(&mut w, 9, true);
        c.check(data == 24, format!("{data} chunks delivered"));
    });
}

#[test]
fn obj_get_stalled() {
    run_js("obj_get_stalled", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({}));
        const NUID: &str = "NUIDSTALL000000000000";
        let (_, _) = put(&mut c, "b", "big", NUID, 20 * CHUNK, 1);
        let mut w = watcher(s, "w", "_INBOX.get");
        let got = ordered(
            &mut c,
            "OBJ_b",
            "_INBOX.get",
            &format!(r#","deliver_policy":"all","filter_subject":"$O.b.C.{NUID}""#),
        );
        expect_has(&mut c, &got, json!({ "num_pending": 20 }));
        // 2 MiB delivered, the flow-control request unanswered: the
        // consumer stalls, and its idle heartbeat says so.
        let mut data = flow_controlled(&mut w, 17, false);
        std::thread::sleep(std::time::Duration::from_millis(4500));
        // Answering the heartbeat's request lets the rest through.
        data += flow_controlled(&mut w, 1, true);
        data += flow_controlled(&mut w, 4, true);
        c.check(data == 20, format!("{data} chunks delivered"));
    });
}

#[test]
fn obj_ttl_forms() {
    run_js("obj_ttl_forms", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({"max_age": 1_000_000_000u64}));
        let (info, _) = put(&mut c, "b", "x", "NUIDTTL0000000000000000", CHUNK + 1, 1);
        // The other direct get form: the subject in the body.
        let got = direct(
            &mut c,
            "$JS.API.DIRECT.GET.OBJ_b",
            &json!({ "last_by_subj": meta_subject("b", "x") }).to_string(),
            1,
        );
        expect_lines(
            &mut c,
            &got,
            &[direct_msg(
                &["Nats-Rollup: sub"],
                "OBJ_b",
                &meta_subject("b", "x"),
                3,
                &escape(info.to_string().as_bytes()),
            )],
        );
        // A chunk by sequence, and the bucket's subjects.
        direct(&mut c, "$JS.API.DIRECT.GET.OBJ_b", r#"{"seq":2}"#, 1);
        api(
            &mut c,
            "$JS.API.STREAM.INFO.OBJ_b",
            r#"{"subjects_filter":"$O.b.>"}"#,
        );
        // nats.go's get: its ordered consumer spells out more.
        let mut w = watcher(s, "w", "_INBOX.go");
        let body = format!(
            r#"{{"stream_name":"OBJ_b","config":{{"deliver_subject":"_INBOX.go","deliver_policy":"all","ack_policy":"none","ack_wait":79200000000000,"max_deliver":1,"filter_subject":"{}","replay_policy":"instant","flow_control":true,"idle_heartbeat":5000000000,"inactive_threshold":300000000000,"num_replicas":1,"mem_storage":true}}}}"#,
            chunk_subject("b", "NUIDTTL0000000000000000")
        );
        ephemeral(&mut c, "OBJ_b", &body);
        chunk_deliveries(&mut w, 2);
        // After the bucket's TTL everything is gone.
        std::thread::sleep(std::time::Duration::from_millis(1500));
        info_direct(&mut c, "b", "x", None);
        info_json(&mut c, "b", "x");
        state_has(
            &mut c,
            "b",
            json!({"messages": 0, "first_seq": 4, "last_seq": 3}),
        );
        // A put after expiry continues the sequence.
        let (info, _) = put(&mut c, "b", "x", "NUIDTTL1000000000000000", 5, 4);
        info_direct(&mut c, "b", "x", Some((&info, 5)));
    });
}

#[test]
fn obj_interior_gaps() {
    run_js("obj_interior_gaps", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({}));
        let (_, seq) = put(&mut c, "b", "a", "NUIDGA000000000000000", 10, 1);
        let (_, seq) = put(&mut c, "b", "b", "NUIDGB000000000000000", CHUNK + 10, seq);
        let (_, seq) = put(&mut c, "b", "c", "NUIDGC000000000000000", 30, seq);
        assert_eq!(seq, 8);
        // A list watcher sees b's overwrite and delete as they happen.
        let mut n = watcher(s, "n", "_INBOX.watch");
        ordered(
            &mut c,
            "OBJ_b",
            "_INBOX.watch",
            r#","description":"object store watcher","deliver_policy":"last_per_subject","filter_subject":"$O.b.M.>""#,
        );
        deliveries(&mut n, 3);
        // Overwrite b in the middle: its chunks and old meta leave a gap.
        let (b2, seq) = put(&mut c, "b", "b", "NUIDGB200000000000000", 20, seq);
        deliveries(&mut n, 1);
        purge(&mut c, "b", &chunk_subject("b", "NUIDGB000000000000000"), 2);
        api(
            &mut c,
            "$JS.API.STREAM.INFO.OBJ_b",
            r#"{"deleted_details":true}"#,
        );
        // The gap read both ways.
        api(&mut c, "$JS.API.STREAM.MSG.GET.OBJ_b", r#"{"seq":4}"#);
        let got = direct(&mut c, "$JS.API.DIRECT.GET.OBJ_b", r#"{"seq":4}"#, 1);
        expect_lines(&mut c, &got, &[not_found()]);
        // The next message of b's new chunks from the gap.
        direct(
            &mut c,
            "$JS.API.DIRECT.GET.OBJ_b",
            &json!({"seq": 3, "next_by_subj": chunk_subject("b", "NUIDGB200000000000000")})
                .to_string(),
            1,
        );
        // Delete b: the watcher sees the deleted meta.
        put_meta(&mut c, "b", &deleted(b2), seq);
        deliveries(&mut n, 1);
        purge(&mut c, "b", &chunk_subject("b", "NUIDGB200000000000000"), 1);
        api(
            &mut c,
            "$JS.API.STREAM.INFO.OBJ_b",
            r#"{"deleted_details":true}"#,
        );
        // A get of c started while a put of d is under way: the chunk
        // consumer sees d's chunks as they are stored.
        let mut g = watcher(s, "g", "_INBOX.get");
        let got = ordered(
            &mut c,
            "OBJ_b",
            "_INBOX.get",
            r#","deliver_policy":"all","filter_subject":"$O.b.C.NUIDGD000000000000000""#,
        );
        expect_has(&mut c, &got, json!({ "num_pending": 0 }));
        for (i, part) in chunks(2 * CHUNK + 5).iter().enumerate() {
            stored(
                &mut c,
                "b",
                &chunk_subject("b", "NUIDGD000000000000000"),
                &[],
                part,
                seq + 1 + i as u64,
            );
            chunk_deliveries(&mut g, 1);
        }
        // Consumer info of the ordered consumer after its deliveries.
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
    });
}

#[test]
fn obj_update_bucket() {
    run_js("obj_update_bucket", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", json!({"compression": "s2"}));
        let (_, _) = put(&mut c, "b", "x", "NUIDUPD00000000000000", 2 * CHUNK, 1);
        // nats.go `UpdateObjectStore`: the same shape sent to STREAM.UPDATE.
        let update = |patch: Value| -> String {
            let mut config: Value = serde_json::from_str(&bucket_config("b", patch)).unwrap();
            config["compression"] = config.get("compression").cloned().unwrap_or(json!("s2"));
            config.to_string()
        };
        // Description, TTL and a size limit below what is stored.
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.OBJ_b",
            &update(json!({"description": "d", "max_age": 3_600_000_000_000u64,
                           "max_bytes": 1000})),
        );
        // Now full: a chunk is refused.
        refused(
            &mut c,
            "b",
            &chunk_subject("b", "NUIDUPD10000000000000"),
            &[],
            b"x",
            r#"{"code":503,"err_code":10077,"description":"maximum bytes exceeded"}"#,
        );
        // Compression off, storage changed, subjects changed.
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.OBJ_b",
            &update(json!({"compression": "none"})),
        );
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.OBJ_b",
            &update(json!({"storage": "memory"})),
        );
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.OBJ_b",
            &update(json!({"subjects": ["$O.b.C.>"]})),
        );
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.OBJ_b",
            &update(json!({"allow_rollup_hdrs": false})),
        );
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
        // A rollup refused once rollups are off.
        refused(
            &mut c,
            "b",
            &meta_subject("b", "y"),
            &[ROLLUP],
            b"{}",
            r#"{"code":500,"err_code":10111,"description":"rollup not permitted"}"#,
        );
        // Message delete and bucket delete.
        api(&mut c, "$JS.API.STREAM.MSG.DELETE.OBJ_b", r#"{"seq":1}"#);
        api(&mut c, "$JS.API.STREAM.DELETE.OBJ_b", "");
        api(&mut c, "$JS.API.STREAM.INFO.OBJ_b", "");
    });
}

/// Limits lowered by an update below what is stored: with discard new
/// (an object store's) nothing is removed and new messages are refused;
/// with discard old the oldest go at once. A lowered per-subject limit is
/// applied at the subject's next message only.
#[test]
fn obj_shrink_limits() {
    run_js("obj_shrink_limits", |s| {
        let mut c = js_client(s, "c");
        // (limit, lowered to, storage, messages kept with discard old)
        let limits = [
            ("max_bytes", 100, "memory", 1),
            ("max_msgs", 2, "file", 2),
            ("max_msgs_per_subject", 1, "file", 4),
            ("max_bytes", 100, "file", 1),
        ];
        for discard in ["new", "old"] {
            for (i, (limit, value, storage, kept_old)) in limits.iter().enumerate() {
                let name = format!("S{discard}{i}");
                let config = json!({"name": name, "subjects": [format!("{name}.>")],
                                    "discard": discard, "storage": storage});
                create(&mut c, &name, &config.to_string());
                for k in 0..4 {
                    let body = format!("payload-{k}-{}", "x".repeat(24));
                    publish(&mut c, &format!("{name}.a"), &[], body.as_bytes());
                }
                let mut lowered = config.clone();
                lowered[*limit] = json!(value);
                let got = api(
                    &mut c,
                    &format!("$JS.API.STREAM.UPDATE.{name}"),
                    &lowered.to_string(),
                );
                let kept = if discard == "new" { 4 } else { *kept_old };
                expect_has(&mut c, &got, json!({"state": {"messages": kept}}));
                publish(&mut c, &format!("{name}.a"), &[], b"after");
                publish(&mut c, &format!("{name}.b"), &[], b"after");
                api(&mut c, &format!("$JS.API.STREAM.INFO.{name}"), "");
            }
        }
    });
}
