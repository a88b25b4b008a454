//! The registry of an account's streams and the `$JS.API` handlers. It
//! lives on the API thread; a handler that needs a stream's data sends the
//! work to that stream's shard, which replies itself.
//!
//! Replies are the typed responses of [`crate::api`], so each endpoint's
//! success and error forms are the reference's (e.g. stream_info errors
//! keep `total/offset/limit`, purge errors `"purged":0`). Requests are
//! decoded and checked before the stream is looked up, as the reference
//! does.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use crate::api::account::{AccountInfo, AccountInfoResponse, ApiStats};
use crate::api::json::is_empty_request;
use crate::api::stream::{
    subjects_collide, ClusterInfo, ListBody, MsgDeleteRequest, MsgDeleteResponse, MsgGetBody,
    MsgGetRequest, MsgGetResponse, NamesBody, PurgeRequest, StorageType, StreamConfig,
    StreamCreateResponse, StreamDeleteResponse, StreamInfo, StreamInfoRequest, StreamInfoResponse,
    StreamListRequest, StreamListResponse, StreamNamesRequest, StreamNamesResponse,
    StreamPurgeResponse, StreamState, StreamUpdateResponse,
};
use crate::api::{
    decode, decode_optional, Paged, Response, ResponseBody, LIST_LIMIT, NAMES_LIMIT,
    SERVER_VERSION, SUBJECTS_LIMIT,
};
use crate::config::{open_store, streams_dir, ApiRequest, JetStreamConfig};
use crate::error::ApiError;
use crate::msg_api;
use crate::outbox::{now_ns, Outbox};
use crate::store::StoreError;
use crate::stream::Policy;
use crate::stream::Stream;
use crate::writer::{Reopen, StreamInbox, WriterPool};

mod backup;
mod consumer_api;
mod recovery;
mod source_checks;

use recovery::{open_file_stream, Broken};

const API_PREFIX: &str = "$JS.API.";

struct Entry {
    config: StreamConfig,
    created_ns: i64,
    inbox: StreamInbox,
    path: Option<PathBuf>,
}

/// The account's API counters (`api.total`, `api.errors` in `$JS.API.INFO`),
/// kept as the reference keeps them: a reply counts when it is sent, so
/// INFO does not count itself; an error reply also counts as an error.
/// The header marking the server's own monitoring requests.
pub const MONITOR_HEADER: &str = "Tern-Monitor";

/// Replies sent from a stream's shard count there.
#[derive(Default)]
struct ApiCounters {
    total: AtomicU64,
    errors: AtomicU64,
}

/// How a reply counts.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Counted {
    /// Not at all: a successful STREAM.MSG.GET (the reference sends it
    /// without its API accounting).
    No,
    Total,
    /// In the total and the errors.
    Error,
}

impl ApiCounters {
    fn count(&self, counted: Counted) {
        if counted != Counted::No {
            self.total.fetch_add(1, Ordering::SeqCst);
        }
        if counted == Counted::Error {
            self.errors.fetch_add(1, Ordering::SeqCst);
        }
    }
}

pub struct Registry {
    config: JetStreamConfig,
    outbox: Arc<dyn Outbox>,
    /// Routes publishes to the streams that capture them.
    captures: Arc<dyn crate::writer::Captures>,
    streams: BTreeMap<String, Entry>,
    /// Streams whose files could not be opened, by name.
    broken: BTreeMap<String, Broken>,
    counters: Arc<ApiCounters>,
    readers: Arc<crate::store::Readers>,
    pool: WriterPool,
    /// Every running stream's subjects, for overlap checks.
    subjects: crate::subject_index::SubjectIndex,
    /// Start-up recovery is over.
    recovering_done: bool,
    /// Snapshots being sent, restores being received.
    backups: backup::Backups,
}

impl Registry {
    pub fn new(
        config: JetStreamConfig,
        outbox: Arc<dyn Outbox>,
        captures: Arc<dyn crate::writer::Captures>,
    ) -> std::io::Result<Self> {
        let readers: Arc<crate::store::Readers> = Arc::default();
        let pool = WriterPool::start(config.shards, &outbox, &readers, config.release_memory)?;
        Ok(Registry {
            config,
            outbox,
            captures,
            streams: BTreeMap::new(),
            broken: BTreeMap::new(),
            counters: Arc::default(),
            readers,
            pool,
            subjects: crate::subject_index::SubjectIndex::default(),
            recovering_done: false,
            backups: backup::Backups::default(),
        })
    }

    pub fn readers(&self) -> Arc<crate::store::Readers> {
        self.readers.clone()
    }

    /// The streams' ingest queues, for their depths.
    pub fn ingest_queues(&self) -> Arc<crate::metrics::IngestQueues> {
        self.pool.ingest_queues()
    }

    /// Hands an open stream to the writers, starts capturing its subjects
    /// and registers it.
    fn attach(
        &mut self,
        config: StreamConfig,
        created_ns: i64,
        stream: Body,
        path: Option<PathBuf>,
    ) -> Result<(), StoreError> {
        let mut stream = stream;
        if let Body::Open(stream) = &mut stream {
            self.readers.set(&config.name, stream.store().reader());
            let holds_msgs = stream.store().state().msgs > 0;
            stream.set_sourcing(crate::sourcing::Sourcing::new(
                &config,
                &self.config.account,
                now_ns(),
                holds_msgs,
            ));
        }
        self.readers.set_direct(&config.name, config.allow_direct);
        let reopen: Option<Reopen> = path.clone().map(|path| {
            let sync = self.config.sync_interval;
            let f: Reopen = Box::new(move || {
                let opened = open_file_stream(&path, sync)?;
                let (_, mut stream) =
                    opened.ok_or_else(|| StoreError::corrupt("the stream config is gone"))?;
                stream.load_consumers(now_ns())?;
                Ok(stream)
            });
            f
        });
        // Recovered streams close their files until used; a new one is
        // about to be used.
        let park = !self.recovering_done;
        let attached = match (stream, reopen) {
            (Body::Open(stream), reopen) => {
                self.pool.attach(*stream, reopen, self.config.ingest, park)
            }
            (Body::Parked { bytes }, Some(reopen)) => {
                self.pool
                    .attach_parked(&config.name, bytes, reopen, self.config.ingest)
            }
            (Body::Parked { .. }, None) => Err(StoreError::Unsupported {
                what: "a stream without files cannot be parked",
            }),
        };
        let inbox = match attached {
            Ok(inbox) => inbox,
            Err(e) => {
                self.readers.set(&config.name, None);
                return Err(e);
            }
        };
        let sourcing = self.sourcing_subjects(&config);
        self.captures
            .capture(&config.name, &config.subjects, &sourcing, inbox.clone());
        for subject in &config.subjects {
            self.subjects.insert(subject, &config.name);
        }
        self.streams.insert(
            config.name.clone(),
            Entry {
                config,
                created_ns,
                inbox,
                path,
            },
        );
        Ok(())
    }

