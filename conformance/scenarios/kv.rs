//! Key-value buckets over raw TCP: what the KV clients (async-nats,
//! nats.go) put on the wire, and what they read back, against servers
//! started with `-js -sd <tempdir>`. There are no KV endpoints: a bucket is
//! a stream `KV_<b>` on `$KV.<b>.>`, entries are messages (the revision is
//! the stream sequence), deletes and purges are marker messages
//! (`KV-Operation`, `Nats-Rollup: sub`), gets are direct gets, and keys,
//! history and watches are ordered push consumers.
//!
//! Uses the request and masking helpers of `jetstream`. Consumers here are
//! ephemerals named by the server: their name is masked in replies and in
//! ack subjects (`$JS.ACK.<stream>.<name>.<dc>.<sseq>.<cseq>.<ts>.<pending>`),
//! whose timestamp token is masked too.

use serde_json::{json, Value};

use super::jetstream::{
    ack_frame, api_type, direct_msg, expect_frame, expect_has, expect_json, expect_lines, flatten,
    js_client, mask, parse_reply, publish_bytes, record_hmsg, record_json, run_js, status, Reply,
};
use crate::transcript::{escape, render_frame, split_frames};
use crate::wire::{Conn, Session};

// ---------------------------------------------------------------------------
// Requests that tolerate the reference's RTT PING
// ---------------------------------------------------------------------------
//
// nats-server PINGs every client about 2 s after it connects (to measure
// the round trip); tern does not. Scenarios here wait for TTLs, so their
// connections live longer than that: a PING received is left out of the
// transcript (the PONG is not needed within the scenario's time).

pub(super) fn is_ping(frame: &[u8]) -> bool {
    frame == b"PING\r\n"
}

/// `jetstream::send_and_read`, leaving out server PINGs.
pub(super) fn send_and_read(
    c: &mut Conn,
    subject: &str,
    headers: &[(&str, &str)],
    body: &[u8],
    count: usize,
) -> Vec<Reply> {
    c.send(&publish_bytes(subject, headers, body));
    let got = c.read_msgs_unrecorded(count);
    let mut replies = Vec::new();
    for frame in split_frames(&got).into_iter().filter(|f| !is_ping(f)) {
        match parse_reply(frame) {
            Some(r) => replies.push(r),
            None => c.record(render_frame(frame)),
        }
    }
    c.check(
        replies.len() == count,
        format!(
            "expected {count} reply message(s), received {}",
            replies.len()
        ),
    );
    replies
}

/// `jetstream::api`: a JSON reply recorded field by field, masked.
pub(super) fn api(c: &mut Conn, subject: &str, body: &str) -> Value {
    let Some(reply) = send_and_read(c, subject, &[], body.as_bytes(), 1).pop() else {
        return Value::Null;
    };
    record_json(c, &reply)
}

/// `jetstream::create`: a stream created, expecting success.
pub(super) fn create(c: &mut Conn, name: &str, body: &str) -> Value {
    let got = api(c, &format!("$JS.API.STREAM.CREATE.{name}"), body);
    expect_has(
        c,
        &got,
        json!({"type": api_type("stream_create"), "did_create": true}),
    );
    got
}

/// `jetstream::publish`: the reply to a publish, recorded and returned
/// as the bytes of its frame.
pub(super) fn publish(
    c: &mut Conn,
    subject: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let Some(reply) = send_and_read(c, subject, headers, body, 1).pop() else {
        return Vec::new();
    };
    c.record(render_frame(&reply.frame));
    reply.frame
}

/// `jetstream::direct`: direct get replies, `Nats-Time-Stamp` masked.
pub(super) fn direct(c: &mut Conn, subject: &str, body: &str, count: usize) -> Vec<Vec<String>> {
    let replies = send_and_read(c, subject, &[], body.as_bytes(), count);
    replies.iter().map(|r| record_hmsg(c, r)).collect()
}

/// Header lines to publish, as (name, value).
type Headers<'a> = &'a [(&'a str, &'a str)];

