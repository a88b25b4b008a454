//! One route connection: the handshake (INFO and CONNECT both ways), then
//! interest and messages until it closes. Its writer is a client's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, error, info};

use super::info::{RouteConnect, RouteInfo};
use super::proto::{self, Parsed, RouteOp};
use super::Cluster;
use crate::config::cluster::RouteUrl;
use crate::deliver::deliver_from_remote;
use crate::handle::{CloseReason, FlushSet, Handle};
use crate::peers::RoutePeer;
use crate::proto::write::{self, Frame, Sizes};
use crate::router::{LocalCache, Subscription};
use crate::server::{Connection, Server};

/// Members one queue group on another server counts for, at most.
const MAX_QUEUE_WEIGHT: u32 = 64;

/// How long the other server has to introduce itself.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
const READ_BUFFER: usize = 64 * 1024;

/// How a route ended, for its dialler.
pub enum Ended {
    /// It led back to this server: stop dialling it.
    Myself,
    /// A route to that server (by id) already stood.
    Duplicate(String),
    /// It closed (or never stood).
    Closed,
}

/// A subscription a route holds here: account, subject, queue.
type SubKey = (Bytes, Bytes, Option<Bytes>);

struct Route {
    cluster: Arc<Cluster>,
    server: Arc<Server>,
    handle: Arc<Handle>,
    peer: SocketAddr,
    /// The URL we dialled, and whether the configuration lists it.
    solicited: Option<(RouteUrl, bool)>,
    got_connect: bool,
    registered: Option<Arc<RoutePeer>>,
    subs: HashMap<SubKey, Vec<Arc<Subscription>>>,
    /// Accounts messages arrived for, each with this route's match cache.
    accounts: HashMap<Bytes, (Arc<crate::account::Account>, LocalCache)>,
    flush: FlushSet,
    /// PINGs sent and not yet answered.
    pings_out: u32,
    in_msgs: u64,
    in_bytes: u64,
}

/// Why the read loop stopped.
enum Stop {
    Closed(CloseReason),
    Ended(Ended, CloseReason),
}

/// Runs a route from its socket until it closes.
pub async fn run(
    cluster: Arc<Cluster>,
    sock: TcpStream,
    peer: SocketAddr,
    solicited: Option<(RouteUrl, bool)>,
) -> Ended {
    let server = cluster.server.clone();
    let opts = server.opts();
    let handle = Arc::new(Handle::route(server.next_id(), opts.max_pending, peer));
    let entry = Arc::new(Connection::new(
        handle.clone(),
        server.global_account().clone(),
    ));
    let (rd, wr) = sock.into_split();
    let writer = tokio::spawn(crate::client::run_writer(
        entry,
        wr,
        server.shared_stats(),
        opts.write_deadline,
    ));
    let mut route = Route {
        cluster,
        server: server.clone(),
        handle: handle.clone(),
        peer,
        solicited,
        got_connect: false,
        registered: None,
        subs: HashMap::new(),
        accounts: HashMap::new(),
        flush: FlushSet::default(),
        pings_out: 0,
        in_msgs: 0,
        in_bytes: 0,
    };
    route.greet();
    let stop = route.read_loop(rd).await;
    let (ended, reason) = match stop {
        Stop::Closed(reason) => (Ended::Closed, reason),
        Stop::Ended(ended, reason) => (ended, reason),
    };
    route.close(reason);
    handle.close(reason);
    let _ = writer.await;
    ended
}

impl Route {
    fn rid(&self) -> String {
        format!("{} - rid:{}", self.peer, self.handle.id)
    }

    fn send(&self, f: impl FnOnce(&mut BytesMut)) {
        if let Some(out) = self.handle.outbound() {
            out.send_now(f);
        }
    }

    fn send_err(&self, text: &str) {
        self.send(|b| write::append_err(b, text));
    }

    /// A dialler sends CONNECT and its INFO at once (no pooling to wait
    /// for); an acceptor its INFO.
    fn greet(&self) {
        let info = serde_json::to_vec(&self.cluster.info()).unwrap_or_default();
        if let Some((url, _)) = &self.solicited {
            let (user, pass) = url.user.clone().unwrap_or_default();
            let connect = RouteConnect {
                echo: true,
                user,
                pass,
                headers: true,
                name: self.server.id().to_string(),
                cluster: self.cluster.name(),
                cluster_dynamic: self.cluster.is_dynamic(),
                ..RouteConnect::default()
            };
            let connect = serde_json::to_vec(&connect).unwrap_or_default();
            self.send(|b| {
                b.extend_from_slice(b"CONNECT ");
                b.extend_from_slice(&connect);
                b.extend_from_slice(b"\r\n");
            });
        }
        self.send(|b| write::append_info(b, &info));
    }

