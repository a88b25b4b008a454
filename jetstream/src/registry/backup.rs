//! `$JS.API.STREAM.SNAPSHOT` and `RESTORE`, with the reference's chunk
//! protocols: a snapshot's archive goes out in chunks on the client's
//! deliver subject, each (but the last short one) with a reply subject
//! under `$JS.SNAPSHOT.ACK.<stream>.<id>` that the client answers to make
//! room in the window, then an empty `204` message; a restore takes
//! chunks on `$JS.SNAPSHOT.RESTORE.<stream>.<id>`, each answered empty,
//! until an empty one, answered with the restored stream's info.

use std::collections::HashMap;
use std::time::{Duration, Instant};

use super::{Body, Registry, StoredConfig};
use crate::api::json::{decode, to_json};
use crate::api::stream::{
    RestoreBody, RestoreRequest, SnapshotBody, SnapshotRequest, StreamConfig, StreamCreateResponse,
    StreamRestoreResponse, StreamSnapshotResponse,
};
use crate::backup::archive::{self, Archive};
use crate::config::ApiRequest;
use crate::config::{open_store, streams_dir};
use crate::error::{
    ApiError, STREAM_NAME_CONTAINS_PATH_SEPARATORS, STREAM_NAME_EXIST_RESTORE_FAILED,
    STREAM_RESTORE, STREAM_SNAPSHOT,
};
use crate::outbox::now_ns;
use crate::stream::{Policy, Stream};

const ACK_PREFIX: &str = "$JS.SNAPSHOT.ACK.";
const RESTORE_PREFIX: &str = "$JS.SNAPSHOT.RESTORE.";
/// A snapshot with no room freed for this long ends with `408`.
const FLOW_TIMEOUT: Duration = Duration::from_secs(5);
/// A restore with no chunk for this long is dropped.
const RESTORE_STALL: Duration = Duration::from_secs(10);
const DEFAULT_CHUNK: i64 = 128 * 1024;
const DEFAULT_WINDOW: i64 = 8 * 1024 * 1024;

/// Snapshots being sent and restores being received.
#[derive(Default)]
pub(super) struct Backups {
    sends: HashMap<String, Send>,
    restores: HashMap<String, Restore>,
}

struct Send {
    deliver: String,
    data: Vec<u8>,
    at: usize,
    index: u64,
    chunk: usize,
    window: usize,
    in_flight: usize,
    sent_full: bool,
    deadline: Instant,
}

struct Restore {
    config: StreamConfig,
    buf: Vec<u8>,
    deadline: Instant,
}

/// What a chunk answers: how a snapshot ends.
enum Ending {
    Done,
    Error(&'static str),
}

impl Registry {
    pub(super) fn stream_snapshot(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| StreamSnapshotResponse::error(e);
        if crate::api::json::is_empty_request(&req.payload) {
            return self.respond(req, &error(ApiError::bad_request()));
        }
        let Some(entry) = self.streams.get(name) else {
            let e = self.missing(name);
            return self.respond(req, &error(e));
        };
        let r: SnapshotRequest = match decode(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &error(e)),
        };
        if !crate::subject::is_valid_subject(r.deliver_subject.as_bytes()) {
            return self.respond(
                req,
                &error(crate::error::SNAPSHOT_DELIVER_SUBJECT_INVALID.into()),
            );
        }
        let chunk = if r.chunk_size <= 0 {
            DEFAULT_CHUNK
        } else {
            r.chunk_size.clamp(1024, 1024 * 1024)
        };
        let window = if r.window_size <= 0 {
            DEFAULT_WINDOW
        } else {
            r.window_size.clamp(1024, 32 * 1024 * 1024)
        }
        .max(chunk);
        let (config, created_ns) = (entry.config.clone(), entry.created_ns);
        let with_consumers = !r.no_consumers;
        let (tx, rx) = std::sync::mpsc::channel();
        let failed_tx = tx.clone();
        let job_config = config.clone();
        let queued = entry.inbox.run(
            move |s: &mut Stream| {
                let state = super::stream_info(s, &job_config, created_ns, None, false, None)
                    .0
                    .state;
                let built = s.snapshot(&job_config, created_ns, with_consumers, now_ns());
                let _ = tx.send(built.map(|b| (b, state)).map_err(|e| e.to_string()));
            },
            move |e| {
                let _ = failed_tx.send(Err(e.description.clone()));
            },
        );
        let built = if queued { rx.recv().ok() } else { None };
        let (data, state) = match built {
            Some(Ok(b)) => b,
            Some(Err(why)) => {
                let e = STREAM_SNAPSHOT.with(&[("err", &why)]);
                return self.respond(req, &error(e));
            }
            None => return self.respond(req, &error(self.missing(name))),
        };
        let mut state = state;
        state.deleted = Vec::new();
        state.subjects = None;
        self.respond(
            req,
            &StreamSnapshotResponse::ok(SnapshotBody {
                config: Some(config),
                state: Some(state),
            }),
        );
        let key = format!(
            "{ACK_PREFIX}{name}.{}",
            crate::sourcing::wire::random_token()
        );
        self.backups.sends.insert(
            key.clone(),
            Send {
                deliver: r.deliver_subject,
                data,
                at: 0,
                index: 1,
                chunk: chunk as usize,
                window: (window / chunk).max(1) as usize,
                in_flight: 0,
                sent_full: false,
                deadline: Instant::now() + FLOW_TIMEOUT,
            },
        );
        self.pump(&key);
    }

