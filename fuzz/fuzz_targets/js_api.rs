//! JetStream API request bodies: decoding and validating stream and
//! consumer configs and the other requests, never a panic.
#![no_main]

use libfuzzer_sys::fuzz_target;
use tern_jetstream::api::consumer::{ConsumerConfig, CreateConsumerRequest};
use tern_jetstream::api::decode;
use tern_jetstream::api::stream::{
    MsgDeleteRequest, MsgGetRequest, PurgeRequest, StreamConfig, StreamListRequest,
};

fuzz_target!(|data: &[u8]| {
    if let Ok(mut stream) = decode::<StreamConfig>(data) {
        let _ = stream.validate_create();
        let mut update = stream.clone();
        let _ = update.validate();
        if let Ok(req) = decode::<CreateConsumerRequest>(data) {
            let mut config: ConsumerConfig = req.config;
            let _ = config.validate(&stream, &Default::default(), false);
        }
    }
    let _ = decode::<CreateConsumerRequest>(data);
    let _ = decode::<PurgeRequest>(data);
    let _ = decode::<MsgGetRequest>(data);
    let _ = decode::<MsgDeleteRequest>(data);
    let _ = decode::<StreamListRequest>(data);
    let _ = tern_jetstream::consumer::pull::parse_pull(data);
    let _ = tern_jetstream::consumer::ack::parse_ack_body(data);
});
