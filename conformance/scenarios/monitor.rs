//! HTTP monitoring: every endpoint's JSON compared by shape (each key
//! path and its value's type, values masked), the deterministic values
//! of `/connz` (sorting, paging, closed connections), and the 400 bodies
//! for queries the reference cannot read.

use std::collections::BTreeSet;
use std::io::{Read, Write};
use std::net::TcpStream;
use std::time::{Duration, Instant};

use serde_json::Value;

use super::jetstream::{api, js_client};
use crate::harness::ServerSpec;
use crate::runner::run_with;
use crate::wire::Session;

const MONITORED: ServerSpec = ServerSpec {
    conf: None,
    jetstream: true,
    monitor: true,
};

/// One GET on the monitoring port: status and body.
fn get(s: &Session, path: &str) -> (u16, String) {
    let port = s.monitor_port.expect("the server runs monitoring");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("connect to monitoring");
    stream
        .set_read_timeout(Some(Duration::from_secs(5)))
        .expect("timeout");
    write!(
        stream,
        "GET {path} HTTP/1.1\r\nHost: localhost\r\nConnection: close\r\n\r\n"
    )
    .expect("send");
    let mut raw = Vec::new();
    let _ = stream.read_to_end(&mut raw);
    let text = String::from_utf8_lossy(&raw).into_owned();
    let (head, body) = text.split_once("\r\n\r\n").unwrap_or((&text, ""));
    let status = head
        .split(' ')
        .nth(1)
        .and_then(|c| c.parse().ok())
        .unwrap_or(0);
    let chunked = head
        .to_ascii_lowercase()
        .contains("transfer-encoding: chunked");
    (
        status,
        if chunked {
            dechunk(body)
        } else {
            body.to_string()
        },
    )
}

/// A chunked body (Go's server sends large answers so), joined.
fn dechunk(mut body: &str) -> String {
    let mut out = String::new();
    while let Some((size, rest)) = body.split_once("\r\n") {
        let Ok(n) = usize::from_str_radix(size.trim(), 16) else {
            break;
        };
        if n == 0 || rest.len() < n {
            break;
        }
        out.push_str(&rest[..n]);
        body = rest[n..].trim_start_matches("\r\n");
    }
    out
}

fn json_of(s: &Session, path: &str) -> Value {
    let (status, body) = get(s, path);
    s.check(status == 200, format!("GET {path}: status {status}"));
    serde_json::from_str(&body).unwrap_or(Value::Null)
}

/// Every key path with the type of its value; a list's elements are
/// merged (their order is the server's own).
fn shape(v: &Value, path: &str, out: &mut BTreeSet<String>) {
    match v {
        Value::Object(m) => {
            for (k, x) in m {
                shape(x, &format!("{path}.{k}"), out);
            }
        }
        Value::Array(items) if !items.is_empty() => {
            for x in items {
                shape(x, &format!("{path}[]"), out);
            }
        }
        Value::Array(_) => {
            out.insert(format!("{path}: []"));
        }
        Value::String(_) => {
            out.insert(format!("{path}: string"));
        }
        Value::Number(_) => {
            out.insert(format!("{path}: number"));
        }
        Value::Bool(_) => {
            out.insert(format!("{path}: bool"));
        }
        Value::Null => {
            out.insert(format!("{path}: null"));
        }
    }
}

/// Key paths tern leaves out on purpose: the reference's build (its git
/// commit).
const NOT_COMPARED: [&str; 1] = [".git_commit"];

fn note_shape(s: &Session, path: &str) {
    let (status, body) = get(s, path);
    s.note(format!("GET {path} -> {status}"));
    let v: Value = serde_json::from_str(&body).unwrap_or(Value::Null);
    let mut keys = BTreeSet::new();
    shape(&v, "", &mut keys);
    for k in keys
        .iter()
        .filter(|k| !NOT_COMPARED.iter().any(|n| k.starts_with(n)))
    {
        s.note(format!("  {k}"));
    }
}

