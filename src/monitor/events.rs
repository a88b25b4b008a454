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
use crate::client::conn_info::ConnSnapshot;
use crate::server::Server;

/// How often the server's statistics go out (the reference's heartbeat).
const STATSZ_EVERY: Duration = Duration::from_secs(10);

const CONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_connect";
const DISCONNECT_TYPE: &str = "io.nats.server.advisory.v1.client_disconnect";

/// The system account, when someone there listens on `subject`.
fn listening(server: &Server, subject: &str) -> Option<Arc<Account>> {
    let system = server.account(server.system_account_name()?)?;
    server
        .has_interest_in(&system, subject.as_bytes(), None)
        .then_some(system)
}

/// A 22-character event id, as the reference's NUIDs look.
fn event_id() -> String {
    const ALPHABET: &[u8] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut bytes = [0u8; 22];
    if ring::rand::SecureRandom::fill(&ring::rand::SystemRandom::new(), &mut bytes).is_err() {
        let t = crate::client::conn_info::unix_nanos(std::time::SystemTime::now());
        return format!("{t:022}");
    }
    bytes
        .iter()
        .map(|b| ALPHABET[usize::from(*b) % ALPHABET.len()] as char)
        .collect()
}

fn typed(kind: &str) -> Ordered {
    let mut v = Ordered::default();
    v.put("type", json!(kind));
    v.put("id", json!(event_id()));
    v.put("timestamp", json!(rfc3339(super::query::now_nanos())));
    v
}

/// The reference's `ClientInfo` of a connection.
fn client_info(server: &Server, s: &ConnSnapshot, account: &str) -> Ordered {
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
    if s.rtt > 0 {
        c.put("rtt", json!(s.rtt));
    }
    c.put("server", json!(server.name()));
    if let Some((stop, _)) = &s.stop {
        c.put("stop", json!(rfc3339(*stop)));
    }
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

/// A client signed in to `account`.
pub fn connected(server: &Server, snapshot: &ConnSnapshot, account: &str) {
    let subject = format!("$SYS.ACCOUNT.{account}.CONNECT");
    let Some(system) = listening(server, &subject) else {
        return;
    };
    let mut v = typed(CONNECT_TYPE);
    v.put_nested("server", server_info(server));
    v.put_nested("client", client_info(server, snapshot, account));
    publish(server, &system, &subject, &v);
}

/// A signed-in client closed (`snapshot.stop` holds when and why).
pub fn disconnected(server: &Server, snapshot: &ConnSnapshot) {
    let account = snapshot.details.account.as_str();
    if account.is_empty() {
        return;
    }
    let subject = format!("$SYS.ACCOUNT.{account}.DISCONNECT");
    let Some(system) = listening(server, &subject) else {
        return;
    };
    let v = disconnect_event(server, snapshot, account);
    publish(server, &system, &subject, &v);
}

fn disconnect_event(server: &Server, s: &ConnSnapshot, account: &str) -> Ordered {
    let data = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    let mut v = typed(DISCONNECT_TYPE);
    v.put_nested("server", server_info(server));
    v.put_nested("client", client_info(server, s, account));
    v.put("sent", data(s.out_msgs, s.out_bytes));
    v.put("received", data(s.in_msgs, s.in_bytes));
    let reason = s.stop.as_ref().map(|(_, r)| r.as_str()).unwrap_or("");
    v.put("reason", json!(reason));
    v
}

/// A client refused for its credentials.
pub fn auth_error(server: &Server, snapshot: &ConnSnapshot) {
    let subject = format!("$SYS.SERVER.{}.CLIENT.AUTH.ERR", server.id());
    let Some(system) = listening(server, &subject) else {
        return;
    };
    let mut s = snapshot.clone();
    s.stop = Some((
        super::query::now_nanos(),
        crate::client::CloseReason::AuthenticationViolation.to_string(),
    ));
    let v = disconnect_event(server, &s, &s.details.account.clone());
    publish(server, &system, &subject, &v);
}

/// Sends the server's statistics every ten seconds while anyone listens.
pub fn start_heartbeat(server: &Arc<Server>) {
    let weak = Arc::downgrade(server);
    tokio::spawn(async move {
        let mut tick = tokio::time::interval(STATSZ_EVERY);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            let Some(server) = weak.upgrade() else {
                return;
            };
            let subject = format!("$SYS.SERVER.{}.STATSZ", server.id());
            if let Some(system) = listening(&server, &subject) {
                let v = super::system::statsz(&server).await;
                publish(&server, &system, &subject, &v);
            }
        }
    });
}
