//! `/metrics`: the Prometheus text exposition format, named as
//! prometheus-nats-exporter names the same figures when the NATS Helm
//! chart runs it (`-prefix=nats -varz -connz -subz -routez -jsz=all
//! -use_internal_server_id`), so dashboards built on the exporter work
//! without it; plus what the exporter cannot see (`nats_tern_*`): store
//! commit latency, group-commit batch size and fsync histograms, stream
//! ingest queue depth, slow-consumer and auth-failure counters.

use std::fmt::Write as _;
use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::Value;

use super::http::Response;
use super::RequestStats;
use crate::server::Server;

/// The exposition being written: one `# TYPE` line per family.
struct Exposition {
    /// Each family's `# HELP`/`# TYPE` lines and samples, kept together
    /// (the format wants one group per family) in first-seen order.
    families: Vec<String>,
    index: std::collections::HashMap<String, usize>,
}

impl Exposition {
    fn new() -> Self {
        Exposition {
            families: Vec::new(),
            index: std::collections::HashMap::new(),
        }
    }

    /// The text of family `name`, started with its header if new.
    fn family(&mut self, name: &str, kind: &str) -> &mut String {
        let i = match self.index.get(name) {
            Some(&i) => i,
            None => {
                self.families
                    .push(format!("# HELP {name} {name}\n# TYPE {name} {kind}\n"));
                self.index.insert(name.to_string(), self.families.len() - 1);
                self.families.len() - 1
            }
        };
        &mut self.families[i]
    }

    fn sample(&mut self, name: &str, kind: &str, labels: &[(&str, &str)], value: f64) {
        let out = self.family(name, kind);
        line(out, name, labels, value);
    }

    fn into_text(self) -> String {
        self.families.concat()
    }

    fn histogram(
        &mut self,
        name: &str,
        labels: &[(&str, &str)],
        h: &tern_jetstream::metrics::Histogram,
    ) {
        let (buckets, sum, count) = h.snapshot();
        let bucket = format!("{name}_bucket");
        let out = self.family(name, "histogram");
        for (bound, n) in buckets {
            let le = if bound.is_infinite() {
                "+Inf".to_string()
            } else {
                number(bound)
            };
            let mut with_le: Vec<(&str, &str)> = labels.to_vec();
            with_le.push(("le", &le));
            line(out, &bucket, &with_le, n as f64);
        }
        line(out, &format!("{name}_sum"), labels, sum);
        line(out, &format!("{name}_count"), labels, count as f64);
    }
}

/// One sample line.
fn line(out: &mut String, name: &str, labels: &[(&str, &str)], value: f64) {
    out.push_str(name);
    if !labels.is_empty() {
        out.push('{');
        for (i, (k, v)) in labels.iter().enumerate() {
            if i > 0 {
                out.push(',');
            }
            let _ = write!(out, "{k}=\"{}\"", escape(v));
        }
        out.push('}');
    }
    let _ = writeln!(out, " {}", number(value));
}

/// A label value with `\`, `"` and newlines escaped.
fn escape(v: &str) -> String {
    v.replace('\\', "\\\\")
        .replace('"', "\\\"")
        .replace('\n', "\\n")
}

/// Integers without a fraction, others as Rust writes them.
fn number(v: f64) -> String {
    if v.fract() == 0.0 && v.abs() < 1e15 {
        format!("{}", v as i64)
    } else {
        format!("{v}")
    }
}

/// A metric name from JSON keys, as the exporter builds it: `/` and other
/// characters a name cannot hold become `_`, runs of `_` collapse.
fn metric_name(parts: &[&str]) -> String {
    let joined = parts.join("_");
    let mut out = String::with_capacity(joined.len());
    for c in joined.chars() {
        let c = if c.is_ascii_alphanumeric() { c } else { '_' };
        if c == '_' && out.ends_with('_') {
            continue;
        }
        out.push(c);
    }
    out.trim_end_matches('_').to_string()
}

/// varz string fields the exporter turns into metrics: times as epoch
/// milliseconds, the rest as a 1 labelled with the value.
const VARZ_TIMES: [&str; 2] = ["start", "config_load_time"];
const VARZ_LABELS: [&str; 6] = [
    "server_id",
    "server_name",
    "version",
    "domain",
    "leader",
    "name",
];
/// Subtrees and fields the exporter leaves out.
const VARZ_SKIPPED: [&str; 9] = [
    "leaf",
    "trusted_operators_claim",
    "cluster_tls_timeout",
    "cluster_cluster_port",
    "cluster_auth_timeout",
    "gateway_port",
    "gateway_auth_timeout",
    "gateway_tls_timeout",
    "gateway_connect_retries",
];

