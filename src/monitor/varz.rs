//! `/varz`: the server's settings and counters, with the reference's
//! field names, order and types (pretty-printed as it prints them).

use std::sync::atomic::Ordering;
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use serde_json::{json, Value};

use super::http::Response;
use super::{lookup, Ordered, RequestStats};
use crate::config::options::{Port, SyncInterval, NATS_VERSION};
use crate::server::Server;

/// The `websocket` section, as the reference fills it (empty without a
/// `websocket` block; unset fields left out).
fn websocket(server: &Server) -> serde_json::Value {
    let Some(ws) = &server.opts().websocket else {
        return json!({});
    };
    let mut m = serde_json::Map::new();
    let addr = server.websocket_addr();
    if let Some(a) = addr {
        m.insert("host".into(), json!(a.ip().to_string()));
        m.insert("port".into(), json!(a.port()));
    }
    m.insert(
        "handshake_timeout".into(),
        json!(ws.handshake_timeout.as_nanos() as u64),
    );
    if ws.no_tls {
        m.insert("no_tls".into(), json!(true));
    }
    if ws.origins.same_origin {
        m.insert("same_origin".into(), json!(true));
    }
    if !ws.origins.allowed.is_empty() {
        m.insert("allowed_origins".into(), json!(ws.origins.allowed));
    }
    if ws.compression {
        m.insert("compression".into(), json!(true));
    }
    serde_json::Value::Object(m)
}

/// The reference's `myUptime`: `5s`, `3m5s`, `2h3m5s`, `1d2h3m5s`,
/// `1y1d2h3m5s`.
pub fn uptime(d: Duration) -> String {
    let s = d.as_secs();
    let (m, h, days) = (s / 60, s / 3600, s / 86_400);
    let years = days / 365;
    if years > 0 {
        format!("{years}y{}d{}h{}m{}s", days % 365, h % 24, m % 60, s % 60)
    } else if days > 0 {
        format!("{days}d{}h{}m{}s", h % 24, m % 60, s % 60)
    } else if h > 0 {
        format!("{h}h{}m{}s", m % 60, s % 60)
    } else if m > 0 {
        format!("{m}m{}s", s % 60)
    } else {
        format!("{s}s")
    }
}

fn rfc3339(t: SystemTime) -> String {
    let ns = t
        .duration_since(UNIX_EPOCH)
        .map_or(0, |d| d.as_nanos() as i64);
    tern_jetstream::api::format_time(ns)
}

/// Resident memory and CPU seconds of this process, from /proc.
fn process_usage() -> (u64, f64) {
    let rss = std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find(|l| l.starts_with("VmRSS:"))
                .and_then(|l| l.split_whitespace().nth(1))
                .and_then(|kb| kb.parse::<u64>().ok())
        })
        .map_or(0, |kb| kb * 1024);
    // utime and stime, fields 14 and 15, in clock ticks (100 a second on
    // Linux), after the command name in parentheses.
    let cpu = std::fs::read_to_string("/proc/self/stat")
        .ok()
        .and_then(|s| {
            let rest = s.rsplit_once(')')?.1;
            let f: Vec<&str> = rest.split_whitespace().collect();
            let ticks = f.get(11)?.parse::<f64>().ok()? + f.get(12)?.parse::<f64>().ok()?;
            Some(ticks / 100.0)
        })
        .unwrap_or(0.0);
    (rss, cpu)
}

/// Resident memory, and CPU use in percent since start, as varz and
/// statsz report them.
pub fn process_usage_now(server: &Server) -> (u64, f64) {
    let (mem, cpu_secs) = process_usage();
    let up = SystemTime::now()
        .duration_since(server.started_at())
        .unwrap_or_default()
        .as_secs_f64();
    let cpu = if up > 0.0 {
        (cpu_secs / up * 100.0 * 100.0).round() / 100.0
    } else {
        0.0
    };
    (mem, cpu)
}

fn port_number(p: Option<Port>, bound: Option<std::net::SocketAddr>) -> u16 {
    bound
        .map(|a| a.port())
        .or(match p {
            Some(Port::Fixed(n)) => Some(n),
            _ => None,
        })
        .unwrap_or(0)
}

pub async fn varz(server: &std::sync::Arc<Server>, stats: &RequestStats) -> Response {
    Response::json(200, super::pretty(&fields(server, stats).await))
}

