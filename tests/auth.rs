//! Authentication as nats-server does it: a token or users with passwords
//! (plain or bcrypt), `no_auth_user`, the auth timeout, and the exact
//! refusals, through async-nats and raw TCP.

mod harness;

use std::time::Duration;

use tern::auth::{Auth, Secret, User};
use tern::{Options, Running};

use harness::{connect_with, round_trip, start_with, url, Wire};

fn user(name: &str, password: &str) -> User {
    User::new(name, password)
}

async fn start(auth: Auth) -> Running {
    let mut opts = Options::loopback();
    opts.auth = auth;
    start_with(opts).await
}

fn token(secret: &str) -> Auth {
    Auth {
        token: Some(Secret::new(secret.into())),
        ..Auth::default()
    }
}

fn users() -> Auth {
    Auth {
        users: vec![
            user("alice", "pw"),
            // bcrypt of "secret".
            user("bob", &bcrypt::hash("secret", 4).unwrap()),
        ],
        ..Auth::default()
    }
}

#[tokio::test]
async fn token_accepted_and_refused() {
    let s = start(token("s3cr3t")).await;
    let client = connect_with(
        s.addr(),
        async_nats::ConnectOptions::with_token("s3cr3t".into()),
    )
    .await;
    round_trip(&client).await;
    let err = async_nats::ConnectOptions::with_token("wrong".into())
        .connect(url(s.addr()))
        .await
        .expect_err("a wrong token is refused");
    assert!(
        err.to_string().to_lowercase().contains("authorization"),
        "{err}"
    );
}

#[tokio::test]
async fn users_plain_and_bcrypt() {
    let s = start(users()).await;
    for (name, pass) in [("alice", "pw"), ("bob", "secret")] {
        let client = connect_with(
            s.addr(),
            async_nats::ConnectOptions::with_user_and_password(name.into(), pass.into()),
        )
        .await;
        round_trip(&client).await;
    }
    for (name, pass) in [("bob", "pw"), ("carol", "pw")] {
        let err = async_nats::ConnectOptions::with_user_and_password(name.into(), pass.into())
            .connect(url(s.addr()))
            .await
            .expect_err("bad credentials are refused");
        assert!(
            err.to_string().to_lowercase().contains("authorization"),
            "{name}: {err}"
        );
    }
}

#[tokio::test]
async fn info_says_auth_required() {
    let s = start(token("t")).await;
    let (_, info) = Wire::connect_past_info(s.addr()).await;
    let text = String::from_utf8_lossy(&info);
    assert!(text.contains("\"auth_required\":true"), "{text}");
    let open = start(Auth::default()).await;
    let (_, info) = Wire::connect_past_info(open.addr()).await;
    assert!(!String::from_utf8_lossy(&info).contains("auth_required"));
}

#[tokio::test]
async fn wire_refusals_close_the_connection() {
    let s = start(users()).await;
    // An op before CONNECT.
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(b"PING\r\n").await;
    w.expect(b"-ERR 'Authorization Violation'\r\n").await;
    w.expect_closed().await;
    // Wrong password.
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(b"CONNECT {\"user\":\"alice\",\"pass\":\"no\"}\r\nPING\r\n")
        .await;
    w.expect(b"-ERR 'Authorization Violation'\r\n").await;
    w.expect_closed().await;
    // Right password: +OK (verbose by default) and PONG.
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(b"CONNECT {\"user\":\"alice\",\"pass\":\"pw\"}\r\nPING\r\n")
        .await;
    w.expect(b"+OK\r\nPONG\r\n").await;
}

#[tokio::test]
async fn no_auth_user_lets_bare_clients_in() {
    let mut auth = users();
    auth.no_auth_user = Some("alice".into());
    let s = start(auth).await;
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.expect_only_pong().await;
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(b"CONNECT {\"verbose\":false}\r\nPING\r\n").await;
    w.expect(b"PONG\r\n").await;
    // Credentials given are still checked.
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(b"CONNECT {\"user\":\"bob\",\"pass\":\"no\"}\r\n")
        .await;
    w.expect(b"-ERR 'Authorization Violation'\r\n").await;
    w.expect_closed().await;
}

#[tokio::test]
async fn no_connect_within_the_auth_timeout() {
    let mut opts = Options::loopback();
    opts.auth = token("t");
    opts.auth_timeout = Duration::from_millis(300);
    let s = start_with(opts).await;
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.expect(b"-ERR 'Authentication Timeout'\r\n").await;
    w.expect_closed().await;
}

