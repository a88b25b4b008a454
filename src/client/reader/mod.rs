//! The reader task of a socket connection: read into one buffer, parse every
//! op in it, route publishes, then wake each noted writer once. Server PINGs
//! and the stale-connection check run here too.

mod sign_in;

pub(crate) use sign_in::user_account;

use std::collections::HashMap;
use std::net::SocketAddr;
use std::sync::Arc;
use std::time::Duration;

use bytes::{Buf, Bytes, BytesMut};
use tokio::io::{AsyncRead, AsyncReadExt, AsyncWrite};
use tokio::time::Instant;
use tracing::{debug, error, trace};

use super::writer::run_writer;
use crate::account::Account;
use crate::auth::claimed_identity;
use crate::client::CookieCredentials;
use crate::deliver::{deliver_all, deliver_one};
use crate::handle::{Appended, CloseReason, FlushSet, Handle};
use crate::mapping::Mapped;
use crate::permissions::{Permissions, PublishCache};
use crate::proto::connect::{ConnectError, ConnectOptions};
use crate::proto::parse::{Limits, Op, ParseError, Parser};
use crate::proto::write::{self, Frame, Sizes};
use crate::router::{AfterDelivery, LocalCache, Subscription};
use crate::server::Connection;
use crate::server::Server;
use crate::stats::Stats;
use tern_jetstream::subject;

/// Requests of the system account's services.
const SYS_REQ: &[u8] = b"$SYS.REQ.";

/// Read buffer bounds: start small so idle connections cost little, grow
/// while reads fill it.
const READ_BUFFER_MIN: usize = 512;
const READ_BUFFER_MAX: usize = 64 * 1024;
/// The reference sends its first PING about 2 s after connect.
const FIRST_PING_DELAY: Duration = Duration::from_secs(2);

/// How a connection starts: whether its INFO is still to be sent (not when
/// it went out in plaintext before a TLS handshake), the nonce it carries
/// for NKey users to sign, and the client's TLS certificate (DER), which
/// may name the user (`verify_and_map`).
pub struct Greeting {
    pub send_info: bool,
    pub nonce: Option<String>,
    pub client_cert: Option<Vec<u8>>,
    /// A WebSocket client's credentials from its upgrade's cookies.
    pub cookies: Option<CookieCredentials>,
}

/// Runs a socket connection until it closes: spawns the writer on the
/// write half, reads here. Halves are passed apart so a plain TCP stream
/// splits without a lock (TLS streams split with one).
pub async fn run_connection<R, W>(
    server: Arc<Server>,
    conn_entry: Arc<Connection>,
    (rd, wr): (R, W),
    peer: SocketAddr,
    client_ip: String,
    greeting: Greeting,
) where
    R: AsyncRead + Unpin + Send + 'static,
    W: AsyncWrite + Unpin + Send + 'static,
{
    let write_deadline = server.opts().write_deadline;
    let handle = conn_entry.handle.clone();
    let writer = tokio::spawn(run_writer(
        conn_entry.clone(),
        wr,
        server.shared_stats(),
        write_deadline,
    ));
    let mut conn = Conn::new(
        server.clone(),
        conn_entry.clone(),
        peer,
        client_ip,
        greeting.nonce,
    );
    conn.client_cert = greeting.client_cert;
    conn.cookies = greeting.cookies;
    if greeting.send_info {
        conn.send_info();
        conn.flush.flush();
    }
    let reason = conn.read_loop(rd).await;
    let subs = if server.keeps_closed_connections() {
        conn.subs_snapshot()
    } else {
        Vec::new()
    };
    conn.unsubscribe_all();
    handle.close(reason);
    let _ = writer.await;
    super::connection_closed(&server, &conn_entry, peer, reason, subs);
}