/// The `/varz` object (also what `/metrics` flattens into `nats_varz_*`).
pub async fn fields(server: &std::sync::Arc<Server>, stats: &RequestStats) -> Ordered {
    let o = server.opts();
    let now = SystemTime::now();
    let started = server.started_at();
    let up = now.duration_since(started).unwrap_or_default();
    let (mem, cpu_secs) = process_usage();
    let cpu = if up.as_secs_f64() > 0.0 {
        (cpu_secs / up.as_secs_f64() * 100.0 * 100.0).round() / 100.0
    } else {
        0.0
    };
    let cores = std::thread::available_parallelism().map_or(1, |n| n.get());
    let s = server.stats();
    let (out_msgs, out_bytes) = server.out_totals();
    let zero_stats = || json!({"clients": 0, "routes": 0, "gateways": 0, "leafs": 0});
    let mut v = Ordered::default();
    let mut put = |k: &'static str, val: Value| v.put(k, val);
    put("server_id", json!(server.id()));
    put("server_name", json!(server.name()));
    put("version", json!(NATS_VERSION));
    put("proto", json!(1));
    put("go", json!("tern"));
    put("host", json!(o.host));
    put("port", json!(server.addr().map_or(0, |a| a.port())));
    if o.auth.required() {
        put("auth_required", json!(true));
    }
    if let Some(tls) = &o.tls {
        put("tls_required", json!(!o.allow_non_tls));
        if tls.verify {
            put("tls_verify", json!(true));
        }
    }
    if server.peers().cluster_name().is_some() {
        let others = server.peers().peer_client_urls();
        if !others.is_empty() {
            let mut urls = server.client_urls();
            urls.extend(others);
            put("connect_urls", json!(urls));
        }
    }
    put("max_connections", json!(o.max_connections));
    if o.max_subscriptions > 0 {
        put("max_subscriptions", json!(o.max_subscriptions));
    }
    put("ping_interval", json!(o.ping_interval.as_nanos() as u64));
    put("ping_max", json!(o.ping_max));
    put(
        "http_host",
        json!(o.http_host.clone().unwrap_or_else(|| o.host.clone())),
    );
    put(
        "http_port",
        json!(o
            .http_port
            .map_or(0, |p| port_number(Some(p), server.monitor_addr()))),
    );
    put("http_base_path", json!(o.http_base_path));
    put(
        "https_port",
        json!(o
            .https_port
            .map_or(0, |p| port_number(Some(p), server.monitor_addr()))),
    );
    put("auth_timeout", json!(o.auth_timeout.as_secs_f64()));
    put("max_control_line", json!(o.max_control_line));
    put("max_payload", json!(o.max_payload));
    put("max_pending", json!(o.max_pending));
    // Filled in below, in the reference's field order.
    put("cluster", json!({}));
    put("gateway", json!({}));
    // Filled in below, in the reference's field order.
    put("leaf", json!({}));
    put("mqtt", json!({}));
    put("websocket", websocket(server));
    put("jetstream", jetstream(server).await);
    let tls_timeout = o
        .tls
        .as_ref()
        .map_or(crate::tls::DEFAULT_TIMEOUT, |t| t.timeout);
    put("tls_timeout", json!(tls_timeout.as_secs_f64()));
    put("write_deadline", json!(o.write_deadline.as_nanos() as u64));
    put("start", json!(rfc3339(started)));
    put("now", json!(rfc3339(now)));
    put("uptime", json!(uptime(up)));
    put("mem", json!(mem));
    put("cores", json!(cores));
    put("gomaxprocs", json!(cores));
    put("cpu", json!(cpu));
    put("connections", json!(server.num_clients()));
    put(
        "total_connections",
        json!(s.total_connections.load(Ordering::Relaxed)),
    );
    let routes = server.peers().routes();
    put("routes", json!(routes.len()));
    let mut remotes: Vec<&str> = routes.iter().map(|r| r.remote_id.as_str()).collect();
    remotes.sort_unstable();
    remotes.dedup();
    put("remotes", json!(remotes.len()));
    put("leafnodes", json!(server.peers().leafs().len()));
    put("in_msgs", json!(s.in_msgs.load(Ordering::Relaxed)));
    put("out_msgs", json!(out_msgs));
    put("in_bytes", json!(s.in_bytes.load(Ordering::Relaxed)));
    put("out_bytes", json!(out_bytes));
    put(
        "slow_consumers",
        json!(s.slow_consumers.load(Ordering::Relaxed)),
    );
    put(
        "stale_connections",
        json!(s.stale_connections.load(Ordering::Relaxed)),
    );
    put("stalled_clients", json!(s.stalls.load(Ordering::Relaxed)));
    put("subscriptions", json!(server.num_subscriptions()));
    put("http_req_stats", json!(*stats.lock()));
    put("config_load_time", json!(rfc3339(started)));
    put("config_digest", json!(""));
    // The reference's optional JetStream behaviours, off here as there.
    put(
        "feature_flags",
        json!({"js_ack_fc_v2": false, "js_raft_delete_range": false}),
    );
    put(
        "system_account",
        json!(server.system_account_name().unwrap_or("")),
    );
    let mut slow = zero_stats();
    slow["clients"] = json!(s.slow_consumers.load(Ordering::Relaxed));
    put("slow_consumer_stats", slow);
    let mut stale = zero_stats();
    stale["clients"] = json!(s.stale_connections.load(Ordering::Relaxed));
    put("stale_connection_stats", stale);
    if let Some(c) = cluster(server, &o) {
        v.set_nested("cluster", c);
    }
    if let Some(l) = leaf(server, &o) {
        v.set_nested("leaf", l);
    }
    v
}

