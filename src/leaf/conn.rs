//! One leaf node connection, either side: the handshake (the hub sends
//! INFO, the leaf answers CONNECT, the hub binds an account and confirms),
//! then interest and messages until it closes.

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::atomic::Ordering;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;
use tracing::{debug, error, info};

use super::info::{LeafConnect, LeafInfo};
use super::watch::{interest_line, LeafInterest};
use super::Leafs;
use crate::account::Account;
use crate::config::cluster::RouteUrl;
use crate::config::leafnodes::LeafRemote;
use crate::deliver::deliver_from_remote;
use crate::handle::{CloseReason, FlushSet, Handle};
use crate::link::{self, Liveness, Ping, READ_BUFFER};
use crate::peers::LeafPeer;
use crate::permissions::{Entry, Permissions, Rules};
use crate::proto::write::{self, Frame, Sizes};
use crate::route::proto::{self, Parsed, RouteOp};
use crate::router::{LocalCache, SubWatcher, Subscription};
use crate::server::{Connection, Server};

/// How long the other side has to introduce itself.
const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(2);
/// The reference's pause after a loop or a refusal before trying again.
const LONG_WAIT: Duration = Duration::from_secs(30);
/// The pause before reconnecting after a connection dropped.
const SHORT_WAIT: Duration = Duration::from_secs(1);

struct Leaf {
    leafs: Arc<Leafs>,
    server: Arc<Server>,
    handle: Arc<Handle>,
    peer: SocketAddr,
    /// We connected to a hub: its remote entry and the URL used.
    remote: Option<(LeafRemote, RouteUrl)>,
    /// `deny_imports` and `deny_exports` of the remote entry.
    perms: Option<Arc<Permissions>>,
    nonce: String,
    account: Option<Arc<Account>>,
    registered: Option<Arc<LeafPeer>>,
    watcher: Option<Arc<dyn SubWatcher>>,
    subs: HashMap<(Bytes, Option<Bytes>), Arc<Subscription>>,
    /// This connection's match cache for its account.
    cache: LocalCache,
    flush: FlushSet,
    /// PINGs for liveness (a peer that hangs is closed as stale).
    live: Liveness,
    in_msgs: u64,
    in_bytes: u64,
    /// How long the dialler waits before trying again.
    wait: Duration,
}

/// Runs a leaf node connection until it closes; for a solicited one,
/// how long to wait before reconnecting.
pub async fn run(
    leafs: Arc<Leafs>,
    sock: TcpStream,
    peer: SocketAddr,
    remote: Option<(LeafRemote, RouteUrl)>,
) -> Duration {
    let server = leafs.server.clone();
    let opts = server.opts();
    let to_hub = remote.is_some();
    let handle = Arc::new(Handle::leaf(
        server.next_id(),
        opts.max_pending,
        peer,
        to_hub,
    ));
    let entry = Arc::new(Connection::new(
        handle.clone(),
        server.global_account().clone(),
    ));
    let perms = remote.as_ref().and_then(|(r, _)| {
        (!r.deny_imports.is_empty() || !r.deny_exports.is_empty()).then(|| {
            let rules = |l: &[String]| Rules {
                allow: None,
                deny: l.iter().map(|s| Entry::parse(s)).collect(),
            };
            Arc::new(Permissions {
                publish: rules(&r.deny_exports),
                subscribe: rules(&r.deny_imports),
                responses: None,
            })
        })
    });
    let mut leaf = Leaf {
        leafs,
        server: server.clone(),
        handle: handle.clone(),
        peer,
        remote,
        perms,
        nonce: String::new(),
        account: None,
        registered: None,
        watcher: None,
        subs: HashMap::new(),
        cache: LocalCache::default(),
        flush: FlushSet::default(),
        live: Liveness::new(opts.ping_interval, opts.ping_max),
        in_msgs: 0,
        in_bytes: 0,
        wait: SHORT_WAIT,
    };
    leaf.wait = leaf.leafs.opts.reconnect.unwrap_or(SHORT_WAIT);
    let (stream, initial, info_sent) = match leaf.secure(sock).await {
        Ok(secured) => secured,
        Err(reason) => {
            debug!("{} - Leafnode connection closed: {}", leaf.lid(), reason);
            return leaf.wait;
        }
    };
    let (rd, wr) = tokio::io::split(stream);
    let writer = tokio::spawn(crate::client::run_writer(
        entry,
        wr,
        server.shared_stats(),
        opts.write_deadline,
    ));
    if !to_hub && !info_sent {
        leaf.send_info(None);
    }
    let reason = leaf.read_loop(rd, initial).await;
    leaf.close(reason);
    handle.close(reason);
    let _ = writer.await;
    leaf.wait
}

