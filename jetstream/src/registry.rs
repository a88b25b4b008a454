//! The registry of an account's streams and the `$JS.API` handlers. It
//! lives on the API thread; a handler that needs a stream's data sends the
//! work to that stream's writer thread, which replies itself.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::thread::JoinHandle;

use serde_json::{json, Value};

use crate::api::stream::subjects_collide;
use crate::api::stream::{StorageType, StreamConfig};
use crate::api::{decode, format_time};
use crate::engine::{
    now_ns, open_store, start_stream, streams_dir, ApiRequest, EngineError, JetStreamConfig, Outbox,
};
use crate::error::ApiError;
use crate::msg_api;
use crate::store::Store as _;
use crate::stream::Policy;
use crate::stream::Stream;
use crate::writer::StreamInbox;

const API_PREFIX: &str = "$JS.API.";
const TYPE_PREFIX: &str = "io.nats.jetstream.api.v1.";
/// Page size of STREAM.NAMES and STREAM.LIST, as the reference's.
const NAMES_PAGE: usize = 1024;
const LIST_PAGE: usize = 256;

struct Entry {
    config: StreamConfig,
    created_ns: i64,
    inbox: StreamInbox,
    thread: Option<JoinHandle<()>>,
    path: Option<PathBuf>,
}

pub struct Registry {
    config: JetStreamConfig,
    outbox: Arc<dyn Outbox>,
    streams: BTreeMap<String, Entry>,
    api_total: u64,
    api_errors: u64,
}

impl Registry {
    pub fn new(config: JetStreamConfig, outbox: Arc<dyn Outbox>) -> Self {
        Registry {
            config,
            outbox,
            streams: BTreeMap::new(),
            api_total: 0,
            api_errors: 0,
        }
    }

    /// Reopens every stream stored under `dir`.
    pub fn recover(&mut self, dir: &Path) -> Result<(), EngineError> {
        let entries = std::fs::read_dir(dir)
            .map_err(|e| EngineError(format!("reading {}: {e}", dir.display())))?;
        for entry in entries.flatten() {
            let path = entry.path();
            if path.extension().is_none_or(|x| x != "redb") {
                continue;
            }
            let mut store = crate::store::RedbStore::open(&path)
                .map_err(|e| EngineError(format!("opening {}: {e}", path.display())))?;
            store.set_sync_interval(self.config.sync_interval);
            let Some(doc) = store
                .load_config()
                .map_err(|e| EngineError(e.to_string()))?
            else {
                tracing::warn!("{}: no stream config stored, skipped", path.display());
                continue;
            };
            let stored: StoredConfig = serde_json::from_slice(&doc)
                .map_err(|e| EngineError(format!("{}: bad stored config: {e}", path.display())))?;
            let (inbox, thread) = start_stream(&stored.config, Box::new(store), &self.outbox)
                .map_err(|e| EngineError(e.description.clone()))?;
            self.outbox
                .capture(&stored.config.name, &stored.config.subjects, inbox.clone());
            tracing::info!("  Restored stream {}", stored.config.name);
            self.streams.insert(
                stored.config.name.clone(),
                Entry {
                    config: stored.config,
                    created_ns: stored.created_ns,
                    inbox,
                    thread: Some(thread),
                    path: Some(path),
                },
            );
        }
        Ok(())
    }

    pub fn stop_all(&mut self) {
        for (name, entry) in &mut self.streams {
            self.outbox.release(name);
            entry.inbox.stop();
            if let Some(t) = entry.thread.take() {
                let _ = t.join();
            }
        }
    }

