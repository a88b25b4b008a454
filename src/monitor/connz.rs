//! `/connz`: the connections, open, closed (the bounded ring) or both,
//! filtered, sorted and paged as the reference does, with subscriptions
//! and the signed-in user on request.

use std::collections::HashMap;
use std::sync::Arc;

use serde::Serialize;

use super::http::{Request, Response};
use super::query::{self, go_duration, rfc3339};
use super::varz::uptime;
use crate::account::GLOBAL_ACCOUNT;
use crate::handle::conn_info::{ConnSnapshot, SubSnapshot};
use crate::server::Server;

/// Connections listed when `limit` is not given.
const DEFAULT_LIMIT: usize = 1024;

/// Which connections to list.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum State {
    Open,
    Closed,
    Any,
}

/// How to order them (the reference's `sort` values).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Sort {
    Cid,
    Subs,
    Pending,
    MsgsTo,
    MsgsFrom,
    BytesTo,
    BytesFrom,
    Last,
    Idle,
    Uptime,
    Stop,
    Reason,
    Rtt,
}

impl Sort {
    fn parse(s: &str) -> Option<Sort> {
        Some(match s {
            "" | "cid" | "start" => Sort::Cid,
            "subs" => Sort::Subs,
            "pending" => Sort::Pending,
            "msgs_to" => Sort::MsgsTo,
            "msgs_from" => Sort::MsgsFrom,
            "bytes_to" => Sort::BytesTo,
            "bytes_from" => Sort::BytesFrom,
            "last" => Sort::Last,
            "idle" => Sort::Idle,
            "uptime" => Sort::Uptime,
            "stop" => Sort::Stop,
            "reason" => Sort::Reason,
            "rtt" => Sort::Rtt,
            _ => return None,
        })
    }
}

/// The request, decoded.
struct Options {
    sort: Sort,
    auth: bool,
    subs: bool,
    detail: bool,
    offset: usize,
    limit: usize,
    cid: u64,
    state: State,
    user: String,
    account: String,
}

fn options(req: &Request) -> Result<Options, Response> {
    let sort_text = req.param("sort").unwrap_or("");
    let auth = query::boolean(req, "auth")?;
    let detail = req
        .param("subs")
        .is_some_and(|v| v.eq_ignore_ascii_case("detail"));
    let subs = !detail && query::boolean(req, "subs")?;
    let (offset, limit) = query::paging(req, DEFAULT_LIMIT)?;
    let cid = query::uint(req, "cid")?;
    let state = match req.param("state").map(str::to_ascii_lowercase).as_deref() {
        None | Some("") | Some("open") => State::Open,
        Some("closed") => State::Closed,
        Some("any" | "all") => State::Any,
        Some(_) => {
            return Err(Response::text(
                400,
                format!(
                    "Error decoding state for {}",
                    req.param("state").unwrap_or("")
                ),
            ))
        }
    };
    let bad = |text: String| Err(Response::text(400, text));
    let Some(sort) = Sort::parse(sort_text) else {
        return bad(format!("invalid sorting option: {sort_text}"));
    };
    if sort == Sort::Stop && state != State::Closed {
        return bad("sort by stop only valid on closed connections".into());
    }
    if sort == Sort::Reason && state != State::Closed {
        return bad("sort by reason only valid on closed connections".into());
    }
    Ok(Options {
        sort,
        auth,
        subs,
        detail,
        offset,
        limit: if cid > 0 { 1 } else { limit },
        cid,
        state,
        user: req.param("user").unwrap_or("").to_string(),
        account: req.param("acc").unwrap_or("").to_string(),
    })
}

#[derive(Serialize)]
struct Connz {
    server_id: String,
    now: String,
    num_connections: usize,
    total: usize,
    offset: usize,
    limit: usize,
    connections: Vec<ConnJson>,
}

/// One connection, with the reference's field names and order.
#[derive(Serialize)]
struct ConnJson {
    cid: u64,
    kind: &'static str,
    #[serde(rename = "type")]
    kind_type: &'static str,
    ip: String,
    port: u16,
    start: String,
    last_activity: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    stop: Option<String>,
    #[serde(skip_serializing_if = "String::is_empty")]
    reason: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    rtt: String,
    uptime: String,
    idle: String,
    pending_bytes: usize,
    in_msgs: u64,
    out_msgs: u64,
    in_bytes: u64,
    out_bytes: u64,
    subscriptions: usize,
    #[serde(skip_serializing_if = "String::is_empty")]
    name: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    lang: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    tls_version: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    tls_cipher_suite: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    authorized_user: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    account: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list: Option<Vec<String>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    subscriptions_list_detail: Option<Vec<SubJson>>,
    #[serde(skip_serializing_if = "String::is_empty")]
    jwt: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    name_tag: String,
}

