//! No responders: a request delivered to nobody, from a client that asked
//! for `no_responders` (with headers), gets a 503 HMSG on its own
//! subscription matching the reply subject.

use crate::runner::run;
use crate::wire::C1;

const PONG: &[u8] = b"PONG\r\n";

/// The 503 for a request to `nobody`, delivered on `_INBOX.a` sid 7.
const NO_RESPONDERS: &[u8] =
    b"HMSG _INBOX.a 7 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n";

#[test]
fn no_responders_plain_inbox() {
    run("no_responders_plain_inbox", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB _INBOX.a 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(NO_RESPONDERS);
        // The publisher's payload and headers are dropped.
        c.exchange(b"PUB nobody _INBOX.a 5\r\nhello\r\n")
            .expect(NO_RESPONDERS);
        c.exchange(b"HPUB nobody _INBOX.a 22 24\r\nNATS/1.0\r\nFoo: bar\r\n\r\nhi\r\n")
            .expect(NO_RESPONDERS);
        // The subject's length shows in the sizes: 32 + len(subject).
        c.exchange(b"PUB a.b.c _INBOX.a 0\r\n\r\n").expect(
            b"HMSG _INBOX.a 7 37 37\r\nNATS/1.0 503\r\nNats-Subject: a.b.c\r\n\r\n\r\nPONG\r\n",
        );
        // A reply subject none of its subscriptions match: nothing.
        c.exchange(b"PUB nobody _INBOX.b 0\r\n\r\n").expect(PONG);
        // No reply subject: nothing.
        c.exchange(b"PUB nobody 0\r\n\r\n").expect(PONG);
    });
}

#[test]
fn no_responders_wildcard_inboxes() {
    run("no_responders_wildcard_inboxes", |s| {
        let mut c = s.client("gt");
        c.exchange(b"SUB _INBOX.> 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(NO_RESPONDERS);
        // async-nats's muxed inbox: one `_INBOX.<nuid>.*` sub, sid 0.
        let mut c = s.client("muxed");
        c.exchange(b"SUB _INBOX.x.* 0\r\nPUB nobody _INBOX.x.abc 0\r\n\r\n")
            .expect(b"HMSG _INBOX.x.abc 0 38 38\r\nNATS/1.0 503\r\nNats-Subject: nobody\r\n\r\n\r\nPONG\r\n");
    });
}

#[test]
fn no_responders_only_when_nobody_gets_it() {
    run("no_responders_only_when_nobody_gets_it", |s| {
        // No inbox subscription at all: nothing.
        let mut c = s.client("no_inbox");
        c.exchange(b"PUB nobody _INBOX.a 0\r\n\r\n").expect(PONG);
        // Its own queue subscription counts as a responder. (Another
        // subject: connections stay open to the end of the scenario, and
        // this subscription would answer for `nobody` below.)
        let mut c = s.client("own_queue");
        c.exchange(b"SUB queued q 8\r\nSUB _INBOX.a 7\r\nPUB queued _INBOX.a 0\r\n\r\n")
            .expect(b"MSG queued 8 _INBOX.a 0\r\n\r\nPONG\r\n");
        // An unsubscribed responder does not.
        let mut c = s.client("unsubscribed");
        c.exchange(b"SUB nobody 8\r\nUNSUB 8\r\nSUB _INBOX.a 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(NO_RESPONDERS);
        // With echo off its own subscription is no responder.
        let mut c = s.connect("no_echo");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"no_responders\":true,\"echo\":false}\r\n",
            true,
        );
        c.exchange(b"SUB nobody 8\r\nSUB _INBOX.a 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(NO_RESPONDERS);
        // A responder on another connection: the request, no 503.
        let mut service = s.client("service");
        service.exchange(b"SUB svc 1\r\n").expect(PONG);
        let mut requester = s.client("requester");
        requester
            .exchange(b"SUB _INBOX.a 7\r\nPUB svc _INBOX.a 2\r\nhi\r\n")
            .expect(PONG);
        service
            .ping()
            .expect(b"MSG svc 1 _INBOX.a 2\r\nhi\r\nPONG\r\n");
    });
}

#[test]
fn no_503_without_no_responders() {
    run("no_503_without_no_responders", |s| {
        let mut c = s.connect("headers_only");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true}\r\n",
            true,
        );
        c.exchange(b"SUB _INBOX.a 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(PONG);
        // Asking for no responders on a second CONNECT turns it on.
        let mut c = s.connect("reconnect");
        c.handshake(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true}\r\n",
            true,
        );
        c.exchange(C1).expect(PONG);
        c.exchange(b"SUB _INBOX.a 7\r\nPUB nobody _INBOX.a 0\r\n\r\n")
            .expect(NO_RESPONDERS);
    });
}
