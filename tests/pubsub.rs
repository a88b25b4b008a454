//! Publish/subscribe through async-nats: wildcards, fan-out, queue groups,
//! request/reply, headers, no responders, auto-unsubscribe, drain and echo.

mod harness;

use std::collections::BTreeSet;
use std::time::{Duration, Instant};

use async_nats::header::HeaderMap;
use async_nats::{ConnectOptions, Event, Message, RequestErrorKind};
use bytes::Bytes;
use futures::StreamExt;

use harness::{
    buffered, connect, connect_with, next_msg, next_msgs, payload_str, round_trip,
    round_trip_no_echo, start_server, until_end, wait_event, wait_until, with_events, within,
};

fn subjects(msgs: &[Message]) -> Vec<String> {
    msgs.iter().map(|m| m.subject.to_string()).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn wildcards_match_what_they_should() {
    let server = start_server().await;
    let client = connect(server.addr()).await;
    let patterns = ["a.b.c", "a.*.c", "a.>", "*.b.*", ">", "a.*", "x.>"];
    let mut subs = Vec::new();
    for p in patterns {
        subs.push(client.subscribe(p).await.expect("subscribe"));
    }
    round_trip(&client).await;

    let published = ["a.b.c", "a.x.c", "a.b", "a.b.c.d", "q.b.z", "z", "x"];
    for s in published {
        client.publish(s, Bytes::from(s)).await.expect("publish");
    }
    // The sentinel follows every MSG the server queued for these publishes.
    round_trip(&client).await;

    let want: [&[&str]; 7] = [
        &["a.b.c"],
        &["a.b.c", "a.x.c"],
        &["a.b.c", "a.x.c", "a.b", "a.b.c.d"],
        &["a.b.c", "q.b.z"],
        &["a.b.c", "a.x.c", "a.b", "a.b.c.d", "q.b.z", "z", "x"],
        &["a.b"],
        &[],
    ];
    for ((pattern, sub), want) in patterns.iter().zip(subs.iter_mut()).zip(want) {
        let got = buffered(sub);
        assert_eq!(subjects(&got), want, "subscription {pattern}");
        for m in &got {
            assert_eq!(payload_str(m), m.subject.as_str());
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_subscriber_gets_every_message_in_order() {
    let server = start_server().await;
    let publisher = connect(server.addr()).await;
    let mut clients = Vec::new();
    let mut subs = Vec::new();
    for _ in 0..3 {
        let c = connect(server.addr()).await;
        subs.push(c.subscribe("fan.out").await.expect("subscribe"));
        round_trip(&c).await;
        clients.push(c);
    }
    for i in 0..50 {
        publisher
            .publish("fan.out", i.to_string().into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    let want: Vec<String> = (0..50).map(|i| i.to_string()).collect();
    for (c, sub) in clients.iter().zip(subs.iter_mut()) {
        let got: Vec<String> = next_msgs(sub, 50).await.iter().map(payload_str).collect();
        assert_eq!(got, want);
        round_trip(c).await;
        assert!(buffered(sub).is_empty(), "no duplicates");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn queue_group_delivers_each_message_once_and_spreads_them() {
    const MEMBERS: usize = 4;
    const MESSAGES: usize = 400;
    let server = start_server().await;
    let publisher = connect(server.addr()).await;
    let mut members = Vec::new();
    for _ in 0..MEMBERS {
        let c = connect(server.addr()).await;
        let sub = c
            .queue_subscribe("work", "workers".into())
            .await
            .expect("qsub");
        round_trip(&c).await;
        members.push((c, sub));
    }
    // A plain subscriber beside the group still sees everything.
    let watcher_client = connect(server.addr()).await;
    let mut watcher = watcher_client.subscribe("work").await.expect("subscribe");
    round_trip(&watcher_client).await;

    for i in 0..MESSAGES {
        publisher
            .publish("work", i.to_string().into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    assert_eq!(next_msgs(&mut watcher, MESSAGES).await.len(), MESSAGES);

    let mut seen = BTreeSet::new();
    let mut shares = Vec::new();
    for (c, sub) in &mut members {
        // The publisher's round trip came after every delivery was queued;
        // this member's comes after its deliveries were handed over.
        round_trip(c).await;
        let got = buffered(sub);
        shares.push(got.len());
        for m in got {
            assert!(seen.insert(payload_str(&m)), "delivered twice: {m:?}");
        }
    }
    assert_eq!(
        seen.len(),
        MESSAGES,
        "every message once; shares {shares:?}"
    );
    for share in &shares {
        assert!(
            *share * 100 >= MESSAGES * 15,
            "uneven spread across the queue group: {shares:?}"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_reply_and_many_concurrent_requests() {
    let server = start_server().await;
    let responder = connect(server.addr()).await;
    let mut service = responder.subscribe("svc.upper").await.expect("subscribe");
    round_trip(&responder).await;
    let serve = tokio::spawn(async move {
        while let Some(req) = service.next().await {
            let body = payload_str(&req).to_uppercase();
            let reply = req.reply.expect("request carries a reply subject");
            responder
                .publish(reply, body.into())
                .await
                .expect("respond");
        }
    });

    let client = connect(server.addr()).await;
    let resp = within("request", client.request("svc.upper", "hello".into()))
        .await
        .expect("response");
    assert_eq!(payload_str(&resp), "HELLO");

    let requests = (0..200).map(|i| {
        let client = client.clone();
        async move {
            let resp = client
                .request("svc.upper", format!("req-{i}").into())
                .await
                .expect("response");
            (i, payload_str(&resp))
        }
    });
    let answers = within(
        "200 concurrent requests",
        futures::future::join_all(requests),
    )
    .await;
    for (i, answer) in answers {
        assert_eq!(answer, format!("REQ-{i}"));
    }
    serve.abort();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn headers_round_trip_with_repeated_keys() {
    let server = start_server().await;
    let client = connect(server.addr()).await;
    let mut sub = client.subscribe("hdr").await.expect("subscribe");
    round_trip(&client).await;

    let mut headers = HeaderMap::new();
    headers.insert("X-Trace", "one");
    headers.append("X-Trace", "two");
    headers.append("X-Trace", "three");
    headers.insert("Single", "value with spaces");
    client
        .publish_with_headers("hdr", headers.clone(), "body".into())
        .await
        .expect("publish");
    // Headers and an empty body.
    client
        .publish_with_headers("hdr", headers, Bytes::new())
        .await
        .expect("publish");
    round_trip(&client).await;

    for want_body in ["body", ""] {
        let msg = next_msg(&mut sub).await;
        assert_eq!(payload_str(&msg), want_body);
        let got = msg.headers.expect("headers delivered");
        let traces: Vec<&str> = got.get_all("X-Trace").map(|v| v.as_str()).collect();
        assert_eq!(traces, ["one", "two", "three"]);
        assert_eq!(
            got.get("Single").map(|v| v.as_str()),
            Some("value with spaces")
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn request_with_nobody_listening_fails_fast_with_no_responders() {
    let server = start_server().await;
    let client = connect_with(
        server.addr(),
        ConnectOptions::new().request_timeout(Some(Duration::from_secs(10))),
    )
    .await;
    let started = Instant::now();
    let err = within("no responders", client.request("nobody.home", "?".into()))
        .await
        .expect_err("nobody listens");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    assert!(
        started.elapsed() < Duration::from_secs(2),
        "no-responders took {:?}",
        started.elapsed()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn auto_unsubscribe_stops_after_n_messages() {
    let server = start_server().await;
    let client = connect(server.addr()).await;
    let publisher = connect(server.addr()).await;
    let mut sub = client.subscribe("limited").await.expect("subscribe");
    sub.unsubscribe_after(3).await.expect("unsubscribe_after");
    round_trip(&client).await;

    for i in 0..10 {
        publisher
            .publish("limited", i.to_string().into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    let got: Vec<String> = until_end(&mut sub).await.iter().map(payload_str).collect();
    assert_eq!(got, ["0", "1", "2"]);
    // The server dropped the subscription itself after the third delivery.
    let err = within("request", publisher.request("limited", "?".into()))
        .await
        .expect_err("no subscription left");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_subscriber_keeps_what_arrived_then_unsubscribes() {
    let server = start_server().await;
    let client = connect(server.addr()).await;
    let publisher = connect(server.addr()).await;
    let mut sub = client.subscribe("drain.sub").await.expect("subscribe");
    round_trip(&client).await;
    for i in 0..5 {
        publisher
            .publish("drain.sub", i.to_string().into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    round_trip(&client).await;

    sub.drain().await.expect("drain");
    let got: Vec<String> = until_end(&mut sub).await.iter().map(payload_str).collect();
    assert_eq!(got, ["0", "1", "2", "3", "4"]);
    // The UNSUB went out before this round trip's messages.
    round_trip(&client).await;
    let err = within("request", publisher.request("drain.sub", "?".into()))
        .await
        .expect_err("drained subscription is gone");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
    // The drained client's connection still works.
    let mut other = client.subscribe("drain.other").await.expect("subscribe");
    round_trip(&client).await;
    publisher
        .publish("drain.other", "x".into())
        .await
        .expect("publish");
    assert_eq!(payload_str(&next_msg(&mut other).await), "x");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn draining_a_client_delivers_what_arrived_then_closes() {
    let server = start_server().await;
    let (opts, mut events) = with_events(ConnectOptions::new());
    let client = connect_with(server.addr(), opts).await;
    let publisher = connect(server.addr()).await;
    let mut a = client.subscribe("drain.a").await.expect("subscribe");
    let mut b = client.subscribe("drain.b").await.expect("subscribe");
    round_trip(&client).await;
    for i in 0..3 {
        publisher
            .publish("drain.a", format!("a{i}").into())
            .await
            .expect("publish");
        publisher
            .publish("drain.b", format!("b{i}").into())
            .await
            .expect("publish");
    }
    round_trip(&publisher).await;
    round_trip(&client).await;

    client.drain().await.expect("drain");
    let got_a: Vec<String> = until_end(&mut a).await.iter().map(payload_str).collect();
    let got_b: Vec<String> = until_end(&mut b).await.iter().map(payload_str).collect();
    assert_eq!(got_a, ["a0", "a1", "a2"]);
    assert_eq!(got_b, ["b0", "b1", "b2"]);
    wait_event(&mut events, "Closed event", |e| matches!(e, Event::Closed)).await;

    // Once the server has let the drained connection go, its subscriptions
    // are gone with it.
    let srv = server.server().clone();
    wait_until("drained client to leave", || srv.num_clients() == 1).await;
    let err = within("request", publisher.request("drain.a", "?".into()))
        .await
        .expect_err("drained client's subscriptions are gone");
    assert_eq!(err.kind(), RequestErrorKind::NoResponders, "{err}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_echo_skips_own_messages_but_not_others() {
    let server = start_server().await;
    let quiet = connect_with(server.addr(), ConnectOptions::new().no_echo()).await;
    let chatty = connect(server.addr()).await;
    let mut quiet_sub = quiet.subscribe("room").await.expect("subscribe");
    let mut chatty_sub = chatty.subscribe("room").await.expect("subscribe");
    round_trip_no_echo(&quiet).await;
    round_trip(&chatty).await;

    quiet
        .publish("room", "from-quiet".into())
        .await
        .expect("pub");
    round_trip_no_echo(&quiet).await;
    chatty
        .publish("room", "from-chatty".into())
        .await
        .expect("pub");
    round_trip(&chatty).await;
    round_trip_no_echo(&quiet).await;

    let quiet_got: Vec<String> = buffered(&mut quiet_sub).iter().map(payload_str).collect();
    assert_eq!(quiet_got, ["from-chatty"]);
    let chatty_got: Vec<String> = buffered(&mut chatty_sub).iter().map(payload_str).collect();
    assert_eq!(chatty_got, ["from-quiet", "from-chatty"]);

    // A no-echo requester still gets replies from others.
    let mut service = chatty.subscribe("room.svc").await.expect("subscribe");
    round_trip(&chatty).await;
    let responder = chatty.clone();
    tokio::spawn(async move {
        if let Some(req) = service.next().await {
            let reply = req.reply.expect("reply subject");
            responder
                .publish(reply, "pong".into())
                .await
                .expect("reply");
        }
    });
    let resp = within("request", quiet.request("room.svc", "ping".into()))
        .await
        .expect("response");
    assert_eq!(payload_str(&resp), "pong");
}
