//! `/subsz` (`/subscriptionsz`): the routers' figures summed over the
//! accounts (or one, `acc`), and with `subs` the subscriptions themselves,
//! those a literal `test` subject reaches when given.

use std::sync::Arc;

use serde_json::json;

use super::connz::SubJson;
use super::http::{Request, Response};
use super::query::{self, rfc3339};
use super::Ordered;
use crate::router::RouterStats;
use crate::server::Server;

const DEFAULT_LIMIT: usize = 1024;

pub fn subsz(server: &Arc<Server>, req: &Request) -> Response {
    let subs = match query::boolean(req, "subs") {
        Ok(b) => b,
        Err(resp) => return resp,
    };
    let (offset, limit) = match query::paging(req, DEFAULT_LIMIT) {
        Ok(p) => p,
        Err(resp) => return resp,
    };
    let test = req.param("test").unwrap_or("");
    if !test.is_empty() && !tern_jetstream::subject::is_valid_literal_subject(test.as_bytes()) {
        return Response::text(
            400,
            format!("invalid test subject, must be valid publish subject: {test}"),
        );
    }
    let only = req.param("acc").unwrap_or("");
    let mut stats = RouterStats::default();
    let mut list = Vec::new();
    for account in server.accounts() {
        if !only.is_empty() && account.name != only {
            continue;
        }
        stats.add(&account.router.stats());
        if subs {
            // Handles under the read lock, copies after it.
            let mut found = Vec::new();
            account.router.for_each(|sub| {
                let tested = test.is_empty()
                    || tern_jetstream::subject::matches(&sub.subject, test.as_bytes());
                if tested && !sub.is_closed() {
                    found.push(sub.clone());
                }
            });
            list.extend(found.into_iter().map(|sub| {
                SubJson::of(
                    crate::router::sub_snapshot(&sub),
                    sub.client.id,
                    &account.name,
                )
            }));
        }
    }
    let mut v = Ordered::default();
    v.put("server_id", json!(server.id()));
    v.put("now", json!(rfc3339(query::now_nanos())));
    stats_fields(&mut v, &stats);
    v.put("total", json!(list.len()));
    v.put("offset", json!(offset));
    v.put("limit", json!(limit));
    let shown = query::page(list, offset, limit);
    if !shown.is_empty() {
        v.put("subscriptions_list", json!(shown));
    }
    Response::json(200, super::pretty(&v))
}

/// The reference's `SublistStats` fields, in its order.
pub fn stats_fields(v: &mut Ordered, s: &RouterStats) {
    v.put("num_subscriptions", json!(s.num_subscriptions));
    v.put("num_cache", json!(s.num_cache));
    v.put("num_inserts", json!(s.num_inserts));
    v.put("num_removes", json!(s.num_removes));
    v.put("num_matches", json!(s.num_matches));
    v.put("cache_hit_rate", json!(s.cache_hit_rate));
    v.put("max_fanout", json!(s.max_fanout));
    v.put("avg_fanout", json!(s.avg_fanout));
}
