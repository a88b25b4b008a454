//! `/healthz` as the reference answers it: `ok`, or why not. The query
//! picks what is checked: `js-enabled-only`, `js-server-only`,
//! `js-meta-only` (no cluster here: as `js-enabled-only`), and one
//! account's JetStream, stream or consumer; `details` lists errors with
//! their type instead of one message.

use std::sync::Arc;

use serde::Serialize;
use serde_json::Value;

use super::http::{Request, Response};
use super::lookup;
use super::query::parse_bool;
use crate::server::Server;

/// One failed check: its type (`BAD_REQUEST`, `ACCOUNT`, ...), what it
/// names, and the message.
struct Failure {
    status: u16,
    kind: &'static str,
    names: Vec<(&'static str, String)>,
    text: String,
}

pub async fn healthz(server: &Arc<Server>, req: &Request) -> Response {
    let mut flags = [false; 4];
    for (i, name) in [
        "js-enabled-only",
        "js-server-only",
        "js-meta-only",
        "details",
    ]
    .iter()
    .enumerate()
    {
        if let Some(v) = req.param(name) {
            match parse_bool(v) {
                Some(b) => flags[i] = b,
                None => {
                    return Response::text(
                        400,
                        format!(
                            "Error decoding boolean for '{name}': strconv.ParseBool: parsing {v:?}: invalid syntax"
                        ),
                    )
                }
            }
        }
    }
    let [enabled_only, server_only, meta_only, details] = flags;
    let param = |k: &str| req.param(k).unwrap_or("").to_string();
    let (account, stream, consumer) = (param("account"), param("stream"), param("consumer"));
    let failure = check(
        server,
        &account,
        &stream,
        &consumer,
        server_only,
        enabled_only || meta_only,
    )
    .await;
    let (status, body) = match failure {
        None => (200, Health::default()),
        Some(f) if details => {
            let mut e = HealthError {
                kind: f.kind,
                error: f.text,
                ..HealthError::default()
            };
            for (k, v) in f.names {
                match k {
                    "account" => e.account = Some(v),
                    "stream" => e.stream = Some(v),
                    _ => e.consumer = Some(v),
                }
            }
            (
                f.status,
                Health {
                    status: "error",
                    errors: Some(vec![e]),
                    ..Health::default()
                },
            )
        }
        Some(f) => {
            let status = if f.kind == "BAD_REQUEST" {
                "error"
            } else {
                "unavailable"
            };
            (
                f.status,
                Health {
                    status,
                    error: Some(f.text),
                    ..Health::default()
                },
            )
        }
    };
    Response::json(status, serde_json::to_vec(&body).unwrap_or_default())
}

/// The answer, with the reference's field order.
#[derive(Serialize)]
struct Health {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    error: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<Vec<HealthError>>,
}

impl Default for Health {
    fn default() -> Self {
        Health {
            status: "ok",
            error: None,
            errors: None,
        }
    }
}

#[derive(Serialize, Default)]
struct HealthError {
    #[serde(rename = "type")]
    kind: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    account: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    stream: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    consumer: Option<String>,
    error: String,
}

async fn check(
    server: &Arc<Server>,
    account: &str,
    stream: &str,
    consumer: &str,
    server_only: bool,
    enabled_only: bool,
) -> Option<Failure> {
    let bad = |text: String| Failure {
        status: 400,
        kind: "BAD_REQUEST",
        names: vec![],
        text,
    };
    if account.is_empty() && !stream.is_empty() {
        return Some(bad(
            "\"account\" must not be empty when checking stream health".into(),
        ));
    }
    if stream.is_empty() && !consumer.is_empty() {
        return Some(bad(
            "\"stream\" must not be empty when checking consumer health".into(),
        ));
    }
    if server_only || !server.opts().jetstream || enabled_only {
        return None;
    }
    if account.is_empty() {
        return None;
    }
    // An account's JetStream is found once it stores a stream (the
    // reference looks for its directory in the store).
    let names = lookup(server, account, "$JS.API.STREAM.NAMES").await;
    let has_streams = names
        .as_ref()
        .and_then(|v| v.get("total"))
        .and_then(Value::as_u64)
        .is_some_and(|n| n > 0);
    let missing = |kind, names: Vec<(&'static str, String)>, text: String| Failure {
        status: 404,
        kind,
        names,
        text,
    };
    if !has_streams {
        return Some(missing(
            "ACCOUNT",
            vec![("account", account.to_string())],
            format!("JetStream account {account:?} not found"),
        ));
    }
    if stream.is_empty() {
        return None;
    }
    let info = lookup(server, account, &format!("$JS.API.STREAM.INFO.{stream}")).await;
    if !found(&info) {
        return Some(missing(
            "STREAM",
            vec![
                ("account", account.to_string()),
                ("stream", stream.to_string()),
            ],
            format!("JetStream stream {stream:?} not found on account {account:?}"),
        ));
    }
    if consumer.is_empty() {
        return None;
    }
    let info = lookup(
        server,
        account,
        &format!("$JS.API.CONSUMER.INFO.{stream}.{consumer}"),
    )
    .await;
    if !found(&info) {
        return Some(missing(
            "CONSUMER",
            vec![
                ("account", account.to_string()),
                ("stream", stream.to_string()),
                ("consumer", consumer.to_string()),
            ],
            format!(
                "JetStream consumer {consumer:?} not found for stream {stream:?} on account {account:?}"
            ),
        ));
    }
    None
}

fn found(reply: &Option<Value>) -> bool {
    reply.as_ref().is_some_and(|v| v.get("error").is_none())
}
