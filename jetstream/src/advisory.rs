//! JetStream advisories, published in the account as the reference
//! publishes them (`$JS.EVENT.ADVISORY.>`), each with its `type`: stream
//! and consumer created, updated and deleted; a message past its
//! consumer's max deliveries, NAKed or terminated. Nothing is built
//! when nobody listens.

use serde_json::json;

use crate::outbox::{OutMsg, Outbox};

const PREFIX: &str = "$JS.EVENT.ADVISORY";

/// What a consumer noticed about a delivery, to announce after its batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum DeliveryEvent {
    /// The message reached `max_deliver` and leaves pending.
    MaxDeliveries { stream_seq: u64, deliveries: u64 },
    /// The client asked for a redelivery.
    Nak {
        consumer_seq: u64,
        stream_seq: u64,
        deliveries: u64,
    },
    /// The client gave up on the message (`+TERM`, with its reason).
    Terminated {
        consumer_seq: u64,
        stream_seq: u64,
        deliveries: u64,
        reason: Option<String>,
    },
    /// A pinned-client consumer gave its group's pin to a client.
    Pinned { group: String, id: String },
    /// The pin was taken back (`admin`: UNPIN; `timeout`: no pull from
    /// its holder within `priority_timeout`).
    Unpinned { group: String, reason: &'static str },
    /// A sampled ack (`sample_freq`): a metric, not an advisory.
    AckSampled {
        consumer_seq: u64,
        stream_seq: u64,
        deliveries: u64,
        /// Nanoseconds from the delivery to the ack.
        ack_time: i64,
    },
}

/// Stream and consumer lifecycle actions.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Action {
    Create,
    Modify,
    Delete,
}

impl Action {
    fn word(self) -> &'static str {
        match self {
            Action::Create => "create",
            Action::Modify => "modify",
            Action::Delete => "delete",
        }
    }

    fn subject_word(self) -> &'static str {
        match self {
            Action::Create => "CREATED",
            Action::Modify => "UPDATED",
            Action::Delete => "DELETED",
        }
    }
}

/// The reference's typed-event head: type, a unique id, the time.
fn head(kind: &str) -> serde_json::Map<String, serde_json::Value> {
    let mut m = serde_json::Map::new();
    m.insert(
        "type".into(),
        json!(format!("io.nats.jetstream.advisory.v1.{kind}")),
    );
    m.insert("id".into(), json!(event_id()));
    m.insert(
        "timestamp".into(),
        json!(crate::api::format_time(crate::outbox::now_ns())),
    );
    m
}

/// A 22-character id in the style of the reference's NUIDs.
pub(crate) fn event_id() -> String {
    use std::sync::atomic::{AtomicU64, Ordering};
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    static NEXT: AtomicU64 = AtomicU64::new(0);
    // Unique within the process: the time, a counter and the pid mixed
    // into base 62 (ids only need to differ, not to be secret).
    let mut n = u128::from(crate::outbox::now_ns().unsigned_abs())
        ^ (u128::from(NEXT.fetch_add(1, Ordering::Relaxed)) << 64)
        ^ (u128::from(std::process::id()) << 96);
    let mut out = String::with_capacity(22);
    for _ in 0..22 {
        out.push(ALPHABET[(n % 62) as usize] as char);
        n /= 62;
    }
    out
}

fn message(
    outbox: &dyn Outbox,
    subject: String,
    body: serde_json::Map<String, serde_json::Value>,
) -> Option<OutMsg> {
    if !outbox.has_interest(&subject, None) {
        return None;
    }
    let payload = serde_json::to_vec(&serde_json::Value::Object(body)).ok()?;
    Some(OutMsg {
        to: subject.clone(),
        subject,
        reply: None,
        headers: None,
        payload: payload.into(),
    })
}

/// `$JS.EVENT.ADVISORY.STREAM.BATCH_ABANDONED.<stream>`: an atomic batch
/// dropped before its commit (`timeout`, `large`, `incomplete`,
/// `unsupported`). Built for sending after the stream's batch commits.
pub(crate) fn batch_abandoned(stream: &str, batch: &str, reason: &str) -> OutMsg {
    let subject = format!("{PREFIX}.STREAM.BATCH_ABANDONED.{stream}");
    let mut m = head("stream_batch_abandoned");
    m.insert("stream".into(), json!(stream));
    m.insert("batch".into(), json!(batch));
    m.insert("reason".into(), json!(reason));
    let payload = serde_json::to_vec(&serde_json::Value::Object(m)).unwrap_or_default();
    OutMsg {
        to: subject.clone(),
        subject,
        reply: None,
        headers: None,
        payload: payload.into(),
    }
}

