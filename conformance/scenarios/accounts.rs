//! Accounts configured in the file, compared with the reference: each
//! account's subject space is its own, users sign in to their account
//! (INFO's `remote_account`), and streams and services flow only where an
//! export and an import connect them.

use crate::harness::ServerSpec;
use crate::runner::run_with;

const ACCOUNTS: &str = concat!(
    "accounts {\n",
    "  A: { users: [{user: a, password: a}]\n",
    "       exports: [{stream: \"events.>\"}, {service: \"svc.req\"}, {service: \"svc.many\", response_type: stream}] }\n",
    "  B: { users: [{user: b, password: b}]\n",
    "       imports: [{stream: {account: A, subject: \"events.>\"}, prefix: \"fromA\"}\n",
    "                 {service: {account: A, subject: \"svc.req\"}, to: \"a.svc\"}\n",
    "                 {service: {account: A, subject: \"svc.many\"}}] }\n",
    "  C: { users: [{user: c, password: c}] }\n",
    "}\n",
);

fn connect(user: &str) -> Vec<u8> {
    format!("CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n").into_bytes()
}

/// The reply subject of the one MSG or HMSG in `buf`.
fn reply_of(buf: &[u8]) -> String {
    let line = buf.split(|&b| b == b'\r').next().unwrap_or_default();
    let parts: Vec<&[u8]> = line.split(|&b| b == b' ').collect();
    match (parts.first().copied(), parts.len()) {
        (Some(b"MSG"), 5) | (Some(b"HMSG"), 6) => String::from_utf8_lossy(parts[3]).into_owned(),
        _ => String::new(),
    }
}

/// A forwarded request as recorded: the server's reply subject and the
/// requester's measured RTT vary, so they are masked.
fn masked_request(buf: &[u8]) -> String {
    let text = String::from_utf8_lossy(buf);
    let mut out = Vec::new();
    for (i, line) in text.split("\r\n").enumerate() {
        if i == 0 {
            let mut parts: Vec<&str> = line.split(' ').collect();
            if parts.len() >= 4 {
                parts[3] = "<reply>";
            }
            // Header and total lengths follow the RTT's digits.
            parts.truncate(4);
            out.push(parts.join(" "));
        } else if let Some(at) = line.find(",\"rtt\":") {
            out.push(format!("{}}}", &line[..at]));
        } else {
            out.push(line.to_string());
        }
    }
    out.join("\\r\\n")
}