/// Waits (bounded) until `/connz?state=closed` lists `n` connections.
fn wait_closed(s: &Session, n: u64) {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let v = json_of(s, "/connz?state=closed");
        if v["total"].as_u64() == Some(n) || Instant::now() > deadline {
            s.check(
                v["total"].as_u64() == Some(n),
                format!("expected {n} closed connection(s): {v}"),
            );
            return;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[test]
fn monitor_endpoint_shapes() {
    run_with("monitor_endpoint_shapes", MONITORED, |s| {
        let mut c = js_client(s, "c");
        c.exchange(b"SUB foo q 2\r\nSUB bar 3\r\nPUB foo 2\r\nhi\r\nPING\r\n");
        api(
            &mut c,
            "$JS.API.STREAM.CREATE.S1",
            r#"{"name":"S1","subjects":["s1.>"]}"#,
        );
        api(
            &mut c,
            "$JS.API.CONSUMER.CREATE.S1.C1",
            r#"{"stream_name":"S1","config":{"durable_name":"C1","ack_policy":"explicit"}}"#,
        );
        c.exchange(b"PUB s1.a 2\r\nhi\r\nPING\r\n");
        drop(s.client("gone"));
        wait_closed(s, 1);
        for path in [
            "/varz",
            "/connz",
            "/connz?subs=1&auth=1",
            "/connz?subs=detail",
            "/connz?state=closed",
            "/connz?state=any&sort=cid",
            "/subsz",
            "/subsz?subs=1",
            "/subsz?subs=1&test=foo",
            "/jsz",
            "/jsz?accounts=1&streams=1&consumers=1&config=1",
            "/jsz?acc=$G&consumers=1",
            "/accountz",
            "/accountz?acc=$G",
            "/accstatz",
            "/accstatz?unused=1",
            "/routez",
            "/gatewayz",
            "/leafz",
            "/healthz",
            "/healthz?js-server-only=true",
            "/healthz?js-enabled-only=true",
        ] {
            note_shape(s, path);
        }
    });
}

#[test]
fn monitor_connz_values() {
    run_with("monitor_connz_values", MONITORED, |s| {
        let named = |name: &str| {
            let mut conn = s.connect(name);
            let connect = format!(
                "CONNECT {{\"name\":\"{name}\",\"lang\":\"scenario\",\"verbose\":false,\"protocol\":1}}\r\n"
            );
            conn.handshake(connect.as_bytes(), true);
            conn
        };
        // Every sort key below differs between the three, so the order
        // does not depend on how ties fall.
        let mut a = named("a");
        a.exchange(b"SUB x 1\r\nPING\r\n");
        let mut b = named("b");
        b.exchange(
            b"SUB y 1\r\nSUB z 2\r\nSUB w q 3\r\nPUB x 5\r\nhello\r\nPUB x 2\r\nhi\r\nPING\r\n",
        );
        let mut c = named("c");
        c.exchange(b"SUB v 1\r\nSUB u 2\r\nPING\r\n");
        a.exchange(b"PUB y 3\r\nabc\r\nPING\r\n");
        b.exchange(b"PING\r\n");
        let names = |v: &Value| -> Vec<String> {
            v["connections"]
                .as_array()
                .map(|l| {
                    l.iter()
                        .map(|c| c["name"].as_str().unwrap_or("").to_string())
                        .collect()
                })
                .unwrap_or_default()
        };
        for path in [
            "/connz?sort=subs",
            "/connz?sort=msgs_from",
            "/connz?sort=bytes_from",
            "/connz?sort=msgs_to",
            "/connz?sort=cid&limit=1&offset=1",
            "/connz?offset=5",
            "/connz?acc=$G",
            "/connz?acc=nobody",
        ] {
            let v = json_of(s, path);
            s.note(format!(
                "{path}: num_connections {} total {} offset {} limit {} names {:?}",
                v["num_connections"],
                v["total"],
                v["offset"],
                v["limit"],
                names(&v)
            ));
        }
        let v = json_of(s, "/connz?sort=subs&subs=1&limit=1");
        let mut subs: Vec<String> = v["connections"][0]["subscriptions_list"]
            .as_array()
            .map(|l| {
                l.iter()
                    .map(|x| x.as_str().unwrap_or("").to_string())
                    .collect()
            })
            .unwrap_or_default();
        subs.sort();
        s.note(format!("busiest subscriptions {subs:?}"));
        let conn = &v["connections"][0];
        s.note(format!(
            "busiest: subscriptions {} in_msgs {} in_bytes {} out_msgs {} lang {}",
            conn["subscriptions"],
            conn["in_msgs"],
            conn["in_bytes"],
            conn["out_msgs"],
            conn["lang"]
        ));
        let v = json_of(s, "/connz?sort=msgs_to&limit=1");
        let conn = &v["connections"][0];
        s.note(format!(
            "receiver: name {} out_msgs {} out_bytes {}",
            conn["name"], conn["out_msgs"], conn["out_bytes"]
        ));
        drop(c);
        wait_closed(s, 1);
        let v = json_of(s, "/connz?state=closed&subs=1");
        let conn = &v["connections"][0];
        s.note(format!(
            "closed: name {} reason {} subscriptions {} has stop {}",
            conn["name"],
            conn["reason"],
            conn["subscriptions"],
            conn["stop"].is_string()
        ));
        let v = json_of(s, "/connz?state=any&sort=cid");
        s.note(format!("any: total {} names {:?}", v["total"], names(&v)));
        let v = json_of(s, "/subsz?subs=1&test=x");
        s.note(format!("subsz test x: total {}", v["total"]));
        let v = json_of(s, "/accstatz");
        let stat = &v["account_statz"][0];
        s.note(format!(
            "accstatz: acc {} conns {} received {} sent {}",
            stat["acc"], stat["conns"], stat["received"]["msgs"], stat["sent"]["msgs"]
        ));
    });
}

#[test]
fn monitor_bad_queries() {
    run_with("monitor_bad_queries", MONITORED, |s| {
        for path in [
            "/connz?sort=bogus",
            "/connz?sort=stop",
            "/connz?sort=reason",
            "/connz?state=bogus",
            "/connz?limit=x",
            "/connz?offset=1.5",
            "/connz?cid=abc",
            "/connz?cid=-1",
            "/connz?auth=maybe",
            "/connz?subs=maybe",
            "/subsz?test=foo.*",
            "/subsz?subs=x",
            "/jsz?accounts=bad",
            "/jsz?limit=x",
            "/accstatz?unused=x",
            "/accountz?acc=nope",
            "/nope",
            "/healthz?js-enabled-only=x",
        ] {
            let (status, body) = get(s, path);
            s.note(format!("GET {path} -> {status} {body:?}"));
        }
    });
}

/// The system account over NATS: each request's answer compared by
/// shape, as `nats server` tools read them.
#[test]
fn monitor_sys_request_shapes() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "accounts {\n",
            "  SYS: { users: [{user: sys, password: sys}] }\n",
            "  A: { users: [{user: a, password: a}] }\n",
            "}\n",
            "system_account: SYS\n",
        )),
        jetstream: true,
        monitor: false,
    };
    run_with("monitor_sys_request_shapes", spec, |s| {
        let signed_in = |name: &str, user: &str| {
            let mut c = s.connect(name);
            let connect = format!(
                "CONNECT {{\"user\":\"{user}\",\"pass\":\"{user}\",\"verbose\":false,\"protocol\":1,\"headers\":true}}\r\n"
            );
            c.handshake(connect.as_bytes(), true);
            c.exchange(b"SUB _INBOX.sys 1\r\n");
            c
        };
        let mut sys = signed_in("sys", "sys");
        let mut a = signed_in("a", "a");
        let ask = |c: &mut crate::wire::Conn, subject: &str, body: &str| -> Value {
            let msg = format!("PUB {subject} _INBOX.sys {}\r\n{body}\r\n", body.len());
            let got = c.poll_unlogged(msg.as_bytes(), 1);
            let text = String::from_utf8_lossy(&got);
            let json = text
                .split("\r\n")
                .nth(1)
                .and_then(|p| serde_json::from_str(p).ok())
                .unwrap_or(Value::Null);
            json
        };
        let note = |label: &str, v: &Value| {
            s.note(label.to_string());
            let mut keys = BTreeSet::new();
            shape(v, "", &mut keys);
            for k in keys
                .iter()
                .filter(|k| !NOT_COMPARED.iter().any(|n| k.contains(n)))
            {
                s.note(format!("  {k}"));
            }
        };
        for (subject, body) in [
            ("$SYS.REQ.SERVER.PING", ""),
            ("$SYS.REQ.SERVER.PING.STATSZ", ""),
            ("$SYS.REQ.SERVER.PING.IDZ", ""),
            ("$SYS.REQ.SERVER.PING.CONNZ", r#"{"subscriptions":true}"#),
            ("$SYS.REQ.SERVER.PING.SUBSZ", "{}"),
            ("$SYS.REQ.SERVER.PING.JSZ", "{}"),
            ("$SYS.REQ.SERVER.PING.HEALTHZ", "{}"),
            ("$SYS.REQ.SERVER.PING.ACCOUNTZ", "{}"),
            ("$SYS.REQ.ACCOUNT.A.STATZ", "{}"),
            ("$SYS.REQ.ACCOUNT.A.CONNZ", "{}"),
            ("$SYS.REQ.ACCOUNT.PING.STATZ", r#"{"accounts":["A"]}"#),
        ] {
            let v = ask(&mut sys, subject, body);
            note(&format!("sys {subject} {body}"), &v);
        }
        let v = ask(&mut a, "$SYS.REQ.USER.INFO", "");
        note("a $SYS.REQ.USER.INFO", &v);
    });
}
