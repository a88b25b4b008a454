//! Message delivery: replies, headers, wildcards, queue groups, UNSUB with a
//! maximum, duplicate sids and echo.
//!
//! Subscribers PING after the publisher's PONG: the reference queues a
//! delivery before it answers the publisher's PING, so the subscriber's PONG
//! comes after everything published up to then.

use crate::runner::run;
use crate::wire::{Conn, Session};

const PONG: &[u8] = b"PONG\r\n";

/// `frames` followed by PONG.
fn then_pong(frames: &[u8]) -> Vec<u8> {
    [frames, PONG].concat()
}

/// A client subscribed with `sub` (a SUB line).
fn subscriber(s: &Session, name: &str, sub: &[u8]) -> Conn {
    let mut c = s.client(name);
    c.exchange(sub).expect(PONG);
    c
}

#[test]
fn pub_sub_reply() {
    run("pub_sub_reply", |s| {
        let mut plain = subscriber(s, "plain", b"SUB foo 1\r\n");
        let mut queue = subscriber(s, "queue", b"SUB foo q 1\r\n");
        let mut publisher = s.client("pub");
        publisher
            .exchange(b"PUB foo bar.baz 5\r\nhello\r\nPUB foo 2\r\nhi\r\n")
            .expect(PONG);
        let want = then_pong(b"MSG foo 1 bar.baz 5\r\nhello\r\nMSG foo 1 2\r\nhi\r\n");
        plain.ping().expect(&want);
        queue.ping().expect(&want);

        // A request and its reply.
        let mut service = subscriber(s, "service", b"SUB svc 1\r\n");
        let mut requester = subscriber(s, "requester", b"SUB _INBOX.r 9\r\n");
        requester
            .exchange(b"PUB svc _INBOX.r 4\r\nping\r\n")
            .expect(PONG);
        service
            .exchange(b"PUB _INBOX.r 4\r\npong\r\n")
            .expect(b"MSG svc 1 _INBOX.r 4\r\nping\r\nPONG\r\n");
        requester
            .ping()
            .expect(b"MSG _INBOX.r 9 4\r\npong\r\nPONG\r\n");
    });
}

#[test]
fn hpub_hmsg() {
    run("hpub_hmsg", |s| {
        let mut sub = subscriber(s, "sub", b"SUB foo 1\r\n");
        let mut publisher = s.client("pub");
        publisher
            .exchange(
                b"HPUB foo 22 27\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhello\r\n\
                  HPUB foo rep 12 12\r\nNATS/1.0\r\n\r\n\r\n\
                  HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n\
                  HPUB foo 37 37\r\nNATS/1.0\r\nK: 1\r\nK: 2\r\nkey-Case: v\r\n\r\n\r\n\
                  PUB foo 2\r\nhi\r\n",
            )
            .expect(PONG);
        sub.ping().expect(&then_pong(
            b"HMSG foo 1 22 27\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhello\r\n\
              HMSG foo 1 rep 12 12\r\nNATS/1.0\r\n\r\n\r\n\
              HMSG foo 1 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n\
              HMSG foo 1 37 37\r\nNATS/1.0\r\nK: 1\r\nK: 2\r\nkey-Case: v\r\n\r\n\r\n\
              MSG foo 1 2\r\nhi\r\n",
        ));
    });
}

