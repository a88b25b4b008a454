//! Glue between the server and tern-jetstream: JetStream's API requests and
//! the publishes its streams capture arrive through internal subscriptions;
//! its replies, acks and deliveries go out as internal publishes. Nothing
//! here runs storage work on a connection's task: callbacks only copy the
//! message into a bounded queue.

use std::collections::HashMap;
use std::path::PathBuf;
use std::sync::Arc;
use std::time::Instant;

use bytes::Bytes;
use parking_lot::Mutex;
use tern_jetstream::engine::{
    api_refusal, not_enabled_reply, ApiInbox, ApiRefused, ApiRequest, JetStream, JetStreamConfig,
    OutMsg, Outbox,
};
use tern_jetstream::stream::Inbound;
use tern_jetstream::writer::{refusal_ack, Refused, StreamInbox};
use tracing::{info, warn};

use crate::account::{Account, AccountJetStream};
use crate::config::options::{default_store_dir, Options, SyncInterval, API_LEVEL};
use crate::handle::{FlushSet, InternalMsg};
use crate::router::Subscription;
use crate::server::{InternalClient, Server};

/// The account's JetStream API subjects.
const API_SUBJECT: &str = "$JS.API.>";
/// Where backup chunks and their acknowledgements travel.
const SNAPSHOT_SUBJECT: &str = "$JS.SNAPSHOT.>";

/// The internal clients and subscriptions capturing one stream's
/// subjects, and its mirror's or sources' deliveries and replies.
struct Capture {
    client: InternalClient,
    subs: Vec<Arc<Subscription>>,
    sourcing: Option<(InternalClient, Vec<Arc<Subscription>>)>,
}

/// The server side of JetStream's `Outbox`.
struct ServerOutbox {
    server: Arc<Server>,
    /// The account this JetStream serves: its API, captures and
    /// deliveries live in its subject space.
    account: Arc<Account>,
    /// Per stream: the internal client and subscriptions capturing its
    /// subjects.
    captures: Mutex<HashMap<String, Capture>>,
    /// API requests awaiting their audit advisory.
    audits: crate::js_audit::Audits,
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

impl Outbox for ServerOutbox {
    fn publish(&self, subject: &str, headers: Option<&[u8]>, payload: &[u8]) {
        let audit = self.audits.replied(&self.server, subject, payload);
        let mut flush = FlushSet::default();
        self.server.publish_noted(
            &self.account,
            subject.as_bytes(),
            headers,
            payload,
            &mut flush,
        );
        if let Some(body) = audit {
            self.server.publish_noted(
                &self.account,
                crate::js_audit::AUDIT_SUBJECT.as_bytes(),
                None,
                &body,
                &mut flush,
            );
        }
        flush.flush();
    }

    fn publish_batch(&self, msgs: &[(String, Vec<u8>)]) {
        self.server.publish_batch_in(
            &self.account,
            msgs.iter().map(|(s, p)| (s.as_bytes(), p.as_slice())),
        );
    }

    fn publish_with_reply(
        &self,
        subject: &str,
        reply: &str,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) {
        self.server.publish_in(
            &self.account,
            subject.as_bytes(),
            Some(reply.as_bytes()),
            headers,
            payload,
        );
    }

    fn send(&self, msgs: &[OutMsg]) {
        self.server.publish_routed_in(
            &self.account,
            msgs.iter().map(|m| crate::server::RoutedMsg {
                to: m.to.as_bytes(),
                subject: m.subject.as_bytes(),
                reply: m.reply.as_deref().map(str::as_bytes),
                headers: m.headers.as_deref(),
                payload: &m.payload,
            }),
        );
    }

