//! Limits set in a configuration file: max_connections and the stale
//! connection check (ping_interval, ping_max).

use std::time::{Duration, Instant};

use crate::harness::ServerSpec;
use crate::runner::run_with;

#[test]
fn max_connections() {
    let spec = ServerSpec {
        conf: Some("max_connections: 1\n"),
        ..ServerSpec::default()
    };
    run_with("max_connections", spec, |s| {
        let mut first = s.client("first");
        // The second connection gets a full INFO, then the -ERR, then the
        // close.
        let mut second = s.connect_raw("second");
        second.read_until_closed().expect_closed();
        let got = second.received().to_vec();
        let info_then_err = got.starts_with(b"INFO {")
            && got.ends_with(b"} \r\n-ERR 'maximum connections exceeded'\r\n");
        second.check(
            info_then_err,
            "expected INFO then -ERR 'maximum connections exceeded'".to_string(),
        );
        // The first is unaffected.
        first
            .exchange(b"SUB foo 1\r\nPUB foo 1\r\nx\r\n")
            .expect(b"MSG foo 1 1\r\nx\r\nPONG\r\n");
    });
}

#[test]
fn stale_connection() {
    let spec = ServerSpec {
        conf: Some("ping_interval: \"1s\"\nping_max: 2\n"),
        ..ServerSpec::default()
    };
    run_with("stale_connection", spec, |s| {
        // Never answering: PING at ~1 s, PING at ~2 s, then at ~3 s the
        // -ERR and the close.
        let mut c = s.connect("silent");
        let started = Instant::now();
        c.send(b"CONNECT {\"verbose\":false,\"pedantic\":false}\r\n");
        c.read_until_closed_within(Duration::from_secs(8))
            .expect(b"PING\r\nPING\r\n-ERR 'Stale Connection'\r\n")
            .expect_closed();
        let took = started.elapsed();
        s.check(
            took > Duration::from_millis(2500) && took < Duration::from_secs(6),
            format!("closed as stale after ~3 s, took {took:?}"),
        );
    });
}

#[test]
fn first_ping_reaches_an_active_client() {
    run_with(
        "first_ping_reaches_an_active_client",
        ServerSpec::default(),
        |s| {
            // The client PINGs and is answered; the server still sends its own
            // first PING about 2 s after the connect, to measure the round
            // trip, and it is answered.
            let mut c = s.client("active");
            let started = Instant::now();
            c.read_line_within(Duration::from_secs(5))
                .expect(b"PING\r\n");
            let took = started.elapsed();
            s.check(
                took > Duration::from_millis(1000) && took < Duration::from_secs(4),
                format!("the first server PING about 2 s in, took {took:?}"),
            );
            c.exchange(b"PONG\r\n").expect(b"PONG\r\n");
        },
    );
}