#[test]
fn hmsg_to_subscriber_without_headers() {
    run("hmsg_to_subscriber_without_headers", |s| {
        // A subscriber that did not negotiate headers gets the payload only.
        let mut old = s.connect("old");
        old.handshake(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n", false)
            .expect(PONG);
        old.exchange(b"SUB foo 1\r\n").expect(PONG);
        let mut publisher = s.client("pub");
        publisher
            .exchange(b"HPUB foo 22 27\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhello\r\n")
            .expect(PONG);
        old.ping().expect(b"MSG foo 1 5\r\nhello\r\nPONG\r\n");
    });
}

/// Subjects published by `wildcard_subscriptions`, in order.
const PUBLISHED: [&str; 5] = ["foo.bar", "foo.bar.baz", "foo", "foo.b*", "bar.bar"];

#[test]
fn wildcard_subscriptions() {
    run("wildcard_subscriptions", |s| {
        // One subscription per connection, so the order is the publish order.
        let subs: [(&str, &[&str]); 7] = [
            ("foo.bar", &["foo.bar"]),
            ("foo.*", &["foo.bar", "foo.b*"]),
            ("foo.>", &["foo.bar", "foo.bar.baz", "foo.b*"]),
            (">", &PUBLISHED),
            ("*.bar", &["foo.bar", "bar.bar"]),
            ("foo.*.baz", &["foo.bar.baz"]),
            // A `*` inside a token is a literal character.
            ("foo.b*", &["foo.b*"]),
        ];
        let mut conns: Vec<Conn> = subs
            .iter()
            .map(|(subject, _)| subscriber(s, subject, format!("SUB {subject} 1\r\n").as_bytes()))
            .collect();
        let mut publisher = s.client("pub");
        let pubs: String = PUBLISHED
            .iter()
            .map(|subject| format!("PUB {subject} 1\r\nx\r\n"))
            .collect();
        publisher.exchange(pubs.as_bytes()).expect(PONG);
        for (conn, (_, want)) in conns.iter_mut().zip(subs) {
            let msgs: String = want
                .iter()
                .map(|subject| format!("MSG {subject} 1 1\r\nx\r\n"))
                .collect();
            conn.ping().expect(&then_pong(msgs.as_bytes()));
        }
    });
}

#[test]
fn wildcard_publish_subjects() {
    run("wildcard_publish_subjects", |s| {
        // Non-pedantic: a wildcard token in a PUB subject only matches
        // wildcard subscriptions at that position.
        let subs: [(&str, &[u8]); 5] = [
            ("foo.bar", b""),
            ("foo.*", b"MSG foo.* 1 1\r\na\r\nMSG foo.> 1 1\r\nb\r\n"),
            ("foo.>", b"MSG foo.* 1 1\r\na\r\nMSG foo.> 1 1\r\nb\r\n"),
            (">", b"MSG foo.* 1 1\r\na\r\nMSG foo.> 1 1\r\nb\r\n"),
            ("*.*", b"MSG foo.* 1 1\r\na\r\nMSG foo.> 1 1\r\nb\r\n"),
        ];
        let mut conns: Vec<Conn> = subs
            .iter()
            .map(|(subject, _)| subscriber(s, subject, format!("SUB {subject} 1\r\n").as_bytes()))
            .collect();
        let mut publisher = s.client("pub");
        publisher
            .exchange(b"PUB foo.* 1\r\na\r\nPUB foo.> 1\r\nb\r\n")
            .expect(PONG);
        for (conn, (_, want)) in conns.iter_mut().zip(subs) {
            conn.ping().expect(&then_pong(want));
        }
    });
}

#[test]
fn several_subscriptions_one_connection() {
    run("several_subscriptions_one_connection", |s| {
        // One MSG per matching sid; the order among sids is unspecified,
        // so the frames are compared sorted.
        let mut c = s.client("c1");
        c.exchange(b"SUB foo.* 1\r\nSUB foo.> 2\r\nSUB > 3\r\nSUB foo.bar 4\r\nSUB foo.bar 5\r\n")
            .expect(PONG);
        c.exchange_sorted(b"PUB foo.bar 2\r\nhi\r\n").expect(
            b"MSG foo.bar 1 2\r\nhi\r\nMSG foo.bar 2 2\r\nhi\r\nMSG foo.bar 3 2\r\nhi\r\n\
              MSG foo.bar 4 2\r\nhi\r\nMSG foo.bar 5 2\r\nhi\r\nPONG\r\n",
        );
    });
}

#[test]
fn queue_group_exactly_once() {
    run("queue_group_exactly_once", |s| {
        const COUNT: usize = 30;
        let mut members: Vec<Conn> = (0..3)
            .map(|i| subscriber(s, &format!("worker{i}"), b"SUB jobs workers 1\r\n"))
            .collect();
        let mut audit = subscriber(s, "audit", b"SUB jobs audit 1\r\n");
        let mut plain = subscriber(s, "plain", b"SUB jobs 1\r\n");
        let mut publisher = s.client("pub");
        let pubs: String = (0..COUNT)
            .map(|i| format!("PUB jobs {}\r\n{i}\r\n", i.to_string().len()))
            .collect();
        publisher.exchange(pubs.as_bytes()).expect(PONG);

        let all: String = (0..COUNT)
            .map(|i| format!("MSG jobs 1 {}\r\n{i}\r\n", i.to_string().len()))
            .collect();
        // A group with one member and a plain subscription: every message.
        audit.ping().expect(&then_pong(all.as_bytes()));
        plain.ping().expect(&then_pong(all.as_bytes()));

        // The workers share the messages: which gets which is random, so
        // only the union is recorded.
        let mut payloads = Vec::new();
        for member in &mut members {
            let got = member.exchange_unrecorded(b"");
            payloads.extend(msg_payloads(&got));
        }
        payloads.sort_unstable();
        let want: Vec<usize> = (0..COUNT).collect();
        s.note(format!(
            "workers received {} messages, distinct: {}",
            payloads.len(),
            payloads.windows(2).all(|w| w[0] != w[1])
        ));
        s.check(
            payloads == want,
            format!("each of the {COUNT} messages exactly once to the group; got {payloads:?}"),
        );
    });
}

/// The payloads (numbers) of `MSG jobs 1 N` frames.
fn msg_payloads(bytes: &[u8]) -> Vec<usize> {
    let text = String::from_utf8_lossy(bytes);
    let mut lines = text.split("\r\n");
    let mut out = Vec::new();
    while let Some(line) = lines.next() {
        if line.starts_with("MSG jobs 1 ") {
            if let Some(n) = lines.next().and_then(|p| p.parse().ok()) {
                out.push(n);
            }
        }
    }
    out
}

#[test]
fn unsub_with_max() {
    run("unsub_with_max", |s| {
        let mut c = s.client("c1");
        // Two of three.
        c.exchange(b"SUB foo 1\r\nUNSUB 1 2\r\n").expect(PONG);
        c.exchange(b"PUB foo 1\r\na\r\nPUB foo 1\r\nb\r\nPUB foo 1\r\nc\r\n")
            .expect(b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\nPONG\r\n");
        // Max 0, a negative or a non-numeric max: gone at once, no error.
        c.exchange(b"SUB foo 1\r\nUNSUB 1 0\r\nPUB foo 1\r\na\r\n")
            .expect(PONG);
        c.exchange(b"SUB foo 2\r\nUNSUB 2 x\r\nPUB foo 1\r\na\r\n")
            .expect(PONG)
            .expect_open();
        c.exchange(b"SUB foo 3\r\nUNSUB 3 -5\r\nPUB foo 1\r\na\r\n")
            .expect(PONG);
        // The max counts what was already delivered.
        c.exchange(b"SUB foo 4\r\nPUB foo 1\r\na\r\n")
            .expect(b"MSG foo 4 1\r\na\r\nPONG\r\n");
        c.exchange(b"UNSUB 4 1\r\nPUB foo 1\r\nb\r\n").expect(PONG);
        // While the sid is live a SUB reusing it is ignored.
        c.exchange(b"SUB foo 5\r\nUNSUB 5 1\r\nSUB bar 5\r\nPUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n")
            .expect(b"MSG foo 5 1\r\na\r\nPONG\r\n");
        // Unknown sid: nothing.
        c.exchange(b"UNSUB 99\r\nUNSUB 98 3\r\n").expect(PONG);
    });
}

#[test]
fn duplicate_sid_ignored() {
    run("duplicate_sid_ignored", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB foo 1\r\nSUB bar 1\r\n").expect(PONG);
        c.exchange(b"PUB foo 1\r\na\r\nPUB bar 1\r\nb\r\n")
            .expect(b"MSG foo 1 1\r\na\r\nPONG\r\n");
        // sid 0 is an ordinary sid (async-nats uses it).
        c.exchange(b"SUB baz 0\r\nPUB baz 1\r\nc\r\n")
            .expect(b"MSG baz 0 1\r\nc\r\nPONG\r\n");
    });
}

#[test]
fn echo_false() {
    run("echo_false", |s| {
        let mut c = s.connect("c1");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"echo\":false,\"protocol\":1,\"headers\":true}\r\n",
            true,
        );
        c.exchange(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n").expect(PONG);
        // Other connections' messages still arrive.
        let mut other = s.client("other");
        other.exchange(b"PUB foo 1\r\ny\r\n").expect(PONG);
        c.ping().expect(b"MSG foo 1 1\r\ny\r\nPONG\r\n");
    });
}
