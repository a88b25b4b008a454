//! One target of a differential run: applies operations and renders what a
//! client observes (every reply, every delivery, then the touched stream's
//! state and its consumers) as lines that compare equal across servers.
//!
//! Normalised: times (`mask`), the timestamp token of ack subjects,
//! header order, and, when comparing storage types, the storage type
//! itself and the account's per-type usage.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use serde_json::{json, Value};

use super::client::{Client, Msg};
use super::ops::Op;
use crate::scenarios::jetstream::{flatten, mask};
use crate::transcript::escape;

/// How long an API request or publish may take to answer.
const API_TIMEOUT: Duration = Duration::from_millis(1500);
/// How long an ack's reply is waited for (some acks get none).
const ACK_TIMEOUT: Duration = Duration::from_millis(300);
/// How long past a pull request's own expiry its end is waited for.
const FETCH_GRACE: Duration = Duration::from_millis(400);

/// A server under test, seen through one connection.
pub struct Side {
    client: Client,
    /// Forces every created or updated stream onto this storage type.
    storage: Option<&'static str>,
    /// Ack subjects of the deliveries each (stream, consumer) made, in order.
    deliveries: HashMap<(String, String), Vec<String>>,
    /// The account's API counts (total, errors) when this run began: runs
    /// share a server, so account info is compared from there.
    api_base: (u64, u64),
}

impl Side {
    pub fn connect(port: u16, storage: Option<&'static str>) -> std::io::Result<Side> {
        Ok(Side {
            client: Client::connect(port)?,
            storage,
            deliveries: HashMap::new(),
            api_base: (0, 0),
        })
    }

    /// Deletes the streams a run may have made, so the next run starts
    /// from nothing on the same server.
    pub fn reset(&mut self) -> std::io::Result<()> {
        for s in ["S1", "S2", "OTHER"] {
            self.client
                .request(&format!("$JS.API.STREAM.DELETE.{s}"), &[], b"", API_TIMEOUT)?;
        }
        self.deliveries.clear();
        let info = self
            .client
            .request("$JS.API.INFO", &[], b"", API_TIMEOUT)?
            .and_then(|m| serde_json::from_slice::<Value>(&m.payload).ok());
        let count = |key: &str| {
            info.as_ref()
                .and_then(|i| i.get("api"))
                .and_then(|a| a.get(key))
                .and_then(Value::as_u64)
                .unwrap_or(0)
        };
        self.api_base = (count("total"), count("errors"));
        Ok(())
    }

