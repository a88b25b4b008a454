//! The server: accept loop, connection registry and limits, lame duck mode
//! and shutdown. One `$G` account router for now; internal clients (no
//! socket) publish and subscribe through the same router.

use std::collections::HashMap;
use std::io;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use bytes::Bytes;
use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::Notify;
use tokio::task::JoinHandle;
use tracing::{debug, error, info};

use crate::account::{Account, GLOBAL_ACCOUNT, SYSTEM_ACCOUNT};
use crate::client::{self, CloseReason, FlushSet, Handle, InternalCallback};
use crate::config::options::{Options, Port};
use crate::info::{new_server_id, Info};
use crate::proto::write::{self, Frame, Sizes};
use crate::router::{Router, Subscription};

/// Counters the server keeps (monitoring reads them).
#[derive(Default)]
pub struct Stats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Messages and bytes sent to clients that have closed (live ones
    /// keep their own counts).
    pub closed_out_msgs: AtomicU64,
    pub closed_out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
    pub stale_connections: AtomicU64,
    pub total_connections: AtomicU64,
    /// Clients refused for their credentials.
    pub auth_failures: AtomicU64,
}

pub struct Server {
    /// The running configuration; a reload swaps it whole.
    opts: parking_lot::RwLock<Arc<Options>>,
    /// The client host, which a reload cannot change (INFO borrows it).
    host: String,
    id: String,
    name: String,
    addr: OnceLock<SocketAddr>,
    /// The default account `$G`.
    global: Arc<Account>,
    /// Where monitoring listens, once it does.
    monitor_addr: OnceLock<SocketAddr>,
    /// Monitoring requests served per endpoint (varz `http_req_stats`).
    http_stats: Arc<crate::monitor::RequestStats>,
    /// When the server started (varz `start`, `config_load_time`).
    started: std::time::SystemTime,
    /// Set when clients connect over TLS.
    tls: parking_lot::RwLock<Option<tokio_rustls::TlsAcceptor>>,
    /// Reads the configuration again, for a reload.
    loader: OnceLock<crate::reload::Loader>,
    /// Every account by name, `$G` and the system account included.
    accounts: parking_lot::RwLock<HashMap<String, Arc<Account>>>,
    system_account: String,
    clients: Mutex<HashMap<u64, Arc<Handle>>>,
    /// The most recently closed connections (`/connz?state=closed`).
    closed: crate::client::conn_info::ClosedRing,
    /// Signalled when the last client leaves the registry.
    clients_gone: Notify,
    next_client_id: AtomicU64,
    stats: Stats,
    lame_duck: AtomicBool,
    stop_accepting: Notify,
    /// JetStream's readers of committed stream data, once it runs.
    js_readers: OnceLock<Arc<tern_jetstream::store::Readers>>,
    /// JetStream of accounts that arrived after start-up (operator mode),
    /// shut down with the server.
    js_late: Mutex<Vec<crate::jetstream::Attached>>,
    /// Where the system account's service takes its requests.
    system_queue: OnceLock<crate::monitor::system::Queue>,
    /// Each JetStream account's API queue, for monitoring's own asks.
    api_inboxes: parking_lot::RwLock<HashMap<String, tern_jetstream::engine::ApiInbox>>,
    /// The subscriptions that carry account imports (replaced on reload).
    import_subs: Mutex<Vec<Arc<Subscription>>>,
    /// Each JetStream account's stream ingest queues (`/metrics`).
    ingest_queues: Mutex<Vec<(String, Arc<tern_jetstream::metrics::IngestQueues>)>>,
}

