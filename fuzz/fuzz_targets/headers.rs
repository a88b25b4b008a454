//! Message header blocks (`NATS/1.0 ...`) as JetStream reads them, and the
//! CONNECT JSON: never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_jetstream::headers;

fuzz_target!(|data: &[u8]| {
    for (k, v) in headers::lines(data) {
        let _ = (k.len(), v.len());
    }
    for key in [
        "Nats-Msg-Id",
        "Nats-Expected-Last-Sequence",
        "Nats-Rollup",
        "Nats-TTL",
        "Nats-Expected-Stream",
    ] {
        if let Some(v) = headers::get(data, key) {
            let _ = tern_jetstream::stream::parse_ttl(v);
        }
    }
    let _ = tern::proto::connect::ConnectOptions::parse(data);
});