    /// Applies `op`; returns the replies and deliveries observed.
    pub fn apply(&mut self, op: &Op) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        match op {
            Op::Request {
                subject,
                headers,
                body,
                ..
            } => {
                let body = self.with_storage(subject, body);
                let reply = self
                    .client
                    .request(subject, headers, body.as_bytes(), API_TIMEOUT)?;
                self.render_reply(reply.as_ref(), &mut out);
            }
            Op::Fetch {
                stream,
                consumer,
                batch,
                no_wait,
                expires_ms,
            } => self.fetch(stream, consumer, *batch, *no_wait, *expires_ms, &mut out)?,
            Op::Ack {
                stream,
                consumer,
                pick,
                kind,
            } => {
                let key = (stream.clone(), consumer.clone());
                let subject = self
                    .deliveries
                    .get(&key)
                    .filter(|d| !d.is_empty())
                    .map(|d| d[*pick as usize % d.len()].clone());
                match subject {
                    None => out.push("no delivery to ack".into()),
                    Some(subject) => {
                        out.push(format!("ack {}", mask_ack_subject(&subject)));
                        let reply =
                            self.client
                                .request(&subject, &[], kind.as_bytes(), ACK_TIMEOUT)?;
                        self.render_reply(reply.as_ref(), &mut out);
                    }
                }
            }
        }
        Ok(out)
    }

    /// The state `op` leaves to compare: the info of the stream it touched
    /// (every subject, every deleted sequence) and its consumers' info.
    pub fn state_after(&mut self, op: &Op) -> std::io::Result<Vec<String>> {
        let mut out = Vec::new();
        if let Some(stream) = op.stream() {
            self.snapshot(stream, &mut out)?;
        }
        Ok(out)
    }

    fn snapshot(&mut self, stream: &str, out: &mut Vec<String>) -> std::io::Result<()> {
        out.push(format!("state of {stream}:"));
        let info = self.client.request(
            &format!("$JS.API.STREAM.INFO.{stream}"),
            &[],
            br#"{"subjects_filter":">","deleted_details":true}"#,
            API_TIMEOUT,
        )?;
        self.render_reply(info.as_ref(), out);
        let list = self.client.request(
            &format!("$JS.API.CONSUMER.LIST.{stream}"),
            &[],
            b"",
            API_TIMEOUT,
        )?;
        self.render_reply(list.as_ref(), out);
        Ok(())
    }

    fn fetch(
        &mut self,
        stream: &str,
        consumer: &str,
        batch: u32,
        no_wait: bool,
        expires_ms: u64,
        out: &mut Vec<String>,
    ) -> std::io::Result<()> {
        let mut body = json!({ "batch": batch });
        if no_wait {
            body["no_wait"] = json!(true);
        }
        if expires_ms > 0 {
            body["expires"] = json!(expires_ms * 1_000_000);
        }
        let (inbox, sid) = self.client.subscribe_inbox()?;
        self.client.publish(
            &format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.{consumer}"),
            &inbox,
            &[],
            body.to_string().as_bytes(),
        )?;
        let deadline = Instant::now() + Duration::from_millis(expires_ms) + FETCH_GRACE;
        let mut delivered = 0;
        loop {
            let Some(msg) = self.client.next_for(sid, deadline)? else {
                out.push("no more (waited)".into());
                break;
            };
            if is_status(&msg) {
                self.render_reply(Some(&msg), out);
                break;
            }
            if let Some(ack) = &msg.reply {
                self.deliveries
                    .entry((stream.to_string(), consumer.to_string()))
                    .or_default()
                    .push(ack.clone());
            }
            self.render_delivery(&msg, out);
            delivered += 1;
            if delivered >= batch {
                break;
            }
        }
        // Later deliveries to this request are not seen by anyone.
        self.client.unsubscribe(sid)
    }

    /// A stream create or update body with the storage type forced.
    fn with_storage(&self, subject: &str, body: &str) -> String {
        let Some(storage) = self.storage else {
            return body.to_string();
        };
        if !(subject.starts_with("$JS.API.STREAM.CREATE.")
            || subject.starts_with("$JS.API.STREAM.UPDATE."))
        {
            return body.to_string();
        }
        match serde_json::from_str::<Value>(body) {
            Ok(Value::Object(mut map)) => {
                map.insert("storage".into(), json!(storage));
                // The two stores size messages differently (as the
                // reference's do), so byte limits would cut at different
                // messages.
                map.remove("max_bytes");
                Value::Object(map).to_string()
            }
            _ => body.to_string(),
        }
    }

    fn render_delivery(&self, msg: &Msg, out: &mut Vec<String>) {
        out.push(format!(
            "delivery {} ack {}",
            msg.subject,
            msg.reply
                .as_deref()
                .map(mask_ack_subject)
                .unwrap_or_default()
        ));
        render_headers(msg, out);
        out.push(format!("  payload {}", escape(&msg.payload)));
    }

    fn render_reply(&self, msg: Option<&Msg>, out: &mut Vec<String>) {
        let Some(msg) = msg else {
            out.push("no reply".into());
            return;
        };
        render_headers(msg, out);
        match serde_json::from_slice::<Value>(&msg.payload) {
            Ok(mut value) if !msg.payload.is_empty() => {
                let mut problems = Vec::new();
                mask(&mut value, &mut problems);
                out.extend(problems.into_iter().map(|p| format!("  bad time: {p}")));
                sort_consumer_lists(&mut value);
                drop_deleted_zero(&mut value);
                self.rebase_api_counts(&mut value);
                if self.storage.is_some() {
                    strip_storage(&mut value);
                }
                out.extend(flatten(&value).into_iter().map(|l| format!("  {l}")));
            }
            _ => out.push(format!("  payload {}", escape(&msg.payload))),
        }
    }
}

impl Side {
    /// Account info's API counts as counted since this run began.
    fn rebase_api_counts(&self, value: &mut Value) {
        let Some(api) = value.get_mut("api").and_then(Value::as_object_mut) else {
            return;
        };
        for (key, base) in [("total", self.api_base.0), ("errors", self.api_base.1)] {
            if let Some(n) = api.get(key).and_then(Value::as_u64) {
                api.insert(key.into(), json!(n.saturating_sub(base)));
            }
        }
    }
}

fn is_status(msg: &Msg) -> bool {
    msg.headers.as_deref().is_some_and(|h| {
        h.lines()
            .next()
            .is_some_and(|l| l.len() > "NATS/1.0 ".len() && l.starts_with("NATS/1.0 "))
    }) && msg.payload.is_empty()
}

