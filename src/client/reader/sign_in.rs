//! Who the client is and what it may do: signing in (credentials, the
//! no-auth user, the account, the user's limits), refusals, and the
//! permission violations, as the reference words and logs them.

use std::sync::Arc;

use tokio::time::Instant;

use super::{first_ping_delay, Close, Conn};
use crate::auth::User;
use crate::handle::CloseReason;
use crate::permissions::PublishCache;
use crate::proto::parse::Limits;
use crate::rate_limit::error_limited;
use crate::router::LocalCache;
use crate::server::Server;

/// The account `user` signs in to: an operator-mode account comes into
/// being (with its JetStream) as its first user arrives, a configured one
/// is found by name (`None` when there is none by that name), and no user
/// or no account named means `$G`.
pub(crate) fn user_account(
    server: &Arc<Server>,
    user: Option<&crate::auth::User>,
) -> Option<Arc<crate::account::Account>> {
    let Some((user, name)) = user.and_then(|u| u.account.as_deref().map(|a| (u, a))) else {
        return Some(server.global_account().clone());
    };
    if user.from_jwt {
        let (account, created) = server.account_or_create(name);
        if created {
            crate::jetstream::attach_late(server, &account, user.account_jetstream.as_ref());
        }
        return Some(account);
    }
    server.account(name)
}

impl Conn {
    /// An op other than CONNECT came first: fine without auth; with it,
    /// only when a no-auth user is configured (the client is taken to be
    /// that user), else the reference's violation.
    pub(super) fn before_connect(&mut self) -> Result<(), Close> {
        let server = self.server.clone();
        let o = server.opts();
        let auth = o.client_auth(self.handle.is_websocket());
        if !auth.required() {
            return Ok(());
        }
        if let Some(user) = auth.no_auth_user().cloned() {
            self.ping_due = Instant::now() + first_ping_delay(o.ping_interval);
            self.connected = true;
            return self.sign_in(&server, Some(&user), None);
        }
        Err(self.auth_violation(None))
    }

    /// Signed in as `user` (none: no users configured; `claimed` names
    /// the token or name given, for log lines): its permissions and
    /// account apply from here on.
    pub(super) fn sign_in(
        &mut self,
        server: &Server,
        user: Option<&User>,
        claimed: Option<String>,
    ) -> Result<(), Close> {
        let auth = &server.opts().auth;
        self.perms = auth.permissions_of(user);
        if let Some(rule) = self.perms.as_ref().and_then(|p| p.responses) {
            self.handle.allow_responses(rule);
        }
        self.user = user.map(User::label).or(claimed);
        self.pub_verdicts = PublishCache::default();
        self.max_subs = user
            .and_then(|u| u.max_subscriptions)
            .into_iter()
            .chain(Some(server.opts().max_subscriptions).filter(|&n| n > 0))
            .min()
            .unwrap_or(0);
        let account =
            user_account(&self.server, user).unwrap_or_else(|| server.global_account().clone());
        let bound = self.entry.set_account(account).clone();
        if let Some(info) = self.handle.conn_info() {
            info.update(|d| {
                // A configured user names itself; otherwise what the
                // client claimed at CONNECT stays.
                if let Some(u) = user {
                    d.user.clone_from(&u.name);
                }
                d.account.clone_from(&bound.name);
            });
        }
        if !Arc::ptr_eq(&bound, &self.account) {
            self.account = bound;
            self.cache = LocalCache::default();
        }
        // A JWT's payload limit narrows the server's for this connection,
        // and the INFO after CONNECT says so.
        self.max_payload = user
            .and_then(|u| u.max_payload)
            .map_or(server.opts().max_payload, |m| {
                m.min(server.opts().max_payload)
            });
        self.parser.set_limits(Limits {
            max_control_line: server.opts().max_control_line,
            max_payload: self.max_payload,
        });
        // A JWT allowing no subscriptions at all: the reference tells the
        // client at once and closes it after what it sent with the CONNECT.
        if user.and_then(|u| u.max_subscriptions) == Some(0) {
            self.send_err("maximum subscriptions exceeded");
            self.close_after_batch = Some(CloseReason::MaxSubscriptionsExceeded);
        }
        if let Some(max) = user.and_then(|u| u.max_connections) {
            if server.account_connections(&self.account) > max {
                self.log_error("maximum account active connections exceeded");
                self.send_err("maximum account active connections exceeded");
                self.flush.flush();
                return Err(Close(CloseReason::MaxConnectionsExceeded));
            }
        }
        if !self.announced {
            self.announced = true;
            server.client_signed_in(&self.handle, &self.account);
        }
        Ok(())
    }