    pub fn handle(&mut self, req: &ApiRequest) {
        let Some(rest) = req.subject.strip_prefix(API_PREFIX) else {
            return;
        };
        let tokens: Vec<&str> = rest.split('.').collect();
        self.api_total += 1;
        match tokens.as_slice() {
            ["INFO"] => self.account_info(req),
            ["STREAM", "CREATE", name] => self.stream_create(name, req),
            ["STREAM", "UPDATE", name] => self.stream_update(name, req),
            ["STREAM", "DELETE", name] => self.stream_delete(name, req),
            ["STREAM", "INFO", name] => self.stream_info(name, req),
            ["STREAM", "NAMES"] => self.stream_names(req),
            ["STREAM", "LIST"] => self.stream_list(req),
            ["STREAM", "PURGE", name] => self.on_stream(name, req, "stream_purge", msg_api::purge),
            ["STREAM", "MSG", "GET", name] => {
                self.on_stream(name, req, "stream_msg_get", msg_api::msg_get)
            }
            ["STREAM", "MSG", "DELETE", name] => {
                self.on_stream(name, req, "stream_msg_delete", msg_api::msg_delete)
            }
            ["DIRECT", "GET", name] => self.direct_get(name, req, None),
            ["DIRECT", "GET", name, subject @ ..] if !subject.is_empty() => {
                self.direct_get(name, req, Some(subject.join(".")));
            }
            // Unknown API subjects get no reply, as with the reference.
            _ => self.api_total -= 1,
        }
    }

    fn reply(&self, req: &ApiRequest, kind: &str, body: Value) {
        send_json(&*self.outbox, &req.reply, kind, body);
    }

    fn reply_error(&mut self, req: &ApiRequest, kind: &str, err: &ApiError) {
        self.api_errors += 1;
        send_error(&*self.outbox, &req.reply, kind, err);
    }

    fn account_info(&mut self, req: &ApiRequest) {
        let (mut memory, mut storage) = (0u64, 0u64);
        for entry in self.streams.values() {
            let (tx, rx) = std::sync::mpsc::channel();
            let memory_stream = entry.config.storage == StorageType::Memory;
            if entry.inbox.run(move |s: &mut Stream| {
                let _ = tx.send(s.store().state().bytes);
            }) {
                let bytes = rx.recv().unwrap_or(0);
                if memory_stream {
                    memory += bytes;
                } else {
                    storage += bytes;
                }
            }
        }
        let body = json!({
            "memory": memory,
            "storage": storage,
            "reserved_memory": 0,
            "reserved_storage": 0,
            "streams": self.streams.len(),
            "consumers": 0,
            "limits": {
                "max_memory": self.config.max_memory,
                "max_storage": self.config.max_storage,
                "max_streams": -1,
                "max_consumers": -1,
                "max_ack_pending": -1,
                "memory_max_stream_bytes": -1,
                "storage_max_stream_bytes": -1,
                "max_bytes_required": false,
            },
            "api": { "level": crate::api::API_LEVEL, "total": self.api_total, "errors": self.api_errors },
        });
        self.reply(req, "account_info", body);
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
        let kind = "stream_create";
        let config = match Self::parse_config(name, &req.payload) {
            Ok(c) => c,
            Err(e) => return self.reply_error(req, kind, &e),
        };
        if let Some(existing) = self.streams.get(name) {
            if existing.config == config {
                return self.send_info(name, req, kind, InfoOptions::created());
            }
            return self.reply_error(req, kind, &ApiError::stream_name_in_use());
        }
        if let Err(e) = self.check_overlap(name, &config.subjects) {
            return self.reply_error(req, kind, &e);
        }
        match self.open_stream(config) {
            Ok(()) => self.send_info(name, req, kind, InfoOptions::created()),
            Err(e) => self.reply_error(req, kind, &e),
        }
    }

    fn open_stream(&mut self, config: StreamConfig) -> Result<(), ApiError> {
        let dir = streams_dir(&self.config.store_dir);
        let (mut store, path) = open_store(&config, &dir, self.config.sync_interval)?;
        let created_ns = now_ns();
        let doc = serde_json::to_vec(&StoredConfig {
            config: config.clone(),
            created_ns,
        })
        .map_err(|e| ApiError::store_failed(e.to_string()))?;
        let saved = store.save_config(&doc).and_then(|()| store.commit());
        saved.map_err(|e| ApiError::store_failed(e.to_string()))?;
        let (inbox, thread) = start_stream(&config, store, &self.outbox)?;
        self.outbox
            .capture(&config.name, &config.subjects, inbox.clone());
        self.streams.insert(
            config.name.clone(),
            Entry {
                config,
                created_ns,
                inbox,
                thread: Some(thread),
                path,
            },
        );
        Ok(())
    }