/// Per-connection state owned by the reader task.
struct Conn {
    server: Arc<Server>,
    /// The server's counters (slow consumers found while delivering).
    stats: Arc<Stats>,
    /// This connection in the registry (its account binding).
    entry: Arc<Connection>,
    /// What the router delivers to for this connection.
    handle: Arc<Handle>,
    peer: SocketAddr,
    client_ip: String,
    opts: ConnectOptions,
    connected: bool,
    /// Sent the INFO that follows the first PONG.
    sent_connect_info: bool,
    subs: HashMap<Bytes, Arc<Subscription>>,
    parser: Parser,
    cache: LocalCache,
    flush: FlushSet,
    pings_out: u32,
    /// When the next server PING is due.
    ping_due: Instant,
    /// Answered a client PING: from then on, recent reads make a server
    /// PING unnecessary (as in the reference).
    sent_pong: bool,
    /// A PONG answered one of our PINGs: the round trip is known. Until
    /// then the ping timer sends its PING even to an active client, as the
    /// reference does to measure it.
    rtt_measured: bool,
    /// When our outstanding PING went out (the round trip's start).
    ping_sent: Option<Instant>,
    /// The connect event went out (at the first sign-in).
    announced: bool,
    /// `-V`: trace every op.
    trace: bool,
    /// Bytes arrived since the last ping timer tick.
    read_since_tick: bool,
    in_msgs: u64,
    in_bytes: u64,
    /// The signed-in user as log lines name it (`User "x"`, `Nkey "U.."`).
    user: Option<String>,
    /// What this connection's INFO asked NKey users to sign.
    nonce: Option<String>,
    /// The client's TLS certificate (DER), when it presented one.
    client_cert: Option<Vec<u8>>,
    /// A WebSocket client's cookie credentials (see `Greeting`).
    cookies: Option<CookieCredentials>,
    /// What the signed-in user may do; `None`: anything.
    perms: Option<Arc<Permissions>>,
    /// The account signed in to (the handle's, kept here for the hot path).
    account: Arc<Account>,
    /// At most this many subscriptions (0: no limit): the server's, or
    /// the user's when lower.
    max_subs: usize,
    /// The largest payload accepted: the server's, or the user's when
    /// lower.
    max_payload: usize,
    /// Close once the current read batch is processed.
    close_after_batch: Option<CloseReason>,
    pub_verdicts: PublishCache,
}

/// The connection must close, for this reason.
struct Close(CloseReason);

impl Conn {
    fn new(
        server: Arc<Server>,
        entry: Arc<Connection>,
        peer: SocketAddr,
        client_ip: String,
        nonce: Option<String>,
    ) -> Self {
        let o = server.opts();
        let now = Instant::now();
        let limits = Limits {
            max_control_line: o.max_control_line,
            max_payload: o.max_payload,
        };
        Conn {
            parser: Parser::new(limits),
            opts: ConnectOptions::default(),
            connected: false,
            sent_connect_info: false,
            subs: HashMap::new(),
            cache: LocalCache::default(),
            flush: FlushSet::stalling(),
            pings_out: 0,
            // Until CONNECT, the timer is the auth timeout when clients
            // must authenticate (see `ping_timer_fired`).
            ping_due: now
                + if o.client_auth(entry.handle.is_websocket()).required() {
                    o.client_auth_timeout(entry.handle.is_websocket())
                } else {
                    o.ping_interval
                },
            sent_pong: false,
            rtt_measured: false,
            ping_sent: None,
            announced: false,
            read_since_tick: false,
            trace: o.trace,
            in_msgs: 0,
            in_bytes: 0,
            user: None,
            nonce,
            client_cert: None,
            cookies: None,
            perms: None,
            account: entry.account().clone(),
            max_subs: o.max_subscriptions,
            max_payload: o.max_payload,
            close_after_batch: None,
            pub_verdicts: PublishCache::default(),
            stats: server.shared_stats(),
            server,
            handle: entry.handle.clone(),
            entry,
            peer,
            client_ip,
        }
    }