    /// After a configuration reload: the client's credentials are checked
    /// again. Refused, or now of another account: closed as an
    /// authorization violation. Else its permissions and limits are the
    /// new ones, and subscriptions they no longer allow are removed.
    pub(super) fn reauthorize(&mut self) -> Result<(), Close> {
        if !self.connected {
            // Its CONNECT, when it comes, is checked against the new config.
            return Ok(());
        }
        let server = self.server.clone();
        let config = server.opts();
        let opts = self.opts.clone();
        let checked = if opts.user.is_empty()
            && opts.pass.is_empty()
            && opts.auth_token.is_empty()
            && opts.nkey.is_empty()
            && opts.jwt.is_empty()
            && self.client_cert.is_none()
        {
            // Signed in without credentials: the no-auth user, if any.
            match config.auth.no_auth_user() {
                Some(user) => Ok(Some(std::borrow::Cow::Borrowed(user))),
                None if !config.auth.required() => Ok(None),
                None => Err(()),
            }
        } else {
            self.check_credentials(&config, &opts, false)
                .map_err(|_| ())
        };
        let Ok(user) = checked else {
            // A user no longer configured is closed quietly (the client
            // reconnects and is judged afresh); wrong credentials for a
            // user still there are a violation.
            if !Self::user_still_exists(&config.auth, &opts) {
                return Err(Close(CloseReason::ClientClosed));
            }
            return Err(self.auth_violation(crate::auth::claimed_identity(&opts).as_deref()));
        };
        let wanted = user
            .as_deref()
            .and_then(|u| u.account.as_deref())
            .unwrap_or(crate::account::GLOBAL_ACCOUNT);
        if wanted != self.account.name {
            // Moved to another account: closed quietly, to reconnect there.
            return Err(Close(CloseReason::ClientClosed));
        }
        self.sign_in(
            &server,
            user.as_deref(),
            crate::auth::claimed_identity(&opts),
        )?;
        self.drop_denied_subscriptions();
        Ok(())
    }

    /// Whether the user `opts` names (by name or NKey) is still configured.
    fn user_still_exists(
        auth: &crate::auth::Auth,
        opts: &crate::proto::connect::ConnectOptions,
    ) -> bool {
        let named = if opts.nkey.is_empty() {
            &opts.user
        } else {
            &opts.nkey
        };
        named.is_empty() || auth.users.iter().any(|u| &u.name == named)
    }

    /// Removes the subscriptions the (new) permissions deny, telling the
    /// client of each as the reference does.
    fn drop_denied_subscriptions(&mut self) {
        let Some(perms) = self.perms.clone() else {
            return;
        };
        let denied: Vec<Arc<crate::router::Subscription>> = self
            .subs
            .values()
            .filter(|s| !s.is_closed() && !perms.may_subscribe(&s.subject, s.queue.as_deref()))
            .cloned()
            .collect();
        for sub in denied {
            self.subs.remove(&sub.sid);
            if sub.close() {
                self.account.router.remove(&sub);
            }
            let subject = String::from_utf8_lossy(&sub.subject).into_owned();
            let sid = String::from_utf8_lossy(&sub.sid).into_owned();
            tracing::info!(
                "Removed sub {subject:?} (sid {sid:?}) for {} - not authorized",
                self.auth_user()
            );
            self.send_err(&format!(
                "Permissions Violation for Subscription to {subject:?} (sid {sid:?})"
            ));
        }
    }