/// Flattens a JSON object into `<prefix>_<path>` gauges.
fn flatten(e: &mut Exposition, prefix: &str, path: &mut Vec<String>, v: &Value, id: &str) {
    match v {
        Value::Object(map) => {
            for (k, child) in map {
                path.push(k.clone());
                let joined = path.join("_");
                if !VARZ_SKIPPED.contains(&joined.as_str()) {
                    flatten(e, prefix, path, child, id);
                }
                path.pop();
            }
        }
        Value::Number(n) => {
            let mut parts: Vec<&str> = vec![prefix];
            parts.extend(path.iter().map(String::as_str));
            let name = metric_name(&parts);
            e.sample(
                &name,
                "gauge",
                &[("server_id", id)],
                n.as_f64().unwrap_or(0.0),
            );
        }
        Value::String(s) => {
            let Some(key) = path.last().map(String::as_str) else {
                return;
            };
            let mut parts: Vec<&str> = vec![prefix];
            parts.extend(path.iter().map(String::as_str));
            let name = metric_name(&parts);
            if VARZ_TIMES.contains(&key) {
                let ms =
                    tern_jetstream::api::parse_time(s).map_or(0.0, |ns| (ns / 1_000_000) as f64);
                e.sample(&name, "gauge", &[("server_id", id)], ms);
            } else if VARZ_LABELS.contains(&key) {
                e.sample(&name, "gauge", &[("server_id", id), ("value", s)], 1.0);
            }
        }
        // The exporter skips booleans and lists.
        _ => {}
    }
}

pub async fn metrics(server: &Arc<Server>, stats: &RequestStats) -> Response {
    let id = server.id().to_string();
    let mut e = Exposition::new();
    let varz = serde_json::to_value(super::varz::fields(server, stats).await).unwrap_or_default();
    flatten(&mut e, "nats_varz", &mut Vec::new(), &varz, &id);
    connz(&mut e, server, &id);
    subsz(&mut e, server, &id);
    e.sample(
        "nats_routez_num_routes",
        "gauge",
        &[("server_id", &id)],
        0.0,
    );
    jetstream(&mut e, server, &id).await;
    tern(&mut e, server, &id);
    Response {
        status: 200,
        content_type: "text/plain; version=0.0.4; charset=utf-8",
        cors: false,
        body: e.into_text().into_bytes(),
    }
}

/// The exporter's `nats_connz_*`: the first page of `/connz` summed.
fn connz(e: &mut Exposition, server: &Server, id: &str) {
    let mut conns: Vec<_> = server
        .connections()
        .iter()
        .filter_map(|c| c.handle.snapshot())
        .collect();
    let total = conns.len();
    conns.sort_by_key(|s| s.cid);
    conns.truncate(1024);
    let l = [("server_id", id)];
    let sum = |f: fn(&crate::handle::conn_info::ConnSnapshot) -> u64| -> f64 {
        conns.iter().map(f).sum::<u64>() as f64
    };
    e.sample(
        "nats_connz_num_connections",
        "gauge",
        &l,
        conns.len() as f64,
    );
    e.sample("nats_connz_total", "gauge", &l, total as f64);
    e.sample("nats_connz_offset", "gauge", &l, 0.0);
    e.sample("nats_connz_limit", "gauge", &l, 1024.0);
    e.sample(
        "nats_connz_pending_bytes",
        "gauge",
        &l,
        sum(|s| s.pending as u64),
    );
    e.sample(
        "nats_connz_subscriptions",
        "gauge",
        &l,
        sum(|s| s.subscriptions as u64),
    );
    e.sample("nats_connz_in_msgs", "counter", &l, sum(|s| s.in_msgs));
    e.sample("nats_connz_out_msgs", "counter", &l, sum(|s| s.out_msgs));
    e.sample("nats_connz_in_bytes", "counter", &l, sum(|s| s.in_bytes));
    e.sample("nats_connz_out_bytes", "counter", &l, sum(|s| s.out_bytes));
}