    /// The deliver and reply subjects of a stream's mirror or sources.
    fn sourcing_subjects(&self, config: &StreamConfig) -> Vec<String> {
        let token = crate::sourcing::token_for(&self.config.account, &config.name);
        crate::sourcing::capture_subjects(config, &token)
    }

    /// The program's memory release hook (`JetStreamConfig::release_memory`).
    pub fn release_memory(&self) -> Option<fn()> {
        self.config.release_memory
    }

    /// The error for a request naming a stream that is not running: its
    /// failure if it could not be opened, else not found.
    fn missing(&self, name: &str) -> ApiError {
        match self.broken.get(name) {
            Some(b) => ApiError::store_failed(&b.reason),
            None => ApiError::stream_not_found(),
        }
    }

    pub fn stop_all(&mut self) {
        for name in self.streams.keys() {
            self.captures.release(name);
        }
        self.pool.stop();
    }

    pub fn handle(&mut self, req: &ApiRequest) {
        // The server's own monitoring asks (its `/varz`, `/healthz`) are
        // answered like any request but not counted as the account's API
        // use, as the reference's monitoring reads its state directly.
        let monitor = req
            .headers
            .as_deref()
            .is_some_and(|h| crate::headers::get(h, MONITOR_HEADER).is_some());
        if monitor {
            let counted = std::mem::take(&mut self.counters);
            self.handle_request(req);
            self.counters = counted;
            return;
        }
        self.handle_request(req);
    }

    fn handle_request(&mut self, req: &ApiRequest) {
        if req.subject.starts_with("$JS.SNAPSHOT.") {
            return self.snapshot_traffic(req);
        }
        let Some(rest) = req.subject.strip_prefix(API_PREFIX) else {
            return;
        };
        let tokens: Vec<&str> = rest.split('.').collect();
        if required_level(req).is_some_and(|level| level > crate::api::API_LEVEL) {
            return self.refuse_api_level(&tokens, req);
        }
        match tokens.as_slice() {
            ["INFO"] => self.account_info(req),
            ["STREAM", "CREATE", name] => self.stream_create(name, req),
            ["STREAM", "UPDATE", name] => self.stream_update(name, req),
            ["STREAM", "DELETE", name] => self.stream_delete(name, req),
            ["STREAM", "INFO", name] => self.stream_info(name, req),
            ["STREAM", "NAMES"] => self.stream_names(req),
            ["STREAM", "LIST"] => self.stream_list(req),
            ["STREAM", "PURGE", name] => self.stream_purge(name, req),
            ["STREAM", "MSG", "GET", name] => self.msg_get(name, req),
            ["STREAM", "MSG", "DELETE", name] => self.msg_delete(name, req),
            ["STREAM", "SNAPSHOT", name] => self.stream_snapshot(name, req),
            ["STREAM", "RESTORE", name] => self.stream_restore(name, req),
            ["DIRECT", "GET", name] => self.direct_get(name, req, None),
            ["DIRECT", "GET", name, subject @ ..] if !subject.is_empty() => {
                self.direct_get(name, req, Some(subject.join(".")));
            }
            ["CONSUMER", "CREATE", stream, ..] | ["CONSUMER", "DURABLE", "CREATE", stream, _] => {
                self.consumer_op(stream, req, ConsumerOp::Create);
            }
            ["CONSUMER", "INFO", stream, name] => {
                self.consumer_op(stream, req, ConsumerOp::Info(name))
            }
            ["CONSUMER", "DELETE", stream, name] => {
                self.consumer_op(stream, req, ConsumerOp::Delete(name));
            }
            ["CONSUMER", "NAMES", stream] => self.consumer_op(stream, req, ConsumerOp::Names),
            ["CONSUMER", "LIST", stream] => self.consumer_op(stream, req, ConsumerOp::List),
            ["CONSUMER", "PAUSE", stream, name] => {
                self.consumer_op(stream, req, ConsumerOp::Pause(name));
            }
            ["CONSUMER", "RESET", stream, name] => self.consumer_reset(stream, name, req),
            ["CONSUMER", "UNPIN", stream, name] => match consumer_api::unpin_group(&req.payload) {
                Ok(group) => self.consumer_op(stream, req, ConsumerOp::Unpin(name, group)),
                Err(e) => {
                    let resp = crate::api::consumer::ConsumerUnpinResponse::error(e);
                    self.respond(req, &resp);
                }
            },
            // A running stream takes its pulls itself; for any other the
            // reference has no subscriber, so the requester gets a 503.
            ["CONSUMER", "MSG", "NEXT", stream, _] if !self.streams.contains_key(*stream) => {
                let h = crate::headers::no_responders(&req.subject);
                self.outbox.publish(&req.reply, Some(&h), b"");
            }
            // Unknown API subjects get no reply, as with the reference.
            _ => {}
        }
    }

    /// A request asking for a newer API level than this server's gets
    /// 412/10185 in its endpoint's response.
    fn refuse_api_level(&mut self, tokens: &[&str], req: &ApiRequest) {
        // Consumer endpoints go unanswered (as before: not compared yet).
        if tokens.first() == Some(&"CONSUMER") {
            return;
        }
        if let Some(json) = endpoint_error(tokens, ApiError::required_api_level()) {
            self.counters.count(Counted::Error);
            self.outbox.publish(&req.reply, None, &json);
        }
    }

    /// Sends a reply, counting it as a success or an error.
    fn respond<B: ResponseBody>(&self, req: &ApiRequest, resp: &Response<B>) {
        let counted = if resp.error.is_some() {
            Counted::Error
        } else {
            Counted::Total
        };
        send(&*self.outbox, &self.counters, &req.reply, resp, counted);
    }

