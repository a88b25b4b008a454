//! Internal clients: subscribers and publishers inside the server (what
//! JetStream builds on) exchanging messages with async-nats clients.

mod harness;

use tern::handle::InternalMsg;
use tern::Server;
use tokio::sync::mpsc;

use harness::{connect, next_msg, payload_str, round_trip, start_server, within};

/// An internal delivery, copied out of the callback.
#[derive(Debug)]
struct Delivered {
    subject: String,
    sid: String,
    reply: Option<String>,
    headers: Option<Vec<u8>>,
    payload: Vec<u8>,
}

fn text(bytes: &[u8]) -> String {
    String::from_utf8_lossy(bytes).into_owned()
}

impl Delivered {
    fn copy(msg: &InternalMsg<'_>) -> Self {
        Delivered {
            subject: text(msg.subject),
            sid: text(msg.sid),
            reply: msg.reply.map(text),
            headers: msg.headers.map(<[u8]>::to_vec),
            payload: msg.payload.to_vec(),
        }
    }
}

/// An internal client whose deliveries arrive on the returned channel.
fn internal_client(
    server: &Server,
) -> (
    tern::server::InternalClient,
    mpsc::UnboundedReceiver<Delivered>,
) {
    let (tx, rx) = mpsc::unbounded_channel();
    let handle = server.internal_client(Box::new(move |msg| {
        let _ = tx.send(Delivered::copy(msg));
    }));
    (handle, rx)
}

async fn next_delivery(rx: &mut mpsc::UnboundedReceiver<Delivered>) -> Delivered {
    within("internal delivery", rx.recv())
        .await
        .expect("internal client alive")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_subscriber_receives_from_async_nats() {
    let running = start_server().await;
    let server = running.server().clone();
    let (handle, mut rx) = internal_client(&server);
    let sub = server.subscribe_internal(&handle, "int.>", None, "41");

    let client = connect(running.addr()).await;
    client
        .publish("int.plain", "hello".into())
        .await
        .expect("pub");
    let mut headers = async_nats::HeaderMap::new();
    headers.insert("K", "v");
    headers.append("K", "w");
    client
        .publish_with_reply_and_headers("int.hdr", "my.reply", headers, "body".into())
        .await
        .expect("pub");
    round_trip(&client).await;

    let plain = next_delivery(&mut rx).await;
    assert_eq!(plain.subject, "int.plain");
    assert_eq!(plain.sid, "41");
    assert_eq!(plain.reply, None);
    assert_eq!(plain.headers, None);
    assert_eq!(plain.payload, b"hello");

    let with_headers = next_delivery(&mut rx).await;
    assert_eq!(with_headers.subject, "int.hdr");
    assert_eq!(with_headers.reply.as_deref(), Some("my.reply"));
    let block = text(&with_headers.headers.expect("headers"));
    assert!(block.starts_with("NATS/1.0\r\n"), "{block:?}");
    assert!(block.ends_with("\r\n\r\n"), "{block:?}");
    assert!(
        block.contains("K: v\r\n") && block.contains("K: w\r\n"),
        "{block:?}"
    );
    assert_eq!(with_headers.payload, b"body");

    server.unsubscribe_internal(&handle, &sub);
    client.publish("int.after", "x".into()).await.expect("pub");
    round_trip(&client).await;
    assert!(rx.try_recv().is_err(), "delivered after unsubscribe");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn async_nats_receives_internal_publishes() {
    let running = start_server().await;
    let server = running.server().clone();
    let client = connect(running.addr()).await;
    let mut sub = client.subscribe("out.>").await.expect("subscribe");
    round_trip(&client).await;

    assert!(server.publish_internal(b"out.plain", None, None, b"hello"));
    let msg = next_msg(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "out.plain");
    assert_eq!(payload_str(&msg), "hello");
    assert!(msg.reply.is_none());
    assert!(msg.headers.is_none());

    let block = b"NATS/1.0\r\nK: v\r\nK: w\r\n\r\n";
    assert!(server.publish_internal(b"out.hdr", Some(b"back.here"), Some(block), b"body"));
    let msg = next_msg(&mut sub).await;
    assert_eq!(msg.subject.as_str(), "out.hdr");
    assert_eq!(msg.reply.as_deref(), Some("back.here"));
    assert_eq!(payload_str(&msg), "body");
    let headers = msg.headers.expect("headers");
    let values: Vec<&str> = headers.get_all("K").map(|v| v.as_str()).collect();
    assert_eq!(values, ["v", "w"]);

    // Headers and no payload.
    assert!(server.publish_internal(b"out.empty", None, Some(block), b""));
    let msg = next_msg(&mut sub).await;
    assert_eq!(payload_str(&msg), "");
    assert!(msg.headers.is_some());

    assert!(!server.publish_internal(b"nobody.listens", None, None, b"x"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn internal_responder_answers_async_nats_requests() {
    let running = start_server().await;
    let server = running.server().clone();
    let (handle, mut rx) = internal_client(&server);
    // Two members of one internal queue group: each request reaches one.
    server.subscribe_internal(&handle, "int.svc", Some("svc"), "1");
    server.subscribe_internal(&handle, "int.svc", Some("svc"), "2");

    // The callback only copies; replies go out from a task, as the
    // callback runs on the publisher's task.
    let responder = server.clone();
    let serve = tokio::spawn(async move {
        while let Some(req) = rx.recv().await {
            let reply = req.reply.expect("request has a reply subject");
            let body = format!("{}:{}", req.sid, text(&req.payload));
            responder.publish_internal(reply.as_bytes(), None, None, body.as_bytes());
        }
    });

    let client = connect(running.addr()).await;
    let mut sids = Vec::new();
    for i in 0..10 {
        let resp = within("request", client.request("int.svc", i.to_string().into()))
            .await
            .expect("response");
        let answer = payload_str(&resp);
        let (sid, body) = answer.split_once(':').expect("sid:body");
        assert_eq!(body, i.to_string());
        sids.push(sid.to_string());
    }
    assert!(
        sids.iter().any(|s| s == "1") && sids.iter().any(|s| s == "2"),
        "both queue members answered: {sids:?}"
    );
    serve.abort();
}
