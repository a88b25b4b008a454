//! The operations a differential run applies, and the seeded generator
//! that writes sequences of them.
//!
//! An operation is decided entirely by the generator, never by a reply, so
//! a list of operations replays exactly (`replay`, the minimiser). Where an
//! operation needs something only the server knows (the ack subject of a
//! delivered message), it names it by position (`Ack::pick`), and each
//! target resolves that against what it received itself.
//!
//! The streams are `S1` (subjects `s1.>`) and `S2` (`s2.*`), the consumers
//! `C1`..`C3` on either; most operations touch those, a few are invalid on
//! purpose (unknown names, bad JSON, wrong types, overlapping subjects).

use serde::{Deserialize, Serialize};
use serde_json::{json, Map, Value};

use super::rng::Rng;

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(tag = "op", rename_all = "snake_case")]
pub enum Op {
    /// A request (a JS API call, a publish, a direct get): one reply, or
    /// none. `stream` is the stream whose state is compared afterwards.
    Request {
        subject: String,
        #[serde(default, skip_serializing_if = "Vec::is_empty")]
        headers: Vec<(String, String)>,
        body: String,
        #[serde(default, skip_serializing_if = "Option::is_none")]
        stream: Option<String>,
    },
    /// A pull request to a consumer; every delivery and the status that
    /// ends it are compared.
    Fetch {
        stream: String,
        consumer: String,
        batch: u32,
        no_wait: bool,
        /// 0: no expiry.
        expires_ms: u64,
    },
    /// An ack (`kind` is its payload) sent as a request to the ack subject
    /// of the `pick`th delivery (modulo their number) this consumer made.
    Ack {
        stream: String,
        consumer: String,
        pick: u32,
        kind: String,
    },
}

impl Op {
    /// The stream whose state is compared after this operation.
    pub fn stream(&self) -> Option<&str> {
        match self {
            Op::Request { stream, .. } => stream.as_deref(),
            Op::Fetch { stream, .. } | Op::Ack { stream, .. } => Some(stream),
        }
    }

    /// One line of JSON: the replay format.
    pub fn to_line(&self) -> String {
        serde_json::to_string(self).expect("an op serialises")
    }

    pub fn from_line(line: &str) -> Result<Op, serde_json::Error> {
        serde_json::from_str(line)
    }
}

const STREAMS: [&str; 2] = ["S1", "S2"];
const CONSUMERS: [&str; 3] = ["C1", "C2", "C3"];
const MSG_IDS: [&str; 4] = ["m1", "m2", "m3", "m4"];

fn stream_subjects(stream: &str) -> (&'static str, &'static [&'static str]) {
    match stream {
        "S1" => ("s1.>", &["s1.a", "s1.b", "s1.c.d"]),
        _ => ("s2.*", &["s2.a", "s2.b", "s2.c"]),
    }
}

fn filters(stream: &str) -> &'static [&'static str] {
    match stream {
        "S1" => &["s1.a", "s1.b", "s1.*", "s1.>", "s1.c.>", "s1.zz"],
        _ => &["s2.a", "s2.b", "s2.*", "s2.c", "s2.zz"],
    }
}

/// What the generator remembers of a stream it created (whether or not the
/// server accepted it): enough to write plausible updates.
#[derive(Clone)]
struct Made {
    config: Map<String, Value>,
}

/// Writes `count` operations from `seed`.
pub fn generate(seed: u64, count: usize) -> Vec<Op> {
    let mut rng = Rng::new(seed);
    let storage = [rng.pick(&["file", "memory"]), rng.pick(&["file", "memory"])];
    let short_window = [rng.chance(5), rng.chance(5)];
    let mut g = Generator {
        rng,
        storage,
        short_window,
        made: [None, None],
        filtered: Default::default(),
    };
    (0..count).map(|_| g.next()).collect()
}

