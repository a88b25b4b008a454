//! Watchers, history and keys: an ordered push consumer on the bucket's
//! stream (ephemeral, ack none, flow control and heartbeats, memory
//! state), as the clients create it, delivering to an inbox of the link.

use std::sync::Arc;

use serde_json::json;
use tern::router::Subscription;
use tokio::sync::mpsc;

use crate::entry::{key_of, Entry, Operation};
use tern::inproc::{Link, Msg};
use crate::{api, KvError};

/// Where a watcher starts.
#[derive(Clone, Copy, Debug)]
pub(crate) enum DeliverFrom {
    All,
    New,
    LastPerSubject,
    Revision(u64),
}

/// A stream of entries for keys matching a pattern.
pub struct Watch {
    link: Arc<Link>,
    bucket: String,
    stream: String,
    consumer: String,
    sub: Arc<Subscription>,
    rx: mpsc::UnboundedReceiver<Msg>,
    /// Entries the consumer had to deliver when it was created (the
    /// "initial data" before live updates).
    initial_pending: u64,
}

impl Watch {
    pub(crate) async fn start(
        link: &Arc<Link>,
        bucket: &str,
        filter: &str,
        from: DeliverFrom,
        headers_only: bool,
    ) -> Result<Watch, KvError> {
        let stream = format!("KV_{bucket}");
        let inbox = link.new_inbox();
        let (sub, rx) = link.subscribe(&inbox);
        let mut config = json!({
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
        match from {
            DeliverFrom::All => config["deliver_policy"] = json!("all"),
            DeliverFrom::New => config["deliver_policy"] = json!("new"),
            DeliverFrom::LastPerSubject => config["deliver_policy"] = json!("last_per_subject"),
            DeliverFrom::Revision(r) => {
                config["deliver_policy"] = json!("by_start_sequence");
                config["opt_start_seq"] = json!(r.max(1));
            }
        }
        let body = json!({ "stream_name": stream, "config": config });
        let created = api(link, &format!("$JS.API.CONSUMER.CREATE.{stream}"), &body).await;
        let info = match created {
            Ok(info) => info,
            Err(e) => {
                link.unsubscribe(&sub);
                return Err(match e {
                    KvError::Api {
                        err_code: 10059, ..
                    } => KvError::BucketNotFound(bucket.to_string()),
                    e => e,
                });
            }
        };
        Ok(Watch {
            link: link.clone(),
            bucket: bucket.to_string(),
            stream,
            consumer: info["name"].as_str().unwrap_or_default().to_string(),
            sub,
            rx,
            initial_pending: info["num_pending"].as_u64().unwrap_or(0),
        })
    }

    /// How many entries came before live updates.
    pub fn initial_pending(&self) -> u64 {
        self.initial_pending
    }

    /// The next entry; `None` once the server is gone.
    pub async fn next(&mut self) -> Option<Entry> {
        loop {
            let msg = self.rx.recv().await?;
            if let Some(entry) = self.entry(&msg) {
                return Some(entry);
            }
        }
    }

    /// The initial entries (until one reports nothing more pending).
    pub(crate) async fn initial(&mut self) -> Result<Vec<Entry>, KvError> {
        let mut out = Vec::new();
        if self.initial_pending == 0 {
            return Ok(out);
        }
        loop {
            let entry = tokio::time::timeout(crate::API_TIMEOUT, self.next())
                .await
                .map_err(|_| KvError::Timeout)?
                .ok_or(KvError::Closed)?;
            let last = entry.delta == 0;
            out.push(entry);
            if last {
                return Ok(out);
            }
        }
    }

    /// An entry from a delivery; heartbeats give none and flow-control
    /// requests are answered.
    fn entry(&self, msg: &Msg) -> Option<Entry> {
        let reply = msg.reply.as_deref()?;
        if reply.starts_with("$JS.FC.") {
            self.link.publish(reply, None, None, b"");
            return None;
        }
        // $JS.ACK.<stream>.<consumer>.<delivered>.<seq>.<cseq>.<ts>.<pending>
        let tokens: Vec<&str> = reply.split('.').collect();
        if tokens.len() != 9 {
            return None;
        }
        let headers = msg.headers.as_deref();
        let operation = Operation::from_headers(headers);
        Some(Entry {
            bucket: self.bucket.clone(),
            key: key_of(&self.bucket, &msg.subject)?.to_string(),
            value: msg.payload.clone(),
            revision: tokens[5].parse().ok()?,
            created_ns: tokens[7].parse().ok()?,
            delta: tokens[8].parse().ok()?,
            operation,
        })
    }
}

impl Drop for Watch {
    fn drop(&mut self) {
        self.link.unsubscribe(&self.sub);
        // The ephemeral consumer would go by itself once idle; say so now.
        let subject = format!("$JS.API.CONSUMER.DELETE.{}.{}", self.stream, self.consumer);
        self.link
            .publish(&subject, Some(&self.link.new_inbox()), None, b"");
    }
}
