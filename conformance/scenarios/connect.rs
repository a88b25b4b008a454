//! INFO on connect, the CONNECT handshake, default options and verbose mode.

use crate::runner::run;
use crate::wire::C1;

#[test]
fn info_on_connect() {
    run("info_on_connect", |s| {
        // `connect` checks the INFO's fields and its `} \r\n` ending.
        let mut c1 = s.connect("c1");
        c1.read_quiet().expect(b"").expect_open();
        let c2 = s.connect("c2");
        let id = |c: &crate::wire::Conn| c.info_field("client_id").and_then(|v| v.as_u64());
        s.check(
            matches!((id(&c1), id(&c2)), (Some(a), Some(b)) if b > a),
            "client_id grows with each connection",
        );
    });
}

#[test]
fn connect_protocol_1() {
    run("connect_protocol_1", |s| {
        let mut c = s.connect("c1");
        // PONG, then INFO with connect_info and remote_account (checked).
        c.handshake(C1, true);
        // Only the first PING gets the INFO, and a second CONNECT none.
        c.ping().expect(b"PONG\r\n");
        c.exchange(C1).expect(b"PONG\r\n");

        // Messages published before the first PING come before the PONG
        // and the INFO.
        let mut c = s.connect("c2");
        let mut first = C1.to_vec();
        first.extend_from_slice(b"SUB foo 1\r\nPUB foo 2\r\nhi\r\n");
        c.handshake(&first, true);
        let delivered = c
            .received()
            .starts_with(b"MSG foo 1 2\r\nhi\r\nPONG\r\nINFO ");
        c.check(delivered, "expected MSG, PONG, then INFO".to_string());
    });
}

#[test]
fn connect_protocol_0() {
    run("connect_protocol_0", |s| {
        let mut c = s.connect("c1");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":0}\r\n",
            false,
        )
        .expect(b"PONG\r\n");
        c.ping().expect(b"PONG\r\n");
        // protocol absent is protocol 0.
        let mut c = s.connect("c2");
        c.handshake(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n", false)
            .expect(b"PONG\r\n");
        c.ping().expect(b"PONG\r\n");
    });
}

#[test]
fn connect_empty_is_verbose() {
    run("connect_empty_is_verbose", |s| {
        // Fields absent from CONNECT keep their defaults: verbose, pedantic
        // and echo on.
        let mut c = s.connect("c1");
        c.handshake(b"CONNECT {}\r\n", false)
            .expect(b"+OK\r\nPONG\r\n");
        c.exchange(b"SUB foo 1\r\n").expect(b"+OK\r\nPONG\r\n");
        // +OK comes before the delivery the PUB causes.
        c.exchange(b"PUB foo 2\r\nhi\r\n")
            .expect(b"+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n");
        // A live sid reused: +OK, and the SUB is ignored.
        c.exchange(b"SUB bar 1\r\nPUB bar 0\r\n\r\n")
            .expect(b"+OK\r\n+OK\r\nPONG\r\n");
        c.exchange(b"UNSUB 1\r\n").expect(b"+OK\r\nPONG\r\n");
        c.exchange(b"UNSUB 99\r\n").expect(b"+OK\r\nPONG\r\n");
        // No +OK for PING or PONG.
        c.exchange(b"PONG\r\n").expect(b"PONG\r\n");
        // An invalid SUB gets the -ERR and no +OK.
        c.exchange(b"SUB foo.. 2\r\n")
            .expect(b"-ERR 'Invalid Subject'\r\nPONG\r\n");
        // Pedantic is on: both the -ERR and the +OK.
        c.exchange(b"PUB foo.* 0\r\n\r\n")
            .expect(b"-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n")
            .expect_open();

        // Non-pedantic verbose: an invalid PUB subject is just +OK.
        let mut c = s.connect("c2");
        c.handshake(b"CONNECT {\"pedantic\":false}\r\n", false)
            .expect(b"+OK\r\nPONG\r\n");
        c.exchange(b"PUB a..b 0\r\n\r\n").expect(b"+OK\r\nPONG\r\n");

        // HPUB gets +OK too.
        let mut c = s.connect("c3");
        c.handshake(b"CONNECT {\"headers\":true}\r\n", false)
            .expect(b"+OK\r\nPONG\r\n");
        c.exchange(b"SUB foo 1\r\nHPUB foo 12 14\r\nNATS/1.0\r\n\r\nhi\r\n")
            .expect(b"+OK\r\n+OK\r\nHMSG foo 1 12 14\r\nNATS/1.0\r\n\r\nhi\r\nPONG\r\n");
    });
}

#[test]
fn connect_variants_accepted() {
    run("connect_variants_accepted", |s| {
        // Unknown fields are ignored; credentials are ignored without auth.
        let mut c = s.connect("c1");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"bogus\":1,\"user\":\"a\",\"pass\":\"b\",\"auth_token\":\"t\"}\r\n",
            false,
        )
        .expect(b"PONG\r\n");
        // No space between CONNECT and the JSON.
        let mut c = s.connect("c2");
        c.handshake(b"CONNECT{\"verbose\":false}\r\n", false)
            .expect(b"PONG\r\n");
        // `verbose:false` alone leaves pedantic on.
        c.exchange(b"PUB foo.* 0\r\n\r\n")
            .expect(b"-ERR 'Invalid Publish Subject'\r\nPONG\r\n");
    });
}

#[test]
fn ops_before_connect() {
    run("ops_before_connect", |s| {
        // Without auth, ops before CONNECT run with the default options
        // (verbose, pedantic, echo).
        let mut c = s.connect("c1");
        c.exchange(b"SUB foo 1\r\n").expect(b"+OK\r\nPONG\r\n");
        c.exchange(b"PUB foo 2\r\nhi\r\n")
            .expect(b"+OK\r\nMSG foo 1 2\r\nhi\r\nPONG\r\n");
        c.exchange(b"PUB foo.* 0\r\n\r\n")
            .expect(b"-ERR 'Invalid Publish Subject'\r\n+OK\r\nPONG\r\n");
        c.exchange(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\nPUB foo 1\r\nx\r\n")
            .expect(b"MSG foo 1 1\r\nx\r\nPONG\r\n")
            .expect_open();

        // A protocol 1 CONNECT after a PING was already answered: the
        // connect INFO follows the first PONG after the CONNECT.
        let mut c = s.connect("c2");
        c.ping().expect(b"PONG\r\n");
        c.handshake(C1, true);
        c.exchange(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n")
            .expect(b"MSG foo 1 1\r\nx\r\nPONG\r\n");
    });
}