impl Server {
    fn new(opts: Options, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let id = new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        let system_account = opts
            .system_account
            .clone()
            .unwrap_or_else(|| SYSTEM_ACCOUNT.to_string());
        let mut accounts = HashMap::new();
        accounts.insert(GLOBAL_ACCOUNT.to_string(), global.clone());
        for a in opts
            .accounts
            .iter()
            .map(|a| a.name.as_str())
            .chain([system_account.as_str()])
        {
            accounts
                .entry(a.to_string())
                .or_insert_with(|| Arc::new(Account::new(a)));
        }
        let closed = crate::client::conn_info::ClosedRing::new(opts.max_closed_clients);
        Server {
            closed,
            host: opts.host.clone(),
            opts: parking_lot::RwLock::new(Arc::new(opts)),
            id,
            name,
            addr: OnceLock::new(),
            global,
            accounts: parking_lot::RwLock::new(accounts),
            system_account,
            tls: parking_lot::RwLock::new(tls),
            loader: OnceLock::new(),
            monitor_addr: OnceLock::new(),
            http_stats: Arc::default(),
            started: std::time::SystemTime::now(),
            clients: Mutex::new(HashMap::new()),
            clients_gone: Notify::new(),
            next_client_id: AtomicU64::new(1),
            stats: Stats::default(),
            lame_duck: AtomicBool::new(false),
            js_readers: OnceLock::new(),
            js_late: Mutex::new(Vec::new()),
            ingest_queues: Mutex::new(Vec::new()),
            import_subs: Mutex::new(Vec::new()),
            api_inboxes: parking_lot::RwLock::new(HashMap::new()),
            system_queue: OnceLock::new(),
            stop_accepting: Notify::new(),
        }
    }

    /// The configuration in force now.
    pub fn opts(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    /// How a reload reads the configuration again (the binary sets it to
    /// its command line and config file).
    pub fn set_config_loader(&self, loader: crate::reload::Loader) {
        let _ = self.loader.set(loader);
    }

    /// The configuration read again; `None` without a loader.
    pub(crate) fn load_config(&self) -> Option<Result<Options, String>> {
        self.loader.get().map(|load| load())
    }

    /// New TLS certificates for new connections (a reload).
    pub(crate) fn set_tls(&self, acceptor: Option<tokio_rustls::TlsAcceptor>) {
        *self.tls.write() = acceptor;
    }

    /// Reads the configuration again and puts it in force (SIGHUP).
    pub fn reload(self: &Arc<Self>) -> Result<(), crate::reload::ReloadError> {
        crate::reload::reload(self)
    }

    /// Puts a reloaded configuration in force.
    pub(crate) fn set_opts(&self, opts: Options) {
        *self.opts.write() = Arc::new(opts);
    }

    pub fn id(&self) -> &str {
        &self.id
    }

    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default account's router.
    pub fn router(&self) -> &Router {
        &self.global.router
    }

    pub fn global_account(&self) -> &Arc<Account> {
        &self.global
    }

    /// The account named `name`, if there is one.
    pub fn account(&self, name: &str) -> Option<Arc<Account>> {
        self.accounts.read().get(name).cloned()
    }

    /// The account named `name`, created empty if there is none yet
    /// (operator mode: accounts are found as their users sign in); true
    /// when this call created it.
    pub fn account_or_create(&self, name: &str) -> (Arc<Account>, bool) {
        if let Some(a) = self.account(name) {
            return (a, false);
        }
        let mut accounts = self.accounts.write();
        if let Some(a) = accounts.get(name) {
            return (a.clone(), false);
        }
        let a = Arc::new(Account::new(name));
        accounts.insert(name.to_string(), a.clone());
        (a, true)
    }

    pub(crate) fn set_system_queue(&self, queue: crate::monitor::system::Queue) {
        let _ = self.system_queue.set(queue);
    }

    pub(crate) fn system_queue(&self) -> Option<&crate::monitor::system::Queue> {
        self.system_queue.get()
    }

    pub(crate) fn add_api_inbox(&self, account: &str, inbox: tern_jetstream::engine::ApiInbox) {
        self.api_inboxes.write().insert(account.to_string(), inbox);
    }

    /// `account`'s JetStream API queue, when it runs JetStream.
    pub(crate) fn api_inbox(&self, account: &str) -> Option<tern_jetstream::engine::ApiInbox> {
        self.api_inboxes.read().get(account).cloned()
    }

    pub(crate) fn keep_import_subscription(&self, sub: Arc<Subscription>) {
        self.import_subs.lock().push(sub);
    }

    pub(crate) fn take_import_subscriptions(&self) -> Vec<Arc<Subscription>> {
        std::mem::take(&mut self.import_subs.lock())
    }

    pub(crate) fn add_ingest_queues(
        &self,
        account: &str,
        queues: Arc<tern_jetstream::metrics::IngestQueues>,
    ) {
        self.ingest_queues
            .lock()
            .push((account.to_string(), queues));
    }

    /// `(account, stream, messages queued)` for every stream.
    pub fn ingest_depths(&self) -> Vec<(String, String, usize)> {
        let all = self.ingest_queues.lock().clone();
        all.into_iter()
            .flat_map(|(account, q)| {
                q.depths()
                    .into_iter()
                    .map(move |(stream, n)| (account.clone(), stream, n))
            })
            .collect()
    }

    /// Keeps an account's JetStream started after start-up.
    pub(crate) fn add_late_jetstream(&self, js: crate::jetstream::Attached) {
        self.js_late.lock().push(js);
    }

    /// How many socket clients are signed in to `account`.
    pub fn account_connections(&self, account: &Arc<Account>) -> usize {
        self.clients
            .lock()
            .values()
            .filter(|h| Arc::ptr_eq(h.account(), account))
            .count()
    }

    /// A nonce for a new connection's INFO, when NKey users must sign one.
    pub fn new_nonce(&self) -> Option<String> {
        self.opts()
            .auth
            .nonce_required()
            .then(crate::nkey::new_nonce)
    }

    /// The system account's name (`$SYS` unless `system_account` says).
    pub fn system_account_name(&self) -> Option<&str> {
        Some(self.system_account.as_str())
    }

    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// Messages and bytes sent to clients, closed ones included.
    pub fn out_totals(&self) -> (u64, u64) {
        let (mut msgs, mut bytes) = (
            self.stats.closed_out_msgs.load(Ordering::Relaxed),
            self.stats.closed_out_bytes.load(Ordering::Relaxed),
        );
        for h in self.all_clients() {
            if let Some(out) = h.outbound() {
                let (m, b) = out.out_counts();
                msgs += m;
                bytes += b;
            }
        }
        (msgs, bytes)
    }

    /// Subscriptions in every account.
    pub fn num_subscriptions(&self) -> usize {
        self.accounts
            .read()
            .values()
            .map(|a| a.router.count())
            .sum()
    }

    /// When the server started.
    pub fn started_at(&self) -> std::time::SystemTime {
        self.started
    }

    /// Monitoring requests served per endpoint.
    pub fn http_stats(&self) -> &Arc<crate::monitor::RequestStats> {
        &self.http_stats
    }

    /// Where HTTP monitoring listens, when it is on.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr.get().copied()
    }

