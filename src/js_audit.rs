//! JetStream's API audit (`$JS.EVENT.ADVISORY.API`), as the reference
//! publishes it in the account: for each API request, who asked (the
//! client that published it), the subject, the request and the response.
//! A request is noted when it arrives, if anyone listens to the audit,
//! and the audit goes out when its reply does; when nobody listens it
//! costs one atomic load per reply.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use serde_json::json;

use crate::account::Account;
use crate::server::Server;

/// The audit's subject.
pub const AUDIT_SUBJECT: &str = "$JS.EVENT.ADVISORY.API";
/// Requests awaiting their reply at most, and for how long; past either
/// they are dropped (a request never answered must not pin memory).
const MAX_PENDING_REQUESTS: usize = 1024;
const PENDING_FOR: Duration = Duration::from_secs(10);
/// API requests the reference does not audit: pulls and direct gets.
const NOT_AUDITED: [&str; 2] = ["$JS.API.CONSUMER.MSG.NEXT.", "$JS.API.DIRECT."];

thread_local! {
    /// The socket client whose publish is being routed on this thread (0:
    /// none), so a service reached through the router knows who asked.
    static PUBLISHER: Cell<u64> = const { Cell::new(0) };
}

/// Marks `cid` as the publisher while `route` runs (a read batch of its
/// connection); the previous mark comes back after, even on a panic.
pub fn with_publisher<T>(cid: u64, route: impl FnOnce() -> T) -> T {
    struct Restore(u64);
    impl Drop for Restore {
        fn drop(&mut self) {
            PUBLISHER.with(|p| p.set(self.0));
        }
    }
    let _restore = Restore(PUBLISHER.with(|p| p.replace(cid)));
    route()
}

/// An API request waiting for its reply.
struct Pending {
    subject: String,
    request: String,
    client: serde_json::Value,
    at: Instant,
}

/// One account's requests awaiting their audit, by reply subject.
#[derive(Default)]
pub struct Audits {
    pending: Mutex<HashMap<String, Pending>>,
    count: AtomicUsize,
}

impl Audits {
    /// An API request arrived (on the publisher's thread): noted when
    /// someone in `account` listens to the audit.
    pub fn note(
        &self,
        server: &Server,
        account: &Account,
        subject: &str,
        reply: &str,
        payload: &[u8],
    ) {
        if NOT_AUDITED.iter().any(|p| subject.starts_with(p)) {
            return;
        }
        if !server.has_interest_in(account, AUDIT_SUBJECT.as_bytes(), None) {
            // Nobody listens (any more): nothing to keep.
            if self.count.load(Ordering::Acquire) > 0 {
                self.pending.lock().clear();
                self.count.store(0, Ordering::Release);
            }
            return;
        }
        let cid = PUBLISHER.with(Cell::get);
        let client = server
            .client(cid)
            .and_then(|c| c.handle.snapshot())
            .map_or(serde_json::Value::Null, |s| {
                client_info(server, &s, &account.name)
            });
        let mut pending = self.pending.lock();
        if pending.len() >= MAX_PENDING_REQUESTS {
            pending.retain(|_, p| p.at.elapsed() < PENDING_FOR);
            if pending.len() >= MAX_PENDING_REQUESTS {
                pending.clear();
            }
        }
        pending.insert(
            reply.to_string(),
            Pending {
                subject: subject.to_string(),
                request: String::from_utf8_lossy(payload).into_owned(),
                client,
                at: Instant::now(),
            },
        );
        self.count.store(pending.len(), Ordering::Release);
    }

    /// A message goes out on `subject`: if it answers a noted request,
    /// the audit to follow it. The caller publishes both in one batch, so
    /// a client that acts on the reply cannot have its next request
    /// audited before this one.
    pub fn replied(&self, server: &Server, subject: &str, payload: &[u8]) -> Option<Vec<u8>> {
        if self.count.load(Ordering::Acquire) == 0 {
            return None;
        }
        let found = {
            let mut pending = self.pending.lock();
            let found = pending.remove(subject);
            self.count.store(pending.len(), Ordering::Release);
            found
        };
        let p = found?;
        let mut v = serde_json::Map::new();
        v.insert(
            "type".into(),
            json!("io.nats.jetstream.advisory.v1.api_audit"),
        );
        v.insert("id".into(), json!(crate::ids::event_id()));
        v.insert(
            "timestamp".into(),
            json!(tern_jetstream::api::format_time(
                tern_jetstream::engine::now_ns()
            )),
        );
        v.insert("server".into(), json!(server.name()));
        v.insert("client".into(), p.client);
        v.insert("subject".into(), json!(p.subject));
        if !p.request.is_empty() {
            v.insert("request".into(), json!(p.request));
        }
        v.insert("response".into(), json!(String::from_utf8_lossy(payload)));
        serde_json::to_vec(&serde_json::Value::Object(v)).ok()
    }
}

/// The client as audits show it: with its round trip and server, without
/// the name tag.
fn client_info(
    server: &Server,
    s: &crate::handle::conn_info::ConnSnapshot,
    account: &str,
) -> serde_json::Value {
    let d = &s.details;
    let mut c = serde_json::Map::new();
    c.insert(
        "start".into(),
        json!(tern_jetstream::api::format_time(s.start as i64)),
    );
    c.insert("host".into(), json!(s.peer.ip().to_string()));
    c.insert("id".into(), json!(s.cid));
    c.insert("acc".into(), json!(account));
    for (k, v) in [
        ("user", &d.user),
        ("name", &d.name),
        ("lang", &d.lang),
        ("ver", &d.version),
    ] {
        if !v.is_empty() {
            c.insert(k.into(), json!(v));
        }
    }
    if s.rtt > 0 {
        c.insert("rtt".into(), json!(s.rtt));
    }
    c.insert("server".into(), json!(server.name()));
    c.insert("kind".into(), json!("Client"));
    c.insert("client_type".into(), json!("nats"));
    serde_json::Value::Object(c)
}