/// The exporter's `nats_subsz_*`.
fn subsz(e: &mut Exposition, server: &Server, id: &str) {
    let mut s = crate::router::RouterStats::default();
    for a in server.accounts() {
        s.add(&a.router.stats());
    }
    let l = [("server_id", id)];
    e.sample(
        "nats_subsz_num_subscriptions",
        "gauge",
        &l,
        s.num_subscriptions as f64,
    );
    e.sample("nats_subsz_num_cache", "gauge", &l, s.num_cache as f64);
    e.sample("nats_subsz_num_inserts", "gauge", &l, s.num_inserts as f64);
    e.sample("nats_subsz_num_removes", "gauge", &l, s.num_removes as f64);
    e.sample("nats_subsz_num_matches", "gauge", &l, s.num_matches as f64);
    e.sample("nats_subsz_cache_hit_rate", "gauge", &l, s.cache_hit_rate);
    e.sample("nats_subsz_max_fanout", "gauge", &l, s.max_fanout as f64);
    e.sample("nats_subsz_avg_fanout", "gauge", &l, s.avg_fanout);
    e.sample("nats_subsz_total", "gauge", &l, 0.0);
    e.sample("nats_subsz_offset", "gauge", &l, 0.0);
    e.sample("nats_subsz_limit", "gauge", &l, 1024.0);
}

fn num(v: &Value, pointer: &str) -> f64 {
    v.pointer(pointer).and_then(Value::as_f64).unwrap_or(0.0)
}

/// The exporter's `-jsz=all` families: server, account, stream and
/// consumer gauges with its labels (no cluster: every asset is led here).
async fn jetstream(e: &mut Exposition, server: &Arc<Server>, id: &str) {
    let name = server.name().to_string();
    let server_labels = [
        ("server_id", id),
        ("server_name", name.as_str()),
        ("cluster", ""),
        ("domain", ""),
        ("meta_leader", ""),
        ("is_meta_leader", "true"),
    ];
    let o = server.opts();
    if !o.jetstream {
        e.sample(
            "nats_server_jetstream_disabled",
            "gauge",
            &server_labels,
            1.0,
        );
        return;
    }
    let accounts = super::jsz::accounts(server, true).await;
    let streams: Vec<&Value> = accounts.iter().flat_map(|a| &a.streams).collect();
    let sum = |p: &str| streams.iter().map(|s| num(s, p)).sum::<f64>();
    let config = super::varz::jetstream_config(&o);
    e.sample(
        "nats_server_jetstream_disabled",
        "gauge",
        &server_labels,
        0.0,
    );
    e.sample(
        "nats_server_total_streams",
        "gauge",
        &server_labels,
        streams.len() as f64,
    );
    e.sample(
        "nats_server_total_consumers",
        "gauge",
        &server_labels,
        sum("/state/consumer_count"),
    );
    e.sample(
        "nats_server_total_messages",
        "gauge",
        &server_labels,
        sum("/state/messages"),
    );
    e.sample(
        "nats_server_total_message_bytes",
        "gauge",
        &server_labels,
        sum("/state/bytes"),
    );
    e.sample(
        "nats_server_max_memory",
        "gauge",
        &server_labels,
        num(&config, "/max_memory"),
    );
    e.sample(
        "nats_server_max_storage",
        "gauge",
        &server_labels,
        num(&config, "/max_storage"),
    );
    for a in &accounts {
        let mut al: Vec<(&str, &str)> = server_labels.to_vec();
        al.extend([
            ("account", a.name.as_str()),
            ("account_name", a.name.as_str()),
            ("account_id", a.name.as_str()),
        ]);
        e.sample(
            "nats_account_max_memory",
            "gauge",
            &al,
            num(&a.info, "/limits/max_memory"),
        );
        e.sample(
            "nats_account_max_storage",
            "gauge",
            &al,
            num(&a.info, "/limits/max_storage"),
        );
        e.sample(
            "nats_account_storage_used",
            "gauge",
            &al,
            num(&a.info, "/storage"),
        );
        e.sample(
            "nats_account_memory_used",
            "gauge",
            &al,
            num(&a.info, "/memory"),
        );
        for s in &a.streams {
            let stream = s
                .pointer("/config/name")
                .and_then(Value::as_str)
                .unwrap_or("");
            let mut sl = al.clone();
            sl.extend([
                ("stream_name", stream),
                ("stream_leader", name.as_str()),
                ("is_stream_leader", "true"),
                ("stream_raft_group", ""),
            ]);
            for (metric, p) in [
                ("nats_stream_total_messages", "/state/messages"),
                ("nats_stream_total_bytes", "/state/bytes"),
                ("nats_stream_first_seq", "/state/first_seq"),
                ("nats_stream_last_seq", "/state/last_seq"),
                ("nats_stream_consumer_count", "/state/consumer_count"),
                ("nats_stream_subject_count", "/state/num_subjects"),
                ("nats_stream_limit_bytes", "/config/max_bytes"),
                ("nats_stream_limit_messages", "/config/max_msgs"),
            ] {
                e.sample(metric, "gauge", &sl, num(s, p));
            }
            let consumers = s.get("consumers").and_then(Value::as_array);
            for c in consumers.into_iter().flatten() {
                let consumer = c.get("name").and_then(Value::as_str).unwrap_or("");
                let desc = c
                    .pointer("/config/description")
                    .and_then(Value::as_str)
                    .unwrap_or("");
                let mut cl = sl.clone();
                cl.extend([
                    ("consumer_name", consumer),
                    ("consumer_leader", name.as_str()),
                    ("is_consumer_leader", "true"),
                    ("consumer_desc", desc),
                ]);
                for (metric, p) in [
                    (
                        "nats_consumer_delivered_consumer_seq",
                        "/delivered/consumer_seq",
                    ),
                    (
                        "nats_consumer_delivered_stream_seq",
                        "/delivered/stream_seq",
                    ),
                    ("nats_consumer_num_ack_pending", "/num_ack_pending"),
                    ("nats_consumer_num_redelivered", "/num_redelivered"),
                    ("nats_consumer_num_waiting", "/num_waiting"),
                    ("nats_consumer_num_pending", "/num_pending"),
                    (
                        "nats_consumer_ack_floor_stream_seq",
                        "/ack_floor/stream_seq",
                    ),
                    (
                        "nats_consumer_ack_floor_consumer_seq",
                        "/ack_floor/consumer_seq",
                    ),
                ] {
                    e.sample(metric, "gauge", &cl, num(c, p));
                }
            }
        }
    }
}