    /// The address clients connect to.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr.get().copied()
    }

    pub fn num_clients(&self) -> usize {
        self.clients.lock().len()
    }

    /// The INFO JSON for client `client_id`; `connect_info` (the account
    /// signed in to) marks the one sent after the first PONG; `nonce` is
    /// the one the first INFO asks NKey users to sign.
    pub fn info_json(
        &self,
        client_id: u64,
        client_ip: Option<&str>,
        connect_info: Option<&str>,
        nonce: Option<&str>,
    ) -> Vec<u8> {
        self.info(client_id, client_ip, connect_info, nonce)
            .to_json()
    }

    /// The INFO of `info_json`, for a caller that adjusts a field (a
    /// connection's own payload limit) before sending it.
    pub fn info<'a>(
        &'a self,
        client_id: u64,
        client_ip: Option<&'a str>,
        connect_info: Option<&'a str>,
        nonce: Option<&'a str>,
    ) -> Info<'a> {
        let port = self.addr().map_or(0, |a| a.port());
        let opts = self.opts();
        let mut info = Info::new(&self.id, &self.name, &self.host, port);
        info.max_payload = opts.max_payload;
        info.headers = !opts.no_header_support;
        info.auth_required = opts.auth.advertised();
        if let Some(tls) = &opts.tls {
            info.tls_required = !opts.allow_non_tls;
            info.tls_verify = tls.verify;
            info.tls_available = opts.allow_non_tls;
        }
        info.client_id = client_id;
        info.jetstream = opts.jetstream.then_some(true);
        info.client_ip = client_ip.unwrap_or("");
        info.nonce = nonce;
        if let Some(account) = connect_info {
            info.connect_info = Some(true);
            info.remote_account = Some(account);
            if Some(account) == self.system_account_name() {
                info.acc_is_sys = Some(true);
            }
        }
        if self.lame_duck.load(Ordering::Acquire) {
            info.ldm = Some(true);
        }
        info
    }

    pub(crate) fn count_inbound(&self, msgs: u64, bytes: u64) {
        if msgs > 0 {
            self.stats.in_msgs.fetch_add(msgs, Ordering::Relaxed);
            self.stats.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Cuts off a client that cannot keep up.
    pub(crate) fn slow_consumer(&self, handle: &Handle, reason: CloseReason) {
        self.stats.slow_consumers.fetch_add(1, Ordering::Relaxed);
        handle
            .account()
            .stats
            .slow_consumers
            .fetch_add(1, Ordering::Relaxed);
        match reason {
            CloseReason::SlowConsumerWriteDeadline => info!(
                "cid:{} - Slow Consumer Detected: WriteDeadline of {:?} exceeded",
                handle.id,
                self.opts().write_deadline
            ),
            _ => info!(
                "cid:{} - Slow Consumer Detected: MaxPending of {} Exceeded",
                handle.id,
                self.opts().max_pending
            ),
        }
        handle.close(reason);
    }

    /// Whether closed connections are kept for `/connz`.
    pub(crate) fn keeps_closed_connections(&self) -> bool {
        self.closed.enabled()
    }

    /// The kept closed connections, oldest first.
    pub fn closed_connections(&self) -> Vec<crate::client::conn_info::ConnSnapshot> {
        self.closed.all()
    }

    /// A client signed in to `account`: the system account hears of it.
    pub(crate) fn client_signed_in(&self, handle: &Handle, account: &Arc<Account>) {
        crate::monitor::events::connected(self, handle, account);
    }

    /// A client refused for its credentials: the system account hears of
    /// it (once signed in, its disconnect says so instead).
    pub(crate) fn client_refused(&self, handle: &Handle) {
        crate::monitor::events::auth_error(self, handle);
    }

    /// A request to one of the system services every account imports
    /// (its own statz and connz), from a client of `account`: queued for
    /// the system service, answered into `account`. False when `subject`
    /// is not one of them.
    pub(crate) fn system_import(
        &self,
        account: &Arc<Account>,
        subject: &[u8],
        reply: &[u8],
        payload: &[u8],
    ) -> bool {
        crate::monitor::system::imported(self, account, subject, reply, payload)
    }

    /// The client with id `cid`, if still connected.
    pub fn client(&self, cid: u64) -> Option<Arc<Handle>> {
        self.clients.lock().get(&cid).cloned()
    }

    /// Every socket client now connected.
    pub fn connections(&self) -> Vec<Arc<Handle>> {
        let mut all = self.all_clients();
        all.retain(|h| h.conn_info().is_some());
        all
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<_> = self.accounts.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    pub(crate) fn client_closed(
        &self,
        handle: &Handle,
        peer: SocketAddr,
        reason: CloseReason,
        subs: Vec<crate::client::conn_info::SubSnapshot>,
    ) {
        debug!(
            "{peer} - cid:{} - Client connection closed: {reason:?}",
            handle.id
        );
        if let Some(out) = handle.outbound() {
            let (msgs, bytes) = out.out_counts();
            self.stats
                .closed_out_msgs
                .fetch_add(msgs, Ordering::Relaxed);
            self.stats
                .closed_out_bytes
                .fetch_add(bytes, Ordering::Relaxed);
            let acc = &handle.account().stats;
            acc.closed_out_msgs.fetch_add(msgs, Ordering::Relaxed);
            acc.closed_out_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        // Into the closed ring before it leaves the registry (so /connz
        // always finds it in one or the other), and out of the registry
        // before the events, so the account's count they carry no longer
        // includes it.
        let snapshot = handle.snapshot().map(|mut snap| {
            snap.stop = Some((
                crate::client::conn_info::unix_nanos(std::time::SystemTime::now()),
                reason.to_string(),
            ));
            // The count at the close, as the reference keeps it.
            snap.subscriptions = subs.len();
            snap.subs = subs;
            snap.pending = 0;
            snap
        });
        if let Some(snap) = &snapshot {
            self.closed.push(snap.clone());
        }
        self.forget_client(handle.id);
        if let Some(snap) = &snapshot {
            crate::monitor::events::disconnected(self, snap);
        }
        if reason == CloseReason::StaleConnection {
            self.stats.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Takes a closed client out of the registry.
    fn forget_client(&self, id: u64) {
        let mut clients = self.clients.lock();
        clients.remove(&id);
        if clients.is_empty() {
            self.clients_gone.notify_waiters();
        }
    }

    /// Reads of file streams' committed messages that skip the stream
    /// threads (in-process KV gets); `None` without JetStream.
    pub fn jetstream_readers(&self) -> Option<&Arc<tern_jetstream::store::Readers>> {
        self.js_readers.get()
    }

    pub(crate) fn set_jetstream_readers(&self, readers: Arc<tern_jetstream::store::Readers>) {
        let _ = self.js_readers.set(readers);
    }

    /// A token no other in-process inbox of this server uses.
    pub fn next_inbox_token(&self) -> String {
        format!(
            "{}{:x}",
            &self.id()[..8.min(self.id().len())],
            self.next_id()
        )
    }

    fn next_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    async fn accept_loop(self: Arc<Self>, listener: TcpListener) {
        let mut pause = ACCEPT_MIN_SLEEP;
        loop {
            tokio::select! {
                () = self.stop_accepting.notified() => return,
                accepted = listener.accept() => match accepted {
                    Ok((stream, peer)) => {
                        pause = ACCEPT_MIN_SLEEP;
                        self.clone().admit(stream, peer);
                    }
                    Err(e) => {
                        // Out of descriptors and the like: back off, doubling
                        // up to a second as the reference does, keep serving.
                        error!("Temporary Client Accept Error({e}), sleeping {}ms", pause.as_millis());
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(ACCEPT_MAX_SLEEP);
                    }
                },
            }
        }
    }

    fn admit(self: Arc<Self>, stream: TcpStream, peer: SocketAddr) {
        let _ = stream.set_nodelay(true);
        let id = self.next_id();
        let opts = self.opts();
        let handle = Arc::new(Handle::socket(
            id,
            self.global.clone(),
            opts.max_pending,
            peer,
        ));
        let over_limit = {
            let mut clients = self.clients.lock();
            let over = clients.len() >= opts.max_connections;
            if !over {
                clients.insert(id, handle.clone());
            }
            over
        };
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        if over_limit {
            tokio::spawn(refuse_connection(self, handle, stream, peer));
            return;
        }
        debug!("{peer} - cid:{id} - Client connection created");
        let ip = peer.ip().to_string();
        let acceptor = self.tls.read().clone();
        if let Some(acceptor) = acceptor {
            tokio::spawn(client::run_tls_connection(
                self, handle, stream, peer, ip, acceptor,
            ));
            return;
        }
        let greeting = client::Greeting {
            send_info: true,
            nonce: self.new_nonce(),
            client_cert: None,
        };
        tokio::spawn(client::run_connection(
            self,
            handle,
            stream.into_split(),
            peer,
            ip,
            greeting,
        ));
    }

    /// Creates an internal client: no socket, deliveries run `callback`.
    pub fn internal_client(&self, callback: InternalCallback) -> Arc<Handle> {
        self.internal_client_in(&self.global, callback)
    }

    /// Creates an internal client of `account`.
    pub fn internal_client_in(
        &self,
        account: &Arc<Account>,
        callback: InternalCallback,
    ) -> Arc<Handle> {
        Arc::new(Handle::internal(self.next_id(), account.clone(), callback))
    }

    /// Publishes from inside the server into `account`'s subject space;
    /// true if anyone received it.
    pub fn publish_in(
        &self,
        account: &Account,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut flush = FlushSet::default();
        let delivered = self.publish_to(
            account, subject, subject, reply, headers, payload, &mut flush,
        );
        flush.flush();
        delivered
    }

    /// Subscribes an internal client.
    pub fn subscribe_internal(
        &self,
        client: &Arc<Handle>,
        subject: &str,
        queue: Option<&str>,
        sid: &str,
    ) -> Arc<Subscription> {
        let sub = Arc::new(Subscription::new(
            client.clone(),
            Bytes::copy_from_slice(sid.as_bytes()),
            Bytes::copy_from_slice(subject.as_bytes()),
            queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
        ));
        client.account().router.insert(sub.clone());
        sub
    }

    pub fn unsubscribe_internal(&self, sub: &Arc<Subscription>) {
        if sub.close() {
            sub.client.account().router.remove(sub);
        }
    }

    /// Publishes from inside the server; true if anyone received it.
    pub fn publish_internal(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
    ) -> bool {
        let mut flush = FlushSet::default();
        let delivered = self.publish_internal_noted(subject, reply, headers, payload, &mut flush);
        flush.flush();
        delivered
    }

    /// Publishes many messages from inside the server, waking each
    /// receiving writer once at the end (a batch of acks, say).
    pub fn publish_internal_batch<'a>(&self, msgs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>) {
        self.publish_batch_in(&self.global, msgs);
    }

    /// `publish_internal_batch` into `account`.
    pub fn publish_batch_in<'a>(
        &self,
        account: &Account,
        msgs: impl IntoIterator<Item = (&'a [u8], &'a [u8])>,
    ) {
        let mut flush = FlushSet::default();
        for (subject, payload) in msgs {
            self.publish_to(account, subject, subject, None, None, payload, &mut flush);
        }
        flush.flush();
    }

    /// Sends messages from inside the server, each routed by the
    /// subscriptions of `to` but written with its own subject (JetStream's
    /// pull deliveries), waking each receiving writer once at the end.
    pub fn publish_internal_routed<'a>(&self, msgs: impl IntoIterator<Item = RoutedMsg<'a>>) {
        self.publish_routed_in(&self.global, msgs);
    }

    /// `publish_internal_routed` into `account`.
    pub fn publish_routed_in<'a>(
        &self,
        account: &Account,
        msgs: impl IntoIterator<Item = RoutedMsg<'a>>,
    ) {
        let mut flush = FlushSet::default();
        for m in msgs {
            self.publish_to(
                account, m.to, m.subject, m.reply, m.headers, m.payload, &mut flush,
            );
        }
        flush.flush();
    }

    /// Whether anyone subscribes to `subject` (as a member of `queue`,
    /// when given).
    pub fn has_interest(&self, subject: &[u8], queue: Option<&[u8]>) -> bool {
        self.has_interest_in(&self.global, subject, queue)
    }

    /// `has_interest` in `account`.
    pub fn has_interest_in(&self, account: &Account, subject: &[u8], queue: Option<&[u8]>) -> bool {
        let result = account.router.lookup(subject);
        match queue {
            None => !result.is_empty(),
            Some(q) => result.queues.iter().any(|g| g.name.as_ref() == q),
        }
    }

    fn publish_internal_noted(
        &self,
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        flush: &mut FlushSet,
    ) -> bool {
        self.publish_routed_noted(subject, subject, reply, headers, payload, flush)
    }

    fn publish_routed_noted(
        &self,
        to: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        flush: &mut FlushSet,
    ) -> bool {
        self.publish_to(&self.global, to, subject, reply, headers, payload, flush)
    }

    /// Routes by `to` in `account`, written with `subject`.
    #[allow(clippy::too_many_arguments)]
    fn publish_to(
        &self,
        account: &Account,
        to: &[u8],
        subject: &[u8],
        reply: Option<&[u8]>,
        headers: Option<&[u8]>,
        payload: &[u8],
        flush: &mut FlushSet,
    ) -> bool {
        let joined;
        let (header_len, message) = match headers {
            Some(h) => {
                joined = [h, payload].concat();
                (Some(h.len()), &joined[..])
            }
            None => (None, payload),
        };
        let sizes = Sizes::of(header_len, message.len());
        let frame = Frame::new(subject, reply, header_len, message, &sizes);
        let result = account.router.lookup(to);
        client::deliver_all(self, &result, &frame, None, flush)
    }

    fn all_clients(&self) -> Vec<Arc<Handle>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Closes every client and waits (bounded) for their tasks to finish.
    async fn close_all_clients(&self, reason: CloseReason) {
        for handle in self.all_clients() {
            handle.close(reason);
        }
        let wait = async {
            loop {
                let gone = self.clients_gone.notified();
                if self.num_clients() == 0 {
                    return;
                }
                gone.await;
            }
        };
        let _ = tokio::time::timeout(Duration::from_secs(5), wait).await;
    }
}

/// The reference tells a client over the limit after its INFO, then closes.
async fn refuse_connection(
    server: Arc<Server>,
    handle: Arc<Handle>,
    mut stream: TcpStream,
    peer: SocketAddr,
) {
    use tokio::io::AsyncWriteExt;
    crate::rate_limit::error_limited(
        &crate::rate_limit::REFUSED_CONNECTIONS,
        format_args!("{peer} - cid:{} - maximum connections exceeded", handle.id),
    );
    let mut buf = bytes::BytesMut::new();
    write::append_info(
        &mut buf,
        &server.info_json(handle.id, Some(&peer.ip().to_string()), None, None),
    );
    write::append_err(&mut buf, "maximum connections exceeded");
    let _ = tokio::time::timeout(server.opts().write_deadline, stream.write_all(&buf)).await;
    let _ = stream.shutdown().await;
}

/// A started server: its address, and the controls to stop it.
pub struct Running {
    server: Arc<Server>,
    accept_task: JoinHandle<()>,
    jetstream: Vec<crate::jetstream::Attached>,
}

impl Running {
    pub fn server(&self) -> &Arc<Server> {
        &self.server
    }

    pub fn addr(&self) -> SocketAddr {
        self.server.addr().expect("bound before Running exists")
    }

    /// Stops accepting, closes every client, returns when they are gone.
    pub async fn shutdown(self) {
        info!("Initiating Shutdown...");
        crate::monitor::events::server_going(&self.server, "SHUTDOWN");
        self.server.stop_accepting.notify_one();
        let _ = self.accept_task.await;
        self.server
            .close_all_clients(CloseReason::ServerShutdown)
            .await;
        let mut all = self.jetstream;
        all.append(&mut self.server.js_late.lock());
        if !all.is_empty() {
            info!("Initiating JetStream Shutdown...");
            // Writer threads finish their batch and commit; off the runtime.
            let _ =
                tokio::task::spawn_blocking(move || all.into_iter().for_each(|js| js.shutdown()))
                    .await;
            info!("JetStream Shutdown");
        }
        info!("Server Exiting..");
    }

    /// Lame duck mode: stop accepting, tell every client (INFO with `ldm`),
    /// wait the grace period, close clients spread over the rest of the
    /// lame duck duration, then shut down.
    pub async fn lame_duck(self) {
        let server = self.server.clone();
        info!("Entering lame duck mode, stop accepting new clients");
        crate::monitor::events::server_going(&server, "LAMEDUCK");
        server.lame_duck.store(true, Ordering::Release);
        server.stop_accepting.notify_one();
        let clients = server.all_clients();
        for handle in clients.iter().filter(|h| h.wants_async_info()) {
            if let Some(out) = handle.outbound() {
                let info = server.info_json(handle.id, None, None, None);
                out.send_now(|b| write::append_info(b, &info));
            }
        }
        let opts = server.opts();
        let grace = opts.lame_duck_grace_period.min(opts.lame_duck_duration);
        info!("Waiting {:?} grace period before closing clients", grace);
        tokio::time::sleep(grace).await;
        let spread = opts.lame_duck_duration.saturating_sub(grace);
        let clients = server.all_clients();
        if !clients.is_empty() {
            info!("Closing existing clients");
            let pause = spread / u32::try_from(clients.len()).unwrap_or(u32::MAX);
            for handle in clients {
                handle.close(CloseReason::LameDuck);
                if !pause.is_zero() {
                    tokio::time::sleep(pause.min(Duration::from_secs(1))).await;
                }
            }
        }
        self.shutdown().await;
    }
}

/// Why a server did not start.
#[derive(Debug)]
#[non_exhaustive]
pub enum StartError {
    /// The client port could not be bound.
    Listen(io::Error),
    /// JetStream could not start (its store cannot be opened, say).
    JetStream(String),
    /// The TLS certificate or key could not be loaded.
    Tls(String),
    /// The monitoring port could not be bound.
    Monitor(String),
}

impl std::fmt::Display for StartError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            StartError::Listen(e) => write!(f, "{e}"),
            StartError::JetStream(e) => write!(f, "Could not start JetStream: {e}"),
            StartError::Tls(e) => write!(f, "{e}"),
            StartError::Monitor(e) => write!(f, "{e}"),
        }
    }
}

