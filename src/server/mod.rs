//! The server's shared state: its accounts and configuration, the
//! connection registry and its limits (open and recently closed
//! connections), and the counters. Internal clients are in `internal`.
//! Starting and stopping (the accept loop and lame duck mode included) is
//! `crate::lifecycle`, above every module; the connection tasks
//! (`crate::client`) sit above this one and are given the narrow pieces
//! they use (their `Connection`, the `Stats`).
//!
//! # Locks, and the order they are taken in
//!
//! Most locks are leaves: held for a copy or an insert, never while
//! another is taken. The few nestings, outermost first:
//!
//! 1. A router's subject trie (`RwLock`), then its shared match cache
//!    (`Mutex`): a change clears the cache under the trie's write lock so
//!    no lookup caches a stale result. Monitoring walks the trie under its
//!    read lock and only clones handles there.
//! 2. `Server::accounts` (`RwLock`), then nothing: accounts are cloned out.
//! 3. `Server::clients` (`Mutex`), then nothing: connections are cloned
//!    out before any of their own locks (`Outbound` state, `ConnInfo`
//!    details) are taken.
//! 4. A connection's `Outbound` state (`Mutex`): a leaf; frames are
//!    appended under it, writers are woken after it is released.
//!
//! Leaves: `opts` and `tls` (`RwLock`, swapped whole on reload), the closed
//! ring, `js_late`, `ingest_queues`, `import_subs`, `api_inboxes`, the API
//! audit's pending map, an in-process port's subscriptions, the log sink.
//! Callbacks of internal clients run with no server lock held (they may
//! publish, which takes the router's locks).

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::{Arc, OnceLock};
use std::time::Duration;

use parking_lot::Mutex;
use tokio::sync::Notify;
use tracing::debug;

use crate::account::{Account, GLOBAL_ACCOUNT, SYSTEM_ACCOUNT};
use crate::config::options::Options;
use crate::handle::conn_info::{unix_nanos, ClosedRing, ConnSnapshot, SubSnapshot};
use crate::handle::{CloseReason, Handle};
use crate::info::{new_server_id, Info};
use crate::router::{Router, Subscription};
use crate::stats::{RequestStats, Stats};

mod internal;

pub use internal::{InternalClient, RoutedMsg};

/// A socket connection as the registry keeps it: what the router delivers
/// to, and the account the client signed in to.
pub struct Connection {
    /// What the router delivers to.
    pub handle: Arc<Handle>,
    /// The account signed in to (set once, at sign-in); until then
    /// `default_account`.
    account: OnceLock<Arc<Account>>,
    default_account: Arc<Account>,
}

impl Connection {
    /// A connection in `default_account` until it signs in.
    pub fn new(handle: Arc<Handle>, default_account: Arc<Account>) -> Self {
        Connection {
            handle,
            account: OnceLock::new(),
            default_account,
        }
    }

    /// The client's id.
    pub fn id(&self) -> u64 {
        self.handle.id
    }

    /// The account whose subject space the client's subscriptions live in.
    #[inline]
    pub fn account(&self) -> &Arc<Account> {
        self.account.get().unwrap_or(&self.default_account)
    }

    /// Binds the client to the account it signed in to. Only the first
    /// sign-in counts: its subscriptions already live there.
    pub fn set_account(&self, account: Arc<Account>) -> &Arc<Account> {
        let _ = self.account.set(account);
        self.account()
    }
}

/// A request for the system account's service (`monitor::system`): taken
/// off the router, or handed over by a client's reader for one of the
/// services every account imports (`for_account`: answer for that
/// account, into it).
pub(crate) struct SystemRequest {
    pub subject: String,
    pub reply: String,
    pub payload: Vec<u8>,
    pub for_account: Option<Arc<Account>>,
}

/// Where requests wait for the system service.
pub(crate) type SystemQueue = tokio::sync::mpsc::Sender<SystemRequest>;

/// Work left for shutdown, such as stopping the JetStream of an account
/// that arrived after start-up.
pub type ShutdownTask = Box<dyn FnOnce() + Send>;

