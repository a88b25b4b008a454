//! The system account through async-nats: the monitoring requests
//! (`$SYS.REQ.SERVER.PING[.X]`, `$SYS.REQ.SERVER.<id>.X`,
//! `$SYS.REQ.ACCOUNT.<acc>.X`), their filters, `$SYS.REQ.USER.INFO` from
//! any account, and the connect events.

mod harness;

use std::time::Duration;

use futures::StreamExt;
use tern::{Options, Running};

use harness::{connect_with, start_with, within};

const CONF: &str = "accounts {\n  SYS: { users: [{user: sys, password: sys}] }\n  A: { users: [{user: a, password: a, permissions: {publish: [\"x.>\", \"$SYS.>\"], subscribe: \"_INBOX.>\"}}] }\n}\nsystem_account: SYS\n";

async fn start() -> Running {
    let mut opts = Options::loopback();
    tern::config::apply_str(&mut opts, CONF, "system.conf").expect("config");
    start_with(opts).await
}

async fn user(s: &Running, name: &str) -> async_nats::Client {
    connect_with(
        s.addr(),
        async_nats::ConnectOptions::with_user_and_password(name.into(), name.into()),
    )
    .await
}

async fn ask(client: &async_nats::Client, subject: &str, body: &str) -> serde_json::Value {
    let reply = within(
        subject,
        client.request(subject.to_string(), body.to_string().into()),
    )
    .await
    .unwrap_or_else(|e| panic!("{subject}: {e}"));
    serde_json::from_slice(&reply.payload).expect("JSON answer")
}

#[tokio::test]
async fn server_requests_answer_in_the_reference_envelope() {
    let s = start().await;
    let sys = user(&s, "sys").await;
    let id = s.server().id().to_string();
    let v = ask(&sys, "$SYS.REQ.SERVER.PING", "").await;
    assert_eq!(v["server"]["id"], id);
    assert_eq!(v["statsz"]["connections"], 1, "{v}");
    let v = ask(
        &sys,
        "$SYS.REQ.SERVER.PING.CONNZ",
        r#"{"subscriptions":true}"#,
    )
    .await;
    assert_eq!(v["data"]["num_connections"], 1, "{v}");
    assert!(
        v["data"]["connections"][0]["subscriptions_list"].is_array(),
        "{v}"
    );
    let v = ask(&sys, &format!("$SYS.REQ.SERVER.{id}.VARZ"), "").await;
    assert_eq!(v["data"]["server_id"], id);
    // IDZ is the bare identity.
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.IDZ", "").await;
    assert_eq!(v["id"], id);
    let v = ask(&sys, "$SYS.REQ.SERVER.PING.HEALTHZ", "").await;
    assert_eq!(v["data"]["status"], "ok");
    let v = ask(&sys, "$SYS.REQ.ACCOUNT.SYS.STATZ", "").await;
    assert_eq!(v["data"]["account_statz"][0]["acc"], "SYS", "{v}");
    // Started without a config file: RELOAD is refused, in the envelope.
    let v = ask(&sys, &format!("$SYS.REQ.SERVER.{id}.RELOAD"), "").await;
    assert_eq!(v["error"]["code"], 500, "{v}");
    // A filter that leaves this server out gets no answer.
    let filtered = tokio::time::timeout(
        Duration::from_millis(500),
        sys.request(
            "$SYS.REQ.SERVER.PING.VARZ",
            r#"{"server_name":"not-this-one"}"#.into(),
        ),
    )
    .await;
    assert!(
        !matches!(filtered, Ok(Ok(_))),
        "a filtered-out server stays silent"
    );
}

#[tokio::test]
async fn other_accounts_reach_only_user_info() {
    let s = start().await;
    let a = user(&s, "a").await;
    let v = ask(&a, "$SYS.REQ.USER.INFO", "").await;
    assert_eq!(v["data"]["user"], "a");
    assert_eq!(v["data"]["account"], "A");
    assert_eq!(
        v["data"]["permissions"]["subscribe"]["allow"][0], "_INBOX.>",
        "{v}"
    );
    // The account's own statz, through the import every account has.
    let v = ask(&a, "$SYS.REQ.ACCOUNT.PING.STATZ", "").await;
    assert_eq!(v["data"]["account_statz"][0]["acc"], "A", "{v}");
    let v = ask(&a, "$SYS.REQ.SERVER.PING.CONNZ", "").await;
    assert_eq!(v["data"]["num_connections"], 1, "only A's own: {v}");
    // The server's own requests live in the system account only.
    let refused = within(
        "a ping from another account",
        a.request("$SYS.REQ.SERVER.PING", "".into()),
    )
    .await;
    assert!(refused.is_err(), "no answer outside the system account");
}

#[tokio::test]
async fn connect_and_disconnect_events() {
    let s = start().await;
    let sys = user(&s, "sys").await;
    let mut events = sys.subscribe("$SYS.ACCOUNT.A.>").await.unwrap();
    harness::round_trip(&sys).await;
    let a = user(&s, "a").await;
    // The account's connection count comes first, then the event.
    let m = within("the count", events.next()).await.unwrap();
    assert_eq!(m.subject.as_str(), "$SYS.ACCOUNT.A.SERVER.CONNS");
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["type"], "io.nats.server.advisory.v1.account_connections");
    assert_eq!(v["conns"], 1);
    let m = within("the connect event", events.next()).await.unwrap();
    assert_eq!(m.subject.as_str(), "$SYS.ACCOUNT.A.CONNECT");
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["type"], "io.nats.server.advisory.v1.client_connect");
    assert_eq!(v["client"]["user"], "a");
    assert_eq!(v["client"]["acc"], "A");
    drop(a);
    let m = within("the count", events.next()).await.unwrap();
    assert_eq!(m.subject.as_str(), "$SYS.ACCOUNT.A.SERVER.CONNS");
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["conns"], 0);
    let m = within("the disconnect event", events.next()).await.unwrap();
    assert_eq!(m.subject.as_str(), "$SYS.ACCOUNT.A.DISCONNECT");
    let v: serde_json::Value = serde_json::from_slice(&m.payload).unwrap();
    assert_eq!(v["type"], "io.nats.server.advisory.v1.client_disconnect");
    assert_eq!(v["reason"], "Client Closed");
}
