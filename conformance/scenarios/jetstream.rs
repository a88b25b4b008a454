//! JetStream streams over raw TCP: `$JS.API` requests, publishes into
//! streams with a reply (PubAcks) and direct gets, against servers started
//! with `-js -sd <tempdir>`.
//!
//! Each request goes out with the reply subject `_INBOX.js` (subscribed as
//! sid 1) and its reply is read whole. JSON replies are parsed, masked and
//! recorded one field per line (`path = value`, keys sorted), so the two
//! servers are compared field by field on parsed values, not on key order
//! or Go's escaping. Masked: the times `created`, `ts`, `first_ts`,
//! `last_ts` and `time` (unless Go's zero time; each must look like an
//! RFC 3339 UTC time), `cluster.leader` (the server's name) and the
//! metadata key `_nats.ver`. PubAcks are compared byte for byte; raw
//! HMSG replies by status line, headers (`Nats-Time-Stamp` masked, and then
//! the sizes too) and payload.

use serde_json::{json, Value};

use crate::harness::ServerSpec;
use crate::runner::{run_with, Scenario};
use crate::transcript::{escape, render_frame, split_frames};
use crate::wire::{Conn, Session};

pub(super) const JS: ServerSpec = ServerSpec {
    conf: None,
    jetstream: true,
    monitor: false,
};

pub(super) const INBOX: &str = "_INBOX.js";
pub(super) const ZERO_TIME: &str = "0001-01-01T00:00:00Z";
/// What a masked time, server name and server version read as.
pub(super) const TIME: &str = "<time>";
const SERVER: &str = "<server>";
pub(super) const VERSION: &str = "<version>";
/// Keys holding times, wherever they appear.
const TIME_KEYS: &[&str] = &[
    "created",
    "ts",
    "first_ts",
    "last_ts",
    "time",
    "last_active",
];

pub(super) fn run_js(name: &str, scenario: Scenario) {
    run_with(name, JS, scenario);
}

/// A client subscribed to the reply inbox as sid 1.
pub(super) fn js_client(s: &Session, name: &str) -> Conn {
    let mut c = s.client(name);
    c.exchange(b"SUB _INBOX.js 1\r\n").expect(b"PONG\r\n");
    c
}

// ---------------------------------------------------------------------------
// Requests and their replies
// ---------------------------------------------------------------------------

/// One message received on the inbox.
pub(super) struct Reply {
    /// The whole frame as received.
    pub(super) frame: Vec<u8>,
    /// `MSG _INBOX.js 1` / `HMSG _INBOX.js 1`: the control line without the
    /// sizes.
    pub(super) control: String,
    pub(super) sizes: String,
    /// The header block's lines (status line first), for HMSG.
    pub(super) headers: Option<Vec<String>>,
    /// Whether the header block ends in an empty line, as it must.
    pub(super) headers_well_formed: bool,
    pub(super) payload: Vec<u8>,
}

pub(super) fn parse_reply(frame: &[u8]) -> Option<Reply> {
    let line_end = frame.windows(2).position(|w| w == b"\r\n")?;
    let line = std::str::from_utf8(&frame[..line_end]).ok()?;
    let tokens: Vec<&str> = line.split(' ').collect();
    let body = &frame[line_end + 2..];
    let body = body.strip_suffix(b"\r\n")?;
    let (control_tokens, size_tokens, hdr_len) = match tokens.first() {
        Some(&"MSG") if tokens.len() >= 4 => {
            let n = tokens.len() - 1;
            (&tokens[..n], &tokens[n..], 0)
        }
        Some(&"HMSG") if tokens.len() >= 5 => {
            let n = tokens.len() - 2;
            (&tokens[..n], &tokens[n..], tokens[n].parse().ok()?)
        }
        _ => return None,
    };
    let block = body.get(..hdr_len)?;
    let headers = (tokens[0] == "HMSG").then(|| {
        String::from_utf8_lossy(block)
            .split("\r\n")
            .filter(|l| !l.is_empty())
            .map(str::to_string)
            .collect()
    });
    Some(Reply {
        frame: frame.to_vec(),
        control: control_tokens.join(" "),
        sizes: size_tokens.join(" "),
        headers,
        headers_well_formed: tokens[0] != "HMSG" || block.ends_with(b"\r\n\r\n"),
        payload: body[hdr_len..].to_vec(),
    })
}

/// The bytes of a publish to `subject` with reply `_INBOX.js`: PUB, or
/// HPUB when there are headers.
pub(super) fn publish_bytes(subject: &str, headers: &[(&str, &str)], body: &[u8]) -> Vec<u8> {
    publish_frame(subject, INBOX, headers, body)
}

/// The bytes of a publish to `subject` with reply `reply`: PUB, or HPUB
/// when there are headers.
pub(crate) fn publish_frame(
    subject: &str,
    reply: &str,
    headers: &[(&str, &str)],
    body: &[u8],
) -> Vec<u8> {
    let mut out = Vec::new();
    if headers.is_empty() {
        out.extend_from_slice(format!("PUB {subject} {reply} {}\r\n", body.len()).as_bytes());
    } else {
        let mut block = String::from("NATS/1.0\r\n");
        for (k, v) in headers {
            block.push_str(&format!("{k}: {v}\r\n"));
        }
        block.push_str("\r\n");
        let total = block.len() + body.len();
        out.extend_from_slice(
            format!("HPUB {subject} {reply} {} {total}\r\n{block}", block.len()).as_bytes(),
        );
    }
    out.extend_from_slice(body);
    out.extend_from_slice(b"\r\n");
    out
}

/// Sends the publish and reads `count` replies, unrecorded. Anything
/// received that is not a message is recorded as it is.
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
    for frame in split_frames(&got) {
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

/// A JS API request: one JSON reply, recorded field by field after
/// masking, and returned masked (`Null` when none came or it was not JSON).
pub(crate) fn api(c: &mut Conn, subject: &str, body: &str) -> Value {
    let Some(reply) = send_and_read(c, subject, &[], body.as_bytes(), 1).pop() else {
        return Value::Null;
    };
    record_json(c, &reply)
}

pub(super) fn record_json(c: &mut Conn, reply: &Reply) -> Value {
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
    for p in problems {
        c.check(false, p);
    }
    c.record(format!("{} <size> json:", reply.control));
    for line in flatten(&value) {
        c.record(format!("  {line}"));
    }
    value
}

/// A publish into a stream with a reply: the reply (PubAck or a status)
/// recorded and returned as the exact bytes of its frame.
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

/// The PubAck frame a publish gets, `MSG _INBOX.js 1 <n>` with `json`.
pub(super) fn ack_frame(json: &str) -> Vec<u8> {
    format!("MSG {INBOX} 1 {}\r\n{json}\r\n", json.len()).into_bytes()
}

/// The core no-responders status for a request to `subject`.
fn no_responders_frame(subject: &str) -> Vec<u8> {
    let block = format!("NATS/1.0 503\r\nNats-Subject: {subject}\r\n\r\n");
    format!("HMSG {INBOX} 1 {n} {n}\r\n{block}\r\n", n = block.len()).into_bytes()
}

pub(super) fn expect_frame(c: &mut Conn, got: &[u8], want: &[u8]) {
    c.check(
        got == want,
        format!(
            "expected \"{}\", received \"{}\"",
            escape(want),
            escape(got)
        ),
    );
}

/// A direct get: `count` raw replies, recorded with `Nats-Time-Stamp`
/// masked. Returns each as its masked lines: status line, headers, then
/// `payload: ...`.
pub(super) fn direct(c: &mut Conn, subject: &str, body: &str, count: usize) -> Vec<Vec<String>> {
    let replies = send_and_read(c, subject, &[], body.as_bytes(), count);
    replies.iter().map(|r| record_hmsg(c, r)).collect()
}

pub(super) fn record_hmsg(c: &mut Conn, reply: &Reply) -> Vec<String> {
    let Some(headers) = &reply.headers else {
        c.record(render_frame(&reply.frame));
        c.check(false, "expected an HMSG".to_string());
        return Vec::new();
    };
    c.check(
        reply.headers_well_formed,
        "header block must end with an empty line".to_string(),
    );
    let mut lines = Vec::new();
    let mut masked = false;
    for h in headers {
        match h.strip_prefix("Nats-Time-Stamp: ") {
            Some(t) => {
                c.check(
                    looks_like_time(t),
                    format!("Nats-Time-Stamp {t:?} is not an RFC 3339 UTC time"),
                );
                masked = true;
                lines.push(format!("Nats-Time-Stamp: {TIME}"));
            }
            None => lines.push(h.clone()),
        }
    }
    lines.push(format!("payload: \"{}\"", escape(&reply.payload)));
    let sizes = if masked { "<sizes>" } else { &reply.sizes };
    c.record(format!("{} {sizes}", reply.control));
    for l in &lines {
        c.record(format!("  {l}"));
    }
    lines
}

/// A direct get answered by a status only.
pub(super) fn status(line: &str) -> Vec<String> {
    vec![line.to_string(), "payload: \"\"".to_string()]
}

/// A direct get's message: the stored headers, then the stream's.
pub(super) fn direct_msg(
    stored: &[&str],
    stream: &str,
    subject: &str,
    seq: u64,
    payload: &str,
) -> Vec<String> {
    let mut lines = vec!["NATS/1.0".to_string()];
    lines.extend(stored.iter().map(|h| h.to_string()));
    lines.push(format!("Nats-Stream: {stream}"));
    lines.push(format!("Nats-Subject: {subject}"));
    lines.push(format!("Nats-Sequence: {seq}"));
    lines.push(format!("Nats-Time-Stamp: {TIME}"));
    lines.push(format!("payload: \"{payload}\""));
    lines
}

/// A batched direct get's message: `direct_msg` plus the pending count and
/// the previous sequence.
fn batch_msg(
    stored: &[&str],
    (stream, subject, seq, payload): (&str, &str, u64, &str),
    pending: u64,
    last: u64,
) -> Vec<String> {
    let mut lines = direct_msg(stored, stream, subject, seq, payload);
    let payload_line = lines.pop().unwrap_or_default();
    lines.push(format!("Nats-Num-Pending: {pending}"));
    lines.push(format!("Nats-Last-Sequence: {last}"));
    lines.push(payload_line);
    lines
}

pub(super) fn expect_lines(c: &mut Conn, got: &[Vec<String>], want: &[Vec<String>]) {
    c.check(
        got == want,
        format!("expected replies {want:?}, received {got:?}"),
    );
}

/// Sends requests that must get no reply, then a PING: after the PONG,
/// nothing may arrive for a quiet period.
pub(super) fn no_reply(c: &mut Conn, requests: &[(&str, &str)]) {
    let mut bytes = Vec::new();
    for (subject, body) in requests {
        bytes.extend(publish_bytes(subject, &[], body.as_bytes()));
    }
    c.exchange(&bytes).expect(b"PONG\r\n");
    c.read_quiet().expect(b"");
}

// ---------------------------------------------------------------------------
// Masking, rendering, expectations
// ---------------------------------------------------------------------------

pub(crate) fn mask(value: &mut Value, problems: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if TIME_KEYS.contains(&key.as_str()) {
                    if let Value::String(t) = v {
                        if t != ZERO_TIME {
                            if !looks_like_time(t) {
                                problems.push(format!("{key}: {t:?} is not an RFC 3339 UTC time"));
                            }
                            *v = json!(TIME);
                        }
                        continue;
                    }
                }
                match (key.as_str(), &mut *v) {
                    ("cluster", Value::Object(cluster)) => {
                        if let Some(leader) = cluster.get_mut("leader") {
                            if leader.is_string() {
                                *leader = json!(SERVER);
                            }
                        }
                    }
                    ("metadata", Value::Object(meta)) => {
                        if let Some(ver) = meta.get_mut("_nats.ver") {
                            if ver.is_string() {
                                *ver = json!(VERSION);
                            }
                        }
                    }
                    _ => {}
                }
                mask(v, problems);
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| mask(v, problems)),
        _ => {}
    }
}

