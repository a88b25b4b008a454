//! One route connection: TLS when configured, the handshake (INFO and
//! CONNECT both ways, in `handshake`), then interest and messages until it
//! closes. Its writer is a client's.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, error, info};

mod handshake;

use super::info::{RouteConnect, RouteInfo};
use super::proto::{self, Parsed, RouteOp};
use super::Cluster;
use crate::config::cluster::RouteUrl;
use crate::deliver::deliver_from_remote;
use crate::handle::{CloseReason, FlushSet, Handle};
use crate::link::{self, Liveness, Ping, READ_BUFFER};
use crate::peers::{RoutePeer, RouteSlot};
use crate::proto::write::{self, Frame, Sizes};
use crate::router::{LocalCache, Subscription};
use crate::server::{Connection, Server};

/// Members one queue group on another server counts for, at most.
const MAX_QUEUE_WEIGHT: u32 = 64;

/// How long the other server has to introduce itself.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);

/// How a route ended, for its dialler.
pub enum Ended {
    /// It led back to this server: stop dialling it.
    Myself,
    /// It cannot stand (a pinned route to a server without pooling):
    /// stop dialling it.
    GiveUp,
    /// A route to that server (by id) already stood in that place, or
    /// its pool was full.
    Duplicate(String),
    /// It closed (or never stood).
    Closed,
}

/// A subscription a route holds here: account, subject, queue.
type SubKey = (Bytes, Bytes, Option<Bytes>);

/// A route we dialled.
pub struct Solicited {
    pub url: RouteUrl,
    /// The configuration lists it.
    pub configured: bool,
    pub kind: super::Dial,
}

struct Route {
    cluster: Arc<Cluster>,
    server: Arc<Server>,
    handle: Arc<Handle>,
    peer: SocketAddr,
    /// What we dialled, when we did.
    solicited: Option<Solicited>,
    got_connect: bool,
    /// Our INFO went out (a pooling dialler sends it once it knows its
    /// place).
    info_sent: bool,
    registered: Option<Arc<RoutePeer>>,
    /// The account this route is pinned to: its ops name none.
    pinned: Option<Bytes>,
    subs: HashMap<SubKey, Vec<Arc<Subscription>>>,
    /// Accounts messages arrived for, each with this route's match cache.
    /// (A list: a route carries few accounts, and comparing a short name
    /// costs less than hashing it for every message.)
    accounts: Vec<(Bytes, Arc<crate::account::Account>, LocalCache)>,
    flush: FlushSet,
    /// PINGs for liveness (a peer that hangs is closed as stale).
    live: Liveness,
    in_msgs: u64,
    in_bytes: u64,
}

/// Why the read loop stopped.
enum Stop {
    Closed(CloseReason),
    Ended(Ended, CloseReason),
}

/// Runs a route from its socket until it closes: TLS first when the
/// cluster has it (the dialler as the client), as the reference does.
pub async fn run(
    cluster: Arc<Cluster>,
    sock: TcpStream,
    peer: SocketAddr,
    solicited: Option<Solicited>,
) -> Ended {
    let Some(tls) = &cluster.tls else {
        let (rd, wr) = sock.into_split();
        return drive(cluster, rd, wr, peer, solicited).await;
    };
    let handshake = async {
        let stream: tokio_rustls::TlsStream<TcpStream> = match &solicited {
            Some(s) => {
                let host = s
                    .url
                    .addr
                    .rsplit_once(':')
                    .map_or(s.url.addr.as_str(), |(h, _)| h);
                let host = host.trim_start_matches('[').trim_end_matches(']');
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|e| std::io::Error::new(std::io::ErrorKind::InvalidInput, e))?;
                tls.connector.connect(name, sock).await?.into()
            }
            None => tls.acceptor.accept(sock).await?.into(),
        };
        Ok::<_, std::io::Error>(stream)
    };
    match tokio::time::timeout(tls.timeout, handshake).await {
        Ok(Ok(stream)) => {
            let (rd, wr) = tokio::io::split(stream);
            drive(cluster.clone(), rd, wr, peer, solicited).await
        }
        Ok(Err(e)) => {
            error!("{peer} - TLS route handshake error: {e}");
            Ended::Closed
        }
        Err(_) => {
            error!("{peer} - TLS route handshake error: timeout");
            Ended::Closed
        }
    }
}

