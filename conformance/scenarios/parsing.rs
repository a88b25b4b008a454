//! How leniently the server reads the protocol: op case, whitespace, line
//! ends, size tokens, empty payloads and frames split across writes.

use std::thread;
use std::time::Duration;

use crate::runner::run;

const PONG: &[u8] = b"PONG\r\n";

/// Between the two writes of a split frame, so the server reads them apart.
const SPLIT_PAUSE: Duration = Duration::from_millis(3);

#[test]
fn op_names_any_case() {
    run("op_names_any_case", |s| {
        let mut c = s.connect("c1");
        c.handshake(
            b"cOnNeCt {\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true}\r\n",
            true,
        );
        c.send(
            b"sub foo 1\r\npub foo 1\r\na\r\nPub foo 1\r\nb\r\n\
              hpub foo 12 13\r\nNATS/1.0\r\n\r\nc\r\nHpUb foo 12 13\r\nNATS/1.0\r\n\r\nd\r\n\
              pong\r\nunsub 1\r\npub foo 1\r\ne\r\nPiNg\r\n",
        );
        c.read_to_pong().expect(
            b"MSG foo 1 1\r\na\r\nMSG foo 1 1\r\nb\r\n\
              HMSG foo 1 12 13\r\nNATS/1.0\r\n\r\nc\r\nHMSG foo 1 12 13\r\nNATS/1.0\r\n\r\nd\r\n\
              PONG\r\n",
        );
        c.send(b"ping\r\n");
        c.read_to_pong().expect(PONG);
    });
}

#[test]
fn tabs_and_spaces() {
    run("tabs_and_spaces", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB\tfoo\t1\r\n").expect(PONG);
        c.exchange(b"PUB \t foo \t 1\r\nx\r\n")
            .expect(b"MSG foo 1 1\r\nx\r\nPONG\r\n");
        // A trailing space before the line end is fine.
        c.exchange(b"PUB foo bar 1 \r\ny\r\n")
            .expect(b"MSG foo 1 bar 1\r\ny\r\nPONG\r\n");
        let mut q = s.client("queue");
        q.exchange(b"SUB foo  q   2\r\n").expect(PONG);
        c.exchange(b"PUB\tfoo\t\t1\r\nz\r\n")
            .expect(b"MSG foo 1 1\r\nz\r\nPONG\r\n");
        q.ping().expect(b"MSG foo 2 1\r\nz\r\nPONG\r\n");
    });
}

#[test]
fn bare_newline_line_ends() {
    run("bare_newline_line_ends", |s| {
        // Control lines may end in a bare LF; replies still use CRLF.
        let mut c = s.connect("c1");
        c.send(
            b"CONNECT {\"verbose\":false,\"pedantic\":false}\nSUB foo 1\nPUB foo 1\nx\r\nPING\n",
        );
        c.read_to_pong().expect(b"MSG foo 1 1\r\nx\r\nPONG\r\n");
        c.send(b"HPUB foo 12 12\n");
        // (headers were not negotiated: that HPUB closes the connection)
        c.read_until_closed().expect(b"").expect_closed();
        // The payload must end in CRLF.
        let mut c = s.client("c2");
        c.send(b"PUB foo 1\nx\n");
        c.read_until_closed()
            .expect(b"-ERR 'Unknown Protocol Operation'\r\n")
            .expect_closed();
    });
}

#[test]
fn size_and_sid_tokens_verbatim() {
    run("size_and_sid_tokens_verbatim", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB foo 1\r\n").expect(PONG);
        c.exchange(b"PUB foo 01\r\nx\r\n")
            .expect(b"MSG foo 1 01\r\nx\r\nPONG\r\n");
        c.exchange(b"PUB foo r 007\r\nabcdefg\r\n")
            .expect(b"MSG foo 1 r 007\r\nabcdefg\r\nPONG\r\n");
        c.exchange(b"HPUB foo 012 0012\r\nNATS/1.0\r\n\r\n\r\n")
            .expect(b"HMSG foo 1 012 0012\r\nNATS/1.0\r\n\r\n\r\nPONG\r\n");
        // A sid is any token, compared as text.
        c.exchange(b"SUB bar abc\r\nPUB bar 1\r\ny\r\n")
            .expect(b"MSG bar abc 1\r\ny\r\nPONG\r\n");
        let mut c = s.client("c2");
        c.exchange(b"SUB baz 01\r\nUNSUB 1\r\nPUB baz 1\r\nz\r\n")
            .expect(b"MSG baz 01 1\r\nz\r\nPONG\r\n");
        c.exchange(b"UNSUB 01\r\nPUB baz 1\r\nz\r\n").expect(PONG);
    });
}

#[test]
fn zero_payload() {
    run("zero_payload", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB foo 1\r\nPUB foo 0\r\n\r\n")
            .expect(b"MSG foo 1 0\r\n\r\nPONG\r\n");
        c.exchange(b"PUB foo r 0\r\n\r\n")
            .expect(b"MSG foo 1 r 0\r\n\r\nPONG\r\n");
        c.exchange(b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n")
            .expect(b"HMSG foo 1 12 12\r\nNATS/1.0\r\n\r\n\r\nPONG\r\n");
    });
}

#[test]
fn split_writes() {
    run("split_writes", |s| {
        let mut c = s.client("c1");
        c.exchange(b"SUB foo 1\r\n").expect(PONG);
        let frames: [(&[u8], &[u8]); 2] = [
            (
                b"PUB foo rep 5\r\nhello\r\n",
                b"MSG foo 1 rep 5\r\nhello\r\nPONG\r\n",
            ),
            (
                b"HPUB foo 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\n",
                b"HMSG foo 1 18 20\r\nNATS/1.0\r\nA: b\r\n\r\nhi\r\nPONG\r\n",
            ),
        ];
        // Every cut of each frame into two writes.
        for (frame, want) in frames {
            for at in 1..frame.len() {
                c.send(&frame[..at]);
                thread::sleep(SPLIT_PAUSE);
                c.exchange(&frame[at..]).expect(want);
            }
        }
        // One byte per write.
        let frame = b"PUB foo 2\r\nhi\r\n";
        for byte in frame.chunks(1) {
            c.send(byte);
            thread::sleep(SPLIT_PAUSE);
        }
        c.ping().expect(b"MSG foo 1 2\r\nhi\r\nPONG\r\n");
    });
}
