//! The protocol byte for byte over raw TCP: INFO, +OK, PING/PONG, -ERR and
//! whether it closes, auto-unsubscribe, and ops split across reads.

mod harness;

use harness::{show, start_server, wait_until, Wire};

const QUIET_CONNECT: &[u8] = b"CONNECT {\"verbose\":false,\"pedantic\":true}\r\n";

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn info_has_the_fields_clients_rely_on() {
    let server = start_server().await;
    let (_wire, line) = Wire::connect_past_info(server.addr()).await;
    assert!(line.ends_with(b" \r\n"), "{}", show(&line));
    let json = &line[b"INFO ".len()..line.len() - 3];
    let info: serde_json::Value = serde_json::from_slice(json).expect("INFO is JSON");

    let id = info["server_id"].as_str().expect("server_id string");
    assert_eq!(id.len(), 56, "{id}");
    assert!(id.starts_with('N'), "{id}");
    assert!(
        id.bytes()
            .all(|b| b.is_ascii_uppercase() || (b'2'..=b'7').contains(&b)),
        "{id}"
    );
    assert_eq!(info["server_id"], server.server().id());
    assert!(info["server_name"].is_string());
    assert_eq!(info["version"], "2.14.0");
    assert_eq!(info["proto"], 1);
    assert_eq!(info["headers"], true);
    assert_eq!(info["max_payload"], 1_048_576);
    assert_eq!(info["port"], server.addr().port());
    assert!(info["client_id"].is_u64(), "{info}");
    assert_eq!(info["client_ip"], "127.0.0.1");
    assert!(info["api_lvl"].is_u64(), "{info}");
    assert!(info.get("ldm").is_none(), "{info}");

    // Each connection has its own client id.
    let (_other, line2) = Wire::connect_past_info(server.addr()).await;
    let info2: serde_json::Value =
        serde_json::from_slice(&line2[5..line2.len() - 3]).expect("INFO is JSON");
    assert_ne!(info["client_id"], info2["client_id"]);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_acknowledges_each_op_and_ping_gets_pong() {
    let server = start_server().await;
    let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
    wire.send(b"CONNECT {\"verbose\":true}\r\n").await;
    wire.expect(b"+OK\r\n").await;
    wire.send(b"PING\r\n").await;
    wire.expect(b"PONG\r\n").await;
    wire.send(b"SUB foo 1\r\n").await;
    wire.expect(b"+OK\r\n").await;
    wire.send(b"PUB bar 2\r\nhi\r\n").await;
    wire.expect(b"+OK\r\n").await;
    wire.send(b"UNSUB 1\r\n").await;
    wire.expect(b"+OK\r\n").await;
    wire.send(b"PUB foo 2\r\nhi\r\n").await;
    wire.expect(b"+OK\r\n").await;
    wire.expect_only_pong().await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn verbose_ok_comes_before_the_echoed_message() {
    // The reference acknowledges a PUB before routing it, so a verbose
    // client subscribed to its own subject sees +OK, then the MSG.
    let server = start_server().await;
    let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
    wire.send(b"CONNECT {\"verbose\":true}\r\nSUB foo 1\r\n")
        .await;
    wire.expect(b"+OK\r\n+OK\r\n").await;
    wire.send(b"PUB foo 2\r\nhi\r\n").await;
    wire.expect(b"+OK\r\nMSG foo 1 2\r\nhi\r\n").await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pings_are_answered_before_and_after_connect() {
    let server = start_server().await;
    let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
    wire.send(b"PING\r\nPING\r\n").await;
    wire.expect(b"PONG\r\nPONG\r\n").await;
    wire.send(QUIET_CONNECT).await;
    wire.send(b"ping\r\n").await;
    wire.expect(b"PONG\r\n").await;
    // The server ignores a PONG it did not ask for.
    wire.send(b"PONG\r\n").await;
    wire.expect_only_pong().await;
}

/// A protocol error case: bytes sent after a quiet CONNECT, the exact reply,
/// and whether the server then closes.
struct ErrCase {
    name: &'static str,
    send: Vec<u8>,
    reply: &'static [u8],
    closes: bool,
}

fn err_cases() -> Vec<ErrCase> {
    let long_sub = format!("SUB {} 1\r\n", "a".repeat(5000));
    vec![
        ErrCase {
            name: "unknown op",
            send: b"FOO bar\r\n".to_vec(),
            reply: b"-ERR 'Unknown Protocol Operation'\r\n",
            closes: true,
        },
        ErrCase {
            name: "invalid subscribe subject",
            send: b"SUB foo..bar 1\r\n".to_vec(),
            reply: b"-ERR 'Invalid Subject'\r\n",
            closes: false,
        },
        ErrCase {
            name: "wildcard publish subject with pedantic",
            send: b"PUB foo.* 2\r\nhi\r\n".to_vec(),
            reply: b"-ERR 'Invalid Publish Subject'\r\n",
            closes: false,
        },
        ErrCase {
            name: "payload over max_payload",
            send: b"PUB foo 2000000\r\n".to_vec(),
            reply: b"-ERR 'Maximum Payload Violation'\r\n",
            closes: true,
        },
        ErrCase {
            name: "control line over max_control_line",
            send: long_sub.into_bytes(),
            reply: b"-ERR 'maximum control line exceeded'\r\n",
            closes: true,
        },
        ErrCase {
            name: "bad PUB size",
            send: b"PUB foo bar\r\n".to_vec(),
            reply: b"",
            closes: true,
        },
        ErrCase {
            name: "unsupported protocol version",
            send: b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n".to_vec(),
            reply: b"-ERR 'invalid client protocol'\r\n",
            closes: true,
        },
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn protocol_errors_reply_exactly_and_close_when_they_should() {
    let server = start_server().await;
    for case in err_cases() {
        let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
        wire.send(QUIET_CONNECT).await;
        wire.send(&case.send).await;
        let got = wire.read_exact(case.reply.len()).await;
        assert_eq!(show(&got), show(case.reply), "case {}", case.name);
        if case.closes {
            wire.expect_closed().await;
        } else {
            wire.expect_only_pong().await;
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn unsub_with_max_delivers_exactly_that_many() {
    let server = start_server().await;
    let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
    wire.send(QUIET_CONNECT).await;
    wire.send(b"SUB foo 7\r\nUNSUB 7 2\r\n").await;
    for i in 0..5 {
        wire.send(format!("PUB foo 1\r\n{i}\r\n").as_bytes()).await;
    }
    wire.expect(b"MSG foo 7 1\r\n0\r\nMSG foo 7 1\r\n1\r\n")
        .await;
    wire.expect_only_pong().await;
    // The sid is free again once the limit removed the subscription.
    wire.send(b"SUB bar 7\r\nPUB bar 2\r\nok\r\n").await;
    wire.expect(b"MSG bar 7 2\r\nok\r\n").await;
}

/// Several ops of every kind the client sends, and what the server must
/// answer to them.
fn split_fixture() -> (Vec<u8>, Vec<u8>) {
    let headers = "NATS/1.0\r\nA: b\r\nA: c\r\n\r\n";
    let body = "hello";
    let hpub = format!(
        "HPUB bar.baz {} {}\r\n{headers}{body}\r\n",
        headers.len(),
        headers.len() + body.len()
    );
    let hmsg = format!(
        "HMSG bar.baz 2 {} {}\r\n{headers}{body}\r\n",
        headers.len(),
        headers.len() + body.len()
    );
    let send = [
        "CONNECT {\"verbose\":false,\"pedantic\":false,\"headers\":true}\r\n",
        "SUB foo 1\r\n",
        "SUB bar.* workers 2\r\n",
        "PUB foo 5\r\nhello\r\n",
        "PUB foo reply.x 6\r\nab\r\ncd\r\n",
        &hpub,
        "pub foo 0\r\n\r\n",
        "UNSUB 1\r\n",
        "PUB foo 2\r\nno\r\n",
        "PUB bar.q 3\r\nyes\r\n",
        "PING\r\n",
    ]
    .concat();
    let want = [
        "MSG foo 1 5\r\nhello\r\n",
        "MSG foo 1 reply.x 6\r\nab\r\ncd\r\n",
        &hmsg,
        "MSG foo 1 0\r\n\r\n",
        "MSG bar.q 2 3\r\nyes\r\n",
        "PONG\r\n",
    ]
    .concat();
    (send.into_bytes(), want.into_bytes())
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ops_split_at_every_byte_offset_give_identical_replies() {
    let server = start_server().await;
    let srv = server.server().clone();
    let (fixture, want) = split_fixture();
    for cut in 0..=fixture.len() {
        let (mut wire, _) = Wire::connect_past_info(server.addr()).await;
        let (head, tail) = fixture.split_at(cut);
        wire.send(head).await;
        wire.send(tail).await;
        let got = wire.read_through(b"PONG\r\n").await;
        assert_eq!(show(&got), show(&want), "split at byte {cut}");
        wire.expect_only_pong().await;
        // The queue group must not keep a member from this connection.
        drop(wire);
        wait_until("connection to close", || srv.num_clients() == 0).await;
    }
}
