//! The ordered push consumer the clients create for watchers and object
//! reads (ephemeral, no acks, flow control, heartbeats, memory state),
//! delivering to an inbox of a [`Link`].

use std::sync::Arc;

use crate::link::{ApiCallError, Link};
use crate::{Msg, SubId};

/// Where an ordered consumer starts.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[non_exhaustive]
pub enum DeliverFrom {
    /// The first message of the stream.
    All,
    /// Only messages stored from now on.
    New,
    /// The last message of each subject, then new ones.
    LastPerSubject,
    /// This stream sequence on.
    Sequence(u64),
}

/// A delivery of an ordered consumer, with what its ack subject tells.
#[derive(Clone, Debug)]
pub struct Delivered {
    /// The message.
    pub msg: Msg,
    /// Its stream sequence.
    pub stream_seq: u64,
    /// When it was stored (Unix nanoseconds).
    pub time_ns: i64,
    /// Messages still pending after this one.
    pub pending: u64,
}

/// What the create reply tells the consumer.
#[derive(serde::Deserialize)]
struct Created {
    name: String,
    #[serde(default)]
    num_pending: u64,
}

/// An ordered push consumer. Flow-control requests are answered as their
/// place in the queue is reached, so no more than the server's window
/// waits here.
pub struct Ordered {
    link: Arc<Link>,
    stream: String,
    consumer: String,
    sub: SubId,
    rx: crate::Receiver,
    /// Messages the consumer had to deliver when created.
    pub initial_pending: u64,
}

impl Ordered {
    /// Creates the consumer on `stream` for `filter`, from `from`
    /// (`headers_only`: payloads left out, as the object store's info
    /// reads do).
    pub async fn start(
        link: &Arc<Link>,
        stream: &str,
        filter: &str,
        from: DeliverFrom,
        headers_only: bool,
    ) -> Result<Ordered, ApiCallError> {
        let inbox = link.new_inbox();
        let (sub, rx) = link.subscribe(&inbox)?;
        let mut config = serde_json::json!({
            "deliver_subject": inbox,
            "ack_policy": "none",
            "max_deliver": 1,
            "flow_control": true,
            "idle_heartbeat": 5_000_000_000i64,
            "mem_storage": true,
            "num_replicas": 1,
            "filter_subject": filter,
            "headers_only": headers_only,
        });
        let policy = match from {
            DeliverFrom::All => "all",
            DeliverFrom::New => "new",
            DeliverFrom::LastPerSubject => "last_per_subject",
            DeliverFrom::Sequence(seq) => {
                config["opt_start_seq"] = serde_json::json!(seq.max(1));
                "by_start_sequence"
            }
        };
        config["deliver_policy"] = serde_json::json!(policy);
        let body = serde_json::json!({ "stream_name": stream, "config": config });
        let info = match link
            .api(&format!("$JS.API.CONSUMER.CREATE.{stream}"), &body)
            .await
        {
            Ok(info) => info,
            Err(e) => {
                link.unsubscribe(sub);
                return Err(e);
            }
        };
        let created: Created = serde_json::from_value(info).map_err(|e| {
            link.unsubscribe(sub);
            ApiCallError::Protocol(e.to_string())
        })?;
        Ok(Ordered {
            link: link.clone(),
            stream: stream.to_string(),
            consumer: created.name,
            sub,
            rx,
            initial_pending: created.num_pending,
        })
    }

    /// The next delivered message; `None` once the server is gone.
    pub async fn next(&mut self) -> Option<Delivered> {
        loop {
            let msg = self.rx.recv().await?;
            if let Some(d) = self.delivered(msg) {
                return Some(d);
            }
        }
    }

    /// As [`Ordered::next`], for a poll-based reader.
    pub fn poll_next(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Delivered>> {
        loop {
            match self.rx.poll_recv(cx) {
                std::task::Poll::Ready(Some(msg)) => {
                    if let Some(d) = self.delivered(msg) {
                        return std::task::Poll::Ready(Some(d));
                    }
                }
                std::task::Poll::Ready(None) => return std::task::Poll::Ready(None),
                std::task::Poll::Pending => return std::task::Poll::Pending,
            }
        }
    }

    /// A data message; heartbeats give none and flow-control requests are
    /// answered.
    fn delivered(&self, msg: Msg) -> Option<Delivered> {
        let reply = msg.reply.as_ref()?.as_str();
        if reply.starts_with("$JS.FC.") {
            let _ = self.link.publish(reply, None, None, b"");
            return None;
        }
        let target = tern_jetstream::consumer::ack::parse_ack_subject(reply)?;
        let (stream_seq, time_ns, pending) = (target.stream_seq, target.time_ns, target.pending);
        Some(Delivered {
            stream_seq,
            time_ns,
            pending,
            msg,
        })
    }
}

impl Drop for Ordered {
    fn drop(&mut self) {
        self.link.unsubscribe(self.sub);
        // The ephemeral consumer would go by itself once idle; say so now.
        let subject = format!("$JS.API.CONSUMER.DELETE.{}.{}", self.stream, self.consumer);
        let _ = self
            .link
            .publish(&subject, Some(&self.link.new_inbox()), None, b"");
    }
}
