//! Subject mappings from the config: a publish routed under the mapped
//! subject (partitions, splits and wildcards as the reference computes
//! them), weights that keep or drop, per-account mappings, and JetStream
//! capturing the mapped subject.

use crate::harness::ServerSpec;
use crate::runner::run_with;

const GLOBAL: &str = concat!(
    "mappings {\n",
    "  \"foo\": \"bar\"\n",
    "  \"orders.*.*\": \"o.{{partition(5,1)}}.{{wildcard(2)}}.$1\"\n",
    "  \"events.>\": \"ev.{{partition(4)}}.>\"\n",
    "  \"split.*\": \"sp.{{splitfromleft(1,2)}}.{{slicefromright(1,2)}}\"\n",
    "  \"keep\": [{destination: \"kept\", weight: 100%}]\n",
    "  \"gone\": [{destination: \"gone\", weight: 0}]\n",
    "  \"store.*\": \"stored.$1\"\n",
    "}\n",
);

#[test]
fn mappings_route_publishes_under_the_mapped_subject() {
    let spec = ServerSpec {
        conf: Some(GLOBAL),
        jetstream: true,
        monitor: false,
    };
    run_with(
        "mappings_route_publishes_under_the_mapped_subject",
        spec,
        |s| {
            let mut c = s.client("c");
            c.exchange(b"SUB > 1\r\n").expect(b"PONG\r\n");
            c.exchange(b"PUB foo 1\r\na\r\n")
                .expect(b"MSG bar 1 1\r\na\r\nPONG\r\n");
            c.exchange(b"PUB keep 1\r\nb\r\n")
                .expect(b"MSG kept 1 1\r\nb\r\nPONG\r\n");
            // Listed at 0%: every publish dropped.
            c.exchange(b"PUB gone 1\r\nc\r\n").expect(b"PONG\r\n");
            // Compared with the reference: which partition each key lands in.
            for key in ["k1", "alpha", "zz", "order-77"] {
                c.exchange(format!("PUB orders.{key}.x 1\r\nd\r\n").as_bytes());
            }
            for subject in ["events.a", "events.a.b.c", "events.zz9"] {
                c.exchange(format!("PUB {subject} 1\r\ne\r\n").as_bytes());
            }
            c.exchange(b"PUB split.abcdefg 1\r\nf\r\n");
            // Unmapped subjects pass as they are; subscriptions are not mapped.
            c.exchange(b"PUB plain 1\r\ng\r\n")
                .expect(b"MSG plain 1 1\r\ng\r\nPONG\r\n");
            // A stream on the mapped subject captures the publish.
            c.exchange(b"SUB _INBOX.js 2\r\n").expect(b"PONG\r\n");
            c.exchange(
            b"PUB $JS.API.STREAM.CREATE.S _INBOX.js 40\r\n{\"name\":\"S\",\"subjects\":[\"stored.*\"]}\r\n",
        );
            c.exchange(b"UNSUB 1\r\n");
            c.exchange(b"PUB store.one _INBOX.js 1\r\nh\r\n");
        },
    );
}

#[test]
fn account_mappings_stay_in_their_account() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "accounts {\n",
            "  A: { users: [{user: a, password: a}], mappings: { \"x.*\": \"y.{{partition(3)}}.$1\" } }\n",
            "  B: { users: [{user: b, password: b}] }\n",
            "}\n",
        )),
        ..ServerSpec::default()
    };
    run_with("account_mappings_stay_in_their_account", spec, |s| {
        let connect = |user: &str| {
            format!(
                "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true,\"user\":\"{user}\",\"pass\":\"{user}\"}}\r\n"
            )
            .into_bytes()
        };
        let mut a = s.connect("a");
        a.handshake(&connect("a"), true);
        let mut b = s.connect("b");
        b.handshake(&connect("b"), true);
        a.exchange(b"SUB > 1\r\nPUB x.1 1\r\na\r\nPUB x.k 1\r\na\r\n");
        b.exchange(b"SUB > 1\r\nPUB x.1 1\r\nb\r\n")
            .expect(b"MSG x.1 1 1\r\nb\r\nPONG\r\n");
    });
}
