//! Streams and services that accounts import from each other, wired at
//! start-up as internal subscriptions: a stream import listens in the
//! exporting account and republishes in the importing one (under its
//! prefix or mapped subject); a service import listens in the importing
//! account, forwards each request to the exporter with a reply subject of
//! its own (`_R_.<token>.<n>`), and sends the responses that come back to
//! it on to the requester's reply subject.

use std::cell::Cell;
use std::collections::HashMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Weak};
use std::time::{Duration, Instant};

use parking_lot::Mutex;
use tracing::debug;

use crate::account::{map_subject, Account, Import, Kind, Local, ResponseType};
use crate::handle::InternalMsg;
use crate::server::Server;

/// How long a service import waits for responses to one request (the
/// reference's default response threshold).
const RESPONSE_THRESHOLD: Duration = Duration::from_secs(120);
/// Open requests per exporting account before expired ones are swept.
const SWEEP_AT: usize = 10_000;
/// How deep imports may chain (A's stream imported by B, re-exported to
/// C...) on one publish; deeper is a cycle and is dropped.
const MAX_HOPS: u8 = 8;

thread_local! {
    static HOPS: Cell<u8> = const { Cell::new(0) };
}

/// Runs `f` one import hop deeper, unless the chain is already too deep.
fn hop(f: impl FnOnce()) {
    let depth = HOPS.with(Cell::get);
    if depth >= MAX_HOPS {
        debug!("import chain deeper than {MAX_HOPS}: message dropped");
        return;
    }
    HOPS.with(|h| h.set(depth + 1));
    f();
    HOPS.with(|h| h.set(depth));
}

/// Wires every configured import again (after a reload changed them):
/// the old subscriptions go, the configured ones are made afresh.
pub fn rewire(server: &Arc<Server>) {
    for (client, sub) in server.take_import_subscriptions() {
        client.unsubscribe(&sub);
    }
    wire(server);
}

/// Wires every configured import. Imports naming an unknown account were
/// refused when the config was read, so they are skipped here.
pub fn wire(server: &Arc<Server>) {
    let mut exporters: HashMap<String, Arc<Replies>> = HashMap::new();
    for acc in &server.opts().accounts {
        let Some(importer) = server.account(&acc.name) else {
            continue;
        };
        for import in &acc.imports {
            let Some(exporter) = server.account(&import.account) else {
                continue;
            };
            match import.kind {
                Kind::Stream => wire_stream(server, &importer, &exporter, import),
                Kind::Service => {
                    let replies = exporters
                        .entry(exporter.name.clone())
                        .or_insert_with(|| Replies::listen(server, &exporter))
                        .clone();
                    let kind = response_type(server, import);
                    wire_service(server, &importer, &exporter, import, kind, replies);
                }
            }
        }
    }
}

/// The response type of the export an import takes.
fn response_type(server: &Server, import: &Import) -> ResponseType {
    server
        .opts()
        .accounts
        .iter()
        .find(|a| a.name == import.account)
        .and_then(|a| {
            a.exports.iter().find(|e| {
                e.kind == Kind::Service
                    && tern_jetstream::subject::is_subset(&import.subject, &e.subject)
            })
        })
        .map(|e| e.response_type)
        .unwrap_or_default()
}

fn wire_stream(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    import: &Import,
) {
    let weak = Arc::downgrade(server);
    let to = importer.clone();
    let from_subject = import.subject.clone();
    let local = import.local.clone();
    let client = server.internal_client_in(
        exporter,
        Box::new(move |m: &InternalMsg<'_>| {
            let Some(server) = weak.upgrade() else {
                return;
            };
            let subject = match &local {
                Local::Same => m.subject.to_vec(),
                Local::Prefix(p) => [p.as_bytes(), b".", m.subject].concat(),
                Local::To(t) => map_subject(&from_subject, t, m.subject),
            };
            hop(|| {
                server.publish_in(&to, &subject, m.reply, m.headers, m.payload);
            });
        }),
    );
    let sub = client.subscribe(&import.subject, None, "import");
    server.keep_import_subscription(client, sub);
}

fn wire_service(
    server: &Arc<Server>,
    importer: &Arc<Account>,
    exporter: &Arc<Account>,
    import: &Import,
    kind: ResponseType,
    replies: Arc<Replies>,
) {
    let weak = Arc::downgrade(server);
    let requester = importer.clone();
    let to = exporter.clone();
    let local = import.local_subject();
    let remote = import.subject.clone();
    let listen_on = local.clone();
    let client = server.internal_client_in(
        importer,
        Box::new(move |m: &InternalMsg<'_>| {
            let Some(server) = weak.upgrade() else {
                return;
            };
            let subject = if local == remote {
                m.subject.to_vec()
            } else {
                map_subject(&local, &remote, m.subject)
            };
            let reply = m.reply.map(|r| replies.open(requester.clone(), r, kind));
            // The responder learns which account asked, as from the
            // reference (which adds the requester's RTT when it knows it).
            let info = format!(
                "{{\"acc\":{}}}",
                serde_json::Value::from(requester.name.as_str())
            );
            let headers = with_header(m.headers, REQUEST_INFO, info.as_bytes());
            hop(|| {
                server.publish_in(&to, &subject, reply.as_deref(), Some(&headers), m.payload);
            });
        }),
    );
    let sub = client.subscribe(&listen_on, None, "import");
    server.keep_import_subscription(client, sub);
}

