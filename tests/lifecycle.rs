//! Connection lifecycles: a slow consumer cut off, a client reconnecting
//! after a restart, lame duck mode.

mod harness;

use std::sync::atomic::Ordering;
use std::time::Duration;

use async_nats::{ConnectOptions, Event};
use bytes::Bytes;
use futures::StreamExt;
use tern::config::options::Port;
use tern::Options;
use tokio::io::AsyncReadExt;
use tokio::net::{TcpSocket, TcpStream};

use harness::{
    connect, connect_with, free_port, next_msg, payload_str, round_trip, show, start_with,
    wait_event, wait_until, with_events, within, within_for, Wire,
};

const SMALL_PENDING_BYTES: usize = 64 * 1024;
const BIG_PAYLOAD_BYTES: usize = 16 * 1024;

/// A raw subscriber to `subject` whose receive buffer is small and that
/// never reads after its subscription is confirmed.
async fn stalled_subscriber(addr: std::net::SocketAddr, subject: &str) -> Wire {
    let socket = TcpSocket::new_v4().expect("socket");
    socket.set_recv_buffer_size(4096).expect("SO_RCVBUF");
    let stream = within("tcp connect", socket.connect(addr))
        .await
        .expect("tcp connect");
    let mut wire = Wire::from_stream(stream);
    wire.read_line().await;
    wire.send(format!("CONNECT {{\"verbose\":false}}\r\nSUB {subject} 1\r\nPING\r\n").as_bytes())
        .await;
    wire.expect(b"PONG\r\n").await;
    wire
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn slow_consumer_is_cut_off_and_publisher_keeps_working() {
    let opts = Options {
        max_pending: SMALL_PENDING_BYTES,
        max_payload: 32 * 1024,
        ..Options::loopback()
    };
    let server = start_with(opts).await;
    let srv = server.server().clone();
    let stalled = stalled_subscriber(server.addr(), "firehose").await;

    let responder = connect(server.addr()).await;
    let mut service = responder.subscribe("still.alive").await.expect("sub");
    round_trip(&responder).await;
    tokio::spawn(async move {
        while let Some(req) = service.next().await {
            if let Some(reply) = req.reply {
                responder.publish(reply, "yes".into()).await.expect("reply");
            }
        }
    });

    let publisher = connect(server.addr()).await;
    let payload = Bytes::from(vec![b'x'; BIG_PAYLOAD_BYTES]);
    // Bounded: 4096 x 16 KiB is far more than any socket buffers hold.
    within_for(Duration::from_secs(20), "a slow consumer", async {
        for _ in 0..64 {
            for _ in 0..64 {
                publisher
                    .publish("firehose", payload.clone())
                    .await
                    .expect("publish");
            }
            round_trip(&publisher).await;
            if srv.stats().slow_consumers.load(Ordering::Relaxed) > 0 {
                return;
            }
        }
        panic!("no slow consumer after 64 MiB to a subscriber that never reads");
    })
    .await;

    // The stalled socket ends: whatever was in flight, then end of stream.
    let mut stream = stalled.into_stream();
    within("stalled subscriber's socket to close", async {
        let mut chunk = vec![0u8; 64 * 1024];
        loop {
            match stream.read(&mut chunk).await {
                Ok(0) | Err(_) => return,
                Ok(_) => {}
            }
        }
    })
    .await;
    assert!(srv.stats().slow_consumers.load(Ordering::Relaxed) > 0);

    // The publisher's own connection was never at fault.
    round_trip(&publisher).await;
    let resp = within(
        "request after the cut-off",
        publisher.request("still.alive", "?".into()),
    )
    .await
    .expect("response");
    assert_eq!(payload_str(&resp), "yes");
    wait_until("stalled client to leave", || srv.num_clients() == 2).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn client_reconnects_and_resubscribes_after_restart() {
    let port = free_port();
    let opts = Options {
        port: Port::Fixed(port),
        ..Options::loopback()
    };
    let server = start_with(opts.clone()).await;
    let addr = server.addr();
    assert_eq!(addr.port(), port);

    let (connect_opts, mut events) = with_events(
        ConnectOptions::new()
            .retry_on_initial_connect()
            .reconnect_delay_callback(|_| Duration::from_millis(20)),
    );
    let client = connect_with(addr, connect_opts).await;
    let mut sub = client.subscribe("re.x").await.expect("subscribe");
    round_trip(&client).await;
    wait_event(&mut events, "Connected", |e| matches!(e, Event::Connected)).await;

    within("shutdown", server.shutdown()).await;
    wait_event(&mut events, "Disconnected", |e| {
        matches!(e, Event::Disconnected)
    })
    .await;

    let server = start_with(opts).await;
    wait_event(&mut events, "Connected again", |e| {
        matches!(e, Event::Connected)
    })
    .await;
    // Sent after the client's re-SUB, so the subscription is in place.
    round_trip(&client).await;

    let other = connect(server.addr()).await;
    other
        .publish("re.x", "after restart".into())
        .await
        .expect("publish");
    round_trip(&other).await;
    assert_eq!(payload_str(&next_msg(&mut sub).await), "after restart");
    client.publish("re.x", "own".into()).await.expect("publish");
    assert_eq!(payload_str(&next_msg(&mut sub).await), "own");
    within("shutdown", server.shutdown()).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lame_duck_tells_clients_then_closes_them_and_refuses_new_ones() {
    let opts = Options {
        lame_duck_duration: Duration::from_secs(30),
        lame_duck_grace_period: Duration::from_millis(200),
        ..Options::loopback()
    };
    let server = start_with(opts).await;
    let addr = server.addr();
    let (connect_opts, mut events) =
        with_events(ConnectOptions::new().reconnect_delay_callback(|_| Duration::from_millis(50)));
    let client = connect_with(addr, connect_opts).await;
    round_trip(&client).await;
    let (mut raw, _) = Wire::connect_past_info(addr).await;
    raw.send(b"CONNECT {\"verbose\":false,\"protocol\":1}\r\nPING\r\n")
        .await;
    raw.expect(b"PONG\r\n").await;

    let lame_duck = tokio::spawn(server.lame_duck());
    wait_event(&mut events, "LameDuckMode", |e| {
        matches!(e, Event::LameDuckMode)
    })
    .await;
    // Lines after the PONG: possibly the INFO that follows the first
    // PONG, then the lame duck INFO.
    let ldm = within("INFO with ldm on the raw connection", async {
        loop {
            let line = raw.read_line().await;
            let json = line
                .strip_prefix(b"INFO ")
                .unwrap_or_else(|| panic!("unexpected line: {}", show(&line)));
            let info: serde_json::Value = serde_json::from_slice(json).expect("INFO JSON");
            if info.get("ldm").is_some() {
                return info["ldm"].clone();
            }
        }
    })
    .await;
    assert_eq!(ldm, serde_json::Value::Bool(true));
    wait_event(&mut events, "Disconnected", |e| {
        matches!(e, Event::Disconnected)
    })
    .await;

    let refused = within("tcp connect", TcpStream::connect(addr)).await;
    match refused {
        Err(e) => assert_eq!(e.kind(), std::io::ErrorKind::ConnectionRefused, "{e}"),
        Ok(_) => panic!("a server in lame duck mode accepted a new connection"),
    }
    raw.expect_closed().await;
    within("lame duck to finish", lame_duck)
        .await
        .expect("lame duck task");
}
