//! What the server announces in the system account, as the reference
//! does: `$SYS.ACCOUNT.<acc>.CONNECT` / `.DISCONNECT` for each client,
//! `$SYS.SERVER.<id>.CLIENT.AUTH.ERR` for each refused one, and its
//! `$SYS.SERVER.<id>.STATSZ` every ten seconds. Nothing is built when
//! nobody in the system account listens.

use std::sync::Arc;
use std::time::Duration;

use serde_json::json;

use super::query::rfc3339;
use super::system::server_info;
use super::Ordered;
use crate::account::Account;
use crate::handle::conn_info::ConnSnapshot;
use crate::server::Server;

/// How often the server's statistics go out (the reference's heartbeat),
/// and the first wait before they do.
const STATSZ_EVERY: Duration = Duration::from_secs(10);
const STATSZ_FIRST: Duration = Duration::from_millis(250);
/// How often each account with connections repeats its count.
const CONNS_EVERY: Duration = Duration::from_secs(30);

const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";

/// The system account, when someone there listens on `subject`.
fn listening(server: &Server, subject: &str) -> Option<Arc<Account>> {
    let system = server.account(server.system_account_name()?)?;
    server
        .has_interest_in(&system, subject.as_bytes(), None)
        .then_some(system)
}

fn typed(kind: &str) -> Ordered {
    let mut v = Ordered::default();
    v.put("type", json!(kind));
    v.put("id", json!(crate::ids::event_id()));
    v.put("timestamp", json!(rfc3339(super::query::now_nanos())));
    v
}

/// The reference's `ClientInfo` of a connection (no round trip until it
/// closes; `stop` once it has).
fn client_info(s: &ConnSnapshot, account: &str) -> Ordered {
    let d = &s.details;
    let mut c = Ordered::default();
    c.put("start", json!(rfc3339(s.start)));
    c.put("host", json!(s.peer.ip().to_string()));
    c.put("id", json!(s.cid));
    c.put("acc", json!(account));
    for (k, v) in [
        ("user", &d.user),
        ("name", &d.name),
        ("lang", &d.lang),
        ("ver", &d.version),
    ] {
        if !v.is_empty() {
            c.put(k, json!(v));
        }
    }
    if let Some((stop, _)) = &s.stop {
        if s.rtt > 0 {
            c.put("rtt", json!(s.rtt));
        }
        c.put("stop", json!(rfc3339(*stop)));
    }
    c.put("name_tag", json!(account));
    c.put("kind", json!("Client"));
    c.put("client_type", json!("nats"));
    c
}

fn publish(server: &Server, system: &Account, subject: &str, body: &Ordered) {
    server.publish_in(
        system,
        subject.as_bytes(),
        None,
        None,
        &super::compact(body),
    );
}

/// A client signed in to `account`: its account's connection count
/// (not for `$G`), then the connect event.
impl Server {
    /// A client signed in to `account`: the system account hears of it.
    pub(crate) fn client_signed_in(&self, handle: &crate::handle::Handle, account: &Arc<Account>) {
        connected(self, handle, account);
    }

    /// A client refused for its credentials: the system account hears of
    /// it (once signed in, its disconnect says so instead).
    pub(crate) fn client_refused(&self, handle: &crate::handle::Handle) {
        auth_error(self, handle);
    }
}

pub fn connected(server: &Server, handle: &crate::handle::Handle, account: &Arc<Account>) {
    connection_count(server, account);
    let subject = format!("$SYS.ACCOUNT.{}.CONNECT", account.name);
    let Some(system) = listening(server, &subject) else {
        return;
    };
    let Some(snapshot) = handle.snapshot() else {
        return;
    };
    let mut v = typed(CONNECT_TYPE);
    v.put_nested("server", server_info(server));
    v.put_nested("client", client_info(&snapshot, &account.name));
    publish(server, &system, &subject, &v);
}

/// A signed-in client closed (`snapshot.stop` holds when and why).
pub fn disconnected(server: &Server, snapshot: &ConnSnapshot) {
    let account = snapshot.details.account.as_str();
    if account.is_empty() {
        return;
    }
    if let Some(acc) = server.account(account) {
        connection_count(server, &acc);
    }
    let subject = format!("$SYS.ACCOUNT.{account}.DISCONNECT");
    let Some(system) = listening(server, &subject) else {
        return;
    };
    let v = disconnect_event(server, snapshot, account);
    publish(server, &system, &subject, &v);
}