/// A leaf connection's byte stream: TCP, or TLS over it.
trait Io: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send {}
impl<T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin + Send> Io for T {}

/// The INFO line's bytes a hub sends before TLS, read at most.
const MAX_INFO_LINE: usize = 64 * 1024;

impl Leaf {
    fn lid(&self) -> String {
        format!("{} - lid:{}", self.peer, self.handle.id)
    }

    fn send(&self, f: impl FnOnce(&mut BytesMut)) {
        if let Some(out) = self.handle.outbound() {
            out.send_now(f);
        }
    }

    fn send_err(&self, text: &str) {
        self.send(|b| write::append_err(b, text));
    }

    /// The hub's INFO: at once on accept, and again (`bound`) once the
    /// leaf's CONNECT is accepted.
    fn send_info(&mut self, bound: Option<&str>) {
        let line = self.info_line(bound);
        self.send(|b| b.extend_from_slice(&line));
    }

    /// Our INFO line as a hub (`bound`: the confirmation after CONNECT).
    fn info_line(&mut self, bound: Option<&str>) -> Vec<u8> {
        let server = &self.server;
        let opts = server.opts();
        if bound.is_none() {
            self.nonce = server.new_nonce().unwrap_or_default();
        }
        let listen = self.leafs.listen_addr();
        let info = LeafInfo {
            server_id: server.id().to_string(),
            server_name: server.name().to_string(),
            version: crate::config::options::NATS_VERSION.to_string(),
            proto: 1,
            go: "tern".to_string(),
            host: listen.map(|a| a.ip().to_string()).unwrap_or_default(),
            port: listen.map_or(0, |a| a.port()),
            headers: true,
            auth_required: self.leafs.opts.auth.is_some() || opts.auth.required(),
            max_payload: opts.max_payload as i64,
            jetstream: opts.jetstream,
            client_id: self.handle.id,
            nonce: self.nonce.clone(),
            cluster: server.peers().cluster_name().unwrap_or_default(),
            domain: opts.js_domain.clone().unwrap_or_default(),
            leafnode_urls: Some(listen.map(|a| vec![a.to_string()]).unwrap_or_default()),
            connect_info: bound.is_some(),
            remote_account: bound.unwrap_or_default().to_string(),
            info_on_connect: true,
            tls_required: self.leafs.acceptor.is_some(),
        };
        let json = serde_json::to_vec(&info).unwrap_or_default();
        let mut line = BytesMut::new();
        write::append_info(&mut line, &json);
        line.to_vec()
    }