    fn has_interest(&self, subject: &str, queue: Option<&str>) -> bool {
        self.server
            .has_interest_in(&self.account, subject.as_bytes(), queue.map(str::as_bytes))
    }
}

impl tern_jetstream::writer::Captures for ServerOutbox {
    fn capture(&self, stream: &str, subjects: &[String], sourcing: &[String], inbox: StreamInbox) {
        self.release(stream);
        // A mirror's or source's traffic: told apart by the subscription
        // it came through (a delivery's subject is the origin message's).
        let sourcing_inbox = inbox.clone();
        let sourcing_subjects: Vec<String> = sourcing.to_vec();
        let sourcing_client = (!sourcing.is_empty()).then(|| {
            let by_sid = sourcing_subjects.clone();
            self.server.internal_client_in(
                &self.account,
                Box::new(move |m: &InternalMsg<'_>| {
                    let Some(via) = std::str::from_utf8(m.sid)
                        .ok()
                        .and_then(|sid| sid.parse::<usize>().ok())
                        .and_then(|i| by_sid.get(i))
                    else {
                        return;
                    };
                    let msg = Inbound {
                        subject: text(m.subject),
                        reply: m.reply.map(text),
                        headers: m.headers.map(Bytes::copy_from_slice),
                        payload: Bytes::copy_from_slice(m.payload),
                    };
                    // A full queue drops it: the gap shows, and the
                    // stream asks its origin again.
                    let _ = sourcing_inbox.offer_sourced(via, msg);
                }),
            )
        });
        let server = Arc::downgrade(&self.server);
        let account = self.account.clone();
        let client = self.server.internal_client_in(
            &self.account,
            Box::new(move |m: &InternalMsg<'_>| {
                let msg = Inbound {
                    subject: text(m.subject),
                    reply: m.reply.map(text),
                    headers: m.headers.map(Bytes::copy_from_slice),
                    payload: Bytes::copy_from_slice(m.payload),
                };
                let consumer_traffic = msg.subject.starts_with("$JS.");
                // A full queue answers a publish at once (the stream logs
                // it, rate-limited); a stream going away drops it.
                if let Err(Refused::Full) = inbox.offer(msg) {
                    if let (Some(reply), false, Some(server)) =
                        (m.reply, consumer_traffic, server.upgrade())
                    {
                        let (headers, body) = refusal_ack(inbox.name());
                        server.publish_in(&account, reply, None, Some(headers), &body);
                    }
                }
            }),
        );
        // The stream's consumer traffic comes the same way: acks, flow
        // control replies and pull requests.
        let consumer_subjects = [
            format!("$JS.ACK.{stream}.>"),
            format!("$JS.FC.{stream}.>"),
            format!("$JS.API.CONSUMER.MSG.NEXT.{stream}.*"),
        ];
        let subs = subjects
            .iter()
            .chain(consumer_subjects.iter())
            .enumerate()
            .map(|(i, s)| client.subscribe(s, None, &i.to_string()))
            .collect();
        let sourcing = sourcing_client.map(|c| {
            let subs = sourcing_subjects
                .iter()
                .enumerate()
                .map(|(i, s)| c.subscribe(s, None, &i.to_string()))
                .collect();
            (c, subs)
        });
        self.captures.lock().insert(
            stream.to_string(),
            Capture {
                client,
                subs,
                sourcing,
            },
        );
    }

    fn release(&self, stream: &str) {
        if let Some(capture) = self.captures.lock().remove(stream) {
            for sub in &capture.subs {
                capture.client.unsubscribe(sub);
            }
            if let Some((client, subs)) = &capture.sourcing {
                for sub in subs {
                    client.unsubscribe(sub);
                }
            }
        }
    }
}

/// A running JetStream, attached to its server.
pub struct Attached {
    /// None: an account without JetStream, whose requests are refused.
    engine: Option<JetStream>,
    /// The client taking the account's API requests, and its subscription.
    api: (InternalClient, Arc<Subscription>),
    /// The client taking backup chunks and acks.
    snapshot: Option<(InternalClient, Arc<Subscription>)>,
}

impl Attached {
    pub fn shutdown(self) {
        self.api.0.unsubscribe(&self.api.1);
        if let Some((client, sub)) = &self.snapshot {
            client.unsubscribe(sub);
        }
        if let Some(engine) = self.engine {
            engine.shutdown();
        }
    }
}

/// The directory JetStream's files go in: `<store_dir>/jetstream`, as the
/// reference lays it out.
pub fn store_root(opts: &Options) -> PathBuf {
    opts.store_dir
        .clone()
        .unwrap_or_else(default_store_dir)
        .join("jetstream")
}