#[tokio::test]
async fn permissions_through_async_nats() {
    use std::sync::Arc;
    use tern::permissions::{Entry, Permissions, Rules};
    let rules = |allow: &[&str], deny: &[&str]| Rules {
        allow: Some(allow.iter().map(|e| Entry::parse(e)).collect()),
        deny: deny.iter().map(|e| Entry::parse(e)).collect(),
    };
    let mut alice = user("alice", "pw");
    alice.permissions = Some(Arc::new(Permissions {
        publish: rules(&["foo.>", "_INBOX.>"], &["foo.secret"]),
        subscribe: rules(&["foo.>", "_INBOX.>"], &[]),
        ..Permissions::default()
    }));
    let s = start(Auth {
        users: vec![alice],
        ..Auth::default()
    })
    .await;
    let (opts, mut events) = harness::with_events(
        async_nats::ConnectOptions::with_user_and_password("alice".into(), "pw".into()),
    );
    let client = connect_with(s.addr(), opts).await;
    let mut sub = client.subscribe("foo.>").await.unwrap();
    client.publish("foo.secret", "no".into()).await.unwrap();
    client.publish("foo.ok", "yes".into()).await.unwrap();
    let got = harness::next_msg(&mut sub).await;
    assert_eq!(got.subject.as_str(), "foo.ok");
    let event = harness::wait_event(&mut events, "the publish violation", |e| {
        matches!(e, async_nats::Event::ServerError(_))
    })
    .await;
    assert!(
        event
            .to_string()
            .to_lowercase()
            .contains("permissions violation"),
        "{event}"
    );
    // Refused subscriptions are reported too; the connection stays.
    let _denied = client.subscribe("bar").await.unwrap();
    harness::wait_event(&mut events, "the subscription violation", |e| {
        matches!(e, async_nats::Event::ServerError(_))
    })
    .await;
    client.publish("foo.after", "still".into()).await.unwrap();
    let got = harness::next_msg(&mut sub).await;
    assert_eq!(got.subject.as_str(), "foo.after");
}

#[tokio::test]
async fn nkey_users_through_async_nats() {
    let kp = nkeys::KeyPair::new_user();
    let public = kp.public_key();
    let key = tern::nkey::PublicKey::decode(&public, tern::nkey::KeyKind::User).unwrap();
    let mut auth = users();
    auth.users.push(User::with_nkey(public, key));
    let s = start(auth).await;
    let client = connect_with(
        s.addr(),
        async_nats::ConnectOptions::with_nkey(kp.seed().unwrap()),
    )
    .await;
    round_trip(&client).await;
    // Another user's seed is refused.
    let stranger = nkeys::KeyPair::new_user();
    let err = async_nats::ConnectOptions::with_nkey(stranger.seed().unwrap())
        .connect(url(s.addr()))
        .await
        .expect_err("an unknown nkey is refused");
    assert!(
        err.to_string().to_lowercase().contains("authorization"),
        "{err}"
    );
}

/// JetStream obeys the same permissions: the API is reached by publishing
/// to it, a stream captures only what the user may publish, and a push
/// consumer delivers only where the user may subscribe.
#[tokio::test]
async fn jetstream_obeys_permissions() {
    use tern::permissions::{Entry, Permissions, Rules};
    let dir = tempfile::tempdir().unwrap();
    let rules = |allow: &[&str]| Rules {
        allow: Some(allow.iter().map(|e| Entry::parse(e)).collect()),
        deny: vec![],
    };
    let mut limited = user("limited", "pw");
    limited.permissions = Some(std::sync::Arc::new(Permissions {
        publish: rules(&["orders.>", "$JS.API.STREAM.INFO.>"]),
        subscribe: rules(&["_INBOX.>"]),
        ..Permissions::default()
    }));
    let mut opts = Options::loopback();
    opts.jetstream = true;
    opts.store_dir = Some(dir.path().to_path_buf());
    opts.auth = Auth {
        users: vec![user("admin", "pw"), limited],
        ..Auth::default()
    };
    let s = start_with(opts).await;
    let admin = async_nats::jetstream::new(
        connect_with(
            s.addr(),
            async_nats::ConnectOptions::with_user_and_password("admin".into(), "pw".into()),
        )
        .await,
    );
    let mut stream = admin
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into(), "audit.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    let (mut w, _) = Wire::connect_past_info(s.addr()).await;
    w.send(
        b"CONNECT {\"verbose\":false,\"user\":\"limited\",\"pass\":\"pw\"}\r\nSUB _INBOX.r 1\r\n",
    )
    .await;
    // The API: stream info is allowed, stream create is not.
    w.send(b"PUB $JS.API.STREAM.CREATE.X _INBOX.r 0\r\n\r\nPING\r\n")
        .await;
    w.expect(
        b"-ERR 'Permissions Violation for Publish to \"$JS.API.STREAM.CREATE.X\"'\r\nPONG\r\n",
    )
    .await;
    w.send(b"PUB $JS.API.STREAM.INFO.ORDERS _INBOX.r 0\r\n\r\n")
        .await;
    let reply = w.read_line().await;
    assert!(
        reply.starts_with(b"MSG _INBOX.r 1 "),
        "{}",
        String::from_utf8_lossy(&reply)
    );
    let body = w.read_line().await;
    assert!(String::from_utf8_lossy(&body).contains("stream_info_response"));
    // Captures: orders.1 is stored, audit.1 (also the stream's) is refused.
    w.send(b"PUB audit.1 _INBOX.r 1\r\ny\r\nPUB orders.1 _INBOX.r 1\r\nx\r\n")
        .await;
    w.expect(b"-ERR 'Permissions Violation for Publish to \"audit.1\"'\r\n")
        .await;
    let ack = w.read_line().await;
    assert!(
        ack.starts_with(b"MSG _INBOX.r 1 "),
        "{}",
        String::from_utf8_lossy(&ack)
    );
    let ack = w.read_line().await;
    assert!(
        String::from_utf8_lossy(&ack).contains("\"seq\":1"),
        "{}",
        String::from_utf8_lossy(&ack)
    );
    assert_eq!(stream.info().await.unwrap().state.messages, 1);
    // Deliveries: a push consumer's deliver subject outside the user's
    // subscribe permissions cannot be subscribed to.
    w.send(b"SUB deliver.orders 2\r\nPING\r\n").await;
    w.expect(b"-ERR 'Permissions Violation for Subscription to \"deliver.orders\"'\r\nPONG\r\n")
        .await;
}

