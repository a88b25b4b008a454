//! `/routez`, `/gatewayz` and `/leafz` as a standalone reference server
//! answers them: no routes, gateways or leaf nodes (yet).

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
    let mut v = head(server);
    v.put("server_name", json!(server.name()));
    v.put("now", now());
    v.put("num_routes", json!(0));
    v.put("routes", json!([]));
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
    if let Err(resp) = query::boolean(req, "subs") {
        return resp;
    }
    let mut v = head(server);
    v.put("now", now());
    v.put("leafnodes", json!(0));
    v.put("leafs", json!([]));
    Response::json(200, super::pretty(&v))
}