/// What a masked ephemeral name and ack timestamp read as.
pub(super) const EPHEMERAL: &str = "<ephemeral>";
pub(super) const ACK_TS: &str = "<ts>";

fn is_generated_name(name: &str) -> bool {
    name.len() == 8 && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// The stream config async-nats sends for bucket `b` (`kv_to_stream_config`
/// serialised): `extra` is merged in (it starts with a comma).
fn async_nats_bucket(b: &str, extra: &str) -> String {
    format!(
        r#"{{"name":"KV_{b}","max_bytes":-1,"max_msgs":-1,"max_msgs_per_subject":1,"discard":"new","subjects":["$KV.{b}.>"],"retention":"limits","max_consumers":-1,"max_age":0,"max_msg_size":-1,"storage":"file","num_replicas":1,"description":"","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"consumer_limits":null{extra}}}"#
    )
}

/// The stream config nats.go sends for bucket `b` with history `history`
/// and bucket TTL `ttl` ns (`CreateKeyValue`: the duplicate window is set
/// by the client, 2 m or the TTL when shorter).
fn nats_go_bucket(b: &str, history: u64, ttl: u64) -> String {
    let window = if ttl > 0 && ttl < 120_000_000_000 {
        ttl
    } else {
        120_000_000_000
    };
    format!(
        r#"{{"name":"KV_{b}","description":"","subjects":["$KV.{b}.>"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"discard":"new","max_age":{ttl},"max_msgs_per_subject":{history},"max_msg_size":-1,"storage":"file","num_replicas":1,"duplicate_window":{window},"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"allow_direct":true,"mirror_direct":false,"compression":"none"}}"#
    )
}

/// A bucket created the async-nats way, expecting success.
fn bucket(c: &mut Conn, b: &str, extra: &str) -> Value {
    create(c, &format!("KV_{b}"), &async_nats_bucket(b, extra))
}

/// A KV operation published with a reply: its PubAck (or error) as bytes.
fn op(c: &mut Conn, subject: &str, headers: &[(&str, &str)], body: &str) -> Vec<u8> {
    publish(c, subject, headers, body.as_bytes())
}

/// A KV operation expecting the PubAck `{"stream":stream,"seq":seq}`.
fn op_ok(c: &mut Conn, subject: &str, headers: &[(&str, &str)], body: &str, seq: u64) {
    let stream = stream_of(subject);
    let got = op(c, subject, headers, body);
    expect_frame(
        c,
        &got,
        &ack_frame(&format!(r#"{{"stream":"{stream}","seq":{seq}}}"#)),
    );
}

/// `KV_<b>` for a key subject `$KV.<b>.<key>`.
fn stream_of(subject: &str) -> String {
    format!("KV_{}", subject.split('.').nth(1).unwrap_or_default())
}

/// A KV operation expecting the error PubAck `{"error":{..},"stream":..,"seq":0}`.
fn op_err(c: &mut Conn, subject: &str, headers: &[(&str, &str)], body: &str, want: &str) {
    let stream = stream_of(subject);
    let got = op(c, subject, headers, body);
    expect_frame(
        c,
        &got,
        &ack_frame(&format!(
            r#"{{"error":{want},"stream":"{stream}","seq":0}}"#
        )),
    );
}

/// The KV get of `key` in bucket `b`: a direct get of the key subject.
fn get(c: &mut Conn, b: &str, key: &str, want: Vec<String>) {
    let got = direct(
        c,
        &format!("$JS.API.DIRECT.GET.KV_{b}.$KV.{b}.{key}"),
        "",
        1,
    );
    expect_lines(c, &got, &[want]);
}

pub(super) fn not_found() -> Vec<String> {
    status("NATS/1.0 404 Message Not Found")
}

/// An ordered push consumer as async-nats creates it (server-named
/// ephemeral): the reply recorded with the generated name masked.
pub(super) fn ordered(c: &mut Conn, stream: &str, deliver: &str, extra: &str) -> Value {
    let body = format!(
        r#"{{"stream_name":"{stream}","config":{{"deliver_subject":"{deliver}"{extra},"ack_policy":"none","max_deliver":1,"replay_policy":"instant","flow_control":true,"idle_heartbeat":5000000000,"inactive_threshold":30000000000,"num_replicas":1,"mem_storage":true}}}}"#
    );
    ephemeral(c, stream, &body)
}

/// A server-named consumer created with request `body`: the reply recorded
/// with the generated name masked.
pub(super) fn ephemeral(c: &mut Conn, stream: &str, body: &str) -> Value {
    let subject = format!("$JS.API.CONSUMER.CREATE.{stream}");
    let Some(reply) = send_and_read(c, &subject, &[], body.as_bytes(), 1).pop() else {
        return Value::Null;
    };
    let mut value: Value = match serde_json::from_slice(&reply.payload) {
        Ok(v) if reply.headers.is_none() => v,
        _ => {
            c.record(render_frame(&reply.frame));
            c.check(false, "expected a JSON reply".to_string());
            return Value::Null;
        }
    };
    let mut problems = Vec::new();
    mask(&mut value, &mut problems);
    for path in ["/name", "/config/name"] {
        let Some(slot) = value.pointer_mut(path) else {
            continue;
        };
        let ok = slot.as_str().is_some_and(is_generated_name);
        problems.extend((!ok).then(|| format!("{slot} is not a generated consumer name")));
        *slot = json!(EPHEMERAL);
    }
    for p in problems {
        c.check(false, p);
    }
    c.record(format!("{} <size> json:", reply.control));
    for line in flatten(&value) {
        c.record(format!("  {line}"));
    }
    expect_has(c, &value, json!({"type": api_type("consumer_create")}));
    c.check(
        value.get("error").is_none(),
        format!("expected a consumer to be created: {value}"),
    );
    value
}

/// The ack subject with the consumer name and timestamp masked.
pub(super) fn mask_ack_subject(subject: &str) -> String {
    let mut tokens: Vec<&str> = subject.split('.').collect();
    if tokens.len() == 9 && tokens[0] == "$JS" && tokens[1] == "ACK" {
        if is_generated_name(tokens[3]) {
            tokens[3] = EPHEMERAL;
        }
        tokens[7] = ACK_TS;
    }
    tokens.join(".")
}

/// One delivery as recorded: control line (ack subject masked) with
/// sizes, header lines, payload.
pub(super) fn render_delivery(reply: &Reply) -> Vec<String> {
    let control: Vec<String> = reply.control.split(' ').map(mask_ack_subject).collect();
    let mut lines = vec![format!("{} {}", control.join(" "), reply.sizes)];
    for h in reply.headers.iter().flatten() {
        lines.push(format!("  {h}"));
    }
    lines.push(format!("  payload: \"{}\"", escape(&reply.payload)));
    lines
}

/// Reads `count` deliveries and records them; returns them rendered.
pub(super) fn deliveries(c: &mut Conn, count: usize) -> Vec<Vec<String>> {
    let got = c.read_msgs_unrecorded(count);
    let mut out = Vec::new();
    for frame in split_frames(&got).into_iter().filter(|f| !is_ping(f)) {
        match parse_reply(frame) {
            Some(r) => {
                c.check(
                    r.headers_well_formed,
                    "header block must end with an empty line".to_string(),
                );
                let lines = render_delivery(&r);
                for l in &lines {
                    c.record(l);
                }
                out.push(lines);
            }
            None => c.record(render_frame(frame)),
        }
    }
    c.check(
        out.len() == count,
        format!("expected {count} message(s), received {}", out.len()),
    );
    out
}

/// A client subscribed to `deliver` as sid 2 (not to the inbox, where the
/// replies to the requests of other connections go).
pub(super) fn watcher(s: &Session, name: &str, deliver: &str) -> Conn {
    let mut c = s.client(name);
    c.exchange(format!("SUB {deliver} 2\r\n").as_bytes())
        .expect(b"PONG\r\n");
    c
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

#[test]
fn kv_bucket_create() {
    run_js("kv_bucket_create", |s| {
        let mut c = js_client(s, "c");
        // async-nats: defaults, then history, value size and compression.
        bucket(&mut c, "a", "");
        let got = bucket(
            &mut c,
            "h",
            r#","max_msgs_per_subject":5,"max_msg_size":1024,"compression":"s2","description":"hist""#,
        );
        expect_has(
            &mut c,
            &got,
            json!({"config": {"max_msgs_per_subject": 5, "compression": "s2", "discard": "new",
                   "allow_rollup_hdrs": true, "deny_delete": true, "allow_direct": true,
                   "duplicate_window": 120_000_000_000u64}}),
        );
        // A bucket TTL under 2 m shortens the duplicate window to it.
        let got = bucket(&mut c, "t", r#","max_age":1000000000"#);
        expect_has(
            &mut c,
            &got,
            json!({"config": {"max_age": 1_000_000_000u64, "duplicate_window": 1_000_000_000u64}}),
        );
        // Limit markers: per-message TTLs and the marker TTL.
        let got = bucket(
            &mut c,
            "m",
            r#","allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000"#,
        );
        expect_has(
            &mut c,
            &got,
            json!({"config": {"allow_msg_ttl": true, "subject_delete_marker_ttl": 1_000_000_000u64}}),
        );
        // nats.go: every field spelled out.
        create(&mut c, "KV_g", &nats_go_bucket("g", 10, 0));
        create(&mut c, "KV_gt", &nats_go_bucket("gt", 1, 30_000_000_000));
        // Placement and republish pass through.
        bucket(
            &mut c,
            "p",
            r#","placement":{"tags":["x"]},"republish":{"src":"$KV.p.>","dest":"rp.p.>","headers_only":true}"#,
        );
        api(&mut c, "$JS.API.STREAM.INFO.KV_h", "");
        api(&mut c, "$JS.API.STREAM.INFO.KV_m", "");
        // Binding: the info of a missing bucket.
        api(&mut c, "$JS.API.STREAM.INFO.KV_nope", "");
        // Bad marker TTLs, and markers without per-message TTLs.
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.KV_x",
            &async_nats_bucket(
                "x",
                r#","allow_msg_ttl":true,"subject_delete_marker_ttl":500000000"#,
            ),
        );
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.KV_x",
            &async_nats_bucket("x", r#","subject_delete_marker_ttl":1000000000"#),
        );
        // Per-message TTLs can not be switched off again.
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.KV_m",
            &async_nats_bucket("m", ""),
        );
        // History above the server's per-subject maximum is fine for the
        // server (clients cap it at 64).
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.KV_big",
            &async_nats_bucket("big", r#","max_msgs_per_subject":100"#),
        );
        // Placement in a cluster that does not exist.
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.KV_pc",
            &async_nats_bucket("pc", r#","placement":{"cluster":"elsewhere"}"#),
        );
        api(&mut c, "$JS.API.STREAM.NAMES", "");
    });
}

#[test]
fn kv_bucket_mirror() {
    run_js("kv_bucket_mirror", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "src", "");
        op_ok(&mut c, "$KV.src.k", &[], "v1", 1);
        // A mirror bucket: no subjects, mirror_direct, the mirror's name
        // prefixed by the client.
        let body = r#"{"name":"KV_mir","max_bytes":-1,"max_msgs":-1,"max_msgs_per_subject":1,"discard":"new","retention":"limits","max_consumers":-1,"max_age":0,"max_msg_size":-1,"storage":"file","num_replicas":1,"description":"","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"mirror_direct":true,"mirror":{"name":"KV_src"},"consumer_limits":null}"#;
        let got = api(&mut c, "$JS.API.STREAM.CREATE.KV_mir", body);
        expect_has(&mut c, &got, json!({"did_create": true}));
        // A mirror with subjects is refused.
        let body = r#"{"name":"KV_mir2","subjects":["$KV.mir2.>"],"max_msgs_per_subject":1,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"mirror_direct":true,"mirror":{"name":"KV_src"}}"#;
        api(&mut c, "$JS.API.STREAM.CREATE.KV_mir2", body);
        // Markers on a mirror are refused.
        let body = r#"{"name":"KV_mir3","max_msgs_per_subject":1,"discard":"new","allow_rollup_hdrs":true,"deny_delete":true,"allow_direct":true,"mirror_direct":true,"mirror":{"name":"KV_src"},"allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000}"#;
        api(&mut c, "$JS.API.STREAM.CREATE.KV_mir3", body);
    });
}

#[test]
fn kv_put_create_update() {
    run_js("kv_put_create_update", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", r#","max_msgs_per_subject":3"#);
        const EXPECT: &str = "Nats-Expected-Last-Subject-Sequence";
        // put
        op_ok(&mut c, "$KV.b.k", &[], "v1", 1);
        op_ok(&mut c, "$KV.b.k", &[], "v2", 2);
        // create of an existing key: 10071 with the key's revision.
        op_err(
            &mut c,
            "$KV.b.k",
            &[(EXPECT, "0")],
            "v3",
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 2"}"#,
        );
        // create of a new key
        op_ok(&mut c, "$KV.b.n", &[(EXPECT, "0")], "n1", 3);
        // update: the right revision, then a stale one
        op_ok(&mut c, "$KV.b.k", &[(EXPECT, "2")], "v3", 4);
        op_err(
            &mut c,
            "$KV.b.k",
            &[(EXPECT, "2")],
            "v4",
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 4"}"#,
        );
        // Keys with dots, dashes, slashes and equals signs.
        op_ok(&mut c, "$KV.b.a.b-c/d=e_f", &[], "deep", 5);
        // History 3: the oldest revision of k is evicted.
        op_ok(&mut c, "$KV.b.k", &[], "v5", 6);
        let got = api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 5, "first_seq": 2, "last_seq": 6, "num_subjects": 3}}),
        );
        // Value size limit
        bucket(&mut c, "z", r#","max_msg_size":4"#);
        op_ok(&mut c, "$KV.z.k", &[], "1234", 1);
        op_err(
            &mut c,
            "$KV.z.k",
            &[],
            "12345",
            r#"{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"}"#,
        );
        // A per-key TTL on a bucket without per-message TTLs.
        op_err(
            &mut c,
            "$KV.b.t",
            &[(EXPECT, "0"), ("Nats-TTL", "5")],
            "x",
            r#"{"code":400,"err_code":10166,"description":"per-message TTL is disabled"}"#,
        );
        // deny_delete: message deletes are refused.
        let got = api(&mut c, "$JS.API.STREAM.MSG.DELETE.KV_b", r#"{"seq":2}"#);
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_msg_delete"),
                   "error": {"code": 500, "err_code": 10057, "description": "message delete not permitted"}}),
        );
    });
}