/// A subscription as `subs=detail` (and `/subsz?subs=1`) lists it.
#[derive(Serialize)]
pub struct SubJson {
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account: String,
    #[serde(skip_serializing_if = "String::is_empty")]
    pub account_tag: String,
    pub subject: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub qgroup: Option<String>,
    pub sid: String,
    pub msgs: u64,
    #[serde(skip_serializing_if = "is_zero")]
    pub max: u64,
    pub cid: u64,
}

fn is_zero(n: &u64) -> bool {
    *n == 0
}

impl SubJson {
    pub fn of(s: SubSnapshot, cid: u64, account: &str) -> SubJson {
        SubJson {
            account: account.to_string(),
            account_tag: account.to_string(),
            subject: s.subject,
            qgroup: s.queue,
            sid: s.sid,
            msgs: s.msgs,
            max: s.max,
            cid,
        }
    }
}

pub fn connz(server: &Arc<Server>, req: &Request) -> Response {
    let o = match options(req) {
        Ok(o) => o,
        Err(resp) => return resp,
    };
    let now = query::now_nanos();
    let open = matches!(o.state, State::Open | State::Any);
    let closed = matches!(o.state, State::Closed | State::Any);
    let mut conns: Vec<(ConnSnapshot, String)> = Vec::new();
    let mut total = 0;
    if open {
        let live = server.connections();
        total += live.len();
        for c in live {
            let account = c.account().name.clone();
            if let Some(s) = c.handle.snapshot() {
                conns.push((s, account));
            }
        }
    }
    if closed {
        let gone = server.closed_connections();
        total += gone.len();
        // One that closed between the two reads is listed once, closed.
        let before = conns.len();
        let closed_ids: std::collections::HashSet<u64> = gone.iter().map(|g| g.cid).collect();
        conns.retain(|(s, _)| !closed_ids.contains(&s.cid));
        total -= before - conns.len();
        conns.extend(gone.into_iter().map(|s| {
            let account = s.details.account.clone();
            (s, account)
        }));
    }
    if !o.account.is_empty() {
        // An account filter counts only that account's connections.
        conns.retain(|(_, a)| *a == o.account);
        total = conns.len();
    }
    if o.cid > 0 {
        // Open first (a cid is listed once, see above).
        conns.retain(|(s, _)| s.cid == o.cid);
        conns.truncate(1);
    } else if !o.user.is_empty() {
        conns.retain(|(s, _)| s.details.user == o.user);
    }
    sort(&mut conns, o.sort, now);
    let shown = query::page(conns, o.offset, o.limit);
    let mut subs_of = if (o.subs || o.detail) && open {
        let page: std::collections::HashSet<u64> = shown
            .iter()
            .filter(|(s, _)| s.stop.is_none())
            .map(|(s, _)| s.cid)
            .collect();
        open_subscriptions(server, &page)
    } else {
        HashMap::new()
    };
    let connections: Vec<ConnJson> = shown
        .into_iter()
        .map(|(s, account)| {
            let subs = match &s.stop {
                Some(_) => s.subs.clone(),
                None => subs_of.remove(&s.cid).unwrap_or_default(),
            };
            conn_json(s, &account, subs, &o, now)
        })
        .collect();
    let body = Connz {
        server_id: server.id().to_string(),
        now: rfc3339(now),
        num_connections: connections.len(),
        total,
        offset: o.offset,
        limit: o.limit,
        connections,
    };
    Response::json(200, super::pretty(&body))
}

/// The subscriptions of the open connections `cids`, by connection id.
/// Only handles are gathered under each router's read lock; the copies
/// are made after it is released.
fn open_subscriptions(
    server: &Server,
    cids: &std::collections::HashSet<u64>,
) -> HashMap<u64, Vec<SubSnapshot>> {
    let mut found = Vec::new();
    for account in server.accounts() {
        account.router.for_each(|sub| {
            if cids.contains(&sub.client.id) && !sub.is_closed() {
                found.push(sub.clone());
            }
        });
    }
    let mut by_cid: HashMap<u64, Vec<SubSnapshot>> = HashMap::new();
    for sub in found {
        by_cid
            .entry(sub.client.id)
            .or_default()
            .push(crate::router::sub_snapshot(&sub));
    }
    for subs in by_cid.values_mut() {
        subs.sort_by(|a, b| a.sid.cmp(&b.sid));
    }
    by_cid
}

