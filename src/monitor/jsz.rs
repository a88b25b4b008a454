//! `/jsz`: JetStream's totals, and per account its streams and
//! consumers on request, read through each account's JetStream API (as
//! monitoring asks, uncounted) and shaped as the reference reports them.

use std::sync::Arc;

use serde_json::{json, Map, Value};

use super::http::{Request, Response};
use super::query::{self, rfc3339};
use super::{lookup, Ordered};
use crate::server::Server;

/// Streams asked for per page of `$JS.API.STREAM.LIST`.
const PAGE: usize = 256;

/// One account's JetStream as monitoring sees it: its `$JS.API.INFO`
/// answer and its streams (each with its consumers, when asked).
pub struct AccountJs {
    pub name: String,
    pub info: Value,
    pub streams: Vec<Value>,
}

/// The accounts whose JetStream answers, sorted by name, with their
/// streams (`with_consumers`: each stream's `consumers` list filled in).
pub async fn accounts(server: &Arc<Server>, with_consumers: bool) -> Vec<AccountJs> {
    if !server.opts().jetstream {
        return Vec::new();
    }
    let system = server.system_account_name().unwrap_or("");
    let mut out = Vec::new();
    for account in server.accounts() {
        if account.name == system {
            continue;
        }
        let Some(info) = lookup(server, &account.name, "$JS.API.INFO").await else {
            continue;
        };
        if info.get("error").is_some() {
            continue;
        }
        let mut streams = list(server, &account.name, "$JS.API.STREAM.LIST", "streams").await;
        if with_consumers {
            for s in &mut streams {
                let name = s
                    .pointer("/config/name")
                    .and_then(Value::as_str)
                    .unwrap_or("")
                    .to_string();
                let subject = format!("$JS.API.CONSUMER.LIST.{name}");
                let consumers = list(server, &account.name, &subject, "consumers").await;
                if let Some(m) = s.as_object_mut() {
                    m.insert("consumers".into(), Value::Array(consumers));
                }
            }
        }
        out.push(AccountJs {
            name: account.name.clone(),
            info,
            streams,
        });
    }
    out
}

/// Every page of a JetStream list request.
async fn list(server: &Arc<Server>, account: &str, subject: &str, field: &str) -> Vec<Value> {
    let mut all = Vec::new();
    loop {
        let body = json!({ "offset": all.len() }).to_string();
        let Some(page) = super::lookup_with(server, account, subject, body.as_bytes()).await else {
            break;
        };
        let items = page
            .get(field)
            .and_then(Value::as_array)
            .cloned()
            .unwrap_or_default();
        let total = page.get("total").and_then(Value::as_u64).unwrap_or(0) as usize;
        let got = items.len();
        all.extend(items);
        if got == 0 || all.len() >= total || got < PAGE.min(total) && all.len() >= total {
            break;
        }
    }
    all
}

/// A stream's messages and bytes, from its info.
fn state_u64(stream: &Value, key: &str) -> u64 {
    stream
        .pointer(&format!("/state/{key}"))
        .and_then(Value::as_u64)
        .unwrap_or(0)
}

/// The memory..api block of the reference's `JetStreamStats`.
fn stats_block(v: &mut Ordered, info: &Value, accounts: usize, api_level: u64) {
    for k in ["memory", "storage", "reserved_memory", "reserved_storage"] {
        v.put(k, json!(info.get(k).and_then(Value::as_u64).unwrap_or(0)));
    }
    v.put("accounts", json!(accounts));
    v.put("ha_assets", json!(0));
    let api = |k: &str| {
        info.pointer(&format!("/api/{k}"))
            .and_then(Value::as_u64)
            .unwrap_or(0)
    };
    v.put(
        "api",
        json!({"level": api_level, "total": api("total"), "errors": api("errors")}),
    );
}