    /// What answers `req` when its stream cannot run it: the endpoint's
    /// error reply (body type `B`), counted as an error.
    fn error_reply<B: ResponseBody + 'static>(&self, req: &ApiRequest) -> FailedReply {
        let (outbox, counters) = (self.outbox.clone(), self.counters.clone());
        let reply = req.reply.clone();
        Box::new(move |e: &ApiError| {
            let resp = Response::<B>::error(e.clone());
            send(&*outbox, &counters, &reply, &resp, Counted::Error);
        })
    }

    fn account_info(&mut self, req: &ApiRequest) {
        let (mut memory, mut storage, mut consumers) = (0u64, 0u64, 0u64);
        // What streams' max_bytes set aside, as the reference reports it.
        let (mut reserved_memory, mut reserved_storage) = (0u64, 0u64);
        for entry in self.streams.values() {
            consumers += entry.inbox.consumer_count();
            let bytes = entry.inbox.stored_bytes();
            let reserved = u64::try_from(entry.config.max_bytes).unwrap_or(0);
            if entry.config.storage == StorageType::Memory {
                memory += bytes;
                reserved_memory += reserved;
            } else {
                storage += bytes;
                reserved_storage += reserved;
            }
        }
        // The account's own limits (all -1 unless its config set them),
        // whatever the server's.
        let info = AccountInfo {
            limits: self.config.limits.clone(),
            memory,
            storage,
            reserved_memory,
            reserved_storage,
            streams: self.streams.len() as u64,
            consumers,
            domain: self.config.domain.clone(),
            api: ApiStats {
                total: self.counters.total.load(Ordering::SeqCst),
                errors: self.counters.errors.load(Ordering::SeqCst),
                ..ApiStats::default()
            },
        };
        self.respond(req, &AccountInfoResponse::info(info));
    }

    /// Parses and checks a stream config body for create; the name in the
    /// body must be the subject's.
    fn parse_config(name: &str, payload: &[u8]) -> Result<StreamConfig, ApiError> {
        let mut config: StreamConfig = decode(payload)?;
        if config.name != name {
            return Err(ApiError::stream_name_mismatch());
        }
        config.validate_create()?;
        config.set_static_metadata();
        Ok(config)
    }

    fn stream_create(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| StreamCreateResponse::error(e);
        let mut config = match Self::parse_config(name, &req.payload) {
            Ok(c) => c,
            Err(e) => return self.respond(req, &error(e)),
        };
        if let Err(e) =
            source_checks::check(&mut config, |n| self.streams.get(n).map(|e| &e.config))
        {
            return self.respond(req, &error(e));
        }
        if let Err(e) = self.check_max_bytes(&config) {
            return self.respond(req, &error(e));
        }
        if let Some(existing) = self.streams.get(name) {
            // Idempotent: the existing stream, still `did_create`.
            if existing.config == config {
                return self.send_info(name, req, View::Created);
            }
            return self.respond(req, &error(ApiError::stream_name_in_use()));
        }
        if let Some(b) = self.broken.get(name) {
            return self.respond(req, &error(ApiError::store_failed(&b.reason)));
        }
        if let Err(e) = self.check_overlap(name, &config.subjects) {
            return self.respond(req, &error(e));
        }
        let max = self.config.limits.max_streams;
        if max > 0 && self.streams.len() + self.broken.len() >= max as usize {
            return self.respond(req, &error(ApiError::maximum_streams_limit()));
        }
        if let Err(e) = self.check_reservations(&config, None) {
            return self.respond(req, &error(e));
        }
        match self.open_stream(config) {
            Ok(()) => {
                self.send_info(name, req, View::Created);
                crate::advisory::stream_action(
                    &*self.outbox,
                    name,
                    crate::advisory::Action::Create,
                );
            }
            Err(e) => self.respond(req, &error(e)),
        }
    }

    /// The account's rules on a stream's `max_bytes`, checked with the
    /// config as the reference checks them: required, and at most the
    /// account's cap for the storage type.
    fn check_max_bytes(&self, config: &StreamConfig) -> Result<(), ApiError> {
        let l = &self.config.limits;
        let cap = if config.storage == StorageType::Memory {
            l.memory_max_stream_bytes
        } else {
            l.storage_max_stream_bytes
        };
        if l.max_bytes_required && config.max_bytes <= 0 {
            return Err(crate::error::STREAM_MAX_BYTES_REQUIRED.into());
        }
        if cap > 0 && config.max_bytes > cap {
            return Err(crate::error::STREAM_MAX_STREAM_BYTES_EXCEEDED.into());
        }
        Ok(())
    }

    /// The account's limits a stream (new, or `replacing` one) must fit:
    /// its `max_consumers` within the account's, and its `max_bytes`
    /// within what the account's storage of that type leaves after the
    /// other streams' `max_bytes` (a stream without one reserves a byte).
    fn check_reservations(
        &self,
        config: &StreamConfig,
        replacing: Option<&str>,
    ) -> Result<(), ApiError> {
        let l = &self.config.limits;
        if config.max_consumers > 0 && l.max_consumers > 0 && config.max_consumers > l.max_consumers
        {
            return Err(ApiError::maximum_consumers_limit());
        }
        let memory = config.storage == StorageType::Memory;
        let limit = if memory { l.max_memory } else { l.max_storage };
        if limit < 0 {
            return Ok(());
        }
        let reserved: i64 = self
            .streams
            .iter()
            .filter(|(n, e)| Some(n.as_str()) != replacing && e.config.storage == config.storage)
            .map(|(_, e)| e.config.max_bytes.max(0))
            .sum();
        let add = if config.max_bytes < 0 {
            1
        } else {
            config.max_bytes
        };
        if reserved > limit || add > limit - reserved {
            return Err(if memory {
                crate::error::MEMORY_RESOURCES_EXCEEDED.into()
            } else {
                crate::error::STORAGE_RESOURCES_EXCEEDED.into()
            });
        }
        Ok(())
    }

    fn open_stream(&mut self, config: StreamConfig) -> Result<(), ApiError> {
        let dir = streams_dir(&self.config.store_dir, &self.config.account);
        let (mut store, path) = open_store(&config, &dir, self.config.sync_interval)?;
        let created_ns = now_ns();
        let doc = serde_json::to_vec(&StoredConfig {
            config: config.clone(),
            created_ns,
        })
        .map_err(|e| ApiError::store_failed(e.to_string()))?;
        // A first_seq moves an empty store's sequence, as the reference's
        // compact does: first_seq N, last_seq N - 1.
        if config.first_seq > 0 {
            store
                .purge(None, Some(config.first_seq), None)
                .map_err(|e| ApiError::store_failed(e.to_string()))?;
        }
        let saved = store.save_config(&doc).and_then(|()| store.commit());
        saved.map_err(|e| ApiError::store_failed(e.to_string()))?;
        let policy = Policy::from_config(&config);
        let stream = Stream::new(policy, store, created_ns)
            .map_err(|e| ApiError::store_failed(e.to_string()))?;
        self.attach(config, created_ns, Body::Open(Box::new(stream)), path)
            .map_err(|e| ApiError::store_failed(e.to_string()))
    }

    /// Another stream already captures one of these subjects.
    fn check_overlap(&self, name: &str, subjects: &[String]) -> Result<(), ApiError> {
        let overlaps = subjects.iter().any(|s| self.subjects.collides(s, name));
        if overlaps {
            Err(ApiError::subjects_overlap())
        } else {
            Ok(())
        }
    }

    fn stream_update(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| StreamUpdateResponse::error(e);
        // The reference validates an update before it compares names.
        let mut config: StreamConfig = match decode(&req.payload) {
            Ok(c) => c,
            Err(e) => return self.respond(req, &error(e)),
        };
        if let Err(e) = config.validate() {
            return self.respond(req, &error(e));
        }
        if let Err(e) =
            source_checks::check(&mut config, |n| self.streams.get(n).map(|e| &e.config))
        {
            return self.respond(req, &error(e));
        }
        if let Err(e) = self.check_max_bytes(&config) {
            return self.respond(req, &error(e));
        }
        if config.name != name {
            return self.respond(req, &error(ApiError::stream_name_mismatch()));
        }
        let Some(entry) = self.streams.get(name) else {
            return self.respond(req, &error(self.missing(name)));
        };
        if let Err(e) = self.check_reservations(&config, Some(name)) {
            return self.respond(req, &error(e));
        }
        if let Err(e) = StreamConfig::check_update(&entry.config, &mut config) {
            return self.respond(req, &error(e));
        }
        config.set_static_metadata();
        if let Err(e) = self.check_overlap(name, &config.subjects) {
            return self.respond(req, &error(e));
        }
        let created_ns = entry.created_ns;
        let doc = serde_json::to_vec(&StoredConfig {
            config: config.clone(),
            created_ns,
        })
        .unwrap_or_default();
        let policy = Policy::from_config(&config);
        let limits_changed = entry.config.consumer_limits != config.consumer_limits;
        let limits = config.consumer_limits.clone();
        let (new_config, account, outbox) = (
            config.clone(),
            self.config.account.clone(),
            self.outbox.clone(),
        );
        let (tx, rx) = std::sync::mpsc::channel();
        let failed_tx = tx.clone();
        let queued = entry.inbox.run(
            move |s: &mut Stream| {
                // New consumer limits must not put a consumer over them
                // (compared as the reference compares: a limit left at 0
                // is exceeded by any setting).
                if limits_changed {
                    let over: Vec<&str> = s
                        .consumers
                        .values()
                        .filter(|c| {
                            c.config.inactive_threshold > limits.inactive_threshold
                                || c.config.max_ack_pending > limits.max_ack_pending
                        })
                        .map(|c| c.name.as_str())
                        .collect();
                    if !over.is_empty() {
                        let err =
                            format!("change to limits violates consumers: {}", over.join(", "));
                        let _ = tx.send(Err(crate::error::STREAM_UPDATE.with(&[("err", &err)])));
                        return;
                    }
                }
                let old_per_subject = s.policy().max_msgs_per_subject;
                let was_interest = s.policy().interest_retention;
                s.set_policy(policy);
                // Sources added or removed (a mirror cannot change).
                let mut out = Vec::new();
                let holds_msgs = s.store().state().msgs > 0;
                match s.sourcing.as_mut() {
                    Some(sourcing) => {
                        sourcing.update(&new_config, now_ns(), holds_msgs, &mut out);
                    }
                    None => {
                        let sourcing = crate::sourcing::Sourcing::new(
                            &new_config,
                            &account,
                            now_ns(),
                            holds_msgs,
                        );
                        s.set_sourcing(sourcing);
                    }
                }
                if new_config.mirror.is_none() && new_config.sources.is_empty() {
                    if let Some(mut gone) = s.take_sourcing() {
                        gone.stop(&mut out);
                    }
                }
                outbox.send(&out);
                let saved = s
                    .store_mut()
                    .save_config(&doc)
                    .and_then(|()| s.trim_to_limits(old_per_subject))
                    .map(|()| {
                        s.report_removals();
                        s.after_removals();
                    })
                    .and_then(|()| {
                        if was_interest {
                            Ok(())
                        } else {
                            s.after_interest_retention()
                        }
                    });
                let _ = tx.send(saved.map_err(|e| ApiError::store_failed(e.to_string())));
            },
            move |e| {
                let _ = failed_tx.send(Err(e.clone()));
            },
        );
        match rx.recv() {
            Ok(Ok(())) if queued => {}
            Ok(Err(e)) => return self.respond(req, &error(e)),
            _ => return self.respond(req, &error(ApiError::stream_not_found())),
        }
        let sourcing = self.sourcing_subjects(&config);
        self.captures
            .capture(name, &config.subjects, &sourcing, entry.inbox.clone());
        if let Some(entry) = self.streams.get_mut(name) {
            for subject in &entry.config.subjects {
                self.subjects.remove(subject, name);
            }
            for subject in &config.subjects {
                self.subjects.insert(subject, name);
            }
            self.readers.set_direct(name, config.allow_direct);
            entry.config = config;
        }
        self.send_info(name, req, View::Updated);
        crate::advisory::stream_action(&*self.outbox, name, crate::advisory::Action::Modify);
    }

    fn stream_delete(&mut self, name: &str, req: &ApiRequest) {
        let path = if let Some(entry) = self.streams.remove(name) {
            for subject in &entry.config.subjects {
                self.subjects.remove(subject, name);
            }
            self.captures.release(name);
            self.readers.set(name, None);
            self.readers.set_direct(name, false);
            entry.inbox.stop();
            entry.path
        } else if let Some(b) = self.broken.remove(name) {
            // A stream that could not be opened can still be deleted.
            Some(b.path)
        } else {
            let resp = StreamDeleteResponse::error(ApiError::stream_not_found());
            return self.respond(req, &resp);
        };
        if let Some(path) = &path {
            for (file, e) in crate::store::SegmentFiles::remove_stream_files(path) {
                tracing::error!("removing {}: {e}", file.display());
            }
        }
        self.respond(req, &StreamDeleteResponse::deleted());
        crate::advisory::stream_action(&*self.outbox, name, crate::advisory::Action::Delete);
    }

    fn stream_info(&mut self, name: &str, req: &ApiRequest) {
        match decode_optional::<StreamInfoRequest>(&req.payload) {
            Ok(r) => self.send_info(name, req, View::Info(r)),
            Err(e) => self.respond(req, &StreamInfoResponse::error(e)),
        }
    }

    /// Has the stream's shard build its info and reply.
    fn send_info(&mut self, name: &str, req: &ApiRequest, view: View) {
        let Some(entry) = self.streams.get(name) else {
            let e = self.missing(name);
            return match view {
                View::Created => self.respond(req, &StreamCreateResponse::error(e)),
                View::Updated => self.respond(req, &StreamUpdateResponse::error(e)),
                View::Info(_) => self.respond(req, &StreamInfoResponse::error(e)),
            };
        };
        let (config, created_ns) = (entry.config.clone(), entry.created_ns);
        let (outbox, counters) = (self.outbox.clone(), self.counters.clone());
        let reply = req.reply.clone();
        let leader = self.config.server_name.clone();
        let failed = match &view {
            View::Created => self.error_reply::<crate::api::stream::CreateBody>(req),
            View::Updated => self.error_reply::<crate::api::stream::UpdateBody>(req),
            View::Info(_) => self.error_reply::<crate::api::stream::InfoBody>(req),
        };
        entry.inbox.run(
            move |s: &mut Stream| {
                let (out, c) = (&*outbox, &counters);
                match view {
                    View::Created => {
                        let (info, _) = stream_info(s, &config, created_ns, None, true, None);
                        let resp = StreamCreateResponse::created(info, true);
                        send(out, c, &reply, &resp, Counted::Total);
                    }
                    View::Updated => {
                        let (info, _) = stream_info(s, &config, created_ns, None, true, None);
                        let resp = StreamUpdateResponse::updated(info);
                        send(out, c, &reply, &resp, Counted::Total);
                    }
                    View::Info(r) => {
                        let (info, paged) =
                            stream_info(s, &config, created_ns, Some(&leader), true, Some(&r));
                        let resp = StreamInfoResponse::info(info, paged);
                        send(out, c, &reply, &resp, Counted::Total);
                    }
                }
            },
            failed,
        );
    }

    /// The streams whose subjects collide with `subject` (all when empty),
    /// sorted by name.
    fn matching_names(&self, subject: &str) -> Vec<String> {
        self.streams
            .values()
            .filter(|e| {
                subject.is_empty()
                    || e.config
                        .subjects
                        .iter()
                        .any(|s| subjects_collide(subject, s))
            })
            .map(|e| e.config.name.clone())
            .collect()
    }

    fn stream_names(&mut self, req: &ApiRequest) {
        let r: StreamNamesRequest = match decode_optional(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &StreamNamesResponse::error(e)),
        };
        let names = self.matching_names(&r.subject);
        let offset = r.offset.max(0);
        let total = names.len() as i64;
        let page: Vec<String> = names
            .into_iter()
            .skip(offset as usize)
            .take(NAMES_LIMIT as usize)
            .collect();
        // The reference sends `null`, not `[]`, when there are none.
        let body = NamesBody {
            paged: Paged {
                total,
                offset,
                limit: NAMES_LIMIT,
            },
            streams: (!page.is_empty()).then_some(page),
        };
        self.respond(req, &StreamNamesResponse::ok(body));
    }

    fn stream_list(&mut self, req: &ApiRequest) {
        let r: StreamListRequest = match decode_optional(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &StreamListResponse::error(e)),
        };
        let names = self.matching_names(&r.subject);
        let offset = r.offset.max(0);
        let total = names.len() as i64;
        let mut infos = Vec::new();
        for name in names.iter().skip(offset as usize).take(LIST_LIMIT as usize) {
            let Some(entry) = self.streams.get(name) else {
                continue;
            };
            let (config, created_ns) = (entry.config.clone(), entry.created_ns);
            let (tx, rx) = std::sync::mpsc::channel();
            // Each entry shows the stored config (no server version or
            // level in its metadata) and no cluster.
            if entry.inbox.run(
                move |s: &mut Stream| {
                    let (info, _) = stream_info(s, &config, created_ns, None, false, None);
                    let _ = tx.send(info);
                },
                |_| {},
            ) {
                if let Ok(info) = rx.recv() {
                    infos.push(info);
                }
            }
        }
        let body = ListBody {
            paged: Paged {
                total,
                offset,
                limit: LIST_LIMIT,
            },
            streams: infos,
            ..ListBody::default()
        };
        self.respond(req, &StreamListResponse::ok(body));
    }

    fn stream_purge(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| StreamPurgeResponse::error(e);
        let r: PurgeRequest = match decode_optional(&req.payload).and_then(|r: PurgeRequest| {
            r.check()?;
            Ok(r)
        }) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &error(e)),
        };
        let Some(entry) = self.streams.get(name) else {
            return self.respond(req, &error(self.missing(name)));
        };
        if entry.config.sealed {
            return self.respond(req, &error(ApiError::stream_sealed()));
        }
        if entry.config.deny_purge {
            return self.respond(req, &error(ApiError::purge_not_permitted()));
        }
        self.on_stream(entry, req, move |s| {
            let resp = match msg_api::purge(s, &r) {
                Ok(purged) => StreamPurgeResponse::purged(purged),
                Err(e) => error(e),
            };
            let counted = if resp.error.is_some() {
                Counted::Error
            } else {
                Counted::Total
            };
            (resp, counted)
        });
    }

    fn msg_get(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| MsgGetResponse::error(e);
        let r: MsgGetRequest = match decode(&req.payload).and_then(|r: MsgGetRequest| {
            r.check_single()?;
            Ok(r)
        }) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &error(e)),
        };
        let Some(entry) = self.streams.get(name) else {
            return self.respond(req, &error(self.missing(name)));
        };
        self.on_stream(entry, req, move |s| match msg_api::msg_get(s, &r) {
            Ok(message) => (
                MsgGetResponse::ok(MsgGetBody {
                    message: Some(message),
                }),
                Counted::No,
            ),
            Err(e) => (error(e), Counted::Error),
        });
    }

    fn msg_delete(&mut self, name: &str, req: &ApiRequest) {
        let error = |e| MsgDeleteResponse::error(e);
        if is_empty_request(&req.payload) {
            return self.respond(req, &error(ApiError::bad_request()));
        }
        let r: MsgDeleteRequest = match decode(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.respond(req, &error(e)),
        };
        let Some(entry) = self.streams.get(name) else {
            return self.respond(req, &error(self.missing(name)));
        };
        if entry.config.sealed {
            return self.respond(req, &error(ApiError::stream_sealed()));
        }
        if entry.config.deny_delete {
            return self.respond(req, &error(ApiError::msg_delete_not_permitted()));
        }
        let memory = entry.config.storage == StorageType::Memory;
        // The store's refusals are sent as plain replies that carry an
        // error: the reference counts them in the total, not as errors.
        self.on_stream(entry, req, move |s| {
            let resp = match msg_api::msg_delete(s, memory, r.seq) {
                Ok(()) => MsgDeleteResponse::deleted(),
                Err(e) => error(e),
            };
            (resp, Counted::Total)
        });
    }

    /// Runs `handler` on the stream's shard and sends its reply from there.
    fn on_stream<B: ResponseBody + 'static>(
        &self,
        entry: &Entry,
        req: &ApiRequest,
        handler: impl FnOnce(&mut Stream) -> (Response<B>, Counted) + Send + 'static,
    ) {
        let (outbox, counters) = (self.outbox.clone(), self.counters.clone());
        let reply = req.reply.clone();
        let inbox = entry.inbox.clone();
        entry.inbox.run(
            move |s: &mut Stream| {
                let (resp, counted) = handler(s);
                inbox.note_state(s);
                send(&*outbox, &counters, &reply, &resp, counted);
            },
            self.error_reply::<B>(req),
        );
    }

    /// Runs a consumer endpoint on the stream's shard.
    fn consumer_op(&mut self, stream: &str, req: &ApiRequest, op: ConsumerOp<'_>) {
        use crate::api::consumer as c;
        let Some(entry) = self.streams.get(stream) else {
            let e = self.missing(stream);
            let json = match op {
                ConsumerOp::Create => c::ConsumerCreateResponse::error(e).to_json(),
                ConsumerOp::Info(_) => c::ConsumerInfoResponse::error(e).to_json(),
                ConsumerOp::Delete(_) => c::ConsumerDeleteResponse::error(e).to_json(),
                ConsumerOp::Names => c::ConsumerNamesResponse::error(e).to_json(),
                ConsumerOp::List => c::ConsumerListResponse::error(e).to_json(),
                ConsumerOp::Pause(_) => c::ConsumerPauseResponse::error(e).to_json(),
                ConsumerOp::Unpin(..) => c::ConsumerUnpinResponse::error(e).to_json(),
            };
            self.counters.count(Counted::Error);
            self.outbox.publish(&req.reply, None, &json);
            return;
        };
        let (outbox, counters) = (self.outbox.clone(), self.counters.clone());
        let config = entry.config.clone();
        let account = &self.config.limits;
        let limits = crate::api::consumer::ConsumerLimits {
            account_max_consumers: account.max_consumers.max(0),
            account_max_ack_pending: account.max_ack_pending.max(0),
            ..Default::default()
        };
        let (subject, reply, payload) =
            (req.subject.clone(), req.reply.clone(), req.payload.clone());
        let op = match op {
            ConsumerOp::Create => OwnedOp::Create,
            ConsumerOp::Info(n) => OwnedOp::Info(n.to_string()),
            ConsumerOp::Delete(n) => OwnedOp::Delete(n.to_string()),
            ConsumerOp::Names => OwnedOp::Names,
            ConsumerOp::List => OwnedOp::List,
            ConsumerOp::Pause(n) => OwnedOp::Pause(n.to_string()),
            ConsumerOp::Unpin(n, g) => OwnedOp::Unpin(n.to_string(), g),
        };
        let failed = {
            use crate::api::consumer as c;
            match &op {
                OwnedOp::Create => self.error_reply::<c::CreateBody>(req),
                OwnedOp::Info(_) => self.error_reply::<c::InfoBody>(req),
                OwnedOp::Delete(_) => self.error_reply::<c::DeleteBody>(req),
                OwnedOp::Names => self.error_reply::<c::NamesBody>(req),
                OwnedOp::List => self.error_reply::<c::ListBody>(req),
                OwnedOp::Pause(_) => self.error_reply::<c::PauseBody>(req),
                OwnedOp::Unpin(..) => self.error_reply::<c::UnpinBody>(req),
            }
        };
        let inbox = entry.inbox.clone();
        entry.inbox.run(
            move |s: &mut Stream| {
                use self::consumer_api as api;
                let now = crate::outbox::now_ns();
                let mut out = Vec::new();
                let before: Vec<String> = match &op {
                    OwnedOp::Create => s.consumers.keys().cloned().collect(),
                    _ => Vec::new(),
                };
                let r = match &op {
                    OwnedOp::Create => {
                        api::create(s, &config, &limits, &subject, &payload, now, &*outbox)
                    }
                    OwnedOp::Info(n) => api::info(s, n, &payload, now, &*outbox),
                    OwnedOp::Delete(n) => api::delete(s, n, &mut out),
                    OwnedOp::Names => api::names(s, &payload),
                    OwnedOp::List => api::list(s, &payload, now, &*outbox),
                    OwnedOp::Pause(n) => api::pause(s, n, &payload, now),
                    OwnedOp::Unpin(n, g) => api::unpin(s, n, g),
                };
                // Waiting pulls hear of a deletion before the API reply.
                if !out.is_empty() {
                    outbox.send(&out);
                }
                inbox.note_state(s);
                counters.count(if r.error {
                    Counted::Error
                } else {
                    Counted::Total
                });
                outbox.publish(&reply, None, &r.json);
                use crate::advisory::{consumer_action, Action};
                match &op {
                    OwnedOp::Create if !r.error => {
                        for name in s.consumers.keys().filter(|n| !before.contains(n)) {
                            consumer_action(&*outbox, &config.name, name, Action::Create);
                        }
                    }
                    OwnedOp::Delete(n) if !r.error => {
                        consumer_action(&*outbox, &config.name, n, Action::Delete);
                    }
                    _ => {}
                }
                if matches!(op, OwnedOp::Create | OwnedOp::Pause(_) | OwnedOp::Unpin(..)) {
                    let mut out = Vec::new();
                    s.deliver_consumers(&*outbox, now, &mut out);
                    if !out.is_empty() {
                        outbox.send(&out);
                    }
                }
            },
            failed,
        );
    }

    /// CONSUMER.RESET. The reference's consumer takes these itself: a
    /// missing stream or consumer gets no reply (the API's subscription
    /// takes the request and drops it), nor does a request without a
    /// reply subject, and they are not counted as API calls. The reply
    /// goes out as the consumer's internal message does, with an empty
    /// reply subject (`MSG <inbox> <sid>  <size>`).
    fn consumer_reset(&mut self, stream: &str, name: &str, req: &ApiRequest) {
        if req.reply.is_empty() {
            return;
        }
        let Some(entry) = self.streams.get(stream) else {
            return;
        };
        let outbox = self.outbox.clone();
        let (name, reply, payload) = (name.to_string(), req.reply.clone(), req.payload.clone());
        let inbox = entry.inbox.clone();
        let failed = self.error_reply::<crate::api::consumer::ResetBody>(req);
        entry.inbox.run(
            move |s: &mut Stream| {
                if !s.consumers.contains_key(&name) {
                    return;
                }
                let now = crate::outbox::now_ns();
                let r = consumer_api::reset(s, &name, &payload, now, &*outbox);
                inbox.note_state(s);
                outbox.publish_with_reply(&reply, "", None, &r.json);
                let mut out = Vec::new();
                s.deliver_consumers(&*outbox, now, &mut out);
                if !out.is_empty() {
                    outbox.send(&out);
                }
            },
            failed,
        );
    }

    /// Direct gets are not API calls in the account's counts.
    fn direct_get(&mut self, name: &str, req: &ApiRequest, last_by_subject: Option<String>) {
        // The reference subscribes direct gets only for streams that allow
        // them, so anything else finds no responder; a mirror with
        // `mirror_direct` answers for an origin that is not here (one in
        // another domain or account), as the reference's mirrors join the
        // origin's direct-get queue group.
        let mirror_of = |e: &Entry| {
            e.config.mirror_direct && e.config.mirror.as_ref().is_some_and(|m| m.name == name)
        };
        let name = match self.streams.get(name) {
            Some(e) if e.config.allow_direct => name.to_string(),
            Some(_) => String::new(),
            None => self
                .streams
                .iter()
                .find(|(_, e)| mirror_of(e))
                .map(|(n, _)| n.clone())
                .unwrap_or_default(),
        };
        let name = name.as_str();
        let Some(entry) = self.streams.get(name) else {
            let h = crate::headers::no_responders(&req.subject);
            self.outbox.publish(&req.reply, Some(&h), b"");
            return;
        };
        // The simple forms of a file stream are read here from its
        // committed data, without a hop to the stream's shard.
        if let Some(reader) = self.readers.get(name).filter(|r| r.is_current()) {
            if let Some(found) =
                simple_direct_get(&reader, last_by_subject.as_deref(), &req.payload)
            {
                match found {
                    Ok(Some(m)) => msg_api::send_direct(&*self.outbox, &req.reply, name, &m, None),
                    Ok(None) => {
                        let h =
                            crate::headers::HeaderBlock::status(404, "Message Not Found").finish();
                        self.outbox.publish(&req.reply, Some(&h), b"");
                    }
                    Err(e) => tracing::error!("stream {name}: direct get: {e}"),
                }
                return;
            }
        }
        let outbox = self.outbox.clone();
        let (reply, payload) = (req.reply.clone(), req.payload.clone());
        let stream_name = name.to_string();
        let (failed_outbox, failed_reply) = (outbox.clone(), reply.clone());
        entry.inbox.run(
            move |s: &mut Stream| {
                msg_api::direct_get(
                    s,
                    &stream_name,
                    &*outbox,
                    &reply,
                    &payload,
                    last_by_subject.as_deref(),
                );
            },
            move |e: &ApiError| {
                let h = crate::headers::HeaderBlock::status(503, &e.description).finish();
                failed_outbox.publish(&failed_reply, Some(&h), b"");
            },
        );
    }
}