/// One account's JetStream could not start.
#[derive(Debug)]
pub struct JetStreamStartError {
    /// The account.
    pub account: String,
    /// Why.
    pub source: tern_jetstream::engine::EngineError,
}

impl std::fmt::Display for JetStreamStartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "account {:?}: {}", self.account, self.source)
    }
}

impl std::error::Error for JetStreamStartError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&self.source)
    }
}

/// Starts JetStream: for `$G` when no accounts are configured, else for
/// each account whose config enables it (as the reference does).
pub fn start(server: &Arc<Server>) -> Result<Vec<Attached>, JetStreamStartError> {
    let opts = server.opts();
    let started = Instant::now();
    info!("Starting JetStream");
    let base = base_config(server);
    log_banner(&base);
    let mut attached = Vec::new();
    if opts.accounts.is_empty() && opts.auth.trust.is_none() {
        attached.push(start_for(server, server.global_account(), base)?);
    } else {
        for acc in &opts.accounts {
            let Some(account) = server.account(&acc.name) else {
                continue;
            };
            let Some(js) = &acc.jetstream else {
                attached.push(refuse_for(server, &account));
                continue;
            };
            let mut config = JetStreamConfig {
                account: acc.name.clone(),
                ..base.clone()
            };
            apply_limits(&mut config, js);
            attached.push(start_for(server, &account, config)?);
        }
        // `$G` (clients of no account) has none either.
        attached.push(refuse_for(server, server.global_account()));
    }
    info!("Took {:?} to start JetStream", started.elapsed());
    Ok(attached)
}

/// JetStream for an account that arrived after start-up (operator mode:
/// its account JWT enables it, or not). Nothing when the server runs
/// without JetStream.
pub fn attach_late(server: &Arc<Server>, account: &Arc<Account>, js: Option<&AccountJetStream>) {
    if !server.opts().jetstream {
        return;
    }
    let attached = match js {
        None => refuse_for(server, account),
        Some(js) => {
            let mut config = JetStreamConfig {
                account: account.name.clone(),
                ..base_config(server)
            };
            apply_limits(&mut config, js);
            match start_for(server, account, config) {
                Ok(a) => a,
                Err(e) => {
                    tracing::error!(
                        "Could not start JetStream for account {:?}: {e}",
                        account.name
                    );
                    refuse_for(server, account)
                }
            }
        }
    };
    server.add_shutdown_task(Box::new(move || attached.shutdown()));
}

/// The server's JetStream settings, before any account's limits.
fn base_config(server: &Server) -> JetStreamConfig {
    let opts = server.opts();
    let root = store_root(&opts);
    let mut base = JetStreamConfig {
        max_memory: opts.max_memory_store.unwrap_or_else(default_max_memory),
        max_storage: opts
            .max_file_store
            .unwrap_or_else(|| default_max_storage(&root)),
        sync_interval: match opts.sync_interval {
            SyncInterval::Always => None,
            SyncInterval::Every(d) => Some(d),
        },
        server_name: server.name().to_string(),
        domain: opts.js_domain.clone().unwrap_or_default(),
        release_memory: Some(release_memory),
        ..JetStreamConfig::new(root.clone())
    };
    if let Some(n) = opts.stream_max_buffered_msgs {
        base.ingest.max_msgs = n;
    }
    if let Some(n) = opts.stream_max_buffered_size {
        base.ingest.max_bytes = n;
    }
    if let Some(n) = opts.js_request_queue_limit {
        base.api_queue_limit = n;
    }
    base
}

/// An account without JetStream on a server with it: API requests get
/// their endpoint's 503/10039 answer, as from the reference.
fn refuse_for(server: &Arc<Server>, account: &Arc<Account>) -> Attached {
    let weak = Arc::downgrade(server);
    let reply_account = account.clone();
    let client = server.internal_client_in(
        account,
        Box::new(move |m: &InternalMsg<'_>| {
            let (Some(reply), Some(server)) = (m.reply, weak.upgrade()) else {
                return;
            };
            if let Some(body) = not_enabled_reply(&String::from_utf8_lossy(m.subject)) {
                server.publish_in(&reply_account, reply, None, None, &body);
            }
        }),
    );
    Attached {
        engine: None,
        api: (client.clone(), client.subscribe(API_SUBJECT, None, "api")),
        snapshot: None,
    }
}