    /// Sends a snapshot's chunks while the window has room; the last
    /// (short) one and the end go without waiting for room.
    fn pump(&mut self, key: &str) {
        let Some(s) = self.backups.sends.get_mut(key) else {
            return;
        };
        let outbox = &*self.outbox;
        while s.in_flight < s.window {
            let end = (s.at + s.chunk).min(s.data.len());
            let piece = &s.data[s.at..end];
            if piece.len() == s.chunk {
                let reply = format!("{key}.{}.{}", piece.len(), s.index);
                outbox.publish_with_reply(&s.deliver, &reply, None, piece);
                s.in_flight += 1;
                s.index += 1;
                s.at = end;
                s.sent_full = true;
                continue;
            }
            if !piece.is_empty() {
                outbox.publish(&s.deliver, None, piece);
            }
            let end_headers: Option<&[u8]> = s.sent_full.then_some(b"NATS/1.0 204\r\n\r\n");
            outbox.publish(&s.deliver, end_headers, b"");
            self.finish_send(key, Ending::Done);
            return;
        }
    }

    fn finish_send(&mut self, key: &str, how: Ending) {
        let Some(s) = self.backups.sends.remove(key) else {
            return;
        };
        if let Ending::Error(status) = how {
            let h = format!("NATS/1.0 {status}\r\n\r\n");
            self.outbox.publish(&s.deliver, Some(h.as_bytes()), b"");
        }
    }

