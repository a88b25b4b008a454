//! Mirrors and sources, compared with the reference: what a mirror holds
//! (the origin's sequences, subjects, headers and gaps), what a source
//! stores (`Nats-Stream-Source`, filters, transforms), what stream info
//! says of them once caught up, and that the consumers they read through
//! are not listed on the origin.
//!
//! Copying runs in the background on both servers, so each scenario waits
//! (unrecorded polls of stream info, bounded) until the copies are there
//! before it records anything; `active` (nanoseconds since the origin was
//! last heard) is masked.

use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::jetstream::{
    api, create, flatten, js_client, mask, parse_reply, publish, publish_bytes, run_js,
};
use crate::transcript::split_frames;
use crate::wire::Conn;

/// How long a mirror or source may take to catch up.
const CATCH_UP: Duration = Duration::from_secs(20);

/// Stream info, neither logged nor recorded.
fn info_unrecorded(c: &mut Conn, stream: &str) -> Value {
    let subject = format!("$JS.API.STREAM.INFO.{stream}");
    let got = c.poll_unlogged(&publish_bytes(&subject, &[], b""), 1);
    split_frames(&got)
        .into_iter()
        .find_map(parse_reply)
        .and_then(|r| serde_json::from_slice(&r.payload).ok())
        .unwrap_or(Value::Null)
}

