//! Operator mode (JWTs, as nsc sets it up), compared with the reference:
//! the same operator, account and user JWTs given to both servers
//! (`resolver: MEMORY` with preloads), and clients signing in with user
//! JWTs: signed, by signing keys, bearer, expired, revoked, forged, of an
//! unknown account, with permissions, past the account's connections.

use ring::signature::{Ed25519KeyPair, KeyPair};
use serde_json::{json, Value};
use tern::jwt;
use tern::nkey::{encode_public, KeyKind};

use crate::harness::ServerSpec;
use crate::runner::run_with;

struct Key {
    pair: Ed25519KeyPair,
    public: String,
}

fn key(seed: u8, kind: KeyKind) -> Key {
    let pair = Ed25519KeyPair::from_seed_unchecked(&[seed; 32]).expect("seed");
    let raw: [u8; 32] = pair.public_key().as_ref().try_into().expect("32 bytes");
    Key {
        public: encode_public(kind, &raw),
        pair,
    }
}

/// A JWT of `kind` about `sub`, issued (and signed) by `iss`, with the
/// unlimited defaults nsc writes (a missing limit reads as zero).
fn issue(iss: &Key, sub: &str, kind: &str, mut nats: Value, extra: Value) -> String {
    nats["type"] = json!(kind);
    nats["version"] = json!(2);
    let unlimited = json!({"subs": -1, "data": -1, "payload": -1});
    match kind {
        "user" => {
            for (k, v) in unlimited.as_object().into_iter().flatten() {
                if nats.get(k).is_none() {
                    nats[k] = v.clone();
                }
            }
        }
        "account" => {
            let mut limits = json!({
                "subs": -1, "data": -1, "payload": -1, "conn": -1, "leaf": -1,
                "imports": -1, "exports": -1, "wildcards": true,
            });
            if let Some(given) = nats.get("limits").and_then(Value::as_object) {
                for (k, v) in given {
                    limits[k] = v.clone();
                }
            }
            nats["limits"] = limits;
        }
        _ => {}
    }
    let mut claims = json!({
        "jti": format!("{kind}-{sub}"),
        "iat": 1_700_000_000,
        "iss": iss.public,
        "name": kind,
        "sub": sub,
        "nats": nats,
    });
    if let (Some(c), Some(e)) = (claims.as_object_mut(), extra.as_object()) {
        for (k, v) in e {
            c.insert(k.clone(), v.clone());
        }
    }
    jwt::encode(&claims, |b| iss.pair.sign(b).as_ref().to_vec())
}

/// The accounts the user scenario signs in to; the same seeds give the
/// same keys, so the scenario (a plain fn) rebuilds them.
struct Keys {
    account: Key,
    signer: Key,
    limited: Key,
}

fn keys() -> Keys {
    Keys {
        account: key(12, KeyKind::Account),
        signer: key(13, KeyKind::Account),
        limited: key(18, KeyKind::Account),
    }
}

/// The operator both servers trust (and its system account), with
/// `accounts` (public key, JWT) preloaded in a memory resolver.
fn operator_conf(accounts: &[(&str, String)]) -> &'static str {
    let operator = key(11, KeyKind::Operator);
    let system = key(17, KeyKind::Account);
    let op_jwt = issue(
        &operator,
        &operator.public,
        "operator",
        json!({}),
        json!({}),
    );
    let sys_jwt = issue(&operator, &system.public, "account", json!({}), json!({}));
    let mut conf = format!(
        "operator: {op_jwt}\nsystem_account: {}\nresolver: MEMORY\nresolver_preload: {{\n  {}: {sys_jwt}\n",
        system.public, system.public
    );
    for (public, jwt) in accounts {
        conf.push_str(&format!("  {public}: {jwt}\n"));
    }
    conf.push_str("}\n");
    Box::leak(conf.into_boxed_str())
}

fn users_conf() -> &'static str {
    let operator = key(11, KeyKind::Operator);
    let k = keys();
    let revoked_user = key(15, KeyKind::User);
    let acc_jwt = issue(
        &operator,
        &k.account.public,
        "account",
        json!({
            "signing_keys": [k.signer.public],
            "revocations": { revoked_user.public.clone(): 1_800_000_000 },
        }),
        json!({}),
    );
    let limited_jwt = issue(
        &operator,
        &k.limited.public,
        "account",
        json!({"limits": {"conn": 1}}),
        json!({}),
    );
    // Issued by an operator the servers do not trust.
    let stranger = key(20, KeyKind::Account);
    let stranger_jwt = issue(
        &key(19, KeyKind::Operator),
        &stranger.public,
        "account",
        json!({}),
        json!({}),
    );
    operator_conf(&[
        (&k.account.public, acc_jwt),
        (&k.limited.public, limited_jwt),
        (&stranger.public, stranger_jwt),
    ])
}