pub async fn jsz(server: &Arc<Server>, req: &Request) -> Response {
    let mut flags = [false; 4];
    for (i, name) in ["accounts", "streams", "consumers", "config"]
        .iter()
        .enumerate()
    {
        match query::boolean(req, name) {
            Ok(b) => flags[i] = b,
            Err(resp) => return resp,
        }
    }
    for name in [
        "direct-consumers",
        "leader-only",
        "raft",
        "stream-leader-only",
    ] {
        if let Err(resp) = query::boolean(req, name) {
            return resp;
        }
    }
    let [mut with_accounts, mut with_streams, with_consumers, with_config] = flags;
    let (offset, limit) = match query::paging(req, 1024) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let only = req.param("acc").unwrap_or("").to_string();
    with_streams |= with_consumers;
    with_accounts |= with_streams && only.is_empty();
    let now = rfc3339(query::now_nanos());
    let o = server.opts();
    let mut v = Ordered::default();
    if !o.jetstream {
        stats_block(&mut v, &Value::Null, 0, 0);
        v.put("server_id", json!(server.id()));
        v.put("now", json!(now));
        v.put("disabled", json!(true));
        v.put("config", json!({"max_memory": 0, "max_storage": 0}));
        for k in ["streams", "consumers", "messages", "bytes", "total"] {
            v.put(k, json!(0));
        }
        return Response::json(200, super::pretty(&v));
    }
    let all = accounts(server, with_consumers).await;
    let mut totals = Map::new();
    for k in ["memory", "storage", "reserved_memory", "reserved_storage"] {
        let sum: u64 = all
            .iter()
            .map(|a| a.info.get(k).and_then(Value::as_u64).unwrap_or(0))
            .sum();
        totals.insert(k.into(), json!(sum));
    }
    let api_sum = |k: &str| -> u64 {
        all.iter()
            .map(|a| {
                a.info
                    .pointer(&format!("/api/{k}"))
                    .and_then(Value::as_u64)
                    .unwrap_or(0)
            })
            .sum()
    };
    totals.insert(
        "api".into(),
        json!({"total": api_sum("total"), "errors": api_sum("errors")}),
    );
    stats_block(
        &mut v,
        &Value::Object(totals),
        all.len(),
        u64::from(crate::config::options::API_LEVEL),
    );
    v.put("server_id", json!(server.id()));
    v.put("now", json!(now));
    v.put("config", super::varz::jetstream_config(&o));
    v.put("limits", json!({}));
    let streams: Vec<&Value> = all.iter().flat_map(|a| &a.streams).collect();
    v.put("streams", json!(streams.len()));
    v.put(
        "consumers",
        json!(streams
            .iter()
            .map(|s| state_u64(s, "consumer_count"))
            .sum::<u64>()),
    );
    v.put(
        "messages",
        json!(streams
            .iter()
            .map(|s| state_u64(s, "messages"))
            .sum::<u64>()),
    );
    v.put(
        "bytes",
        json!(streams.iter().map(|s| state_u64(s, "bytes")).sum::<u64>()),
    );
    let total = all.len();
    let shown: Vec<&AccountJs> = if let Some(a) = all.iter().find(|a| a.name == only) {
        vec![a]
    } else if with_accounts {
        query::page(all.iter().collect(), offset, limit)
    } else {
        Vec::new()
    };
    if !shown.is_empty() {
        let details: Vec<Ordered> = shown
            .into_iter()
            .map(|a| account_detail(server, a, with_streams, with_consumers, with_config))
            .collect();
        v.put_list("account_details", details);
    }
    v.put("total", json!(total));
    Response::json(200, super::pretty(&v))
}

fn account_detail(
    server: &Server,
    a: &AccountJs,
    streams: bool,
    consumers: bool,
    config: bool,
) -> Ordered {
    let mut v = Ordered::default();
    v.put("name", json!(a.name));
    v.put("id", json!(a.name));
    let mut info = a.info.clone();
    // Per account, the reference reports unreserved limits as -1 read
    // unsigned, and its own API level as 0.
    if let Some(m) = info.as_object_mut() {
        for k in ["reserved_memory", "reserved_storage"] {
            m.insert(k.into(), json!(u64::MAX));
        }
    }
    stats_block(&mut v, &info, 0, 0);
    if streams && !a.streams.is_empty() {
        let list: Vec<Ordered> = a
            .streams
            .iter()
            .map(|s| stream_detail(server, s, consumers, config))
            .collect();
        v.put_list("stream_detail", list);
    }
    v
}

fn stream_detail(server: &Server, s: &Value, consumers: bool, config: bool) -> Ordered {
    let mut v = Ordered::default();
    v.put(
        "name",
        s.pointer("/config/name").cloned().unwrap_or(Value::Null),
    );
    v.put("created", s.get("created").cloned().unwrap_or(Value::Null));
    v.put("cluster", json!({"leader": server.name()}));
    if config {
        v.put("config", s.get("config").cloned().unwrap_or(Value::Null));
    }
    v.put("state", s.get("state").cloned().unwrap_or(Value::Null));
    if consumers {
        let list: Vec<Value> = s
            .get("consumers")
            .and_then(Value::as_array)
            .map(|l| {
                l.iter()
                    .map(|c| {
                        let mut c = c.clone();
                        if let Some(m) = c.as_object_mut() {
                            m.remove("type");
                            if !config {
                                m.remove("config");
                            }
                        }
                        c
                    })
                    .collect()
            })
            .unwrap_or_default();
        if !list.is_empty() {
            v.put("consumer_detail", Value::Array(list));
        }
    }
    v
}
