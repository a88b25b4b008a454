//! Hostile and bursty clients: the server keeps admitting and serving.

mod harness;

use std::time::Duration;

use futures::future::join_all;
use tokio::io::AsyncReadExt;
use tokio::net::TcpStream;

use harness::{start_server, within_for};

/// A burst of simultaneous connects is admitted at once: the listen
/// backlog is the reference's 4096, so none waits for SYN retries (with a
/// backlog of 128 this burst took over 10 s here; with 4096, 0.2 s).
#[tokio::test]
async fn connect_burst_is_admitted() {
    let s = start_server().await;
    let addr = s.addr();
    let started = std::time::Instant::now();
    let connects = (0..2000).map(|_| async move {
        let mut stream = TcpStream::connect(addr).await.expect("connect");
        let mut buf = [0u8; 5];
        stream.read_exact(&mut buf).await.expect("INFO");
        assert_eq!(&buf, b"INFO ");
        stream
    });
    let streams = within_for(Duration::from_secs(10), "2000 INFOs", join_all(connects)).await;
    assert_eq!(streams.len(), 2000);
    let took = started.elapsed();
    assert!(
        took < Duration::from_secs(3),
        "a burst of 2000 connects took {took:?} (overflowing a short backlog costs SYN retries of a second and more)"
    );
}