/// An account's configured limits narrow the server's.
fn apply_limits(config: &mut JetStreamConfig, js: &AccountJetStream) {
    let limits = &mut config.limits;
    if let Some(n) = js.max_memory {
        limits.max_memory = n;
        if n >= 0 {
            config.max_memory = n;
        }
    }
    if let Some(n) = js.max_storage {
        limits.max_storage = n;
        if n >= 0 {
            config.max_storage = n;
        }
    }
    if let Some(n) = js.max_streams {
        limits.max_streams = n;
    }
    if let Some(n) = js.max_consumers {
        limits.max_consumers = n;
    }
    limits.max_bytes_required = js.max_bytes_required;
    if let Some(n) = js.memory_max_stream_bytes {
        limits.memory_max_stream_bytes = n;
    }
    if let Some(n) = js.storage_max_stream_bytes {
        limits.storage_max_stream_bytes = n;
    }
    if let Some(n) = js.max_ack_pending {
        limits.max_ack_pending = n;
    }
}

/// Starts one account's JetStream: its engine, and its API subscription in
/// the account's subject space.
fn start_for(
    server: &Arc<Server>,
    account: &Arc<Account>,
    config: JetStreamConfig,
) -> Result<Attached, JetStreamStartError> {
    let outbox = Arc::new(ServerOutbox {
        server: server.clone(),
        account: account.clone(),
        captures: Mutex::new(HashMap::new()),
        audits: crate::js_audit::Audits::default(),
    });
    let name = config.account.clone();
    // Weak: the API subscription must not keep the engine's outbox alive.
    let audits = Arc::downgrade(&outbox);
    let captures = outbox.clone();
    let engine =
        JetStream::start(config, outbox, captures).map_err(|source| JetStreamStartError {
            account: name,
            source,
        })?;
    server.add_ingest_queues(&account.name, engine.ingest_queues());
    if Arc::ptr_eq(account, server.global_account()) {
        // The in-process KV and object store read `$G`'s streams.
        server.set_jetstream_readers(engine.readers());
    }
    let inbox: ApiInbox = engine.api_inbox();
    // Monitoring asks the engine here directly, not through the account's
    // subject space, where another client could see or answer its asks.
    server.add_api_inbox(&account.name, inbox.clone());
    let weak = Arc::downgrade(server);
    let reply_account = account.clone();
    let readers = engine.readers();
    let client = server.internal_client_in(
        account,
        Box::new(move |m: &InternalMsg<'_>| {
            let Some(reply) = m.reply else {
                // A request without a reply gets nothing, as with the reference.
                return;
            };
            let req = ApiRequest {
                subject: text(m.subject),
                reply: text(reply),
                headers: m.headers.map(Bytes::copy_from_slice),
                payload: Bytes::copy_from_slice(m.payload),
            };
            if let (Some(server), Some(outbox)) = (weak.upgrade(), audits.upgrade()) {
                // Simple direct gets of committed data are answered here,
                // on the asker's thread (not audited, as the reference).
                if tern_jetstream::engine::direct_get_inline(&readers, &*outbox, &req) {
                    return;
                }
                outbox
                    .audits
                    .note(&server, &reply_account, &req.subject, &req.reply, m.payload);
            }
            if let Err(ApiRefused::Full) = inbox.offer(req) {
                warn_api_full();
                if let Some(server) = weak.upgrade() {
                    let (headers, body) = api_refusal();
                    server.publish_in(&reply_account, reply, None, Some(headers), &body);
                }
            }
        }),
    );
    let api_sub = client.subscribe(API_SUBJECT, None, "api");
    // Backups' chunk traffic: snapshot acks (which have no reply subject)
    // and restore chunks, handed to the API thread as they come.
    let snapshot_inbox = engine.api_inbox();
    let snapshot_client = server.internal_client_in(
        account,
        Box::new(move |m: &InternalMsg<'_>| {
            let req = ApiRequest {
                subject: text(m.subject),
                reply: m.reply.map(text).unwrap_or_default(),
                headers: None,
                payload: Bytes::copy_from_slice(m.payload),
            };
            if snapshot_inbox.offer(req).is_err() {
                warn_api_full();
            }
        }),
    );
    let snapshot_sub = snapshot_client.subscribe(SNAPSHOT_SUBJECT, None, "snapshot");
    Ok(Attached {
        engine: Some(engine),
        api: (client, api_sub),
        snapshot: Some((snapshot_client, snapshot_sub)),
    })
}

