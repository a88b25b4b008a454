//! What JetStream sends and how: the messages it hands the server (acks,
//! deliveries, replies) and the `Outbox` the server implements; plus the
//! clock and the spinning receive its threads share. A leaf: it imports no
//! other module of the crate.

use std::sync::mpsc::Receiver;

use bytes::Bytes;

/// A message JetStream sends: routed by the subscriptions of `to`, written
/// with `subject` (a pull delivery reaches the requester's inbox under the
/// message's own subject, as the reference sends it).
#[derive(Clone, Debug)]
pub struct OutMsg {
    /// The subject whose subscribers receive it.
    pub to: String,
    /// The subject written in the MSG/HMSG line.
    pub subject: String,
    /// The reply subject (an ack subject for a delivery), if any.
    pub reply: Option<String>,
    /// The header block (a status line for heartbeats and pull replies).
    pub headers: Option<Bytes>,
    /// The message body.
    pub payload: Bytes,
}

impl OutMsg {
    /// A message without a reply subject to an inbox (a status, an empty
    /// ack reply), routed and written with the same subject.
    pub fn to_inbox(inbox: &str, headers: Option<Vec<u8>>) -> OutMsg {
        OutMsg {
            to: inbox.to_string(),
            subject: inbox.to_string(),
            reply: None,
            headers: headers.map(Bytes::from),
            payload: Bytes::new(),
        }
    }
}

/// How the server publishes for JetStream and routes publishes to it.
pub trait Outbox: Send + Sync + 'static {
    /// Sends many messages, waking each receiver once for all of them.
    fn send(&self, msgs: &[OutMsg]) {
        for m in msgs {
            match &m.reply {
                Some(r) => self.publish_with_reply(&m.to, r, m.headers.as_deref(), &m.payload),
                None => self.publish(&m.to, m.headers.as_deref(), &m.payload),
            }
        }
    }

    /// Whether anyone subscribes to `subject` (in `queue`, when given).
    fn has_interest(&self, _subject: &str, _queue: Option<&str>) -> bool {
        true
    }

    /// Publishes a message (an API reply, an ack, a delivery).
    fn publish(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]);
    /// Publishes many payloads without headers (a batch of acks); the
    /// server may wake each receiver once for all of them.
    fn publish_batch(&self, msgs: &[(String, Vec<u8>)]) {
        for (subject, payload) in msgs {
            self.publish(subject, None, payload);
        }
    }

    /// Publishes with a reply subject (deliveries that expect acks).
    fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
    );
}

/// Unix time now, in nanoseconds.
pub fn now_ns() -> i64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| i64::try_from(d.as_nanos()).unwrap_or(i64::MAX))
}

/// How long the API thread and the shards look for their next work before
/// they sleep: work that follows its predecessor closely (a client's next
/// request) then costs no thread wake-up.
pub(crate) const SPIN: std::time::Duration = std::time::Duration::from_micros(50);

/// The next item if one arrives within `spin`: `Ok(None)` when none did,
/// `Err(())` when the sender is gone.
pub(crate) fn spin_recv<T>(rx: &Receiver<T>, spin: std::time::Duration) -> Result<Option<T>, ()> {
    let start = std::time::Instant::now();
    loop {
        match rx.try_recv() {
            Ok(item) => return Ok(Some(item)),
            Err(std::sync::mpsc::TryRecvError::Disconnected) => return Err(()),
            Err(std::sync::mpsc::TryRecvError::Empty) => {}
        }
        if start.elapsed() >= spin {
            return Ok(None);
        }
        // Lets a runnable thread (a client on a small machine) have the
        // core meanwhile, while this one still needs no wake-up.
        std::thread::yield_now();
    }
}
