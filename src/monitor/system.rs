//! The monitoring endpoints over NATS, in the system account, as `nats
//! server list/info/report` and nats-surveyor ask for them:
//! `$SYS.REQ.SERVER.PING[.<X>]` (every server answers, unless the
//! request's filter leaves it out), `$SYS.REQ.SERVER.<id>.<X>` (this
//! server, including RELOAD, KICK and LDM) and `$SYS.REQ.ACCOUNT.<acc>.<X>`
//! / `$SYS.REQ.ACCOUNT.PING.<X>`. Answers are `{"server": .., "data": ..}`
//! or `{"server": .., "error": {"code", "description"}}`, the reference's
//! envelope. The HTTP endpoints do the work: the request's JSON options
//! become their query parameters.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::Arc;

use serde_json::{json, Value};
use tokio::sync::mpsc;
use tracing::debug;

use super::http::{Request, Response};
use super::query::rfc3339;
use super::{Ordered, RequestStats};
use crate::handle::InternalMsg;
use crate::server::Server;

/// Requests waiting for the service at most; more are dropped (the
/// requester times out, as with an overloaded reference).
const QUEUE: usize = 1024;

/// One request taken off the router, or handed over by a client's reader.
use crate::server::SystemRequest as Asked;

impl Server {
    /// A request to one of the system services every account imports
    /// (its own statz and connz), from a client of `account`: queued for
    /// the system service, answered into `account`. False when `subject`
    /// is not one of them.
    pub(crate) fn system_import(
        &self,
        account: &Arc<crate::account::Account>,
        subject: &[u8],
        reply: &[u8],
        payload: &[u8],
    ) -> bool {
        imported(self, account, subject, reply, payload)
    }
}

/// The services every account imports from the system account.
const IMPORTED: [&[u8]; 3] = [
    b"$SYS.REQ.ACCOUNT.PING.STATZ",
    b"$SYS.REQ.ACCOUNT.PING.CONNZ",
    b"$SYS.REQ.SERVER.PING.CONNZ",
];

/// Sequence of the `server` blocks this server sends.
static SEQ: AtomicU64 = AtomicU64::new(0);

/// The `server` block every system message carries.
pub(crate) fn server_info(server: &Server) -> Ordered {
    let mut v = Ordered::default();
    v.put("name", json!(server.name()));
    v.put("host", json!(server.opts().host));
    v.put("id", json!(server.id()));
    v.put("ver", json!(crate::config::options::NATS_VERSION));
    v.put(
        "feature_flags",
        json!({"js_ack_fc_v2": false, "js_raft_delete_range": false}),
    );
    let js = server.opts().jetstream;
    v.put("jetstream", json!(js));
    // The reference's capability bits: JetStream, and the two that come
    // with it in 2.14.
    v.put("flags", json!(if js { 7 } else { 0 }));
    v.put("seq", json!(SEQ.fetch_add(1, Ordering::Relaxed) + 1));
    v.put("time", json!(rfc3339(super::query::now_nanos())));
    v
}

/// Subscribes the system account's service and answers its requests on
/// a task of its own (the router's callback only queues them).
pub fn start(server: &Arc<Server>) {
    let Some(name) = server.system_account_name() else {
        return;
    };
    let Some(system) = server.account(name) else {
        return;
    };
    let (tx, mut rx) = mpsc::channel::<Asked>(QUEUE);
    let queue = tx.clone();
    let client = server.internal_client_in(
        &system,
        Box::new(move |m: &InternalMsg<'_>| {
            let Some(reply) = m.reply else {
                return;
            };
            let _ = tx.try_send(Asked {
                subject: String::from_utf8_lossy(m.subject).into_owned(),
                reply: String::from_utf8_lossy(reply).into_owned(),
                payload: m.payload.to_vec(),
                for_account: None,
            });
        }),
    );
    server.set_system_queue(queue);
    let id = server.id().to_string();
    for subject in [
        "$SYS.REQ.SERVER.PING".to_string(),
        "$SYS.REQ.SERVER.PING.*".to_string(),
        format!("$SYS.REQ.SERVER.{id}.*"),
        "$SYS.REQ.ACCOUNT.*.*".to_string(),
    ] {
        server.subscribe_internal(&client, &subject, None, "sys");
    }
    let weak = Arc::downgrade(server);
    let stats = server.http_stats().clone();
    tokio::spawn(async move {
        while let Some(asked) = rx.recv().await {
            let Some(server) = weak.upgrade() else {
                return;
            };
            // Each request on a task of its own: one that fails (or
            // waits on a slow JetStream) takes nothing else down.
            let (system, stats) = (system.clone(), stats.clone());
            tokio::spawn(async move {
                if let Some(account) = &asked.for_account {
                    if let Some(answer) = answer_imported(&server, account, &asked) {
                        server.publish_in(account, asked.reply.as_bytes(), None, None, &answer);
                    }
                } else if let Some(answer) = answer(&server, &stats, &asked).await {
                    server.publish_in(
                        &system,
                        asked.reply.as_bytes(),
                        None,
                        None,
                        &super::compact(&answer),
                    );
                }
            });
        }
    });
}

