//! Routes: this server in a full-mesh cluster with other tern servers and
//! nats-server, on the reference's route protocol. Each route carries the
//! local interest of every account (RS+/RS-) and the messages published
//! here that the other server has interest in (RMSG/HMSG); a message that
//! arrived over a route goes only to local subscribers (one hop). A new
//! server learns the rest of the mesh from one seed: each server tells its
//! routes of every server that joins (gossip), and they dial it. Between
//! two servers with pooling, accounts are spread over a pool of
//! connections (each on the one its name hashes to) and pinned accounts
//! have one of their own, as nats-server 2.10+ does.

mod conn;
mod info;
pub(crate) mod proto;

use std::collections::HashSet;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use parking_lot::Mutex;
use tokio::net::{TcpListener, TcpStream};
use tracing::{debug, error, info};

use crate::account::Account;
use crate::config::cluster::{ClusterOptions, RouteUrl};
use crate::peers::RouteSlot;
use crate::proto::write;
use crate::router::InterestWatcher;
use crate::server::Server;

pub use info::RouteInfo;

/// How long a dial may take.
const DIAL_TIMEOUT: Duration = Duration::from_secs(2);
/// The reference's wait between dials of a configured route.
const REDIAL_WAIT: Duration = Duration::from_secs(1);

/// This server's side of the cluster.
pub struct Cluster {
    server: Arc<Server>,
    opts: ClusterOptions,
    /// The cluster's name (random until a named peer's is adopted, when
    /// none is configured).
    name: Mutex<String>,
    dynamic: bool,
    /// Where routes are taken.
    listen: SocketAddr,
    /// Route addresses being dialled now, so gossip does not dial twice.
    dialing: Mutex<HashSet<String>>,
    /// Connections per server in our pool (`None`: pooling off).
    pool: Option<usize>,
    /// Accounts with a connection of their own to each server: the
    /// configured ones, and the system account whenever pooling is on.
    pinned: Vec<String>,
    /// The accept loop, stopped at shutdown.
    accept: Mutex<Option<tokio::task::JoinHandle<()>>>,
    /// `cluster { tls }`: both sides of every route.
    tls: Option<RouteTls>,
}

/// TLS on routes: accepted ones as the server, dialled ones as the
/// client, each presenting this server's certificate.
pub(crate) struct RouteTls {
    acceptor: tokio_rustls::TlsAcceptor,
    connector: tokio_rustls::TlsConnector,
    timeout: Duration,
}

/// Starts taking and dialling routes.
pub async fn start(server: &Arc<Server>, opts: &ClusterOptions) -> std::io::Result<Arc<Cluster>> {
    let host = if opts.host.is_empty() {
        server.opts().host.clone()
    } else {
        opts.host.clone()
    };
    let listener = TcpListener::bind((host.as_str(), opts.port)).await?;
    let listen = listener.local_addr()?;
    server.set_cluster_addr(listen);
    let (name, dynamic) = match &opts.name {
        Some(n) => (n.clone(), false),
        None => (crate::info::new_server_id()[..22].to_string(), true),
    };
    server.peers().set_cluster_name(name.clone());
    server.peers().set_no_advertise(opts.no_advertise);
    let tls = match &opts.tls {
        Some(tls) => {
            let bad = |e: crate::tls::TlsError| {
                std::io::Error::new(std::io::ErrorKind::InvalidInput, e.to_string())
            };
            Some(RouteTls {
                acceptor: tokio_rustls::TlsAcceptor::from(tls.load().map_err(bad)?),
                connector: tokio_rustls::TlsConnector::from(tls.load_client().map_err(bad)?),
                timeout: tls.timeout,
            })
        }
        None => None,
    };
    let pool = opts.pool_size();
    let mut pinned = opts.accounts.clone();
    if pool.is_some() {
        if let Some(sys) = server.system_account_name() {
            if !pinned.iter().any(|a| a == sys) {
                pinned.push(sys.to_string());
            }
        }
    }
    let cluster = Arc::new(Cluster {
        server: server.clone(),
        opts: opts.clone(),
        name: Mutex::new(name),
        dynamic,
        listen,
        dialing: Mutex::new(HashSet::new()),
        pool,
        pinned,
        accept: Mutex::new(None),
        tls,
    });
    for account in server.accounts() {
        cluster.watch(&account);
    }
    let weak = Arc::downgrade(&cluster);
    server.on_account_added(Box::new(move |account| {
        if let Some(cluster) = weak.upgrade() {
            cluster.watch(account);
        }
    }));
    info!("Cluster name is {}", cluster.name());
    if server.opts().jetstream {
        // Until streams are replicated, each server's JetStream stands
        // alone: its own API answers its own clients.
        tracing::warn!(
            "JetStream in a cluster runs standalone on each server: R1 streams and consumers only, num_replicas > 1 is refused; use leaf node domains for JetStream across machines"
        );
    }
    info!("Listening for route connections on {}", listen);
    *cluster.accept.lock() = Some(tokio::spawn(accept_loop(
        Arc::downgrade(&cluster),
        listener,
    )));
    for url in &opts.routes {
        cluster.dial_all(url, true);
    }
    Ok(cluster)
}

