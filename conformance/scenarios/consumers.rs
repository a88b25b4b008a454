//! JetStream consumers over raw TCP: the `$JS.API.CONSUMER.*` endpoints,
//! pull requests and their status replies, deliveries and acks, against
//! servers started with `-js -sd <tempdir>`.
//!
//! Uses the request and masking helpers of `jetstream`: JSON replies are
//! recorded field by field with times masked (`created`, `ts`,
//! `last_active`, ...). Here also masked: a generated ephemeral consumer
//! name (8 alphanumerics), `pause_remaining` (a duration that shrinks) and
//! the timestamp token of ack reply subjects
//! (`$JS.ACK.<stream>.<consumer>.<dc>.<sseq>.<cseq>.<ts>.<pending>`).
//! Acks are sent to hand-made ack subjects with `0` for the timestamp,
//! which both servers accept, so the transcripts of what was sent match.

use serde_json::{json, Value};

use super::jetstream::{
    api, api_error, api_type, create, expect_has, expect_json, flatten, js_client, mask, no_reply,
    parse_reply, publish_bytes, run_js, send_and_read, store, Reply, INBOX,
};
use crate::transcript::{escape, render_frame, split_frames};
use crate::wire::{Conn, Session};

/// What a masked ephemeral name, ack timestamp and duration read as.
const EPHEMERAL: &str = "<ephemeral>";
const ACK_TS: &str = "<ts>";
const DURATION: &str = "<duration>";

fn is_generated_name(name: &str) -> bool {
    name.len() == 8 && name.chars().all(|c| c.is_ascii_alphanumeric())
}

/// A consumer API request whose reply names a generated ephemeral: like
/// `api`, with the top-level `name` masked (it must look generated).
fn api_ephemeral(c: &mut Conn, subject: &str, body: &str) -> Value {
    let Some(reply) = send_and_read(c, subject, &[], body.as_bytes(), 1).pop() else {
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
    mask_consumer(&mut value);
    if let Some(name) = value.get_mut("name") {
        let ok = name.as_str().is_some_and(is_generated_name);
        problems.extend((!ok).then(|| format!("{name} is not a generated consumer name")));
        *name = json!(EPHEMERAL);
    }
    for p in problems {
        c.check(false, p);
    }
    c.record(format!("{} <size> json:", reply.control));
    for line in flatten(&value) {
        c.record(format!("  {line}"));
    }
    value
}

/// A consumer API request: like `api`, with `pause_remaining` masked.
fn capi(c: &mut Conn, subject: &str, body: &str) -> Value {
    let Some(reply) = send_and_read(c, subject, &[], body.as_bytes(), 1).pop() else {
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
    mask_consumer(&mut value);
    for p in problems {
        c.check(false, p);
    }
    c.record(format!("{} <size> json:", reply.control));
    for line in flatten(&value) {
        c.record(format!("  {line}"));
    }
    value
}

/// Masks every positive `pause_remaining`.
fn mask_consumer(value: &mut Value) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                if key == "pause_remaining" && v.as_u64().is_some_and(|n| n > 0) {
                    *v = json!(DURATION);
                } else {
                    mask_consumer(v);
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(mask_consumer),
        _ => {}
    }
}

/// The ack reply subject with its timestamp token masked; anything else
/// as it is.
fn mask_ack_subject(subject: &str) -> String {
    let mut tokens: Vec<&str> = subject.split('.').collect();
    if tokens.len() == 9 && tokens[0] == "$JS" && tokens[1] == "ACK" {
        tokens[7] = ACK_TS;
    }
    tokens.join(".")
}

/// One delivery or status as recorded: the control line (ack subject
/// masked) with sizes, the header lines, the payload.
fn render_delivery(reply: &Reply) -> Vec<String> {
    let control: Vec<String> = reply.control.split(' ').map(mask_ack_subject).collect();
    let mut lines = vec![format!("{} {}", control.join(" "), reply.sizes)];
    for h in reply.headers.iter().flatten() {
        lines.push(format!("  {h}"));
    }
    lines.push(format!("  payload: \"{}\"", escape(&reply.payload)));
    lines
}

/// Records `count` messages already read as frames; returns them rendered.
fn record_frames(c: &mut Conn, got: &[u8], count: usize) -> Vec<Vec<String>> {
    let mut out = Vec::new();
    for frame in split_frames(got) {
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

/// A pull request (reply `_INBOX.js`) and the `count` messages it gets,
/// recorded with ack subjects masked.
fn pull(c: &mut Conn, stream: &str, consumer: &str, body: &str, count: usize) -> Vec<Vec<String>> {
    let subject = format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}");
    c.send(&publish_bytes(&subject, &[], body.as_bytes()));
    let got = c.read_msgs_unrecorded(count);
    record_frames(c, &got, count)
}

/// Reads `count` messages (deliveries or statuses) without sending.
/// Polls the consumer's info (unrecorded, bounded to about a second)
/// until it contains `needle`: for counts the reference updates on a
/// goroutine of its own after it has answered.
fn await_info(c: &mut Conn, stream: &str, consumer: &str, needle: &str) {
    let info = publish_bytes(
        &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
        &[],
        b"",
    );
    for _ in 0..100 {
        let got = c.poll_unlogged(&info, 1);
        if String::from_utf8_lossy(&got).contains(needle) {
            return;
        }
        std::thread::sleep(std::time::Duration::from_millis(10));
    }
}

fn read_msgs(c: &mut Conn, count: usize) -> Vec<Vec<String>> {
    let got = c.read_msgs_unrecorded(count);
    record_frames(c, &got, count)
}

/// A status reply to the inbox, as rendered: status line and headers.
fn status_lines(sizes: usize, headers: &[&str]) -> Vec<String> {
    let mut lines = vec![format!("HMSG {INBOX} 1 {sizes} {sizes}")];
    lines.extend(headers.iter().map(|h| format!("  {h}")));
    lines.push("  payload: \"\"".to_string());
    lines
}

fn expect_msgs(c: &mut Conn, got: &[Vec<String>], want: &[Vec<String>]) {
    c.check(
        got == want,
        format!("expected messages {want:?}, received {got:?}"),
    );
}

/// An ack (`body`) to a hand-made ack subject with reply `_INBOX.js`; the
/// one reply is recorded and returned as its frame.
fn ack(c: &mut Conn, stream: &str, consumer: &str, seqs: (u64, u64, u64), body: &str) -> Vec<u8> {
    let (dc, sseq, cseq) = seqs;
    let subject = format!("$JS.ACK.{stream}.{consumer}.{dc}.{sseq}.{cseq}.0.0");
    let Some(reply) = send_and_read(c, &subject, &[], body.as_bytes(), 1).pop() else {
        return Vec::new();
    };
    c.record(render_frame(&reply.frame));
    reply.frame
}

fn empty_reply() -> Vec<u8> {
    format!("MSG {INBOX} 1 0\r\n\r\n").into_bytes()
}

/// Creates stream `name` on `subjects` (extra config merged in) and stores
/// `msgs` as (subject, payload).
fn stream_with(c: &mut Conn, name: &str, extra: &str, msgs: &[(&str, &str)]) {
    let prefix = name.to_lowercase();
    let body = format!(r#"{{"name":"{name}","subjects":["{prefix}.>"]{extra}}}"#);
    create(c, name, &body);
    for (i, (subject, payload)) in msgs.iter().enumerate() {
        store(c, name, subject, payload, i as u64 + 1);
    }
}

fn create_ok(c: &mut Conn, subject: &str, body: &str) -> Value {
    let got = capi(c, subject, body);
    expect_has(c, &got, json!({"type": api_type("consumer_create")}));
    c.check(
        got.get("error").is_none(),
        format!("expected a consumer to be created: {got}"),
    );
    got
}

fn consumer_error(c: &mut Conn, subject: &str, body: &str, want: (u16, u16, &str)) {
    let got = capi(c, subject, body);
    let kind = if subject.contains(".INFO.") {
        "consumer_info"
    } else if subject.contains(".DELETE.") {
        "consumer_delete"
    } else {
        "consumer_create"
    };
    expect_json(c, &got, api_error(kind, want.0, want.1, want.2));
}

fn three(c: &mut Conn) {
    stream_with(c, "S", "", &[("s.a", "m1"), ("s.b", "m2"), ("s.a", "m3")]);
}

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

#[test]
fn cons_create_replies() {
    run_js("cons_create_replies", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        // Durable pull, explicit ack: defaults filled in.
        let got = create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D1",
            r#"{"stream_name":"S","config":{"durable_name":"D1","ack_policy":"explicit"}}"#,
        );
        expect_has(
            &mut c,
            &got,
            json!({"name": "D1", "num_pending": 3, "config": {"max_waiting": 512, "ack_wait": 30_000_000_000u64}}),
        );
        // Legacy durable create.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.L1",
            r#"{"stream_name":"S","config":{"durable_name":"L1","ack_policy":"explicit"}}"#,
        );
        // Ephemeral pull, no name; and with an empty config.
        api_ephemeral(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{"ack_policy":"explicit"}}"#,
        );
        api_ephemeral(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{}}"#,
        );
        // Ordered-consumer style push ephemeral without interest.
        api_ephemeral(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"none","max_deliver":1,"flow_control":true,"idle_heartbeat":5000000000,"mem_storage":true,"num_replicas":1,"deliver_subject":"_INBOX.ord1"}}"#,
        );
        // Filtered create subject, name only (an ephemeral with a name).
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.F1.s.a",
            r#"{"stream_name":"S","config":{"name":"F1","filter_subject":"s.a","ack_policy":"explicit"}}"#,
        );
        // Name in the body differs: the subject's name is taken.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.N2",
            r#"{"stream_name":"S","config":{"name":"other","ack_policy":"explicit"}}"#,
        );
        // Normalised values.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.NORM",
            r#"{"stream_name":"S","config":{"durable_name":"NORM","ack_policy":"explicit","max_deliver":-5,"max_waiting":0,"max_ack_pending":-1,"max_batch":-1,"max_bytes":-1,"inactive_threshold":-1,"deliver_group":"g","headers_only":true}}"#,
        );
        // Backoff overrides ack_wait; many fields echoed.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.FULL",
            r#"{"stream_name":"S","config":{"durable_name":"FULL","description":"d","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z","ack_policy":"explicit","ack_wait":10000000000,"max_deliver":5,"backoff":[1000000000,2000000000],"filter_subjects":["s.a","s.b"],"replay_policy":"instant","sample_freq":"50%","max_waiting":10,"max_ack_pending":20,"headers_only":true,"max_batch":7,"max_expires":60000000000,"max_bytes":4096,"inactive_threshold":60000000000,"num_replicas":1,"mem_storage":true,"metadata":{"k":"v"}}}"#,
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.LPS",
            r#"{"stream_name":"S","config":{"durable_name":"LPS","deliver_policy":"last_per_subject","filter_subject":"s.*","ack_policy":"all","replay_policy":"original","rate_limit_bps":1000000,"flow_control":true,"idle_heartbeat":1000000000,"headers_only":true,"deliver_subject":"dq.x","deliver_group":"g"}}"#,
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.SEQ",
            r#"{"stream_name":"S","config":{"durable_name":"SEQ","deliver_policy":"by_start_sequence","opt_start_seq":2,"ack_policy":"explicit"}}"#,
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.NEW",
            r#"{"stream_name":"S","config":{"durable_name":"NEW","deliver_policy":"new"}}"#,
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.LAST",
            r#"{"stream_name":"S","config":{"durable_name":"LAST","deliver_policy":"last"}}"#,
        );
    });
}