#[test]
fn kv_delete_purge_get() {
    run_js("kv_delete_purge_get", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", r#","max_msgs_per_subject":5"#);
        op_ok(&mut c, "$KV.b.k", &[], "v1", 1);
        op_ok(&mut c, "$KV.b.k", &[], "v2", 2);
        op_ok(&mut c, "$KV.b.j", &[], "j1", 3);
        op_ok(&mut c, "$KV.b.x", &[], "x1", 4);
        get(
            &mut c,
            "b",
            "k",
            direct_msg(&[], "KV_b", "$KV.b.k", 2, "v2"),
        );
        // get by revision, and a revision of another key
        let got = direct(&mut c, "$JS.API.DIRECT.GET.KV_b", r#"{"seq":1}"#, 1);
        expect_lines(&mut c, &got, &[direct_msg(&[], "KV_b", "$KV.b.k", 1, "v1")]);
        direct(&mut c, "$JS.API.DIRECT.GET.KV_b", r#"{"seq":3}"#, 1);
        // a key never set
        get(&mut c, "b", "never", not_found());
        // delete: a marker, history kept
        op_ok(&mut c, "$KV.b.k", &[("KV-Operation", "DEL")], "", 5);
        get(
            &mut c,
            "b",
            "k",
            direct_msg(&["KV-Operation: DEL"], "KV_b", "$KV.b.k", 5, ""),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 5, "first_seq": 1, "last_seq": 5, "num_subjects": 3}}),
        );
        // create over a deleted key fails with the marker's revision; the
        // client then updates at that revision.
        op_err(
            &mut c,
            "$KV.b.k",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "v3",
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 5"}"#,
        );
        op_ok(
            &mut c,
            "$KV.b.k",
            &[("Nats-Expected-Last-Subject-Sequence", "5")],
            "v3",
            6,
        );
        // purge: a rollup of the subject, only the marker remains
        op_ok(
            &mut c,
            "$KV.b.k",
            &[("KV-Operation", "PURGE"), ("Nats-Rollup", "sub")],
            "",
            7,
        );
        get(
            &mut c,
            "b",
            "k",
            direct_msg(
                &["KV-Operation: PURGE", "Nats-Rollup: sub"],
                "KV_b",
                "$KV.b.k",
                7,
                "",
            ),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 3, "first_seq": 3, "last_seq": 7, "num_subjects": 3, "num_deleted": 2}}),
        );
        // The purged revisions are gone.
        let got = direct(&mut c, "$JS.API.DIRECT.GET.KV_b", r#"{"seq":1}"#, 1);
        expect_lines(&mut c, &got, &[not_found()]);
        // A purge of a key never set: just a marker.
        op_ok(
            &mut c,
            "$KV.b.p",
            &[("KV-Operation", "PURGE"), ("Nats-Rollup", "sub")],
            "",
            8,
        );
        // Deleting with an expected revision (nats.go `Delete` with
        // `LastRevision`).
        op_err(
            &mut c,
            "$KV.b.j",
            &[
                ("KV-Operation", "DEL"),
                ("Nats-Expected-Last-Subject-Sequence", "1"),
            ],
            "",
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}"#,
        );
        // Legacy get (allow_direct false): JSON, 10037 on a miss.
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.KV_b",
            r#"{"last_by_subj":"$KV.b.k"}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.KV_b",
            r#"{"last_by_subj":"$KV.b.j"}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.KV_b",
            r#"{"last_by_subj":"$KV.b.never"}"#,
        );
        // Bucket status
        api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
    });
}