async fn accept_loop(cluster: std::sync::Weak<Cluster>, listener: TcpListener) {
    loop {
        match listener.accept().await {
            Ok((sock, peer)) => {
                let Some(cluster) = cluster.upgrade() else {
                    return;
                };
                let _ = sock.set_nodelay(true);
                tokio::spawn(async move {
                    conn::run(cluster, sock, peer, None).await;
                });
            }
            Err(e) => {
                error!("Error accepting route connection: {e}");
                tokio::time::sleep(Duration::from_millis(50)).await;
            }
        }
    }
}

impl Cluster {
    /// Stops taking routes and closes the ones standing (shutdown).
    pub fn stop(&self) {
        if let Some(accept) = self.accept.lock().take() {
            accept.abort();
        }
        for route in self.server.peers().routes() {
            route
                .handle
                .close(crate::handle::CloseReason::ServerShutdown);
        }
    }

    /// Lame duck mode: one INFO with `ldm` to every route, so the other
    /// servers drop this one's client URLs from what their clients get.
    pub fn announce_lame_duck(&self) {
        let info = RouteInfo {
            ldm: true,
            ..self.info()
        };
        let json = serde_json::to_vec(&info).unwrap_or_default();
        for route in self.server.peers().remotes() {
            if let Some(out) = route.handle.outbound() {
                out.send_now(|b| write::append_info(b, &json));
            }
        }
    }

    /// Where routes are taken.
    pub fn listen_addr(&self) -> SocketAddr {
        self.listen
    }

    /// The cluster's name now.
    pub fn name(&self) -> String {
        self.name.lock().clone()
    }

    /// Whether the name was made up here (and yields to a named peer's).
    fn is_dynamic(&self) -> bool {
        self.dynamic
    }

    /// Takes a named peer's cluster name, when ours was made up.
    fn adopt_name(&self, name: &str) {
        *self.name.lock() = name.to_string();
        self.server.peers().set_cluster_name(name.to_string());
    }

    /// The INFO this server sends on a route.
    fn info(&self) -> RouteInfo {
        let server = &self.server;
        let opts = server.opts();
        RouteInfo {
            server_id: server.id().to_string(),
            server_name: server.name().to_string(),
            version: crate::config::options::NATS_VERSION.to_string(),
            proto: 3,
            go: "tern".to_string(),
            host: self.listen.ip().to_string(),
            port: self.listen.port(),
            headers: true,
            auth_required: self.opts.user.is_some(),
            tls_required: self.tls.is_some(),
            tls_verify: self.tls.is_some(),
            max_payload: opts.max_payload as i64,
            jetstream: opts.jetstream,
            ip: self
                .opts
                .advertise
                .as_ref()
                .map(|a| format!("nats-route://{a}/"))
                .unwrap_or_default(),
            cluster: self.name(),
            cluster_dynamic: self.is_dynamic(),
            route_pool_size: self.pool.map(|n| n as i64),
            connect_urls: if self.opts.no_advertise {
                Vec::new()
            } else {
                server.client_urls()
            },
            ws_connect_urls: if self.opts.no_advertise {
                Vec::new()
            } else {
                server.ws_urls()
            },
            ..RouteInfo::default()
        }
    }

    /// Dials the first connection to the server at `url` and one pinned
    /// to each account that has its own.
    fn dial_all(self: &Arc<Self>, url: &RouteUrl, configured: bool) {
        tokio::spawn(self.clone().dial(url.clone(), configured, Dial::Main));
        for account in &self.pinned {
            let kind = Dial::Account(account.clone());
            tokio::spawn(self.clone().dial(url.clone(), configured, kind));
        }
    }

    /// The accounts a route connection in `slot` carries: all of them on
    /// a single route, its own on a pinned one, and on a place of the
    /// pool the unpinned ones that hash to it.
    pub(crate) fn carries(&self, slot: &RouteSlot, account: &str) -> bool {
        match slot {
            RouteSlot::Single => true,
            RouteSlot::Account(a) => a == account,
            RouteSlot::Pool(at) => {
                !self.pinned.iter().any(|p| p == account)
                    && *at == pool_index(self.pool.unwrap_or(1), account)
            }
        }
    }