/// Answers a `$JS.API.DIRECT.GET` request where it arrives (the
/// publisher's thread), without the API thread, when it is one of the
/// simple forms and the stream's committed data has every acked write;
/// false when it must take the queue (any other form, headers to check,
/// a stream without a current reader or not allowing direct gets).
pub fn direct_get_inline(
    readers: &crate::store::Readers,
    outbox: &dyn Outbox,
    req: &ApiRequest,
) -> bool {
    if req.headers.is_some() {
        return false;
    }
    let Some(rest) = req.subject.strip_prefix("$JS.API.DIRECT.GET.") else {
        return false;
    };
    let (name, last_by_subject) = match rest.split_once('.') {
        Some((name, subject)) => (name, Some(subject)),
        None => (rest, None),
    };
    if name.is_empty() || last_by_subject == Some("") {
        return false;
    }
    let Some(reader) = readers.direct(name) else {
        return false;
    };
    match simple_direct_get(&reader, last_by_subject, &req.payload) {
        Some(Ok(Some(m))) => msg_api::send_direct(outbox, &req.reply, name, &m, None),
        Some(Ok(None)) => {
            let h = crate::headers::HeaderBlock::status(404, "Message Not Found").finish();
            outbox.publish(&req.reply, Some(&h), b"");
        }
        // Errors are answered (and logged) by the stream's own path.
        Some(Err(_)) | None => return false,
    }
    true
}