/// A reload (as SIGHUP does, through `tern::reload::apply`) narrows a
/// live async-nats client's permissions: its denied subscription stops,
/// the rest keeps flowing, and a removed user is cut off.
#[tokio::test]
async fn reload_narrows_permissions_of_live_clients() {
    use std::sync::Arc;
    use tern::permissions::{Entry, Permissions, Rules};
    let perms = |subjects: &[&str]| {
        let rules = Rules {
            allow: Some(subjects.iter().map(|e| Entry::parse(e)).collect()),
            deny: Vec::new(),
        };
        Some(Arc::new(Permissions {
            publish: rules.clone(),
            subscribe: rules,
            ..Permissions::default()
        }))
    };
    let mut alice = user("alice", "pw");
    alice.permissions = perms(&["a.>", "b.>", "_INBOX.>"]);
    let s = start(Auth {
        users: vec![alice.clone(), user("bob", "pw")],
        ..Auth::default()
    })
    .await;
    let (opts, mut events) = harness::with_events(
        async_nats::ConnectOptions::with_user_and_password("alice".into(), "pw".into()),
    );
    let client = connect_with(s.addr(), opts).await;
    let mut on_a = client.subscribe("a.>").await.unwrap();
    let mut on_b = client.subscribe("b.>").await.unwrap();
    let (bob_opts, mut bob_events) = harness::with_events(
        async_nats::ConnectOptions::with_user_and_password("bob".into(), "pw".into())
            .max_reconnects(1),
    );
    let bob = connect_with(s.addr(), bob_opts).await;
    harness::round_trip(&bob).await;

    let mut narrowed = alice;
    narrowed.permissions = perms(&["a.>", "_INBOX.>"]);
    let mut opts = (*s.server().opts()).clone();
    opts.auth.users = vec![narrowed];
    tern::reload::apply(s.server(), opts).expect("a reload of users and permissions");

    harness::wait_event(&mut events, "the removed subscription", |e| {
        matches!(e, async_nats::Event::ServerError(_))
    })
    .await;
    harness::wait_event(&mut bob_events, "bob's disconnection", |e| {
        matches!(e, async_nats::Event::Disconnected)
    })
    .await;
    client.publish("a.1", "kept".into()).await.unwrap();
    let got = harness::next_msg(&mut on_a).await;
    assert_eq!(got.subject.as_str(), "a.1");
    let publisher = connect_with(
        s.addr(),
        async_nats::ConnectOptions::with_user_and_password("alice".into(), "pw".into()),
    )
    .await;
    // b.> is neither publishable nor delivered any more.
    publisher.publish("b.1", "gone".into()).await.unwrap();
    publisher.publish("a.2", "marker".into()).await.unwrap();
    // In order on one connection: once a.2 is here, b.1 would be too.
    let got = harness::next_msg(&mut on_a).await;
    assert_eq!(got.subject.as_str(), "a.2");
    assert!(harness::buffered(&mut on_b).is_empty());
}
