//! Protocol errors: what the server sends back and whether it closes.
//! Each case runs on its own connection.

use crate::runner::run;
use crate::wire::Session;

/// One bad (or odd) input and the server's answer to it.
struct Case {
    input: &'static [u8],
    /// Everything the server sends in answer, before the close or before
    /// the PONG that follows the input.
    reply: &'static [u8],
    closes: bool,
}

/// The server answers `reply` and closes the connection.
const fn closes(input: &'static [u8], reply: &'static [u8]) -> Case {
    Case {
        input,
        reply,
        closes: true,
    }
}

/// The server answers `reply` and keeps going (a PING still gets PONG).
const fn stays(input: &'static [u8], reply: &'static [u8]) -> Case {
    Case {
        input,
        reply,
        closes: false,
    }
}

/// What a connection does before the case's input.
#[derive(Clone, Copy)]
enum Before {
    /// Reads the INFO only: the input is the first thing sent.
    Nothing,
    /// The real-client handshake with `C1`.
    Client,
    /// This CONNECT (protocol 0) and a PING.
    Connect(&'static [u8]),
}

fn run_cases(s: &mut Session, before: Before, cases: &[Case]) {
    for (i, case) in cases.iter().enumerate() {
        let name = format!("c{i}");
        let mut c = match before {
            Before::Nothing => s.connect(&name),
            Before::Client => s.client(&name),
            Before::Connect(connect) => {
                let mut c = s.connect(&name);
                c.handshake(connect, false).expect(b"PONG\r\n");
                c
            }
        };
        if case.closes {
            c.send(case.input);
            c.read_until_closed().expect(case.reply).expect_closed();
        } else {
            c.exchange(case.input)
                .expect(&[case.reply, b"PONG\r\n"].concat())
                .expect_open();
        }
    }
}

const UNKNOWN: &[u8] = b"-ERR 'Unknown Protocol Operation'\r\n";

#[test]
fn unknown_operations() {
    run("unknown_operations", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"FOO\r\n", UNKNOWN),
                closes(b"\r\n", UNKNOWN),
                closes(b"\n", UNKNOWN),
                closes(b"MSG foo 1 2\r\nhi\r\n", UNKNOWN),
                closes(b"HMSG foo 1 12 12\r\n", UNKNOWN),
                closes(b"PI\r\n", UNKNOWN),
                // Route and leafnode ops are not client ops.
                closes(b"RS+ foo\r\n", UNKNOWN),
                closes(b"LS+ foo\r\n", UNKNOWN),
                closes(b"A+ foo\r\n", UNKNOWN),
            ],
        );
        run_cases(s, Before::Nothing, &[closes(b"FOO\r\n", UNKNOWN)]);
    });
}

#[test]
fn ping_pong_variants() {
    run("ping_pong_variants", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                // Anything after PING/PONG is ignored.
                stays(b"PINGX\r\n", b"PONG\r\n"),
                stays(b"PING foo\r\n", b"PONG\r\n"),
                stays(b"PONG foo\r\n", b""),
                stays(b"PONG\r\n", b""),
            ],
        );
    });
}

#[test]
fn client_sent_server_ops() {
    run("client_sent_server_ops", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                // -ERR from a client closes it, silently.
                closes(b"-ERR 'x'\r\n", b""),
                stays(b"+OK\r\n", b""),
                stays(b"INFO {}\r\n", b""),
            ],
        );
    });
}

#[test]
fn max_payload() {
    run("max_payload", |s| {
        const VIOLATION: &[u8] = b"-ERR 'Maximum Payload Violation'\r\n";
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"PUB foo 2000000\r\n", VIOLATION),
                closes(b"PUB foo 1048577\r\n", VIOLATION),
                closes(b"HPUB foo 12 1048577\r\n", VIOLATION),
            ],
        );
        // Exactly max_payload: accepted, the server waits for the payload.
        let mut c = s.client("exact");
        c.exchange(b"SUB big 1\r\n").expect(b"PONG\r\n");
        c.send(b"PUB big 1048576\r\n");
        c.read_quiet().expect(b"").expect_open();
        let payload = vec![b'x'; 1_048_576];
        c.exchange(&[&payload[..], b"\r\n"].concat());
        let want = [b"MSG big 1 1048576\r\n", &payload[..], b"\r\nPONG\r\n"].concat();
        c.expect(&want);
    });
}

#[test]
fn payload_desync() {
    run("payload_desync", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"PUB foo 2\r\nabc\r\n", UNKNOWN),
                closes(b"PUB foo 1\r\nx\rP", UNKNOWN),
                // The payload must end in CRLF, a bare LF is not enough.
                closes(b"PUB foo 1\nx\n", UNKNOWN),
                // A header block that is not NATS/1.0 desyncs too.
                closes(b"HPUB foo 5 7\r\nHELLO\r\nhi\r\n", UNKNOWN),
            ],
        );
    });
}