#[test]
fn accounts_isolation_and_imports() {
    let spec = ServerSpec {
        conf: Some(ACCOUNTS),
        ..ServerSpec::default()
    };
    run_with("accounts_isolation_and_imports", spec, |s| {
        let mut a = s.connect("a");
        a.handshake(&connect("a"), true);
        let mut b = s.connect("b");
        b.handshake(&connect("b"), true);
        let mut c = s.connect("c");
        c.handshake(&connect("c"), true);
        // One subject, three spaces: each sees only its own.
        a.exchange(b"SUB x 1\r\nSUB events.> 2\r\nSUB svc.req 3\r\nSUB svc.many 4\r\n")
            .expect(b"PONG\r\n");
        c.exchange(b"SUB x 1\r\nSUB events.> 2\r\nSUB fromA.> 3\r\n")
            .expect(b"PONG\r\n");
        b.exchange(b"SUB x 1\r\nSUB fromA.events.> 2\r\nSUB events.> 3\r\nSUB reply.> 4\r\nPUB x 1\r\nb\r\n")
            .expect(b"MSG x 1 1\r\nb\r\nPONG\r\n");
        a.ping().expect(b"PONG\r\n");
        c.ping().expect(b"PONG\r\n");
        // A's stream reaches B under the prefix, not C.
        a.exchange(b"PUB events.one 2\r\nhi\r\n")
            .expect(b"MSG events.one 2 2\r\nhi\r\nPONG\r\n");
        b.ping()
            .expect(b"MSG fromA.events.one 2 2\r\nhi\r\nPONG\r\n");
        c.ping().expect(b"PONG\r\n");
        // B's publish on A's exported subject stays in B.
        b.exchange(b"PUB events.two 1\r\nx\r\n")
            .expect(b"MSG events.two 3 1\r\nx\r\nPONG\r\n");
        a.ping().expect(b"PONG\r\n");
        // A service request from B reaches A's responder under A's subject,
        // with a reply subject of the server's; the answer comes back to
        // B's reply subject, once for a singleton.
        b.send(b"PUB a.svc reply.1 3\r\nreq\r\nPING\r\n");
        b.read_to_pong().expect(b"PONG\r\n");
        let got = a.read_msgs_unrecorded(1);
        let reply = reply_of(&got);
        a.record(masked_request(&got));
        s.check(
            !reply.is_empty() && reply != "reply.1",
            format!("reply subject {reply:?}"),
        );
        let answer = format!("PUB {reply} 3\r\nok1\r\nPUB {reply} 3\r\nok2\r\n");
        a.send_as(answer.as_bytes(), "PUB <reply> ok1, PUB <reply> ok2");
        a.ping().expect(b"PONG\r\n");
        b.ping().expect(b"MSG reply.1 4 3\r\nok1\r\nPONG\r\n");
        // A stream response type passes every response.
        b.send(b"PUB svc.many reply.2 1\r\nr\r\nPING\r\n");
        b.read_to_pong().expect(b"PONG\r\n");
        let got = a.read_msgs_unrecorded(1);
        let reply = reply_of(&got);
        a.record(masked_request(&got));
        let answer = format!("PUB {reply} 1\r\n1\r\nPUB {reply} 1\r\n2\r\n");
        a.send_as(answer.as_bytes(), "PUB <reply> 1, PUB <reply> 2");
        a.ping().expect(b"PONG\r\n");
        b.ping()
            .expect(b"MSG reply.2 4 1\r\n1\r\nMSG reply.2 4 1\r\n2\r\nPONG\r\n");
        // An empty response ends a streamed answer: what follows it is
        // not passed on.
        let end = format!("PUB {reply} 0\r\n\r\nPUB {reply} 1\r\n3\r\n");
        a.send_as(end.as_bytes(), "PUB <reply> (empty), PUB <reply> 3");
        a.ping().expect(b"PONG\r\n");
        b.ping().expect(b"MSG reply.2 4 0\r\n\r\nPONG\r\n");
        c.ping().expect(b"PONG\r\n");
    });
}

/// JetStream per account: an account with it has its own streams and its
/// configured limits; one without gets each endpoint's 503/10039.
#[test]
fn accounts_jetstream() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "accounts {\n",
            "  A: { users: [{user: a, password: a}], jetstream: {max_streams: 1} }\n",
            "  B: { users: [{user: b, password: b}], jetstream: enabled }\n",
            "  C: { users: [{user: c, password: c}] }\n",
            "}\n",
        )),
        jetstream: true,
        monitor: false,
    };
    run_with("accounts_jetstream", spec, |s| {
        use crate::scenarios::jetstream::api;
        let mut conns = Vec::new();
        for user in ["a", "b", "c"] {
            let mut c = s.connect(user);
            c.handshake(&connect(user), true);
            c.exchange(b"SUB _INBOX.js 1\r\n").expect(b"PONG\r\n");
            conns.push(c);
        }
        let [a, b, c] = &mut conns[..] else {
            unreachable!()
        };
        let create = |name: &str| format!("{{\"name\":\"{name}\",\"subjects\":[\"{name}\"]}}");
        api(a, "$JS.API.STREAM.CREATE.X", &create("X"));
        api(a, "$JS.API.STREAM.CREATE.Y", &create("Y"));
        api(a, "$JS.API.INFO", "");
        // B's streams are its own: the same name and subject again.
        api(b, "$JS.API.STREAM.CREATE.X", &create("X"));
        api(b, "$JS.API.STREAM.NAMES", "");
        api(b, "$JS.API.INFO", "");
        for (subject, body) in [
            ("$JS.API.INFO", String::new()),
            ("$JS.API.STREAM.CREATE.X", create("X")),
            ("$JS.API.STREAM.NAMES", String::new()),
            ("$JS.API.STREAM.INFO.X", String::new()),
            ("$JS.API.CONSUMER.NAMES.X", String::new()),
        ] {
            api(c, subject, &body);
        }
    });
}

