//! Every expectation here was captured from nats-server 2.14.0 (standalone,
//! `-js`) for the same request, on a stream `S` with subjects `["s.>"]`
//! unless a test says otherwise.

use super::*;
use crate::api::json::{decode, decode_optional, to_json};
use crate::api::stream::StreamConfig;
use crate::api::time::parse_time;
use crate::error::ApiError;

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

fn ts(s: &str) -> i64 {
    parse_time(s).unwrap()
}

fn stream(json: &str) -> StreamConfig {
    let mut cfg: StreamConfig = decode(json.as_bytes()).unwrap();
    cfg.validate_create().unwrap();
    cfg
}

fn stream_s() -> StreamConfig {
    stream(r#"{"name":"S","subjects":["s.>"]}"#)
}

/// Runs the create pipeline up to the stored config: decode, subject
/// checks, defaults and rules, static metadata.
fn create_on(stream: &StreamConfig, subject: &str, body: &str) -> Result<ConsumerConfig, ApiError> {
    let mut req: CreateConsumerRequest = decode(body.as_bytes())?;
    let subject = CreateSubject::parse(subject).expect("create subject");
    req.check_subject(&subject)?;
    let pedantic = req.pedantic;
    req.config
        .validate(stream, &ConsumerLimits::default(), pedantic)?;
    req.config.set_static_metadata();
    Ok(req.config)
}

fn create(subject: &str, body: &str) -> Result<ConsumerConfig, ApiError> {
    create_on(&stream_s(), subject, body)
}

/// The config as the create reply echoes it.
fn echo(subject: &str, body: &str) -> String {
    let cfg = create(subject, body).unwrap_or_else(|e| panic!("{body}: {e}"));
    text(to_json(&cfg.with_dynamic_metadata("2.14.0")))
}

/// Named create on `S.<name>` with the given config object.
fn named(name: &str, config: &str) -> String {
    echo(
        &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
        &format!(r#"{{"stream_name":"S","config":{config}}}"#),
    )
}

const META: &str = r#""metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0"}"#;

#[test]
fn defaults_echoed() {
    let cases: &[(&str, &str, String)] = &[
        (
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{}}"#,
            format!(
                r#"{{"deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            "$JS.API.CONSUMER.CREATE.S.D1",
            r#"{"stream_name":"S","config":{"durable_name":"D1","ack_policy":"explicit"}}"#,
            format!(
                r#"{{"durable_name":"D1","name":"D1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            "$JS.API.CONSUMER.CREATE.S.P1",
            r#"{"stream_name":"S","config":{"name":"P1","deliver_subject":"dl","ack_policy":"explicit"}}"#,
            format!(
                r#"{{"name":"P1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"deliver_subject":"dl","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            "$JS.API.CONSUMER.CREATE.S.P2",
            r#"{"stream_name":"S","config":{"name":"P2","deliver_subject":"dl2"}}"#,
            format!(
                r#"{{"name":"P2","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dl2","inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            // The body's name gives way to the subject's.
            "$JS.API.CONSUMER.CREATE.S.E1",
            r#"{"stream_name":"S","config":{"name":"a.b"}}"#,
            format!(
                r#"{{"name":"E1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            "$JS.API.CONSUMER.CREATE.S",
            r#"{"stream_name":"S","config":{"name":"E1b","ack_policy":"explicit"}}"#,
            format!(
                r#"{{"name":"E1b","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0,{META}}}"#
            ),
        ),
        (
            "$JS.API.CONSUMER.DURABLE.CREATE.S.A1",
            r#"{"stream_name":"S","config":{"durable_name":"A1","ack_policy":"explicit","filter_subject":"s.a"}}"#,
            format!(
                r#"{{"durable_name":"A1","name":"A1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subject":"s.a","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,{META}}}"#
            ),
        ),
    ];
    for (subject, body, want) in cases {
        assert_eq!(&echo(subject, body), want, "{body}");
    }
}

#[test]
fn full_configs_echoed() {
    let push = named(
        "F1",
        r#"{"name":"F1","description":"d","deliver_policy":"by_start_sequence","opt_start_seq":5,"ack_policy":"all","ack_wait":2000000000,"max_deliver":5,"backoff":[1000000000,2000000000],"filter_subject":"s.a","replay_policy":"original","rate_limit_bps":1000,"sample_freq":"50%","max_ack_pending":20,"flow_control":true,"idle_heartbeat":5000000000,"headers_only":true,"deliver_subject":"dx","deliver_group":"g","inactive_threshold":10000000000,"num_replicas":1,"mem_storage":true,"metadata":{"b":"1","a":"2"}}"#,
    );
    assert_eq!(
        push,
        r#"{"name":"F1","description":"d","deliver_policy":"by_start_sequence","opt_start_seq":5,"ack_policy":"all","ack_wait":1000000000,"max_deliver":5,"backoff":[1000000000,2000000000],"filter_subject":"s.a","replay_policy":"original","rate_limit_bps":1000,"sample_freq":"50%","max_ack_pending":20,"flow_control":true,"headers_only":true,"deliver_subject":"dx","deliver_group":"g","idle_heartbeat":5000000000,"inactive_threshold":10000000000,"num_replicas":1,"mem_storage":true,"metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0","a":"2","b":"1"}}"#
    );
    let pull = named(
        "F2",
        r#"{"durable_name":"F2","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00.5+01:00","ack_policy":"explicit","filter_subjects":["s.a","s.b"],"max_waiting":10,"max_batch":5,"max_expires":1000000000,"max_bytes":1000,"pause_until":"2099-01-01T00:00:00Z"}"#,
    );
    assert_eq!(
        pull,
        r#"{"durable_name":"F2","name":"F2","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00.5+01:00","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"filter_subjects":["s.a","s.b"],"replay_policy":"instant","max_waiting":10,"max_ack_pending":1000,"max_batch":5,"max_expires":1000000000,"max_bytes":1000,"num_replicas":0,"metadata":{"_nats.level":"4","_nats.req.level":"1","_nats.ver":"2.14.0"},"pause_until":"2099-01-01T00:00:00Z"}"#
    );
}

#[test]
fn priority_and_flow_control_acks_echoed() {
    let pinned = named(
        "F3",
        r#"{"durable_name":"F3","ack_policy":"explicit","priority_groups":["g1"],"priority_policy":"pinned_client"}"#,
    );
    assert_eq!(
        pinned,
        r#"{"durable_name":"F3","name":"F3","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"4","_nats.req.level":"1","_nats.ver":"2.14.0"},"priority_groups":["g1"],"priority_policy":"pinned_client","priority_timeout":120000000000}"#
    );
    assert!(named(
        "F4",
        r#"{"durable_name":"F4","ack_policy":"explicit","priority_groups":["g1"],"priority_policy":"overflow","priority_timeout":1000000000}"#,
    )
    .ends_with(r#""priority_groups":["g1"],"priority_policy":"overflow","priority_timeout":1000000000}"#));
    // priority_policy "none" is the zero value and is left out.
    assert_eq!(
        named(
            "F6",
            r#"{"durable_name":"F6","ack_policy":"none","priority_policy":"none","deliver_policy":"last_per_subject","filter_subject":"s.*"}"#,
        ),
        format!(
            r#"{{"durable_name":"F6","name":"F6","deliver_policy":"last_per_subject","ack_policy":"none","max_deliver":-1,"filter_subject":"s.*","replay_policy":"instant","max_waiting":512,"num_replicas":0,{META}}}"#
        )
    );
    let fc = r#"{"deliver_policy":"all","ack_policy":"flow_control","max_deliver":-1,"replay_policy":"instant","max_ack_pending":1000,"flow_control":true,"deliver_subject":"fc2","idle_heartbeat":1000000000,"num_replicas":0,"metadata":{"_nats.level":"4","_nats.req.level":"4","_nats.ver":"2.14.0"}}"#;
    assert_eq!(
        named(
            "F12",
            r#"{"durable_name":"F12","ack_policy":"flow_control","deliver_subject":"fc2"}"#
        ),
        format!(r#"{{"durable_name":"F12","name":"F12",{}"#, &fc[1..])
    );
    // A 2 s heartbeat is forced to 1 s (not pedantic).
    assert!(named(
        "W5",
        r#"{"name":"W5","ack_policy":"flow_control","deliver_subject":"d","idle_heartbeat":2000000000}"#,
    )
    .contains(r#""flow_control":true,"deliver_subject":"d","idle_heartbeat":1000000000,"inactive_threshold":5000000000"#));
    assert!(named(
        "F8",
        r#"{"durable_name":"F8","ack_policy":"explicit","sourcing":true}"#
    )
    .contains(r#""num_replicas":0,"sourcing":true,"metadata""#));
    assert!(named(
        "W12",
        r#"{"name":"W12","direct":true,"deliver_subject":"dr"}"#
    )
    .contains(r#""num_replicas":0,"direct":true,"metadata""#));
}

#[test]
fn corrections_and_odd_values_echoed() {
    let strip = |s: String| {
        let i = s.find(r#","metadata""#).unwrap_or(s.len() - 1);
        let tail = s[i..].find('}').map_or("", |j| &s[i + j + 1..]);
        format!("{}{}", &s[..i], tail)
    };
    let cases: &[(&str, &str, &str)] = &[
        (
            "W0",
            r#"{"name":"W0","deliver_subject":"d","max_batch":5,"max_expires":5000000000,"max_bytes":5}"#,
            r#"{"name":"W0","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_batch":5,"max_expires":5000000000,"max_bytes":5,"deliver_subject":"d","inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W1",
            r#"{"name":"W1","deliver_group":"g"}"#,
            r#"{"name":"W1","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"deliver_group":"g","inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W2",
            r#"{"name":"W2","max_ack_pending":5}"#,
            r#"{"name":"W2","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":5,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W3",
            r#"{"name":"W3","max_waiting":-1,"max_batch":-1,"max_bytes":-1,"max_expires":-1,"max_deliver":-5,"max_ack_pending":-5,"inactive_threshold":-5}"#,
            r#"{"name":"W3","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":-1,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W4",
            r#"{"name":"W4","deliver_subject":"dd","idle_heartbeat":-1}"#,
            r#"{"name":"W4","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","deliver_subject":"dd","inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W6",
            r#"{"name":"W6","ack_policy":"explicit","ack_wait":5,"backoff":[5]}"#,
            r#"{"name":"W6","deliver_policy":"all","ack_policy":"explicit","ack_wait":5,"max_deliver":-1,"backoff":[5],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W7",
            r#"{"name":"W7","ack_policy":"explicit","backoff":[1,2]}"#,
            r#"{"name":"W7","deliver_policy":"all","ack_policy":"explicit","ack_wait":1,"max_deliver":-1,"backoff":[1,2],"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W8",
            r#"{"name":"W8","ack_policy":"none","backoff":[7]}"#,
            r#"{"name":"W8","deliver_policy":"all","ack_policy":"none","ack_wait":7,"max_deliver":-1,"backoff":[7],"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W9",
            r#"{"name":"W9","ack_policy":"none","ack_wait":7}"#,
            r#"{"name":"W9","deliver_policy":"all","ack_policy":"none","ack_wait":7,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W10",
            r#"{"name":"W10","sample_freq":"5"}"#,
            r#"{"name":"W10","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","sample_freq":"5","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
        (
            "W11",
            r#"{"name":"W11","mem_storage":true,"num_replicas":1}"#,
            r#"{"name":"W11","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":5000000000,"num_replicas":1,"mem_storage":true}"#,
        ),
        (
            "W13",
            r#"{"max_waiting":0,"max_ack_pending":-1,"max_deliver":0,"ack_policy":"all","durable_name":"W13"}"#,
            r#"{"durable_name":"W13","name":"W13","deliver_policy":"all","ack_policy":"all","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":-1,"num_replicas":0}"#,
        ),
        (
            "W14",
            r#"{"inactive_threshold":7000000000,"durable_name":"W14"}"#,
            r#"{"durable_name":"W14","name":"W14","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"inactive_threshold":7000000000,"num_replicas":0}"#,
        ),
        (
            "W15",
            r#"{"pause_until":"2020-01-01T00:00:00Z","durable_name":"W15"}"#,
            r#"{"durable_name":"W15","name":"W15","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0,"pause_until":"2020-01-01T00:00:00Z"}"#,
        ),
        (
            "W16",
            r#"{"pause_until":"0001-01-01T00:00:00Z","durable_name":"W16"}"#,
            r#"{"durable_name":"W16","name":"W16","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0,"pause_until":"0001-01-01T00:00:00Z"}"#,
        ),
        (
            "W17",
            r#"{"pause_until":"2099-01-01T01:00:00+01:00","durable_name":"W17"}"#,
            r#"{"durable_name":"W17","name":"W17","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0,"pause_until":"2099-01-01T01:00:00+01:00"}"#,
        ),
        (
            "W18",
            r#"{"deliver_policy":"by_start_time","opt_start_time":"0001-01-01T00:00:00Z","durable_name":"W18"}"#,
            r#"{"durable_name":"W18","name":"W18","deliver_policy":"by_start_time","opt_start_time":"0001-01-01T00:00:00Z","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0}"#,
        ),
        (
            "W21",
            r#"{"filter_subjects":[],"backoff":[],"priority_groups":[],"metadata":{},"durable_name":"W21"}"#,
            r#"{"durable_name":"W21","name":"W21","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"replay_policy":"instant","max_waiting":512,"num_replicas":0}"#,
        ),
        (
            "W22",
            r#"{"filter_subjects":["s.a"],"durable_name":"W22"}"#,
            r#"{"durable_name":"W22","name":"W22","deliver_policy":"all","ack_policy":"none","max_deliver":-1,"filter_subjects":["s.a"],"replay_policy":"instant","max_waiting":512,"num_replicas":0}"#,
        ),
        (
            // The filter need not be within the stream's subjects.
            "Q0",
            r#"{"name":"Q0","filter_subject":"x.a","ack_policy":"explicit","backoff":[1,2],"max_deliver":2}"#,
            r#"{"name":"Q0","deliver_policy":"all","ack_policy":"explicit","ack_wait":1,"max_deliver":2,"backoff":[1,2],"filter_subject":"x.a","replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"inactive_threshold":5000000000,"num_replicas":0}"#,
        ),
    ];
    for (name, config, want) in cases {
        assert_eq!(&strip(named(name, config)), want, "{config}");
    }
}

#[test]
fn metadata_server_keys_replaced() {
    let cfg = create(
        "$JS.API.CONSUMER.CREATE.S.W19",
        r#"{"stream_name":"S","config":{"durable_name":"W19","metadata":{"_nats.ver":"x","_nats.level":"9","_nats.req.level":"7","u":"1"}}}"#,
    )
    .unwrap();
    let stored = text(to_json(&cfg.metadata));
    assert_eq!(stored, r#"{"_nats.req.level":"0","u":"1"}"#);
}

fn refused(subject: &str, body: &str) -> (u16, u16, String) {
    let e = create(subject, body).expect_err(body);
    (e.code, e.err_code, e.description)
}

#[test]
fn create_refusals() {
    let long_desc = "d".repeat(4097);
    let big_meta = "v".repeat(128 * 1024);
    let long_durable = "d".repeat(256);
    let n = |cfg: &str| format!(r#"{{"stream_name":"S","config":{cfg}}}"#);
    let on = |c: &str| format!("$JS.API.CONSUMER.CREATE.S.{c}");
    let cases: Vec<(String, String, u16, u16, &str)> = vec![
        (on("a.b"), n(r#"{"name":"a.b"}"#), 400, 10131, "Consumer create request did not match filtered subject from create subject"),
        (on("a*b"), n("{}"), 500, 10052, r"consumer name can not contain '.', '*', '>', '\', '/'"),
        (on("a>b"), n("{}"), 500, 10052, r"consumer name can not contain '.', '*', '>', '\', '/'"),
        (on("a/b"), n("{}"), 400, 10127, "Consumer name can not contain path separators"),
        (on(r"a\b"), n("{}"), 400, 10127, "Consumer name can not contain path separators"),
        ("$JS.API.CONSUMER.CREATE.S".into(), n(r#"{"name":"a.b"}"#), 500, 10052, r"consumer name can not contain '.', '*', '>', '\', '/'"),
        ("$JS.API.CONSUMER.CREATE.S".into(), n(r#"{"name":"a b"}"#), 500, 10052, r"consumer name can not contain '.', '*', '>', '\', '/'"),
        ("$JS.API.CONSUMER.CREATE.S".into(), n(r#"{"name":"a/b"}"#), 400, 10127, "Consumer name can not contain path separators"),
        ("$JS.API.CONSUMER.DURABLE.CREATE.S.a*b".into(), n(r#"{"durable_name":"a*b"}"#), 500, 10052, r"consumer name can not contain '.', '*', '>', '\', '/'"),
        (format!("$JS.API.CONSUMER.DURABLE.CREATE.S.{long_durable}"), n(&format!(r#"{{"durable_name":"{long_durable}"}}"#)), 400, 10102, "consumer name is too long, maximum allowed is 255"),
        (on("E1"), n(r#"{"durable_name":"a*b"}"#), 400, 10017, "consumer name in subject does not match durable name in request"),
        (on("E1"), n(r#"{"name":"E1","durable_name":"E2"}"#), 400, 10017, "consumer name in subject does not match durable name in request"),
        ("$JS.API.CONSUMER.CREATE.S".into(), n(r#"{"name":"D8","durable_name":"D9"}"#), 400, 10020, "consumer expected to be ephemeral but a durable name was set in request"),
        ("$JS.API.CONSUMER.CREATE.S".into(), r#"{"stream_name":"X","config":{}}"#.into(), 400, 10056, "stream name in subject does not match request"),
        (on("E1"), String::new(), 400, 10056, "stream name in subject does not match request"),
        (on("E1.s.a"), n(r#"{"name":"E1","filter_subject":"s.b"}"#), 400, 10131, "Consumer create request did not match filtered subject from create subject"),
        (on("E1.s.a"), n(r#"{"name":"E1"}"#), 400, 10131, "Consumer create request did not match filtered subject from create subject"),
        (on("E1x.s.a"), n(r#"{"name":"E1x","filter_subjects":["s.a"]}"#), 400, 10137, "consumer with multiple subject filters cannot use subject based API"),
        ("$JS.API.CONSUMER.DURABLE.CREATE.S.E3".into(), n(r#"{"durable_name":"E4"}"#), 400, 10017, "consumer name in subject does not match durable name in request"),
        ("$JS.API.CONSUMER.DURABLE.CREATE.S.E3".into(), n("{}"), 400, 10018, "consumer expected to be durable but a durable name was not set"),
        ("$JS.API.CONSUMER.DURABLE.CREATE.S.E3".into(), n(r#"{"name":"E3"}"#), 400, 10018, "consumer expected to be durable but a durable name was not set"),
        (on("E1"), n(r#"{"filter_subject":"s.a","filter_subjects":["s.b"]}"#), 400, 10136, "consumer cannot have both FilterSubject and FilterSubjects specified"),
        (on("E1"), n(r#"{"filter_subjects":["s.a","s.*"]}"#), 400, 10138, "consumer subject filters cannot overlap"),
        (on("E1"), n(r#"{"filter_subjects":["s.a","s.a"]}"#), 400, 10138, "consumer subject filters cannot overlap"),
        (on("E1"), n(r#"{"filter_subjects":[""]}"#), 400, 10139, "consumer filter in FilterSubjects cannot be empty"),
        (on("E1"), n(r#"{"filter_subject":"s..a"}"#), 500, 10052, "invalid subject"),
        (on("E1"), n(r#"{"filter_subjects":["s..a"]}"#), 500, 10052, "invalid subject"),
        (on("E1"), n(r#"{"deliver_subject":"d","max_waiting":5}"#), 400, 10080, "consumer in push mode can not set max waiting"),
        (on("E1"), n(r#"{"flow_control":true}"#), 400, 10089, "consumer flow control requires a push based consumer"),
        (on("E1"), n(r#"{"idle_heartbeat":1000000000}"#), 400, 10088, "consumer idle heartbeat requires a push based consumer"),
        (on("E1"), n(r#"{"deliver_subject":"d","flow_control":true}"#), 400, 10108, "consumer with flow control also needs heartbeats"),
        (on("E1"), n(r#"{"deliver_subject":"d","idle_heartbeat":50000000}"#), 400, 10083, "consumer idle heartbeat needs to be >= 100ms"),
        (on("E1"), n(r#"{"deliver_subject":"d","max_ack_pending":5}"#), 400, 10082, "consumer requires ack policy for max ack pending"),
        (on("E1"), n(r#"{"deliver_subject":"d.*"}"#), 400, 10079, "consumer deliver subject has wildcards"),
        (on("E1"), n(r#"{"deliver_subject":"d..x"}"#), 400, 10112, "invalid push consumer deliver subject"),
        (on("E1"), n(r#"{"deliver_subject":"s.x"}"#), 400, 10081, "consumer deliver subject forms a cycle"),
        (on("E1"), n(r#"{"ack_policy":"explicit","backoff":[1,2,3],"max_deliver":2}"#), 400, 10116, "max deliver is required to be > length of backoff values"),
        (on("E1"), n(r#"{"ack_policy":"explicit","backoff":[-1]}"#), 400, 10184, "consumer backoff needs to be positive"),
        (on("E1"), n(r#"{"ack_policy":"explicit","ack_wait":-1}"#), 400, 10183, "consumer ack wait needs to be positive"),
        (on("E1"), n(r#"{"opt_start_seq":5}"#), 400, 10094, "consumer delivery policy is deliver all, but optional start sequence is also set"),
        (on("E1"), n(r#"{"opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver all, but optional start time is also set"),
        (on("E1"), n(r#"{"deliver_policy":"last","opt_start_seq":5}"#), 400, 10094, "consumer delivery policy is deliver last, but optional start sequence is also set"),
        (on("E1"), n(r#"{"deliver_policy":"last","opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver last, but optional start time is also set"),
        (on("E1"), n(r#"{"deliver_policy":"new","opt_start_seq":5}"#), 400, 10094, "consumer delivery policy is deliver new, but optional start sequence is also set"),
        (on("E1"), n(r#"{"deliver_policy":"new","opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver new, but optional start time is also set"),
        (on("E1"), n(r#"{"deliver_policy":"last_per_subject","opt_start_seq":5}"#), 400, 10094, "consumer delivery policy is deliver last per subject, but optional start sequence is also set"),
        (on("E1"), n(r#"{"deliver_policy":"last_per_subject","opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver last per subject, but optional start time is also set"),
        (on("E1"), n(r#"{"deliver_policy":"last_per_subject"}"#), 400, 10094, "consumer delivery policy is deliver last per subject, but optional filter subject is not set"),
        (on("E1"), n(r#"{"deliver_policy":"by_start_sequence"}"#), 400, 10094, "consumer delivery policy is deliver by start sequence, but optional start sequence is not set"),
        (on("E1"), n(r#"{"deliver_policy":"by_start_sequence","opt_start_seq":1,"opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver by start sequence, but optional start time is also set"),
        (on("E1"), n(r#"{"deliver_policy":"by_start_time"}"#), 400, 10094, "consumer delivery policy is deliver by start time, but optional start time is not set"),
        (on("E1"), n(r#"{"deliver_policy":"by_start_time","opt_start_seq":1,"opt_start_time":"2020-01-01T00:00:00Z"}"#), 400, 10094, "consumer delivery policy is deliver by start time, but optional start start sequence is also set"),
        (on("E1"), n(r#"{"sample_freq":"abc"}"#), 400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "abc": invalid syntax"#),
        (on("E1"), n(r#"{"sample_freq":"5%%"}"#), 400, 10095, r#"failed to parse consumer sampling configuration: strconv.Atoi: parsing "5%": invalid syntax"#),
        (on("E1"), n(r#"{"sample_freq":"-5%"}"#), 400, 10095, "failed to parse consumer sampling configuration: <nil>"),
        (on("E1"), n(r#"{"rate_limit_bps":100}"#), 400, 10086, "consumer in pull mode can not have rate limit set"),
        (on("E1"), n(r#"{"max_expires":100}"#), 400, 10115, "consumer max request expires needs to be >= 1ms"),
        (on("E1"), n(r#"{"num_replicas":3}"#), 500, 10074, "replicas > 1 not supported in non-clustered mode"),
        (on("E1"), n(r#"{"num_replicas":-1}"#), 400, 10133, "replicas count cannot be negative"),
        (on("E1"), n(&format!(r#"{{"description":"{long_desc}"}}"#)), 400, 10107, "consumer description is too long, maximum allowed is 4096"),
        (on("E1"), n(&format!(r#"{{"metadata":{{"k":"{big_meta}"}}}}"#)), 400, 10135, "consumer metadata exceeds maximum size of 128KB"),
        (on("E1"), n(r#"{"priority_policy":"overflow"}"#), 400, 10159, "Setting PriorityPolicy requires at least one PriorityGroup to be set"),
        (on("E1"), n(r#"{"priority_policy":"overflow","priority_groups":[""]}"#), 400, 10161, "Group name cannot be an empty string"),
        (on("E1"), n(r#"{"priority_policy":"overflow","priority_groups":["a.b"]}"#), 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
        (on("E1"), n(r#"{"priority_policy":"overflow","priority_groups":["abcdefghijklmnopq"]}"#), 400, 10162, "Valid priority group name must match A-Z, a-z, 0-9, -_/=)+ and may not exceed 16 characters"),
        (on("E1"), n(r#"{"priority_policy":"overflow","priority_groups":["g"],"deliver_subject":"d"}"#), 400, 10178, "priority groups can not be used with push consumers"),
        (on("E1"), n(r#"{"priority_groups":["g"]}"#), 400, 10196, "consumer can not have priority groups when policy is none"),
        (on("E1"), n(r#"{"priority_timeout":5}"#), 400, 10197, "PinnedTTL cannot be set when PriorityPolicy is none"),
        (on("E1"), n(r#"{"ack_policy":"flow_control"}"#), 400, 10218, "flow control ack policy requires a push based consumer"),
        (on("E1"), n(r#"{"ack_policy":"flow_control","deliver_subject":"d","ack_wait":2000000000}"#), 400, 10221, "flow control ack policy requires unset ack wait"),
        (on("E1"), n(r#"{"ack_policy":"flow_control","deliver_subject":"d","max_deliver":3}"#), 400, 10222, "flow control ack policy requires unset max deliver"),
        (on("E1"), n(r#"{"ack_policy":"flow_control","deliver_subject":"d","max_ack_pending":-1}"#), 400, 10220, "flow control ack policy requires max ack pending"),
        (on("DD"), n(r#"{"durable_name":"DD","direct":true,"deliver_subject":"ddd"}"#), 400, 10091, "consumer direct requires an ephemeral consumer"),
        (on("F7"), n(r#"{"durable_name":"F7","ack_policy":"explicit","direct":true}"#), 400, 10090, "consumer direct requires a push based consumer"),
    ];
    for (subject, body, code, err_code, description) in cases {
        assert_eq!(
            refused(&subject, &body),
            (code, err_code, description.to_string()),
            "{subject} {body}"
        );
    }
}

#[test]
fn pedantic_refusals() {
    let cases: &[(&str, &str)] = &[
        (r#"{"max_waiting":-5}"#, "max_waiting must not be negative"),
        (r#"{"max_deliver":-5}"#, "max_deliver must be set to -1"),
        (
            r#"{"max_ack_pending":-5}"#,
            "max_ack_pending must be set to -1",
        ),
        (r#"{"max_batch":-5}"#, "max_batch must not be negative"),
        (r#"{"max_expires":-5}"#, "max_expires must not be negative"),
        (r#"{"max_bytes":-5}"#, "max_bytes must not be negative"),
        (
            r#"{"inactive_threshold":-5}"#,
            "inactive_threshold must not be negative",
        ),
        (
            r#"{"priority_timeout":-5}"#,
            "priority_timeout must not be negative",
        ),
        (
            r#"{"deliver_subject":"dq","idle_heartbeat":-5}"#,
            "idle_heartbeat must not be negative",
        ),
        (
            r#"{"ack_policy":"explicit","backoff":[1000000000]}"#,
            "first backoff value has to equal batch AckWait",
        ),
    ];
    for (config, text) in cases {
        let body = format!(r#"{{"stream_name":"S","config":{config},"pedantic":true}}"#);
        let (code, err_code, desc) = refused("$JS.API.CONSUMER.CREATE.S.Q", &body);
        assert_eq!((code, err_code), (400, 10157), "{config}");
        assert_eq!(desc, format!("pedantic mode: {text}"));
    }
    let (_, err_code, desc) = refused(
        "$JS.API.CONSUMER.CREATE.S.Q19",
        r#"{"stream_name":"S","config":{"ack_policy":"flow_control","deliver_subject":"d"},"pedantic":true}"#,
    );
    assert_eq!(
        (err_code, desc.as_str()),
        (10219, "flow control ack policy requires flow control")
    );
    assert!(create(
        "$JS.API.CONSUMER.CREATE.S.Q29",
        r#"{"stream_name":"S","config":{"ack_policy":"explicit","ack_wait":5,"backoff":[5]},"pedantic":true}"#,
    )
    .is_ok());
}

#[test]
fn decode_refusals() {
    let err = |body: &str| {
        decode::<CreateConsumerRequest>(body.as_bytes())
            .unwrap_err()
            .description
    };
    let cases: &[(&str, &str)] = &[
        (
            r#"{"stream_name":"S","config":{"durable_name":"F9","bogus":1}}"#,
            r#"invalid JSON: json: unknown field "bogus""#,
        ),
        (
            r#"{"stream_name":"S","config":{"durable_name":"F10"},"bogus":1}"#,
            r#"invalid JSON: json: unknown field "bogus""#,
        ),
        (
            r#"{"stream_name":"S","config":{"priority_policy":"bogus"}}"#,
            r#"invalid JSON: unknown priority policy: "bogus""#,
        ),
        (
            r#"{"stream_name":"S","config":{"deliver_policy":"bogus"}}"#,
            r#"invalid JSON: can not unmarshal "\"bogus\"""#,
        ),
        (
            r#"{"stream_name":"S","config":{"ack_policy":"bogus"}}"#,
            r#"invalid JSON: can not unmarshal "\"bogus\"""#,
        ),
        (
            r#"{"stream_name":"S","config":{"replay_policy":"bogus"}}"#,
            r#"invalid JSON: can not unmarshal "\"bogus\"""#,
        ),
        (
            r#"{"stream_name":"S","config":{},"action":"bogus"}"#,
            r#"invalid JSON: unknown consumer action: "bogus""#,
        ),
        (
            r#"{"stream_name":"S","config":{"opt_start_time":5}}"#,
            "invalid JSON: Time.UnmarshalJSON: input is not a JSON string",
        ),
        ("{", "invalid JSON: unexpected EOF"),
    ];
    for (body, want) in cases {
        assert_eq!(&err(body), want, "{body}");
    }
    let req: CreateConsumerRequest = decode(br#"{"stream_name":"S","action":"update"}"#).unwrap();
    assert_eq!(req.action, ConsumerAction::Update);
    let req: CreateConsumerRequest = decode(br#"{"stream_name":"S","action":""}"#).unwrap();
    assert_eq!(req.action, ConsumerAction::CreateOrUpdate);
}

/// A stored consumer: created, validated and with static metadata.
fn stored(name: &str, config: &str) -> ConsumerConfig {
    create(
        &format!("$JS.API.CONSUMER.CREATE.S.{name}"),
        &format!(r#"{{"stream_name":"S","config":{config}}}"#),
    )
    .unwrap()
}

fn apply(
    existing: &ConsumerConfig,
    action: ConsumerAction,
    config: &str,
) -> Result<ConsumerConfig, ApiError> {
    let mut new = create(
        &format!("$JS.API.CONSUMER.CREATE.S.{}", existing.name),
        &format!(r#"{{"stream_name":"S","config":{config}}}"#),
    )?;
    decide_action(action, Some(existing), &mut new, false, None)?;
    Ok(new)
}

#[test]
fn action_rules() {
    let base = r#"{"durable_name":"A1","ack_policy":"explicit","filter_subject":"s.a"}"#;
    let a1 = stored("A1", base);
    let with = |extra: &str| {
        format!(r#"{{"durable_name":"A1","ack_policy":"explicit","filter_subject":"s.a",{extra}}}"#)
    };
    assert!(apply(&a1, ConsumerAction::Create, base).is_ok());
    for extra in [r#""description":"x""#, r#""metadata":{"k":"v"}"#] {
        assert_eq!(
            apply(&a1, ConsumerAction::Create, &with(extra)).unwrap_err(),
            ApiError::consumer_already_exists()
        );
    }
    let mut missing = stored("A9", r#"{"durable_name":"A9"}"#);
    let err = decide_action(ConsumerAction::Update, None, &mut missing, false, None).unwrap_err();
    assert_eq!(
        (err.code, err.err_code, err.description.as_str()),
        (400, 10149, "consumer does not exist")
    );
    assert_eq!(
        decide_action(
            ConsumerAction::CreateOrUpdate,
            None,
            &mut missing,
            false,
            None
        ),
        Ok(ActionOutcome::Create)
    );

    // Allowed updates.
    for extra in [
        r#""description":"x""#,
        r#""mem_storage":true"#,
        r#""num_replicas":1"#,
        r#""sourcing":true"#,
        r#""max_ack_pending":5,"ack_wait":1000000000,"max_deliver":9,"max_batch":3,"max_expires":1000000000,"max_bytes":5,"headers_only":true,"inactive_threshold":9000000000,"sample_freq":"10","metadata":{"a":"b"}"#,
        r#""priority_policy":"overflow","priority_groups":["g"]"#,
    ] {
        apply(&a1, ConsumerAction::Update, &with(extra)).unwrap_or_else(|e| panic!("{extra}: {e}"));
    }
    let moved = apply(
        &a1,
        ConsumerAction::Update,
        r#"{"durable_name":"A1","ack_policy":"explicit","filter_subjects":["s.b","s.c"]}"#,
    )
    .unwrap();
    assert_eq!(moved.filters(), ["s.b", "s.c"]);

    // A pause is changed only by PAUSE: an update keeps the existing one.
    let paused = apply(
        &a1,
        ConsumerAction::Update,
        &with(r#""pause_until":"2099-01-01T00:00:00Z""#),
    )
    .unwrap();
    assert_eq!(paused.pause_until, None);
    assert_eq!(paused.metadata["_nats.req.level"], "0");
    let t1 = stored(
        "T1",
        r#"{"durable_name":"T1","pause_until":"2099-01-01T00:00:00Z"}"#,
    );
    let kept = apply(&t1, ConsumerAction::Create, r#"{"durable_name":"T1"}"#).unwrap();
    assert_eq!(kept.pause_until, t1.pause_until);
    assert!(apply(
        &t1,
        ConsumerAction::Create,
        r#"{"durable_name":"T1","pause_until":"2098-01-01T00:00:00Z"}"#
    )
    .is_ok());

    // Server metadata keys do not count; an explicit -1 differs from the default.
    let t2 = stored("T2", r#"{"durable_name":"T2","metadata":{"a":"b"}}"#);
    assert!(apply(
        &t2,
        ConsumerAction::Create,
        r#"{"durable_name":"T2","metadata":{"a":"b","_nats.req.level":"3"}}"#
    )
    .is_ok());
    let t3 = stored("T3", r#"{"durable_name":"T3","max_ack_pending":-1}"#);
    assert!(apply(
        &t3,
        ConsumerAction::Create,
        r#"{"durable_name":"T3","max_ack_pending":-1}"#
    )
    .is_ok());
    assert!(apply(&t3, ConsumerAction::Create, r#"{"durable_name":"T3"}"#).is_err());

    // Create compares times with their offsets, update compares instants.
    let t4 = stored(
        "T4",
        r#"{"durable_name":"T4","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T01:00:00+01:00"}"#,
    );
    let utc = r#"{"durable_name":"T4","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T00:00:00Z"}"#;
    assert!(apply(&t4, ConsumerAction::CreateOrUpdate, utc).is_ok());
    let t4_utc = stored("T4", utc);
    assert_eq!(
        apply(&t4_utc, ConsumerAction::Create, r#"{"durable_name":"T4","deliver_policy":"by_start_time","opt_start_time":"2020-01-01T01:00:00+01:00"}"#).unwrap_err(),
        ApiError::consumer_already_exists()
    );
}

#[test]
fn update_refusals() {
    let base = r#"{"durable_name":"A1","ack_policy":"explicit","filter_subject":"s.a"}"#;
    let a1 = stored("A1", base);
    let with = |extra: &str| {
        format!(r#"{{"durable_name":"A1","ack_policy":"explicit","filter_subject":"s.a",{extra}}}"#)
    };
    let cases: &[(String, u16, u16, &str)] = &[
        (
            with(r#""deliver_policy":"new""#),
            500,
            10012,
            "deliver policy can not be updated",
        ),
        (
            with(r#""deliver_policy":"by_start_sequence","opt_start_seq":3"#),
            500,
            10012,
            "deliver policy can not be updated",
        ),
        (
            r#"{"durable_name":"A1","ack_policy":"all","filter_subject":"s.a"}"#.into(),
            500,
            10012,
            "ack policy can not be updated",
        ),
        (
            with(r#""replay_policy":"original""#),
            500,
            10012,
            "replay policy can not be updated",
        ),
        (
            with(r#""deliver_subject":"dx""#),
            500,
            10012,
            "can not update pull consumer to push based",
        ),
        (
            with(r#""max_waiting":10"#),
            500,
            10012,
            "max waiting can not be updated",
        ),
        (
            with(r#""backoff":[1000000000,2000000000,3000000000],"max_deliver":2"#),
            400,
            10116,
            "max deliver is required to be > length of backoff values",
        ),
    ];
    for (config, code, err_code, text) in cases {
        let e = apply(&a1, ConsumerAction::CreateOrUpdate, config).expect_err(config);
        assert_eq!(
            (e.code, e.err_code, e.description.as_str()),
            (*code, *err_code, *text),
            "{config}"
        );
    }
    // These fail the config rules before the update rules.
    for (extra, err_code) in [
        (r#""idle_heartbeat":5000000000"#, 10088),
        (r#""flow_control":true"#, 10089),
    ] {
        let body = format!(r#"{{"stream_name":"S","config":{}}}"#, with(extra));
        assert_eq!(refused("$JS.API.CONSUMER.CREATE.S.A1", &body).1, err_code);
    }

    let push = r#"{"durable_name":"B1","deliver_subject":"pb1","ack_policy":"explicit","idle_heartbeat":1000000000}"#;
    let b1 = stored("B1", push);
    let pwith = |s: &str| push.replace(r#""deliver_subject":"pb1""#, s);
    assert!(apply(
        &b1,
        ConsumerAction::CreateOrUpdate,
        &pwith(r#""deliver_subject":"pb2""#)
    )
    .is_ok());
    assert!(apply(
        &b1,
        ConsumerAction::CreateOrUpdate,
        &pwith(r#""deliver_subject":"pb1","rate_limit_bps":100,"deliver_group":"q""#)
    )
    .is_ok());
    let e = apply(
        &b1,
        ConsumerAction::CreateOrUpdate,
        &pwith(r#""deliver_subject":"pb2""#).replace("1000000000", "2000000000"),
    )
    .unwrap_err();
    assert_eq!(e.description, "heart beats can not be updated");
    let e = apply(
        &b1,
        ConsumerAction::CreateOrUpdate,
        &pwith(r#""deliver_subject":"pb1","flow_control":true"#),
    )
    .unwrap_err();
    assert_eq!(e.description, "flow control can not be updated");
    let e = apply(
        &b1,
        ConsumerAction::Create,
        &pwith(r#""deliver_subject":"pb1","deliver_group":"q2""#),
    )
    .unwrap_err();
    assert_eq!(e, ApiError::consumer_already_exists());
    let mut unbound = stored("B1", &pwith(r#""deliver_subject":"pb3""#));
    let e = decide_action(
        ConsumerAction::CreateOrUpdate,
        Some(&b1),
        &mut unbound,
        true,
        None,
    )
    .unwrap_err();
    assert_eq!(
        (e.err_code, e.description.as_str()),
        (10013, "consumer name already in use")
    );

    let w1 = create_on(
        &stream(r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue"}"#),
        "$JS.API.CONSUMER.CREATE.WQ.W1",
        r#"{"stream_name":"WQ","config":{"durable_name":"W1","ack_policy":"explicit","deliver_subject":"wd"}}"#,
    )
    .unwrap();
    let mut to_pull = w1.clone();
    to_pull.deliver_subject.clear();
    assert_eq!(
        check_update(&w1, &to_pull, false).unwrap_err().description,
        "can not update push consumer to pull based"
    );
}

#[test]
fn workqueue_and_limits() {
    let wq = stream(r#"{"name":"WQ","subjects":["wq.>"],"retention":"workqueue"}"#);
    let limits = ConsumerLimits::default();
    let on_wq = |config: &str| {
        create_on(
            &wq,
            "$JS.API.CONSUMER.CREATE.WQ.W1",
            &format!(r#"{{"stream_name":"WQ","config":{config}}}"#),
        )
    };
    let e = on_wq(r#"{"durable_name":"W1"}"#).unwrap_err();
    assert_eq!(
        (e.err_code, e.description.as_str()),
        (
            10084,
            "consumer in pull mode requires explicit ack policy on workqueue stream"
        )
    );
    let codes = |config: &str, count: usize, others: &[Vec<String>]| {
        let cfg = on_wq(config).unwrap();
        check_new_consumer(&wq, &limits, &cfg, count, others)
            .map_err(|e| (e.err_code, e.description))
    };
    assert_eq!(
        codes(r#"{"durable_name":"W1","ack_policy":"all"}"#, 0, &[]),
        Err((10098, "workqueue stream requires explicit ack".into()))
    );
    assert_eq!(
        codes(
            r#"{"durable_name":"W1","ack_policy":"explicit","deliver_policy":"new"}"#,
            0,
            &[]
        ),
        Err((
            10101,
            "consumer must be deliver all on workqueue stream".into()
        ))
    );
    assert_eq!(
        codes(
            r#"{"durable_name":"W1","ack_policy":"explicit","deliver_subject":"wd"}"#,
            0,
            &[]
        ),
        Ok(())
    );
    let unfiltered = vec![Vec::new()];
    assert_eq!(
        codes(
            r#"{"durable_name":"W1","ack_policy":"explicit"}"#,
            1,
            &unfiltered
        ),
        Err((
            10099,
            "multiple non-filtered consumers not allowed on workqueue stream".into()
        ))
    );
    for config in [
        r#"{"durable_name":"W1","ack_policy":"explicit","filter_subject":"wq.*"}"#,
        r#"{"durable_name":"W1","ack_policy":"explicit","filter_subjects":["wq.b","wq.a"]}"#,
        r#"{"durable_name":"W1","ack_policy":"explicit","filter_subject":"wq.b"}"#,
    ] {
        assert_eq!(
            codes(config, 1, &unfiltered),
            Err((
                10100,
                "filtered consumer not unique on workqueue stream".into()
            ))
        );
    }
    let a = vec![vec!["wq.a".to_string()]];
    assert_eq!(
        codes(
            r#"{"durable_name":"W1","ack_policy":"explicit","filter_subject":"wq.b"}"#,
            1,
            &a
        ),
        Ok(())
    );
    assert!(codes(
        r#"{"durable_name":"W1","ack_policy":"explicit","filter_subject":"wq.*"}"#,
        1,
        &a
    )
    .is_err());

    // Partial overlaps count too (captured on a stream WQ2 with "wq2.a.>" taken).
    let taken = [vec!["wq2.a.>".to_string()]];
    for filter in ["wq2.*.b", "wq2.>", "wq2.a.c"] {
        assert!(!partition_unique(&[filter.to_string()], &taken), "{filter}");
    }
    assert!(partition_unique(&["wq2.b.c".to_string()], &taken));

    // Interest streams take any replicas up to the stream's.
    let interest = stream(r#"{"name":"IN","subjects":["in.>"],"retention":"interest"}"#);
    assert!(create_on(
        &interest,
        "$JS.API.CONSUMER.CREATE.IN.I2",
        r#"{"stream_name":"IN","config":{"durable_name":"I2","num_replicas":1}}"#
    )
    .is_ok());

    let mc = stream(
        r#"{"name":"MC","subjects":["mc.>"],"max_consumers":1,"consumer_limits":{"max_ack_pending":50,"inactive_threshold":3000000000}}"#,
    );
    let on_mc = |config: &str| {
        create_on(
            &mc,
            "$JS.API.CONSUMER.CREATE.MC.M1",
            &format!(r#"{{"stream_name":"MC","config":{config}}}"#),
        )
    };
    let m1 = on_mc(r#"{"durable_name":"M1","ack_policy":"explicit"}"#).unwrap();
    assert_eq!(
        text(to_json(&m1)),
        r#"{"durable_name":"M1","name":"M1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":50,"inactive_threshold":3000000000,"num_replicas":0,"metadata":{"_nats.req.level":"0"}}"#
    );
    let e =
        on_mc(r#"{"durable_name":"M1","ack_policy":"explicit","max_ack_pending":60}"#).unwrap_err();
    assert_eq!(
        (e.err_code, e.description.as_str()),
        (10121, "consumer max ack pending exceeds system limit of 50")
    );
    let e =
        on_mc(r#"{"durable_name":"M1","ack_policy":"explicit","inactive_threshold":4000000000}"#)
            .unwrap_err();
    assert_eq!(
        (e.err_code, e.description.as_str()),
        (
            10153,
            "consumer inactive threshold exceeds system limit of 3s"
        )
    );
    let e = check_new_consumer(&mc, &limits, &m1, 1, &[]).unwrap_err();
    assert_eq!(
        (e.code, e.err_code, e.description.as_str()),
        (400, 10026, "maximum consumers limit reached")
    );

    // An ephemeral takes the stream's inactive threshold over the 5 s default.
    for (limit, want) in [
        (3_000_000_000i64, 3_000_000_000i64),
        (9_000_000_000, 9_000_000_000),
    ] {
        let s = stream(&format!(
            r#"{{"name":"MC2","subjects":["mc2.>"],"consumer_limits":{{"inactive_threshold":{limit}}}}}"#
        ));
        let c = create_on(
            &s,
            "$JS.API.CONSUMER.CREATE.MC2",
            r#"{"stream_name":"MC2","config":{}}"#,
        )
        .unwrap();
        assert_eq!(c.inactive_threshold, want);
    }
}

#[test]
fn create_subjects_parse() {
    assert_eq!(
        CreateSubject::parse("$JS.API.CONSUMER.CREATE.S"),
        Some(CreateSubject {
            stream: "S",
            kind: CreateKind::Ephemeral
        })
    );
    assert_eq!(
        CreateSubject::parse("$JS.API.CONSUMER.CREATE.S.C.a.>"),
        Some(CreateSubject {
            stream: "S",
            kind: CreateKind::Named {
                consumer: "C",
                filter: Some("a.>")
            }
        })
    );
    assert_eq!(
        CreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.C"),
        Some(CreateSubject {
            stream: "S",
            kind: CreateKind::LegacyDurable { consumer: "C" }
        })
    );
    assert_eq!(
        CreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S"),
        None
    );
    assert_eq!(
        CreateSubject::parse("$JS.API.CONSUMER.DURABLE.CREATE.S.C.x"),
        None
    );
}

fn seq(consumer_seq: u64, stream_seq: u64) -> SequenceInfo {
    SequenceInfo {
        consumer_seq,
        stream_seq,
        last_active: None,
    }
}

#[test]
fn info_replies() {
    let d1 = stored("D1", r#"{"durable_name":"D1","ack_policy":"explicit"}"#);
    let info = ConsumerInfo::build(
        "S",
        "D1",
        ts("2026-11-22T05:37:17.619812149Z"),
        d1.with_dynamic_metadata("2.14.0"),
        &ConsumerCounts::default(),
        ts("2026-11-22T05:37:17.62161817Z"),
    );
    assert_eq!(
        text(ConsumerInfoResponse::info(info.clone()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response","stream_name":"S","name":"D1","created":"2026-11-22T05:37:17.619812149Z","config":{"durable_name":"D1","name":"D1","deliver_policy":"all","ack_policy":"explicit","ack_wait":30000000000,"max_deliver":-1,"replay_policy":"instant","max_waiting":512,"max_ack_pending":1000,"num_replicas":0,"metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0"}},"delivered":{"consumer_seq":0,"stream_seq":0},"ack_floor":{"consumer_seq":0,"stream_seq":0},"num_ack_pending":0,"num_redelivered":0,"num_waiting":0,"num_pending":0,"ts":"2026-11-22T05:37:17.62161817Z"}"#
    );
    assert!(text(ConsumerCreateResponse::created(info).to_json())
        .starts_with(r#"{"type":"io.nats.jetstream.api.v1.consumer_create_response","stream_name":"S","name":"D1","#));

    // Paused, with a start position the engine reports.
    let f2 = stored(
        "F2",
        r#"{"durable_name":"F2","ack_policy":"explicit","pause_until":"2099-01-01T00:00:00Z"}"#,
    );
    let now = ts("2026-11-22T05:37:24.950664683Z");
    let counts = ConsumerCounts {
        delivered: seq(0, 4),
        ack_floor: seq(0, 4),
        ..ConsumerCounts::default()
    };
    let json = text(to_json(&ConsumerInfo::build(
        "S", "F2", now, f2, &counts, now,
    )));
    assert!(json.contains(r#""delivered":{"consumer_seq":0,"stream_seq":4},"ack_floor":{"consumer_seq":0,"stream_seq":4}"#));
    assert!(json.ends_with(r#""num_pending":0,"paused":true,"pause_remaining":2275582955049335317,"ts":"2026-11-22T05:37:24.950664683Z"}"#), "{json}");

    // Priority groups, and activity times once there are some.
    let f3 = stored(
        "F3",
        r#"{"durable_name":"F3","ack_policy":"explicit","priority_groups":["g1"],"priority_policy":"pinned_client"}"#,
    );
    let counts = ConsumerCounts {
        delivered: SequenceInfo {
            consumer_seq: 2,
            stream_seq: 5,
            last_active: Some(ts("2026-11-22T05:40:00Z")),
        },
        priority_groups: vec![PriorityGroupState {
            group: "g1".into(),
            ..Default::default()
        }],
        push_bound: true,
        ..ConsumerCounts::default()
    };
    let json = text(to_json(&ConsumerInfo::build(
        "S", "F3", now, f3, &counts, now,
    )));
    assert!(json.contains(
        r#""delivered":{"consumer_seq":2,"stream_seq":5,"last_active":"2026-11-22T05:40:00Z"}"#
    ));
    assert!(json.ends_with(r#""push_bound":true,"ts":"2026-11-22T05:37:24.950664683Z","priority_groups":[{"group":"g1","pinned_ts":"0001-01-01T00:00:00Z"}]}"#), "{json}");
}

#[test]
fn names_list_delete_pause_replies() {
    let names: Vec<String> = (0..24).map(|i| format!("C{i:02}")).collect();
    let reply = text(ConsumerNamesResponse::page(&names, 2).to_json());
    assert!(reply.starts_with(r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":24,"offset":2,"limit":1024,"consumers":["C02","#));
    assert_eq!(
        text(ConsumerNamesResponse::page(&names, 2000).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":24,"offset":24,"limit":1024,"consumers":[]}"#
    );
    assert_eq!(
        text(ConsumerNamesResponse::page(&[], 5).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","total":0,"offset":0,"limit":1024,"consumers":[]}"#
    );
    assert_eq!(
        text(ConsumerListResponse::page(&[], 0).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","total":0,"offset":0,"limit":256,"consumers":[]}"#
    );
    assert_eq!(
        text(ConsumerNamesResponse::error(ApiError::stream_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_names_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#
    );
    assert_eq!(
        text(ConsumerListResponse::error(ApiError::stream_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_list_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0,"consumers":[]}"#
    );
    assert_eq!(
        decode_optional::<ConsumerNamesRequest>(br#"{"bogus":2}"#)
            .unwrap_err()
            .description,
        r#"invalid JSON: json: unknown field "bogus""#
    );
    assert_eq!(
        decode_optional::<ConsumerNamesRequest>(b"junk").unwrap(),
        ConsumerNamesRequest::default()
    );
    assert_eq!(
        decode_optional::<ConsumerListRequest>(br#"{"offset":3}"#)
            .unwrap()
            .offset,
        3
    );

    assert_eq!(
        text(ConsumerDeleteResponse::deleted().to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","success":true}"#
    );
    assert_eq!(
        text(ConsumerDeleteResponse::error(ApiError::consumer_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_delete_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#
    );
    assert_eq!(
        text(ConsumerInfoResponse::error(ApiError::consumer_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_info_response","error":{"code":404,"err_code":10014,"description":"consumer not found"}}"#
    );

    let now = ts("2026-11-22T05:38:42.040954852Z");
    let until = |body: &str| {
        decode::<ConsumerPauseRequest>(body.as_bytes())
            .unwrap()
            .pause_until
    };
    assert_eq!(
        text(
            ConsumerPauseResponse::pause(until(r#"{"pause_until":"2099-01-01T00:00:00Z"}"#), now)
                .to_json()
        ),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":true,"pause_until":"2099-01-01T00:00:00Z","pause_remaining":2275582877959045148}"#
    );
    assert_eq!(
        text(
            ConsumerPauseResponse::pause(
                until(r#"{"pause_until":"2099-01-01T01:00:00+01:00"}"#),
                now
            )
            .to_json()
        ),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":true,"pause_until":"2099-01-01T00:00:00Z","pause_remaining":2275582877959045148}"#
    );
    assert_eq!(
        text(ConsumerPauseResponse::pause(until(""), now).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":false,"pause_until":"0001-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        text(
            ConsumerPauseResponse::pause(until(r#"{"pause_until":"2020-01-01T00:00:00Z"}"#), now)
                .to_json()
        ),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","paused":false,"pause_until":"2020-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        text(ConsumerPauseResponse::error(ApiError::consumer_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.consumer_pause_response","error":{"code":404,"err_code":10014,"description":"consumer not found"},"paused":false,"pause_until":"0001-01-01T00:00:00Z"}"#
    );
    assert_eq!(
        decode::<ConsumerPauseRequest>(br#"{"bogus":1}"#)
            .unwrap_err()
            .description,
        r#"invalid JSON: json: unknown field "bogus""#
    );
}

#[test]
fn timestamps_keep_their_offset() {
    for s in [
        "2020-01-01T00:00:00.5+01:00",
        "2099-01-01T01:00:00+01:00",
        "2020-06-30T23:59:59.123456789-05:30",
        "2020-01-01T00:00:00Z",
        "0001-01-01T00:00:00Z",
    ] {
        assert_eq!(Timestamp::parse(s).unwrap().to_string(), s);
    }
    let a = Timestamp::parse("2020-01-01T01:00:00+01:00").unwrap();
    let b = Timestamp::parse("2020-01-01T00:00:00Z").unwrap();
    assert_eq!(a.nanos, b.nanos);
    assert_ne!(a, b);
    assert_eq!(a.to_utc(), b);
}