impl std::error::Error for StartError {}

/// Starts JetStream (when enabled), binds the client port and accepts.
pub async fn start(opts: Options) -> Result<Running, StartError> {
    let port = match opts.port {
        Port::Fixed(p) => p,
        Port::Random => 0,
    };
    let tls = match &opts.tls {
        Some(t) => Some(tokio_rustls::TlsAcceptor::from(
            t.load().map_err(|e| StartError::Tls(e.0))?,
        )),
        None => None,
    };
    let server = Arc::new(Server::new(opts, tls));
    let opts = server.opts();
    if opts.tls.is_some() {
        info!("TLS required for client connections");
    }
    info!("  Name:     {}", server.name());
    info!("  ID:       {}", server.id());
    crate::imports::wire(&server);
    crate::monitor::system::start(&server);
    crate::monitor::events::start_heartbeat(&server);
    // Monitoring opens before the client port, as in the reference.
    let port_number = |p: Port| match p {
        Port::Fixed(p) => p,
        Port::Random => 0,
    };
    let monitor = match (opts.http_port, opts.https_port) {
        (Some(http), Some(https)) => {
            return Err(StartError::Monitor(format!(
                "can't specify both HTTP ({}) and HTTPs ({}) ports",
                port_number(http),
                port_number(https)
            )))
        }
        (Some(http), None) => Some((port_number(http), None)),
        (None, Some(https)) => {
            let acceptor = server.tls.read().clone();
            let Some(acceptor) = acceptor else {
                return Err(StartError::Monitor(
                    "TLS cert and key required for HTTPS".into(),
                ));
            };
            Some((port_number(https), Some(acceptor)))
        }
        (None, None) => None,
    };
    if let Some((port, tls)) = monitor {
        let host = opts.http_host.clone().unwrap_or_else(|| opts.host.clone());
        let addr = crate::monitor::start(&server, &host, port, tls)
            .await
            .map_err(|e| StartError::Monitor(e.0))?;
        let _ = server.monitor_addr.set(addr);
    }
    let jetstream = if opts.jetstream {
        crate::jetstream::start(&server).map_err(StartError::JetStream)?
    } else {
        Vec::new()
    };
    let listener = listen(&opts.host, port).await.map_err(StartError::Listen)?;
    let addr = listener.local_addr().map_err(StartError::Listen)?;
    let _ = server.addr.set(addr);
    info!("Listening for client connections on {}", addr);
    let accept_task = tokio::spawn(server.clone().accept_loop(listener));
    Ok(Running {
        server,
        accept_task,
        jetstream,
    })
}