/// An account's JetStream limits: storage by type, streams, consumers
/// and `max_bytes_required`, enforced with the reference's errors and
/// reported in `$JS.API.INFO`.
#[test]
fn accounts_jetstream_limits() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "accounts {\n",
            "  L: { users: [{user: l, password: l}], jetstream: {max_mem: 1MB, max_file: 2MB, max_streams: 3, max_consumers: 2, max_bytes_required: true} }\n",
            "}\n",
        )),
        jetstream: true,
        monitor: false,
    };
    run_with("accounts_jetstream_limits", spec, |s| {
        use crate::scenarios::jetstream::api;
        let mut l = s.connect("l");
        l.handshake(&connect("l"), true);
        l.exchange(b"SUB _INBOX.js 1\r\n").expect(b"PONG\r\n");
        api(&mut l, "$JS.API.INFO", "");
        // max_bytes is required; over what is left is refused.
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a"]}"#,
        );
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a"],"max_bytes":3000000}"#,
        );
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.A",
            r#"{"name":"A","subjects":["a"],"max_bytes":1500000}"#,
        );
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.B",
            r#"{"name":"B","subjects":["b"],"max_bytes":1000000}"#,
        );
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","subjects":["m"],"storage":"memory","max_bytes":2000000}"#,
        );
        api(
            &mut l,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","subjects":["m"],"storage":"memory","max_bytes":500000}"#,
        );
        for name in ["C1", "C2", "C3"] {
            api(
                &mut l,
                &format!("$JS.API.CONSUMER.CREATE.A.{name}"),
                &format!(r#"{{"stream_name":"A","config":{{"durable_name":"{name}"}}}}"#),
            );
        }
        api(&mut l, "$JS.API.INFO", "");
    });
}

/// An account's `max_ack_pending` and per-stream byte caps: consumers over
/// the one refused or capped, streams over the others refused.
#[test]
fn accounts_jetstream_consumer_and_stream_caps() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "accounts {\n",
            "  Q: { users: [{user: q, password: q}], jetstream: {max_ack_pending: 100, disk_max_stream_bytes: 1000, mem_max_stream_bytes: 500} }\n",
            "}\n",
        )),
        jetstream: true,
        monitor: false,
    };
    run_with("accounts_jetstream_consumer_and_stream_caps", spec, |s| {
        use crate::scenarios::jetstream::api;
        let mut q = s.connect("q");
        q.handshake(&connect("q"), true);
        q.exchange(b"SUB _INBOX.js 1\r\n").expect(b"PONG\r\n");
        api(&mut q, "$JS.API.INFO", "");
        api(
            &mut q,
            "$JS.API.STREAM.CREATE.F",
            r#"{"name":"F","subjects":["f"],"max_bytes":2000}"#,
        );
        api(
            &mut q,
            "$JS.API.STREAM.CREATE.M",
            r#"{"name":"M","subjects":["m"],"storage":"memory","max_bytes":600}"#,
        );
        api(
            &mut q,
            "$JS.API.STREAM.CREATE.F",
            r#"{"name":"F","subjects":["f"],"max_bytes":1000}"#,
        );
        for (name, extra) in [
            ("A", ""),
            ("B", r#","max_ack_pending":50"#),
            ("C", r#","max_ack_pending":500"#),
        ] {
            api(
                &mut q,
                &format!("$JS.API.CONSUMER.CREATE.F.{name}"),
                &format!(
                    r#"{{"stream_name":"F","config":{{"durable_name":"{name}","ack_policy":"explicit"{extra}}}}}"#
                ),
            );
        }
    });
}