    async fn read_loop<R: AsyncRead + Unpin>(&mut self, mut rd: R) -> CloseReason {
        let mut buf = ReadBuffer::new();
        // One timer for the connection's life, moved only when the due time
        // changes: registering a timer per read would cost more than a read.
        let ping_timer = tokio::time::sleep_until(self.ping_due);
        tokio::pin!(ping_timer);
        loop {
            buf.make_room(self.parser.frame_len());
            if ping_timer.deadline() != self.ping_due {
                ping_timer.as_mut().reset(self.ping_due);
            }
            tokio::select! {
                () = self.handle.closed() => {
                    if let Some(reason) = self.handle.outbound().and_then(|o| o.close_reason()) {
                        return reason;
                    }
                    // Neither a close nor a re-check: the wake-up a second
                    // reload stored after the first was handled.
                    if !self.handle.take_reauthorize() {
                        continue;
                    }
                    let result = self.reauthorize();
                    self.flush.flush();
                    if let Err(Close(reason)) = result {
                        return reason;
                    }
                }
                read = rd.read_buf(&mut buf.bytes) => {
                    match read {
                        Ok(0) => return CloseReason::ClientClosed,
                        Err(_) => return CloseReason::ReadError,
                        Ok(n) => buf.after_read(n),
                    }
                    self.read_since_tick = true;
                    // Services reached through the router (the JetStream
                    // API's audit) learn who published: set once a batch.
                    let result = crate::js_audit::with_publisher(self.handle.id, || {
                        self.process(&mut buf.bytes)
                    });
                    self.flush.flush();
                    self.count_inbound();
                    if let Err(Close(reason)) = result {
                        return reason;
                    }
                    if self.flush.is_behind() {
                        let stalls = self.flush.stall().await;
                        self.stats.stalls.fetch_add(stalls, std::sync::atomic::Ordering::Relaxed);
                    }
                    if let Some(reason) = self.close_after_batch.take() {
                        return reason;
                    }
                    buf.shrink_if_idle();
                }
                () = &mut ping_timer => {
                    if let Err(Close(reason)) = self.ping_timer_fired() {
                        return reason;
                    }
                }
            }
        }
    }

    /// Adds the batch's messages to the server's, the account's and the
    /// connection's counts: once per read batch, not per message.
    fn count_inbound(&mut self) {
        let (msgs, bytes) = (
            std::mem::take(&mut self.in_msgs),
            std::mem::take(&mut self.in_bytes),
        );
        if msgs == 0 {
            return;
        }
        self.server.count_inbound(msgs, bytes);
        self.account.count_inbound(msgs, bytes);
        if let Some(info) = self.handle.conn_info() {
            info.count_inbound(msgs, bytes);
        }
    }

    fn ping_timer_fired(&mut self) -> Result<(), Close> {
        let o = self.server.opts();
        if !self.connected && o.client_auth(self.handle.is_websocket()).required() {
            self.log_error("Authentication Timeout");
            self.send_err("Authentication Timeout");
            self.flush.flush();
            return Err(Close(CloseReason::AuthenticationTimeout));
        }
        let (interval, ping_max) = (o.ping_interval, o.ping_max);
        let now = Instant::now();
        self.ping_due = now + interval;
        let active = std::mem::take(&mut self.read_since_tick);
        if self.sent_pong && active && self.rtt_measured {
            return Ok(());
        }
        debug!("{} - cid:{} - Client Ping Timer", self.peer, self.handle.id);
        if self.pings_out + 1 > ping_max {
            debug!(
                "{} - cid:{} - Stale Client Connection - Closing",
                self.peer, self.handle.id
            );
            self.send_err("Stale Connection");
            self.flush.flush();
            return Err(Close(CloseReason::StaleConnection));
        }
        self.pings_out += 1;
        // The round trip runs from the oldest PING still unanswered.
        self.ping_sent.get_or_insert(now);
        self.send(write::PING);
        self.flush.flush();
        Ok(())
    }

    /// Handles every complete op in `buf` and drops their bytes.
    fn process(&mut self, buf: &mut BytesMut) -> Result<(), Close> {
        let mut pos = 0;
        let result = loop {
            match self.parser.next(&buf[pos..]) {
                Ok(Some((op, used))) => {
                    pos += used;
                    if let Err(close) = self.handle_op(op) {
                        break Err(close);
                    }
                }
                Ok(None) => break Ok(()),
                Err(e) => break Err(self.parse_error(e)),
            }
        };
        buf.advance(pos);
        result
    }