/// One running server's shared state: configuration, accounts, the
/// connection registry and the counters. `lifecycle::start` makes it;
/// connection tasks, monitoring and JetStream share it through an `Arc`.
pub struct Server {
    /// The running configuration; a reload swaps it whole.
    opts: parking_lot::RwLock<Arc<Options>>,
    /// The client host, which a reload cannot change (INFO borrows it).
    host: String,
    id: String,
    name: String,
    addr: OnceLock<SocketAddr>,
    /// The WebSocket port's address, once bound.
    websocket_addr: OnceLock<SocketAddr>,
    /// The route port's address, once bound.
    cluster_addr: OnceLock<SocketAddr>,
    /// The leaf node port's address, once bound.
    leaf_addr: OnceLock<SocketAddr>,
    /// The default account `$G`.
    global: Arc<Account>,
    /// Where monitoring listens, once it does.
    monitor_addr: OnceLock<SocketAddr>,
    /// Monitoring requests served per endpoint (varz `http_req_stats`).
    http_stats: Arc<RequestStats>,
    /// When the server started (varz `start`, `config_load_time`).
    started: std::time::SystemTime,
    /// Set when clients connect over TLS.
    tls: parking_lot::RwLock<Option<tokio_rustls::TlsAcceptor>>,
    /// Reads the configuration again, for a reload.
    loader: OnceLock<crate::config::Loader>,
    /// Every account by name, `$G` and the system account included.
    accounts: parking_lot::RwLock<HashMap<String, Arc<Account>>>,
    system_account: String,
    clients: Mutex<HashMap<u64, Arc<Connection>>>,
    /// The most recently closed connections (`/connz?state=closed`).
    closed: ClosedRing,
    /// Signalled when the last client leaves the registry.
    clients_gone: Notify,
    next_client_id: AtomicU64,
    stats: Arc<Stats>,
    lame_duck: AtomicBool,
    /// Shut down: in-process ports fail fast from then on.
    stopped: AtomicBool,
    pub(crate) stop_accepting: Notify,
    /// JetStream's readers of committed stream data, once it runs.
    js_readers: OnceLock<Arc<tern_jetstream::store::Readers>>,
    /// What shutdown must still do (JetStream of accounts that arrived
    /// after start-up, in operator mode).
    shutdown_tasks: Mutex<Vec<ShutdownTask>>,
    /// Where the system account's service takes its requests.
    system_queue: OnceLock<SystemQueue>,
    /// Each JetStream account's API queue, for monitoring's own asks.
    api_inboxes: parking_lot::RwLock<HashMap<String, tern_jetstream::engine::ApiInbox>>,
    /// The subscriptions that carry account imports (replaced on reload).
    import_subs: Mutex<Vec<(InternalClient, Arc<Subscription>)>>,
    /// Each JetStream account's stream ingest queues (`/metrics`).
    ingest_queues: Mutex<Vec<(String, Arc<tern_jetstream::metrics::IngestQueues>)>>,
    /// The routes to other servers of the cluster.
    peers: crate::peers::Peers,
    /// Told of each account made after start-up.
    account_added: OnceLock<AccountHook>,
}

/// Run for an account made after start-up.
pub(crate) type AccountHook = Box<dyn Fn(&Arc<Account>) + Send + Sync>;

impl Server {
    pub(crate) fn new(opts: Options, tls: Option<tokio_rustls::TlsAcceptor>) -> Self {
        let id = new_server_id();
        let name = opts.server_name.clone().unwrap_or_else(|| id.clone());
        let global = Arc::new(Account::new(GLOBAL_ACCOUNT));
        global.set_mappings(opts.mappings.clone());
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
        for a in &opts.accounts {
            if let Some(acc) = accounts.get(&a.name) {
                acc.set_mappings(a.mappings.clone());
            }
        }
        let closed = ClosedRing::new(opts.max_closed_clients);
        Server {
            closed,
            host: opts.host.clone(),
            opts: parking_lot::RwLock::new(Arc::new(opts)),
            id,
            name,
            addr: OnceLock::new(),
            websocket_addr: OnceLock::new(),
            cluster_addr: OnceLock::new(),
            leaf_addr: OnceLock::new(),
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
            stats: Arc::default(),
            lame_duck: AtomicBool::new(false),
            stopped: AtomicBool::new(false),
            js_readers: OnceLock::new(),
            shutdown_tasks: Mutex::new(Vec::new()),
            ingest_queues: Mutex::new(Vec::new()),
            import_subs: Mutex::new(Vec::new()),
            api_inboxes: parking_lot::RwLock::new(HashMap::new()),
            system_queue: OnceLock::new(),
            stop_accepting: Notify::new(),
            peers: crate::peers::Peers::default(),
            account_added: OnceLock::new(),
        }
    }

