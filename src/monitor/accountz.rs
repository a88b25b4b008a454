//! `/accountz` (the accounts, or one in detail: connections,
//! subscriptions, exports and imports) and `/accstatz` (each account's
//! traffic), as the reference reports them.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::{json, Value};

use super::http::{Request, Response};
use super::query::{self, rfc3339};
use super::Ordered;
use crate::account::{Account, Kind, Local, GLOBAL_ACCOUNT};
use crate::server::Server;

pub fn accountz(server: &Arc<Server>, req: &Request) -> Response {
    let mut v = Ordered::default();
    v.put("server_id", json!(server.id()));
    v.put("now", json!(rfc3339(query::now_nanos())));
    if let Some(sys) = server.system_account_name() {
        v.put("system_account", json!(sys));
    }
    match req.param("acc").unwrap_or("") {
        "" => {
            let names: Vec<String> = server.accounts().iter().map(|a| a.name.clone()).collect();
            v.put("accounts", json!(names));
        }
        name => {
            let Some(account) = server.account(name) else {
                return Response::text(400, format!("Account {name} does not exist"));
            };
            v.put_nested("account_detail", account_detail(server, &account));
        }
    }
    Response::json(200, super::pretty(&v))
}

/// Whether `name` runs JetStream on this server.
fn jetstream_enabled(server: &Server, name: &str) -> bool {
    let o = server.opts();
    o.jetstream
        && if o.accounts.is_empty() && o.auth.trust.is_none() {
            name == GLOBAL_ACCOUNT
        } else {
            o.accounts
                .iter()
                .any(|a| a.name == name && a.jetstream.is_some())
        }
}

fn account_detail(server: &Arc<Server>, account: &Arc<Account>) -> Ordered {
    let name = account.name.as_str();
    let opts = server.opts();
    let config = opts.accounts.iter().find(|a| a.name == name);
    let mut v = Ordered::default();
    v.put("account_name", json!(name));
    v.put(
        "update_time",
        json!(rfc3339(crate::handle::conn_info::unix_nanos(
            server.started_at()
        ))),
    );
    if server.system_account_name() == Some(name) {
        v.put("is_system", json!(true));
    }
    v.put("expired", json!(false));
    v.put("complete", json!(true));
    v.put("jetstream_enabled", json!(jetstream_enabled(server, name)));
    v.put("leafnode_connections", json!(0));
    v.put(
        "client_connections",
        json!(server.account_connections(account)),
    );
    v.put("subscriptions", json!(account.router.count()));
    let exports: Vec<Value> = config
        .map(|c| {
            c.exports
                .iter()
                .map(|e| {
                    let mut x = json!({"subject": e.subject, "type": e.kind.name()});
                    if e.kind == Kind::Service {
                        x["response_type"] = json!(format!("{:?}", e.response_type));
                    }
                    if !e.accounts.is_empty() {
                        x["approved_accounts"] = json!(e.accounts);
                    }
                    x
                })
                .collect()
        })
        .unwrap_or_default();
    if !exports.is_empty() {
        v.put("exports", json!(exports));
    }
    let imports: Vec<Value> = config
        .map(|c| {
            c.imports
                .iter()
                .map(|i| {
                    let local = i.local_subject();
                    let mut x = json!({"subject": i.subject, "account": i.account});
                    if i.kind == Kind::Service || !matches!(i.local, Local::Same) {
                        if i.kind == Kind::Service {
                            x["to"] = json!(local);
                        }
                        x["local_subject"] = json!(local);
                    }
                    x["type"] = json!(i.kind.name());
                    x["invalid"] = json!(false);
                    x["share"] = json!(false);
                    x["tracking"] = json!(false);
                    x
                })
                .collect()
        })
        .unwrap_or_default();
    let mut imports = imports;
    if server.system_account_name() != Some(name) {
        imports.splice(0..0, system_imports(server, name));
    }
    if !imports.is_empty() {
        v.put("imports", json!(imports));
    }
    v.put("name_tag", json!(name));
    let mut sublist = Ordered::default();
    super::subsz::stats_fields(&mut sublist, &account.router.stats());
    v.put_nested("sublist_stats", sublist);
    v
}