    fn parse_error(&mut self, e: ParseError) -> Close {
        if e != ParseError::HeadersNotSupported {
            self.log_error(&format!("Client parser ERROR: {e:?}"));
        }
        match e {
            ParseError::UnknownOp => self.send_err("Unknown Protocol Operation"),
            ParseError::ControlLineTooLong => self.send_err("maximum control line exceeded"),
            ParseError::MaxPayload => self.send_err("Maximum Payload Violation"),
            ParseError::BadArgs => {}
            ParseError::HeadersNotSupported => self.log_error("message headers not supported"),
        }
        Close(CloseReason::ProtocolError)
    }

    fn handle_op(&mut self, op: Op<'_>) -> Result<(), Close> {
        if self.trace {
            self.trace_op(&op);
        }
        if !self.connected && !matches!(op, Op::Connect(_)) {
            self.before_connect()?;
        }
        match op {
            Op::Connect(json) => self.connect(json)?,
            Op::Pub {
                subject,
                reply,
                size,
                payload,
            } => self.publish(&Frame::from_client(subject, reply, None, size, payload)),
            Op::Hpub {
                subject,
                reply,
                message,
                header_len,
                header_size,
                total_size,
            } => {
                let header = Some((header_len, header_size));
                self.publish(&Frame::from_client(
                    subject, reply, header, total_size, message,
                ));
            }
            Op::Sub {
                subject,
                queue,
                sid,
            } => self.subscribe(subject, queue, sid),
            Op::Unsub { sid, max } => self.unsubscribe(sid, max),
            Op::Ping => self.ping(),
            Op::Pong => {
                if self.pings_out > 0 {
                    self.rtt_measured = true;
                }
                if let (Some(sent), Some(info)) = (self.ping_sent.take(), self.handle.conn_info()) {
                    info.set_rtt(sent.elapsed());
                }
                self.pings_out = 0;
            }
            Op::Ok | Op::Info => {}
            Op::Err => {
                self.log_error("Client Error");
                return Err(Close(CloseReason::ProtocolError));
            }
        }
        Ok(())
    }

    /// `-V` protocol tracing in the reference's form.
    fn trace_op(&self, op: &Op<'_>) {
        let text = |b: &[u8]| String::from_utf8_lossy(b).into_owned();
        let opt = |b: Option<&[u8]>| b.map(|r| format!(" {}", text(r))).unwrap_or_default();
        let (line, payload) = match op {
            Op::Connect(json) => (format!("CONNECT {}", text(json)), None),
            Op::Pub {
                subject,
                reply,
                size,
                payload,
            } => (
                format!("PUB {}{} {}", text(subject), opt(*reply), text(size)),
                Some(*payload),
            ),
            Op::Hpub {
                subject,
                reply,
                header_size,
                total_size,
                message,
                ..
            } => (
                format!(
                    "HPUB {}{} {} {}",
                    text(subject),
                    opt(*reply),
                    text(header_size),
                    text(total_size)
                ),
                Some(*message),
            ),
            Op::Sub {
                subject,
                queue,
                sid,
            } => (
                format!("SUB {}{} {}", text(subject), opt(*queue), text(sid)),
                None,
            ),
            Op::Unsub { sid, max } => (
                format!(
                    "UNSUB {}{}",
                    text(sid),
                    max.map(|m| format!(" {m}")).unwrap_or_default()
                ),
                None,
            ),
            Op::Ping => ("PING".to_string(), None),
            Op::Pong => ("PONG".to_string(), None),
            Op::Ok | Op::Info | Op::Err => return,
        };
        trace!("{} - cid:{} - <<- [{line}]", self.peer, self.handle.id);
        if let Some(p) = payload {
            trace!(
                "{} - cid:{} - <<- MSG_PAYLOAD: [{:?}]",
                self.peer,
                self.handle.id,
                text(p)
            );
        }
    }