/// The answer to one request; `None` when this server stays silent (a
/// filter that leaves it out, an unknown request).
async fn answer(server: &Arc<Server>, stats: &RequestStats, asked: &Asked) -> Option<Ordered> {
    let options: Value = if asked.payload.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&asked.payload) {
            Ok(v) => v,
            Err(e) => return Some(error(server, 400, &e.to_string())),
        }
    };
    let tokens: Vec<&str> = asked.subject.split('.').collect();
    match tokens.as_slice() {
        ["$SYS", "REQ", "SERVER", "PING"] => {
            filtered(server, &options)?;
            Some(statsz(server).await)
        }
        ["$SYS", "REQ", "SERVER", "PING", what] => {
            filtered(server, &options)?;
            server_request(server, stats, what, &options).await
        }
        ["$SYS", "REQ", "SERVER", id, what] if *id == server.id() => {
            server_request(server, stats, what, &options).await
        }
        ["$SYS", "REQ", "ACCOUNT", "PING", what] => {
            account_ping(server, stats, what, &options).await
        }
        ["$SYS", "REQ", "ACCOUNT", account, what] => {
            account_request(server, stats, account, what, &options).await
        }
        _ => None,
    }
}

/// `None` when the request's filter (`server_name`, `host`, `cluster`,
/// `domain`, `tags`, `exact_match`) leaves this server out.
fn filtered(server: &Server, o: &Value) -> Option<()> {
    let exact = o.get("exact_match").and_then(Value::as_bool) == Some(true);
    let fits = |want: Option<&str>, have: &str| match want {
        None | Some("") => true,
        Some(w) if exact => w == have,
        Some(w) => have.contains(w),
    };
    let opts = server.opts();
    let ok = fits(o.get("server_name").and_then(Value::as_str), server.name())
        && fits(o.get("host").and_then(Value::as_str), &opts.host)
        && fits(o.get("cluster").and_then(Value::as_str), "")
        && fits(o.get("domain").and_then(Value::as_str), "")
        && o.get("tags")
            .and_then(Value::as_array)
            .is_none_or(|t| t.is_empty());
    ok.then_some(())
}

fn envelope(server: &Server) -> Ordered {
    let mut v = Ordered::default();
    v.put_nested("server", server_info(server));
    v
}

fn error(server: &Server, code: u16, description: &str) -> Ordered {
    let mut v = envelope(server);
    // A handler's own error comes with an empty `data`, a request the
    // server could not read without one (as the reference answers).
    if code != 400 {
        v.put("data", Value::Null);
    }
    v.put("error", json!({"code": code, "description": description}));
    v
}

/// The endpoint's answer as `data`, or its refusal as `error`.
fn wrap(server: &Server, resp: Response) -> Ordered {
    if resp.status != 200 {
        let text = String::from_utf8_lossy(&resp.body).trim().to_string();
        return error(server, resp.status, &text);
    }
    let data: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
    let mut v = envelope(server);
    v.put("data", data);
    v
}

/// A request's JSON options as the query an endpoint reads.
fn query(pairs: Vec<(&str, String)>) -> Request {
    Request {
        method: "GET".into(),
        path: String::new(),
        query: pairs
            .into_iter()
            .filter(|(_, v)| !v.is_empty())
            .map(|(k, v)| (k.to_string(), v))
            .collect(),
        close: false,
    }
}