fn sort(conns: &mut [(ConnSnapshot, String)], by: Sort, now: u64) {
    // Ties keep connection order (the sorts below are stable).
    conns.sort_by_key(|(s, _)| s.cid);
    let end = |s: &ConnSnapshot| s.stop.as_ref().map_or(now, |(t, _)| *t);
    match by {
        Sort::Cid => conns.sort_by_key(|(s, _)| s.cid),
        Sort::Subs => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.subscriptions)),
        Sort::Pending => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.pending)),
        Sort::MsgsTo => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.out_msgs)),
        Sort::MsgsFrom => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.in_msgs)),
        Sort::BytesTo => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.out_bytes)),
        Sort::BytesFrom => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.in_bytes)),
        Sort::Last => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.last_activity)),
        Sort::Idle => {
            conns.sort_by_key(|(s, _)| std::cmp::Reverse(end(s).saturating_sub(s.last_activity)))
        }
        Sort::Uptime => conns.sort_by_key(|(s, _)| end(s).saturating_sub(s.start)),
        Sort::Stop => conns.sort_by_key(|(s, _)| std::cmp::Reverse(end(s))),
        Sort::Reason => conns.sort_by(|(a, _), (b, _)| {
            let reason = |s: &ConnSnapshot| s.stop.as_ref().map(|(_, r)| r.clone());
            reason(a).cmp(&reason(b))
        }),
        Sort::Rtt => conns.sort_by_key(|(s, _)| std::cmp::Reverse(s.rtt)),
    }
}

fn conn_json(
    s: ConnSnapshot,
    account: &str,
    subs: Vec<SubSnapshot>,
    o: &Options,
    now: u64,
) -> ConnJson {
    let end = s.stop.as_ref().map_or(now, |(t, _)| *t);
    let since = |t: u64| uptime(std::time::Duration::from_nanos(end.saturating_sub(t)));
    let (subscriptions_list, subscriptions_list_detail) = if subs.is_empty() {
        (None, None)
    } else if o.detail {
        let cid = s.cid;
        (
            None,
            Some(
                subs.into_iter()
                    .map(|sub| {
                        let mut j = SubJson::of(sub, cid, "");
                        j.account_tag.clear();
                        j
                    })
                    .collect(),
            ),
        )
    } else if o.subs {
        (
            Some(subs.into_iter().map(|sub| sub.subject).collect()),
            None,
        )
    } else {
        (None, None)
    };
    let d = s.details;
    let (authorized_user, shown_account, jwt, name_tag) = if o.auth {
        let shown = if account == GLOBAL_ACCOUNT || account.is_empty() {
            String::new()
        } else {
            account.to_string()
        };
        (d.user, shown, redact_jwt(&d.jwt), account.to_string())
    } else {
        Default::default()
    };
    ConnJson {
        cid: s.cid,
        kind: "Client",
        kind_type: "nats",
        ip: s.peer.ip().to_string(),
        port: s.peer.port(),
        start: rfc3339(s.start),
        last_activity: rfc3339(s.last_activity),
        stop: s.stop.as_ref().map(|(t, _)| rfc3339(*t)),
        reason: s.stop.as_ref().map(|(_, r)| r.clone()).unwrap_or_default(),
        rtt: if s.rtt > 0 {
            go_duration(s.rtt)
        } else {
            String::new()
        },
        uptime: since(s.start),
        idle: since(s.last_activity),
        pending_bytes: s.pending,
        in_msgs: s.in_msgs,
        out_msgs: s.out_msgs,
        in_bytes: s.in_bytes,
        out_bytes: s.out_bytes,
        subscriptions: s.subscriptions,
        name: d.name,
        lang: d.lang,
        version: d.version,
        tls_version: d.tls_version,
        tls_cipher_suite: d.tls_cipher,
        authorized_user,
        account: shown_account,
        subscriptions_list,
        subscriptions_list_detail,
        jwt,
        name_tag,
    }
}

/// A bearer JWT is a credential on its own: the reference leaves it out.
fn redact_jwt(jwt: &str) -> String {
    let bearer = crate::jwt::decode(jwt, crate::jwt::ClaimKind::User).is_ok_and(|c| {
        c.nats
            .get("bearer_token")
            .and_then(serde_json::Value::as_bool)
            == Some(true)
    });
    if bearer {
        String::new()
    } else {
        jwt.to_string()
    }
}