    /// The user `opts`' credentials sign in as under `config` (`None`:
    /// no users configured), or why not. `warn`: log a user name given
    /// beside a certificate that must name the user.
    fn check_credentials<'c>(
        &self,
        config: &'c crate::config::options::Options,
        opts: &ConnectOptions,
        warn: bool,
    ) -> Result<Option<std::borrow::Cow<'c, crate::auth::User>>, crate::auth::AuthError> {
        if let std::borrow::Cow::Owned(auth) = config.client_auth(self.handle.is_websocket()) {
            // The websocket block's own: users it adds live here only.
            return auth
                .check(opts, self.nonce.as_deref().unwrap_or(""))
                .map(|u| u.map(|u| std::borrow::Cow::Owned(u.into_owned())));
        }
        let auth = &config.auth;
        let mapped = config
            .tls
            .as_ref()
            .is_some_and(|t| t.map_users && !auth.users.is_empty());
        match (&self.client_cert, mapped) {
            (Some(der), true) => {
                let names = crate::cert::CertNames::of(der);
                if warn && !opts.user.is_empty() {
                    tracing::warn!(
                        "User {:?} found in connect proto, but user required from cert",
                        opts.user
                    );
                }
                auth.check_cert(&names, opts)
                    .map(|u| Some(std::borrow::Cow::Borrowed(u)))
            }
            _ => auth.check(opts, self.nonce.as_deref().unwrap_or("")),
        }
    }

    fn connect(&mut self, json: &[u8]) -> Result<(), Close> {
        match ConnectOptions::parse(json) {
            Ok(mut opts) => {
                if let Some(cookies) = &self.cookies {
                    cookies.fill(&mut opts);
                }
                let server = self.server.clone();
                let config = server.opts();
                // Who the client says it is, before the check: a refusal's
                // events name it too.
                let first = !self.connected;
                if let Some(info) = self.handle.conn_info() {
                    info.update(|d| {
                        d.name.clone_from(&opts.name);
                        d.lang.clone_from(&opts.lang);
                        d.version.clone_from(&opts.version);
                        d.jwt.clone_from(&opts.jwt);
                        d.user = if !opts.nkey.is_empty() {
                            opts.nkey.clone()
                        } else if !opts.user.is_empty() {
                            opts.user.clone()
                        } else if !opts.auth_token.is_empty() {
                            "[REDACTED]".into()
                        } else {
                            String::new()
                        };
                    });
                    if first {
                        info.set_rtt(
                            std::time::SystemTime::now()
                                .duration_since(info.start)
                                .unwrap_or_default(),
                        );
                    }
                }
                let checked = self.check_credentials(&config, &opts, true);
                match checked {
                    Ok(user) => {
                        self.sign_in(&server, user.as_deref(), claimed_identity(&opts))?;
                    }
                    Err(e) => {
                        debug!("{} - cid:{} - refused: {e:?}", self.peer, self.handle.id);
                        let claimed = claimed_identity(&opts);
                        return Err(self.auth_violation(claimed.as_deref()));
                    }
                }
                self.opts = opts;
                // A server without header support never negotiates them.
                self.opts.headers &= !self.server.opts().no_header_support;
                self.parser.set_headers(self.opts.headers);
                self.handle.set_headers(self.opts.headers);
                self.connected = true;
                self.handle.set_async_info(self.opts.protocol >= 1);
                if first {
                    self.ping_due =
                        Instant::now() + first_ping_delay(self.server.opts().ping_interval);
                }
                self.ok();
                Ok(())
            }
            Err(ConnectError::BadJson) => {
                self.log_error("invalid CONNECT JSON");
                Err(Close(CloseReason::ProtocolError))
            }
            Err(ConnectError::InvalidProtocol) => {
                self.send_err("invalid client protocol");
                Err(Close(CloseReason::ProtocolError))
            }
            Err(ConnectError::NoRespondersWithoutHeaders) => {
                self.send_err("no responders requires headers support");
                Err(Close(CloseReason::ProtocolError))
            }
        }
    }

    fn ping(&mut self) {
        self.send(write::PONG);
        self.sent_pong = true;
        if self.connected && !self.sent_connect_info && self.opts.protocol >= 1 {
            self.sent_connect_info = true;
            let mut info = self.server.info(
                self.handle.id,
                Some(&self.client_ip),
                Some(&self.account.name),
                None,
            );
            info.max_payload = self.max_payload;
            let info = info.to_json();
            self.send_with(|b| write::append_info(b, &info));
        }
    }

    /// Routes one message: every plain match, one member per queue group.
    fn publish(&mut self, frame: &Frame<'_>) {
        self.in_msgs += 1;
        self.in_bytes += frame.message.len() as u64;
        // The reference reports a bad subject to a pedantic client and still
        // routes what matches (a wildcard subject matches wildcard subs).
        if self.opts.pedantic && !subject::is_valid_literal_subject(frame.subject) {
            self.send_err("Invalid Publish Subject");
        }
        if let Some(perms) = &self.perms {
            if !self.pub_verdicts.may_publish(perms, frame.subject)
                && !self
                    .handle
                    .responses()
                    .is_some_and(|open| open.take(frame.subject))
            {
                self.publish_violation(frame.subject);
                return;
            }
        }
        // The reference acknowledges before it delivers, so a verbose
        // client subscribed to its own subject sees +OK first.
        self.ok();
        // Mappings apply after the permission check, before routing.
        let mapped = self.account.map_subject(frame.subject);
        let Some(subject) = mapped.route(frame.subject) else {
            return;
        };
        let remapped;
        let frame = if matches!(mapped, Mapped::Keep) {
            frame
        } else {
            remapped = frame.with_subject(subject);
            &remapped
        };
        // The system account's services imported into every account
        // (user info, the account's own statz and connz): answered here,
        // where the user and its account are known.
        if frame.subject.starts_with(SYS_REQ) {
            if let Some(reply) = frame.reply {
                if self.system_import(frame, reply) {
                    return;
                }
            }
        }
        let result = self.cache.lookup(&self.account.router, frame.subject);
        let skip = (!self.opts.echo).then_some(self.handle.id);
        let delivered = deliver_all(
            &self.account,
            &self.stats,
            &result,
            frame,
            skip,
            &mut self.flush,
        );
        if !delivered {
            if let Some(reply) = frame.reply {
                self.no_responders(frame.subject, reply);
            }
        }
    }

    /// The 503 status to the publisher's own subscription on the reply
    /// subject, when it asked for it.
    fn no_responders(&mut self, subj: &[u8], reply: &[u8]) {
        if !(self.opts.no_responders && self.opts.headers) {
            return;
        }
        let Some(sub) = self
            .subs
            .values()
            .find(|s| !s.is_closed() && subject::matches(&s.subject, reply))
            .cloned()
        else {
            return;
        };
        let headers = write::no_responders_headers(subj);
        let sizes = Sizes::of(Some(headers.len()), headers.len());
        let frame = Frame::new(reply, None, Some(headers.len()), &headers, &sizes);
        deliver_one(
            &self.account,
            &self.stats,
            &sub,
            &frame,
            None,
            &mut self.flush,
        );
    }

    fn subscribe(&mut self, subj: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        if !subject::is_valid_subject(subj) || !queue.is_none_or(subject::is_valid_queue) {
            self.send_err("Invalid Subject");
            return;
        }
        if let Some(perms) = &self.perms {
            if !perms.may_subscribe(subj, queue) {
                self.subscribe_violation(subj, queue, sid);
                return;
            }
        }
        if let Some(existing) = self.subs.get(sid) {
            if !existing.is_closed() {
                // The reference keeps the first subscription of a sid.
                self.ok();
                return;
            }
        }
        let max_subs = self.max_subs;
        if max_subs > 0 && self.live_subs() >= max_subs {
            self.send_err("maximum subscriptions exceeded");
            return;
        }
        let sid = Bytes::copy_from_slice(sid);
        let mut sub = Subscription::new(
            self.handle.clone(),
            sid.clone(),
            Bytes::copy_from_slice(subj),
            queue.map(Bytes::copy_from_slice),
        );
        if let Some(perms) = &self.perms {
            sub = sub.with_deny_filter(perms);
        }
        let sub = Arc::new(sub);
        self.account.router.insert(sub.clone());
        if let Some(info) = self.handle.conn_info() {
            info.subscription_added();
        }
        self.subs.insert(sid, sub);
        self.ok();
    }

    fn live_subs(&mut self) -> usize {
        self.subs.retain(|_, s| !s.is_closed());
        self.subs.len()
    }

    fn unsubscribe(&mut self, sid: &[u8], max: Option<u64>) {
        if let Some(sub) = self.subs.get(sid).cloned() {
            let remove_now = match max {
                Some(max) if max > 0 => sub.set_max(max) == AfterDelivery::Remove,
                _ => true,
            };
            if remove_now {
                self.subs.remove(sid);
                if sub.close() {
                    self.account.router.remove(&sub);
                }
            }
        }
        self.ok();
    }

    /// The live subscriptions, for the closed-connection ring.
    fn subs_snapshot(&self) -> Vec<crate::handle::conn_info::SubSnapshot> {
        let mut subs: Vec<_> = self
            .subs
            .values()
            .filter(|s| !s.is_closed())
            .map(|s| crate::router::sub_snapshot(s))
            .collect();
        subs.sort_by(|a, b| a.sid.cmp(&b.sid));
        subs
    }

    fn unsubscribe_all(&mut self) {
        let subs: Vec<_> = self
            .subs
            .drain()
            .map(|(_, s)| s)
            .filter(|s| s.close())
            .collect();
        self.account.router.remove_all(&subs);
    }

    fn send_info(&mut self) {
        let info = if self.handle.is_websocket() {
            self.server
                .websocket_info(
                    self.handle.id,
                    Some(&self.client_ip),
                    None,
                    self.nonce.as_deref(),
                )
                .to_json()
        } else {
            self.server.info_json(
                self.handle.id,
                Some(&self.client_ip),
                None,
                self.nonce.as_deref(),
            )
        };
        self.send_with(|b| write::append_info(b, &info));
    }

    fn ok(&mut self) {
        if self.opts.verbose {
            self.send(write::OK);
        }
    }

    fn log_error(&self, text: &str) {
        error!("{} - cid:{} - {text}", self.peer, self.handle.id);
    }

    fn send_err(&mut self, text: &str) {
        self.send_with(|b| write::append_err(b, text));
    }

    fn send(&mut self, bytes: &[u8]) {
        self.send_with(|b| b.extend_from_slice(bytes));
    }

    fn send_with(&mut self, write: impl FnOnce(&mut BytesMut)) {
        if let Some(out) = self.handle.outbound() {
            if out.append_with(write) == Appended::Marked {
                self.flush.note(self.handle.clone());
            }
        }
    }
}