    pub(super) fn stream_restore(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| StreamRestoreResponse::error(e);
        if crate::api::json::is_empty_request(&req.payload) {
            return self.respond(req, &error(ApiError::bad_request()));
        }
        let mut r: RestoreRequest = match decode(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &error(e)),
        };
        if r.config.name.is_empty() {
            r.config.name = name.to_string();
        }
        if r.config.name != name {
            return self.respond(req, &error(ApiError::stream_name_mismatch()));
        }
        if name.contains(['/', '\\']) {
            return self.respond(req, &error(STREAM_NAME_CONTAINS_PATH_SEPARATORS.into()));
        }
        let mut config = r.config;
        if let Err(e) = config
            .validate_create()
            .and_then(|()| self.check_max_bytes(&config))
            .and_then(|()| self.check_reservations(&config, None))
        {
            return self.respond(req, &error(e));
        }
        config.set_static_metadata();
        if self.streams.contains_key(name) || self.broken.contains_key(name) {
            return self.respond(req, &error(STREAM_NAME_EXIST_RESTORE_FAILED.into()));
        }
        let deliver = format!(
            "{RESTORE_PREFIX}{name}.{}",
            crate::sourcing::wire::random_token()
        );
        self.backups.restores.insert(
            deliver.clone(),
            Restore {
                config,
                buf: Vec::new(),
                deadline: Instant::now() + RESTORE_STALL,
            },
        );
        self.respond(
            req,
            &StreamRestoreResponse::ok(RestoreBody {
                deliver_subject: deliver,
            }),
        );
    }

    /// A message on `$JS.SNAPSHOT.>`: an ack making room in a snapshot's
    /// window, or a restore's chunk.
    pub(super) fn snapshot_traffic(&mut self, req: &ApiRequest) {
        if req.subject.starts_with(ACK_PREFIX) {
            // `<key>.<len>.<index>`
            let key: String = req
                .subject
                .rsplitn(3, '.')
                .nth(2)
                .unwrap_or_default()
                .to_string();
            if let Some(s) = self.backups.sends.get_mut(&key) {
                s.in_flight = s.in_flight.saturating_sub(1);
                s.deadline = Instant::now() + FLOW_TIMEOUT;
                self.pump(&key);
            }
            return;
        }
        let Some(restore) = self.backups.restores.get_mut(&req.subject) else {
            return;
        };
        if req.reply.is_empty() {
            // The reference needs each chunk acknowledged: a chunk
            // without a reply ends the restore.
            tracing::warn!(
                "JetStream restore on {}: a chunk without a reply subject, stopped",
                req.subject
            );
            self.backups.restores.remove(&req.subject);
            return;
        }
        if !req.payload.is_empty() {
            restore.buf.extend_from_slice(&req.payload);
            restore.deadline = Instant::now() + RESTORE_STALL;
            self.outbox.publish(&req.reply, None, b"");
            return;
        }
        let Some(restore) = self.backups.restores.remove(&req.subject) else {
            return;
        };
        let name = restore.config.name.clone();
        let restored = archive::read(&restore.buf)
            .map_err(|e| e.to_string())
            .and_then(|a| self.restore_from(restore.config, a));
        match restored {
            Ok(()) => {
                self.send_info(&name, req, super::View::Created);
                crate::advisory::stream_action(
                    &*self.outbox,
                    &name,
                    crate::advisory::Action::Create,
                );
            }
            Err(why) => {
                tracing::warn!("JetStream restore of stream '{name}' failed: {why}");
                let e = STREAM_RESTORE.with(&[("err", &why)]);
                self.respond(req, &StreamCreateResponse::error(e));
            }
        }
    }

    /// Opens a stream holding an archive's messages (at their sequences,
    /// with their times) and consumers, and starts it.
    fn restore_from(&mut self, config: StreamConfig, a: Archive) -> Result<(), String> {
        let archived = a.config.get("name").and_then(serde_json::Value::as_str);
        if archived != Some(config.name.as_str()) {
            return Err("stream names do not match".into());
        }
        let dir = streams_dir(&self.config.store_dir, &self.config.account);
        let (mut store, path) =
            open_store(&config, &dir, self.config.sync_interval).map_err(|e| e.description)?;
        let created_ns = a
            .created
            .as_deref()
            .and_then(crate::api::time::parse_time)
            .unwrap_or_else(now_ns);
        let filled = (|| -> Result<(), crate::store::StoreError> {
            for m in &a.msgs {
                let last = store.state().last_seq;
                if m.seq <= last {
                    continue;
                }
                store.skip(m.seq - last - 1)?;
                let headers =
                    (!m.headers.is_empty()).then(|| bytes::Bytes::from(m.headers.clone()));
                store.append(
                    &m.subject,
                    headers,
                    bytes::Bytes::from(m.payload.clone()),
                    m.time_ns,
                )?;
            }
            let last = store.state().last_seq;
            if a.last_seq > last {
                store.skip(a.last_seq - last)?;
            }
            let doc = serde_json::to_vec(&StoredConfig {
                config: config.clone(),
                created_ns,
            })
            .unwrap_or_default();
            store.save_config(&doc)?;
            store.commit()
        })();
        let cleanup = |path: &Option<std::path::PathBuf>| {
            if let Some(p) = path {
                for (file, e) in crate::store::SegmentFiles::remove_stream_files(p) {
                    tracing::error!("removing {}: {e}", file.display());
                }
            }
        };
        if let Err(e) = filled {
            drop(store);
            cleanup(&path);
            return Err(e.to_string());
        }
        let now = now_ns();
        let built = (|| -> Result<Stream, String> {
            let mut stream = Stream::new(Policy::from_config(&config), store, created_ns)
                .map_err(|e| e.to_string())?;
            for c in a.consumers {
                let cfg: crate::api::consumer::ConsumerConfig =
                    crate::api::json::parse_json(&to_json(&c.config)).map_err(|e| e.description)?;
                let created = crate::api::time::parse_time(&c.created).unwrap_or(created_ns);
                let mut consumer = crate::consumer::Consumer::new(
                    &config.name,
                    &c.name,
                    cfg,
                    created,
                    stream.store(),
                    config.max_msgs_per_subject == 1,
                )
                .map_err(|e| e.to_string())?;
                if let Some(state) = &c.state {
                    consumer.restore_state(state, now);
                }
                consumer.recount_last_per_subject(stream.store());
                stream.consumers.insert(c.name, consumer);
            }
            stream.save_consumers().map_err(|e| e.to_string())?;
            stream.store_mut().commit().map_err(|e| e.to_string())?;
            Ok(stream)
        })();
        let stream = match built {
            Ok(s) => s,
            Err(e) => {
                cleanup(&path);
                return Err(e);
            }
        };
        self.attach(config, created_ns, Body::Open(Box::new(stream)), path)
            .map_err(|e| e.to_string())
    }

    /// The next snapshot or restore deadline.
    pub(super) fn backup_deadline(&self) -> Option<Instant> {
        let sends = self.backups.sends.values().map(|s| s.deadline);
        let restores = self.backups.restores.values().map(|r| r.deadline);
        sends.chain(restores).min()
    }

    /// Ends snapshots whose client stopped acknowledging and drops stalled
    /// restores.
    pub(super) fn backup_timers(&mut self) {
        let now = Instant::now();
        let stalled: Vec<String> = self
            .backups
            .sends
            .iter()
            .filter(|(_, s)| s.deadline <= now)
            .map(|(k, _)| k.clone())
            .collect();
        for key in stalled {
            self.finish_send(&key, Ending::Error("408 No Flow Response"));
        }
        self.backups.restores.retain(|subject, r| {
            let keep = r.deadline > now;
            if !keep {
                tracing::warn!("JetStream restore on {subject} is stalled, dropped");
            }
            keep
        });
    }
}
