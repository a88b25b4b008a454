//! `/routez` with this server's routes, and `/gatewayz` and `/leafz` as
//! a reference server without gateways or leaf nodes answers them.

use std::sync::atomic::Ordering;
use std::sync::Arc;

use serde_json::json;

use super::http::{Request, Response};
use super::query::{self, rfc3339};
use super::Ordered;
use crate::server::Server;

fn head(server: &Server) -> Ordered {
    let mut v = Ordered::default();
    v.put("server_id", json!(server.id()));
    v
}

fn now() -> serde_json::Value {
    json!(rfc3339(query::now_nanos()))
}

pub fn routez(server: &Arc<Server>, req: &Request) -> Response {
    let detail = req
        .param("subs")
        .is_some_and(|v| v.eq_ignore_ascii_case("detail"));
    if !detail {
        if let Err(resp) = query::boolean(req, "subs") {
            return resp;
        }
    }
    let subs = detail || query::boolean(req, "subs").unwrap_or(false);
    let mut v = head(server);
    v.put("server_name", json!(server.name()));
    v.put("now", now());
    let routes = server.peers().routes();
    v.put("num_routes", json!(routes.len()));
    let end = query::now_nanos();
    let since =
        |t: u64| super::varz::uptime(std::time::Duration::from_nanos(end.saturating_sub(t)));
    let list = routes
        .iter()
        .map(|r| {
            let snap = r.handle.snapshot();
            let mut o = Ordered::default();
            o.put("rid", json!(r.handle.id));
            o.put("remote_id", json!(r.remote_id));
            o.put("remote_name", json!(r.remote_name));
            o.put("did_solicit", json!(r.did_solicit));
            o.put("is_configured", json!(r.is_configured));
            if let crate::peers::RouteSlot::Account(account) = &r.slot {
                o.put("account", json!(account));
            }
            o.put("ip", json!(r.peer.ip().to_string()));
            o.put("port", json!(r.peer.port()));
            let (start, last, rtt, pending, out_msgs, out_bytes) =
                snap.as_ref().map_or((end, end, 0, 0, 0, 0), |s| {
                    (
                        s.start,
                        s.last_activity,
                        s.rtt,
                        s.pending,
                        s.out_msgs,
                        s.out_bytes,
                    )
                });
            o.put("start", json!(rfc3339(start)));
            o.put("last_activity", json!(rfc3339(last)));
            o.put("rtt", json!(query::go_duration(rtt)));
            o.put("uptime", json!(since(start)));
            o.put("idle", json!(since(last)));
            o.put("pending_size", json!(pending));
            o.put("in_msgs", json!(r.in_msgs.load(Ordering::Relaxed)));
            o.put("out_msgs", json!(out_msgs));
            o.put("in_bytes", json!(r.in_bytes.load(Ordering::Relaxed)));
            o.put("out_bytes", json!(out_bytes));
            o.put(
                "subscriptions",
                json!(r.subscriptions.load(Ordering::Relaxed)),
            );
            if subs {
                let mut list: Vec<String> = Vec::new();
                for account in server.accounts() {
                    account.router.for_each(|sub| {
                        if Arc::ptr_eq(&sub.client, &r.handle) {
                            list.push(String::from_utf8_lossy(&sub.subject).into_owned());
                        }
                    });
                }
                // A remote queue group stands in once per member there.
                list.sort();
                list.dedup();
                o.put("subscriptions_list", json!(list));
            }
            o.put("compression", json!("off"));
            o
        })
        .collect();
    v.put_list("routes", list);
    Response::json(200, super::pretty(&v))
}

pub fn gatewayz(server: &Arc<Server>, req: &Request) -> Response {
    if let Err(resp) = query::boolean(req, "accs") {
        return resp;
    }
    let mut v = head(server);
    v.put("now", now());
    v.put("outbound_gateways", json!({}));
    v.put("inbound_gateways", json!({}));
    Response::json(200, super::pretty(&v))
}

pub fn leafz(server: &Arc<Server>, req: &Request) -> Response {
    let subs = match query::boolean(req, "subs") {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let account = req.param("acc");
    let mut v = head(server);
    v.put("now", now());
    let leafs: Vec<_> = server
        .peers()
        .leafs()
        .into_iter()
        .filter(|l| account.is_none_or(|a| a == l.account))
        .collect();
    v.put("leafnodes", json!(leafs.len()));
    let list = leafs
        .iter()
        .map(|l| {
            let snap = l.handle.snapshot();
            let mut o = Ordered::default();
            o.put("id", json!(l.handle.id));
            o.put("name", json!(l.remote_name));
            o.put("is_spoke", json!(l.is_spoke));
            o.put("account", json!(l.account));
            o.put("ip", json!(l.peer.ip().to_string()));
            o.put("port", json!(l.peer.port()));
            let (rtt, out_msgs, out_bytes) = snap
                .as_ref()
                .map_or((0, 0, 0), |s| (s.rtt, s.out_msgs, s.out_bytes));
            o.put("rtt", json!(query::go_duration(rtt)));
            o.put("in_msgs", json!(l.in_msgs.load(Ordering::Relaxed)));
            o.put("out_msgs", json!(out_msgs));
            o.put("in_bytes", json!(l.in_bytes.load(Ordering::Relaxed)));
            o.put("out_bytes", json!(out_bytes));
            o.put(
                "subscriptions",
                json!(l.subscriptions.load(Ordering::Relaxed)),
            );
            if subs {
                let mut list: Vec<String> = Vec::new();
                if let Some(acc) = server.account(&l.account) {
                    acc.router.for_each(|sub| {
                        if Arc::ptr_eq(&sub.client, &l.handle) {
                            list.push(String::from_utf8_lossy(&sub.subject).into_owned());
                        }
                    });
                }
                o.put("subscriptions_list", json!(list));
            }
            o.put("compression", json!("off"));
            o
        })
        .collect();
    v.put_list("leafs", list);
    Response::json(200, super::pretty(&v))
}