/// `$JS.EVENT.ADVISORY.STREAM.{CREATED,UPDATED,DELETED}.<stream>`.
pub fn stream_action(outbox: &dyn Outbox, stream: &str, action: Action) {
    let subject = format!("{PREFIX}.STREAM.{}.{stream}", action.subject_word());
    if !outbox.has_interest(&subject, None) {
        return;
    }
    let mut m = head("stream_action");
    m.insert("stream".into(), json!(stream));
    m.insert("action".into(), json!(action.word()));
    if let Some(msg) = message(outbox, subject, m) {
        outbox.send(&[msg]);
    }
}

/// `$JS.EVENT.ADVISORY.CONSUMER.{CREATED,DELETED}.<stream>.<consumer>`.
pub fn consumer_action(outbox: &dyn Outbox, stream: &str, consumer: &str, action: Action) {
    let subject = format!(
        "{PREFIX}.CONSUMER.{}.{stream}.{consumer}",
        action.subject_word()
    );
    if !outbox.has_interest(&subject, None) {
        return;
    }
    let mut m = head("consumer_action");
    m.insert("stream".into(), json!(stream));
    m.insert("consumer".into(), json!(consumer));
    m.insert("action".into(), json!(action.word()));
    if let Some(msg) = message(outbox, subject, m) {
        outbox.send(&[msg]);
    }
}

/// The message announcing a consumer's delivery event, if anyone listens.
pub fn delivery(
    outbox: &dyn Outbox,
    stream: &str,
    consumer: &str,
    event: &DeliveryEvent,
) -> Option<OutMsg> {
    let (kind, word) = match event {
        DeliveryEvent::MaxDeliveries { .. } => ("max_deliver", "MAX_DELIVERIES"),
        DeliveryEvent::Nak { .. } => ("nak", "MSG_NAKED"),
        DeliveryEvent::Terminated { .. } => ("terminated", "MSG_TERMINATED"),
        DeliveryEvent::AckSampled { .. } => ("consumer_ack", "ACK"),
        DeliveryEvent::Pinned { .. } => ("consumer_group_pinned", "PINNED"),
        DeliveryEvent::Unpinned { .. } => ("consumer_group_unpinned", "UNPINNED"),
    };
    let metric = matches!(event, DeliveryEvent::AckSampled { .. });
    let subject = if metric {
        format!("$JS.EVENT.METRIC.CONSUMER.{word}.{stream}.{consumer}")
    } else {
        format!("{PREFIX}.CONSUMER.{word}.{stream}.{consumer}")
    };
    if !outbox.has_interest(&subject, None) {
        return None;
    }
    let mut m = head(kind);
    if metric {
        m.insert(
            "type".into(),
            json!(format!("io.nats.jetstream.metric.v1.{kind}")),
        );
    }
    m.insert("stream".into(), json!(stream));
    m.insert("consumer".into(), json!(consumer));
    match event {
        DeliveryEvent::MaxDeliveries {
            stream_seq,
            deliveries,
        } => {
            m.insert("stream_seq".into(), json!(stream_seq));
            m.insert("deliveries".into(), json!(deliveries));
        }
        DeliveryEvent::Nak {
            consumer_seq,
            stream_seq,
            deliveries,
        } => {
            m.insert("consumer_seq".into(), json!(consumer_seq));
            m.insert("stream_seq".into(), json!(stream_seq));
            m.insert("deliveries".into(), json!(deliveries));
        }
        DeliveryEvent::Terminated {
            consumer_seq,
            stream_seq,
            deliveries,
            reason,
        } => {
            m.insert("consumer_seq".into(), json!(consumer_seq));
            m.insert("stream_seq".into(), json!(stream_seq));
            m.insert("deliveries".into(), json!(deliveries));
            if let Some(r) = reason {
                m.insert("reason".into(), json!(r));
            }
        }
        DeliveryEvent::Pinned { group, id } => {
            m.insert("group".into(), json!(group));
            m.insert("pinned_id".into(), json!(id));
        }
        DeliveryEvent::Unpinned { group, reason } => {
            m.insert("group".into(), json!(group));
            m.insert("reason".into(), json!(reason));
        }
        DeliveryEvent::AckSampled {
            consumer_seq,
            stream_seq,
            deliveries,
            ack_time,
        } => {
            m.insert("consumer_seq".into(), json!(consumer_seq));
            m.insert("stream_seq".into(), json!(stream_seq));
            m.insert("ack_time".into(), json!(ack_time));
            m.insert("deliveries".into(), json!(deliveries));
        }
    }
    message(outbox, subject, m)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_differ_and_are_22_characters() {
        let (a, b) = (event_id(), event_id());
        assert_eq!(a.len(), 22);
        assert_ne!(a, b);
    }
}