/// A direct get by sequence, or of a literal subject's last message,
/// answered from a reader; `None` for every other form (batches,
/// next_by_subj, wildcards, bad requests), which the stream's shard
/// answers.
fn simple_direct_get(
    reader: &crate::store::StoreReader,
    last_by_subject: Option<&str>,
    payload: &[u8],
) -> Option<Result<Option<crate::store::StoredMsg>, crate::store::StoreError>> {
    let literal = |s: &str| !s.is_empty() && !crate::subject::has_wildcard(s.as_bytes());
    if let Some(subject) = last_by_subject {
        return (payload.is_empty() && literal(subject)).then(|| reader.last_for_subject(subject));
    }
    let req: crate::api::stream::MsgGetRequest = serde_json::from_slice(payload).ok()?;
    let only_seq = crate::api::stream::MsgGetRequest {
        seq: req.seq,
        ..Default::default()
    };
    if req.seq > 0 && req == only_seq {
        return Some(reader.get(req.seq));
    }
    let only_last = crate::api::stream::MsgGetRequest {
        last_by_subj: req.last_by_subj.clone(),
        ..Default::default()
    };
    if literal(&req.last_by_subj) && req == only_last {
        return Some(reader.last_for_subject(&req.last_by_subj));
    }
    None
}

/// The `Nats-Required-Api-Level` a request carries, if any.
fn required_level(req: &ApiRequest) -> Option<u32> {
    let headers = req.headers.as_deref()?;
    crate::headers::get(headers, "Nats-Required-Api-Level")?
        .parse()
        .ok()
}