/// The reference's accept-error backoff bounds.
const ACCEPT_MIN_SLEEP: Duration = Duration::from_millis(10);
const ACCEPT_MAX_SLEEP: Duration = Duration::from_secs(1);
/// The listen backlog: the reference's, so bursts of connects queue
/// instead of overflowing (the usual 128 stalls a burst for a second).
const LISTEN_BACKLOG: u32 = 4096;

/// Binds the client port (the first address `host` resolves to that binds).
async fn listen(host: &str, port: u16) -> std::io::Result<TcpListener> {
    let mut last = None;
    for addr in tokio::net::lookup_host((host, port)).await? {
        let socket = if addr.is_ipv4() {
            tokio::net::TcpSocket::new_v4()?
        } else {
            tokio::net::TcpSocket::new_v6()?
        };
        socket.set_reuseaddr(true)?;
        match socket
            .bind(addr)
            .and_then(|()| socket.listen(LISTEN_BACKLOG))
        {
            Ok(listener) => return Ok(listener),
            Err(e) => last = Some(e),
        }
    }
    Err(last.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::AddrNotAvailable,
            format!("no address for {host}"),
        )
    }))
}

/// A message for [`Server::publish_internal_routed`].
pub struct RoutedMsg<'a> {
    pub to: &'a [u8],
    pub subject: &'a [u8],
    pub reply: Option<&'a [u8]>,
    pub headers: Option<&'a [u8]>,
    pub payload: &'a [u8],
}