    /// TLS when configured, as the reference does it: a hub writes its
    /// INFO in the clear, then takes the handshake; a leaf reads that
    /// INFO, then makes it. Returns the stream, bytes already read, and
    /// whether our INFO went out.
    async fn secure(
        &mut self,
        mut sock: TcpStream,
    ) -> Result<(Box<dyn Io>, BytesMut, bool), CloseReason> {
        use tokio::io::AsyncWriteExt;
        let tls_timeout = Duration::from_secs(2);
        match self.remote.clone() {
            None => {
                let Some(acceptor) = self.leafs.acceptor.clone() else {
                    return Ok((Box::new(sock), BytesMut::new(), false));
                };
                let info = self.info_line(None);
                sock.write_all(&info)
                    .await
                    .map_err(|_| CloseReason::WriteError)?;
                match tokio::time::timeout(tls_timeout, acceptor.accept(sock)).await {
                    Ok(Ok(tls)) => Ok((Box::new(tls), BytesMut::new(), true)),
                    _ => {
                        error!("{} - TLS handshake error", self.lid());
                        Err(CloseReason::TlsHandshakeFailure)
                    }
                }
            }
            Some((remote, url)) => {
                let Some(tls) = &remote.tls else {
                    return Ok((Box::new(sock), BytesMut::new(), false));
                };
                let config = tls.load_client().map_err(|e| {
                    error!("{} - {e}", self.lid());
                    CloseReason::TlsHandshakeFailure
                })?;
                // The hub's INFO comes in the clear, before the handshake.
                let mut initial = BytesMut::with_capacity(4096);
                let read = tokio::time::timeout(tls_timeout, async {
                    while memchr::memmem::find(&initial, b"\r\n").is_none() {
                        if initial.len() > MAX_INFO_LINE
                            || sock.read_buf(&mut initial).await.ok()? == 0
                        {
                            return None;
                        }
                    }
                    Some(())
                })
                .await;
                if !matches!(read, Ok(Some(()))) {
                    return Err(CloseReason::ReadError);
                }
                let host = url
                    .addr
                    .rsplit_once(':')
                    .map_or(url.addr.as_str(), |(h, _)| h);
                let name = rustls::pki_types::ServerName::try_from(host.to_string())
                    .map_err(|_| CloseReason::TlsHandshakeFailure)?;
                let connector = tokio_rustls::TlsConnector::from(config);
                match tokio::time::timeout(tls_timeout, connector.connect(name, sock)).await {
                    Ok(Ok(stream)) => Ok((Box::new(stream), initial, false)),
                    Ok(Err(e)) => {
                        error!("{} - TLS handshake error: {e}", self.lid());
                        self.wait = LONG_WAIT;
                        Err(CloseReason::TlsHandshakeFailure)
                    }
                    Err(_) => Err(CloseReason::TlsHandshakeFailure),
                }
            }
        }
    }

    async fn read_loop<R: tokio::io::AsyncRead + Unpin>(
        &mut self,
        mut rd: R,
        initial: BytesMut,
    ) -> CloseReason {
        let mut buf = initial;
        buf.reserve(READ_BUFFER);
        // Bytes read before the loop (the INFO ahead of a TLS handshake)
        // are parsed first.
        if let Some(reason) = self.parse_all(&mut buf) {
            return reason;
        }
        let handshake = tokio::time::sleep(HANDSHAKE_TIMEOUT);
        tokio::pin!(handshake);
        loop {
            link::reserve_read(&mut buf);
            tokio::select! {
                read = rd.read_buf(&mut buf) => match read {
                    Ok(0) => return CloseReason::ClientClosed,
                    Ok(_) => {}
                    Err(_) => return CloseReason::ReadError,
                },
                () = self.handle.closed() => {
                    return link::close_reason(&self.handle);
                }
                ping = self.live.due() => {
                    if ping == Ping::Stale {
                        debug!("{} - Stale Connection", self.lid());
                        return CloseReason::StaleConnection;
                    }
                    self.send(|b| b.extend_from_slice(write::PING));
                    continue;
                }
                () = &mut handshake, if self.registered.is_none() => {
                    debug!("{} - Leafnode handshake timed out", self.lid());
                    return CloseReason::AuthenticationTimeout;
                }
            }
            if let Some(reason) = self.parse_all(&mut buf) {
                return reason;
            }
        }
    }