/// A JSON option as a query value ("" when absent or false).
fn opt(o: &Value, key: &str) -> String {
    match o.get(key) {
        Some(Value::String(s)) => s.clone(),
        Some(Value::Bool(true)) => "true".into(),
        Some(Value::Number(n)) if n.as_i64() != Some(0) => n.to_string(),
        _ => String::new(),
    }
}

async fn server_request(
    server: &Arc<Server>,
    stats: &RequestStats,
    what: &str,
    o: &Value,
) -> Option<Ordered> {
    let s = server;
    Some(match what {
        "STATSZ" => statsz(s).await,
        "VARZ" => {
            let mut v = envelope(s);
            v.put_nested("data", super::varz::fields(s, stats).await);
            v
        }
        "CONNZ" => wrap(s, super::connz::connz(s, &connz_query(o, None))),
        "SUBSZ" => wrap(s, super::subsz::subsz(s, &subsz_query(o, None))),
        "JSZ" => wrap(s, super::jsz::jsz(s, &jsz_query(o, None)).await),
        "HEALTHZ" => {
            let req = query(
                [
                    "js-enabled-only",
                    "js-server-only",
                    "js-meta-only",
                    "account",
                    "stream",
                    "consumer",
                    "details",
                ]
                .iter()
                .map(|k| (*k, opt(o, k)))
                .collect(),
            );
            let resp = super::health::healthz(s, &req).await;
            // A failed health check is an answer, not a refusal; over NATS
            // it carries its status code.
            let mut data: Value = serde_json::from_slice(&resp.body).unwrap_or(Value::Null);
            if let Some(m) = data.as_object_mut() {
                m.insert("status_code".into(), json!(resp.status));
            }
            let mut v = envelope(s);
            v.put("data", data);
            v
        }
        "ACCOUNTZ" => wrap(
            s,
            super::accountz::accountz(s, &query(vec![("acc", opt(o, "account"))])),
        ),
        "ROUTEZ" => wrap(s, super::cluster::routez(s, &query(vec![]))),
        "GATEWAYZ" => wrap(s, super::cluster::gatewayz(s, &query(vec![]))),
        "LEAFZ" => wrap(s, super::cluster::leafz(s, &query(vec![]))),
        "IDZ" => {
            // The bare identity, no envelope.
            let mut v = Ordered::default();
            v.put("name", json!(s.name()));
            v.put("host", json!(s.opts().host));
            v.put("id", json!(s.id()));
            v
        }
        "RELOAD" => match s.reload() {
            Ok(()) => envelope(s),
            Err(e) => error(s, 500, &e.to_string()),
        },
        "KICK" => client_action(s, o, |h| h.close(crate::handle::CloseReason::Kicked))?,
        "LDM" => client_action(s, o, |h| {
            if let Some(out) = h.outbound() {
                let mut info = s.info(h.id, None, None, None);
                info.ldm = Some(true);
                let json = info.to_json();
                out.send_now(|b| crate::proto::write::append_info(b, &json));
            }
        })?,
        _ => {
            debug!("unknown system request {what}");
            return None;
        }
    })
}

/// KICK and LDM: `{"cid": N}` names the connection (no body: no answer).
fn client_action(
    server: &Server,
    o: &Value,
    act: impl Fn(&crate::handle::Handle),
) -> Option<Ordered> {
    let cid = o.get("cid").and_then(Value::as_u64)?;
    Some(
        match server.connections().into_iter().find(|c| c.id() == cid) {
            Some(c) => {
                act(&c.handle);
                envelope(server)
            }
            None => error(server, 500, &format!("client {cid} not found")),
        },
    )
}

fn connz_query(o: &Value, account: Option<&str>) -> Request {
    let subs = if o.get("subscriptions_detail").and_then(Value::as_bool) == Some(true) {
        "detail".to_string()
    } else {
        opt(o, "subscriptions")
    };
    let state = match o.get("state").and_then(Value::as_u64) {
        Some(1) => "closed",
        Some(2) => "any",
        _ => "",
    };
    query(vec![
        ("sort", opt(o, "sort")),
        ("auth", opt(o, "auth")),
        ("subs", subs),
        ("offset", opt(o, "offset")),
        ("limit", opt(o, "limit")),
        ("cid", opt(o, "cid")),
        ("state", state.to_string()),
        ("user", opt(o, "user")),
        ("acc", account.map_or_else(|| opt(o, "acc"), str::to_string)),
    ])
}