/// The header naming a service request's account.
const REQUEST_INFO: &[u8] = b"Nats-Request-Info";

/// `headers` (a `NATS/1.0` block, or none) with `name: value` set,
/// replacing an earlier value.
fn with_header(headers: Option<&[u8]>, name: &[u8], value: &[u8]) -> Vec<u8> {
    let mut out =
        Vec::with_capacity(headers.map_or(0, <[u8]>::len) + name.len() + value.len() + 16);
    let mut lines = headers
        .unwrap_or(b"NATS/1.0\r\n\r\n")
        .split(|&b| b == b'\n')
        .map(|l| l.strip_suffix(b"\r").unwrap_or(l));
    out.extend_from_slice(lines.next().unwrap_or(b"NATS/1.0"));
    out.extend_from_slice(b"\r\n");
    for line in lines.filter(|l| !l.is_empty()) {
        let is_it = line.len() > name.len()
            && line[..name.len()].eq_ignore_ascii_case(name)
            && line[name.len()] == b':';
        if !is_it {
            out.extend_from_slice(line);
            out.extend_from_slice(b"\r\n");
        }
    }
    out.extend_from_slice(name);
    out.extend_from_slice(b": ");
    out.extend_from_slice(value);
    out.extend_from_slice(b"\r\n\r\n");
    out
}

/// The reply subjects an exporting account's responders answer to, each
/// leading back to a requester in an importing account.
pub struct Replies {
    /// `_R_.<token>.`: what this server's reply subjects in the account
    /// start with.
    prefix: String,
    next: AtomicU64,
    open: Mutex<HashMap<Vec<u8>, Pending>>,
}

struct Pending {
    account: Arc<Account>,
    reply: Vec<u8>,
    kind: ResponseType,
    at: Instant,
}

impl Replies {
    /// Listens in `exporter` for responses to forwarded requests.
    fn listen(server: &Arc<Server>, exporter: &Arc<Account>) -> Arc<Replies> {
        let token = crate::nkey::base32_encode(&crate::ids::random_bytes::<5>());
        let replies = Arc::new(Replies {
            prefix: format!("_R_.{token}."),
            next: AtomicU64::new(1),
            open: Mutex::new(HashMap::new()),
        });
        let weak_server: Weak<Server> = Arc::downgrade(server);
        let weak_replies = Arc::downgrade(&replies);
        let client = server.internal_client_in(
            exporter,
            Box::new(move |m: &InternalMsg<'_>| {
                let (Some(server), Some(replies)) = (weak_server.upgrade(), weak_replies.upgrade())
                else {
                    return;
                };
                if let Some((account, reply)) = replies.take(m.subject, m.payload.is_empty()) {
                    hop(|| {
                        server.publish_in(&account, &reply, None, m.headers, m.payload);
                    });
                }
            }),
        );
        let sub = client.subscribe(&format!("{}>", replies.prefix), None, "replies");
        server.keep_import_subscription(client, sub);
        replies
    }

    /// A reply subject in the exporter that leads back to `reply` in
    /// `account`.
    fn open(&self, account: Arc<Account>, reply: &[u8], kind: ResponseType) -> Vec<u8> {
        let n = self.next.fetch_add(1, Ordering::Relaxed);
        let subject = format!("{}{n}", self.prefix).into_bytes();
        let now = Instant::now();
        let mut open = self.open.lock();
        if open.len() >= SWEEP_AT {
            open.retain(|_, p| now.duration_since(p.at) < RESPONSE_THRESHOLD);
        }
        open.insert(
            subject.clone(),
            Pending {
                account,
                reply: reply.to_vec(),
                kind,
                at: now,
            },
        );
        subject
    }

    /// Where a response on `subject` goes; a singleton's first response
    /// closes it, as does an empty one (the end of a chunked or streamed
    /// answer, as the reference reads it); others stay open until the
    /// threshold.
    fn take(&self, subject: &[u8], empty: bool) -> Option<(Arc<Account>, Vec<u8>)> {
        let mut open = self.open.lock();
        let p = open.get(subject)?;
        if p.at.elapsed() >= RESPONSE_THRESHOLD {
            open.remove(subject);
            return None;
        }
        if p.kind == ResponseType::Singleton || empty {
            let p = open.remove(subject)?;
            return Some((p.account, p.reply));
        }
        Some((p.account.clone(), p.reply.clone()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn request_info_header_is_set_once() {
        assert_eq!(
            with_header(None, b"X", b"1"),
            b"NATS/1.0\r\nX: 1\r\n\r\n".to_vec()
        );
        assert_eq!(
            with_header(Some(b"NATS/1.0\r\nA: b\r\nx: 0\r\n\r\n"), b"X", b"1"),
            b"NATS/1.0\r\nA: b\r\nX: 1\r\n\r\n".to_vec()
        );
    }
}