    /// The configuration in force now.
    pub fn opts(&self) -> Arc<Options> {
        self.opts.read().clone()
    }

    /// How a reload reads the configuration again (the binary sets it to
    /// its command line and config file).
    pub fn set_config_loader(&self, loader: crate::config::Loader) {
        let _ = self.loader.set(loader);
    }

    /// The configuration read again; `None` without a loader.
    pub(crate) fn load_config(&self) -> Option<Result<Options, crate::config::ConfigError>> {
        self.loader.get().map(|load| load())
    }

    /// New TLS certificates for new connections (a reload).
    pub(crate) fn set_tls(&self, acceptor: Option<tokio_rustls::TlsAcceptor>) {
        *self.tls.write() = acceptor;
    }

    /// Puts a reloaded configuration in force.
    pub(crate) fn set_opts(&self, opts: Options) {
        *self.opts.write() = Arc::new(opts);
    }

    /// The server's id (INFO `server_id`): an NKey-style server public key,
    /// new at every start.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The server's name (`server_name`), or its id when none is configured.
    pub fn name(&self) -> &str {
        &self.name
    }

    /// The default account's router.
    pub fn router(&self) -> &Router {
        &self.global.router
    }

    /// The default account, `$G`.
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
        drop(accounts);
        if let Some(hook) = self.account_added.get() {
            hook(&a);
        }
        (a, true)
    }

    /// Runs `hook` for every account made from now on (the routes watch
    /// each account's interest).
    pub(crate) fn on_account_added(&self, hook: AccountHook) {
        let _ = self.account_added.set(hook);
    }

    pub(crate) fn set_system_queue(&self, queue: SystemQueue) {
        let _ = self.system_queue.set(queue);
    }

    pub(crate) fn system_queue(&self) -> Option<&SystemQueue> {
        self.system_queue.get()
    }

    pub(crate) fn add_api_inbox(&self, account: &str, inbox: tern_jetstream::engine::ApiInbox) {
        self.api_inboxes.write().insert(account.to_string(), inbox);
    }

    /// `account`'s JetStream API queue, when it runs JetStream.
    pub(crate) fn api_inbox(&self, account: &str) -> Option<tern_jetstream::engine::ApiInbox> {
        self.api_inboxes.read().get(account).cloned()
    }

    pub(crate) fn keep_import_subscription(&self, client: InternalClient, sub: Arc<Subscription>) {
        self.import_subs.lock().push((client, sub));
    }

    pub(crate) fn take_import_subscriptions(&self) -> Vec<(InternalClient, Arc<Subscription>)> {
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

    /// Leaves `task` for shutdown to run (off the async workers).
    pub(crate) fn add_shutdown_task(&self, task: ShutdownTask) {
        self.shutdown_tasks.lock().push(task);
    }

    /// What shutdown must still do, taken.
    pub(crate) fn take_shutdown_tasks(&self) -> Vec<ShutdownTask> {
        std::mem::take(&mut self.shutdown_tasks.lock())
    }

    /// How many socket clients are signed in to `account`.
    pub fn account_connections(&self, account: &Arc<Account>) -> usize {
        self.clients
            .lock()
            .values()
            .filter(|c| Arc::ptr_eq(c.account(), account))
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

    /// The server-wide counters (`/varz`): messages in, connections, slow
    /// consumers, authentication failures.
    pub fn stats(&self) -> &Stats {
        &self.stats
    }

    /// The counters, for a task that keeps them beside it.
    pub fn shared_stats(&self) -> Arc<Stats> {
        self.stats.clone()
    }

    /// Messages and bytes sent to clients, closed ones included.
    pub fn out_totals(&self) -> (u64, u64) {
        let (mut msgs, mut bytes) = (
            self.stats.closed_out_msgs.load(Ordering::Relaxed),
            self.stats.closed_out_bytes.load(Ordering::Relaxed),
        );
        for c in self.all_clients() {
            if let Some(out) = c.handle.outbound() {
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
    pub fn http_stats(&self) -> &Arc<RequestStats> {
        &self.http_stats
    }

    pub(crate) fn set_monitor_addr(&self, addr: SocketAddr) {
        let _ = self.monitor_addr.set(addr);
    }

    pub(crate) fn set_addr(&self, addr: SocketAddr) {
        let _ = self.addr.set(addr);
    }

    pub(crate) fn set_leaf_addr(&self, addr: SocketAddr) {
        let _ = self.leaf_addr.set(addr);
    }

    /// Where leaf nodes connect, when listening for them.
    pub fn leaf_addr(&self) -> Option<SocketAddr> {
        self.leaf_addr.get().copied()
    }

    pub(crate) fn set_cluster_addr(&self, addr: SocketAddr) {
        let _ = self.cluster_addr.set(addr);
    }

    /// Where routes are taken, when clustered.
    pub fn cluster_addr(&self) -> Option<SocketAddr> {
        self.cluster_addr.get().copied()
    }

    pub(crate) fn set_websocket_addr(&self, addr: SocketAddr) {
        let _ = self.websocket_addr.set(addr);
    }

    /// The WebSocket port's address, when it listens.
    pub fn websocket_addr(&self) -> Option<SocketAddr> {
        self.websocket_addr.get().copied()
    }

    /// Lame duck mode: INFO says `ldm` from now on.
    pub(crate) fn enter_lame_duck(&self) {
        self.lame_duck.store(true, Ordering::Release);
    }

    /// Where HTTP monitoring listens, when it is on.
    pub fn monitor_addr(&self) -> Option<SocketAddr> {
        self.monitor_addr.get().copied()
    }

    /// The address clients connect to.
    pub fn addr(&self) -> Option<SocketAddr> {
        self.addr.get().copied()
    }

    /// Socket clients connected now, signed in or not.
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
    pub(crate) fn info<'a>(
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
        if let Some(name) = self.peers.cluster_name() {
            info.cluster = Some(name);
            let others = self.peers.peer_client_urls();
            if !others.is_empty() {
                // The reference lists its own URL first, then the others'.
                info.connect_urls = self.client_urls();
                info.connect_urls.extend(others);
            }
        }
        info
    }

    /// The INFO for a WebSocket client: the cluster's WebSocket URLs as
    /// its `connect_urls`, as the reference gives them.
    pub(crate) fn websocket_info<'a>(
        &'a self,
        client_id: u64,
        client_ip: Option<&'a str>,
        connect_info: Option<&'a str>,
        nonce: Option<&'a str>,
    ) -> Info<'a> {
        let mut info = self.info(client_id, client_ip, connect_info, nonce);
        info.auth_required = self.opts().client_auth(true).advertised();
        let others = self.peers.peer_ws_urls();
        info.connect_urls = if others.is_empty() {
            Vec::new()
        } else {
            let mut urls = self.ws_urls();
            urls.extend(others);
            urls
        };
        info
    }

    /// This server's WebSocket client URLs (`host:port`): the `advertise`
    /// address when configured.
    pub fn ws_urls(&self) -> Vec<String> {
        if let Some(adv) = self
            .opts()
            .websocket
            .as_ref()
            .and_then(|w| w.advertise.clone())
        {
            return vec![adv];
        }
        self.websocket_addr().map_or_else(Vec::new, |a| {
            if a.ip().is_unspecified() {
                vec![format!("127.0.0.1:{}", a.port())]
            } else {
                vec![a.to_string()]
            }
        })
    }

    /// The routes to other servers of the cluster.
    pub fn peers(&self) -> &crate::peers::Peers {
        &self.peers
    }

    /// This server's client URLs as other servers pass them on
    /// (`host:port`): every interface's address when bound to all.
    pub fn client_urls(&self) -> Vec<String> {
        let Some(addr) = self.addr() else {
            return Vec::new();
        };
        if addr.ip().is_unspecified() {
            // The reference lists each interface; loopback stands in here.
            return vec![format!("127.0.0.1:{}", addr.port())];
        }
        vec![addr.to_string()]
    }

    pub(crate) fn count_inbound(&self, msgs: u64, bytes: u64) {
        if msgs > 0 {
            self.stats.in_msgs.fetch_add(msgs, Ordering::Relaxed);
            self.stats.in_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
    }

    /// Whether closed connections are kept for `/connz`.
    pub(crate) fn keeps_closed_connections(&self) -> bool {
        self.closed.enabled()
    }

    /// The kept closed connections, oldest first.
    pub fn closed_connections(&self) -> Vec<ConnSnapshot> {
        self.closed.all()
    }

    /// Whether the server has shut down.
    pub fn is_stopped(&self) -> bool {
        self.stopped.load(Ordering::Acquire)
    }

    pub(crate) fn mark_stopped(&self) {
        self.stopped.store(true, Ordering::Release);
    }

    /// The client with id `cid`, if still connected.
    pub fn client(&self, cid: u64) -> Option<Arc<Connection>> {
        self.clients.lock().get(&cid).cloned()
    }

    /// Every socket client now connected.
    pub fn connections(&self) -> Vec<Arc<Connection>> {
        self.all_clients()
    }

    /// Every account, by name.
    pub fn accounts(&self) -> Vec<Arc<Account>> {
        let mut all: Vec<_> = self.accounts.read().values().cloned().collect();
        all.sort_by(|a, b| a.name.cmp(&b.name));
        all
    }

    /// A connection closed for `reason`: its figures join the closed
    /// totals, its snapshot (with `subs`) joins the closed ring, and it
    /// leaves the registry. The snapshot is returned for the disconnect
    /// event.
    pub(crate) fn connection_closed(
        &self,
        conn: &Connection,
        peer: SocketAddr,
        reason: CloseReason,
        subs: Vec<SubSnapshot>,
    ) -> Option<ConnSnapshot> {
        let handle = &conn.handle;
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
            let acc = &conn.account().stats;
            acc.closed_out_msgs.fetch_add(msgs, Ordering::Relaxed);
            acc.closed_out_bytes.fetch_add(bytes, Ordering::Relaxed);
        }
        // Into the closed ring before it leaves the registry (so /connz
        // always finds it in one or the other), and out of the registry
        // before the events, so the account's count they carry no longer
        // includes it.
        let snapshot = handle.snapshot().map(|mut snap| {
            snap.stop = Some((unix_nanos(std::time::SystemTime::now()), reason.to_string()));
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
        if reason == CloseReason::StaleConnection {
            self.stats.stale_connections.fetch_add(1, Ordering::Relaxed);
        }
        snapshot
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

    pub(crate) fn next_id(&self) -> u64 {
        self.next_client_id.fetch_add(1, Ordering::Relaxed)
    }

    /// Registers a new socket connection; false when the server is at
    /// `max_connections` (the connection is counted but not kept).
    pub(crate) fn register(&self, conn: &Arc<Connection>, max_connections: usize) -> bool {
        let admitted = {
            let mut clients = self.clients.lock();
            let over = clients.len() >= max_connections;
            if !over {
                clients.insert(conn.id(), conn.clone());
            }
            !over
        };
        self.stats.total_connections.fetch_add(1, Ordering::Relaxed);
        admitted
    }

    /// The TLS set-up new connections get, when clients use TLS.
    pub(crate) fn tls_acceptor(&self) -> Option<tokio_rustls::TlsAcceptor> {
        self.tls.read().clone()
    }

    pub(crate) fn all_clients(&self) -> Vec<Arc<Connection>> {
        self.clients.lock().values().cloned().collect()
    }

    /// Closes every client and waits (bounded) for their tasks to finish.
    pub(crate) async fn close_all_clients(&self, reason: CloseReason) {
        for conn in self.all_clients() {
            conn.handle.close(reason);
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