#[test]
fn cons_push_deliveries() {
    run_js("cons_push_deliveries", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        let mut p = s.client("p");
        p.exchange(b"SUB push.p 2\r\n").expect(b"PONG\r\n");
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.P",
            r#"{"stream_name":"S","config":{"durable_name":"P","deliver_subject":"push.p","ack_policy":"explicit"}}"#,
        );
        let got = p.read_msgs_unrecorded(3);
        let got = record_frames(&mut p, &got, 3);
        c.check(
            got.first()
                .is_some_and(|m| m[0] == "MSG s.a 2 $JS.ACK.S.P.1.1.1.<ts>.2 2"),
            format!("first push delivery: {got:?}"),
        );
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.P", "");
        expect_has(
            &mut c,
            &got,
            json!({"num_ack_pending": 3, "num_pending": 0, "push_bound": true,
                   "delivered": {"consumer_seq": 3, "stream_seq": 3, "last_active": "<time>"}}),
        );
        // A pull on a push consumer.
        let got = pull(&mut c, "S", "P", "", 1);
        expect_msgs(
            &mut c,
            &got,
            &[status_lines(39, &["NATS/1.0 409 Consumer is push based"])],
        );
        // Acks of push deliveries.
        let got = ack(&mut c, "S", "P", (1, 1, 1), "");
        let want = empty_reply();
        c.check(got == want, format!("ack reply {:?}", escape(&got)));
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.P", "");
        expect_has(
            &mut c,
            &got,
            json!({"num_ack_pending": 2, "ack_floor": {"consumer_seq": 1, "stream_seq": 1}}),
        );
        // New messages go out as they are stored.
        store(&mut c, "S", "s.c", "m4", 4);
        let got = p.read_msgs_unrecorded(1);
        record_frames(&mut p, &got, 1);
    });
}