/// The first server PING follows CONNECT by about 2 s plus up to 20 %
/// jitter, as with the reference, unless the interval is shorter.
fn first_ping_delay(interval: Duration) -> Duration {
    let base = FIRST_PING_DELAY.min(interval);
    let jitter = u64::from(crate::ids::random_bytes::<1>()[0]) * 20 / 255;
    base + base * u32::try_from(jitter).unwrap_or(0) / 100
}

/// The read buffer: it starts small so idle connections cost little,
/// doubles while reads fill it, and drops back once traffic stops.
struct ReadBuffer {
    bytes: BytesMut,
    /// How much room the next read gets.
    read_size: usize,
    /// Consecutive reads that used less than half of their room.
    short_reads: u8,
}

impl ReadBuffer {
    fn new() -> Self {
        ReadBuffer {
            bytes: BytesMut::with_capacity(READ_BUFFER_MIN),
            read_size: READ_BUFFER_MIN,
            short_reads: 0,
        }
    }

    /// Room for a whole pending frame, and at least `read_size` more.
    fn make_room(&mut self, frame_len: usize) {
        let want = frame_len
            .saturating_sub(self.bytes.len())
            .max(self.read_size);
        if self.bytes.capacity() - self.bytes.len() < want {
            self.bytes.reserve(want);
        }
    }

    fn after_read(&mut self, n: usize) {
        if n >= self.read_size {
            self.read_size = (self.read_size * 2).min(READ_BUFFER_MAX);
            self.short_reads = 0;
        } else if n < self.read_size / 2 {
            self.short_reads = self.short_reads.saturating_add(1);
            if self.short_reads > 2 {
                self.read_size = (self.read_size / 2).max(READ_BUFFER_MIN);
                self.short_reads = 0;
            }
        }
    }

    /// Gives a large allocation back once the buffer is drained and reads
    /// have become small.
    fn shrink_if_idle(&mut self) {
        if self.bytes.is_empty()
            && self.read_size == READ_BUFFER_MIN
            && self.bytes.capacity() > 4 * READ_BUFFER_MIN
        {
            self.bytes = BytesMut::with_capacity(READ_BUFFER_MIN);
        }
    }
}
