//! Watchers, history and keys: an ordered push consumer on the bucket's
//! stream, as the clients create it (`tern_link::Ordered`).

use std::sync::Arc;

use tern_link::{DeliverFrom, Delivered, Link, Ordered};

use crate::entry::{key_of, Entry, Operation};
use crate::KvError;

/// A stream of entries for keys matching a pattern.
pub struct Watch {
    bucket: String,
    ordered: Ordered,
}

impl Watch {
    pub(crate) async fn start(
        link: &Arc<Link>,
        bucket: &str,
        filter: &str,
        from: DeliverFrom,
        headers_only: bool,
    ) -> Result<Watch, KvError> {
        let ordered = Ordered::start(link, &format!("KV_{bucket}"), filter, from, headers_only)
            .await
            .map_err(|e| KvError::from_api(e, bucket))?;
        Ok(Watch {
            bucket: bucket.to_string(),
            ordered,
        })
    }

    /// How many entries came before live updates.
    pub fn initial_pending(&self) -> u64 {
        self.ordered.initial_pending
    }

    /// The next entry; `None` once the server is gone.
    pub async fn next(&mut self) -> Option<Entry> {
        loop {
            let d = self.ordered.next().await?;
            if let Some(entry) = self.entry(d) {
                return Some(entry);
            }
        }
    }

    /// The initial entries (until one reports nothing more pending).
    pub(crate) async fn initial(&mut self) -> Result<Vec<Entry>, KvError> {
        let mut out = Vec::new();
        if self.initial_pending() == 0 {
            return Ok(out);
        }
        loop {
            let entry = tokio::time::timeout(tern_link::API_TIMEOUT, self.next())
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

    fn entry(&self, d: Delivered) -> Option<Entry> {
        Some(Entry {
            bucket: self.bucket.clone(),
            key: key_of(&self.bucket, &d.msg.subject)?.to_string(),
            operation: Operation::from_headers(d.msg.headers.as_deref()),
            value: d.msg.payload,
            revision: d.stream_seq,
            created_ns: d.time_ns,
            delta: d.pending,
        })
    }
}