    /// Another stream already captures one of these subjects.
    fn check_overlap(&self, name: &str, subjects: &[String]) -> Result<(), ApiError> {
        let overlaps = self
            .streams
            .values()
            .filter(|e| e.config.name != name)
            .flat_map(|e| e.config.subjects.iter())
            .any(|theirs| subjects.iter().any(|ours| subjects_collide(ours, theirs)));
        if overlaps {
            Err(ApiError::subjects_overlap())
        } else {
            Ok(())
        }
    }

    fn stream_update(&mut self, name: &str, req: &ApiRequest) {
        let kind = "stream_update";
        // The reference validates an update before it compares names.
        let mut config: StreamConfig = match decode(&req.payload) {
            Ok(c) => c,
            Err(e) => return self.reply_error(req, kind, &e),
        };
        if let Err(e) = config.validate() {
            return self.reply_error(req, kind, &e);
        }
        if config.name != name {
            return self.reply_error(req, kind, &ApiError::stream_name_mismatch());
        }
        let Some(entry) = self.streams.get(name) else {
            return self.reply_error(req, kind, &ApiError::stream_not_found());
        };
        if let Err(e) = StreamConfig::check_update(&entry.config, &mut config) {
            return self.reply_error(req, kind, &e);
        }
        config.set_static_metadata();
        if let Err(e) = self.check_overlap(name, &config.subjects) {
            return self.reply_error(req, kind, &e);
        }
        let created_ns = entry.created_ns;
        let doc = serde_json::to_vec(&StoredConfig {
            config: config.clone(),
            created_ns,
        })
        .unwrap_or_default();
        let policy = Policy::from_config(&config);
        let (tx, rx) = std::sync::mpsc::channel();
        let queued = entry.inbox.run(move |s: &mut Stream| {
            s.set_policy(policy);
            let saved = s
                .store_mut()
                .save_config(&doc)
                .and_then(|()| s.trim_to_limits());
            let _ = tx.send(saved.map_err(|e| e.to_string()));
        });
        match rx.recv() {
            Ok(Ok(())) if queued => {}
            Ok(Err(e)) => return self.reply_error(req, kind, &ApiError::store_failed(e)),
            _ => return self.reply_error(req, kind, &ApiError::stream_not_found()),
        }
        self.outbox
            .capture(name, &config.subjects, entry.inbox.clone());
        if let Some(entry) = self.streams.get_mut(name) {
            entry.config = config;
        }
        self.send_info(name, req, kind, InfoOptions::default());
    }

    fn stream_delete(&mut self, name: &str, req: &ApiRequest) {
        let kind = "stream_delete";
        let Some(mut entry) = self.streams.remove(name) else {
            return self.reply_error(req, kind, &ApiError::stream_not_found());
        };
        self.outbox.release(name);
        entry.inbox.stop();
        if let Some(t) = entry.thread.take() {
            let _ = t.join();
        }
        if let Some(path) = &entry.path {
            if let Err(e) = std::fs::remove_file(path) {
                tracing::error!("removing {}: {e}", path.display());
            }
        }
        self.reply(req, kind, json!({ "success": true }));
    }

    fn stream_info(&mut self, name: &str, req: &ApiRequest) {
        let opts = match InfoOptions::parse(&req.payload) {
            Ok(o) => o,
            Err(e) => return self.reply_error(req, "stream_info", &e),
        };
        self.send_info(name, req, "stream_info", opts);
    }