/// Hands the memory that idle streams freed back to the system: mimalloc
/// keeps freed pages of a thread's heap until that heap is collected.
fn release_memory() {
    // SAFETY: mi_collect has no preconditions; with another global
    // allocator it collects an unused heap.
    unsafe { libmimalloc_sys::mi_collect(true) };
}

/// One warning a second at most: a flood of requests must not flood the
/// log too.
fn warn_api_full() {
    static LAST: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);
    let now = std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map_or(0, |d| d.as_secs());
    if LAST.swap(now, std::sync::atomic::Ordering::Relaxed) != now {
        warn!("JetStream API queue limit reached, refusing requests");
    }
}

fn log_banner(c: &JetStreamConfig) {
    for line in [
        "    _ ___ _____ ___ _____ ___ ___   _   __  __",
        " _ | | __|_   _/ __|_   _| _ \\ __| /_\\ |  \\/  |",
        "| || | _|  | | \\__ \\ | | |   / _| / _ \\| |\\/| |",
        " \\__/|___| |_| |___/ |_| |_|_\\___/_/ \\_\\_|  |_|",
        "",
        "         https://docs.nats.io/jetstream",
        "",
        "---------------- JETSTREAM ----------------",
    ] {
        info!("{line}");
    }
    info!("  Strict:          true");
    info!("  Max Memory:      {}", friendly_bytes(c.max_memory));
    info!("  Max Storage:     {}", friendly_bytes(c.max_storage));
    info!("  Store Directory: \"{}\"", c.store_dir.display());
    info!("  API Level:       {API_LEVEL}");
    info!("-------------------------------------------");
}

/// Sizes as the reference prints them (`17.65 GB`, 1024-based).
fn friendly_bytes(n: i64) -> String {
    const UNITS: [&str; 6] = ["B", "KB", "MB", "GB", "TB", "PB"];
    let mut v = n as f64;
    let mut unit = 0;
    while v >= 1024.0 && unit < UNITS.len() - 1 {
        v /= 1024.0;
        unit += 1;
    }
    if unit == 0 {
        format!("{n} B")
    } else {
        format!("{v:.2} {}", UNITS[unit])
    }
}

/// Three quarters of the machine's memory, as the reference defaults.
pub(crate) fn default_max_memory() -> i64 {
    // SAFETY: sysinfo only fills the struct we own; zeroed is a valid value.
    let mut info: libc::sysinfo = unsafe { std::mem::zeroed() };
    if unsafe { libc::sysinfo(&mut info) } != 0 {
        return 1 << 30;
    }
    let total = i64::try_from(info.totalram * u64::from(info.mem_unit)).unwrap_or(i64::MAX);
    total / 4 * 3
}

/// Three quarters of the free space where the store lives.
pub(crate) fn default_max_storage(dir: &std::path::Path) -> i64 {
    use std::os::unix::ffi::OsStrExt;
    let mut probe = dir.to_path_buf();
    while !probe.exists() {
        if !probe.pop() {
            break;
        }
    }
    let Ok(path) = std::ffi::CString::new(probe.as_os_str().as_bytes()) else {
        return 1 << 40;
    };
    // SAFETY: statvfs fills the struct we own from a valid C string path.
    let mut st: libc::statvfs = unsafe { std::mem::zeroed() };
    if unsafe { libc::statvfs(path.as_ptr(), &mut st) } != 0 {
        return 1 << 40;
    }
    let free = st.f_bavail * st.f_frsize;
    i64::try_from(free).unwrap_or(i64::MAX) / 4 * 3
}
