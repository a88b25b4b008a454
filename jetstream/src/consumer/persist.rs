//! A durable consumer as kept in its stream's store: config, creation
//! time and the delivery state, as one JSON document per consumer written
//! in the writer's group commit.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use super::{Consumer, Pending};
use crate::api::consumer::ConsumerConfig;
use crate::store::{Store, StoreError};

#[derive(Serialize, Deserialize)]
struct Saved {
    config: ConsumerConfig,
    created: i64,
    delivered: (u64, u64),
    ack_floor: (u64, u64),
    next_sseq: u64,
    /// (stream seq, consumer seq of first delivery, deliveries)
    pending: Vec<(u64, u64, u64)>,
    /// Stream sequences due for redelivery.
    redeliver: Vec<u64>,
    /// last_per_subject messages not delivered yet.
    #[serde(default)]
    initial: Vec<u64>,
}

impl Consumer {
    pub fn encode(&self) -> Vec<u8> {
        let saved = Saved {
            config: self.config.clone(),
            created: self.created_ns,
            delivered: self.delivered,
            ack_floor: self.ack_floor,
            next_sseq: self.next_sseq,
            pending: self
                .pending
                .iter()
                .map(|(&s, p)| (s, p.cseq, p.deliveries))
                .collect(),
            redeliver: self.redeliver.iter().copied().collect(),
            initial: self.initial.iter().copied().collect(),
        };
        serde_json::to_vec(&saved).unwrap_or_default()
    }

    /// Rebuilds a saved consumer. Pending messages get a fresh ack wait
    /// from `now` (their deadlines are not kept).
    pub fn decode(
        stream: &str,
        name: &str,
        doc: &[u8],
        store: &dyn Store,
        now: i64,
    ) -> Result<Consumer, StoreError> {
        let saved: Saved = serde_json::from_slice(doc)
            .map_err(|e| StoreError::bad_document(format!("consumer {name}"), e))?;
        let mut c = Consumer::new(stream, name, saved.config, saved.created, store, false)?;
        c.delivered = saved.delivered;
        c.ack_floor = saved.ack_floor;
        c.next_sseq = saved.next_sseq;
        c.pending = BTreeMap::new();
        for (seq, cseq, deliveries) in saved.pending {
            let deadline = now.saturating_add(c.ack_wait_for(deliveries));
            c.pending.insert(
                seq,
                Pending {
                    cseq,
                    deliveries,
                    deadline,
                    delivered_at: now,
                },
            );
            c.timers.insert((deadline, seq));
        }
        c.redeliver = saved.redeliver.into_iter().collect();
        c.initial = saved.initial.into_iter().collect();
        c.skip_pos = c.initial.first().copied().unwrap_or(0);
        c.num_pending = None;
        c.dirty = false;
        Ok(c)
    }
}

impl Consumer {
    /// The delivery state a backup keeps (`o.dat`): floors, delivered,
    /// the unacked messages with when they went out, and how often the
    /// redelivered ones were redelivered.
    pub(crate) fn backup_state(&self) -> crate::backup::filestore::ConsumerState {
        crate::backup::filestore::ConsumerState {
            ack_floor: self.ack_floor,
            delivered: self.delivered,
            pending: self
                .pending
                .iter()
                .map(|(&s, p)| (s, p.cseq, p.delivered_at))
                .collect(),
            redelivered: self
                .pending
                .iter()
                .filter(|(_, p)| p.deliveries > 1)
                .map(|(&s, p)| (s, p.deliveries - 1))
                .collect(),
        }
    }

    /// Takes a restored delivery state: unacked messages wait a fresh
    /// ack wait from `now`.
    pub(crate) fn restore_state(
        &mut self,
        state: &crate::backup::filestore::ConsumerState,
        now: i64,
    ) {
        self.delivered = state.delivered;
        self.ack_floor = state.ack_floor;
        if state.delivered.1 > 0 {
            self.next_sseq = self.next_sseq.max(state.delivered.1 + 1);
        }
        self.pending = BTreeMap::new();
        self.timers.clear();
        for &(seq, cseq, _) in &state.pending {
            let deliveries = 1 + state
                .redelivered
                .iter()
                .find(|(s, _)| *s == seq)
                .map_or(0, |(_, n)| *n);
            let deadline = now.saturating_add(self.ack_wait_for(deliveries));
            self.pending.insert(
                seq,
                Pending {
                    cseq,
                    deliveries,
                    deadline,
                    delivered_at: now,
                },
            );
            self.timers.insert((deadline, seq));
        }
        self.num_pending = None;
        self.dirty = true;
    }
}