/// The status line as it is, then the other headers sorted, with times
/// masked.
fn render_headers(msg: &Msg, out: &mut Vec<String>) {
    let Some(block) = &msg.headers else {
        return;
    };
    let mut lines = block.split("\r\n").filter(|l| !l.is_empty());
    if let Some(status) = lines.next() {
        out.push(format!("  {status}"));
    }
    let mut rest: Vec<String> = lines
        .map(|l| match l.split_once(':') {
            Some((k, _)) if k.eq_ignore_ascii_case("Nats-Time-Stamp") => format!("{k}: <time>"),
            // A no-responders reply names the ack subject it was for.
            Some((k, v)) if k.eq_ignore_ascii_case("Nats-Subject") => {
                format!("{k}: {}", mask_ack_subject(v.trim()))
            }
            _ => l.to_string(),
        })
        .collect();
    rest.sort();
    out.extend(rest.into_iter().map(|l| format!("  {l}")));
}

/// `$JS.ACK.<stream>.<consumer>.<delivered>.<sseq>.<dseq>.<ts>.<pending>`
/// with the timestamp masked; anything else as it is.
fn mask_ack_subject(subject: &str) -> String {
    let mut tokens: Vec<&str> = subject.split('.').collect();
    if tokens.len() == 9 && tokens[0] == "$JS" && tokens[1] == "ACK" {
        tokens[7] = "<ts>";
    }
    tokens.join(".")
}

/// A consumer list in name order (the order is not part of the contract).
fn sort_consumer_lists(value: &mut Value) {
    if let Some(Value::Array(list)) = value.get_mut("consumers") {
        list.sort_by(|a, b| {
            let name = |v: &Value| {
                v.get("name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string()
            };
            name(a).cmp(&name(b))
        });
    }
}

/// A reference bug, not copied: nats-server 2.14's file store counts
/// sequence 0 as deleted while its first and last sequences are both 0
/// (a new stream; `deleted_details` lists `[0]`, `num_deleted` is 1),
/// because it derives the count from `last - first + 1 - msgs`. Sequence
/// 0 is never a message, so it is taken out before comparing.
fn drop_deleted_zero(value: &mut Value) {
    let Some(state) = value.get_mut("state").and_then(Value::as_object_mut) else {
        return;
    };
    let Some(Value::Array(deleted)) = state.get_mut("deleted") else {
        return;
    };
    let before = deleted.len();
    deleted.retain(|d| d.as_u64() != Some(0));
    let removed = (before - deleted.len()) as u64;
    if removed == 0 {
        return;
    }
    if deleted.is_empty() {
        state.remove("deleted");
    }
    match state.get("num_deleted").and_then(Value::as_u64) {
        Some(n) if n > removed => {
            state.insert("num_deleted".into(), json!(n - removed));
        }
        Some(_) => {
            state.remove("num_deleted");
        }
        None => {}
    }
}

/// Drops what differs only because the storage type does: the type,
/// usage and reservations, and the stream position of a consumer that has
/// delivered nothing (the reference's memory store moves it past messages
/// a read found nothing in, its file store does not; tern follows both).
fn strip_storage(value: &mut Value) {
    match value {
        Value::Object(map) => {
            // Sizes differ by store, and so do a failed message delete's
            // words (the file store tells EOF and "no message found").
            map.remove("bytes");
            if let Some(Value::Object(error)) = map.get_mut("error") {
                if matches!(
                    error.get("err_code").and_then(Value::as_u64),
                    Some(10057 | 10043)
                ) {
                    error.insert("err_code".into(), json!("<delete miss>"));
                    error.insert("code".into(), json!("<delete miss>"));
                    error.insert("description".into(), json!("<delete miss>"));
                }
            }
            let idle = map
                .get("delivered")
                .and_then(|d| d.get("consumer_seq"))
                .and_then(Value::as_u64)
                == Some(0);
            // The reference's stores tell consumers of purged messages
            // differently (one by one in memory, in a batch on file), so
            // whether a purge counted as ack activity differs by store.
            if let Some(Value::Object(floor)) = map.get_mut("ack_floor") {
                floor.remove("last_active");
            }
            if idle {
                for key in ["delivered", "ack_floor"] {
                    if let Some(Value::Object(seqs)) = map.get_mut(key) {
                        seqs.remove("stream_seq");
                    }
                }
            }
            map.remove("storage");
            map.remove("memory");
            map.remove("reserved_memory");
            map.remove("reserved_storage");
            map.values_mut().for_each(strip_storage);
        }
        Value::Array(items) => items.iter_mut().for_each(strip_storage),
        _ => {}
    }
}