    /// Handles every whole op in `buf`, then wakes the writers and counts
    /// the batch; a reason when the connection must close.
    fn parse_all(&mut self, buf: &mut BytesMut) -> Option<CloseReason> {
        loop {
            let (used, stop) = match proto::parse_leaf(buf) {
                Ok(Parsed::More) => break,
                Ok(Parsed::Op(op, used)) => (used, self.on_op(op)),
                Err(e) => {
                    error!("{} - Leafnode Error {}", self.lid(), e);
                    self.send_err(&e.0);
                    return Some(CloseReason::ProtocolError);
                }
            };
            buf.advance(used);
            if stop.is_some() {
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
        None
    }

    fn on_op(&mut self, op: RouteOp<'_>) -> Option<CloseReason> {
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
                let text = String::from_utf8_lossy(text).into_owned();
                error!("{} - Leafnode Error {}", self.lid(), text);
                if text.contains("Loop detected") || text.contains("same cluster name") {
                    self.wait = LONG_WAIT;
                }
                Some(CloseReason::ClientClosed)
            }
            RouteOp::Info(json) => self.on_info(json),
            RouteOp::Connect(json) => self.on_connect(json),
            RouteOp::Sub { subject, queue, .. } => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                if subject == self.leafs.lds.as_bytes() {
                    return Some(self.loop_detected());
                }
                self.remote_sub(subject, queue);
                None
            }
            RouteOp::Unsub { subject, queue, .. } => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.remote_unsub(subject, queue);
                None
            }
            RouteOp::Msg(msg) => {
                if self.registered.is_none() {
                    return Some(self.protocol_error());
                }
                self.in_msgs += 1;
                self.in_bytes += msg.message.len() as u64;
                let account = self.account.clone()?;
                if let Some(p) = &self.perms {
                    // deny_imports: nothing taken on those subjects.
                    if !p.may_subscribe(msg.subject, None) {
                        return None;
                    }
                }
                // Mappings apply to what a leaf sends as to a client's
                // publish (this server's JetStream domain among them).
                let mapped = account.map_subject(msg.subject);
                let subject = mapped.route(msg.subject)?;
                let sizes = Sizes::of(msg.header_len, msg.message.len());
                let frame = Frame::new(subject, msg.reply, msg.header_len, msg.message, &sizes);
                let result = self.cache.lookup(&account.router, subject);
                deliver_from_remote(
                    &account,
                    self.server.stats(),
                    &result,
                    &frame,
                    msg.queues(),
                    &self.handle,
                    !self.handle.is_hub(),
                    &mut self.flush,
                );
                None
            }
        }
    }

    /// Our own loop-detection subject came back: the leaf connections
    /// form a cycle. The reference's error, and a long pause.
    fn loop_detected(&mut self) -> CloseReason {
        let account = self.account.as_ref().map_or_else(
            || crate::account::GLOBAL_ACCOUNT.to_string(),
            |a| a.name.clone(),
        );
        let text = format!(
            "Loop detected for leafnode account={account:?}. Delaying attempt to reconnect for 30s"
        );
        error!("{} - {}", self.lid(), text);
        self.send_err(&text);
        self.wait = LONG_WAIT;
        CloseReason::ProtocolError
    }

    fn protocol_error(&self) -> CloseReason {
        self.send_err("Invalid Protocol");
        CloseReason::ProtocolError
    }

    /// The leaf's CONNECT, at the hub: authenticate, bind the account.
    fn on_connect(&mut self, json: &[u8]) -> Option<CloseReason> {
        if self.remote.is_some() || self.registered.is_some() {
            return Some(self.protocol_error());
        }
        let Ok(connect) = serde_json::from_slice::<LeafConnect>(json) else {
            return Some(self.protocol_error());
        };
        if connect.lang.is_some() {
            self.send_err("attempted to connect to leafnode port");
            return Some(CloseReason::ProtocolError);
        }
        let Some(account) = self.authorize(json, &connect) else {
            error!("{} - Leafnode Authorization Violation", self.lid());
            self.send_err("Authorization Violation");
            return Some(CloseReason::AuthenticationViolation);
        };
        if let Some(ours) = self.server.peers().cluster_name() {
            if !connect.cluster.is_empty() && connect.cluster == ours {
                self.send_err("remote leafnode has same cluster name");
                return Some(CloseReason::ProtocolError);
            }
        }
        let name = account.name.clone();
        self.send_info(Some(&name));
        info!("{} - Leafnode connection created ", self.lid());
        self.register(account, connect.name, false);
        None
    }

    /// The account a leaf's CONNECT signs in to, as the reference decides
    /// it: the `leafnodes { authorization }` user when there is one (bound
    /// to its `account`), else the server's own client users, NKeys and
    /// operator JWTs (the nonce in our INFO signed), each bound to its
    /// user's account; `None`: refused.
    fn authorize(
        &self,
        json: &[u8],
        connect: &LeafConnect,
    ) -> Option<Arc<crate::account::Account>> {
        let server = &self.server;
        if let Some(auth) = &self.leafs.opts.auth {
            let account = if auth.users.is_empty() {
                if connect.user != auth.user || connect.pass != auth.password {
                    return None;
                }
                auth.account.clone()
            } else {
                let user = auth
                    .users
                    .iter()
                    .find(|u| u.user == connect.user && u.password == connect.pass)?;
                user.account.clone().or_else(|| auth.account.clone())
            };
            let name = account.unwrap_or_else(|| crate::account::GLOBAL_ACCOUNT.to_string());
            return server.account(&name);
        }
        let opts = crate::proto::connect::ConnectOptions::parse(json).ok()?;
        let config = server.opts();
        let user = config.auth.check(&opts, &self.nonce).ok()?;
        crate::client::user_account(server, user.as_deref())
    }

    /// The hub's INFO, at the leaf: answer CONNECT, then start.
    fn on_info(&mut self, json: &[u8]) -> Option<CloseReason> {
        let Ok(info) = serde_json::from_slice::<LeafInfo>(json) else {
            return Some(self.protocol_error());
        };
        let Some((remote, url)) = self.remote.clone() else {
            // A hub takes no INFO from its leaf during the handshake.
            return None;
        };
        if self.registered.is_some() {
            return None;
        }
        if info.client_id == 0 || info.leafnode_urls.is_none() {
            error!("{} - attempted to connect to wrong port", self.lid());
            self.wait = LONG_WAIT;
            return Some(CloseReason::ProtocolError);
        }
        if info.tls_required && remote.tls.is_none() {
            // The reference falls back to the system's roots here; tern
            // checks a hub only against the `ca_file` it is given.
            error!(
                "{} - Leafnode hub requires TLS: give the remote a tls block with ca_file",
                self.lid()
            );
            self.wait = LONG_WAIT;
            return Some(CloseReason::TlsHandshakeFailure);
        }
        if info.server_id == self.server.id() {
            error!("{} - Leafnode loop to this server", self.lid());
            self.wait = LONG_WAIT;
            return Some(CloseReason::ProtocolError);
        }
        let opts = self.server.opts();
        let account_name = remote
            .account
            .clone()
            .unwrap_or_else(|| crate::account::GLOBAL_ACCOUNT.to_string());
        let Some(account) = self.server.account(&account_name) else {
            error!(
                "{} - No local account {account_name:?} for leafnode",
                self.lid()
            );
            self.wait = LONG_WAIT;
            return Some(CloseReason::ProtocolError);
        };
        let (user, pass) = url.user.clone().unwrap_or_default();
        // Credentials: the JWT, and the hub's nonce signed with the seed.
        let (jwt, sig) = match &remote.credentials {
            Some(path) => {
                let creds = std::fs::read_to_string(path)
                    .map_err(|e| e.to_string())
                    .and_then(|t| crate::jwt::read_creds(&t).map_err(|e| e.to_string()));
                match creds {
                    Ok((jwt, seed)) => (jwt, seed.sign(info.nonce.as_bytes())),
                    Err(e) => {
                        error!("{} - Error reading credentials {:?}: {e}", self.lid(), path);
                        self.wait = LONG_WAIT;
                        return Some(CloseReason::AuthenticationViolation);
                    }
                }
            }
            None => (String::new(), String::new()),
        };
        let connect = LeafConnect {
            jwt,
            sig,
            version: crate::config::options::NATS_VERSION.to_string(),
            user,
            pass,
            server_id: self.server.id().to_string(),
            domain: opts.js_domain.clone().unwrap_or_default(),
            name: self.server.name().to_string(),
            hub: false,
            cluster: self
                .server
                .peers()
                .cluster_name()
                .unwrap_or_else(|| self.server.name().to_string()),
            headers: true,
            jetstream: opts.jetstream,
            deny_pub: remote.deny_imports.clone(),
            remote_account: account_name.clone(),
            protocol: 1,
            lang: None,
        };
        let json = serde_json::to_vec(&connect).unwrap_or_default();
        self.send(|b| {
            b.extend_from_slice(b"CONNECT ");
            b.extend_from_slice(&json);
            b.extend_from_slice(b"\r\n");
        });
        if !info.domain.is_empty() || opts.js_domain.is_some() {
            info!(
                "{} - JetStream using domains: local {:?}, remote {:?}",
                self.lid(),
                opts.js_domain.clone().unwrap_or_default(),
                info.domain
            );
        }
        info!(
            "{} - Leafnode connection created for account: {} ",
            self.lid(),
            account_name
        );
        self.register(account, info.server_name, true);
        None
    }

    /// The connection stands: watch the account's interest and send it.
    fn register(&mut self, account: Arc<Account>, remote_name: String, is_spoke: bool) {
        let peer = Arc::new(LeafPeer {
            handle: self.handle.clone(),
            remote_name,
            is_spoke,
            account: account.name.clone(),
            peer: self.peer,
            in_msgs: Default::default(),
            in_bytes: Default::default(),
            subscriptions: Default::default(),
        });
        self.server.peers().add_leaf(peer.clone());
        self.registered = Some(peer);
        let deny = self.perms.clone();
        let watcher = Arc::new(LeafInterest::new(
            self.handle.clone(),
            self.handle.is_hub(),
            deny,
        ));
        let out = self.handle.outbound();
        let w = watcher.clone();
        account.router.watch_subs(watcher.clone(), |sub| {
            if let (Some(line), Some(out)) = (w.line(sub, true), out) {
                out.append_with(|b| b.extend_from_slice(&line));
            }
        });
        // Loop detection: this server's own subject, relayed by others.
        if let Some(out) = out {
            let lds = interest_line(true, self.leafs.lds.as_bytes(), None, 1);
            out.append_with(|b| b.extend_from_slice(&lds));
        }
        // This server's JetStream, reached by its domain from the other
        // side: `$JS.<domain>.API.>` arrives here and is mapped.
        if let Some(domain) = &self.server.opts().js_domain {
            if self.server.opts().jetstream
                && Some(account.name.as_str()) != self.server.system_account_name()
            {
                let subject = format!("$JS.{domain}.API.>");
                if let Some(out) = out {
                    out.append_with(|b| {
                        b.extend_from_slice(&interest_line(true, subject.as_bytes(), None, 1))
                    });
                }
            }
        }
        if let Some(out) = out {
            out.send_now(|_| {});
        }
        self.watcher = Some(watcher);
        self.account = Some(account);
    }

    fn remote_sub(&mut self, subject: &[u8], queue: Option<&[u8]>) {
        let Some(account) = self.account.clone() else {
            return;
        };
        if let Some(p) = &self.perms {
            // deny_exports: what we send the hub nothing on.
            if !p.may_publish(subject) {
                return;
            }
        }
        let key = (
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
        );
        if self.subs.contains_key(&key) {
            return;
        }
        let sub = Arc::new(Subscription::new(
            self.handle.clone(),
            Bytes::new(),
            key.0.clone(),
            key.1.clone(),
        ));
        account.router.insert(sub.clone());
        if let Some(peer) = &self.registered {
            peer.subscriptions.fetch_add(1, Ordering::Relaxed);
        }
        self.subs.insert(key, sub);
    }

    fn remote_unsub(&mut self, subject: &[u8], queue: Option<&[u8]>) {
        let key = (
            Bytes::copy_from_slice(subject),
            queue.map(Bytes::copy_from_slice),
        );
        let Some(sub) = self.subs.remove(&key) else {
            return;
        };
        sub.close();
        if let Some(account) = &self.account {
            account.router.remove(&sub);
        }
        if let Some(peer) = &self.registered {
            peer.subscriptions.fetch_sub(1, Ordering::Relaxed);
        }
    }

    fn close(&mut self, reason: CloseReason) {
        if let (Some(account), Some(w)) = (&self.account, &self.watcher) {
            account.router.unwatch_subs(w);
        }
        let subs: Vec<_> = self.subs.drain().map(|(_, s)| s).collect();
        for s in &subs {
            s.close();
        }
        if let Some(account) = &self.account {
            account.router.remove_all(&subs);
        }
        if let Some(peer) = self.registered.take() {
            self.server.peers().remove_leaf(self.handle.id);
            info!(
                "{} - Leafnode connection closed: {} - Remote: {}",
                self.lid(),
                reason,
                peer.remote_name
            );
        } else {
            debug!("{} - Leafnode connection closed: {}", self.lid(), reason);
        }
    }
}