async fn drive<R, W>(
    cluster: Arc<Cluster>,
    rd: R,
    wr: W,
    peer: SocketAddr,
    solicited: Option<Solicited>,
) -> Ended
where
    R: tokio::io::AsyncRead + Unpin,
    W: tokio::io::AsyncWrite + Unpin + Send + 'static,
{
    let server = cluster.server.clone();
    let opts = server.opts();
    let handle = Arc::new(Handle::route(server.next_id(), opts.max_pending, peer));
    let entry = Arc::new(Connection::new(
        handle.clone(),
        server.global_account().clone(),
    ));
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
        info_sent: false,
        registered: None,
        pinned: None,
        subs: HashMap::new(),
        accounts: Vec::new(),
        flush: FlushSet::default(),
        live: Liveness::new(opts.ping_interval, opts.ping_max),
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

    /// A dialler sends CONNECT, and its INFO at once without pooling (else
    /// once the other's INFO gives it a place); an acceptor its INFO.
    fn greet(&mut self) {
        if let Some(Solicited { url, .. }) = &self.solicited {
            let (user, pass) = url.user.clone().unwrap_or_default();
            let connect = RouteConnect {
                echo: true,
                user,
                pass,
                headers: true,
                tls_required: self.cluster.tls.is_some(),
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
            if self.cluster.pool.is_some() {
                return;
            }
        }
        self.send_info(self.cluster.info());
    }

    fn send_info(&mut self, info: RouteInfo) {
        let json = serde_json::to_vec(&info).unwrap_or_default();
        self.send(|b| write::append_info(b, &json));
        self.info_sent = true;
    }

    async fn read_loop<R: tokio::io::AsyncRead + Unpin>(&mut self, mut rd: R) -> Stop {
        let mut buf = BytesMut::with_capacity(READ_BUFFER);
        let handshake = tokio::time::sleep(HANDSHAKE_TIMEOUT);
        tokio::pin!(handshake);
        loop {
            link::reserve_read(&mut buf);
            tokio::select! {
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) => return Stop::Closed(CloseReason::ClientClosed),
                    Ok(_) => {}
                    Err(_) => return Stop::Closed(CloseReason::ReadError),
                },
                () = self.handle.closed() => {
                    return Stop::Closed(link::close_reason(&self.handle));
                }
                ping = self.live.due() => {
                    if ping == Ping::Stale {
                        debug!("{} - Stale Connection", self.rid());
                        return Stop::Closed(CloseReason::StaleConnection);
                    }
                    self.send(|b| b.extend_from_slice(write::PING));
                    continue;
                }
                () = &mut handshake, if self.registered.is_none() => {
                    debug!("{} - Route handshake timed out", self.rid());
                    return Stop::Closed(CloseReason::AuthenticationTimeout);
                }
            }
            loop {
                let parsed = if self.pinned.is_some() {
                    proto::parse_pinned(&buf)
                } else {
                    proto::parse(&buf)
                };
                let (op_len, stop) = match parsed {
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
                self.live.answered();
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
                let pinned = self.pinned.clone();
                self.remote_sub(pinned.as_deref().unwrap_or(account), subject, queue, weight);
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
                let pinned = self.pinned.clone();
                self.remote_unsub(pinned.as_deref().unwrap_or(account), subject, queue);
                None
            }
            RouteOp::Msg(msg) => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.in_msgs += 1;
                self.in_bytes += msg.message.len() as u64;
                // A pinned route's messages name no account.
                let account_name: &[u8] = match &self.pinned {
                    Some(pinned) => pinned,
                    None => msg.account,
                };
                let at = match self.accounts.iter().position(|(n, ..)| n == account_name) {
                    Some(at) => at,
                    None => {
                        let name = std::str::from_utf8(account_name).ok()?;
                        let account = self.server.account(name)?;
                        self.accounts.push((
                            Bytes::copy_from_slice(account_name),
                            account,
                            LocalCache::default(),
                        ));
                        self.accounts.len() - 1
                    }
                };
                let (_, account, cache) = &mut self.accounts[at];
                let sizes = Sizes::of(msg.header_len, msg.message.len());
                let frame = Frame::new(msg.subject, msg.reply, msg.header_len, msg.message, &sizes);
                let result = cache.lookup(&account.router, msg.subject);
                deliver_from_remote(
                    account,
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

    /// The local interest of every account this connection carries, as
    /// it starts.
    fn send_interest(&self, slot: &RouteSlot) {
        let Some(out) = self.handle.outbound() else {
            return;
        };
        for account in self.server.accounts() {
            if !self.cluster.carries(slot, &account.name) {
                continue;
            }
            // A pinned route names no account.
            let name = match slot {
                RouteSlot::Account(_) => String::new(),
                _ => account.name.clone(),
            };
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
        // On a pinned route the subscription names no account, so what
        // it delivers names none either.
        let sid = if self.pinned.is_some() {
            Bytes::new()
        } else {
            key.0.clone()
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
                sid.clone(),
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
            let last = self
                .server
                .peers()
                .remove(self.handle.id)
                .is_some_and(|(_, last)| last);
            info!(
                "{} - Router connection closed: {} - Remote: {}",
                self.rid(),
                reason,
                peer.remote_name
            );
            if last {
                self.cluster.client_urls_changed();
            }
        } else {
            debug!("{} - Router connection closed: {}", self.rid(), reason);
        }
    }
}