/// `2026-01-02T03:04:05[.fraction]Z`.
pub(super) fn looks_like_time(t: &str) -> bool {
    let b = t.as_bytes();
    let digits =
        |r: std::ops::Range<usize>| b.get(r).is_some_and(|s| s.iter().all(u8::is_ascii_digit));
    b.len() >= 20
        && digits(0..4)
        && b[4] == b'-'
        && digits(5..7)
        && b[7] == b'-'
        && digits(8..10)
        && b[10] == b'T'
        && digits(11..13)
        && b[13] == b':'
        && digits(14..16)
        && b[16] == b':'
        && digits(17..19)
        && t.ends_with('Z')
}

/// One line per leaf, `path = value`, keys sorted; empty objects and
/// arrays are leaves.
pub(crate) fn flatten(value: &Value) -> Vec<String> {
    fn walk(v: &Value, path: &str, out: &mut Vec<String>) {
        match v {
            Value::Object(map) if !map.is_empty() => {
                let mut keys: Vec<&String> = map.keys().collect();
                keys.sort();
                for k in keys {
                    let step = if k.chars().all(|c| c.is_ascii_alphanumeric() || c == '_') {
                        format!(".{k}")
                    } else {
                        format!("[{}]", Value::from(k.as_str()))
                    };
                    walk(&map[k], &format!("{path}{step}"), out);
                }
            }
            Value::Array(items) if !items.is_empty() => {
                for (i, item) in items.iter().enumerate() {
                    walk(item, &format!("{path}[{i}]"), out);
                }
            }
            _ => out.push(format!(
                "{} = {v}",
                if path.is_empty() { "." } else { path }
            )),
        }
    }
    let mut out = Vec::new();
    walk(value, "", &mut out);
    out
}

/// The (masked) reply is exactly `want`.
pub(super) fn expect_json(c: &mut Conn, got: &Value, want: Value) {
    if *got != want {
        let (g, w) = (flatten(got), flatten(&want));
        let missing: Vec<&String> = w.iter().filter(|l| !g.contains(l)).collect();
        let extra: Vec<&String> = g.iter().filter(|l| !w.contains(l)).collect();
        c.check(
            false,
            format!(
                "JSON reply: expected but missing {missing:?}; received, not expected {extra:?}"
            ),
        );
    }
}

/// Every leaf of `want` is in the (masked) reply.
pub(super) fn expect_has(c: &mut Conn, got: &Value, want: Value) {
    let g = flatten(got);
    let missing: Vec<String> = flatten(&want)
        .into_iter()
        .filter(|l| !g.contains(l))
        .collect();
    c.check(missing.is_empty(), format!("JSON reply lacks {missing:?}"));
}

/// `base` with the keys of `patch` set; a `null` in `patch` removes the
/// key (set a null value by indexing instead).
pub(super) fn with(mut base: Value, patch: Value) -> Value {
    if let (Value::Object(b), Value::Object(p)) = (&mut base, patch) {
        for (k, v) in p {
            if v.is_null() {
                b.remove(&k);
            } else {
                b.insert(k, v);
            }
        }
    }
    base
}

pub(super) fn api_type(kind: &str) -> String {
    format!("io.nats.jetstream.api.v1.{kind}_response")
}

/// An error reply with nothing else.
pub(super) fn api_error(kind: &str, code: u16, err_code: u16, description: &str) -> Value {
    json!({
        "type": api_type(kind),
        "error": {"code": code, "err_code": err_code, "description": description},
    })
}

/// A stream's config as echoed for `{"name":name,"subjects":subjects}`.
pub(super) fn config(name: &str, subjects: &[&str]) -> Value {
    json!({
        "name": name,
        "subjects": subjects,
        "retention": "limits",
        "max_consumers": -1,
        "max_msgs": -1,
        "max_bytes": -1,
        "max_age": 0,
        "max_msgs_per_subject": -1,
        "max_msg_size": -1,
        "discard": "old",
        "storage": "file",
        "num_replicas": 1,
        "duplicate_window": 120_000_000_000u64,
        "compression": "none",
        "allow_direct": false,
        "mirror_direct": false,
        "sealed": false,
        "deny_delete": false,
        "deny_purge": false,
        "allow_rollup_hdrs": false,
        "consumer_limits": {},
        "allow_msg_ttl": false,
        "metadata": {"_nats.level": "4", "_nats.req.level": "0", "_nats.ver": VERSION},
    })
}

/// A stream state: times are masked unless zero (no messages: no first
/// time; nothing ever stored: no last time).
pub(super) fn state(messages: u64, bytes: u64, first_seq: u64, last_seq: u64) -> Value {
    json!({
        "messages": messages,
        "bytes": bytes,
        "first_seq": first_seq,
        "first_ts": if messages > 0 { TIME } else { ZERO_TIME },
        "last_seq": last_seq,
        "last_ts": if last_seq > 0 { TIME } else { ZERO_TIME },
        "consumer_count": 0,
    })
}

fn empty_state() -> Value {
    state(0, 0, 0, 0)
}

/// The file store's size of a message without headers.
pub(super) fn file_size(subject: &str, payload: &str) -> u64 {
    (30 + subject.len() + payload.len()) as u64
}

fn create_reply(config: Value) -> Value {
    json!({
        "type": api_type("stream_create"),
        "config": config,
        "created": TIME,
        "state": empty_state(),
        "ts": TIME,
        "did_create": true,
    })
}

fn info_reply(config: Value, state: Value) -> Value {
    json!({
        "type": api_type("stream_info"),
        "total": 0,
        "offset": 0,
        "limit": 0,
        "config": config,
        "created": TIME,
        "state": state,
        "cluster": {"leader": SERVER},
        "ts": TIME,
    })
}

/// Creates a stream, expecting success.
pub(super) fn create(c: &mut Conn, name: &str, body: &str) -> Value {
    let got = api(c, &format!("$JS.API.STREAM.CREATE.{name}"), body);
    expect_has(
        c,
        &got,
        json!({"type": api_type("stream_create"), "did_create": true}),
    );
    got
}