fn subsz_query(o: &Value, account: Option<&str>) -> Request {
    query(vec![
        ("subs", opt(o, "subscriptions")),
        ("offset", opt(o, "offset")),
        ("limit", opt(o, "limit")),
        ("test", opt(o, "test")),
        (
            "acc",
            account.map_or_else(|| opt(o, "account"), str::to_string),
        ),
    ])
}

fn jsz_query(o: &Value, account: Option<&str>) -> Request {
    query(vec![
        ("accounts", opt(o, "accounts")),
        ("streams", opt(o, "streams")),
        ("consumers", opt(o, "consumer")),
        ("config", opt(o, "config")),
        ("offset", opt(o, "offset")),
        ("limit", opt(o, "limit")),
        (
            "acc",
            account.map_or_else(|| opt(o, "account"), str::to_string),
        ),
    ])
}

/// `$SYS.REQ.ACCOUNT.PING.STATZ` (the accounts asked for, or every one
/// with connections) and `.CONNZ`.
async fn account_ping(
    server: &Arc<Server>,
    _stats: &RequestStats,
    what: &str,
    o: &Value,
) -> Option<Ordered> {
    match what {
        "STATZ" => {
            let unused = o.get("include_unused").and_then(Value::as_bool) == Some(true);
            let wanted: Vec<String> = o
                .get("accounts")
                .and_then(Value::as_array)
                .map(|l| {
                    l.iter()
                        .filter_map(|a| a.as_str().map(str::to_string))
                        .collect()
                })
                .unwrap_or_default();
            let stats: Vec<Ordered> = server
                .accounts()
                .iter()
                .filter(|a| wanted.is_empty() || wanted.contains(&a.name))
                .filter(|a| unused || server.account_connections(a) > 0)
                .map(|a| super::accountz::account_stat(server, a))
                .collect();
            if stats.is_empty() && !unused {
                // Nothing to report: the reference stays silent.
                return None;
            }
            let mut data = Ordered::default();
            data.put("server_id", json!(server.id()));
            data.put("now", json!(rfc3339(super::query::now_nanos())));
            data.put_list("account_statz", stats);
            let mut v = envelope(server);
            v.put_nested("data", data);
            Some(v)
        }
        "CONNZ" => Some(wrap(
            server,
            super::connz::connz(server, &connz_query(o, None)),
        )),
        _ => None,
    }
}

/// `$SYS.REQ.ACCOUNT.<acc>.<X>`: one account's view.
async fn account_request(
    server: &Arc<Server>,
    _stats: &RequestStats,
    account: &str,
    what: &str,
    o: &Value,
) -> Option<Ordered> {
    let s = server;
    let acc = server.account(account)?;
    Some(match what {
        "CONNZ" => wrap(s, super::connz::connz(s, &connz_query(o, Some(account)))),
        "SUBSZ" => wrap(s, super::subsz::subsz(s, &subsz_query(o, Some(account)))),
        "JSZ" => wrap(s, super::jsz::jsz(s, &jsz_query(o, Some(account))).await),
        "INFO" => wrap(
            s,
            super::accountz::accountz(s, &query(vec![("acc", account.to_string())])),
        ),
        "LEAFZ" => wrap(s, super::cluster::leafz(s, &query(vec![]))),
        "CONNS" => {
            // The raw connection-count event, only while there are some.
            if server.account_connections(&acc) == 0 {
                return None;
            }
            super::events::account_connections(server, &acc)
        }
        "STATZ" => account_statz(server, &acc, o)?,
        _ => return None,
    })
}

/// An account's statz answer; `None` for an account without connections
/// unless `include_unused` asks for it (the reference stays silent).
fn account_statz(
    server: &Server,
    acc: &Arc<crate::account::Account>,
    o: &Value,
) -> Option<Ordered> {
    let unused = o.get("include_unused").and_then(Value::as_bool) == Some(true);
    if !unused && server.account_connections(acc) == 0 {
        return None;
    }
    let mut data = Ordered::default();
    data.put("server_id", json!(server.id()));
    data.put("now", json!(rfc3339(super::query::now_nanos())));
    data.put_list(
        "account_statz",
        vec![super::accountz::account_stat(server, acc)],
    );
    let mut v = envelope(server);
    v.put_nested("data", data);
    Some(v)
}

