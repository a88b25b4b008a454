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

#[test]
fn auth_permissions() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "authorization {\n",
            "  default_permissions: { publish: \"pub.>\", subscribe: \"pub.>\" }\n",
            "  users: [\n",
            "    {user: alice, password: pw, permissions: {\n",
            "      publish: {allow: [\"foo.>\", \"_INBOX.>\"], deny: [\"foo.secret\"]}\n",
            "      subscribe: {allow: [\"foo.>\", \"q.* workers\"], deny: \"foo.hidden\"}\n",
            "    }}\n",
            "    {user: bob, password: pw}\n",
            "  ]\n",
            "}\n"
        )),
        ..ServerSpec::default()
    };
    run_with("auth_permissions", spec, |s| {
        let mut a = s.connect("alice");
        a.exchange(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\n")
            .expect(b"PONG\r\n");
        // Allowed and refused subscriptions; the connection stays.
        a.exchange(b"SUB foo.* 1\r\nSUB bar 2\r\nSUB foo.hidden 3\r\nSUB q.a 4\r\nSUB q.a workers 5\r\nSUB q.a others 6\r\nSUB > 7\r\n")
            .expect(concat!(
                "-ERR 'Permissions Violation for Subscription to \"bar\"'\r\n",
                "-ERR 'Permissions Violation for Subscription to \"foo.hidden\"'\r\n",
                "-ERR 'Permissions Violation for Subscription to \"q.a\"'\r\n",
                "-ERR 'Permissions Violation for Subscription to \"q.a\" using queue \"others\"'\r\n",
                "-ERR 'Permissions Violation for Subscription to \">\"'\r\n",
                "PONG\r\n"
            ).as_bytes());
        // Allowed and refused publishes: refused ones are dropped.
        a.exchange(b"PUB foo.a 1\r\nx\r\nPUB foo.secret 1\r\ny\r\nPUB bar 1\r\nz\r\n")
            .expect(
                concat!(
                    "MSG foo.a 1 1\r\nx\r\n",
                    "-ERR 'Permissions Violation for Publish to \"foo.secret\"'\r\n",
                    "-ERR 'Permissions Violation for Publish to \"bar\"'\r\n",
                    "PONG\r\n"
                )
                .as_bytes(),
            )
            .expect_open();
        // Bob has the default permissions.
        let mut b = s.connect("bob");
        b.exchange(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"bob\",\"pass\":\"pw\"}\r\n",
        )
        .expect(b"PONG\r\n");
        b.exchange(b"SUB pub.x 1\r\nSUB foo.a 2\r\nPUB pub.x 1\r\nx\r\nPUB foo.a 1\r\ny\r\n")
            .expect(
                concat!(
                    "-ERR 'Permissions Violation for Subscription to \"foo.a\"'\r\n",
                    "MSG pub.x 1 1\r\nx\r\n",
                    "-ERR 'Permissions Violation for Publish to \"foo.a\"'\r\n",
                    "PONG\r\n"
                )
                .as_bytes(),
            );
    });
}

#[test]
fn auth_wildcard_subscription_over_a_deny() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "authorization { users: [ {user: a, password: pw, permissions: {\n",
            "  subscribe: {allow: \"foo.>\", deny: \"foo.hidden\"}\n",
            "}} ] }\n"
        )),
        ..ServerSpec::default()
    };
    run_with("auth_wildcard_subscription_over_a_deny", spec, |s| {
        let mut c = s.connect("a");
        c.exchange(
            b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"a\",\"pass\":\"pw\"}\r\n",
        )
        .expect(b"PONG\r\n");
        // The wildcard is allowed; messages on the denied subject do not
        // reach it.
        c.exchange(b"SUB foo.* 1\r\nPUB foo.hidden 1\r\nx\r\nPUB foo.seen 1\r\ny\r\n")
            .expect(b"MSG foo.seen 1 1\r\ny\r\nPONG\r\n");
    });
}

#[test]
fn auth_allow_responses() {
    let spec = ServerSpec {
        conf: Some(concat!(
            "authorization { users: [\n",
            "  {user: svc, password: pw, permissions: {subscribe: \"req.>\", allow_responses: {max: 2}}}\n",
            "  {user: cli, password: pw}\n",
            "] }\n"
        )),
        ..ServerSpec::default()
    };
    run_with("auth_allow_responses", spec, |s| {
        let mut svc = s.connect("svc");
        svc.exchange(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"svc\",\"pass\":\"pw\"}\r\nSUB req.a 1\r\n")
            .expect(b"PONG\r\n");
        let mut cli = s.connect("cli");
        cli.exchange(b"CONNECT {\"verbose\":false,\"pedantic\":false,\"user\":\"cli\",\"pass\":\"pw\"}\r\nSUB _INBOX.r1 1\r\n")
            .expect(b"PONG\r\n");
        // No request yet: the service may not publish there.
        svc.exchange(b"PUB _INBOX.r1 1\r\nx\r\n")
            .expect(b"-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\nPONG\r\n");
        cli.exchange(b"PUB req.a _INBOX.r1 1\r\nq\r\n")
            .expect(b"PONG\r\n");
        svc.read_msgs_unrecorded(1);
        // Two responses are allowed, the third is not; other subjects never.
        svc.exchange(b"PUB _INBOX.r1 2\r\nr1\r\nPUB _INBOX.r1 2\r\nr2\r\nPUB _INBOX.r1 2\r\nr3\r\nPUB other 1\r\nx\r\n")
            .expect(concat!(
                "-ERR 'Permissions Violation for Publish to \"_INBOX.r1\"'\r\n",
                "-ERR 'Permissions Violation for Publish to \"other\"'\r\n",
                "PONG\r\n"
            ).as_bytes());
        cli.exchange(b"")
            .expect(b"MSG _INBOX.r1 1 2\r\nr1\r\nMSG _INBOX.r1 1 2\r\nr2\r\nPONG\r\n");
    });
}