    /// Dials `url` until a route stands (and again when it falls, for a
    /// configured route); a gossiped one is tried `connect_retries` + 1
    /// times.
    async fn dial(self: Arc<Self>, url: RouteUrl, configured: bool, kind: Dial) {
        let key = match &kind {
            Dial::Main => Some(url.addr.clone()),
            Dial::Account(a) => Some(format!("{} {a}", url.addr)),
            // Places of the pool are filled one after another; each
            // dialler stops once its connection cannot find a place.
            Dial::PoolMember => None,
        };
        if let Some(key) = &key {
            if !self.dialing.lock().insert(key.clone()) {
                return;
            }
        }
        let mut attempt = 0u32;
        loop {
            if self.server.is_stopped() {
                break;
            }
            attempt += 1;
            match tokio::time::timeout(DIAL_TIMEOUT, TcpStream::connect(&url.addr)).await {
                Ok(Ok(sock)) => {
                    attempt = 0;
                    let _ = sock.set_nodelay(true);
                    let peer = sock.peer_addr().unwrap_or(self.listen);
                    let solicited = conn::Solicited {
                        url: url.clone(),
                        configured,
                        kind: kind.clone(),
                    };
                    let ended = conn::run(self.clone(), sock, peer, Some(solicited)).await;
                    match ended {
                        conn::Ended::Myself | conn::Ended::GiveUp => break,
                        conn::Ended::Duplicate(_) if kind == Dial::PoolMember => break,
                        conn::Ended::Duplicate(id) => {
                            // Another route to that server stands: dial
                            // again only once it is gone.
                            while self.server.peers().get(&id).is_some()
                                && !self.server.is_stopped()
                            {
                                tokio::time::sleep(REDIAL_WAIT).await;
                            }
                        }
                        conn::Ended::Closed => {}
                    }
                    if !configured {
                        break;
                    }
                }
                Ok(Err(e)) => {
                    debug!("Error trying to connect to route (attempt {attempt}): {e}");
                }
                Err(_) => {
                    debug!("Error trying to connect to route (attempt {attempt}): timed out");
                }
            }
            if !configured && attempt > self.opts.connect_retries {
                break;
            }
            tokio::time::sleep(REDIAL_WAIT).await;
        }
        if let Some(key) = &key {
            self.dialing.lock().remove(key);
        }
    }

    /// A server another route told us of (over a route in `via`): dial
    /// it unless already routed; an INFO naming an account asks for the
    /// connection pinned to it.
    fn gossiped(self: &Arc<Self>, info: &RouteInfo, peer_ip: std::net::IpAddr, via: &RouteSlot) {
        let server = &self.server;
        if info.server_id == server.id() {
            return;
        }
        let url = RouteUrl {
            addr: route_addr(info, peer_ip),
            user: self.opts.routes.first().and_then(|r| r.user.clone()),
        };
        let routes = server.peers().routes();
        let has = |slot: &dyn Fn(&RouteSlot) -> bool| {
            routes
                .iter()
                .any(|r| r.remote_id == info.server_id && slot(&r.slot))
        };
        if !info.route_account.is_empty() {
            let account = info.route_account.clone();
            if self.pool.is_none()
                || !self.pinned.contains(&account)
                || has(&|s| *s == RouteSlot::Account(account.clone()))
            {
                return;
            }
            tokio::spawn(self.clone().dial(url, false, Dial::Account(account)));
            return;
        }
        if has(&|s| !matches!(s, RouteSlot::Account(_))) {
            return;
        }
        tokio::spawn(self.clone().dial(url.clone(), false, Dial::Main));
        // A server without pooling sends no INFO per pinned account.
        if *via == RouteSlot::Single {
            for account in &self.pinned {
                if !has(&|s| *s == RouteSlot::Account(account.clone())) {
                    let kind = Dial::Account(account.clone());
                    tokio::spawn(self.clone().dial(url.clone(), false, kind));
                }
            }
        }
    }

    /// Watches `account`'s local interest for the routes.
    fn watch(self: &Arc<Self>, account: &Arc<Account>) {
        let watcher = Arc::new(AccountInterest {
            server: Arc::downgrade(&self.server),
            cluster: Arc::downgrade(self),
            account: account.name.clone(),
        });
        account.router.watch_interest(watcher);
    }