#[test]
fn pub_argument_errors() {
    run("pub_argument_errors", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"PUB\r\n", UNKNOWN),
                // Argument errors close without a word.
                closes(b"PUB foo\r\n", b""),
                closes(b"PUB foo bar\r\n", b""),
                closes(b"PUB foo -1\r\n", b""),
                closes(b"PUB foo +1\r\n", b""),
                closes(b"PUB foo bar baz 1\r\n", b""),
            ],
        );
    });
}

#[test]
fn sub_unsub_argument_errors() {
    run("sub_unsub_argument_errors", |s| {
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"SUB\r\n", UNKNOWN),
                closes(b"SUB foo\r\n", b""),
                closes(b"SUB foo bar baz qux\r\n", b""),
                closes(b"SUB foo bar q 8\r\n", b""),
                closes(b"UNSUB\r\n", UNKNOWN),
                closes(b"UNSUB 1 2 3\r\n", b""),
                stays(b"UNSUB 1 x\r\n", b""),
                stays(b"UNSUB 99\r\n", b""),
            ],
        );
    });
}

#[test]
fn invalid_subjects() {
    run("invalid_subjects", |s| {
        const INVALID: &[u8] = b"-ERR 'Invalid Subject'\r\n";
        run_cases(
            s,
            Before::Client,
            &[
                stays(b"SUB foo.. 1\r\n", INVALID),
                stays(b"SUB a.>.b 1\r\n", INVALID),
                stays(b"SUB >.foo 1\r\n", INVALID),
                stays(b"SUB foo. 1\r\n", INVALID),
                stays(b"SUB .foo 1\r\n", INVALID),
                stays(b"SUB foo q..x 1\r\n", b""),
                // Wildcard characters inside a token are literal.
                stays(b"SUB foo.*bar 1\r\n", b""),
                stays(b"SUB foo*.bar 1\r\n", b""),
            ],
        );
    });
}

#[test]
fn connect_json_errors() {
    run("connect_json_errors", |s| {
        // Malformed CONNECT JSON closes without an -ERR.
        run_cases(
            s,
            Before::Nothing,
            &[
                closes(b"CONNECT {bad\r\n", b""),
                closes(b"CONNECT hello\r\n", b""),
                closes(b"CONNECT\r\n", b""),
                closes(b"CONNECT []\r\n", b""),
                closes(b"CONNECT {\"verbose\":\"yes\"}\r\n", b""),
                closes(b"CONNECT {\"verbose\":false} trailing\r\n", b""),
            ],
        );
    });
}

#[test]
fn connect_protocol_errors() {
    run("connect_protocol_errors", |s| {
        const PROTOCOL: &[u8] = b"-ERR 'invalid client protocol'\r\n";
        const NO_HEADERS: &[u8] = b"-ERR 'no responders requires headers support'\r\n";
        run_cases(
            s,
            Before::Nothing,
            &[
                closes(b"CONNECT {\"verbose\":false,\"protocol\":2}\r\n", PROTOCOL),
                closes(b"CONNECT {\"verbose\":false,\"protocol\":-1}\r\n", PROTOCOL),
                closes(
                    b"CONNECT {\"verbose\":false,\"no_responders\":true}\r\n",
                    NO_HEADERS,
                ),
                closes(
                    b"CONNECT {\"verbose\":false,\"no_responders\":true,\"headers\":false}\r\n",
                    NO_HEADERS,
                ),
            ],
        );
    });
}