/// The seed of the NKey user the scenarios sign in as.
const NKEY_SEED: [u8; 32] = [5; 32];

fn nkey_pair() -> ring::signature::Ed25519KeyPair {
    ring::signature::Ed25519KeyPair::from_seed_unchecked(&NKEY_SEED).expect("seed")
}

fn nkey_public() -> String {
    use ring::signature::KeyPair;
    let raw: [u8; 32] = nkey_pair()
        .public_key()
        .as_ref()
        .try_into()
        .expect("32 bytes");
    tern::nkey::encode_public(tern::nkey::KeyKind::User, &raw)
}

/// A CONNECT for the NKey user signing `nonce` (base64url, or standard
/// base64 when `std`).
fn nkey_connect(public: &str, nonce: &str, std: bool) -> Vec<u8> {
    use base64::Engine;
    let sig = nkey_pair().sign(nonce.as_bytes());
    let sig = if std {
        base64::engine::general_purpose::STANDARD.encode(sig.as_ref())
    } else {
        base64::engine::general_purpose::URL_SAFE_NO_PAD.encode(sig.as_ref())
    };
    format!("CONNECT {{\"verbose\":false,\"nkey\":\"{public}\",\"sig\":\"{sig}\"}}\r\n")
        .into_bytes()
}

#[test]
fn auth_nkeys() {
    let public = nkey_public();
    let conf = format!(
        "authorization {{\n  users: [\n    {{nkey: {public}, permissions: {{publish: \"a.>\"}}}}\n    {{user: alice, password: pw}}\n  ]\n}}\n"
    );
    let spec = ServerSpec {
        conf: Some(Box::leak(conf.into_boxed_str())),
        ..ServerSpec::default()
    };
    run_with("auth_nkeys", spec, |s| {
        let public = nkey_public();
        for (name, std) in [("signed", false), ("signed_std_base64", true)] {
            let mut c = s.connect(name);
            let nonce = c
                .info_field("nonce")
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string();
            s.check(nonce.len() == 15, format!("{name}: nonce {nonce:?}"));
            let connect = nkey_connect(&public, &nonce, std);
            c.send_as(&connect, "CONNECT {nkey, sig of the nonce}");
            c.exchange(b"PUB a.b 1\r\nx\r\nPUB b 1\r\nx\r\n")
                .expect(b"-ERR 'Permissions Violation for Publish to \"b\"'\r\nPONG\r\n")
                .expect_open();
        }
        // Signed, but another nonce than this connection's.
        let mut c = s.connect("wrong_nonce");
        let connect = nkey_connect(&public, "AAAAAAAAAAAAAAA", false);
        c.send_as(&connect, "CONNECT {nkey, sig of another nonce}");
        c.send(b"PING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        let unsigned = format!("CONNECT {{\"nkey\":\"{public}\"}}\r\nPING\r\n");
        let mut c = s.connect("unsigned");
        c.send_as(
            unsigned.as_bytes(),
            "CONNECT {nkey, no sig}\\r\\nPING\\r\\n",
        );
        c.read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        let mut c = s.connect("unknown_nkey");
        c.send(b"CONNECT {\"nkey\":\"UDXU4RCSJNZOIQHZNWXHXORDPRTGNJAHAHFRGZNEEJCPQTT2M7NLCNF4\",\"sig\":\"AAAA\"}\r\nPING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        let mut c = s.connect("bad_base64");
        let bad = format!("CONNECT {{\"nkey\":\"{public}\",\"sig\":\"!!\"}}\r\nPING\r\n");
        c.send_as(bad.as_bytes(), "CONNECT {nkey, sig !!}\\r\\nPING\\r\\n");
        c.read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        // Password users sign in beside NKey users.
        let mut c = s.connect("password_user");
        c.exchange(b"CONNECT {\"verbose\":false,\"user\":\"alice\",\"pass\":\"pw\"}\r\n")
            .expect(b"PONG\r\n")
            .expect_open();
    });
}