/// Publishes `payload` to `subject` with a reply, expecting PubAck `seq`.
pub(super) fn store(c: &mut Conn, stream: &str, subject: &str, payload: &str, seq: u64) {
    let got = publish(c, subject, &[], payload.as_bytes());
    expect_frame(
        c,
        &got,
        &ack_frame(&format!("{{\"stream\":\"{stream}\",\"seq\":{seq}}}")),
    );
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

fn account_info(memory: u64, storage: u64, streams: u64, total: u64, errors: u64) -> Value {
    json!({
        "type": api_type("account_info"),
        "memory": memory,
        "storage": storage,
        "reserved_memory": 0,
        "reserved_storage": 0,
        "streams": streams,
        "consumers": 0,
        "limits": {
            "max_memory": -1,
            "max_storage": -1,
            "max_streams": -1,
            "max_consumers": -1,
            "max_ack_pending": -1,
            "memory_max_stream_bytes": -1,
            "storage_max_stream_bytes": -1,
            "max_bytes_required": false,
        },
        "api": {"level": 4, "total": total, "errors": errors},
    })
}

#[test]
fn js_account_info() {
    run_js("js_account_info", |s| {
        let mut c = js_client(s, "c");
        // A fresh server: nothing stored, no API use (INFO does not count
        // itself), the account unlimited.
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_json(&mut c, &got, account_info(0, 0, 0, 0, 0));
        // API use is counted per reply sent: errors also count as errors;
        // a successful STREAM.MSG.GET, a direct get, a PubAck and a request
        // to an unknown API subject do not count; a failed message delete
        // counts, but not as an error.
        create(
            &mut c,
            "S",
            r#"{"name":"S","subjects":["s.>"],"allow_direct":true}"#,
        );
        let got = api(&mut c, "$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#);
        expect_json(
            &mut c,
            &got,
            api_error(
                "stream_create",
                400,
                10058,
                "stream name already in use with a different configuration",
            ),
        );
        store(&mut c, "S", "s.a", "one", 1);
        store(&mut c, "S", "s.b", "two", 2);
        api(&mut c, "$JS.API.STREAM.INFO.S", "");
        api(&mut c, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":1}"#);
        let got = api(&mut c, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":5}"#);
        expect_json(
            &mut c,
            &got,
            api_error("stream_msg_get", 404, 10037, "no message found"),
        );
        let got = api(&mut c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":9}"#);
        expect_json(
            &mut c,
            &got,
            api_error("stream_msg_delete", 500, 10057, "stream store EOF"),
        );
        direct(&mut c, "$JS.API.DIRECT.GET.S", r#"{"seq":1}"#, 1);
        no_reply(&mut c, &[("$JS.API.BOGUS", "")]);
        let stored = file_size("s.a", "one") + file_size("s.b", "two");
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_json(&mut c, &got, account_info(0, stored, 1, 6, 2));
        let got = api(&mut c, "$JS.API.STREAM.PURGE.S", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_purge"), "success": true, "purged": 2}),
        );
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_json(&mut c, &got, account_info(0, 0, 1, 8, 2));
    });
}

#[test]
fn js_stream_create_defaults() {
    run_js("js_stream_create_defaults", |s| {
        let mut c = js_client(s, "c");
        // Subjects default to the name; every default is echoed.
        let got = api(&mut c, "$JS.API.STREAM.CREATE.S", r#"{"name":"S"}"#);
        expect_json(&mut c, &got, create_reply(config("S", &["S"])));
        let got = api(
            &mut c,
            "$JS.API.STREAM.CREATE.T",
            r#"{"name":"T","subjects":["t.>","u.*"]}"#,
        );
        expect_json(&mut c, &got, create_reply(config("T", &["t.>", "u.*"])));
        // A max_age under the 2 m default window shortens the window.
        let got = api(
            &mut c,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a"],"max_age":1000000000}"#,
        );
        let want = with(
            config("A", &["a"]),
            json!({"max_age": 1_000_000_000u64, "duplicate_window": 1_000_000_000u64}),
        );
        expect_json(&mut c, &got, create_reply(want));
        // Explicit nulls read as absent.
        let got = api(
            &mut c,
            "$JS.API.STREAM.CREATE.N",
            r#"{"name":"N","subjects":null,"max_msgs":null,"metadata":null}"#,
        );
        expect_json(&mut c, &got, create_reply(config("N", &["N"])));
    });
}

#[test]
fn js_stream_create_full_config() {
    run_js("js_stream_create_full_config", |s| {
        let mut c = js_client(s, "c");
        let body = r#"{"name":"F","description":"full","subjects":["f.a","f.b.*"],"retention":"limits","max_consumers":10,"max_msgs":100,"max_bytes":100000,"max_age":3600000000000,"max_msgs_per_subject":5,"max_msg_size":1024,"discard":"new","storage":"memory","num_replicas":1,"duplicate_window":60000000000,"allow_direct":true,"allow_rollup_hdrs":true,"deny_delete":true,"allow_msg_ttl":true,"compression":"none","metadata":{"owner":"me"},"consumer_limits":{"inactive_threshold":5000000000,"max_ack_pending":50},"discard_new_per_subject":true}"#;
        let want = with(
            config("F", &["f.a", "f.b.*"]),
            json!({
                "description": "full",
                "max_consumers": 10,
                "max_msgs": 100,
                "max_bytes": 100000,
                "max_age": 3_600_000_000_000u64,
                "max_msgs_per_subject": 5,
                "max_msg_size": 1024,
                "discard": "new",
                "storage": "memory",
                "duplicate_window": 60_000_000_000u64,
                "allow_direct": true,
                "allow_rollup_hdrs": true,
                "deny_delete": true,
                "allow_msg_ttl": true,
                "discard_new_per_subject": true,
                "consumer_limits": {"inactive_threshold": 5_000_000_000u64, "max_ack_pending": 50},
                // Per-message TTLs need API level 1.
                "metadata": {"_nats.level": "4", "_nats.req.level": "1", "_nats.ver": VERSION, "owner": "me"},
            }),
        );
        let got = api(&mut c, "$JS.API.STREAM.CREATE.F", body);
        expect_json(&mut c, &got, create_reply(want.clone()));
        // The same again: the same stream, did_create still true.
        let again = api(&mut c, "$JS.API.STREAM.CREATE.F", body);
        expect_json(&mut c, &again, create_reply(want.clone()));
        let got = api(&mut c, "$JS.API.STREAM.INFO.F", "");
        expect_json(&mut c, &got, info_reply(want, empty_state()));
        // Placement, first_seq, a subject transform and republish; the
        // stream starts at first_seq.
        let body = r#"{"name":"G","subjects":["g.>"],"first_seq":10,"republish":{"src":"g.>","dest":"rp.>"},"subject_transform":{"src":"g.t.*","dest":"g.u.{{wildcard(1)}}"},"placement":{"tags":["x"]}}"#;
        let want = with(
            config("G", &["g.>"]),
            json!({
                "first_seq": 10,
                "republish": {"src": "g.>", "dest": "rp.>"},
                "subject_transform": {"src": "g.t.*", "dest": "g.u.{{wildcard(1)}}"},
                "placement": {"tags": ["x"]},
            }),
        );
        let got = api(&mut c, "$JS.API.STREAM.CREATE.G", body);
        expect_json(
            &mut c,
            &got,
            with(
                create_reply(want),
                json!({"state": with(state(0, 0, 10, 9), json!({"last_ts": ZERO_TIME}))}),
            ),
        );
        store(&mut c, "G", "g.a", "x", 10);
    });
}

#[test]
fn js_stream_create_existing() {
    run_js("js_stream_create_existing", |s| {
        let mut c = js_client(s, "c");
        let body = r#"{"name":"S","subjects":["s.>"]}"#;
        let first = api(&mut c, "$JS.API.STREAM.CREATE.S", body);
        expect_json(&mut c, &first, create_reply(config("S", &["s.>"])));
        store(&mut c, "S", "s.a", "one", 1);
        // Idempotent: the existing stream, did_create true.
        let got = api(&mut c, "$JS.API.STREAM.CREATE.S", body);
        let size = file_size("s.a", "one");
        let want = with(
            create_reply(config("S", &["s.>"])),
            json!({"state": with(state(1, size, 1, 1), json!({"num_subjects": 1}))}),
        );
        expect_json(&mut c, &got, want);
        let bad = |c: &mut Conn, subject: &str, body: &str, code, err_code, text: &str| {
            let got = api(c, subject, body);
            expect_json(c, &got, api_error("stream_create", code, err_code, text));
        };
        const IN_USE: &str = "stream name already in use with a different configuration";
        const MISMATCH: &str = "stream name in subject does not match request";
        bad(
            &mut c,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S","subjects":["s.>","t"]}"#,
            400,
            10058,
            IN_USE,
        );
        bad(
            &mut c,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"S"}"#,
            400,
            10058,
            IN_USE,
        );
        bad(
            &mut c,
            "$JS.API.STREAM.CREATE.S",
            r#"{"name":"T"}"#,
            400,
            10056,
            MISMATCH,
        );
        bad(
            &mut c,
            "$JS.API.STREAM.CREATE.X",
            r#"{"name":"S"}"#,
            400,
            10056,
            MISMATCH,
        );
        bad(&mut c, "$JS.API.STREAM.CREATE.X", "", 400, 10056, MISMATCH);
        bad(
            &mut c,
            "$JS.API.STREAM.CREATE.X",
            "{}",
            400,
            10056,
            MISMATCH,
        );
    });
}

#[test]
fn js_stream_create_invalid() {
    run_js("js_stream_create_invalid", |s| {
        let mut c = js_client(s, "c");
        let bad = |c: &mut Conn, name: &str, body: &str, code, err_code, text: &str| {
            let got = api(c, &format!("$JS.API.STREAM.CREATE.{name}"), body);
            expect_json(c, &got, api_error("stream_create", code, err_code, text));
        };
        const NAME: &str = "stream name is required and can not contain '.', '*', '>', '\\', '/'";
        bad(&mut c, "a*", r#"{"name":"a*"}"#, 500, 10052, NAME);
        bad(&mut c, "a>", r#"{"name":"a>"}"#, 500, 10052, NAME);
        bad(
            &mut c,
            "X",
            r#"{"name":"X","foo":1}"#,
            400,
            10025,
            "invalid JSON: json: unknown field \"foo\"",
        );
        bad(
            &mut c,
            "X",
            r#"{"name":"#,
            400,
            10025,
            "invalid JSON: unexpected EOF",
        );
        bad(
            &mut c,
            "X",
            "nojson",
            400,
            10025,
            "invalid JSON: invalid character 'o' in literal null (expecting 'u') at offset 2",
        );
        bad(
            &mut c,
            "X",
            r#"{"name":"X","num_replicas":3}"#,
            500,
            10074,
            "replicas > 1 not supported in non-clustered mode",
        );
        bad(
            &mut c,
            "X",
            r#"{"name":"X","max_age":-1}"#,
            500,
            10052,
            "max age can not be negative",
        );
        bad(
            &mut c,
            "X",
            r#"{"name":"X","allow_rollup_hdrs":true,"deny_purge":true}"#,
            500,
            10052,
            "roll-ups require the purge permission",
        );
        // Overlapping another stream's subjects.
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        bad(
            &mut c,
            "X",
            r#"{"name":"X","subjects":["s.a"]}"#,
            400,
            10065,
            "subjects overlap with an existing stream",
        );
        bad(
            &mut c,
            "X",
            r#"{"name":"X","subjects":["s.*"]}"#,
            400,
            10065,
            "subjects overlap with an existing stream",
        );
        // A leading wildcard counts as overlapping the JetStream API.
        bad(
            &mut c,
            "X",
            r#"{"name":"X","subjects":["*.a"]}"#,
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        );
        // None of these was created.
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_names"), "total": 1, "offset": 0, "limit": 1024, "streams": ["S"]}),
        );
    });
}

#[test]
fn js_stream_update() {
    run_js("js_stream_update", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        store(&mut c, "S", "s.a", "one", 1);
        let got = api(
            &mut c,
            "$JS.API.STREAM.UPDATE.S",
            r#"{"name":"S","subjects":["s.>","t"],"max_msgs":5,"metadata":{"a":"b"}}"#,
        );
        let updated = with(
            config("S", &["s.>", "t"]),
            json!({
                "max_msgs": 5,
                "metadata": {"_nats.level": "4", "_nats.req.level": "0", "_nats.ver": VERSION, "a": "b"},
            }),
        );
        let st = with(
            state(1, file_size("s.a", "one"), 1, 1),
            json!({"num_subjects": 1}),
        );
        expect_json(
            &mut c,
            &got,
            json!({
                "type": api_type("stream_update"),
                "config": updated.clone(),
                "created": TIME,
                "state": st.clone(),
                "ts": TIME,
            }),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        expect_json(&mut c, &got, info_reply(updated, st));
        store(&mut c, "S", "t", "two", 2);
        let bad = |c: &mut Conn, name: &str, body: &str, code, err_code, text: &str| {
            let got = api(c, &format!("$JS.API.STREAM.UPDATE.{name}"), body);
            expect_json(c, &got, api_error("stream_update", code, err_code, text));
        };
        bad(
            &mut c,
            "S",
            r#"{"name":"S","subjects":["s.>"],"storage":"memory"}"#,
            500,
            10052,
            "stream configuration update can not change storage type",
        );
        bad(
            &mut c,
            "Q",
            r#"{"name":"Q"}"#,
            404,
            10059,
            "stream not found",
        );
        bad(
            &mut c,
            "S",
            r#"{"name":"Q"}"#,
            400,
            10056,
            "stream name in subject does not match request",
        );
        bad(
            &mut c,
            "S",
            "",
            500,
            10052,
            "stream name is required and can not contain '.', '*', '>', '\\', '/'",
        );
        bad(
            &mut c,
            "S",
            r#"{"name":"S","bogus":1}"#,
            400,
            10025,
            "invalid JSON: json: unknown field \"bogus\"",
        );
    });
}

#[test]
fn js_stream_info() {
    run_js("js_stream_info", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        store(&mut c, "S", "s.a", "1", 1);
        store(&mut c, "S", "s.b", "2", 2);
        store(&mut c, "S", "s.a", "3", 3);
        let cfg = config("S", &["s.>"]);
        let size = file_size("s.a", "1");
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        let full = with(state(3, 3 * size, 1, 3), json!({"num_subjects": 2}));
        expect_json(&mut c, &got, info_reply(cfg.clone(), full));
        // Delete the middle message.
        let got = api(&mut c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":2}"#);
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_msg_delete"), "success": true}),
        );
        let holed = with(
            state(2, 2 * size, 1, 3),
            json!({"num_subjects": 1, "num_deleted": 1}),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        expect_json(&mut c, &got, info_reply(cfg.clone(), holed.clone()));
        let got = api(
            &mut c,
            "$JS.API.STREAM.INFO.S",
            r#"{"deleted_details":true}"#,
        );
        let detailed = with(holed.clone(), json!({"deleted": [2]}));
        expect_json(&mut c, &got, info_reply(cfg.clone(), detailed));
        // A subjects filter: per-subject counts and paging, when any match.
        let got = api(
            &mut c,
            "$JS.API.STREAM.INFO.S",
            r#"{"subjects_filter":">"}"#,
        );
        let want = with(
            info_reply(
                cfg.clone(),
                with(holed.clone(), json!({"subjects": {"s.a": 2}})),
            ),
            json!({"total": 1, "limit": 100000}),
        );
        expect_json(&mut c, &got, want);
        let got = api(
            &mut c,
            "$JS.API.STREAM.INFO.S",
            r#"{"subjects_filter":"s.b"}"#,
        );
        expect_json(&mut c, &got, info_reply(cfg.clone(), holed.clone()));
        // A body that is no JSON object is ignored.
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "nojson");
        expect_json(&mut c, &got, info_reply(cfg, holed));
        // Errors keep the paging fields.
        let paged_error = |text: &str, code, err_code| {
            with(
                api_error("stream_info", code, err_code, text),
                json!({"total": 0, "offset": 0, "limit": 0}),
            )
        };
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", r#"{"bogus":1}"#);
        expect_json(
            &mut c,
            &got,
            paged_error("invalid JSON: json: unknown field \"bogus\"", 400, 10025),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.Q", "");
        expect_json(&mut c, &got, paged_error("stream not found", 404, 10059));
    });
}

#[test]
fn js_stream_names_and_list() {
    run_js("js_stream_names_and_list", |s| {
        let mut c = js_client(s, "c");
        let names = |total: u64, offset: u64, streams: Value| json!({"type": api_type("stream_names"), "total": total, "offset": offset, "limit": 1024, "streams": streams});
        let list = |total: u64, streams: Value| json!({"type": api_type("stream_list"), "total": total, "offset": 0, "limit": 256, "streams": streams});
        // None yet: names are null, the list is empty.
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "");
        expect_json(&mut c, &got, names(0, 0, Value::Null));
        let got = api(&mut c, "$JS.API.STREAM.LIST", "");
        expect_json(&mut c, &got, list(0, json!([])));
        create(&mut c, "B", r#"{"name":"B","subjects":["b.>"]}"#);
        create(
            &mut c,
            "A",
            r#"{"name":"A","subjects":["a.*"],"metadata":{"k":"v"}}"#,
        );
        store(&mut c, "B", "b.x", "hi", 1);
        // Sorted by name.
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "");
        expect_json(&mut c, &got, names(2, 0, json!(["A", "B"])));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", r#"{"subject":"a.x"}"#);
        expect_json(&mut c, &got, names(1, 0, json!(["A"])));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", r#"{"subject":"b.>"}"#);
        expect_json(&mut c, &got, names(1, 0, json!(["B"])));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", r#"{"subject":"q"}"#);
        expect_json(&mut c, &got, names(0, 0, Value::Null));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", r#"{"offset":1}"#);
        expect_json(&mut c, &got, names(2, 1, json!(["B"])));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "nojson");
        expect_json(&mut c, &got, names(2, 0, json!(["A", "B"])));
        // The list shows each stream's stored config: no server version
        // or level in the metadata, and no cluster.
        let entry = |cfg: Value, st: Value| json!({"config": cfg, "created": TIME, "state": st, "ts": TIME});
        let a = entry(
            with(
                config("A", &["a.*"]),
                json!({"metadata": {"_nats.req.level": "0", "k": "v"}}),
            ),
            empty_state(),
        );
        let b = entry(
            with(
                config("B", &["b.>"]),
                json!({"metadata": {"_nats.req.level": "0"}}),
            ),
            with(
                state(1, file_size("b.x", "hi"), 1, 1),
                json!({"num_subjects": 1}),
            ),
        );
        let got = api(&mut c, "$JS.API.STREAM.LIST", "");
        expect_json(&mut c, &got, list(2, json!([a, b.clone()])));
        let got = api(&mut c, "$JS.API.STREAM.LIST", r#"{"subject":"b.y"}"#);
        expect_json(&mut c, &got, list(1, json!([b])));
        // Errors keep the paging fields and the (empty) streams.
        let unknown = "invalid JSON: json: unknown field \"bogus\"";
        let got = api(&mut c, "$JS.API.STREAM.NAMES", r#"{"bogus":1}"#);
        let mut want = api_error("stream_names", 400, 10025, unknown);
        want = with(want, json!({"total": 0, "offset": 0, "limit": 0}));
        want["streams"] = Value::Null;
        expect_json(&mut c, &got, want);
        let got = api(&mut c, "$JS.API.STREAM.LIST", r#"{"bogus":1}"#);
        let mut want = api_error("stream_list", 400, 10025, unknown);
        want = with(
            want,
            json!({"total": 0, "offset": 0, "limit": 0, "streams": []}),
        );
        expect_json(&mut c, &got, want);
    });
}

#[test]
fn js_stream_delete() {
    run_js("js_stream_delete", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        store(&mut c, "S", "s.a", "one", 1);
        let got = api(&mut c, "$JS.API.STREAM.DELETE.S", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_delete"), "success": true}),
        );
        let got = api(&mut c, "$JS.API.STREAM.DELETE.S", "");
        expect_json(
            &mut c,
            &got,
            api_error("stream_delete", 404, 10059, "stream not found"),
        );
        // Its subjects are no longer captured.
        let got = publish(&mut c, "s.a", &[], b"two");
        expect_frame(&mut c, &got, &no_responders_frame("s.a"));
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_names"), "total": 0, "offset": 0, "limit": 1024, "streams": null}),
        );
        // The name can be used again, from sequence 1.
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        store(&mut c, "S", "s.a", "three", 1);
    });
}

#[test]
fn js_publish_acks() {
    run_js("js_publish_acks", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "P", r#"{"name":"P","subjects":["p.>"]}"#);
        let case =
            |c: &mut Conn, subject: &str, headers: &[(&str, &str)], body: &str, want: &str| {
                let got = publish(c, subject, headers, body.as_bytes());
                expect_frame(c, &got, &ack_frame(want));
            };
        case(&mut c, "p.a", &[], "one", r#"{"stream":"P","seq":1}"#);
        // Deduplication: the original's sequence, `"duplicate": true`.
        case(
            &mut c,
            "p.a",
            &[("Nats-Msg-Id", "m1")],
            "two",
            r#"{"stream":"P","seq":2}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Msg-Id", "m1")],
            "two",
            r#"{"stream":"P","seq":2,"duplicate": true}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Stream", "Z")],
            "x",
            r#"{"error":{"code":400,"err_code":10060,"description":"expected stream does not match"},"stream":"P","seq":0}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Stream", "P")],
            "x",
            r#"{"stream":"P","seq":3}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Last-Sequence", "1")],
            "x",
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 3"},"stream":"P","seq":0}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Last-Sequence", "3")],
            "x",
            r#"{"stream":"P","seq":4}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Last-Msg-Id", "zz")],
            "x",
            // The last message's id, and it had none.
            r#"{"error":{"code":400,"err_code":10070,"description":"wrong last msg ID: "},"stream":"P","seq":0}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Expected-Last-Subject-Sequence", "1")],
            "x",
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 4"},"stream":"P","seq":0}"#,
        );
        case(
            &mut c,
            "p.new",
            &[("Nats-Expected-Last-Subject-Sequence", "0")],
            "x",
            r#"{"stream":"P","seq":5}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-Rollup", "sub")],
            "x",
            r#"{"error":{"code":500,"err_code":10111,"description":"rollup not permitted"},"stream":"P","seq":0}"#,
        );
        case(
            &mut c,
            "p.a",
            &[("Nats-TTL", "5s")],
            "x",
            r#"{"error":{"code":400,"err_code":10166,"description":"per-message TTL is disabled"},"stream":"P","seq":0}"#,
        );
        // Rollups allowed: a bad value.
        create(
            &mut c,
            "R",
            r#"{"name":"R","subjects":["r.>"],"allow_rollup_hdrs":true}"#,
        );
        case(
            &mut c,
            "r.a",
            &[("Nats-Rollup", "bad")],
            "x",
            r#"{"error":{"code":500,"err_code":10111,"description":"rollup value invalid: \"bad\""},"stream":"R","seq":0}"#,
        );
        // max_msg_size counts headers and payload.
        create(
            &mut c,
            "L",
            r#"{"name":"L","subjects":["l.>"],"max_msg_size":10}"#,
        );
        const TOO_BIG: &str = r#"{"error":{"code":400,"err_code":10054,"description":"message size exceeds maximum allowed"},"stream":"L","seq":0}"#;
        case(&mut c, "l.a", &[], "01234567890", TOO_BIG);
        case(&mut c, "l.a", &[("Foo", "bar")], "1", TOO_BIG);
        case(
            &mut c,
            "l.a",
            &[],
            "0123456789",
            r#"{"stream":"L","seq":1}"#,
        );
        // Discard new: a full stream refuses.
        create(
            &mut c,
            "N",
            r#"{"name":"N","subjects":["n.>"],"discard":"new","max_msgs":2}"#,
        );
        case(&mut c, "n.a", &[], "1", r#"{"stream":"N","seq":1}"#);
        case(&mut c, "n.b", &[], "2", r#"{"stream":"N","seq":2}"#);
        case(
            &mut c,
            "n.c",
            &[],
            "3",
            r#"{"error":{"code":503,"err_code":10077,"description":"maximum messages exceeded"},"stream":"N","seq":0}"#,
        );
        // No stream captures it: core no-responders.
        let got = publish(&mut c, "nowhere", &[], b"x");
        expect_frame(&mut c, &got, &no_responders_frame("nowhere"));
        // Without a reply subject: stored, nothing sent back.
        c.exchange(b"PUB p.a 4\r\nlast\r\n").expect(b"PONG\r\n");
        case(&mut c, "p.a", &[], "after", r#"{"stream":"P","seq":7}"#);
    });
}

#[test]
fn js_stream_purge() {
    run_js("js_stream_purge", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        for (i, subject) in ["s.a", "s.b", "s.a", "s.b", "s.a", "s.c"]
            .iter()
            .enumerate()
        {
            store(&mut c, "S", subject, "x", i as u64 + 1);
        }
        let purged = |c: &mut Conn, body: &str, n: u64| {
            let got = api(c, "$JS.API.STREAM.PURGE.S", body);
            expect_json(
                c,
                &got,
                json!({"type": api_type("stream_purge"), "success": true, "purged": n}),
            );
        };
        purged(&mut c, r#"{"filter":"s.b"}"#, 2);
        purged(&mut c, r#"{"keep":1}"#, 3);
        store(&mut c, "S", "s.a", "x", 7);
        store(&mut c, "S", "s.a", "x", 8);
        store(&mut c, "S", "s.a", "x", 9);
        purged(&mut c, r#"{"seq":8}"#, 2);
        purged(&mut c, r#"{"filter":"s.a","keep":1}"#, 1);
        let failed = |c: &mut Conn, stream: &str, body: &str, code, err_code, text: &str| {
            let got = api(c, &format!("$JS.API.STREAM.PURGE.{stream}"), body);
            let want = with(
                api_error("stream_purge", code, err_code, text),
                json!({"purged": 0}),
            );
            expect_json(c, &got, want);
        };
        failed(
            &mut c,
            "S",
            r#"{"seq":8,"keep":1}"#,
            400,
            10003,
            "bad request",
        );
        failed(
            &mut c,
            "S",
            r#"{"bogus":1}"#,
            400,
            10025,
            "invalid JSON: json: unknown field \"bogus\"",
        );
        failed(&mut c, "Q", "", 404, 10059, "stream not found");
        // The request is checked before the stream is looked up.
        let unknown = "invalid JSON: json: unknown field \"bogus\"";
        failed(&mut c, "Q", r#"{"bogus":1}"#, 400, 10025, unknown);
        purged(&mut c, "", 1);
        purged(&mut c, "", 0);
        // Emptied: first_seq is last_seq + 1, no first time.
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        expect_json(
            &mut c,
            &got,
            info_reply(config("S", &["s.>"]), state(0, 0, 10, 9)),
        );
        store(&mut c, "S", "s.a", "x", 10);
        create(
            &mut c,
            "D",
            r#"{"name":"D","subjects":["d.>"],"deny_purge":true}"#,
        );
        store(&mut c, "D", "d.a", "x", 1);
        failed(&mut c, "D", "", 500, 10110, "stream purge not permitted");
        failed(&mut c, "D", r#"{"bogus":1}"#, 400, 10025, unknown);
    });
}

#[test]
fn js_stream_msg_get() {
    run_js("js_stream_msg_get", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "G", r#"{"name":"G","subjects":["g.>"]}"#);
        store(&mut c, "G", "g.a", "one", 1);
        let got = publish(&mut c, "g.b", &[("Foo", "bar")], b"two");
        expect_frame(&mut c, &got, &ack_frame(r#"{"stream":"G","seq":2}"#));
        store(&mut c, "G", "g.a", "three", 3);
        let msg = |subject: &str, seq: u64, data: &str, hdrs: Option<&str>| {
            let mut m = json!({"subject": subject, "seq": seq, "data": data, "time": TIME});
            if let Some(h) = hdrs {
                m["hdrs"] = json!(h);
            }
            json!({"type": api_type("stream_msg_get"), "message": m})
        };
        const FOO_BAR: &str = "TkFUUy8xLjANCkZvbzogYmFyDQoNCg==";
        let cases: &[(&str, Value)] = &[
            (r#"{"seq":1}"#, msg("g.a", 1, "b25l", None)),
            (r#"{"seq":2}"#, msg("g.b", 2, "dHdv", Some(FOO_BAR))),
            (r#"{"seq":2,"no_hdr":true}"#, msg("g.b", 2, "dHdv", None)),
            (r#"{"last_by_subj":"g.a"}"#, msg("g.a", 3, "dGhyZWU=", None)),
            (r#"{"last_by_subj":"g.*"}"#, msg("g.a", 3, "dGhyZWU=", None)),
            (
                r#"{"next_by_subj":"g.a","seq":2}"#,
                msg("g.a", 3, "dGhyZWU=", None),
            ),
            (
                r#"{"next_by_subj":"g.b"}"#,
                msg("g.b", 2, "dHdv", Some(FOO_BAR)),
            ),
        ];
        for (body, want) in cases {
            let got = api(&mut c, "$JS.API.STREAM.MSG.GET.G", body);
            expect_json(&mut c, &got, want.clone());
        }
        let miss = api_error("stream_msg_get", 404, 10037, "no message found");
        let bad = api_error("stream_msg_get", 400, 10003, "bad request");
        let cases: &[(&str, &Value)] = &[
            (r#"{"seq":9}"#, &miss),
            (r#"{"last_by_subj":"g.zz"}"#, &miss),
            (r#"{"next_by_subj":"g.b","seq":3}"#, &miss),
            (r#"{"seq":1,"last_by_subj":"g.a"}"#, &bad),
            (r#"{"last_by_subj":"g.a","next_by_subj":"g.a"}"#, &bad),
            ("{}", &bad),
            ("", &bad),
        ];
        for (body, want) in cases {
            let got = api(&mut c, "$JS.API.STREAM.MSG.GET.G", body);
            expect_json(&mut c, &got, (*want).clone());
        }
        let got = api(&mut c, "$JS.API.STREAM.MSG.GET.Q", r#"{"seq":1}"#);
        expect_json(
            &mut c,
            &got,
            api_error("stream_msg_get", 404, 10059, "stream not found"),
        );
        // The request is checked before the stream is looked up.
        let got = api(&mut c, "$JS.API.STREAM.MSG.GET.Q", "");
        expect_json(&mut c, &got, bad);
    });
}

#[test]
fn js_stream_msg_delete() {
    run_js("js_stream_msg_delete", |s| {
        let mut c = js_client(s, "c");
        let ok = json!({"type": api_type("stream_msg_delete"), "success": true});
        let err = |code, err_code, text: &str| api_error("stream_msg_delete", code, err_code, text);
        let case = |c: &mut Conn, stream: &str, body: &str, want: &Value| {
            let got = api(c, &format!("$JS.API.STREAM.MSG.DELETE.{stream}"), body);
            expect_json(c, &got, want.clone());
        };
        // A file stream.
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        for seq in 1..=4 {
            store(&mut c, "S", "s.a", "x", seq);
        }
        case(&mut c, "S", r#"{"seq":3}"#, &ok);
        // Gone from inside the stream, below its first message, past its
        // last one.
        case(
            &mut c,
            "S",
            r#"{"seq":3}"#,
            &err(400, 10043, "sequence 3 not found"),
        );
        case(&mut c, "S", r#"{"seq":1}"#, &ok);
        case(
            &mut c,
            "S",
            r#"{"seq":1}"#,
            &err(500, 10057, "no message found"),
        );
        case(
            &mut c,
            "S",
            r#"{"seq":0}"#,
            &err(500, 10057, "no message found"),
        );
        case(
            &mut c,
            "S",
            r#"{"seq":5}"#,
            &err(500, 10057, "stream store EOF"),
        );
        case(&mut c, "S", r#"{"seq":2,"no_erase":true}"#, &ok);
        case(&mut c, "S", "", &err(400, 10003, "bad request"));
        case(&mut c, "S", "{}", &err(400, 10003, "bad request"));
        case(
            &mut c,
            "Q",
            r#"{"seq":1}"#,
            &err(404, 10059, "stream not found"),
        );
        // The request is checked before the stream is looked up.
        case(&mut c, "Q", "", &err(400, 10003, "bad request"));
        let unknown = err(400, 10025, "invalid JSON: json: unknown field \"bogus\"");
        case(&mut c, "Q", r#"{"bogus":1}"#, &unknown);
        // A memory stream: every miss is "sequence N not found".
        create(
            &mut c,
            "M",
            r#"{"name":"M","subjects":["m.>"],"storage":"memory"}"#,
        );
        store(&mut c, "M", "m.a", "x", 1);
        store(&mut c, "M", "m.a", "x", 2);
        case(&mut c, "M", r#"{"seq":1}"#, &ok);
        case(
            &mut c,
            "M",
            r#"{"seq":1}"#,
            &err(400, 10043, "sequence 1 not found"),
        );
        case(
            &mut c,
            "M",
            r#"{"seq":0}"#,
            &err(400, 10043, "sequence 0 not found"),
        );
        case(
            &mut c,
            "M",
            r#"{"seq":9}"#,
            &err(400, 10043, "sequence 9 not found"),
        );
        // deny_delete.
        create(
            &mut c,
            "D",
            r#"{"name":"D","subjects":["d.>"],"deny_delete":true}"#,
        );
        store(&mut c, "D", "d.a", "x", 1);
        case(
            &mut c,
            "D",
            r#"{"seq":1}"#,
            &err(500, 10057, "message delete not permitted"),
        );
        case(&mut c, "D", "", &err(400, 10003, "bad request"));
    });
}

/// A sealed stream refuses publishes, deletes and purges; sealing also
/// turns on deny_delete, deny_purge and discard new. The refusals count as
/// API errors.
#[test]
fn js_stream_sealed() {
    run_js("js_stream_sealed", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        store(&mut c, "S", "s.a", "one", 1);
        store(&mut c, "S", "s.a", "two", 2);
        let got = api(
            &mut c,
            "$JS.API.STREAM.UPDATE.S",
            r#"{"name":"S","subjects":["s.>"],"sealed":true}"#,
        );
        let sealed = with(
            config("S", &["s.>"]),
            json!({"sealed": true, "deny_delete": true, "deny_purge": true, "discard": "new"}),
        );
        let size = file_size("s.a", "one");
        let st = with(state(2, 2 * size, 1, 2), json!({"num_subjects": 1}));
        expect_json(
            &mut c,
            &got,
            json!({
                "type": api_type("stream_update"),
                "config": sealed,
                "created": TIME,
                "state": st,
                "ts": TIME,
            }),
        );
        const SEALED: &str = "invalid operation on sealed stream";
        let got = publish(&mut c, "s.a", &[], b"three");
        let want = format!(
            r#"{{"error":{{"code":400,"err_code":10109,"description":"{SEALED}"}},"stream":"S","seq":0}}"#
        );
        expect_frame(&mut c, &got, &ack_frame(&want));
        let got = api(&mut c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#);
        expect_json(
            &mut c,
            &got,
            api_error("stream_msg_delete", 400, 10109, SEALED),
        );
        let got = api(&mut c, "$JS.API.STREAM.PURGE.S", "");
        let want = with(
            api_error("stream_purge", 400, 10109, SEALED),
            json!({"purged": 0}),
        );
        expect_json(&mut c, &got, want);
        // Still readable.
        let got = api(&mut c, "$JS.API.STREAM.MSG.GET.S", r#"{"seq":2}"#);
        expect_has(&mut c, &got, json!({"message": {"seq": 2, "data": "dHdv"}}));
        // Create, update, and the two refusals; the get is not counted.
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_has(
            &mut c,
            &got,
            json!({"streams": 1, "api": {"total": 4, "errors": 2}}),
        );
    });
}

#[test]
fn js_direct_get() {
    run_js("js_direct_get", |s| {
        let mut c = js_client(s, "c");
        create(
            &mut c,
            "D",
            r#"{"name":"D","subjects":["d.>"],"allow_direct":true}"#,
        );
        store(&mut c, "D", "d.a", "one", 1);
        let got = publish(&mut c, "d.b", &[("Foo", "bar")], b"two");
        expect_frame(&mut c, &got, &ack_frame(r#"{"stream":"D","seq":2}"#));
        store(&mut c, "D", "d.a", "three", 3);
        const GET: &str = "$JS.API.DIRECT.GET.D";
        let one = |c: &mut Conn, subject: &str, body: &str, want: Vec<String>| {
            let got = direct(c, subject, body, 1);
            expect_lines(c, &got, &[want]);
        };
        one(
            &mut c,
            GET,
            r#"{"seq":1}"#,
            direct_msg(&[], "D", "d.a", 1, "one"),
        );
        // Stored headers come first.
        one(
            &mut c,
            GET,
            r#"{"seq":2}"#,
            direct_msg(&["Foo: bar"], "D", "d.b", 2, "two"),
        );
        one(
            &mut c,
            GET,
            r#"{"last_by_subj":"d.a"}"#,
            direct_msg(&[], "D", "d.a", 3, "three"),
        );
        one(
            &mut c,
            GET,
            r#"{"next_by_subj":"d.a","seq":2}"#,
            direct_msg(&[], "D", "d.a", 3, "three"),
        );
        // The subject in the request subject: the last message for it.
        one(
            &mut c,
            "$JS.API.DIRECT.GET.D.d.a",
            "",
            direct_msg(&[], "D", "d.a", 3, "three"),
        );
        one(
            &mut c,
            "$JS.API.DIRECT.GET.D.d.b",
            "",
            direct_msg(&["Foo: bar"], "D", "d.b", 2, "two"),
        );
        // Status replies.
        let not_found = status("NATS/1.0 404 Message Not Found");
        one(&mut c, GET, r#"{"seq":9}"#, not_found.clone());
        one(&mut c, GET, r#"{"last_by_subj":"d.zz"}"#, not_found.clone());
        one(&mut c, "$JS.API.DIRECT.GET.D.d.zz", "", not_found.clone());
        one(
            &mut c,
            GET,
            "nojson",
            status("NATS/1.0 408 Malformed Request"),
        );
        one(&mut c, GET, "", status("NATS/1.0 408 Empty Request"));
        one(
            &mut c,
            GET,
            r#"{"seq":1,"last_by_subj":"d.a"}"#,
            status("NATS/1.0 408 Bad Request"),
        );
        one(
            &mut c,
            "$JS.API.DIRECT.GET.D.d.a",
            "x",
            status("NATS/1.0 408 Malformed Request"),
        );
        // Batches end with 204 EOB, which carries the pending count and
        // the last sequence sent.
        let got = direct(&mut c, GET, r#"{"seq":1,"batch":5}"#, 4);
        let eob = |pending: u64, last: u64| {
            vec![
                "NATS/1.0 204 EOB".to_string(),
                format!("Nats-Num-Pending: {pending}"),
                format!("Nats-Last-Sequence: {last}"),
                "payload: \"\"".to_string(),
            ]
        };
        let want = [
            batch_msg(&[], ("D", "d.a", 1, "one"), 2, 0),
            batch_msg(&["Foo: bar"], ("D", "d.b", 2, "two"), 1, 1),
            batch_msg(&[], ("D", "d.a", 3, "three"), 0, 2),
            eob(0, 3),
        ];
        expect_lines(&mut c, &got, &want);
        // Cut short by the batch size: the EOB counts what is left.
        let got = direct(&mut c, GET, r#"{"seq":1,"batch":2}"#, 3);
        let want = [
            batch_msg(&[], ("D", "d.a", 1, "one"), 2, 0),
            batch_msg(&["Foo: bar"], ("D", "d.b", 2, "two"), 1, 1),
            eob(1, 2),
        ];
        expect_lines(&mut c, &got, &want);
        let got = direct(&mut c, GET, r#"{"next_by_subj":"d.a","batch":5}"#, 3);
        let want = [
            batch_msg(&[], ("D", "d.a", 1, "one"), 1, 0),
            batch_msg(&[], ("D", "d.a", 3, "three"), 0, 1),
            eob(0, 3),
        ];
        expect_lines(&mut c, &got, &want);
        // The last message of each subject.
        let got = direct(&mut c, GET, r#"{"multi_last":["d.a","d.b"],"batch":5}"#, 3);
        let mut end = eob(0, 3);
        end.insert(3, "Nats-UpTo-Sequence: 3".to_string());
        let want = [
            batch_msg(&["Foo: bar"], ("D", "d.b", 2, "two"), 1, 0),
            batch_msg(&[], ("D", "d.a", 3, "three"), 0, 2),
            end,
        ];
        expect_lines(&mut c, &got, &want);
        one(&mut c, GET, r#"{"seq":9,"batch":3}"#, not_found);
    });
}

/// Direct gets go to a per-stream subscription that exists only while the
/// stream allows them: for a stream without allow_direct, or no stream,
/// the request reaches nobody.
#[test]
fn js_direct_get_unavailable() {
    run_js("js_direct_get_unavailable", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "N", r#"{"name":"N","subjects":["n.>"]}"#);
        store(&mut c, "N", "n.a", "one", 1);
        // Both at once, so that a server that stays silent costs one wait.
        let mut bytes = publish_bytes("$JS.API.DIRECT.GET.N", &[], br#"{"seq":1}"#);
        bytes.extend(publish_bytes("$JS.API.DIRECT.GET.Q", &[], br#"{"seq":1}"#));
        c.send(&bytes);
        let got = c.read_msgs_unrecorded(2);
        let mut frames: Vec<Vec<u8>> = split_frames(&got).into_iter().map(<[u8]>::to_vec).collect();
        frames.sort();
        for f in &frames {
            c.record(render_frame(f));
        }
        let mut want = vec![
            no_responders_frame("$JS.API.DIRECT.GET.N"),
            no_responders_frame("$JS.API.DIRECT.GET.Q"),
        ];
        want.sort();
        c.check(
            frames == want,
            format!("expected two 503s, received \"{}\"", escape(&got)),
        );
    });
}

#[test]
fn js_unknown_api_subjects() {
    run_js("js_unknown_api_subjects", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        // No endpoint, or the wrong number of tokens: no reply at all.
        no_reply(
            &mut c,
            &[
                ("$JS.API.BOGUS", ""),
                ("$JS.API.ACCOUNT.INFO", ""),
                ("$JS.API.STREAM.INFO", ""),
                ("$JS.API.STREAM.NAMES.X", ""),
                ("$JS.API.STREAM.CREATE.a.b", r#"{"name":"a.b"}"#),
                ("$JS.API.STREAM.MSG.GET", r#"{"seq":1}"#),
            ],
        );
        // The API still answers.
        let got = api(&mut c, "$JS.API.STREAM.NAMES", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("stream_names"), "total": 1, "offset": 0, "limit": 1024, "streams": ["S"]}),
        );
    });
}

/// Stored sizes as the reference counts them: the file store adds 4 bytes
/// for a header block; the memory store counts subject, headers and
/// payload plus 16.
#[test]
fn js_stored_sizes() {
    run_js("js_stored_sizes", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "F", r#"{"name":"F","subjects":["f.>"]}"#);
        create(
            &mut c,
            "M",
            r#"{"name":"M","subjects":["m.>"],"storage":"memory"}"#,
        );
        let hdrs = [("Foo", "bar")];
        // NATS/1.0\r\nFoo: bar\r\n\r\n
        let hdr_len = 22;
        for (stream, subject) in [("F", "f.a"), ("M", "m.a")] {
            store(&mut c, stream, subject, "one", 1);
            let got = publish(&mut c, subject, &hdrs, b"two");
            expect_frame(
                &mut c,
                &got,
                &ack_frame(&format!("{{\"stream\":\"{stream}\",\"seq\":2}}")),
            );
        }
        let file_bytes = file_size("f.a", "one") + file_size("f.a", "two") + 4 + hdr_len;
        let mem_bytes = (3 + 3 + 16) + (3 + hdr_len + 3 + 16);
        let got = api(&mut c, "$JS.API.STREAM.INFO.F", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 2, "bytes": file_bytes}}),
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.M", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 2, "bytes": mem_bytes}}),
        );
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_has(
            &mut c,
            &got,
            json!({"memory": mem_bytes, "storage": file_bytes}),
        );
    });
}

/// A JSON value of the wrong type: Go's decoder names the field's path in
/// the request type and its Go type.
#[test]
fn js_request_type_errors() {
    run_js("js_request_type_errors", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        let cases: &[(&str, &str, &str, &str)] = &[
            (
                "$JS.API.STREAM.CREATE.X",
                r#"{"name":"X","max_msgs":"a"}"#,
                "stream_create",
                "string into Go struct field StreamConfigRequest.StreamConfig.max_msgs of type int64",
            ),
            (
                "$JS.API.STREAM.CREATE.X",
                r#"{"name":"X","subjects":"a"}"#,
                "stream_create",
                "string into Go struct field StreamConfigRequest.StreamConfig.subjects of type []string",
            ),
            (
                "$JS.API.STREAM.CREATE.X",
                "[1]",
                "stream_create",
                "array into Go value of type server.StreamConfigRequest",
            ),
            (
                "$JS.API.STREAM.MSG.DELETE.S",
                r#"{"seq":"x"}"#,
                "stream_msg_delete",
                "string into Go struct field JSApiMsgDeleteRequest.seq of type uint64",
            ),
            (
                "$JS.API.STREAM.MSG.GET.S",
                r#"{"seq":-1}"#,
                "stream_msg_get",
                "number -1 into Go struct field JSApiMsgGetRequest.seq of type uint64",
            ),
        ];
        for (subject, body, kind, text) in cases {
            let got = api(&mut c, subject, body);
            let description = format!("invalid JSON: json: cannot unmarshal {text}");
            expect_json(&mut c, &got, api_error(kind, 400, 10025, &description));
        }
    });
}

/// Divergences found by applying the same operations to both servers
/// (issue 10), each as the shortest sequence that showed it.
#[test]
fn js_combined_account_info_counts_consumers() {
    run_js("js_combined_account_info_counts_consumers", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        api(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.C1",
            r#"{"stream_name":"S","config":{"durable_name":"C1","ack_policy":"explicit"}}"#,
        );
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_has(&mut c, &got, json!({"streams": 1, "consumers": 1}));
        api(&mut c, "$JS.API.CONSUMER.DELETE.S.C1", "");
        let got = api(&mut c, "$JS.API.INFO", "");
        expect_has(&mut c, &got, json!({"streams": 1, "consumers": 0}));
    });
}

/// The expected-sequence checks come before the duplicate check, per
/// subject first.
#[test]
fn js_combined_expected_sequence_before_duplicate() {
    run_js("js_combined_expected_sequence_before_duplicate", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        let case =
            |c: &mut Conn, subject: &str, headers: &[(&str, &str)], body: &str, want: &str| {
                let got = publish(c, subject, headers, body.as_bytes());
                expect_frame(c, &got, &ack_frame(want));
            };
        case(
            &mut c,
            "s.a",
            &[("Nats-Msg-Id", "m1")],
            "one",
            r#"{"stream":"S","seq":1}"#,
        );
        case(
            &mut c,
            "s.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Last-Sequence", "5")],
            "one",
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}"#,
        );
        case(
            &mut c,
            "s.a",
            &[
                ("Nats-Expected-Last-Sequence", "7"),
                ("Nats-Expected-Last-Subject-Sequence", "9"),
            ],
            "two",
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 1"},"stream":"S","seq":0}"#,
        );
        case(
            &mut c,
            "s.b",
            &[
                ("Nats-Expected-Last-Sequence", "7"),
                ("Nats-Expected-Last-Subject-Sequence", "9"),
            ],
            "two",
            r#"{"error":{"code":400,"err_code":10071,"description":"wrong last sequence: 0"},"stream":"S","seq":0}"#,
        );
        case(
            &mut c,
            "s.a",
            &[("Nats-Msg-Id", "m1"), ("Nats-Expected-Last-Msg-Id", "zz")],
            "one",
            r#"{"stream":"S","seq":1,"duplicate": true}"#,
        );
    });
}

/// A direct get that asks for nothing is "Empty Request" (`seq` 0 or a
/// batch alone), one that asks for two things "Bad Request".
#[test]
fn js_combined_direct_get_of_nothing() {
    run_js("js_combined_direct_get_of_nothing", |s| {
        let mut c = js_client(s, "c");
        create(
            &mut c,
            "D",
            r#"{"name":"D","subjects":["d.>"],"allow_direct":true}"#,
        );
        store(&mut c, "D", "d.a", "one", 1);
        const GET: &str = "$JS.API.DIRECT.GET.D";
        for (body, want) in [
            (r#"{"seq":0}"#, "NATS/1.0 408 Empty Request"),
            (r#"{"batch":2}"#, "NATS/1.0 408 Empty Request"),
            (
                r#"{"seq":1,"start_time":"2024-01-01T00:00:00Z"}"#,
                "NATS/1.0 408 Bad Request",
            ),
            (
                r#"{"last_by_subj":"d.a","batch":2}"#,
                "NATS/1.0 408 Bad Request",
            ),
            (
                r#"{"next_by_subj":"d.a","multi_last":["d.a"]}"#,
                "NATS/1.0 408 Bad Request",
            ),
        ] {
            let got = direct(&mut c, GET, body, 1);
            expect_lines(&mut c, &got, &[status(want)]);
        }
    });
}

/// Lowering max_msgs_per_subject trims each subject to the new limit, with
/// discard old and with discard new.
#[test]
fn js_combined_lowered_per_subject_limit_trims() {
    run_js("js_combined_lowered_per_subject_limit_trims", |s| {
        let mut c = js_client(s, "c");
        for (name, discard) in [("O", "old"), ("N", "new")] {
            let lower = name.to_lowercase();
            let body = |per: u32| {
                format!(
                    r#"{{"name":"{name}","subjects":["{lower}.>"],"max_msgs_per_subject":{per},"discard":"{discard}"}}"#
                )
            };
            create(&mut c, name, &body(3));
            for (i, subject) in ["a", "a", "a", "b"].iter().enumerate() {
                store(
                    &mut c,
                    name,
                    &format!("{lower}.{subject}"),
                    "m",
                    i as u64 + 1,
                );
            }
            api(&mut c, &format!("$JS.API.STREAM.UPDATE.{name}"), &body(1));
            let got = api(&mut c, &format!("$JS.API.STREAM.INFO.{name}"), "");
            expect_has(
                &mut c,
                &got,
                json!({"state": {"messages": 2, "first_seq": 3, "last_seq": 4}}),
            );
        }
    });
}

/// A consumer with ack policy none takes no acks: an ack request finds no
/// responder.
#[test]
fn js_combined_acks_to_an_ack_none_consumer() {
    run_js("js_combined_acks_to_an_ack_none_consumer", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "S", r#"{"name":"S","subjects":["s.>"]}"#);
        api(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.N",
            r#"{"stream_name":"S","config":{"durable_name":"N","ack_policy":"none"}}"#,
        );
        store(&mut c, "S", "s.a", "m", 1);
        let subject = "$JS.ACK.S.N.1.1.1.0.0";
        let got = publish(&mut c, subject, &[], b"+ACK");
        expect_frame(&mut c, &got, &no_responders_frame(subject));
    });
}

/// A rollup into a stream at max_msgs: the limit removes the oldest
/// message as the new one is stored, then the rollup purges (issue 10).
#[test]
fn js_combined_rollup_at_max_msgs() {
    run_js("js_combined_rollup_at_max_msgs", |s| {
        let mut c = js_client(s, "c");
        create(
            &mut c,
            "S",
            r#"{"name":"S","subjects":["s.>"],"max_msgs":3,"allow_rollup_hdrs":true}"#,
        );
        store(&mut c, "S", "s.a", "one", 1);
        store(&mut c, "S", "s.b", "two", 2);
        store(&mut c, "S", "s.b", "three", 3);
        let got = publish(&mut c, "s.b", &[("Nats-Rollup", "sub")], b"four");
        expect_frame(&mut c, &got, &ack_frame(r#"{"stream":"S","seq":4}"#));
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        expect_has(
            &mut c,
            &got,
            json!({"state": {"messages": 1, "first_seq": 4, "last_seq": 4}}),
        );
    });
}

/// A stream's `subject_transform` decides the subject a message is stored
/// under: the functions (partition hashes, splits, slices) as the
/// reference computes them, a subject the source does not match kept as
/// published, and transforms that do not compile refused with its words.
#[test]
fn js_stream_subject_transform() {
    run_js("js_stream_subject_transform", |s| {
        let mut c = js_client(s, "c");
        let cases: &[(&str, &str, &[&str])] = &[
            (
                "a.*.*",
                "x.{{partition(7,1,2)}}.{{wildcard(2)}}.$1",
                &["a.k1.v1", "a.hello.world", "a.zz.9"],
            ),
            (
                "b.*",
                "y.{{splitfromleft(1,2)}}.{{SplitFromRight(1,2)}}",
                &["b.abcdef", "b.a"],
            ),
            (
                "c.*",
                "z.{{slicefromleft(1,3)}}.w.{{sliceFromRight(1,3)}}",
                &["c.abcdefgh", "c.ab"],
            ),
            ("d.*", "v.{{split(1,-)}}", &["d.-a--b-", "d.abc"]),
            ("e.*", "u.{{random(1)}}.$1", &["e.abcdef"]),
            (
                "f.>",
                "t.{{partition(3)}}.>",
                &["f.a.b", "f.q", "f.xyz.1.2"],
            ),
        ];
        for (i, (src, dest, subjects)) in cases.iter().enumerate() {
            let name = format!("T{i}");
            let config = json!({
                "name": name,
                "subjects": [src],
                "subject_transform": {"src": src, "dest": dest},
            });
            create(&mut c, &name, &config.to_string());
            for subject in *subjects {
                publish(&mut c, subject, &[], b"m");
            }
            for seq in 1..=subjects.len() {
                api(
                    &mut c,
                    &format!("$JS.API.STREAM.MSG.GET.{name}"),
                    &format!(r#"{{"seq":{seq}}}"#),
                );
            }
        }
        // Only subjects the source matches are mapped.
        let config = json!({
            "name": "K",
            "subjects": ["k.*", "kk"],
            "subject_transform": {"src": "k.*", "dest": "mapped.$1"},
        });
        create(&mut c, "K", &config.to_string());
        publish(&mut c, "kk", &[], b"m");
        publish(&mut c, "k.1", &[], b"m");
        for seq in 1..=2 {
            api(
                &mut c,
                "$JS.API.STREAM.MSG.GET.K",
                &format!(r#"{{"seq":{seq}}}"#),
            );
        }
        for dest in [
            "{{wildcard(3)}}",
            "{{nope(1)}}",
            "{{split(1)}}",
            "{{wildcard(1,2)}}",
            "{{left(1,2)}}",
            "bad.*",
            "$2",
        ] {
            let config = json!({
                "name": "BAD",
                "subjects": ["bad.*"],
                "subject_transform": {"src": "bad.*", "dest": dest},
            });
            api(&mut c, "$JS.API.STREAM.CREATE.BAD", &config.to_string());
        }
    });
}

/// RePublish: each stored message on the source is re-sent to the mapped
/// subject with the reference's headers (its own first), the subject's
/// previous sequence in `Nats-Last-Sequence`, and with `headers_only` the
/// payload's size instead of the payload; unmatched subjects are not
/// re-sent.
#[test]
fn js_stream_republish() {
    run_js("js_stream_republish", |s| {
        let mut c = js_client(s, "c");
        let mut sub = s.client("sub");
        sub.exchange(b"SUB rp.> 7\r\nSUB ho.> 8\r\n")
            .expect(b"PONG\r\n");
        let config = json!({
            "name": "R",
            "subjects": ["r.>", "other"],
            "republish": {"src": "r.*", "dest": "rp.{{wildcard(1)}}"},
        });
        create(&mut c, "R", &config.to_string());
        let config = json!({
            "name": "H",
            "subjects": ["h.>"],
            "republish": {"src": "h.>", "dest": "ho.>", "headers_only": true},
        });
        create(&mut c, "H", &config.to_string());
        type Send<'a> = (&'a str, &'a [(&'a str, &'a str)], &'a [u8]);
        let sends: &[Send<'_>] = &[
            ("r.a", &[], b"one"),
            ("r.b", &[("Foo", "bar")], b"two"),
            ("r.a", &[], b"three"),
            ("h.x.y", &[("K", "v")], b"four!"),
            ("h.x.y", &[], b""),
        ];
        for (subject, headers, body) in sends {
            publish(&mut c, subject, headers, body);
            let got = sub.read_msgs_unrecorded(1);
            match parse_reply(&got) {
                Some(reply) => {
                    record_hmsg(&mut sub, &reply);
                }
                None => sub.record(render_frame(&got)),
            }
        }
        // Not on the source: stored, not re-sent.
        publish(&mut c, "r.a.deep", &[], b"x");
        publish(&mut c, "other", &[], b"y");
        sub.ping().expect(b"PONG\r\n");
    });
}

/// Counter streams (`allow_msg_counter`, ADR-49): `Nats-Incr` adds to the
/// subject's total, stored as `{"val":"..."}` and returned in the ack's
/// `val`, at any size; the refusals (no increment, a body, a bad number,
/// conditions, a stream without counters, a broken total) with the
/// reference's errors.
#[test]
fn js_stream_counters() {
    run_js("js_stream_counters", |s| {
        let mut c = js_client(s, "c");
        let config = json!({"name": "C", "subjects": ["cnt.>"], "allow_msg_counter": true});
        create(&mut c, "C", &config.to_string());
        create(&mut c, "P", r#"{"name":"P","subjects":["plain.>"]}"#);
        let sends: &[(&str, &str, &[u8])] = &[
            ("cnt.a", "5", b""),
            ("cnt.a", "+10", b""),
            ("cnt.a", "-20", b""),
            ("cnt.b", "18446744073709551615", b""),
            ("cnt.b", "18446744073709551615", b""),
            ("cnt.a", "0", b""),
            ("cnt.a", "1.5", b""),
            ("cnt.a", "abc", b""),
            ("cnt.a", "1", b"body"),
            ("plain.x", "1", b""),
        ];
        for (subject, incr, body) in sends {
            publish(&mut c, subject, &[("Nats-Incr", incr)], body);
        }
        publish(&mut c, "cnt.a", &[], b"");
        publish(&mut c, "cnt.a", &[], b"no incr");
        publish(
            &mut c,
            "cnt.a",
            &[("Nats-Incr", "1"), ("Nats-Expected-Last-Sequence", "3")],
            b"",
        );
        publish(
            &mut c,
            "cnt.a",
            &[("Nats-Incr", "1"), ("Nats-Rollup", "sub")],
            b"",
        );
        publish(
            &mut c,
            "cnt.a",
            &[("Nats-Incr", "2"), ("Nats-Msg-Id", "m1")],
            b"",
        );
        publish(
            &mut c,
            "cnt.a",
            &[("Nats-Incr", "2"), ("Nats-Msg-Id", "m1")],
            b"",
        );
        for seq in 1..=3 {
            api(
                &mut c,
                "$JS.API.STREAM.MSG.GET.C",
                &format!(r#"{{"seq":{seq}}}"#),
            );
        }
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.C",
            r#"{"last_by_subj":"cnt.b"}"#,
        );
    });
}

/// Request keys are matched to fields case-insensitively, as Go's decoder
/// matches them; a key matching no field is still refused. (A request
/// naming one field twice in different cases takes the exact key here,
/// the later one in the reference.)
#[test]
fn js_request_keys_any_case() {
    run_js("js_request_keys_any_case", |s| {
        let mut c = js_client(s, "c");
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.CASE",
            r#"{"Name":"CASE","SUBJECTS":["case.>"],"Max_Msgs":5,"storage":"memory"}"#,
        );
        api(
            &mut c,
            "$JS.API.CONSUMER.CREATE.CASE.D",
            r#"{"Stream_Name":"CASE","Config":{"Durable_Name":"D","ACK_POLICY":"explicit","Max_Deliver":3}}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.CASE3",
            r#"{"Nam":"CASE3","subjects":["case3.>"]}"#,
        );
    });
}
