//! HTTP monitoring (`-m`, `http_port`, `http`, `http_base_path`), as
//! nats-server serves it: an index page, `/healthz`, and the reference's
//! 404 for what tern does not serve yet. JSON answers take `?callback=`
//! (JSONP). The port opens before the client port.

mod accountz;
mod cluster;
mod connz;
pub mod events;
mod health;
mod http;
mod jsz;
mod metrics;
mod query;
mod subsz;
pub mod system;
mod varz;

use std::net::SocketAddr;
use std::sync::Arc;

use tokio::net::TcpListener;
use tracing::info;

use crate::server::Server;
use http::{Request, Response};

/// Requests served per path (varz `http_req_stats`).
pub use crate::stats::RequestStats;

/// Why monitoring could not start, in the reference's words.
#[derive(Debug)]
pub struct MonitorError(pub String);

impl std::error::Error for MonitorError {}

impl std::fmt::Display for MonitorError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.0)
    }
}

/// Binds the monitoring port and serves it until the server stops; with
/// `tls`, over HTTPS (`https_port`).
pub async fn start(
    server: &Arc<Server>,
    host: &str,
    port: u16,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<SocketAddr, MonitorError> {
    let listener = TcpListener::bind((host, port)).await.map_err(|e| {
        MonitorError(format!(
            "Can't start monitoring: can't listen to the monitor port: listen tcp {host}:{port}: {}",
            go_error(&e)
        ))
    })?;
    let addr = listener
        .local_addr()
        .map_err(|e| MonitorError(format!("Can't start monitoring: {e}")))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    info!("Starting {scheme} monitor on {addr}");
    let weak = Arc::downgrade(server);
    let stats = server.http_stats().clone();
    tokio::spawn(async move {
        loop {
            let Ok((stream, _)) = listener.accept().await else {
                tokio::time::sleep(std::time::Duration::from_millis(10)).await;
                continue;
            };
            let Some(server) = weak.upgrade() else {
                return;
            };
            let _ = stream.set_nodelay(true);
            let stats = stats.clone();
            let tls = tls.clone();
            tokio::spawn(async move {
                let handler = async move |req: &Request| route(&server, &stats, req).await;
                match tls {
                    None => http::serve(stream, handler).await,
                    Some(acceptor) => {
                        let handshake = tokio::time::timeout(
                            std::time::Duration::from_secs(10),
                            acceptor.accept(stream),
                        );
                        if let Ok(Ok(stream)) = handshake.await {
                            http::serve(stream, handler).await;
                        }
                    }
                }
            });
        }
    });
    Ok(addr)
}

fn go_error(e: &std::io::Error) -> String {
    match e.kind() {
        std::io::ErrorKind::AddrInUse => "bind: address already in use".into(),
        std::io::ErrorKind::PermissionDenied => "bind: permission denied".into(),
        _ => e.to_string(),
    }
}

async fn route(server: &Arc<Server>, stats: &RequestStats, req: &Request) -> Response {
    let opts = server.opts();
    let base = opts.http_base_path.trim_end_matches('/');
    let Some(path) = req.path.strip_prefix(base) else {
        return not_found();
    };
    let path = if path.is_empty() { "/" } else { path };
    let path = if path == "/subscriptionsz" {
        "/subsz"
    } else {
        path
    };
    if ENDPOINTS.contains(&path) {
        *stats.lock().entry(path.to_string()).or_default() += 1;
    }
    let resp = match path {
        "/" => index(base),
        "/healthz" => health::healthz(server, req).await,
        "/varz" => varz::varz(server, stats).await,
        "/connz" => connz::connz(server, req),
        "/subsz" => subsz::subsz(server, req),
        "/jsz" => jsz::jsz(server, req).await,
        "/accountz" => accountz::accountz(server, req),
        "/accstatz" => accountz::accstatz(server, req),
        "/routez" => cluster::routez(server, req),
        "/gatewayz" => cluster::gatewayz(server, req),
        "/leafz" => cluster::leafz(server, req),
        "/metrics" => return metrics::metrics(server, stats).await,
        _ => return not_found(),
    };
    jsonp(resp, req.param("callback"))
}

/// The paths counted in varz `http_req_stats`.
const ENDPOINTS: [&str; 12] = [
    "/",
    "/varz",
    "/connz",
    "/routez",
    "/gatewayz",
    "/leafz",
    "/subsz",
    "/accountz",
    "/accstatz",
    "/jsz",
    "/healthz",
    "/metrics",
];

/// JSON with fields in the order given (serde_json's maps sort theirs):
/// the reference's order for its top-level objects.
#[derive(Default)]
pub(crate) struct Ordered(Vec<(&'static str, Field)>);

enum Field {
    Value(serde_json::Value),
    Nested(Ordered),
    List(Vec<Ordered>),
}

impl Ordered {
    pub(crate) fn put(&mut self, k: &'static str, v: serde_json::Value) {
        self.0.push((k, Field::Value(v)));
    }

    pub(crate) fn put_nested(&mut self, k: &'static str, v: Ordered) {
        self.0.push((k, Field::Nested(v)));
    }

    /// Replaces field `k` (put earlier as a placeholder) with `v`, in place.
    pub(crate) fn set_nested(&mut self, k: &'static str, v: Ordered) {
        if let Some(slot) = self.0.iter_mut().find(|(name, _)| *name == k) {
            slot.1 = Field::Nested(v);
        }
    }

    pub(crate) fn put_list(&mut self, k: &'static str, v: Vec<Ordered>) {
        self.0.push((k, Field::List(v)));
    }

    /// The fields as plain values, in order (to splice into another).
    pub(crate) fn into_fields(self) -> Vec<(&'static str, serde_json::Value)> {
        self.0
            .into_iter()
            .map(|(k, f)| {
                let v = match f {
                    Field::Value(v) => v,
                    Field::Nested(o) => serde_json::to_value(&o).unwrap_or_default(),
                    Field::List(l) => serde_json::to_value(&l).unwrap_or_default(),
                };
                (k, v)
            })
            .collect()
    }
}

impl serde::Serialize for Ordered {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeMap;
        let mut map = s.serialize_map(Some(self.0.len()))?;
        for (k, v) in &self.0 {
            match v {
                Field::Value(v) => map.serialize_entry(k, v)?,
                Field::Nested(o) => map.serialize_entry(k, o)?,
                Field::List(l) => map.serialize_entry(k, l)?,
            }
        }
        map.end()
    }
}

/// Pretty JSON as Go's `MarshalIndent` writes it, `<`, `>` and `&`
/// escaped (they only occur inside strings, so replacing bytes is safe).
pub(super) fn pretty(v: &impl serde::Serialize) -> Vec<u8> {
    go_escape(serde_json::to_vec_pretty(v).unwrap_or_default())
}

/// Compact JSON (a `$SYS` answer), escaped as Go escapes it.
pub(crate) fn compact(v: &impl serde::Serialize) -> Vec<u8> {
    let raw = serde_json::to_vec(v).unwrap_or_default();
    go_escape(raw)
}

/// `<`, `>` and `&` as Go's JSON encoder writes them (they only occur
/// inside strings, so replacing bytes is safe).
fn go_escape(raw: Vec<u8>) -> Vec<u8> {
    if !raw.iter().any(|b| matches!(b, b'<' | b'>' | b'&')) {
        return raw;
    }
    let mut out = Vec::with_capacity(raw.len() + 16);
    for b in raw {
        match b {
            b'<' => out.extend_from_slice(b"\\u003c"),
            b'>' => out.extend_from_slice(b"\\u003e"),
            b'&' => out.extend_from_slice(b"\\u0026"),
            _ => out.push(b),
        }
    }
    out
}

/// Go's answer to a path it does not serve.
fn not_found() -> Response {
    Response::text(404, "404 page not found\n")
}

/// `?callback=f` wraps a JSON answer as `f(...)`.
fn jsonp(resp: Response, callback: Option<&str>) -> Response {
    match callback {
        Some(cb) if !cb.is_empty() && resp.content_type == "application/json" => {
            let mut body = format!("{cb}(").into_bytes();
            body.extend_from_slice(&resp.body);
            body.push(b')');
            Response {
                status: resp.status,
                content_type: "application/javascript",
                cors: false,
                body,
            }
        }
        _ => resp,
    }
}

/// The endpoints, as links.
fn index(base: &str) -> Response {
    let links: String = [
        "varz", "connz", "routez", "gatewayz", "leafz", "subsz", "accountz", "accstatz", "jsz",
        "healthz",
    ]
    .iter()
    .map(|e| format!("    <a href=\"{base}/{e}\">{e}</a>\n"))
    .collect();
    let body = format!(
        "<html lang=\"en\">\n  <head><title>tern monitoring</title></head>\n  <body>\n    <h1>tern {}</h1>\n{links}  </body>\n</html>\n",
        crate::config::options::TERN_VERSION
    );
    Response {
        status: 200,
        content_type: "text/html; charset=utf-8",
        cors: false,
        body: body.into_bytes(),
    }
}

/// How long a lookup in an account's JetStream may take.
const LOOKUP_TIMEOUT: std::time::Duration = std::time::Duration::from_secs(2);

/// Asks the account's JetStream API, as a client of the account would;
/// `None` when nothing answers in time.
pub(super) async fn lookup(
    server: &Arc<Server>,
    account: &str,
    subject: &str,
) -> Option<serde_json::Value> {
    lookup_with(server, account, subject, b"").await
}

/// `lookup` with a request body. The request goes straight to the
/// account's engine (not through its subject space, where a client could
/// see it), the answer to an inbox no client can guess before it comes;
/// the first answer counts.
pub(super) async fn lookup_with(
    server: &Arc<Server>,
    account: &str,
    subject: &str,
    body: &[u8],
) -> Option<serde_json::Value> {
    let inbox = server.api_inbox(account)?;
    let account = server.account(account)?;
    let (tx, rx) = tokio::sync::oneshot::channel();
    let tx = parking_lot::Mutex::new(Some(tx));
    let client = server.internal_client_in(
        &account,
        Box::new(move |m: &crate::handle::InternalMsg<'_>| {
            if let Some(tx) = tx.lock().take() {
                let _ = tx.send(m.payload.to_vec());
            }
        }),
    );
    let reply = format!("_INBOX.{}", crate::ids::event_id());
    let sub = client.subscribe(&reply, None, "monitor");
    let headers = format!(
        "NATS/1.0\r\n{}: 1\r\n\r\n",
        tern_jetstream::engine::MONITOR_HEADER
    );
    let req = tern_jetstream::engine::ApiRequest {
        subject: subject.to_string(),
        reply,
        headers: Some(bytes::Bytes::from(headers)),
        payload: bytes::Bytes::copy_from_slice(body),
    };
    if inbox.offer(req).is_err() {
        client.unsubscribe(&sub);
        return None;
    }
    let answer = tokio::time::timeout(LOOKUP_TIMEOUT, rx).await;
    client.unsubscribe(&sub);
    let payload = answer.ok()?.ok()?;
    serde_json::from_slice(&payload).ok()
}