    /// Has the stream's thread build its info and reply.
    fn send_info(&mut self, name: &str, req: &ApiRequest, kind: &'static str, opts: InfoOptions) {
        let Some(entry) = self.streams.get(name) else {
            return self.reply_error(req, kind, &ApiError::stream_not_found());
        };
        let (config, created_ns) = (entry.config.clone(), entry.created_ns);
        let outbox = self.outbox.clone();
        let reply = req.reply.clone();
        let leader = self.config.server_name.clone();
        entry.inbox.run(move |s: &mut Stream| {
            let mut body = stream_info_json(s, &config, created_ns, &leader, &opts);
            if opts.did_create {
                body["did_create"] = json!(true);
            }
            send_json(&*outbox, &reply, kind, body);
        });
    }

    fn matching_names(&self, payload: &[u8]) -> Result<(Vec<String>, usize), ApiError> {
        let req: NamesRequest = if payload.is_empty() {
            NamesRequest::default()
        } else {
            crate::api::parse_json(payload)?
        };
        let names = self
            .streams
            .values()
            .filter(|e| {
                req.subject
                    .as_deref()
                    .is_none_or(|f| e.config.subjects.iter().any(|s| subjects_collide(f, s)))
            })
            .map(|e| e.config.name.clone())
            .collect();
        Ok((names, req.offset))
    }

    fn stream_names(&mut self, req: &ApiRequest) {
        let kind = "stream_names";
        let (names, offset) = match self.matching_names(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.reply_error(req, kind, &e),
        };
        let total = names.len();
        let page: Vec<String> = names.into_iter().skip(offset).take(NAMES_PAGE).collect();
        // The reference sends `null`, not `[]`, when there are none.
        let streams = if page.is_empty() {
            Value::Null
        } else {
            json!(page)
        };
        self.reply(
            req,
            kind,
            json!({ "total": total, "offset": offset, "limit": NAMES_PAGE, "streams": streams }),
        );
    }

    fn stream_list(&mut self, req: &ApiRequest) {
        let kind = "stream_list";
        let (names, offset) = match self.matching_names(&req.payload) {
            Ok(r) => r,
            Err(e) => return self.reply_error(req, kind, &e),
        };
        let total = names.len();
        let mut infos = Vec::new();
        for name in names.iter().skip(offset).take(LIST_PAGE) {
            let Some(entry) = self.streams.get(name) else {
                continue;
            };
            let (config, created_ns) = (entry.config.clone(), entry.created_ns);
            let leader = self.config.server_name.clone();
            let (tx, rx) = std::sync::mpsc::channel();
            let opts = InfoOptions::default();
            if entry.inbox.run(move |s: &mut Stream| {
                let _ = tx.send(stream_info_json(s, &config, created_ns, &leader, &opts));
            }) {
                if let Ok(info) = rx.recv() {
                    infos.push(info);
                }
            }
        }
        self.reply(
            req,
            kind,
            json!({ "total": total, "offset": offset, "limit": LIST_PAGE, "streams": infos }),
        );
    }

    /// Runs a message API handler on the stream's thread.
    fn on_stream(
        &mut self,
        name: &str,
        req: &ApiRequest,
        kind: &'static str,
        handler: fn(&mut Stream, &StreamConfig, &[u8]) -> Result<Value, ApiError>,
    ) {
        let Some(entry) = self.streams.get(name) else {
            return self.reply_error(req, kind, &ApiError::stream_not_found());
        };
        let config = entry.config.clone();
        let outbox = self.outbox.clone();
        let (reply, payload) = (req.reply.clone(), req.payload.clone());
        entry
            .inbox
            .run(move |s: &mut Stream| match handler(s, &config, &payload) {
                Ok(body) => send_json(&*outbox, &reply, kind, body),
                Err(e) => send_error(&*outbox, &reply, kind, &e),
            });
    }