/// A request from a client of `account` to one of the services every
/// account imports: queued for the system service (dropped when it is
/// full, as an overloaded reference stays silent). False when `subject`
/// is not one of them.
pub(crate) fn imported(
    server: &Server,
    account: &Arc<crate::account::Account>,
    subject: &[u8],
    reply: &[u8],
    payload: &[u8],
) -> bool {
    if !IMPORTED.contains(&subject) {
        return false;
    }
    if let Some(queue) = server.system_queue() {
        let _ = queue.try_send(Asked {
            subject: String::from_utf8_lossy(subject).into_owned(),
            reply: String::from_utf8_lossy(reply).into_owned(),
            payload: payload.to_vec(),
            for_account: Some(account.clone()),
        });
    }
    true
}

/// The imported services, answered for the requesting `account` whatever
/// the request names; `None` for a statz with nothing to report.
fn answer_imported(
    server: &Arc<Server>,
    account: &crate::account::Account,
    asked: &Asked,
) -> Option<Vec<u8>> {
    let o: Value = if asked.payload.iter().all(u8::is_ascii_whitespace) {
        json!({})
    } else {
        match serde_json::from_slice(&asked.payload) {
            Ok(v) => v,
            Err(e) => return Some(super::compact(&error(server, 400, &e.to_string()))),
        }
    };
    let answer = match asked.subject.as_str() {
        "$SYS.REQ.ACCOUNT.PING.CONNZ" | "$SYS.REQ.SERVER.PING.CONNZ" => wrap(
            server,
            super::connz::connz(server, &connz_query(&o, Some(&account.name))),
        ),
        _ => account_statz(server, &server.account(&account.name)?, &o)?,
    };
    Some(super::compact(&answer))
}

/// `{"server": .., "statsz": ..}`: the server's figures, as the periodic
/// `$SYS.SERVER.<id>.STATSZ` and `$SYS.REQ.SERVER.PING` carry them.
pub(crate) async fn statsz(server: &Arc<Server>) -> Ordered {
    let (mem, cpu) = super::varz::process_usage_now(server);
    let s = server.stats();
    let (out_msgs, out_bytes) = server.out_totals();
    let data = |msgs: u64, bytes: u64| json!({"msgs": msgs, "bytes": bytes});
    let mut st = Ordered::default();
    st.put(
        "start",
        json!(rfc3339(crate::handle::conn_info::unix_nanos(
            server.started_at()
        ))),
    );
    st.put("mem", json!(mem));
    st.put(
        "cores",
        json!(std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
    );
    st.put("cpu", json!(cpu));
    st.put("connections", json!(server.connections().len()));
    st.put(
        "total_connections",
        json!(s.total_connections.load(Ordering::Relaxed)),
    );
    st.put(
        "active_accounts",
        json!(server
            .accounts()
            .iter()
            .filter(|a| server.account_connections(a) > 0)
            .count()),
    );
    st.put("subscriptions", json!(server.num_subscriptions()));
    st.put("sent", data(out_msgs, out_bytes));
    st.put(
        "received",
        data(
            s.in_msgs.load(Ordering::Relaxed),
            s.in_bytes.load(Ordering::Relaxed),
        ),
    );
    st.put(
        "slow_consumers",
        json!(s.slow_consumers.load(Ordering::Relaxed)),
    );
    st.put("active_servers", json!(1));
    if server.opts().jetstream {
        // Varz's block, as statsz carries it: no store dir, no limits.
        let mut js = super::varz::jetstream(server).await;
        if let Some(m) = js.as_object_mut() {
            m.remove("limits");
        }
        if let Some(c) = js.get_mut("config").and_then(Value::as_object_mut) {
            c.remove("store_dir");
        }
        st.put("jetstream", js);
    }
    st.put(
        "gomaxprocs",
        json!(std::thread::available_parallelism().map_or(1, std::num::NonZero::get)),
    );
    let mut v = Ordered::default();
    v.put_nested("server", server_info(server));
    v.put_nested("statsz", st);
    v
}