    async fn read_loop(&mut self, mut rd: tokio::net::tcp::OwnedReadHalf) -> Stop {
        let mut buf = BytesMut::with_capacity(READ_BUFFER);
        let handshake = tokio::time::sleep(HANDSHAKE_TIMEOUT);
        tokio::pin!(handshake);
        // Liveness: a PING every `ping_interval`; `ping_max` unanswered
        // ones close the connection as stale (a peer that hangs with its
        // socket open), as the reference does for routes and leafs.
        let opts = self.server.opts();
        let mut pinger = tokio::time::interval_at(
            tokio::time::Instant::now() + opts.ping_interval,
            opts.ping_interval,
        );
        let ping_max = opts.ping_max;
        drop(opts);
        loop {
            if buf.capacity() - buf.len() < 1024 {
                buf.reserve(READ_BUFFER);
            }
            let n = tokio::select! {
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) => return Stop::Closed(CloseReason::ClientClosed),
                    Ok(n) => n,
                    Err(_) => return Stop::Closed(CloseReason::ReadError),
                },
                () = self.handle.closed() => {
                    let reason = self
                        .handle
                        .outbound()
                        .and_then(|o| o.close_reason())
                        .unwrap_or(CloseReason::ServerShutdown);
                    return Stop::Closed(reason);
                }
                _ = pinger.tick() => {
                    if self.pings_out >= ping_max {
                        debug!("{} - Stale Connection", self.rid());
                        return Stop::Closed(CloseReason::StaleConnection);
                    }
                    self.pings_out += 1;
                    self.send(|b| b.extend_from_slice(write::PING));
                    continue;
                }
                () = &mut handshake, if self.registered.is_none() => {
                    debug!("{} - Route handshake timed out", self.rid());
                    return Stop::Closed(CloseReason::AuthenticationTimeout);
                }
            };
            let _ = n;
            loop {
                let (op_len, stop) = match proto::parse(&buf) {
                    Ok(Parsed::More) => break,
                    Ok(Parsed::Op(op, used)) => (used, self.on_op(op)),
                    Err(e) => {
                        error!("{} - Route Error {}", self.rid(), e);
                        self.send_err(&e.0);
                        return Stop::Closed(CloseReason::ProtocolError);
                    }
                };
                buf.advance(op_len);
                if let Some(stop) = stop {
                    self.flush.flush();
                    return stop;
                }
            }
            self.flush.flush();
            if let Some(peer) = &self.registered {
                peer.in_msgs.fetch_add(self.in_msgs, Ordering::Relaxed);
                peer.in_bytes.fetch_add(self.in_bytes, Ordering::Relaxed);
            }
            self.server.count_inbound(self.in_msgs, self.in_bytes);
            self.in_msgs = 0;
            self.in_bytes = 0;
        }
    }

    fn on_op(&mut self, op: RouteOp<'_>) -> Option<Stop> {
        match op {
            RouteOp::Ping => {
                self.send(|b| b.extend_from_slice(write::PONG));
                None
            }
            RouteOp::Pong => {
                self.pings_out = 0;
                None
            }
            RouteOp::Ok => None,
            RouteOp::Err(text) => {
                error!(
                    "{} - Route Error {}",
                    self.rid(),
                    String::from_utf8_lossy(text)
                );
                Some(Stop::Closed(CloseReason::ClientClosed))
            }
            RouteOp::Connect(json) => self.on_connect(json),
            RouteOp::Info(json) => self.on_info(json),
            RouteOp::Sub {
                account,
                subject,
                queue,
                weight,
            } => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.remote_sub(account, subject, queue, weight);
                None
            }
            RouteOp::Unsub {
                account,
                subject,
                queue,
            } => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.remote_unsub(account, subject, queue);
                None
            }
            RouteOp::Msg(msg) => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.in_msgs += 1;
                self.in_bytes += msg.message.len() as u64;
                if !self.accounts.contains_key(msg.account) {
                    let name = std::str::from_utf8(msg.account).ok()?;
                    let account = self.server.account(name)?;
                    self.accounts.insert(
                        Bytes::copy_from_slice(msg.account),
                        (account, LocalCache::default()),
                    );
                }
                let (account, cache) = self.accounts.get_mut(msg.account)?;
                let account = account.clone();
                let sizes = Sizes::of(msg.header_len, msg.message.len());
                let frame = Frame::new(msg.subject, msg.reply, msg.header_len, msg.message, &sizes);
                let result = cache.lookup(&account.router, msg.subject);
                deliver_from_remote(
                    &account,
                    self.server.stats(),
                    &result,
                    &frame,
                    msg.queues(),
                    &self.handle,
                    false,
                    &mut self.flush,
                );
                None
            }
        }
    }

    fn protocol_error(&self) -> Stop {
        self.send_err("Invalid Protocol");
        Stop::Closed(CloseReason::ProtocolError)
    }

    fn on_connect(&mut self, json: &[u8]) -> Option<Stop> {
        let Ok(connect) = serde_json::from_slice::<RouteConnect>(json) else {
            self.send_err("Invalid Protocol");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        };
        if connect.lang.is_some() {
            self.send_err("attempted to connect to route port");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        }
        if let Some((user, pass)) = &self.cluster.opts.user {
            if &connect.user != user || &connect.pass != pass {
                error!(
                    "{} - Router connect error: Authorization Violation",
                    self.rid()
                );
                self.send_err("Authorization Violation");
                return Some(Stop::Closed(CloseReason::AuthenticationViolation));
            }
        }
        if let Some(stop) = self.check_cluster_name(&connect.cluster, connect.cluster_dynamic) {
            return Some(stop);
        }
        self.got_connect = true;
        None
    }

    /// A peer of another cluster is refused; a made-up name yields to a
    /// configured one.
    fn check_cluster_name(&self, theirs: &str, theirs_dynamic: bool) -> Option<Stop> {
        let ours = self.cluster.name();
        if theirs.is_empty() || theirs == ours {
            return None;
        }
        if self.cluster.is_dynamic() && !theirs_dynamic {
            info!("Cluster name updated to {theirs}");
            self.cluster.adopt_name(theirs);
            return None;
        }
        if theirs_dynamic {
            return None;
        }
        error!(
            "{} - Rejecting connection, cluster name {:?} does not match {:?}",
            self.rid(),
            theirs,
            ours
        );
        self.send_err(&format!(
            "Rejecting connection, cluster name {theirs:?} does not match {ours:?}"
        ));
        Some(Stop::Closed(CloseReason::ClusterNameConflict))
    }

    fn on_info(&mut self, json: &[u8]) -> Option<Stop> {
        let Ok(info) = serde_json::from_slice::<RouteInfo>(json) else {
            self.send_err("Invalid Protocol");
            return Some(Stop::Closed(CloseReason::ProtocolError));
        };
        if let Some(peer) = self.registered.clone() {
            if info.server_id != peer.remote_id {
                // Gossip: a server that joined the cluster.
                self.cluster.gossiped(&info, self.peer.ip());
            } else {
                let urls = if info.ldm {
                    Vec::new()
                } else {
                    info.connect_urls
                };
                let changed = *peer.client_urls.read() != urls;
                if changed {
                    *peer.client_urls.write() = urls;
                    self.cluster.client_urls_changed();
                }
            }
            return None;
        }
        if self.solicited.is_none() && !self.got_connect {
            return Some(self.protocol_error());
        }
        if info.server_id == self.server.id() {
            debug!("{} - Detected route to self, ignoring", self.rid());
            return Some(Stop::Ended(Ended::Myself, CloseReason::ClientClosed));
        }
        if !info.route_account.is_empty() {
            // A connection the reference dedicates to one account: it
            // drops it on our INFO (no pool); we never take it.
            return Some(Stop::Closed(CloseReason::ClientClosed));
        }
        if let Some(stop) = self.check_cluster_name(&info.cluster, info.cluster_dynamic) {
            return Some(stop);
        }
        if !info.server_name.is_empty() && info.server_name == self.server.name() {
            error!(
                "{} - Remote server has a duplicate name: {:?}",
                self.rid(),
                info.server_name
            );
            return Some(Stop::Closed(CloseReason::DuplicateServerName));
        }
        self.register(info)
    }

    fn register(&mut self, info: RouteInfo) -> Option<Stop> {
        let (did_solicit, is_configured) = match &self.solicited {
            Some((_, configured)) => (true, *configured),
            None => (false, false),
        };
        let peer = Arc::new(RoutePeer {
            handle: self.handle.clone(),
            remote_id: info.server_id.clone(),
            remote_name: info.server_name.clone(),
            did_solicit,
            is_configured,
            peer: self.peer,
            started: std::time::SystemTime::now(),
            client_urls: parking_lot::RwLock::new(info.connect_urls.clone()),
            ws_urls: parking_lot::RwLock::new(info.ws_connect_urls.clone()),
            in_msgs: Default::default(),
            in_bytes: Default::default(),
            subscriptions: Default::default(),
        });
        // Between two tern servers that dialled each other at once, both
        // keep the route the server with the smaller id dialled; with the
        // reference, the first registered stays (as it does).
        let my_id = self.server.id().to_string();
        let tie_break = info.go == "tern";
        let prefer = move |p: &RoutePeer| p.did_solicit == (my_id.as_str() < p.remote_id.as_str());
        let replaced = match self.server.peers().register(peer.clone(), |old, new| {
            tie_break && prefer(new) && !prefer(old)
        }) {
            Ok(replaced) => replaced,
            Err(crate::peers::AlreadyRouted) => {
                debug!("{} - Duplicate route to {:?}", self.rid(), info.server_id);
                return Some(Stop::Ended(
                    Ended::Duplicate(info.server_id),
                    CloseReason::DuplicateRoute,
                ));
            }
        };
        if let Some(old) = replaced {
            old.handle.close(CloseReason::DuplicateRoute);
        }
        info!("{} - Route connection created", self.rid());
        debug!(
            "{} - Registering remote route {:?}",
            self.rid(),
            info.server_id
        );
        self.registered = Some(peer);
        self.send_interest();
        // Tell the other routes of the newcomer, unless we only know it
        // because one of them told us.
        let from_gossip = matches!(self.solicited, Some((_, false)));
        if !from_gossip {
            let mut forward = info;
            forward.nonce.clear();
            forward.ip = format!(
                "nats-route://{}/",
                super::route_addr(&forward, self.peer.ip())
            );
            let json = serde_json::to_vec(&forward).unwrap_or_default();
            for other in self.server.peers().routes() {
                if Arc::ptr_eq(&other.handle, &self.handle) {
                    continue;
                }
                if let Some(out) = other.handle.outbound() {
                    out.send_now(|b| write::append_info(b, &json));
                }
            }
        }
        self.cluster.client_urls_changed();
        None
    }

    /// Every account's local interest, as the route starts.
    fn send_interest(&self) {
        let Some(out) = self.handle.outbound() else {
            return;
        };
        for account in self.server.accounts() {
            let name = account.name.clone();
            // Appended under the router's lock: changes after it follow.
            account.router.with_local_interest(|subject, queue, count| {
                let line = super::interest_line(true, &name, subject, queue.map(|q| (q, count)));
                out.append_with(|b| b.extend_from_slice(&line));
            });
        }
        out.send_now(|_| {});
    }

    /// Interest from the other server. A queue group is held as one
    /// subscription per member there (its weight, capped), so this
    /// server's pick among members spreads messages as the reference's
    /// does.
    fn remote_sub(&mut self, account: &[u8], subject: &[u8], queue: Option<&[u8]>, weight: u32) {
        let key = (
            Bytes::copy_from_slice(account),
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
        );
        let Some(acc) = std::str::from_utf8(account)
            .ok()
            .and_then(|n| self.server.account(n))
        else {
            return;
        };
        let want = if queue.is_some() {
            weight.clamp(1, MAX_QUEUE_WEIGHT) as usize
        } else {
            1
        };
        let members = self.subs.entry(key.clone()).or_default();
        if members.is_empty() {
            if let Some(peer) = &self.registered {
                peer.subscriptions.fetch_add(1, Ordering::Relaxed);
            }
        }
        while members.len() < want {
            let sub = Arc::new(Subscription::new(
                self.handle.clone(),
                key.0.clone(),
                key.1.clone(),
                key.2.clone(),
            ));
            acc.router.insert(sub.clone());
            members.push(sub);
        }
        if members.len() > want {
            let gone = members.split_off(want);
            for sub in &gone {
                sub.close();
            }
            acc.router.remove_all(&gone);
        }
    }

    fn remote_unsub(&mut self, account: &[u8], subject: &[u8], queue: Option<&[u8]>) {
        let key = (
            Bytes::copy_from_slice(account),
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
        );
        let Some(members) = self.subs.remove(&key) else {
            return;
        };
        for sub in &members {
            sub.close();
        }
        if let Some(acc) = std::str::from_utf8(account)
            .ok()
            .and_then(|n| self.server.account(n))
        {
            acc.router.remove_all(&members);
        }
        if let Some(peer) = &self.registered {
            peer.subscriptions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    /// The route is gone: its interest goes with it.
    fn close(&mut self, reason: CloseReason) {
        let mut by_account: HashMap<Bytes, Vec<Arc<Subscription>>> = HashMap::new();
        for ((account, _, _), members) in self.subs.drain() {
            for sub in &members {
                sub.close();
            }
            by_account.entry(account).or_default().extend(members);
        }
        for (account, subs) in by_account {
            if let Some(acc) = std::str::from_utf8(&account)
                .ok()
                .and_then(|n| self.server.account(n))
            {
                acc.router.remove_all(&subs);
            }
        }
        if let Some(peer) = self.registered.take() {
            self.server.peers().remove(self.handle.id);
            info!(
                "{} - Router connection closed: {} - Remote: {}",
                self.rid(),
                reason,
                peer.remote_name
            );
            self.cluster.client_urls_changed();
        } else {
            debug!("{} - Router connection closed: {}", self.rid(), reason);
        }
    }
}