#[test]
fn hpub_errors() {
    run("hpub_errors", |s| {
        // Without headers negotiated, HPUB closes silently.
        run_cases(
            s,
            Before::Connect(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n"),
            &[
                closes(b"HPUB foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", b""),
                closes(b"hpub foo 12 12\r\nNATS/1.0\r\n\r\n\r\n", b""),
            ],
        );
        run_cases(
            s,
            Before::Client,
            &[
                closes(b"HPUB foo 14 12\r\n", b""),
                closes(b"HPUB foo 12\r\n", b""),
                closes(b"HPUB foo x 12\r\n", b""),
                closes(b"HPUB\r\n", UNKNOWN),
            ],
        );
    });
}

#[test]
fn pedantic_publish_subjects() {
    run("pedantic_publish_subjects", |s| {
        const PEDANTIC: &[u8] =
            b"CONNECT {\"verbose\":false,\"pedantic\":true,\"protocol\":1,\"headers\":true}\r\n";
        const INVALID: &[u8] = b"-ERR 'Invalid Publish Subject'\r\n";
        // A wildcard PUB subject: -ERR, and the message is still delivered.
        let mut c = s.connect("pedantic");
        c.handshake(PEDANTIC, true);
        c.exchange(b"SUB foo.* 1\r\nPUB foo.* 2\r\nhi\r\n")
            .expect(&[INVALID, b"MSG foo.* 1 2\r\nhi\r\nPONG\r\n"].concat())
            .expect_open();
        // Wildcard characters inside a token are fine.
        c.exchange(b"PUB foo* 0\r\n\r\nPUB f>oo 0\r\n\r\n")
            .expect(b"PONG\r\n");
        // Several subscriptions: every one gets it (order unspecified).
        c.exchange(b"SUB foo.> 2\r\nSUB > 3\r\n")
            .expect(b"PONG\r\n");
        c.exchange_sorted(b"PUB foo.* 2\r\nhi\r\n").expect(
            &[
                INVALID,
                b"MSG foo.* 1 2\r\nhi\r\nMSG foo.* 2 2\r\nhi\r\nMSG foo.* 3 2\r\nhi\r\nPONG\r\n",
            ]
            .concat(),
        );
        // An empty token: -ERR and not delivered, even to `>`.
        c.exchange(b"PUB a..b 0\r\n\r\n")
            .expect(&[INVALID, b"PONG\r\n"].concat());

        // Not pedantic: no error, and still not delivered.
        let mut c = s.client("lenient");
        c.exchange(b"SUB > 1\r\nPUB a..b 0\r\n\r\nPUB .a 0\r\n\r\nPUB a. 0\r\n\r\n")
            .expect(b"PONG\r\n");
    });
}

#[test]
fn control_line_limit() {
    run("control_line_limit", |s| {
        const TOO_LONG: &[u8] = b"-ERR 'maximum control line exceeded'\r\n";
        // The limit is on the argument bytes (after the op and its
        // whitespace, before the line end): 4096 pass, 4097 fail.
        let args = |n: usize| vec![b'a'; n];

        // Terminated: SUB with 4096 argument bytes works, 4097 closes.
        let mut c = s.client("sub_4096");
        let sub = [b"SUB ", &args(4094)[..], b" 1\r\n"].concat();
        c.exchange(&sub).expect(b"PONG\r\n");
        let publish = [b"PUB ", &args(4094)[..], b" 1\r\nx\r\n"].concat();
        c.exchange(&publish);
        let want = [b"MSG ", &args(4094)[..], b" 1 1\r\nx\r\nPONG\r\n"].concat();
        c.expect(&want);
        let mut c = s.client("sub_4097");
        c.send(&[b"SUB ", &args(4095)[..], b" 1\r\n"].concat());
        c.read_until_closed().expect(TOO_LONG).expect_closed();

        // Unterminated: 4096 argument bytes wait for the rest...
        let mut c = s.client("pub_4096_open");
        c.send(&[b"PUB ", &args(4094)[..], b" 0"].concat());
        c.read_quiet().expect(b"").expect_open();
        c.exchange(b"\r\n\r\n").expect(b"PONG\r\n");
        // ...leading whitespace does not count...
        let mut c = s.client("pub_spaces_4096_open");
        c.send(&[b"PUB  \t", &args(4094)[..], b" 0"].concat());
        c.read_quiet().expect(b"").expect_open();
        c.exchange(b"\r\n\r\n").expect(b"PONG\r\n");
        // ...and 4097 fail before any line end arrives, in one write or two.
        let mut c = s.client("pub_4097_open");
        c.send(&[b"PUB ", &args(4097)[..]].concat());
        c.read_until_closed().expect(TOO_LONG).expect_closed();
        let mut c = s.client("pub_4097_split");
        c.send(&[b"PUB ", &args(2000)[..]].concat());
        std::thread::sleep(std::time::Duration::from_millis(20));
        c.send(&args(2097));
        c.read_until_closed().expect(TOO_LONG).expect_closed();
        // CONNECT and UNSUB have the same limit.
        let mut c = s.connect("connect_4097");
        c.send(&[b"CONNECT ", &args(4097)[..], b"\r\n"].concat());
        c.read_until_closed().expect(TOO_LONG).expect_closed();
        let mut c = s.client("unsub_4097");
        c.send(&[b"UNSUB ", &args(4097)[..], b"\r\n"].concat());
        c.read_until_closed().expect(TOO_LONG).expect_closed();
        // A bad op fails on its first byte, not on its length.
        let mut c = s.client("unknown_long");
        c.send(&[b"FOO", &args(5000)[..]].concat());
        c.read_until_closed().expect(UNKNOWN).expect_closed();
    });
}