    /// Tells clients that take INFO at any time of the cluster's client
    /// URLs, after a route came or went.
    fn client_urls_changed(&self) {
        let server = &self.server;
        for conn in server.all_clients() {
            let handle = &conn.handle;
            if !handle.wants_async_info() {
                continue;
            }
            if let Some(out) = handle.outbound() {
                let info = if handle.is_websocket() {
                    server.websocket_info(handle.id, None, None, None).to_json()
                } else {
                    server.info_json(handle.id, None, None, None)
                };
                out.send_now(|b| write::append_info(b, &info));
            }
        }
    }
}

/// Where a server described by `info` takes routes: its `ip`, else the
/// address it came from with its route port.
fn route_addr(info: &RouteInfo, peer_ip: std::net::IpAddr) -> String {
    if !info.ip.is_empty() {
        let rest = info
            .ip
            .split_once("://")
            .map_or(info.ip.as_str(), |(_, r)| r);
        return rest.trim_end_matches('/').to_string();
    }
    SocketAddr::new(peer_ip, info.port).to_string()
}

/// One account's interest, passed to every route that carries it.
struct AccountInterest {
    server: std::sync::Weak<Server>,
    cluster: std::sync::Weak<Cluster>,
    account: String,
}

/// What a dialler is after.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Dial {
    /// The first connection to a server (a place of its pool, or its
    /// only route).
    Main,
    /// Another place of the pool.
    PoolMember,
    /// The connection pinned to this account.
    Account(String),
}

/// The place of the pool an account's traffic takes: FNV-1a (32 bits)
/// of its name modulo the pool's size, as every server works it out.
pub(crate) fn pool_index(pool_size: usize, account: &str) -> usize {
    if pool_size <= 1 {
        return 0;
    }
    let mut hash: u32 = 0x811c_9dc5;
    for b in account.bytes() {
        hash ^= u32::from(b);
        hash = hash.wrapping_mul(0x0100_0193);
    }
    (hash % pool_size as u32) as usize
}

impl InterestWatcher for AccountInterest {
    fn changed(&self, subject: &[u8], queue: Option<&[u8]>, count: u32, added: bool) {
        let Some(server) = self.server.upgrade() else {
            return;
        };
        let Some(cluster) = self.cluster.upgrade() else {
            return;
        };
        let routes = server.peers().routes();
        if routes.is_empty() {
            return;
        }
        let (add, queue) = match queue {
            None if added && count == 1 => (true, None),
            None if !added && count == 0 => (false, None),
            None => return,
            Some(q) if count == 0 => (false, Some((q, 0))),
            Some(q) => (true, Some((q, count))),
        };
        // Built once each: with the account, and without it for a pinned
        // route (which names none).
        let (mut named, mut unnamed) = (None, None);
        for route in routes {
            if !cluster.carries(&route.slot, &self.account) {
                continue;
            }
            let line = match route.slot {
                RouteSlot::Account(_) => {
                    unnamed.get_or_insert_with(|| interest_line(add, "", subject, queue))
                }
                _ => named.get_or_insert_with(|| interest_line(add, &self.account, subject, queue)),
            };
            if let Some(out) = route.handle.outbound() {
                out.send_now(|b| b.extend_from_slice(line));
            }
        }
    }
}

/// `RS+ <acc> <subject> [<queue> <weight>]` or `RS- <acc> <subject>
/// [<queue>]` (no account on a pinned route: `account` empty).
fn interest_line(add: bool, account: &str, subject: &[u8], queue: Option<(&[u8], u32)>) -> Vec<u8> {
    let mut line = Vec::with_capacity(8 + account.len() + subject.len() + 16);
    line.extend_from_slice(if add { b"RS+ " } else { b"RS- " });
    if !account.is_empty() {
        line.extend_from_slice(account.as_bytes());
        line.push(b' ');
    }
    line.extend_from_slice(subject);
    if let Some((q, weight)) = queue {
        line.push(b' ');
        line.extend_from_slice(q);
        if add {
            line.push(b' ');
            line.extend_from_slice(weight.to_string().as_bytes());
        }
    }
    line.extend_from_slice(b"\r\n");
    line
}

#[cfg(test)]
mod tests {
    use super::pool_index;

    #[test]
    fn accounts_take_the_place_the_reference_gives_them() {
        // FNV-1a 32 of the name (Go's hash/fnv: "$G" is 2059166108,
        // "ACME" 1256144623), modulo the pool size.
        assert_eq!(pool_index(1, "$G"), 0);
        assert_eq!(pool_index(3, "$G"), 2);
        assert_eq!(pool_index(7, "ACME"), 6);
    }
}
