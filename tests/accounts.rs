//! Accounts through async-nats: users sign in to their account, subjects
//! do not cross accounts, and a stream and a service cross where an
//! export and an import connect them.

mod harness;

use std::time::Duration;

use futures::StreamExt;
use tern::account::{AccountConfig, Export, Import, Kind, Local, ResponseType};
use tern::auth::User;
use tern::{Options, Running};

use harness::{connect_with, start_with};

async fn start() -> Running {
    let mut opts = Options::loopback();
    for (name, account) in [("a", "A"), ("b", "B")] {
        let mut u = User::new(name, name);
        u.account = Some(account.into());
        opts.auth.users.push(u);
    }
    opts.accounts = vec![
        AccountConfig {
            name: "A".into(),
            exports: vec![
                Export {
                    kind: Kind::Stream,
                    subject: "events.>".into(),
                    accounts: vec![],
                    response_type: ResponseType::Singleton,
                },
                Export {
                    kind: Kind::Service,
                    subject: "svc".into(),
                    accounts: vec!["B".into()],
                    response_type: ResponseType::Singleton,
                },
            ],
            ..AccountConfig::default()
        },
        AccountConfig {
            name: "B".into(),
            imports: vec![
                Import {
                    kind: Kind::Stream,
                    account: "A".into(),
                    subject: "events.>".into(),
                    local: Local::Prefix("a".into()),
                },
                Import {
                    kind: Kind::Service,
                    account: "A".into(),
                    subject: "svc".into(),
                    local: Local::To("a.svc".into()),
                },
            ],
            ..AccountConfig::default()
        },
    ];
    start_with(opts).await
}

async fn login(s: &Running, name: &str) -> async_nats::Client {
    connect_with(
        s.addr(),
        async_nats::ConnectOptions::with_user_and_password(name.into(), name.into()),
    )
    .await
}

#[tokio::test]
async fn accounts_isolate_and_connect_through_imports() {
    let s = start().await;
    let a = login(&s, "a").await;
    let b = login(&s, "b").await;
    let mut a_x = a.subscribe("x").await.unwrap();
    let mut b_events = b.subscribe("a.events.>").await.unwrap();
    let mut service = a.subscribe("svc").await.unwrap();
    a.flush().await.unwrap();
    b.flush().await.unwrap();

    // B's "x" is not A's "x".
    b.publish("x", "from b".into()).await.unwrap();
    b.flush().await.unwrap();
    // A's stream export reaches B under the prefix.
    a.publish("events.1", "e".into()).await.unwrap();
    a.flush().await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), b_events.next())
        .await
        .expect("the imported stream arrives")
        .unwrap();
    assert_eq!(got.subject.as_str(), "a.events.1");
    a.publish("x", "from a".into()).await.unwrap();
    let got = tokio::time::timeout(Duration::from_secs(5), a_x.next())
        .await
        .unwrap()
        .unwrap();
    assert_eq!(&got.payload[..], b"from a", "B's publish must not reach A");

    // A request from B reaches A's responder; the answer comes back.
    tokio::spawn(async move {
        if let Some(req) = service.next().await {
            let acc = req
                .headers
                .as_ref()
                .and_then(|h| h.get("Nats-Request-Info"))
                .map(|v| v.to_string())
                .unwrap_or_default();
            if let Some(reply) = req.reply {
                a.publish(reply, acc.into()).await.unwrap();
                a.flush().await.unwrap();
            }
        }
    });
    let answer = tokio::time::timeout(Duration::from_secs(5), b.request("a.svc", "q".into()))
        .await
        .expect("the service answers in time")
        .expect("the service answers");
    assert_eq!(&answer.payload[..], br#"{"acc":"B"}"#);
}

#[tokio::test]
async fn jetstream_per_account_with_its_own_directory() {
    let dir = tempfile::tempdir().unwrap();
    let mut opts = Options::loopback();
    opts.jetstream = true;
    opts.store_dir = Some(dir.path().to_path_buf());
    for (name, account) in [("a", "A"), ("b", "B")] {
        let mut u = User::new(name, name);
        u.account = Some(account.into());
        opts.auth.users.push(u);
    }
    for name in ["A", "B"] {
        opts.accounts.push(AccountConfig {
            name: name.into(),
            jetstream: Some(Default::default()),
            ..AccountConfig::default()
        });
    }
    let s = start_with(opts).await;
    let a = async_nats::jetstream::new(login(&s, "a").await);
    let b = async_nats::jetstream::new(login(&s, "b").await);
    a.create_stream(async_nats::jetstream::stream::Config {
        name: "ORDERS".into(),
        subjects: vec!["orders.>".into()],
        ..Default::default()
    })
    .await
    .unwrap();
    a.publish("orders.1", "x".into())
        .await
        .unwrap()
        .await
        .unwrap();
    // B sees none of A's streams, and may use the same name itself.
    assert!(b.get_stream("ORDERS").await.is_err());
    let mut b_orders = b
        .create_stream(async_nats::jetstream::stream::Config {
            name: "ORDERS".into(),
            subjects: vec!["orders.>".into()],
            ..Default::default()
        })
        .await
        .unwrap();
    assert_eq!(b_orders.info().await.unwrap().state.messages, 0);
    for account in ["A", "B"] {
        let path = dir.path().join("jetstream").join(account).join("streams");
        assert!(path.is_dir(), "{} missing", path.display());
    }
}

/// A reload that drops B's stream import stops its delivery at once (B's
/// client stays connected); putting it back resumes delivery on the same
/// subscription.
#[tokio::test]
async fn reload_rewires_imports() {
    let s = start().await;
    let a = login(&s, "a").await;
    let b = login(&s, "b").await;
    let mut events = b.subscribe("a.events.>").await.unwrap();
    harness::round_trip(&b).await;
    let configured = (*s.server().opts()).clone();
    let mut without = configured.clone();
    without.accounts[1]
        .imports
        .retain(|i| i.kind != Kind::Stream);
    tern::reload::apply(s.server(), without).expect("reload without the import");
    a.publish("events.1", "lost".into()).await.unwrap();
    harness::round_trip(&a).await;
    harness::round_trip(&b).await;
    assert!(
        harness::buffered(&mut events).is_empty(),
        "the import is gone"
    );
    tern::reload::apply(s.server(), configured).expect("reload with it again");
    a.publish("events.2", "back".into()).await.unwrap();
    let got = harness::next_msg(&mut events).await;
    assert_eq!(got.subject.as_str(), "a.events.2");
}