/// A stream's config as kept in its store, with its creation time.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConfig {
    config: StreamConfig,
    created_ns: i64,
}

/// Which stream-info reply to build.
enum View {
    /// stream_create: no cluster, no paging.
    Created,
    /// stream_update: likewise.
    Updated,
    /// stream_info: cluster and paging, per the request.
    Info(StreamInfoRequest),
}

/// What a stream reports about itself, and the paging of its subjects
/// (non-zero only when the request's `subjects_filter` matched some).
/// `leader`: the `cluster` field (STREAM.INFO only). `dynamic`: the server's
/// version and level added to the metadata (not in STREAM.LIST).
fn stream_info(
    s: &Stream,
    config: &StreamConfig,
    created_ns: i64,
    leader: Option<&str>,
    dynamic: bool,
    req: Option<&StreamInfoRequest>,
) -> (StreamInfo, Paged) {
    let st = s.store().state();
    let mut state = StreamState {
        messages: st.msgs,
        bytes: st.bytes,
        first_seq: st.first_seq,
        first_ts: if st.msgs > 0 { st.first_ts } else { 0 },
        last_seq: st.last_seq,
        last_ts: st.last_ts,
        num_subjects: st.num_subjects,
        consumer_count: s.public_consumers() as u64,
        num_deleted: st.num_deleted,
        ..StreamState::default()
    };
    let mut paged = Paged::default();
    if let Some(req) = req {
        if req.deleted_details && st.num_deleted > 0 {
            state.deleted = s.store().deleted();
        }
        if !req.subjects_filter.is_empty() {
            let subjects = s.store().subjects_matching(&req.subjects_filter);
            if !subjects.is_empty() {
                let offset = req.offset.max(0);
                paged = Paged {
                    total: subjects.len() as i64,
                    offset,
                    limit: SUBJECTS_LIMIT,
                };
                let page: BTreeMap<String, u64> = subjects
                    .into_iter()
                    .skip(offset as usize)
                    .take(SUBJECTS_LIMIT as usize)
                    .map(|(subject, ss)| (subject, ss.msgs))
                    .collect();
                if !page.is_empty() {
                    state.subjects = Some(page);
                }
            }
        }
    }
    let config = if dynamic {
        config.with_dynamic_metadata(SERVER_VERSION)
    } else {
        config.clone()
    };
    let (mirror, sources) = match &s.sourcing {
        Some(sourcing) => {
            let mut all = sourcing.info(now_ns());
            if sourcing.is_mirror() {
                (all.pop(), Vec::new())
            } else {
                (None, all)
            }
        }
        None => (
            config.mirror.as_ref().map(source_info),
            config.sources.iter().map(source_info).collect(),
        ),
    };
    let info = StreamInfo {
        config,
        created: created_ns,
        state,
        cluster: leader.map(|l| ClusterInfo {
            leader: l.to_string(),
            ..ClusterInfo::default()
        }),
        mirror,
        sources,
        ts: now_ns(),
        ..StreamInfo::default()
    };
    (info, paged)
}