/// What only tern measures.
fn tern(e: &mut Exposition, server: &Server, id: &str) {
    let l = [("server_id", id)];
    let store = tern_jetstream::metrics::store();
    e.histogram("nats_tern_store_commit_seconds", &l, &store.commit_seconds);
    e.histogram(
        "nats_tern_store_commit_batch_messages",
        &l,
        &store.commit_batch_messages,
    );
    e.histogram("nats_tern_store_fsync_seconds", &l, &store.fsync_seconds);
    e.family("nats_tern_stream_ingest_queue_depth", "gauge");
    for (account, stream, depth) in server.ingest_depths() {
        e.sample(
            "nats_tern_stream_ingest_queue_depth",
            "gauge",
            &[
                ("server_id", id),
                ("account", &account),
                ("stream_name", &stream),
            ],
            depth as f64,
        );
    }
    let s = server.stats();
    e.sample(
        "nats_tern_slow_consumers_total",
        "counter",
        &l,
        s.slow_consumers.load(Ordering::Relaxed) as f64,
    );
    e.sample(
        "nats_tern_auth_failures_total",
        "counter",
        &l,
        s.auth_failures.load(Ordering::Relaxed) as f64,
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_as_the_exporter_builds_them() {
        assert_eq!(metric_name(&["nats_varz", "in_msgs"]), "nats_varz_in_msgs");
        assert_eq!(
            metric_name(&["nats_varz", "http_req_stats", "/"]),
            "nats_varz_http_req_stats"
        );
        assert_eq!(
            metric_name(&["nats_varz", "http_req_stats", "/varz"]),
            "nats_varz_http_req_stats_varz"
        );
    }

    #[test]
    fn each_family_is_one_group() {
        let mut e = Exposition::new();
        e.sample("a", "gauge", &[("x", "1")], 1.0);
        e.sample("b", "gauge", &[], 2.0);
        e.sample("a", "gauge", &[("x", "2")], 3.0);
        let text = e.into_text();
        assert_eq!(
            text,
            "# HELP a a\n# TYPE a gauge\na{x=\"1\"} 1\na{x=\"2\"} 3\n# HELP b b\n# TYPE b gauge\nb 2\n"
        );
    }

    #[test]
    fn label_values_are_escaped() {
        assert_eq!(escape("a\"b\\c\nd"), "a\\\"b\\\\c\\nd");
        assert_eq!(number(3.0), "3");
        assert_eq!(number(0.5), "0.5");
    }
}