/// The operations for comparing tern's file store with its memory store:
/// purges are whole purges and rollup headers are refused ones ("bad").
/// The reference's two stores report what a filtered purge or a rollup
/// takes differently (its memory store one message at a time, its file
/// store as a batch or as one notice naming the purge's subject), and the
/// consumers' pending state and deliveries follow from that; tern follows
/// each store, so those differences are by design (the comparison with
/// the reference checks both stores).
pub fn for_storage_pair(ops: Vec<Op>) -> Vec<Op> {
    ops.into_iter()
        .map(|op| match op {
            Op::Request {
                subject,
                headers,
                body,
                stream,
            } => {
                let body = if subject.starts_with("$JS.API.STREAM.PURGE.") {
                    String::new()
                } else {
                    body
                };
                let headers = headers
                    .into_iter()
                    .map(|(k, v)| {
                        if k == "Nats-Rollup" {
                            (k, "bad".to_string())
                        } else {
                            (k, v)
                        }
                    })
                    .collect();
                Op::Request {
                    subject,
                    headers,
                    body,
                    stream,
                }
            }
            other => other,
        })
        .collect()
}

struct Generator {
    rng: Rng,
    made: [Option<Made>; 2],
    /// Each stream name keeps one storage type for the whole sequence, so
    /// what the generator believes of a stream holds whichever of its
    /// creates the server accepted.
    storage: [&'static str; 2],
    /// Each stream name keeps one duplicate window (see `stream_config`).
    short_window: [bool; 2],
    /// Consumers (stream index, name) last created with a filter. They
    /// keep one: nats-server 2.14 stops counting new messages for a
    /// consumer whose update removes its filters (it registers no subject
    /// to be told of them), so its `num_pending` stays stale; tern counts
    /// them. That reference bug is left out of the sequences.
    filtered: std::collections::HashSet<(usize, &'static str)>,
}

impl Generator {
    fn next(&mut self) -> Op {
        // Without a stream almost nothing is interesting: make one.
        if self.made.iter().all(Option::is_none) && self.rng.chance(80) {
            return self.create_stream();
        }
        let weights = [
            30, // publish
            13, // fetch
            13, // ack
            6,  // consumer create
            3,  // stream create
            4,  // stream update
            4,  // purge
            3,  // message delete
            3,  // message get
            3,  // direct get
            2,  // stream info, names, list
            2,  // consumer delete
            2,  // consumer info, names, list
            1,  // stream delete
            1,  // account info
            3,  // invalid requests
        ];
        match self.rng.weighted(&weights) {
            0 => self.publish(),
            1 => self.fetch(),
            2 => self.ack(),
            3 => self.create_consumer(),
            4 => self.create_stream(),
            5 => self.update_stream(),
            6 => self.purge(),
            7 => self.delete_msg(),
            8 => self.get_msg(),
            9 => self.direct_get(),
            10 => self.stream_queries(),
            11 => {
                let (s, c) = (self.stream(), self.consumer());
                self.filtered.remove(&(index(s), c));
                api(&format!("$JS.API.CONSUMER.DELETE.{s}.{c}"), "", Some(s))
            }
            12 => self.consumer_queries(),
            13 => {
                let s = self.stream();
                self.made[index(s)] = None;
                self.filtered.retain(|(i, _)| *i != index(s));
                api(&format!("$JS.API.STREAM.DELETE.{s}"), "", None)
            }
            14 => api("$JS.API.INFO", "", None),
            _ => self.invalid(),
        }
    }

    /// A stream, mostly one the generator created.
    fn stream(&mut self) -> &'static str {
        let live: Vec<&'static str> = STREAMS
            .iter()
            .copied()
            .filter(|s| self.made[index(s)].is_some())
            .collect();
        if !live.is_empty() && self.rng.chance(92) {
            self.rng.pick(&live)
        } else {
            self.rng.pick(&STREAMS)
        }
    }

    fn consumer(&mut self) -> &'static str {
        self.rng.pick(&CONSUMERS)
    }

    fn seq(&mut self) -> i64 {
        self.rng.range(0, 12)
    }