#[test]
fn kv_keys_and_history() {
    run_js("kv_keys_and_history", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", r#","max_msgs_per_subject":5"#);
        op_ok(&mut c, "$KV.b.k", &[], "v1", 1);
        op_ok(&mut c, "$KV.b.j", &[("Foo", "bar")], "j1", 2);
        op_ok(&mut c, "$KV.b.k", &[], "v22", 3);
        op_ok(&mut c, "$KV.b.d", &[], "gone", 4);
        op_ok(&mut c, "$KV.b.d", &[("KV-Operation", "DEL")], "", 5);
        op_ok(&mut c, "$KV.b.a.b", &[], "deep", 6);
        // keys: headers only, the last of each subject, in stream order.
        let mut w = watcher(s, "w", "_INBOX.keys");
        let got = ordered(
            &mut c,
            "KV_b",
            "_INBOX.keys",
            r#","description":"kv history consumer","deliver_policy":"last_per_subject","filter_subject":"$KV.b.>","headers_only":true"#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 4}));
        let got = deliveries(&mut w, 4);
        c.check(
            got.first().is_some_and(|m| {
                m[0] == format!("HMSG $KV.b.j 2 $JS.ACK.KV_b.{EPHEMERAL}.1.2.1.{ACK_TS}.3 40 40")
            }),
            format!("first key: {got:?}"),
        );
        // history of one key: deliver all, filtered.
        let mut h = watcher(s, "h", "_INBOX.hist");
        let got = ordered(
            &mut c,
            "KV_b",
            "_INBOX.hist",
            r#","description":"kv history consumer","deliver_policy":"all","filter_subject":"$KV.b.k""#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 2}));
        deliveries(&mut h, 2);
        // watch_all with history: the last of each subject, with bodies.
        let mut a = watcher(s, "a", "_INBOX.all");
        ordered(
            &mut c,
            "KV_b",
            "_INBOX.all",
            r#","deliver_policy":"last_per_subject","filter_subject":"$KV.b.>""#,
        );
        deliveries(&mut a, 4);
        // A watch (deliver new) sees the next put, delete and purge.
        let mut n = watcher(s, "n", "_INBOX.new");
        let got = ordered(
            &mut c,
            "KV_b",
            "_INBOX.new",
            r#","deliver_policy":"new","filter_subject":"$KV.b.>""#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 0}));
        // Each is read by both watchers before the next is stored: the
        // pending count in the ack subject depends on when a delivery goes
        // out (the reference's consumers deliver asynchronously).
        let purge: &[(&str, &str)] = &[("KV-Operation", "PURGE"), ("Nats-Rollup", "sub")];
        let ops: &[(&str, Headers, &str)] = &[
            ("$KV.b.k", &[], "v3"),
            ("$KV.b.j", &[("KV-Operation", "DEL")], ""),
            ("$KV.b.k", purge, ""),
        ];
        for (i, (subject, headers, body)) in ops.iter().enumerate() {
            op_ok(&mut c, subject, headers, body, 7 + i as u64);
            deliveries(&mut n, 1);
            deliveries(&mut a, 1);
        }
        // A watch of one key from a revision.
        let mut r = watcher(s, "r", "_INBOX.rev");
        ordered(
            &mut c,
            "KV_b",
            "_INBOX.rev",
            r#","deliver_policy":"by_start_sequence","opt_start_seq":4,"filter_subject":"$KV.b.d""#,
        );
        deliveries(&mut r, 2);
        // keys again: k is purged (its marker remains), j deleted.
        let mut k = watcher(s, "k", "_INBOX.keys2");
        ordered(
            &mut c,
            "KV_b",
            "_INBOX.keys2",
            r#","description":"kv history consumer","deliver_policy":"last_per_subject","filter_subject":"$KV.b.>","headers_only":true"#,
        );
        deliveries(&mut k, 4);
        // keys of an empty bucket: nothing pending, nothing delivered.
        bucket(&mut c, "e", "");
        let _e = watcher(s, "e", "_INBOX.empty");
        let got = ordered(
            &mut c,
            "KV_e",
            "_INBOX.empty",
            r#","description":"kv history consumer","deliver_policy":"last_per_subject","filter_subject":"$KV.e.>","headers_only":true"#,
        );
        expect_has(&mut c, &got, json!({"num_pending": 0}));
    });
}

#[test]
fn kv_ttl_markers() {
    run_js("kv_ttl_markers", |s| {
        let mut c = js_client(s, "c");
        bucket(
            &mut c,
            "m",
            r#","allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000"#,
        );
        let mut w = watcher(s, "w", "_INBOX.watch");
        ordered(
            &mut c,
            "KV_m",
            "_INBOX.watch",
            r#","deliver_policy":"new","filter_subject":"$KV.m.>""#,
        );
        // create with a TTL in bare seconds
        op_ok(
            &mut c,
            "$KV.m.k",
            &[
                ("Nats-Expected-Last-Subject-Sequence", "0"),
                ("Nats-TTL", "1"),
            ],
            "v1",
            1,
        );
        // Each delivery is read before the next put (the pending count in
        // its ack subject depends on when it goes out).
        deliveries(&mut w, 1);
        op_ok(&mut c, "$KV.m.keep", &[], "stays", 2);
        deliveries(&mut w, 1);
        // Bad TTLs
        for ttl in ["0", "junk", "-1"] {
            op(
                &mut c,
                "$KV.m.x",
                &[
                    ("Nats-Expected-Last-Subject-Sequence", "0"),
                    ("Nats-TTL", ttl),
                ],
                "x",
            );
        }
        // Within its TTL the entry is there; then the watcher sees the
        // expiry's marker.
        get(
            &mut c,
            "m",
            "k",
            direct_msg(
                &["Nats-Expected-Last-Subject-Sequence: 0", "Nats-TTL: 1"],
                "KV_m",
                "$KV.m.k",
                1,
                "v1",
            ),
        );
        deliveries(&mut w, 1);
        // The marker: an empty message on the key's subject.
        get(
            &mut c,
            "m",
            "k",
            direct_msg(
                &[
                    "Nats-Marker-Reason: MaxAge",
                    "Nats-TTL: 1s",
                    "Nats-Rollup: sub",
                ],
                "KV_m",
                "$KV.m.k",
                3,
                "",
            ),
        );
        // create over the marker: 10071 with its revision.
        op_err(
            &mut c,
            "$KV.m.k",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "v2",
            r#"{"code":400,"err_code":10071,"description":"wrong last sequence: 3"}"#,
        );
        // The marker expires in turn (no new marker for a marker).
        std::thread::sleep(std::time::Duration::from_millis(1800));
        get(&mut c, "m", "k", not_found());
        let got = api(&mut c, "$JS.API.STREAM.INFO.KV_m", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 1, "num_subjects": 1, "last_seq": 3}}),
        );
        // Purge with a TTL: the purge marker expires.
        op_ok(
            &mut c,
            "$KV.m.keep",
            &[
                ("KV-Operation", "PURGE"),
                ("Nats-Rollup", "sub"),
                ("Nats-TTL", "1"),
            ],
            "",
            4,
        );
        deliveries(&mut w, 1);
    });
}