/// A CONNECT with a user JWT, signed (by `user`'s key) over `nonce`.
fn connect(user_jwt: &str, user: Option<&Key>, nonce: &str) -> Vec<u8> {
    use base64::Engine;
    let sig = user
        .map(|u| {
            base64::engine::general_purpose::URL_SAFE_NO_PAD
                .encode(u.pair.sign(nonce.as_bytes()).as_ref())
        })
        .unwrap_or_default();
    format!(
        "CONNECT {{\"verbose\":false,\"pedantic\":false,\"protocol\":1,\"headers\":true,\"jwt\":\"{user_jwt}\",\"sig\":\"{sig}\"}}\r\n"
    )
    .into_bytes()
}

#[test]
fn operator_mode_users() {
    let spec = ServerSpec {
        conf: Some(users_conf()),
        ..ServerSpec::default()
    };
    run_with("operator_mode_users", spec, |s| {
        let setup = keys();
        let user = key(14, KeyKind::User);
        let plain = issue(&setup.account, &user.public, "user", json!({}), json!({}));
        let by_signer = issue(
            &setup.signer,
            &user.public,
            "user",
            json!({"issuer_account": setup.account.public}),
            json!({}),
        );
        let bearer_user = key(21, KeyKind::User);
        let bearer = issue(
            &setup.account,
            &bearer_user.public,
            "user",
            json!({"bearer_token": true}),
            json!({}),
        );
        let limited_user = key(22, KeyKind::User);
        let perms = issue(
            &setup.account,
            &limited_user.public,
            "user",
            json!({"pub": {"allow": ["ok.>"]}, "sub": {"deny": ["secret"]}}),
            json!({}),
        );
        let expired = issue(
            &setup.account,
            &user.public,
            "user",
            json!({}),
            json!({"exp": 1_700_000_001}),
        );
        let revoked_user = key(15, KeyKind::User);
        let revoked = issue(
            &setup.account,
            &revoked_user.public,
            "user",
            json!({}),
            json!({}),
        );
        let stranger_user = key(23, KeyKind::User);
        let stranger = issue(
            &key(20, KeyKind::Account),
            &stranger_user.public,
            "user",
            json!({}),
            json!({}),
        );
        let unknown = issue(
            &key(24, KeyKind::Account),
            &user.public,
            "user",
            json!({}),
            json!({}),
        );

        let accepted: [(&str, &str, Option<&Key>); 3] = [
            ("signed", &plain, Some(&user)),
            ("signing_key", &by_signer, Some(&user)),
            ("bearer", &bearer, None),
        ];
        for (name, token, signer) in accepted {
            let mut c = s.connect(name);
            let nonce = nonce_of(&c);
            c.handshake_as(
                &connect(token, signer, &nonce),
                &format!("CONNECT {{jwt: {name}, sig}}"),
            )
            .expect_open();
        }
        let refused: [(&str, &str, Option<&Key>); 6] = [
            ("wrong_signature", &plain, Some(&revoked_user)),
            ("unsigned", &plain, None),
            ("expired", &expired, Some(&user)),
            ("revoked", &revoked, Some(&revoked_user)),
            ("untrusted_account", &stranger, Some(&stranger_user)),
            ("unknown_account", &unknown, Some(&user)),
        ];
        for (name, token, signer) in refused {
            let mut c = s.connect(name);
            let nonce = nonce_of(&c);
            c.send_as(
                &connect(token, signer, &nonce),
                &format!("CONNECT {{jwt: {name}, sig}}"),
            );
            c.send(b"PING\r\n")
                .read_until_closed()
                .expect(b"-ERR 'Authorization Violation'\r\n")
                .expect_closed();
        }
        let mut c = s.connect("no_jwt");
        c.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Authorization Violation'\r\n")
            .expect_closed();
        // The user's permissions from its JWT.
        let mut c = s.connect("permissions");
        let nonce = nonce_of(&c);
        c.handshake_as(
            &connect(&perms, Some(&limited_user), &nonce),
            "CONNECT {jwt: permissions, sig}",
        );
        c.exchange(b"SUB secret 1\r\nSUB ok.a 2\r\nPUB ok.a 1\r\nx\r\nPUB other 1\r\ny\r\n")
            .expect(
                concat!(
                    "-ERR 'Permissions Violation for Subscription to \"secret\"'\r\n",
                    "MSG ok.a 2 1\r\nx\r\n",
                    "-ERR 'Permissions Violation for Publish to \"other\"'\r\n",
                    "PONG\r\n"
                )
                .as_bytes(),
            )
            .expect_open();
        // A user JWT that leaves its limits out has none to use: no
        // subscriptions (told at once, closed) and no payload.
        let bare_user = key(31, KeyKind::User);
        let bare_claims = json!({
            "jti": "bare", "iat": 1_700_000_000, "iss": setup.account.public,
            "name": "bare", "sub": bare_user.public,
            "nats": {"type": "user", "version": 2},
        });
        let bare = jwt::encode(&bare_claims, |b| {
            setup.account.pair.sign(b).as_ref().to_vec()
        });
        let mut c = s.connect("limits_left_out");
        let nonce = nonce_of(&c);
        c.send_as(
            &connect(&bare, Some(&bare_user), &nonce),
            "CONNECT {jwt: no limits, sig}",
        );
        c.read_until_closed()
            .expect(b"-ERR 'maximum subscriptions exceeded'\r\n")
            .expect_closed();
        // The user's payload limit: INFO says it, a bigger PUB is refused.
        let small_user = key(30, KeyKind::User);
        let small = issue(
            &setup.account,
            &small_user.public,
            "user",
            json!({"payload": 4}),
            json!({}),
        );
        let mut c = s.connect("payload_limit");
        let nonce = nonce_of(&c);
        c.handshake_as(
            &connect(&small, Some(&small_user), &nonce),
            "CONNECT {jwt: payload 4, sig}",
        );
        c.send(b"PUB a 4\r\nxxxx\r\nPUB a 5\r\nxxxxx\r\n")
            .read_until_closed()
            .expect(b"-ERR 'Maximum Payload Violation'\r\n")
            .expect_closed();
        // One connection at most in the limited account.
        let limited_user = key(25, KeyKind::User);
        let token = issue(
            &setup.limited,
            &limited_user.public,
            "user",
            json!({}),
            json!({}),
        );
        let mut first = s.connect("limited_first");
        let nonce = nonce_of(&first);
        first
            .handshake_as(
                &connect(&token, Some(&limited_user), &nonce),
                "CONNECT {jwt: limited, sig}",
            )
            .expect_open();
        let mut second = s.connect("limited_second");
        let nonce = nonce_of(&second);
        second.send_as(
            &connect(&token, Some(&limited_user), &nonce),
            "CONNECT {jwt: limited, sig}",
        );
        second
            .send(b"PING\r\n")
            .read_until_closed()
            .expect(b"-ERR 'maximum account active connections exceeded'\r\n")
            .expect_closed();
    });
}