    fn direct_get(&mut self, name: &str, req: &ApiRequest, last_by_subject: Option<String>) {
        // The reference subscribes direct gets only for streams that allow
        // them, so anything else finds no responder.
        let Some(entry) = self.streams.get(name).filter(|e| e.config.allow_direct) else {
            let mut h = crate::headers::HeaderBlock::status(503, "");
            h.add("Nats-Subject", &req.subject);
            self.outbox.publish(&req.reply, Some(&h.finish()), b"");
            return;
        };
        let outbox = self.outbox.clone();
        let (reply, payload) = (req.reply.clone(), req.payload.clone());
        let stream_name = name.to_string();
        entry.inbox.run(move |s: &mut Stream| {
            msg_api::direct_get(
                s,
                &stream_name,
                &*outbox,
                &reply,
                &payload,
                last_by_subject.as_deref(),
            );
        });
    }
}

/// A stream's config as kept in its store, with its creation time.
#[derive(serde::Serialize, serde::Deserialize)]
struct StoredConfig {
    config: StreamConfig,
    created_ns: i64,
}

#[derive(Default, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct NamesRequest {
    #[serde(default)]
    offset: usize,
    #[serde(default)]
    subject: Option<String>,
}

/// STREAM.INFO's optional request.
#[derive(Default, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct InfoOptions {
    #[serde(default)]
    deleted_details: bool,
    #[serde(default)]
    subjects_filter: Option<String>,
    #[serde(default)]
    offset: usize,
    #[serde(skip)]
    did_create: bool,
}

impl InfoOptions {
    fn created() -> Self {
        InfoOptions {
            did_create: true,
            ..InfoOptions::default()
        }
    }

    fn parse(payload: &[u8]) -> Result<Self, ApiError> {
        if payload.iter().all(u8::is_ascii_whitespace) {
            return Ok(InfoOptions::default());
        }
        crate::api::parse_json(payload)
    }
}

/// Subjects per STREAM.INFO page when a subjects filter is given.
const SUBJECTS_PAGE: usize = 100_000;

fn stream_info_json(
    s: &Stream,
    config: &StreamConfig,
    created_ns: i64,
    leader: &str,
    opts: &InfoOptions,
) -> Value {
    let st = s.store().state();
    let mut state = json!({
        "messages": st.msgs,
        "bytes": st.bytes,
        "first_seq": st.first_seq,
        "first_ts": format_time(if st.msgs > 0 { st.first_ts } else { 0 }),
        "last_seq": st.last_seq,
        "last_ts": format_time(st.last_ts),
        "consumer_count": 0,
    });
    if st.num_subjects > 0 {
        state["num_subjects"] = json!(st.num_subjects);
    }
    if st.num_deleted > 0 {
        state["num_deleted"] = json!(st.num_deleted);
        if opts.deleted_details {
            state["deleted"] = json!(s.store().deleted());
        }
    }
    let (mut total, mut offset, mut limit) = (0, 0, 0);
    if let Some(filter) = &opts.subjects_filter {
        let subjects = s.store().subjects_matching(filter);
        total = subjects.len();
        offset = opts.offset;
        limit = SUBJECTS_PAGE;
        let page: serde_json::Map<String, Value> = subjects
            .into_iter()
            .skip(offset)
            .take(limit)
            .map(|(subj, ss)| (subj, json!(ss.msgs)))
            .collect();
        if !page.is_empty() {
            state["subjects"] = Value::Object(page);
        }
    }
    json!({
        "total": total,
        "offset": offset,
        "limit": limit,
        "config": serde_json::to_value(config.with_dynamic_metadata(crate::api::SERVER_VERSION)).unwrap_or(Value::Null),
        "created": format_time(created_ns),
        "state": state,
        "cluster": { "leader": leader },
        "ts": format_time(now_ns()),
    })
}

pub(crate) fn send_json(outbox: &dyn Outbox, reply: &str, kind: &str, mut body: Value) {
    if let Value::Object(map) = &mut body {
        map.insert(
            "type".into(),
            json!(format!("{TYPE_PREFIX}{kind}_response")),
        );
    }
    let bytes = serde_json::to_vec(&body).unwrap_or_default();
    outbox.publish(reply, None, &bytes);
}

pub(crate) fn send_error(outbox: &dyn Outbox, reply: &str, kind: &str, err: &ApiError) {
    let body = json!({ "error": err });
    send_json(outbox, reply, kind, body);
}