    fn subject_of(&mut self, stream: &str) -> &'static str {
        self.rng.pick(stream_subjects(stream).1)
    }

    fn stream_config(&mut self, name: &str) -> Map<String, Value> {
        let r = &mut self.rng;
        let mut c = Map::new();
        c.insert("name".into(), json!(name));
        c.insert("subjects".into(), json!([stream_subjects(name).0]));
        c.insert("storage".into(), json!(self.storage[index(name)]));
        let retention = r.pick(&["limits", "limits", "limits", "interest", "workqueue"]);
        c.insert("retention".into(), json!(retention));
        self.limits(&mut c);
        let r = &mut self.rng;
        // One window per stream name, never changed: nats-server 2.14
        // stamps the id of a message an interest stream drops for lack of
        // interest with time 0, so it is forgotten at the next sweep of
        // ids, which a changed window runs at once; tern keeps it for the
        // window.
        if self.short_window[index(name)] {
            c.insert("duplicate_window".into(), json!(60_000_000_000u64));
        }
        if r.chance(30) {
            c.insert("allow_rollup_hdrs".into(), json!(true));
        }
        if r.chance(8) {
            c.insert("deny_delete".into(), json!(true));
        }
        if r.chance(8) {
            c.insert("deny_purge".into(), json!(true));
        }
        if r.chance(40) {
            c.insert("allow_direct".into(), json!(true));
        }
        if r.chance(8) {
            c.insert("max_consumers".into(), json!(r.range(1, 2)));
        }
        if r.chance(5) {
            // Invalid: overlaps the other stream's subjects.
            let other = if name == "S1" { "s2.a" } else { "s1.a" };
            c.insert("subjects".into(), json!([other]));
        }
        c
    }

    /// The limits a create or an update sets.
    fn limits(&mut self, c: &mut Map<String, Value>) {
        let r = &mut self.rng;
        for key in [
            "max_msgs",
            "max_bytes",
            "max_msgs_per_subject",
            "max_msg_size",
            "discard",
            "discard_new_per_subject",
        ] {
            c.remove(key);
        }
        if r.chance(40) {
            c.insert("max_msgs".into(), json!(r.range(1, 8)));
        }
        if r.chance(15) {
            c.insert("max_bytes".into(), json!(r.range(100, 600)));
        }
        let per_subject = r.chance(30);
        if per_subject {
            c.insert("max_msgs_per_subject".into(), json!(r.range(1, 3)));
        }
        if r.chance(8) {
            c.insert("max_msg_size".into(), json!(r.range(20, 80)));
        }
        if r.chance(30) {
            c.insert("discard".into(), json!("new"));
            if per_subject && r.chance(50) {
                c.insert("discard_new_per_subject".into(), json!(true));
            }
        }
    }

    fn create_stream(&mut self) -> Op {
        let name = self.rng.pick(&STREAMS);
        let config = self.stream_config(name);
        self.made[index(name)] = Some(Made {
            config: config.clone(),
        });
        let subject = format!("$JS.API.STREAM.CREATE.{name}");
        if self.rng.chance(3) {
            // The name in the subject and the body disagree.
            let mut c = config;
            c.insert("name".into(), json!("OTHER"));
            return api(&subject, &Value::Object(c).to_string(), Some(name));
        }
        api(&subject, &Value::Object(config).to_string(), Some(name))
    }

    fn update_stream(&mut self) -> Op {
        let name = self.stream();
        let mut config = match &self.made[index(name)] {
            Some(m) => m.config.clone(),
            None => self.stream_config(name),
        };
        self.limits(&mut config);
        let r = &mut self.rng;
        if r.chance(20) {
            config.insert("allow_rollup_hdrs".into(), json!(r.chance(50)));
        }
        if r.chance(10) {
            config.insert("allow_direct".into(), json!(r.chance(50)));
        }
        if r.chance(5) {
            // Not allowed to change: an error on both.
            let retention = r.pick(&["limits", "interest", "workqueue"]);
            config.insert("retention".into(), json!(retention));
        }
        if r.chance(4) {
            config.insert("sealed".into(), json!(true));
        }
        if let Some(m) = &mut self.made[index(name)] {
            m.config = config.clone();
        }
        api(
            &format!("$JS.API.STREAM.UPDATE.{name}"),
            &Value::Object(config).to_string(),
            Some(name),
        )
    }

    fn publish(&mut self) -> Op {
        let stream = self.stream();
        let subject = if self.rng.chance(3) {
            "nowhere.x"
        } else {
            self.subject_of(stream)
        };
        let mut headers = Vec::new();
        let r = &mut self.rng;
        if r.chance(20) {
            headers.push(("Nats-Msg-Id".into(), r.pick(&MSG_IDS).to_string()));
        }
        if r.chance(7) {
            headers.push((
                "Nats-Expected-Last-Sequence".into(),
                r.range(0, 10).to_string(),
            ));
        }
        if r.chance(7) {
            headers.push((
                "Nats-Expected-Last-Subject-Sequence".into(),
                r.range(0, 10).to_string(),
            ));
        }
        if r.chance(4) {
            headers.push((
                "Nats-Expected-Last-Msg-Id".into(),
                r.pick(&MSG_IDS).to_string(),
            ));
        }
        if r.chance(4) {
            headers.push((
                "Nats-Expected-Stream".into(),
                r.pick(&["S1", "S2", "X"]).to_string(),
            ));
        }
        if r.chance(6) {
            headers.push((
                "Nats-Rollup".into(),
                r.pick(&["sub", "all", "bad"]).to_string(),
            ));
        }
        let size = r.pick(&[1usize, 5, 10, 40, 100]);
        let body = "x".repeat(size);
        Op::Request {
            subject: subject.to_string(),
            headers,
            body,
            stream: Some(stream.to_string()),
        }
    }

    fn fetch(&mut self) -> Op {
        let (stream, consumer) = (self.stream(), self.consumer());
        let r = &mut self.rng;
        let batch = r.range(1, 4) as u32;
        let (no_wait, expires_ms) = match r.below(10) {
            0..=5 => (true, 0),
            6..=8 => (false, 40),
            _ => (true, 40),
        };
        Op::Fetch {
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            batch,
            no_wait,
            expires_ms,
        }
    }

    fn ack(&mut self) -> Op {
        let (stream, consumer) = (self.stream(), self.consumer());
        let r = &mut self.rng;
        let kind = r.pick(&[
            "+ACK", "+ACK", "+ACK", "+ACK", "-NAK", "-NAK", "+TERM", "+WPI", "", "bogus",
        ]);
        Op::Ack {
            stream: stream.to_string(),
            consumer: consumer.to_string(),
            pick: r.below(1000) as u32,
            kind: kind.to_string(),
        }
    }

    fn create_consumer(&mut self) -> Op {
        let (stream, name) = (self.stream(), self.consumer());
        let r = &mut self.rng;
        let mut c = Map::new();
        match r.below(10) {
            0..=4 => {}
            5 => {
                c.insert("deliver_policy".into(), json!("last"));
            }
            6 => {
                c.insert("deliver_policy".into(), json!("new"));
            }
            7 => {
                c.insert("deliver_policy".into(), json!("by_start_sequence"));
                c.insert("opt_start_seq".into(), json!(r.range(0, 8)));
            }
            8 => {
                c.insert("deliver_policy".into(), json!("last_per_subject"));
            }
            _ => {
                c.insert("deliver_policy".into(), json!("by_start_time"));
                c.insert("opt_start_time".into(), json!("2020-01-01T00:00:00Z"));
            }
        }
        let ack = r.pick(&["explicit", "explicit", "explicit", "all", "none"]);
        c.insert("ack_policy".into(), json!(ack));
        let keep_filter = self.filtered.contains(&(index(stream), name));
        let r = &mut self.rng;
        let filter = match r.below(20) {
            0..=9 if !keep_filter => 0,
            0..=16 => 1,
            _ => 2,
        };
        if filter > 0 {
            self.filtered.insert((index(stream), name));
        }
        match filter {
            0 => {}
            1 => {
                c.insert("filter_subject".into(), json!(r.pick(filters(stream))));
            }
            _ => {
                let (a, b) = (r.pick(filters(stream)), r.pick(filters(stream)));
                c.insert("filter_subjects".into(), json!([a, b]));
            }
        }
        if r.chance(40) {
            c.insert("max_ack_pending".into(), json!(r.range(1, 4)));
        }
        if r.chance(40) {
            c.insert("max_deliver".into(), json!(r.range(1, 3)));
        }
        if r.chance(5) {
            c.insert("deliver_subject".into(), json!(format!("push.{name}")));
        }
        let named_api = r.chance(70);
        if named_api {
            c.insert("name".into(), json!(name));
        }
        c.insert("durable_name".into(), json!(name));
        let mut body = Map::new();
        body.insert("stream_name".into(), json!(stream));
        body.insert("config".into(), Value::Object(c));
        if named_api && r.chance(30) {
            body.insert("action".into(), json!(r.pick(&["create", "update"])));
        }
        let subject = if named_api {
            format!("$JS.API.CONSUMER.CREATE.{stream}.{name}")
        } else {
            format!("$JS.API.CONSUMER.DURABLE.CREATE.{stream}.{name}")
        };
        api(&subject, &Value::Object(body).to_string(), Some(stream))
    }

    fn purge(&mut self) -> Op {
        let stream = self.stream();
        // Unfiltered purges with keep, or with seq 1, are left out: the
        // reference's stores disagree on them and each has a bug there.
        // Its memory store purges nothing for seq 1 (its file store
        // everything), and keeps the last N sequences for keep N rather
        // than the last N messages; its file store purges both in place,
        // and when that takes one message, consumers whose filters do not
        // cover every subject keep counting it in num_pending. tern does
        // as the file store without the stale count.
        // Nor an unfiltered purge up to a sequence: when nothing is stored
        // at or past that sequence (the messages there deleted, purged or
        // skipped for lack of interest), both of the reference's stores
        // empty the stream but leave its first sequence on a message they
        // removed.
        let r = &mut self.rng;
        let mut body = Map::new();
        let filtered = r.chance(50);
        if filtered {
            body.insert("filter".into(), json!(r.pick(filters(stream))));
        }
        match r.below(3) {
            0 => {}
            _ if !filtered => {}
            1 => {
                body.insert("seq".into(), json!(r.range(0, 10)));
            }
            _ => {
                body.insert("keep".into(), json!(r.range(0, 3)));
            }
        }
        let body = if body.is_empty() && r.chance(50) {
            String::new()
        } else {
            Value::Object(body).to_string()
        };
        api(
            &format!("$JS.API.STREAM.PURGE.{stream}"),
            &body,
            Some(stream),
        )
    }

    fn delete_msg(&mut self) -> Op {
        let stream = self.stream();
        let seq = self.seq();
        let body = if self.rng.chance(30) {
            json!({"seq": seq, "no_erase": true})
        } else {
            json!({ "seq": seq })
        };
        api(
            &format!("$JS.API.STREAM.MSG.DELETE.{stream}"),
            &body.to_string(),
            Some(stream),
        )
    }

    fn get_body(&mut self, stream: &str) -> Value {
        let seq = self.seq();
        let subject = self.subject_of(stream);
        match self.rng.below(4) {
            0 | 1 => json!({ "seq": seq }),
            2 => json!({ "last_by_subj": subject }),
            _ => json!({"seq": seq, "next_by_subj": subject}),
        }
    }

    fn get_msg(&mut self) -> Op {
        let stream = self.stream();
        let body = self.get_body(stream);
        api(
            &format!("$JS.API.STREAM.MSG.GET.{stream}"),
            &body.to_string(),
            Some(stream),
        )
    }

    fn direct_get(&mut self) -> Op {
        let stream = self.stream();
        if self.rng.chance(30) {
            let subject = self.subject_of(stream);
            return api(
                &format!("$JS.API.DIRECT.GET.{stream}.{subject}"),
                "",
                Some(stream),
            );
        }
        let body = self.get_body(stream);
        api(
            &format!("$JS.API.DIRECT.GET.{stream}"),
            &body.to_string(),
            Some(stream),
        )
    }

    fn stream_queries(&mut self) -> Op {
        let stream = self.stream();
        match self.rng.below(5) {
            0 => api(&format!("$JS.API.STREAM.INFO.{stream}"), "", None),
            1 => {
                let f = self.rng.pick(filters(stream));
                api(
                    &format!("$JS.API.STREAM.INFO.{stream}"),
                    &json!({ "subjects_filter": f }).to_string(),
                    None,
                )
            }
            2 => api("$JS.API.STREAM.NAMES", "", None),
            3 => {
                let s = self.subject_of(stream);
                api(
                    "$JS.API.STREAM.NAMES",
                    &json!({ "subject": s }).to_string(),
                    None,
                )
            }
            _ => api("$JS.API.STREAM.LIST", "", None),
        }
    }

    fn consumer_queries(&mut self) -> Op {
        let (stream, consumer) = (self.stream(), self.consumer());
        match self.rng.below(3) {
            0 => api(
                &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
                "",
                None,
            ),
            1 => api(&format!("$JS.API.CONSUMER.NAMES.{stream}"), "", None),
            _ => api(&format!("$JS.API.CONSUMER.LIST.{stream}"), "", None),
        }
    }

    fn invalid(&mut self) -> Op {
        let stream = self.stream();
        match self.rng.below(9) {
            0 => api(
                &format!("$JS.API.STREAM.CREATE.{stream}"),
                "{bad json",
                Some(stream),
            ),
            1 => api(
                "$JS.API.CONSUMER.CREATE.NOPE.C1",
                r#"{"stream_name":"NOPE","config":{"name":"C1","durable_name":"C1","ack_policy":"explicit"}}"#,
                None,
            ),
            2 => api(&format!("$JS.API.CONSUMER.INFO.{stream}.NOPE"), "", None),
            3 => Op::Fetch {
                stream: stream.to_string(),
                consumer: "NOPE".into(),
                batch: 1,
                no_wait: true,
                expires_ms: 0,
            },
            4 => api("$JS.API.STREAM.INFO.NOPE", "", None),
            5 => api(
                &format!("$JS.API.STREAM.MSG.GET.{stream}"),
                r#"{"seq":"x"}"#,
                Some(stream),
            ),
            6 => api(
                &format!("$JS.API.STREAM.PURGE.{stream}"),
                r#"{"seq":2,"keep":1}"#,
                Some(stream),
            ),
            7 => {
                let mut c = self.stream_config(stream);
                c.insert("max_msgs".into(), json!(-5));
                c.insert("retention".into(), json!("bogus"));
                api(
                    &format!("$JS.API.STREAM.CREATE.{stream}"),
                    &Value::Object(c).to_string(),
                    Some(stream),
                )
            }
            _ => api(
                &format!("$JS.API.STREAM.MSG.DELETE.{stream}"),
                "",
                Some(stream),
            ),
        }
    }
}

fn index(stream: &str) -> usize {
    usize::from(stream != "S1")
}

fn api(subject: &str, body: &str, stream: Option<&str>) -> Op {
    Op::Request {
        subject: subject.to_string(),
        headers: Vec::new(),
        body: body.to_string(),
        stream: stream.map(str::to_string),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_seed_always_writes_the_same_operations() {
        assert_eq!(generate(42, 150), generate(42, 150));
        assert_ne!(generate(42, 150), generate(43, 150));
    }

    #[test]
    fn operations_survive_the_replay_format() {
        for op in generate(5, 300) {
            let back = Op::from_line(&op.to_line()).expect("parses");
            assert_eq!(back, op);
        }
    }
}