fn nonce_of(c: &crate::wire::Conn) -> String {
    c.info_field("nonce")
        .and_then(Value::as_str)
        .unwrap_or_default()
        .to_string()
}

/// JetStream per operator-mode account: an account JWT granting storage
/// has its own JetStream; one without gets 503/10039.
#[test]
fn operator_mode_jetstream() {
    let operator = key(11, KeyKind::Operator);
    let with_js = key(26, KeyKind::Account);
    let without = key(27, KeyKind::Account);
    let js_jwt = issue(
        &operator,
        &with_js.public,
        "account",
        json!({"limits": {"mem_storage": -1, "disk_storage": -1, "streams": 2, "consumer": -1}}),
        json!({}),
    );
    let plain_jwt = issue(&operator, &without.public, "account", json!({}), json!({}));
    let conf = operator_conf(&[(&with_js.public, js_jwt), (&without.public, plain_jwt)]);
    let spec = ServerSpec {
        conf: Some(conf),
        jetstream: true,
        monitor: false,
    };
    run_with("operator_mode_jetstream", spec, |s| {
        use crate::scenarios::jetstream::api;
        let mut conns = Vec::new();
        for (name, account, seed) in [("js", 26u8, 28u8), ("plain", 27, 29)] {
            let acc = key(account, KeyKind::Account);
            let user = key(seed, KeyKind::User);
            let token = issue(&acc, &user.public, "user", json!({}), json!({}));
            let mut c = s.connect(name);
            let nonce = nonce_of(&c);
            c.handshake_as(
                &connect(&token, Some(&user), &nonce),
                &format!("CONNECT {{jwt: {name}, sig}}"),
            );
            c.exchange(b"SUB _INBOX.js 1\r\n").expect(b"PONG\r\n");
            conns.push(c);
        }
        let [js, plain] = &mut conns[..] else {
            unreachable!()
        };
        let create = |name: &str| format!("{{\"name\":\"{name}\",\"subjects\":[\"{name}\"]}}");
        api(js, "$JS.API.STREAM.CREATE.A", &create("A"));
        api(js, "$JS.API.INFO", "");
        api(plain, "$JS.API.INFO", "");
        api(plain, "$JS.API.STREAM.CREATE.A", &create("A"));
    });
}