/// Waits until `stream` holds `n` messages.
fn wait_for(c: &mut Conn, stream: &str, n: u64) {
    let start = Instant::now();
    loop {
        let info = info_unrecorded(c, stream);
        if info.pointer("/state/messages").and_then(Value::as_u64) == Some(n) {
            return;
        }
        if start.elapsed() > CATCH_UP {
            c.check(
                false,
                format!("{stream} did not reach {n} messages: {info}"),
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Records stream info with `active` masked in its mirror and sources.
fn record_info(c: &mut Conn, stream: &str) {
    let info = info_unrecorded(c, stream);
    c.record(format!("stream info {stream}:"));
    record_masked(c, info);
}

/// Sends an API request and records its reply with `active` masked.
fn api_masked(c: &mut Conn, subject: &str, body: &str) {
    c.send(&publish_bytes(subject, &[], body.as_bytes()));
    let got = c.read_msgs_unrecorded(1);
    let reply = split_frames(&got)
        .into_iter()
        .find_map(parse_reply)
        .and_then(|r| serde_json::from_slice(&r.payload).ok())
        .unwrap_or(Value::Null);
    c.record("reply:");
    record_masked(c, reply);
}

fn record_masked(c: &mut Conn, mut info: Value) {
    for path in ["/mirror/active"] {
        if let Some(v) = info.pointer_mut(path) {
            if v.as_i64().is_some_and(|n| n >= 0) {
                *v = json!("<active>");
            }
        }
    }
    if let Some(Value::Array(sources)) = info.get_mut("sources") {
        for s in sources.iter_mut() {
            if let Some(v) = s.get_mut("active") {
                if v.as_i64().is_some_and(|n| n >= 0) {
                    *v = json!("<active>");
                }
            }
        }
        // The reference lists them in its map's order: compare sorted.
        sources.sort_by_key(Value::to_string);
    }
    let mut problems = Vec::new();
    mask(&mut info, &mut problems);
    for p in problems {
        c.check(false, p);
    }
    for line in flatten(&info) {
        c.record(format!("  {line}"));
    }
}

fn get(c: &mut Conn, stream: &str, seq: u64) {
    api(
        c,
        &format!("$JS.API.STREAM.MSG.GET.{stream}"),
        &format!(r#"{{"seq":{seq}}}"#),
    );
}

/// A mirror: the origin's messages at their sequences, with their
/// subjects and headers (the `Nats-Expected-` ones dropped), the origin's
/// deleted messages as gaps, new ones following; its create reply and
/// info; the origin lists no consumer for it.
#[test]
fn js_mirror() {
    run_js("js_mirror", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "O", r#"{"name":"O","subjects":["o.>"]}"#);
        publish(&mut c, "o.1", &[], b"one");
        publish(&mut c, "o.2", &[("K", "v")], b"two");
        publish(
            &mut c,
            "o.3",
            &[("Nats-Expected-Stream", "O"), ("A", "b")],
            b"three",
        );
        publish(&mut c, "o.4", &[], b"four");
        publish(&mut c, "o.5", &[("Nats-Msg-Id", "id5")], b"five");
        for seq in [2, 4] {
            api(
                &mut c,
                "$JS.API.STREAM.MSG.DELETE.O",
                &format!(r#"{{"seq":{seq}}}"#),
            );
        }
        create(&mut c, "M", r#"{"name":"M","mirror":{"name":"O"}}"#);
        wait_for(&mut c, "M", 3);
        publish(&mut c, "o.6", &[], b"six");
        wait_for(&mut c, "M", 4);
        record_info(&mut c, "M");
        for seq in 1..=6 {
            get(&mut c, "M", seq);
        }
        api(&mut c, "$JS.API.CONSUMER.NAMES.O", "");
        // A filtered mirror with a transform.
        let config = json!({
            "name": "MT",
            "mirror": {"name": "O", "subject_transforms": [{"src": "o.5", "dest": "five"}]},
        });
        create(&mut c, "MT", &config.to_string());
        wait_for(&mut c, "MT", 1);
        record_info(&mut c, "MT");
        get(&mut c, "MT", 5);
        // A mirror's config cannot change.
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.M",
            r#"{"name":"M","mirror":{"name":"O","filter_subject":"o.1"}}"#,
        );
    });
}

/// Sources: copies stored as new messages with `Nats-Stream-Source`
/// (the origin, its sequence, the filter and transform, the origin
/// subject), a filter, a transform, a second source added by an update,
/// and stream info's `sources` once caught up.
#[test]
fn js_sources() {
    run_js("js_sources", |s| {
        let mut c = js_client(s, "c");
        create(&mut c, "A", r#"{"name":"A","subjects":["a.>"]}"#);
        create(&mut c, "B", r#"{"name":"B","subjects":["b.>"]}"#);
        publish(&mut c, "a.1", &[("H", "1")], b"a1");
        publish(&mut c, "a.2", &[], b"a2");
        publish(&mut c, "b.x", &[], b"bx");
        publish(&mut c, "b.y", &[], b"by");
        create(&mut c, "S", r#"{"name":"S","sources":[{"name":"A"}]}"#);
        wait_for(&mut c, "S", 2);
        let config = json!({
            "name": "S",
            "sources": [
                {"name": "A"},
                {"name": "B", "subject_transforms": [{"src": "b.x", "dest": "from_b.x"}]},
            ],
        });
        api_masked(&mut c, "$JS.API.STREAM.UPDATE.S", &config.to_string());
        wait_for(&mut c, "S", 3);
        publish(&mut c, "a.3", &[], b"a3");
        wait_for(&mut c, "S", 4);
        record_info(&mut c, "S");
        for seq in 1..=4 {
            get(&mut c, "S", seq);
        }
        api(&mut c, "$JS.API.CONSUMER.NAMES.A", "");
        // A filtered source into a stream with subjects of its own.
        let config = json!({
            "name": "F",
            "subjects": ["f.>"],
            "sources": [{"name": "A", "filter_subject": "a.2"}],
        });
        create(&mut c, "F", &config.to_string());
        publish(&mut c, "f.own", &[], b"own");
        wait_for(&mut c, "F", 2);
        record_info(&mut c, "F");
        // A cycle: A sourcing S, which sources A.
        let config = json!({"name": "A", "subjects": ["a.>"], "sources": [{"name": "S"}]});
        api(&mut c, "$JS.API.STREAM.UPDATE.A", &config.to_string());
        // A copy allowing smaller messages than its origin.
        create(
            &mut c,
            "BIG",
            r#"{"name":"BIG","subjects":["big"],"max_msg_size":1000}"#,
        );
        let config = json!({"name": "SMALL", "max_msg_size": 10, "sources": [{"name": "BIG"}]});
        api(&mut c, "$JS.API.STREAM.CREATE.SMALL", &config.to_string());
        let config = json!({"name": "SMALLM", "max_msg_size": 10, "mirror": {"name": "BIG"}});
        api(&mut c, "$JS.API.STREAM.CREATE.SMALLM", &config.to_string());
        // An external deliver prefix over the origin's subjects.
        let config = json!({
            "name": "EXT",
            "sources": [{"name": "BIG", "external": {"api": "$JS.x.API", "deliver": "big"}}, {"name": "BIG"}],
        });
        api_masked(&mut c, "$JS.API.STREAM.CREATE.EXT", &config.to_string());
    });
}