#[test]
fn cons_create_errors() {
    run_js("cons_create_errors", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        let cases: &[(&str, &str, (u16, u16, &str))] = &[
            ("$JS.API.CONSUMER.CREATE.NOPE.D", r#"{"stream_name":"NOPE","config":{"durable_name":"D"}}"#, (404, 10059, "stream not found")),
            ("$JS.API.CONSUMER.CREATE.S.D", "", (400, 10056, "stream name in subject does not match request")),
            ("$JS.API.CONSUMER.CREATE.S.D", r#"{"stream_name":"X","config":{"durable_name":"D"}}"#, (400, 10056, "stream name in subject does not match request")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"durable_name":"D"}}"#, (400, 10020, "consumer expected to be ephemeral but a durable name was set in request")),
            ("$JS.API.CONSUMER.CREATE.S.D", r#"{"stream_name":"S","config":{"durable_name":"E"}}"#, (400, 10017, "consumer name in subject does not match durable name in request")),
            ("$JS.API.CONSUMER.DURABLE.CREATE.S.D", r#"{"stream_name":"S","config":{"name":"D"}}"#, (400, 10018, "consumer expected to be durable but a durable name was not set")),
            ("$JS.API.CONSUMER.CREATE.S.F.s.a", r#"{"stream_name":"S","config":{"name":"F","filter_subject":"s.b"}}"#, (400, 10131, "Consumer create request did not match filtered subject from create subject")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"name":"a.b"}}"#, (500, 10052, "consumer name can not contain '.', '*', '>', '\\', '/'")),
            ("$JS.API.CONSUMER.CREATE.S.a/b", r#"{"stream_name":"S","config":{"name":"a/b"}}"#, (400, 10127, "Consumer name can not contain path separators")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"filter_subject":"s..a"}}"#, (500, 10052, "invalid subject")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"filter_subject":"s.a","filter_subjects":["s.b"]}}"#, (400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"filter_subjects":["s.>","s.b"]}}"#, (400, 10138, "consumer subject filters cannot overlap")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_policy":"last_per_subject"}}"#, (400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_policy":"by_start_sequence"}}"#, (400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"opt_start_seq":2}}"#, (400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_policy":"bogus"}}"#, (400, 10025, "invalid JSON: can not unmarshal \"\\\"bogus\\\"\"")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"foo":1}}"#, (400, 10025, "invalid JSON: json: unknown field \"foo\"")),
            ("$JS.API.CONSUMER.CREATE.S", "not json", (400, 10025, "invalid JSON: invalid character 'o' in literal null (expecting 'u') at offset 2")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"d.x","max_waiting":5}}"#, (400, 10080, "consumer in push mode can not set max waiting")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"idle_heartbeat":1000000000}}"#, (400, 10088, "consumer idle heartbeat requires a push based consumer")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"flow_control":true}}"#, (400, 10089, "consumer flow control requires a push based consumer")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"d.x","flow_control":true}}"#, (400, 10108, "consumer with flow control also needs heartbeats")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"d.x","idle_heartbeat":50000000}}"#, (400, 10083, "consumer idle heartbeat needs to be >= 100ms")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"q.*"}}"#, (400, 10079, "consumer deliver subject has wildcards")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"deliver_subject":"s.x"}}"#, (400, 10081, "consumer deliver subject forms a cycle")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"rate_limit_bps":1000}}"#, (400, 10086, "consumer in pull mode can not have rate limit set")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"max_expires":500000}}"#, (400, 10115, "consumer max request expires needs to be >= 1ms")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"ack_policy":"explicit","max_deliver":1,"backoff":[1000000000,2000000000]}}"#, (400, 10116, "max deliver is required to be > length of backoff values")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"ack_policy":"explicit","ack_wait":-1}}"#, (400, 10183, "consumer ack wait needs to be positive")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"num_replicas":3}}"#, (500, 10074, "replicas > 1 not supported in non-clustered mode")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"num_replicas":-1}}"#, (400, 10133, "replicas count cannot be negative")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"sample_freq":"abc"}}"#, (400, 10095, "failed to parse consumer sampling configuration: strconv.Atoi: parsing \"abc\": invalid syntax")),
            ("$JS.API.CONSUMER.CREATE.S", r#"{"stream_name":"S","config":{"priority_groups":["A"]}}"#, (400, 10196, "consumer can not have priority groups when policy is none")),
            ("$JS.API.CONSUMER.CREATE.S.D", r#"{"stream_name":"S","action":"bogus","config":{"durable_name":"D"}}"#, (400, 10025, "invalid JSON: unknown consumer action: \"bogus\"")),
        ];
        for (subject, body, want) in cases {
            consumer_error(&mut c, subject, body, *want);
        }
        // A trailing dot is no API subject.
        no_reply_or_503(&mut c);
    });
}

/// `CONSUMER.CREATE.S.` is not an API subject: core no-responders.
fn no_reply_or_503(c: &mut Conn) {
    let got = send_and_read(c, "$JS.API.CONSUMER.CREATE.S.", &[], b"{}", 1);
    for r in &got {
        let lines = render_delivery(r);
        for l in &lines {
            c.record(l);
        }
    }
}

#[test]
fn cons_actions() {
    run_js("cons_actions", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        let base = r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":3}}"#;
        create_ok(&mut c, "$JS.API.CONSUMER.CREATE.S.D", base);
        // action create with the identical config: fine; different: refused.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","action":"create","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":3}}"#,
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","action":"create","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":4}}"#,
            (400, 10148, "consumer already exists"),
        );
        // The legacy subject with action create.
        capi(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.D",
            r#"{"stream_name":"S","action":"create","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":3}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.L",
            r#"{"stream_name":"S","config":{"durable_name":"L","ack_policy":"explicit"}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.L",
            r#"{"stream_name":"S","action":"create","config":{"durable_name":"L","ack_policy":"explicit"}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.DURABLE.CREATE.S.L",
            r#"{"stream_name":"S","action":"create","config":{"durable_name":"L","ack_policy":"explicit","max_deliver":2}}"#,
        );
        // No action: an updatable change is applied; so with action update.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":5}}"#,
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","action":"update","config":{"durable_name":"D","ack_policy":"explicit","max_deliver":6,"filter_subject":"s.a"}}"#,
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.X",
            r#"{"stream_name":"S","action":"update","config":{"durable_name":"X"}}"#,
            (400, 10149, "consumer does not exist"),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","action":"update","config":{}}"#,
            (400, 10149, "consumer does not exist"),
        );
        let updates: &[(&str, &str)] = &[
            (r#""ack_policy":"all""#, "ack policy can not be updated"),
            (
                r#""ack_policy":"explicit","deliver_subject":"d.x""#,
                "can not update pull consumer to push based",
            ),
            (
                r#""ack_policy":"explicit","deliver_policy":"new""#,
                "deliver policy can not be updated",
            ),
        ];
        for (fields, text) in updates {
            consumer_error(
                &mut c,
                "$JS.API.CONSUMER.CREATE.S.D",
                &format!(r#"{{"stream_name":"S","config":{{"durable_name":"D",{fields}}}}}"#),
                (500, 10012, text),
            );
        }
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.P",
            r#"{"stream_name":"S","config":{"durable_name":"P","deliver_subject":"d.p"}}"#,
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.P",
            r#"{"stream_name":"S","config":{"durable_name":"P"}}"#,
            (500, 10012, "can not update push consumer to pull based"),
        );
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
    });
}

#[test]
fn cons_info_names_list_delete_pause() {
    run_js("cons_info_names_list_delete_pause", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        stream_with(&mut c, "E", "", &[]);
        // An empty stream: `[]` lists.
        capi(&mut c, "$JS.API.CONSUMER.NAMES.E", "");
        capi(&mut c, "$JS.API.CONSUMER.LIST.E", "");
        capi(&mut c, "$JS.API.CONSUMER.NAMES.NOPE", "");
        capi(&mut c, "$JS.API.CONSUMER.LIST.NOPE", "");
        for name in ["c0", "c1", "c2"] {
            create_ok(
                &mut c,
                &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
                &format!(
                    r#"{{"stream_name":"S","config":{{"durable_name":"{name}","ack_policy":"explicit"}}}}"#
                ),
            );
        }
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", "");
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", r#"{"offset":2}"#);
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", r#"{"offset":10}"#);
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", r#"{"limit":2}"#);
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", "junk");
        capi(&mut c, "$JS.API.CONSUMER.LIST.S", "");
        capi(&mut c, "$JS.API.CONSUMER.LIST.S", r#"{"offset":1}"#);
        // Info.
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.c0", "");
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.INFO.S.nope",
            "",
            (404, 10014, "consumer not found"),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.INFO.NOPE.c0",
            "",
            (404, 10059, "stream not found"),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.INFO.S.c0",
            r#"{"x":1}"#,
            (400, 10038, "expected an empty request payload"),
        );
        // Pause and resume.
        capi(
            &mut c,
            "$JS.API.CONSUMER.PAUSE.S.c1",
            r#"{"pause_until":"2099-01-01T00:00:00Z"}"#,
        );
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.c1", "");
        capi(&mut c, "$JS.API.CONSUMER.LIST.S", r#"{"offset":1}"#);
        capi(&mut c, "$JS.API.CONSUMER.PAUSE.S.c1", "");
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.c1", "");
        capi(
            &mut c,
            "$JS.API.CONSUMER.PAUSE.S.c1",
            r#"{"pause_until":"2020-01-01T00:00:00Z"}"#,
        );
        capi(&mut c, "$JS.API.CONSUMER.PAUSE.S.c1", "junk");
        capi(
            &mut c,
            "$JS.API.CONSUMER.PAUSE.S.nope",
            r#"{"pause_until":"2099-01-01T00:00:00Z"}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.PAUSE.NOPE.c1",
            r#"{"pause_until":"2099-01-01T00:00:00Z"}"#,
        );
        // Delete.
        let got = capi(&mut c, "$JS.API.CONSUMER.DELETE.S.c2", "");
        expect_json(
            &mut c,
            &got,
            json!({"type": api_type("consumer_delete"), "success": true}),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.DELETE.S.c2",
            "",
            (404, 10014, "consumer not found"),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.DELETE.NOPE.c2",
            "",
            (404, 10059, "stream not found"),
        );
        capi(&mut c, "$JS.API.CONSUMER.NAMES.S", "");
        // Missing tokens: no reply at all.
        no_reply(
            &mut c,
            &[
                ("$JS.API.CONSUMER.INFO.S", ""),
                ("$JS.API.CONSUMER.DELETE.S", ""),
                ("$JS.API.CONSUMER.NAMES", ""),
            ],
        );
        let got = api(&mut c, "$JS.API.STREAM.INFO.S", "");
        expect_has(&mut c, &got, json!({"state": {"consumer_count": 2}}));
    });
}

#[test]
fn cons_pull_statuses() {
    run_js("cons_pull_statuses", |s: &mut Session| {
        let mut c = js_client(s, "c");
        three(&mut c);
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit","max_waiting":2}}"#,
        );
        // A bare number is the batch.
        let got = pull(&mut c, "S", "D", "2", 2);
        c.check(
            got.first()
                .is_some_and(|m| m[0] == "MSG s.a 1 $JS.ACK.S.D.1.1.1.<ts>.2 2"),
            format!("first delivery: {got:?}"),
        );
        // no_wait with fewer than the batch: the rest, then 404.
        let got = pull(&mut c, "S", "D", r#"{"batch":5,"no_wait":true}"#, 2);
        let no_msgs = status_lines(28, &["NATS/1.0 404 No Messages"]);
        c.check(got.get(1) == Some(&no_msgs), format!("no_wait: {got:?}"));
        let got = pull(&mut c, "S", "D", r#"{"no_wait":true}"#, 1);
        expect_msgs(&mut c, &got, std::slice::from_ref(&no_msgs));
        // Expiry: 408 with the pending counts.
        let got = pull(&mut c, "S", "D", r#"{"batch":5,"expires":200000000}"#, 1);
        expect_msgs(
            &mut c,
            &got,
            &[status_lines(
                81,
                &[
                    "NATS/1.0 408 Request Timeout",
                    "Nats-Pending-Messages: 5",
                    "Nats-Pending-Bytes: 0",
                ],
            )],
        );
        // An expiry under 1ms: 408 at once.
        pull(&mut c, "S", "D", r#"{"batch":2,"expires":500000}"#, 1);
        // A heartbeat that is too large for the expiry.
        pull(
            &mut c,
            "S",
            "D",
            r#"{"expires":1000000000,"idle_heartbeat":1000000000}"#,
            1,
        );
        // A bad field type.
        pull(&mut c, "S", "D", r#"{"batch":"x"}"#, 1);
        // Two waiting requests fill max_waiting; a third is refused.
        let waiting = publish_bytes(
            "$JS.API.CONSUMER.MSG.NEXT.S.D",
            &[],
            br#"{"batch":1,"expires":1000000000}"#,
        );
        c.send(&[waiting.clone(), waiting].concat());
        c.ping();
        // The reference registers pull requests on the consumer's own
        // goroutine, after the PONG may have gone out: wait until both
        // are counted before the recorded check.
        await_info(&mut c, "S", "D", "\"num_waiting\":2");
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        expect_has(&mut c, &got, json!({"num_waiting": 2}));
        let got = pull(&mut c, "S", "D", r#"{"batch":1,"expires":1000000000}"#, 1);
        expect_msgs(
            &mut c,
            &got,
            &[status_lines(36, &["NATS/1.0 409 Exceeded MaxWaiting"])],
        );
        // The two waiting ones expire.
        read_msgs(&mut c, 2);
        // max_bytes: a budget the first message does not fit.
        store(&mut c, "S", "s.c", "m4", 4);
        pull(&mut c, "S", "D", r#"{"batch":5,"max_bytes":10}"#, 1);
        // A batch completed with max_bytes set.
        pull(&mut c, "S", "D", r#"{"batch":1,"max_bytes":10000}"#, 2);
        // Unknown consumer: no responders.
        pull(&mut c, "S", "NOPE", "", 1);
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        expect_has(
            &mut c,
            &got,
            json!({"num_waiting": 0, "num_ack_pending": 4, "num_pending": 0}),
        );
        // Deleting a consumer with a waiting request.
        store(&mut c, "S", "s.c", "m5", 5);
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.W",
            r#"{"stream_name":"S","config":{"durable_name":"W","ack_policy":"explicit","filter_subject":"s.none"}}"#,
        );
        c.send(&publish_bytes(
            "$JS.API.CONSUMER.MSG.NEXT.S.W",
            &[],
            br#"{"batch":1,"expires":2000000000}"#,
        ));
        c.ping();
        let got = send_and_read(&mut c, "$JS.API.CONSUMER.DELETE.S.W", &[], b"", 2);
        for r in &got {
            for l in render_delivery(r) {
                c.record(l);
            }
        }
    });
}

#[test]
fn cons_acks() {
    run_js("cons_acks", |s: &mut Session| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "S",
            "",
            &[
                ("s.a", "m1"),
                ("s.a", "m2"),
                ("s.a", "m3"),
                ("s.a", "m4"),
                ("s.a", "m5"),
            ],
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        pull(&mut c, "S", "D", r#"{"batch":5}"#, 5);
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        let want = empty_reply();
        for (seqs, body) in [
            ((1, 2, 2), "+ACK"),
            ((1, 1, 1), ""),
            ((1, 3, 3), "-NAK"),
            ((1, 4, 4), "+TERM"),
            ((1, 5, 5), "+WPI"),
            ((1, 1, 1), "+ACK"),
            ((1, 5, 5), "junk"),
        ] {
            let got = ack(&mut c, "S", "D", seqs, body);
            c.check(got == want, format!("ack reply {:?}", escape(&got)));
            capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        }
        // The NAKed message comes back first, delivery count 2.
        let got = pull(&mut c, "S", "D", r#"{"batch":1,"no_wait":true}"#, 1);
        c.check(
            got.first()
                .is_some_and(|m| m[0] == "MSG s.a 1 $JS.ACK.S.D.2.3.6.<ts>.0 2"),
            format!("redelivery: {got:?}"),
        );
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        let got = ack(&mut c, "S", "D", (2, 3, 6), "+ACK");
        c.check(got == want, format!("ack reply {:?}", escape(&got)));
        let got = ack(&mut c, "S", "D", (1, 5, 5), "+ACK");
        c.check(got == want, format!("ack reply {:?}", escape(&got)));
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        expect_has(
            &mut c,
            &got,
            json!({"num_ack_pending": 0, "ack_floor": {"consumer_seq": 6, "stream_seq": 5}}),
        );
        // +NXT: acks and pulls to the ack's reply.
        store(&mut c, "S", "s.b", "m6", 6);
        store(&mut c, "S", "s.b", "m7", 7);
        // The reference counts a new message into num_pending on the
        // stream's goroutine, after the publish ack; under load a pull
        // right after could report a pending count one short.
        await_info(&mut c, "S", "D", "\"num_pending\":2");
        pull(&mut c, "S", "D", "", 1);
        let subject = "$JS.ACK.S.D.1.6.7.0.1";
        c.send(&publish_bytes(subject, &[], b"+NXT"));
        read_msgs(&mut c, 1);
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
    });
}

#[test]
fn cons_workqueue() {
    run_js("cons_workqueue", |s: &mut Session| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "W",
            r#","retention":"workqueue""#,
            &[("w.a", "m1"), ("w.b", "m2"), ("w.a", "m3")],
        );
        let errors: &[(&str, (u16, u16, &str))] = &[
            (
                r#"{"durable_name":"X"}"#,
                (
                    400,
                    10084,
                    "consumer in pull mode requires explicit ack policy on workqueue stream",
                ),
            ),
            (
                r#"{"durable_name":"X","ack_policy":"all"}"#,
                (400, 10098, "workqueue stream requires explicit ack"),
            ),
            (
                r#"{"durable_name":"X","ack_policy":"explicit","deliver_policy":"new"}"#,
                (
                    400,
                    10101,
                    "consumer must be deliver all on workqueue stream",
                ),
            ),
        ];
        for (config, want) in errors {
            consumer_error(
                &mut c,
                "$JS.API.CONSUMER.CREATE.W.X",
                &format!(r#"{{"stream_name":"W","config":{config}}}"#),
                *want,
            );
        }
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.W.D",
            r#"{"stream_name":"W","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.W.E",
            r#"{"stream_name":"W","config":{"durable_name":"E","ack_policy":"explicit"}}"#,
            (
                400,
                10099,
                "multiple non-filtered consumers not allowed on workqueue stream",
            ),
        );
        consumer_error(
            &mut c,
            "$JS.API.CONSUMER.CREATE.W.E",
            r#"{"stream_name":"W","config":{"durable_name":"E","ack_policy":"explicit","filter_subject":"w.a"}}"#,
            (
                400,
                10100,
                "filtered consumer not unique on workqueue stream",
            ),
        );
        pull(&mut c, "W", "D", r#"{"batch":3}"#, 3);
        for seqs in [(1, 1, 1), (1, 2, 2)] {
            let got = ack(&mut c, "W", "D", seqs, "+ACK");
            let want = empty_reply();
            c.check(got == want, format!("ack reply {:?}", escape(&got)));
        }
        capi(&mut c, "$JS.API.CONSUMER.INFO.W.D", "");
        // The acked messages are gone from the stream.
        api(&mut c, "$JS.API.STREAM.INFO.W", "");
    });
}

/// A NAK at max_deliver: the message is not sent again, leaves pending,
/// and a no_wait pull finds nothing (issue 10).
#[test]
fn cons_combined_nak_at_max_deliver() {
    run_js("cons_combined_nak_at_max_deliver", |s: &mut Session| {
        let mut c = js_client(s, "c");
        stream_with(&mut c, "S", "", &[("s.a", "m1")]);
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.C1",
            r#"{"stream_name":"S","config":{"durable_name":"C1","ack_policy":"explicit","max_deliver":1}}"#,
        );
        pull(&mut c, "S", "C1", r#"{"batch":1}"#, 1);
        let got = ack(&mut c, "S", "C1", (1, 1, 1), "-NAK");
        c.check(
            got == empty_reply(),
            format!("nak reply {:?}", escape(&got)),
        );
        let got = pull(&mut c, "S", "C1", r#"{"batch":1,"no_wait":true}"#, 1);
        expect_msgs(
            &mut c,
            &got,
            &[status_lines(28, &["NATS/1.0 404 No Messages"])],
        );
        let got = capi(&mut c, "$JS.API.CONSUMER.INFO.S.C1", "");
        expect_has(
            &mut c,
            &got,
            json!({"num_ack_pending": 0, "num_redelivered": 0}),
        );
    });
}

/// A pending message removed from the stream (deleted, or pushed out by a
/// per-subject limit) is settled like an ack: not pending, the floor past
/// it (issue 10).
#[test]
fn cons_combined_pending_message_removed() {
    run_js(
        "cons_combined_pending_message_removed",
        |s: &mut Session| {
            let mut c = js_client(s, "c");
            stream_with(&mut c, "S", "", &[("s.a", "m1"), ("s.b", "m2")]);
            stream_with(
                &mut c,
                "P",
                r#","max_msgs_per_subject":1"#,
                &[("p.a", "m1"), ("p.b", "m2")],
            );
            for stream in ["S", "P"] {
                create_ok(
                    &mut c,
                    &format!("$JS.API.CONSUMER.CREATE.{stream}.C1"),
                    &format!(
                        r#"{{"stream_name":"{stream}","config":{{"durable_name":"C1","ack_policy":"explicit"}}}}"#
                    ),
                );
                pull(&mut c, stream, "C1", r#"{"batch":2}"#, 2);
            }
            api(&mut c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#);
            store(&mut c, "P", "p.a", "m3", 3);
            for stream in ["S", "P"] {
                // The reference settles a removed pending message on a
                // goroutine of its own, after the store has answered.
                await_info(&mut c, stream, "C1", "\"num_ack_pending\":1");
                let got = capi(&mut c, &format!("$JS.API.CONSUMER.INFO.{stream}.C1"), "");
                expect_has(
                    &mut c,
                    &got,
                    json!({"num_ack_pending": 1, "ack_floor": {"consumer_seq": 1, "stream_seq": 1}}),
                );
            }
        },
    );
}

/// Deleting the only consumer of an interest stream purges it, moving even
/// an empty stream's first sequence on (issue 10).
#[test]
fn cons_combined_interest_last_consumer_deleted() {
    run_js(
        "cons_combined_interest_last_consumer_deleted",
        |s: &mut Session| {
            let mut c = js_client(s, "c");
            stream_with(&mut c, "E", r#","retention":"interest""#, &[]);
            stream_with(&mut c, "F", r#","retention":"interest""#, &[]);
            for stream in ["E", "F"] {
                create_ok(
                    &mut c,
                    &format!("$JS.API.CONSUMER.CREATE.{stream}.C1"),
                    &format!(
                        r#"{{"stream_name":"{stream}","config":{{"durable_name":"C1","ack_policy":"explicit"}}}}"#
                    ),
                );
            }
            store(&mut c, "F", "f.a", "m1", 1);
            store(&mut c, "F", "f.a", "m2", 2);
            for stream in ["E", "F"] {
                capi(&mut c, &format!("$JS.API.CONSUMER.DELETE.{stream}.C1"), "");
            }
            let got = api(&mut c, "$JS.API.STREAM.INFO.E", "");
            expect_has(
                &mut c,
                &got,
                json!({"state": {"messages": 0, "first_seq": 1, "last_seq": 0}}),
            );
            let got = api(&mut c, "$JS.API.STREAM.INFO.F", "");
            expect_has(
                &mut c,
                &got,
                json!({"state": {"messages": 0, "first_seq": 3, "last_seq": 2}}),
            );
        },
    );
}

/// On a workqueue stream the partition is checked before the deliver
/// policy: an overlapping filter with deliver last is 10100, an unfiltered
/// one 10099 (issue 10).
#[test]
fn cons_combined_workqueue_checks_in_order() {
    run_js(
        "cons_combined_workqueue_checks_in_order",
        |s: &mut Session| {
            let mut c = js_client(s, "c");
            stream_with(&mut c, "W", r#","retention":"workqueue""#, &[]);
            create_ok(
                &mut c,
                "$JS.API.CONSUMER.CREATE.W.C1",
                r#"{"stream_name":"W","config":{"durable_name":"C1","ack_policy":"explicit","filter_subject":"w.a"}}"#,
            );
            consumer_error(
                &mut c,
                "$JS.API.CONSUMER.CREATE.W.C2",
                r#"{"stream_name":"W","config":{"durable_name":"C2","ack_policy":"explicit","deliver_policy":"last","filter_subject":"w.a"}}"#,
                (
                    400,
                    10100,
                    "filtered consumer not unique on workqueue stream",
                ),
            );
            consumer_error(
                &mut c,
                "$JS.API.CONSUMER.CREATE.W.C3",
                r#"{"stream_name":"W","config":{"durable_name":"C3","ack_policy":"explicit","deliver_policy":"last"}}"#,
                (
                    400,
                    10099,
                    "multiple non-filtered consumers not allowed on workqueue stream",
                ),
            );
            consumer_error(
                &mut c,
                "$JS.API.CONSUMER.CREATE.W.C4",
                r#"{"stream_name":"W","config":{"durable_name":"C4","ack_policy":"explicit","deliver_policy":"last","filter_subject":"w.b"}}"#,
                (
                    400,
                    10101,
                    "consumer must be deliver all on workqueue stream",
                ),
            );
        },
    );
}

/// Where new consumers start, as their delivered and ack floor positions
/// show: deliver last with a filter that matches nothing, by start
/// sequence before the first message, deliver new and all on an empty
/// stream and on a purged one (issue 10).
#[test]
fn cons_combined_start_positions() {
    run_js("cons_combined_start_positions", |s: &mut Session| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "S",
            "",
            &[("s.a", "m1"), ("s.b", "m2"), ("s.a", "m3")],
        );
        stream_with(&mut c, "E", "", &[]);
        stream_with(&mut c, "P", "", &[("p.a", "m1"), ("p.a", "m2")]);
        api(&mut c, "$JS.API.STREAM.PURGE.P", "");
        api(&mut c, "$JS.API.STREAM.MSG.DELETE.S", r#"{"seq":1}"#);
        let cases = [
            (
                "S",
                "L1",
                r#""deliver_policy":"last","filter_subject":"s.zz""#,
            ),
            (
                "S",
                "L2",
                r#""deliver_policy":"last","filter_subject":"s.b""#,
            ),
            ("S", "L3", r#""deliver_policy":"last""#),
            (
                "S",
                "Q1",
                r#""deliver_policy":"by_start_sequence","opt_start_seq":1"#,
            ),
            (
                "S",
                "Q2",
                r#""deliver_policy":"by_start_sequence","opt_start_seq":9"#,
            ),
            ("S", "N1", r#""deliver_policy":"new""#),
            ("S", "A1", r#""deliver_policy":"all""#),
            (
                "S",
                "P1",
                r#""deliver_policy":"last_per_subject","filter_subject":"s.zz""#,
            ),
            ("E", "N2", r#""deliver_policy":"new""#),
            ("E", "A2", r#""deliver_policy":"all""#),
            ("E", "L4", r#""deliver_policy":"last""#),
            ("P", "N3", r#""deliver_policy":"new""#),
            ("P", "A3", r#""deliver_policy":"all""#),
            (
                "P",
                "L5",
                r#""deliver_policy":"last","filter_subject":"p.a""#,
            ),
        ];
        // The create replies, recorded whole, show each start position.
        for (stream, name, extra) in cases {
            create_ok(
                &mut c,
                &format!("$JS.API.CONSUMER.CREATE.{stream}.{name}"),
                &format!(
                    r#"{{"stream_name":"{stream}","config":{{"durable_name":"{name}","ack_policy":"explicit",{extra}}}}}"#
                ),
            );
        }
    });
}

/// A consumer's position moves past what it will never deliver: past a
/// purge, and past messages its filter does not match once a pull reads
/// to the end (issue 10).
#[test]
fn cons_combined_position_past_undeliverable() {
    run_js(
        "cons_combined_position_past_undeliverable",
        |s: &mut Session| {
            let mut c = js_client(s, "c");
            stream_with(&mut c, "S", "", &[]);
            stream_with(&mut c, "M", r#","storage":"memory""#, &[]);
            create_ok(
                &mut c,
                "$JS.API.CONSUMER.CREATE.S.C1",
                r#"{"stream_name":"S","config":{"durable_name":"C1","ack_policy":"explicit"}}"#,
            );
            create_ok(
                &mut c,
                "$JS.API.CONSUMER.CREATE.M.C2",
                r#"{"stream_name":"M","config":{"durable_name":"C2","ack_policy":"explicit","filter_subject":"m.a"}}"#,
            );
            store(&mut c, "S", "s.b", "m1", 1);
            api(&mut c, "$JS.API.STREAM.PURGE.S", "");
            capi(&mut c, "$JS.API.CONSUMER.INFO.S.C1", "");
            pull(&mut c, "S", "C1", r#"{"batch":1,"no_wait":true}"#, 1);
            capi(&mut c, "$JS.API.CONSUMER.INFO.S.C1", "");
            store(&mut c, "M", "m.b", "m1", 1);
            pull(&mut c, "M", "C2", r#"{"batch":1,"expires":100000000}"#, 1);
            capi(&mut c, "$JS.API.CONSUMER.INFO.M.C2", "");
        },
    );
}

/// CONSUMER.RESET (ADR-60): delivery starts over past the ack floor (an
/// empty request) or at a sequence, with the consumer's info and
/// `reset_seq` in the reply; refused below the deliver policy's start and
/// for policies that do not allow it; a missing consumer finds no
/// responder.
#[test]
fn cons_reset() {
    run_js("cons_reset", |s| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "S",
            "",
            &[
                ("s.a", "m1"),
                ("s.b", "m2"),
                ("s.a", "m3"),
                ("s.c", "m4"),
                ("s.d", "m5"),
            ],
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.D",
            r#"{"stream_name":"S","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        pull(&mut c, "S", "D", r#"{"batch":3}"#, 3);
        ack(&mut c, "S", "D", (1, 1, 1), "+ACK");
        ack(&mut c, "S", "D", (1, 2, 2), "+ACK");
        // Back to just past the ack floor: the third comes again.
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.D", "");
        pull(&mut c, "S", "D", r#"{"batch":1}"#, 1);
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.D", r#"{"seq":5}"#);
        pull(&mut c, "S", "D", r#"{"batch":1}"#, 1);
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.D", r#"{"seq":1}"#);
        capi(&mut c, "$JS.API.CONSUMER.INFO.S.D", "");
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.D", "{not json");
        // By start sequence: not below it.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.B",
            r#"{"stream_name":"S","config":{"durable_name":"B","ack_policy":"explicit","deliver_policy":"by_start_sequence","opt_start_seq":3}}"#,
        );
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.B", r#"{"seq":2}"#);
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.B", r#"{"seq":4}"#);
        // Deliver new: only back to the ack floor.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S.N",
            r#"{"stream_name":"S","config":{"durable_name":"N","ack_policy":"explicit","deliver_policy":"new"}}"#,
        );
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.N", r#"{"seq":2}"#);
        capi(&mut c, "$JS.API.CONSUMER.RESET.S.N", "");
        // A reset of a consumer or stream that is not there goes
        // unanswered (the API's subscription takes it).
        c.exchange(b"PUB $JS.API.CONSUMER.RESET.S.X _INBOX.js 0\r\n\r\n")
            .expect(b"PONG\r\n");
        c.exchange(b"PUB $JS.API.CONSUMER.RESET.Q.D _INBOX.js 0\r\n\r\n")
            .expect(b"PONG\r\n");
    });
}

/// A stream's `consumer_limits`: defaults for consumers that set none,
/// consumers over them refused, and stream updates that would put
/// existing consumers over them refused.
#[test]
fn cons_stream_consumer_limits() {
    run_js("cons_stream_consumer_limits", |s| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "L",
            r#","consumer_limits":{"inactive_threshold":30000000000,"max_ack_pending":100}"#,
            &[("l.a", "m1")],
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.CREATE.L.D",
            r#"{"stream_name":"L","config":{"durable_name":"D","ack_policy":"explicit"}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.CREATE.L.E",
            r#"{"stream_name":"L","config":{"name":"E","ack_policy":"explicit","max_ack_pending":200}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.CREATE.L.F",
            r#"{"stream_name":"L","config":{"name":"F","ack_policy":"explicit","inactive_threshold":60000000000}}"#,
        );
        capi(
            &mut c,
            "$JS.API.CONSUMER.CREATE.L.G",
            r#"{"stream_name":"L","config":{"name":"G","ack_policy":"explicit","max_ack_pending":50,"inactive_threshold":5000000000}}"#,
        );
        // Lower limits than a consumer has: refused (one consumer over
        // them: the reference lists several in its map's random order).
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.L",
            r#"{"name":"L","subjects":["l.>"],"consumer_limits":{"max_ack_pending":60,"inactive_threshold":30000000000}}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.L",
            r#"{"name":"L","subjects":["l.>"],"consumer_limits":{"max_ack_pending":1000,"inactive_threshold":60000000000}}"#,
        );
    });
}

/// ADR-42 priority groups on pull consumers: the request checks (group
/// missing or unknown, priority out of range, fields of another policy),
/// overflow requests served only past their `min_pending`, and
/// prioritized requests served lowest priority first.
#[test]
fn cons_priority_groups() {
    run_js("cons_priority_groups", |s| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "P",
            "",
            &[("p.a", "m1"), ("p.b", "m2"), ("p.c", "m3")],
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.P.O",
            r#"{"stream_name":"P","config":{"durable_name":"O","ack_policy":"explicit","priority_policy":"overflow","priority_groups":["A"]}}"#,
        );
        // Refused requests.
        for body in [
            r#"{"batch":1,"no_wait":true}"#,
            r#"{"batch":1,"group":"B","no_wait":true}"#,
            r#"{"batch":1,"group":"A","priority":10,"no_wait":true}"#,
        ] {
            pull(&mut c, "P", "O", body, 1);
        }
        // Over the threshold: not served, it times out.
        pull(
            &mut c,
            "P",
            "O",
            r#"{"batch":1,"group":"A","min_pending":5,"expires":300000000}"#,
            1,
        );
        // Under it: served.
        pull(
            &mut c,
            "P",
            "O",
            r#"{"batch":1,"group":"A","min_pending":2,"expires":1000000000}"#,
            1,
        );
        // A pin id on an overflow consumer: a 400, and still served.
        pull(
            &mut c,
            "P",
            "O",
            r#"{"batch":1,"group":"A","id":"x","expires":1000000000}"#,
            2,
        );

        // Prioritized: the lower priority value first.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.P.R",
            r#"{"stream_name":"P","config":{"durable_name":"R","ack_policy":"explicit","deliver_policy":"new","priority_policy":"prioritized","priority_groups":["A"]}}"#,
        );
        let mut p = s.client("p");
        p.exchange(b"SUB _INBOX.low 11\r\nSUB _INBOX.high 12\r\n")
            .expect(b"PONG\r\n");
        let next = |reply: &str, body: &str| {
            format!(
                "PUB $JS.API.CONSUMER.MSG.NEXT.P.R {reply} {}\r\n{body}\r\n",
                body.len()
            )
        };
        p.exchange(
            next(
                "_INBOX.low",
                r#"{"batch":2,"group":"A","priority":5,"expires":2000000000}"#,
            )
            .as_bytes(),
        );
        p.exchange(
            next(
                "_INBOX.high",
                r#"{"batch":2,"group":"A","priority":1,"expires":2000000000}"#,
            )
            .as_bytes(),
        );
        for (i, subject) in ["p.x", "p.y", "p.z"].iter().enumerate() {
            store(&mut c, "P", subject, "n", 4 + i as u64);
        }
        // Which request got which message (the pending count in the ack
        // subject depends on how far the publisher got meanwhile).
        let got = p.read_msgs_unrecorded(3);
        for frame in split_frames(&got) {
            let line = String::from_utf8_lossy(frame);
            let head: Vec<&str> = line.split(' ').take(3).collect();
            p.record(head.join(" "));
        }
    });
}

/// Pinned client (ADR-42): the first request without an id takes the
/// pin and every message carries it in `Nats-Pin-Id`; requests without
/// the id wait (and time out), a wrong id is refused with 423; UNPIN
/// (with its checks) takes the pin back and the next request gets a new
/// one. Pin ids and times are masked (random on both servers).
#[test]
fn cons_pinned_client() {
    run_js("cons_pinned_client", |s| {
        let mut c = js_client(s, "c");
        stream_with(
            &mut c,
            "K",
            "",
            &[("k.a", "m1"), ("k.b", "m2"), ("k.c", "m3")],
        );
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.K.P",
            r#"{"stream_name":"K","config":{"durable_name":"P","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A"]}}"#,
        );
        let mut p = s.client("p");
        p.exchange(b"SUB _INBOX.one 11\r\nSUB _INBOX.two 12\r\n")
            .expect(b"PONG\r\n");
        let next = |reply: &str, body: &str| {
            format!(
                "PUB $JS.API.CONSUMER.MSG.NEXT.K.P {reply} {}\r\n{body}\r\n",
                body.len()
            )
        };
        // Frames with the pin id and the ack time masked; returns the id.
        let record = |p: &mut crate::wire::Conn, count: usize| -> Option<String> {
            let got = p.read_msgs_unrecorded(count);
            let mut pin = None;
            for frame in split_frames(&got) {
                let text = String::from_utf8_lossy(frame).into_owned();
                let mut lines: Vec<String> = Vec::new();
                for (i, line) in text.split("\r\n").enumerate() {
                    if let Some(id) = line.strip_prefix("Nats-Pin-Id: ") {
                        pin = Some(id.to_string());
                        lines.push(format!("Nats-Pin-Id: <pin {}>", id.len()));
                    } else if i == 0 {
                        let tokens: Vec<String> = line.split(' ').map(mask_ack_subject).collect();
                        lines.push(tokens.join(" "));
                    } else {
                        lines.push(line.to_string());
                    }
                }
                p.record(lines.join("|"));
            }
            pin
        };
        p.send(
            next(
                "_INBOX.one",
                r#"{"batch":1,"group":"A","expires":2000000000}"#,
            )
            .as_bytes(),
        );
        let pin = record(&mut p, 1).unwrap_or_default();
        // Not the holder: waits, and times out.
        p.send(
            next(
                "_INBOX.two",
                r#"{"batch":1,"group":"A","expires":300000000}"#,
            )
            .as_bytes(),
        );
        record(&mut p, 1);
        // A wrong id: refused at once.
        p.send(
            next(
                "_INBOX.two",
                r#"{"batch":1,"group":"A","id":"bogus","expires":1000000000}"#,
            )
            .as_bytes(),
        );
        record(&mut p, 1);
        // The holder, with its id: served.
        let body = format!(r#"{{"batch":1,"group":"A","id":"{pin}","expires":1000000000}}"#);
        let shown = next("_INBOX.one", &body).replace(&pin, "<pin>");
        p.send_as(next("_INBOX.one", &body).as_bytes(), &shown);
        record(&mut p, 1);
        // The info shows the pin.
        let got = send_and_read(&mut c, "$JS.API.CONSUMER.INFO.K.P", &[], b"", 1);
        if let Some(reply) = got.first() {
            let v: Value = serde_json::from_slice(&reply.payload).unwrap_or(Value::Null);
            let g = &v["priority_groups"][0];
            c.record(format!(
                "info group {} pinned {} ts set {}",
                g["group"],
                g["pinned_client_id"].as_str() == Some(pin.as_str()),
                g["pinned_ts"]
                    .as_str()
                    .is_some_and(|t| !t.starts_with("0001-"))
            ));
        }
        // UNPIN and its refusals.
        for body in [
            "",
            r#"{"group":""}"#,
            r#"{"group":"no spaces allowed"}"#,
            r#"{"group":"Z"}"#,
        ] {
            capi(&mut c, "$JS.API.CONSUMER.UNPIN.K.P", body);
        }
        capi(&mut c, "$JS.API.CONSUMER.UNPIN.K.Q", r#"{"group":"A"}"#);
        capi(&mut c, "$JS.API.CONSUMER.UNPIN.Z.P", r#"{"group":"A"}"#);
        capi(&mut c, "$JS.API.CONSUMER.UNPIN.K.P", r#"{"group":"A"}"#);
        // The old id is refused now; a request without one gets a new pin.
        p.send_as(next("_INBOX.one", &body).as_bytes(), &shown);
        record(&mut p, 1);
        p.send(
            next(
                "_INBOX.two",
                r#"{"batch":1,"group":"A","expires":1000000000}"#,
            )
            .as_bytes(),
        );
        let second = record(&mut p, 1).unwrap_or_default();
        p.record(format!(
            "a new pin: {}",
            !second.is_empty() && second != pin
        ));

        // A holder that stops pulling loses the pin after priority_timeout:
        // the waiting request then gets it.
        create_ok(
            &mut c,
            "$JS.API.CONSUMER.CREATE.K.T",
            r#"{"stream_name":"K","config":{"durable_name":"T","ack_policy":"explicit","priority_policy":"pinned_client","priority_groups":["A"],"priority_timeout":300000000}}"#,
        );
        let next_t = |reply: &str, body: &str| {
            format!(
                "PUB $JS.API.CONSUMER.MSG.NEXT.K.T {reply} {}\r\n{body}\r\n",
                body.len()
            )
        };
        p.send(
            next_t(
                "_INBOX.one",
                r#"{"batch":1,"group":"A","expires":2000000000}"#,
            )
            .as_bytes(),
        );
        let first = record(&mut p, 1).unwrap_or_default();
        p.send(
            next_t(
                "_INBOX.two",
                r#"{"batch":1,"group":"A","expires":3000000000}"#,
            )
            .as_bytes(),
        );
        let taken = record(&mut p, 1).unwrap_or_default();
        p.record(format!(
            "pin passed on: {}",
            !taken.is_empty() && taken != first
        ));
    });
}