#[test]
fn kv_purge_deletes() {
    run_js("kv_purge_deletes", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", r#","max_msgs_per_subject":5"#);
        op_ok(&mut c, "$KV.b.a", &[], "a1", 1);
        op_ok(&mut c, "$KV.b.a", &[], "a2", 2);
        op_ok(&mut c, "$KV.b.a", &[("KV-Operation", "DEL")], "", 3);
        op_ok(&mut c, "$KV.b.b", &[], "b1", 4);
        op_ok(
            &mut c,
            "$KV.b.b",
            &[("KV-Operation", "PURGE"), ("Nats-Rollup", "sub")],
            "",
            5,
        );
        op_ok(&mut c, "$KV.b.c", &[], "c1", 6);
        // keep 1: the marker stays; keep 0: everything goes.
        api(
            &mut c,
            "$JS.API.STREAM.PURGE.KV_b",
            r#"{"filter":"$KV.b.a","keep":1}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.PURGE.KV_b",
            r#"{"filter":"$KV.b.b","keep":0}"#,
        );
        // Purging a key with nothing stored.
        api(
            &mut c,
            "$JS.API.STREAM.PURGE.KV_b",
            r#"{"filter":"$KV.b.none","keep":1}"#,
        );
        api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
        get(
            &mut c,
            "b",
            "a",
            direct_msg(&["KV-Operation: DEL"], "KV_b", "$KV.b.a", 3, ""),
        );
        get(&mut c, "b", "b", not_found());
        get(
            &mut c,
            "b",
            "c",
            direct_msg(&[], "KV_b", "$KV.b.c", 6, "c1"),
        );
        // Delete the bucket.
        api(&mut c, "$JS.API.STREAM.DELETE.KV_b", "");
        api(&mut c, "$JS.API.STREAM.INFO.KV_b", "");
    });
}

#[test]
fn kv_stream_info_subjects() {
    run_js("kv_stream_info_subjects", |s| {
        let mut c = js_client(s, "c");
        bucket(&mut c, "b", "");
        op_ok(&mut c, "$KV.b.x", &[], "1", 1);
        op_ok(&mut c, "$KV.b.y", &[], "2", 2);
        api(
            &mut c,
            "$JS.API.STREAM.INFO.KV_b",
            r#"{"subjects_filter":"$KV.b.>"}"#,
        );
    });
}