/// A mirror's or source's progress before the stream copies (a stream
/// reported before its shard took it): as the reference's before its first
/// contact (nothing lagging, never active).
fn source_info(src: &crate::api::stream::StreamSource) -> crate::api::stream::StreamSourceInfo {
    crate::api::stream::StreamSourceInfo {
        name: src.name.clone(),
        external: src.external.clone(),
        lag: 0,
        active: -1,
        error: None,
        filter_subject: src.filter_subject.clone(),
        subject_transforms: src.subject_transforms.clone(),
    }
}

/// Counts and publishes one reply.
fn send<B: ResponseBody>(
    outbox: &dyn Outbox,
    counters: &ApiCounters,
    reply: &str,
    resp: &Response<B>,
    counted: Counted,
) {
    counters.count(counted);
    outbox.publish(reply, None, &resp.to_json());
}

/// Error `e` in the response body of the API endpoint `tokens` names (the
/// subject's tokens after `$JS.API.`); `None` for subjects that are not
/// endpoints with a response of their own.
pub fn endpoint_error(tokens: &[&str], e: ApiError) -> Option<Vec<u8>> {
    use crate::api::consumer as c;
    Some(match tokens {
        ["INFO"] => AccountInfoResponse::error(e).to_json(),
        ["STREAM", "CREATE", _] => StreamCreateResponse::error(e).to_json(),
        ["STREAM", "UPDATE", _] => StreamUpdateResponse::error(e).to_json(),
        ["STREAM", "DELETE", _] => StreamDeleteResponse::error(e).to_json(),
        ["STREAM", "INFO", _] => StreamInfoResponse::error(e).to_json(),
        ["STREAM", "NAMES"] => StreamNamesResponse::error(e).to_json(),
        ["STREAM", "LIST"] => StreamListResponse::error(e).to_json(),
        ["STREAM", "PURGE", _] => StreamPurgeResponse::error(e).to_json(),
        ["STREAM", "MSG", "GET", _] => MsgGetResponse::error(e).to_json(),
        ["STREAM", "MSG", "DELETE", _] => MsgDeleteResponse::error(e).to_json(),
        ["CONSUMER", "CREATE", ..] | ["CONSUMER", "DURABLE", "CREATE", _, _] => {
            c::ConsumerCreateResponse::error(e).to_json()
        }
        ["CONSUMER", "INFO", _, _] => c::ConsumerInfoResponse::error(e).to_json(),
        ["CONSUMER", "DELETE", _, _] => c::ConsumerDeleteResponse::error(e).to_json(),
        ["CONSUMER", "NAMES", _] => c::ConsumerNamesResponse::error(e).to_json(),
        ["CONSUMER", "LIST", _] => c::ConsumerListResponse::error(e).to_json(),
        ["CONSUMER", "PAUSE", _, _] => c::ConsumerPauseResponse::error(e).to_json(),
        ["CONSUMER", "UNPIN", _, _] => c::ConsumerUnpinResponse::error(e).to_json(),
        _ => return None,
    })
}

/// A consumer endpoint, as parsed from the subject.
enum ConsumerOp<'a> {
    Create,
    Info(&'a str),
    Delete(&'a str),
    Names,
    List,
    Pause(&'a str),
    Unpin(&'a str, String),
}

/// The same, owned, for the stream's shard.
enum OwnedOp {
    Create,
    Info(String),
    Delete(String),
    Names,
    List,
    Pause(String),
    Unpin(String, String),
}

/// The answer to a request whose stream cannot run it.
type FailedReply = Box<dyn FnOnce(&ApiError) + Send>;

/// A stream handed to the writers: open, or parked with what it stores.
enum Body {
    Open(Box<Stream>),
    Parked { bytes: u64 },
}