/// The system services every other account imports (answered by the
/// client's reader, see `client::reader`), listed as the reference lists
/// them; with JetStream, its API too.
fn system_imports(server: &Server, account: &str) -> Vec<Value> {
    let sys = server.system_account_name().unwrap_or("$SYS");
    let import = |subject: String, to: &str, share: bool| {
        json!({
            "subject": subject, "account": sys, "to": to, "local_subject": to,
            "type": "service", "invalid": false, "share": share, "tracking": false,
        })
    };
    let mut list = vec![
        import(
            format!("$SYS.REQ.ACCOUNT.{account}.STATZ"),
            "$SYS.REQ.ACCOUNT.PING.STATZ",
            false,
        ),
        import(
            format!("$SYS.REQ.USER.{account}.INFO"),
            "$SYS.REQ.USER.INFO",
            true,
        ),
    ];
    if jetstream_enabled(server, account) {
        list.push(import("$JS.API.>".into(), "$JS.API.>", true));
    }
    list.push(import(
        format!("$SYS.REQ.ACCOUNT.{account}.CONNZ"),
        "$SYS.REQ.ACCOUNT.PING.CONNZ",
        false,
    ));
    list.push(import(
        format!("$SYS.REQ.ACCOUNT.{account}.CONNZ"),
        "$SYS.REQ.SERVER.PING.CONNZ",
        false,
    ));
    list
}

pub fn accstatz(server: &Arc<Server>, req: &Request) -> Response {
    let unused = match query::boolean(req, "unused") {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let stats: Vec<Ordered> = server
        .accounts()
        .iter()
        .filter(|a| unused || server.account_connections(a) > 0)
        .map(|a| account_stat(server, a))
        .collect();
    let mut v = Ordered::default();
    v.put("server_id", json!(server.id()));
    v.put("now", json!(rfc3339(query::now_nanos())));
    v.put(
        "account_statz",
        serde_json::to_value(&stats).unwrap_or_default(),
    );
    Response::json(200, super::pretty(&v))
}

/// One account's `AccountStat`, as `/accstatz` and `$SYS` statz give it.
pub fn account_stat(server: &Server, account: &Arc<Account>) -> Ordered {
    let s = &account.stats;
    let (mut sent_msgs, mut sent_bytes) = (
        s.closed_out_msgs.load(Ordering::Relaxed),
        s.closed_out_bytes.load(Ordering::Relaxed),
    );
    let mut conns = 0;
    for c in server.connections() {
        if Arc::ptr_eq(c.account(), account) {
            conns += 1;
            if let Some(out) = c.handle.outbound() {
                let (m, b) = out.out_counts();
                sent_msgs += m;
                sent_bytes += b;
            }
        }
    }
    let data = |msgs: u64, bytes: u64| {
        let zero = json!({"msgs": 0, "bytes": 0});
        json!({"msgs": msgs, "bytes": bytes, "gateways": zero, "routes": zero, "leafs": zero})
    };
    let mut v = Ordered::default();
    v.put("acc", json!(account.name));
    v.put("name", json!(account.name));
    v.put("conns", json!(conns));
    v.put("leafnodes", json!(0));
    // Local plus leaf node connections: no leaf nodes yet.
    v.put("total_conns", json!(conns));
    v.put("num_subscriptions", json!(account.router.count()));
    v.put("sent", data(sent_msgs, sent_bytes));
    v.put(
        "received",
        data(
            s.in_msgs.load(Ordering::Relaxed),
            s.in_bytes.load(Ordering::Relaxed),
        ),
    );
    v.put(
        "slow_consumers",
        json!(s.slow_consumers.load(Ordering::Relaxed)),
    );
    v
}