/// `sent` is what the client sent, `received` what it was given.
fn disconnect_event(server: &Server, s: &ConnSnapshot, account: &str) -> Ordered {
    let data = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    let mut v = typed(DISCONNECT_TYPE);
    v.put_nested("server", server_info(server));
    v.put_nested("client", client_info(s, account));
    v.put("sent", data(s.in_msgs, s.in_bytes));
    v.put("received", data(s.out_msgs, s.out_bytes));
    let reason = s.stop.as_ref().map(|(_, r)| r.as_str()).unwrap_or("");
    v.put("reason", json!(reason));
    v
}

/// A client refused for its credentials, before it had an account: the
/// default account's copy (`$SYS.ACCOUNT.CLIENT.AUTH.ERR`, in `$G`), the
/// server's (`$SYS.SERVER.<id>.CLIENT.AUTH.ERR`) and a disconnect in `$G`.
/// A signed-in client refused by a reload gets its own disconnect when it
/// closes, nothing here.
pub fn auth_error(server: &Server, handle: &crate::handle::Handle) {
    let global = crate::account::GLOBAL_ACCOUNT;
    let in_global = "$SYS.ACCOUNT.CLIENT.AUTH.ERR";
    let subjects = [
        format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", server.id()),
        format!("$SYS.ACCOUNT.{global}.DISCONNECT"),
    ];
    let to_global = server.has_interest_in(server.global_account(), in_global.as_bytes(), None);
    let to_system: Vec<(Arc<Account>, &String)> = subjects
        .iter()
        .filter_map(|s| listening(server, s).map(|sys| (sys, s)))
        .collect();
    if !to_global && to_system.is_empty() {
        return;
    }
    let Some(mut s) = handle.snapshot().filter(|s| s.details.account.is_empty()) else {
        return;
    };
    s.stop = Some((
        super::query::now_nanos(),
        crate::handle::CloseReason::AuthenticationViolation.to_string(),
    ));
    let v = disconnect_event(server, &s, global);
    if to_global {
        publish(server, server.global_account(), in_global, &v);
    }
    for (system, subject) in to_system {
        publish(server, &system, subject, &v);
    }
}

/// The reference's `account_connections` event for `account`.
pub(crate) fn account_connections(server: &Server, account: &Arc<Account>) -> Ordered {
    let mut v = typed("io.nats.server.advisory.v1.account_connections");
    v.put_nested("server", server_info(server));
    for (k, val) in super::accountz::account_stat(server, account).into_fields() {
        v.put(k, val);
    }
    v
}

/// An account's connection count changed: on the old and the new
/// subject, as the reference sends it (never for `$G`).
fn connection_count(server: &Server, account: &Arc<Account>) {
    if account.name == crate::account::GLOBAL_ACCOUNT {
        return;
    }
    let subjects = [
        format!("$SYS.SERVER.ACCOUNT.{}.CONNS", account.name),
        format!("$SYS.ACCOUNT.{}.SERVER.CONNS", account.name),
    ];
    let listeners: Vec<(Arc<Account>, &String)> = subjects
        .iter()
        .filter_map(|s| listening(server, s).map(|sys| (sys, s)))
        .collect();
    if listeners.is_empty() {
        return;
    }
    let v = account_connections(server, account);
    for (system, subject) in listeners {
        publish(server, &system, subject, &v);
    }
}

/// `$SYS.SERVER.<id>.SHUTDOWN` or `.LAMEDUCK`: the bare server block.
pub fn server_going(server: &Server, what: &str) {
    let subject = format!("$SYS.SERVER.{}.{what}", server.id());
    if let Some(system) = listening(server, &subject) {
        publish(server, &system, &subject, &server_info(server));
    }
}

/// Sends the server's statistics while anyone listens: first after a
/// quarter second, then at doubling intervals up to every ten seconds,
/// as the reference does; and each account's connection count every 30
/// seconds while it has connections.
pub fn start_heartbeat(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        let mut every = STATSZ_FIRST;
        let mut counts_due = tokio::time::Instant::now() + CONNS_EVERY;
        loop {
            tokio::time::sleep(every).await;
            every = (every * 2).min(STATSZ_EVERY);
            let Some(server) = weak.upgrade() else {
                return;
            };
            let subject = format!("$SYS.SERVER.{}.STATSZ", server.id());
            if let Some(system) = listening(&server, &subject) {
                let v = super::system::statsz(&server).await;
                publish(&server, &system, &subject, &v);
            }
            if tokio::time::Instant::now() >= counts_due {
                counts_due += CONNS_EVERY;
                for account in server.accounts() {
                    if server.account_connections(&account) > 0 {
                        connection_count(&server, &account);
                    }
                }
            }
        }
    });
}