/// JetStream's settings as `/varz` and `/jsz` show them.
pub fn jetstream_config(o: &crate::config::options::Options) -> Value {
    let root = crate::jetstream::store_root(o);
    let sync = match o.sync_interval {
        SyncInterval::Always => 0,
        SyncInterval::Every(d) => d.as_nanos() as u64,
    };
    json!({
        "max_memory": o.max_memory_store.unwrap_or_else(crate::jetstream::default_max_memory),
        "max_storage": o.max_file_store.unwrap_or_else(|| crate::jetstream::default_max_storage(&root)),
        "store_dir": root.display().to_string(),
        "sync_interval": sync,
        "strict": true,
    })
}

/// The `jetstream` block: empty without JetStream; else its config and
/// the totals of the accounts that run it.
pub async fn jetstream(server: &std::sync::Arc<Server>) -> Value {
    let o = server.opts();
    if !o.jetstream {
        return json!({});
    }
    let accounts: Vec<String> = if o.accounts.is_empty() && o.auth.trust.is_none() {
        vec![crate::account::GLOBAL_ACCOUNT.to_string()]
    } else {
        o.accounts
            .iter()
            .filter(|a| a.jetstream.is_some())
            .map(|a| a.name.clone())
            .collect()
    };
    let mut totals = [0u64; 6];
    for acc in &accounts {
        if let Some(info) = lookup(server, acc, "$JS.API.INFO").await {
            for (i, k) in ["memory", "storage", "reserved_memory", "reserved_storage"]
                .iter()
                .enumerate()
            {
                totals[i] += info.get(k).and_then(Value::as_u64).unwrap_or(0);
            }
            let api = info.get("api");
            totals[4] += api
                .and_then(|a| a.get("total"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
            totals[5] += api
                .and_then(|a| a.get("errors"))
                .and_then(Value::as_u64)
                .unwrap_or(0);
        }
    }
    json!({
        "config": jetstream_config(&o),
        "stats": {
            "memory": totals[0],
            "storage": totals[1],
            "reserved_memory": totals[2],
            "reserved_storage": totals[3],
            "accounts": accounts.len(),
            "ha_assets": 0,
            "api": {"level": crate::config::options::API_LEVEL, "total": totals[4], "errors": totals[5]},
        },
        "limits": {},
    })
}

/// The `leaf` section: empty unless leaf nodes are configured.
fn leaf(server: &Server, o: &crate::config::options::Options) -> Option<Ordered> {
    let l = o.leafnodes.as_ref()?;
    let mut v = Ordered::default();
    if let Some(addr) = server.leaf_addr() {
        v.put("host", json!(addr.ip().to_string()));
        v.put("port", json!(addr.port()));
    }
    v.put("auth_timeout", json!(2));
    v.put("tls_timeout", json!(2));
    if !l.remotes.is_empty() {
        let remotes: Vec<serde_json::Value> = l
            .remotes
            .iter()
            .map(|r| {
                let urls: Vec<&str> = r.urls.iter().map(|u| u.addr.as_str()).collect();
                json!({
                    "local_account": r.account.as_deref().unwrap_or("$G"),
                    "tls_timeout": 2,
                    "urls": urls,
                })
            })
            .collect();
        v.put("remotes", json!(remotes));
    }
    Some(v)
}

/// The `cluster` section: empty unless routes are configured.
fn cluster(server: &Server, o: &crate::config::options::Options) -> Option<Ordered> {
    let (Some(c), Some(name)) = (&o.cluster, server.peers().cluster_name()) else {
        return None;
    };
    let mut v = Ordered::default();
    v.put("name", json!(name));
    let addr = server.cluster_addr();
    v.put(
        "addr",
        json!(addr.map_or_else(|| c.host.clone(), |a| a.ip().to_string())),
    );
    v.put("cluster_port", json!(addr.map_or(c.port, |a| a.port())));
    v.put("auth_timeout", json!(2));
    if !c.routes.is_empty() {
        let urls: Vec<&str> = c.routes.iter().map(|r| r.addr.as_str()).collect();
        v.put("urls", json!(urls));
    }
    v.put("tls_timeout", json!(2));
    // As configured: the default 3, or -1 with pooling off.
    v.put("pool_size", json!(c.pool_size().map_or(-1, |n| n as i64)));
    Some(v)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn uptime_as_the_reference_writes_it() {
        assert_eq!(uptime(Duration::from_secs(5)), "5s");
        assert_eq!(uptime(Duration::from_secs(185)), "3m5s");
        assert_eq!(uptime(Duration::from_secs(7385)), "2h3m5s");
        assert_eq!(uptime(Duration::from_secs(93_785)), "1d2h3m5s");
        assert_eq!(uptime(Duration::from_secs(366 * 86_400)), "1y1d0h0m0s");
    }
}