    /// A request to a system service every account imports: true when
    /// answered here. `$SYS.REQ.USER.INFO` from anyone; the account's own
    /// `ACCOUNT.PING.STATZ`, `ACCOUNT.PING.CONNZ` and `SERVER.PING.CONNZ`
    /// from any account but the system's (whose clients reach the real
    /// services).
    pub(super) fn system_import(
        &mut self,
        frame: &crate::proto::write::Frame<'_>,
        reply: &[u8],
    ) -> bool {
        if frame.subject == b"$SYS.REQ.USER.INFO" {
            self.user_info(reply);
            return true;
        }
        if Some(self.account.name.as_str()) == self.server.system_account_name() {
            return false;
        }
        let (_, payload) = frame.headers_and_payload();
        self.server
            .system_import(&self.account, frame.subject, reply, payload)
    }

    /// Answers `$SYS.REQ.USER.INFO` on `reply`: the user, its account and
    /// permissions, in the reference's envelope (whose `server` block is
    /// empty for this request).
    pub(super) fn user_info(&mut self, reply: &[u8]) {
        let user = self
            .handle
            .conn_info()
            .map(|i| i.snapshot(self.handle.id, 0, (0, 0)).details.user)
            .unwrap_or_default();
        let mut data = serde_json::json!({
            "user": user,
            "account": self.account.name,
            "account_name": self.account.name,
        });
        if let Some(perms) = &self.perms {
            data["permissions"] = perms.to_json();
        }
        let body = serde_json::json!({
            "server": {
                "name": "", "host": "", "id": "", "ver": "",
                "feature_flags": {"js_ack_fc_v2": false, "js_raft_delete_range": false},
                "jetstream": false,
                "flags": 0, "seq": 0, "time": "0001-01-01T00:00:00Z",
            },
            "data": data,
        });
        let payload = serde_json::to_vec(&body).unwrap_or_default();
        self.server
            .publish_in(&self.account, reply, None, None, &payload);
    }

    /// Refused: logged in the reference's words (naming the user when
    /// there is one), `-ERR 'Authorization Violation'`, close.
    pub(super) fn auth_violation(&mut self, user: Option<&str>) -> Close {
        let (peer, id) = (self.peer, self.handle.id);
        self.server
            .stats()
            .auth_failures
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        self.server.client_refused(&self.handle);
        let limit = &crate::rate_limit::AUTH_FAILURES;
        match user {
            Some(name) => error_limited(
                limit,
                format_args!("{peer} - cid:{id} - authentication error - {name}"),
            ),
            None => error_limited(
                limit,
                format_args!("{peer} - cid:{id} - authentication error"),
            ),
        }
        self.send_err("Authorization Violation");
        self.flush.flush();
        Close(CloseReason::AuthenticationViolation)
    }

    /// The user named as the reference names it in log lines.
    fn auth_user(&self) -> String {
        match &self.user {
            Some(label) => label.clone(),
            None => "User \"N/A\"".to_string(),
        }
    }

    /// Not allowed to publish there: the message is dropped, the client
    /// told, the connection kept (as the reference does).
    pub(super) fn publish_violation(&mut self, subj: &[u8]) {
        let subj = String::from_utf8_lossy(subj);
        self.log_error(&format!(
            "Publish Violation - {}, Subject {subj:?}",
            self.auth_user()
        ));
        self.send_err(&format!("Permissions Violation for Publish to {subj:?}"));
    }

    pub(super) fn subscribe_violation(&mut self, subj: &[u8], queue: Option<&[u8]>, sid: &[u8]) {
        let subj = String::from_utf8_lossy(subj);
        let sid = String::from_utf8_lossy(sid);
        let text = match queue {
            Some(q) => format!(
                "Permissions Violation for Subscription to {subj:?} using queue {:?}",
                String::from_utf8_lossy(q)
            ),
            None => format!("Permissions Violation for Subscription to {subj:?}"),
        };
        self.log_error(&format!(
            "Subscription Violation - {}, Subject {subj:?}, SID {sid}",
            self.auth_user()
        ));
        self.send_err(&text);
    }
}
