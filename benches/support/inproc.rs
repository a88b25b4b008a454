//! In-process clients against network ones on the same embedded server:
//! publish -> subscriber throughput, and request/reply latency, through
//! `tern_link` and through async-nats on loopback.

use std::sync::Arc;
use std::time::{Duration, Instant};

use futures::StreamExt;

/// Results: (in-process msgs/s, loopback msgs/s, in-process req/rep p50
/// us, loopback req/rep p50 us).
pub fn compare(msgs: usize, requests: usize) -> (f64, f64, f64, f64) {
    let rt = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let server = tern::embed::Builder::new(tern::Options::loopback())
            .start()
            .await
            .expect("tern starts");
        let link = Arc::new(server.client().expect("in-process client"));
        let addr = server.local_addr().expect("listening");
        // Room for every message of a run: async-nats drops what does
        // not fit its subscription queue.
        let net = async_nats::ConnectOptions::new()
            .subscription_capacity(msgs + 1024)
            .connect(format!("nats://{addr}"))
            .await
            .expect("async-nats connects");

        let payload = vec![b'x'; 128];
        // In process: publish, a subscriber counts.
        let (_, mut rx) = link.subscribe("bench.inproc").expect("subscribe");
        let start = Instant::now();
        let counter = tokio::spawn(async move {
            let mut n = 0;
            while n < msgs {
                match tokio::time::timeout(Duration::from_secs(10), rx.recv()).await {
                    Ok(Some(_)) => n += 1,
                    _ => break,
                }
            }
            n
        });
        for _ in 0..msgs {
            link.publish("bench.inproc", None, None, &payload)
                .expect("publish");
        }
        assert_eq!(counter.await.expect("counter"), msgs);
        let inproc_rate = msgs as f64 / start.elapsed().as_secs_f64();

        // Loopback: async-nats publisher and subscriber.
        let mut sub = net.subscribe("bench.net").await.expect("subscribe");
        net.flush().await.expect("flush");
        let publisher = async_nats::connect(format!("nats://{addr}"))
            .await
            .expect("publisher connects");
        let start = Instant::now();
        let counter = tokio::spawn(async move {
            let mut n = 0;
            while n < msgs {
                match tokio::time::timeout(Duration::from_secs(10), sub.next()).await {
                    Ok(Some(_)) => n += 1,
                    _ => break,
                }
            }
            n
        });
        let body = bytes::Bytes::from(payload.clone());
        for _ in 0..msgs {
            publisher
                .publish("bench.net", body.clone())
                .await
                .expect("publish");
        }
        publisher.flush().await.expect("flush");
        assert_eq!(counter.await.expect("counter"), msgs);
        let net_rate = msgs as f64 / start.elapsed().as_secs_f64();

        // Request/reply, one in flight: an in-process responder for the
        // in-process requester, an async-nats one for async-nats.
        let (_, mut requests_in) = link.subscribe("bench.rr.inproc").expect("subscribe");
        let responder = link.clone();
        tokio::spawn(async move {
            while let Some(m) = requests_in.recv().await {
                if let Some(r) = m.reply {
                    let _ = responder.publish(&r, None, None, b"ok");
                }
            }
        });
        let mut took = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            link.request("bench.rr.inproc", None, b"q", Duration::from_secs(5))
                .await
                .expect("in-process request");
            took.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let inproc_p50 = median(&mut took);
        let mut requests_net = net.subscribe("bench.rr.net").await.expect("subscribe");
        net.flush().await.expect("flush");
        let answering = net.clone();
        tokio::spawn(async move {
            while let Some(m) = requests_net.next().await {
                if let Some(r) = m.reply {
                    let _ = answering.publish(r, "ok".into()).await;
                }
            }
        });
        let requester = async_nats::connect(format!("nats://{addr}"))
            .await
            .expect("requester connects");
        let mut took = Vec::with_capacity(requests);
        for _ in 0..requests {
            let t = Instant::now();
            requester
                .request("bench.rr.net", "q".into())
                .await
                .expect("network request");
            took.push(t.elapsed().as_secs_f64() * 1e6);
        }
        let net_p50 = median(&mut took);
        server.shutdown().await;
        (inproc_rate, net_rate, inproc_p50, net_p50)
    })
}

fn median(v: &mut [f64]) -> f64 {
    v.sort_by(f64::total_cmp);
    v[v.len() / 2]
}
