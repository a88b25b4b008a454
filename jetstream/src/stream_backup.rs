//! A stream's backup archive, built on its shard (the format is
//! `backup`): every stored message in order, the last sequence kept, and
//! the consumers (not a mirror's or source's direct ones) with their
//! delivery state.

use crate::api::json::to_json;
use crate::api::stream::StreamConfig;
use crate::api::time::format_time;
use crate::backup::archive::ArchiveWriter;
use crate::store::StoreError;
use crate::stream::Stream;

/// Messages read from the store at a time.
const SCAN: usize = 1024;

impl Stream {
    /// The archive of this stream, as nats-server's snapshot writes it.
    pub(crate) fn snapshot(
        &self,
        config: &StreamConfig,
        created_ns: i64,
        with_consumers: bool,
        now_ns: i64,
    ) -> Result<Vec<u8>, StoreError> {
        let now_secs = now_ns.div_euclid(1_000_000_000);
        let mut w = ArchiveWriter::new(
            &config.name,
            &format_time(created_ns),
            &to_json(config),
            u64::try_from(now_secs).unwrap_or(0),
        );
        let state = self.store.state();
        let mut seq = state.first_seq.max(1);
        loop {
            let batch = self.store.scan(">", seq, SCAN)?;
            let Some(last) = batch.last() else {
                break;
            };
            seq = last.seq + 1;
            for m in &batch {
                w.message(
                    m.seq,
                    m.time_ns,
                    &m.subject,
                    m.headers.as_deref().unwrap_or_default(),
                    &m.payload,
                );
            }
        }
        w.end_messages(state.last_seq, state.last_ts);
        if with_consumers {
            for c in self.consumers.values().filter(|c| !c.config.direct) {
                w.consumer(
                    &c.name,
                    &format_time(c.created_ns),
                    &to_json(&c.config),
                    &c.backup_state(),
                    now_secs,
                );
            }
        }
        Ok(w.finish())
    }
}
