//! Authentication configured in the file, compared with the reference:
//! the refusals' exact bytes and closes, the auth timeout, bcrypt hashes,
//! tokens and `no_auth_user`.

use std::time::Duration;

use crate::harness::ServerSpec;
use crate::runner::run_with;

/// bcrypt of "secret" (cost 4).
const USERS: &str = "authorization {\n  timeout: 0.5\n  users: [\n    {user: alice, password: pw}\n    {user: bob, password: \"$2b$04$ttXdJAfGxszFLtR0ur1xiuTVOmNCzz8L6/z0nW9prYhtZnIzHi3Ey\"}\n  ]\n}\n";

#[test]
fn auth_users() {
    let spec = ServerSpec {
        conf: Some(USERS),
        ..ServerSpec::default()
    };
    run_with("auth_users", spec, |s| {
        // An op before CONNECT.
        let mut c = s.connect("first_op_ping");
        c.send(b"PING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        for (name, connect) in [
            (
                "wrong_password",
                &br#"CONNECT {"user":"alice","pass":"no"}"#[..],
            ),
            ("unknown_user", br#"CONNECT {"user":"carol","pass":"pw"}"#),
            ("no_credentials", br#"CONNECT {"verbose":false}"#),
            ("bcrypt_wrong", br#"CONNECT {"user":"bob","pass":"pw"}"#),
        ] {
            let mut c = s.connect(name);
            c.send(&[connect, b"\r\nPING\r\n"].concat())
                .read_until_closed()
                .expect(b"-ERR 'Authorization Violation'\r\n")
                .expect_closed();
        }
        for (name, connect) in [
            ("plain", &br#"CONNECT {"user":"alice","pass":"pw"}"#[..]),
            ("bcrypt", br#"CONNECT {"user":"bob","pass":"secret"}"#),
        ] {
            let mut c = s.connect(name);
            c.exchange(&[connect, b"\r\n"].concat())
                .expect(b"+OK\r\nPONG\r\n")
                .expect_open();
        }
        // Silent: the 0.5 s auth timeout.
        let mut c = s.connect("silent");
        c.read_until_closed_within(Duration::from_secs(5))
            .expect(b"-ERR 'Authentication Timeout'\r\n")
            .expect_closed();
    });
}

#[test]
fn auth_token() {
    let spec = ServerSpec {
        conf: Some("authorization { token: \"s3cr3t\" }\n"),
        ..ServerSpec::default()
    };
    run_with("auth_token", spec, |s| {
        let mut c = s.connect("wrong");
        c.send(b"CONNECT {\"auth_token\":\"nope\"}\r\nPING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        let mut c = s.connect("right");
        c.exchange(b"CONNECT {\"verbose\":false,\"auth_token\":\"s3cr3t\"}\r\n")
            .expect(b"PONG\r\n")
            .expect_open();
    });
}

#[test]
fn auth_no_auth_user() {
    let spec = ServerSpec {
        conf: Some(
            "authorization { users: [ {user: alice, password: pw} ] }\nno_auth_user: alice\n",
        ),
        ..ServerSpec::default()
    };
    run_with("auth_no_auth_user", spec, |s| {
        // No CONNECT, no credentials: taken as alice.
        let mut c = s.connect("bare");
        c.exchange(b"").expect(b"PONG\r\n").expect_open();
        let mut c = s.connect("no_credentials");
        c.exchange(b"CONNECT {\"verbose\":false}\r\n")
            .expect(b"PONG\r\n")
            .expect_open();
        let mut c = s.connect("wrong_password");
        c.send(b"CONNECT {\"user\":\"alice\",\"pass\":\"no\"}\r\nPING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
    });
}
