//! Wire forms against bytes captured from nats-server 2.14.0.

use super::*;
use crate::api::json::{decode, to_json};
use crate::api::time::parse_time;
use crate::api::{Paged, SUBJECTS_LIMIT};
use crate::error::ApiError;

fn text(b: Vec<u8>) -> String {
    String::from_utf8(b).unwrap()
}

fn ts(s: &str) -> i64 {
    parse_time(s).unwrap()
}

/// Decode, create-validate, store and show a config as the create reply does.
fn echoed(request: &str) -> StreamConfig {
    let mut cfg: StreamConfig = decode(request.as_bytes()).unwrap();
    cfg.validate_create().unwrap();
    cfg.set_static_metadata();
    cfg.with_dynamic_metadata("2.14.0")
}

const MINIMAL_ECHO: &str = r#"{"name":"S","subjects":["a"],"retention":"limits","max_consumers":-1,"max_msgs":-1,"max_bytes":-1,"max_age":0,"max_msgs_per_subject":-1,"max_msg_size":-1,"discard":"old","storage":"file","num_replicas":1,"duplicate_window":120000000000,"compression":"none","allow_direct":false,"mirror_direct":false,"sealed":false,"deny_delete":false,"deny_purge":false,"allow_rollup_hdrs":false,"consumer_limits":{},"allow_msg_ttl":false,"metadata":{"_nats.level":"4","_nats.req.level":"0","_nats.ver":"2.14.0"}}"#;

#[test]
fn minimal_config_defaults_echoed() {
    let cfg = echoed(r#"{"name":"S","subjects":["a"]}"#);
    assert_eq!(text(to_json(&cfg)), MINIMAL_ECHO);
}

#[test]
fn full_config_echoed() {
    let request = r#"{"name":"F","description":"d","subjects":["f.>"],"retention":"limits","max_consumers":5,"max_msgs":5,"max_bytes":5000,"max_age":10000000000,"max_msgs_per_subject":3,"max_msg_size":100,"discard":"new","storage":"file","num_replicas":1,"no_ack":true,"duplicate_window":1000000000,"placement":{"cluster":"","tags":["a"]},"compression":"s2","first_seq":9,"subject_transform":{"src":"f.>","dest":"g.>"},"republish":{"src":"f.>","dest":"rp.>","headers_only":true},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":5000000000,"max_ack_pending":10},"allow_msg_ttl":false,"allow_atomic":true,"allow_batched":true,"metadata":{"z":"1","a":"2"}}"#;
    let want = r#"{"name":"F","description":"d","subjects":["f.\u003e"],"retention":"limits","max_consumers":5,"max_msgs":5,"max_bytes":5000,"max_age":10000000000,"max_msgs_per_subject":3,"max_msg_size":100,"discard":"new","storage":"file","num_replicas":1,"no_ack":true,"duplicate_window":1000000000,"placement":{"tags":["a"]},"compression":"s2","first_seq":9,"subject_transform":{"src":"f.\u003e","dest":"g.\u003e"},"republish":{"src":"f.\u003e","dest":"rp.\u003e","headers_only":true},"allow_direct":true,"mirror_direct":false,"discard_new_per_subject":true,"sealed":false,"deny_delete":true,"deny_purge":false,"allow_rollup_hdrs":true,"consumer_limits":{"inactive_threshold":5000000000,"max_ack_pending":10},"allow_msg_ttl":false,"allow_atomic":true,"allow_batched":true,"metadata":{"_nats.level":"4","_nats.req.level":"4","_nats.ver":"2.14.0","a":"2","z":"1"}}"#;
    assert_eq!(text(to_json(&echoed(request))), want);
}

#[test]
fn mirror_sources_and_newer_flags_echoed() {
    let m = echoed(
        r#"{"name":"X","mirror":{"name":"S","consumer":{"name":"c","deliver_subject":"d"}}}"#,
    );
    assert!(text(to_json(&m)).contains(
        r#""num_replicas":1,"mirror":{"name":"S","consumer":{"name":"c","deliver_subject":"d"}},"compression":"none","#
    ));
    let s = echoed(
        r#"{"name":"H","sources":[{"name":"S","opt_start_seq":3,"opt_start_time":"2020-01-01T00:00:00Z","filter_subject":"a","external":{"api":"$JS.x.API","deliver":"dl"}}]}"#,
    );
    assert!(text(to_json(&s)).contains(
        r#""num_replicas":1,"sources":[{"name":"S","opt_start_seq":3,"opt_start_time":"2020-01-01T00:00:00Z","filter_subject":"a","external":{"api":"$JS.x.API","deliver":"dl"}}],"compression":"none","#
    ));
    let p = echoed(
        r#"{"name":"X","allow_batched":true,"persist_mode":"async","allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000}"#,
    );
    assert!(text(to_json(&p)).contains(
        r#""allow_rollup_hdrs":true,"consumer_limits":{},"allow_msg_ttl":true,"subject_delete_marker_ttl":1000000000,"persist_mode":"async","allow_batched":true,"metadata":{"_nats.level":"4","_nats.req.level":"4","#
    ));
    let first = echoed(r#"{"name":"X","first_seq":5}"#);
    assert!(text(to_json(&first))
        .contains(r#""compression":"none","first_seq":5,"allow_direct":false"#));
}

#[test]
fn enum_and_type_errors() {
    let err = |body: &str| {
        decode::<StreamConfig>(body.as_bytes())
            .unwrap_err()
            .description
    };
    assert_eq!(
        err(r#"{"name":"X","retention":"bogus"}"#),
        r#"invalid JSON: can not unmarshal "\"bogus\"""#
    );
    assert_eq!(
        err(r#"{"name":"X","storage":"File"}"#),
        r#"invalid JSON: can not unmarshal "\"File\"""#
    );
    assert_eq!(
        err(r#"{"name":"H","retention":1}"#),
        r#"invalid JSON: can not unmarshal "1""#
    );
    assert_eq!(
        err(r#"{"name":"H","retention":null}"#),
        r#"invalid JSON: can not unmarshal "null""#
    );
    assert_eq!(
        err(r#"{"name":"X","persist_mode":"bogus"}"#),
        r#"invalid JSON: can not unmarshal "\"bogus\"""#
    );
    assert_eq!(
        err(r#"{"name":"X","compression":"zip"}"#),
        "invalid JSON: unknown compression algorithm"
    );
    assert_eq!(
        err(r#"{"name":"X","compression":""}"#),
        "invalid JSON: unknown compression algorithm"
    );
    assert_eq!(
        err(r#"{"name":"X","template_owner":"T"}"#),
        r#"invalid JSON: json: unknown field "template_owner""#
    );
    assert_eq!(
        err(r#"{"name":"H","placement":{"cluster":"c","foo":1}}"#),
        r#"invalid JSON: json: unknown field "foo""#
    );
    assert_eq!(
        err(r#"{"name":"X","sources":[{"name":"S","opt_start_time":"bad"}]}"#),
        r#"invalid JSON: parsing time "bad" as "2006-01-02T15:04:05Z07:00": cannot parse "bad" as "2006""#
    );
    // Go ignores nulls for plain fields.
    let c: StreamConfig =
        decode(br#"{"name":"H","consumer_limits":null,"subjects":null,"max_age":null}"#).unwrap();
    assert_eq!(c.name, "H");
}

fn stream_info() -> StreamInfo {
    StreamInfo {
        config: echoed(r#"{"name":"S","subjects":["a"]}"#),
        created: ts("2026-11-22T03:52:59.627050217Z"),
        ts: ts("2026-11-22T03:52:59.628124895Z"),
        ..StreamInfo::default()
    }
}

#[test]
fn create_response_bytes() {
    let want = format!(
        r#"{{"type":"io.nats.jetstream.api.v1.stream_create_response","config":{MINIMAL_ECHO},"created":"2026-11-22T03:52:59.627050217Z","state":{{"messages":0,"bytes":0,"first_seq":0,"first_ts":"0001-01-01T00:00:00Z","last_seq":0,"last_ts":"0001-01-01T00:00:00Z","consumer_count":0}},"ts":"2026-11-22T03:52:59.628124895Z","did_create":true}}"#
    );
    assert_eq!(
        text(StreamCreateResponse::created(stream_info(), true).to_json()),
        want
    );
    assert_eq!(
        text(StreamCreateResponse::error(ApiError::stream_name_mismatch()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_create_response","error":{"code":400,"err_code":10056,"description":"stream name in subject does not match request"}}"#
    );
}

#[test]
fn info_response_bytes() {
    let mut info = stream_info();
    info.ts = ts("2026-11-22T03:53:02.268398408Z");
    info.state = StreamState {
        messages: 1,
        bytes: 33,
        first_seq: 1,
        first_ts: ts("2026-11-22T03:52:59.629129114Z"),
        last_seq: 1,
        last_ts: ts("2026-11-22T03:52:59.629129114Z"),
        num_subjects: 1,
        subjects: Some([("a".to_string(), 1)].into_iter().collect()),
        ..StreamState::default()
    };
    info.cluster = Some(ClusterInfo {
        leader: "NBLCBZGJO2XBQJVWM5GV4X7DGADQKOIAO6Z5K5H77REOOTDHINP2UZA6".into(),
        ..ClusterInfo::default()
    });
    let paged = Paged {
        total: 1,
        offset: 0,
        limit: SUBJECTS_LIMIT,
    };
    let want = format!(
        r#"{{"type":"io.nats.jetstream.api.v1.stream_info_response","total":1,"offset":0,"limit":100000,"config":{MINIMAL_ECHO},"created":"2026-11-22T03:52:59.627050217Z","state":{{"messages":1,"bytes":33,"first_seq":1,"first_ts":"2026-11-22T03:52:59.629129114Z","last_seq":1,"last_ts":"2026-11-22T03:52:59.629129114Z","num_subjects":1,"subjects":{{"a":1}},"consumer_count":0}},"cluster":{{"leader":"NBLCBZGJO2XBQJVWM5GV4X7DGADQKOIAO6Z5K5H77REOOTDHINP2UZA6"}},"ts":"2026-11-22T03:53:02.268398408Z"}}"#
    );
    assert_eq!(text(StreamInfoResponse::info(info, paged).to_json()), want);
    assert_eq!(
        text(StreamInfoResponse::error(ApiError::stream_not_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_info_response","error":{"code":404,"err_code":10059,"description":"stream not found"},"total":0,"offset":0,"limit":0}"#
    );
}

#[test]
fn state_details_and_source_info() {
    let state = StreamState {
        messages: 1,
        bytes: 66,
        first_seq: 1,
        last_seq: 2,
        num_subjects: 1,
        num_deleted: 1,
        deleted: vec![2],
        ..StreamState::default()
    };
    assert!(text(to_json(&state))
        .ends_with(r#""num_subjects":1,"num_deleted":1,"deleted":[2],"consumer_count":0}"#));
    let purged = StreamState {
        first_seq: 2,
        last_seq: 1,
        last_ts: ts("2026-11-22T03:52:59.629129114Z"),
        ..StreamState::default()
    };
    assert_eq!(
        text(to_json(&purged)),
        r#"{"messages":0,"bytes":0,"first_seq":2,"first_ts":"0001-01-01T00:00:00Z","last_seq":1,"last_ts":"2026-11-22T03:52:59.629129114Z","consumer_count":0}"#
    );
    let source = StreamSourceInfo {
        name: "S".into(),
        active: -1,
        ..StreamSourceInfo::default()
    };
    assert_eq!(
        text(to_json(&source)),
        r#"{"name":"S","lag":0,"active":-1}"#
    );
}

#[test]
fn names_list_purge_delete_bytes() {
    let names = StreamNamesResponse::ok(NamesBody {
        paged: Paged {
            total: 0,
            offset: 0,
            limit: crate::api::NAMES_LIMIT,
        },
        streams: None,
    });
    assert_eq!(
        text(names.to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","total":0,"offset":0,"limit":1024,"streams":null}"#
    );
    assert_eq!(
        text(StreamNamesResponse::error(ApiError::invalid_json("unexpected EOF")).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_names_response","error":{"code":400,"err_code":10025,"description":"invalid JSON: unexpected EOF"},"total":0,"offset":0,"limit":0,"streams":null}"#
    );
    let list = StreamListResponse::ok(ListBody {
        paged: Paged {
            total: 0,
            offset: 0,
            limit: crate::api::LIST_LIMIT,
        },
        ..ListBody::default()
    });
    assert_eq!(
        text(list.to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_list_response","total":0,"offset":0,"limit":256,"streams":[]}"#
    );
    assert!(
        text(StreamListResponse::error(ApiError::bad_request()).to_json())
            .ends_with(r#""total":0,"offset":0,"limit":0,"streams":[]}"#)
    );
    assert_eq!(
        text(StreamPurgeResponse::purged(1).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","success":true,"purged":1}"#
    );
    assert_eq!(
        text(StreamPurgeResponse::error(ApiError::purge_not_permitted()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_purge_response","error":{"code":500,"err_code":10110,"description":"stream purge not permitted"},"purged":0}"#
    );
    assert_eq!(
        text(StreamDeleteResponse::deleted().to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","success":true}"#
    );
    assert_eq!(
        text(StreamDeleteResponse::error(ApiError::not_empty_request()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_delete_response","error":{"code":400,"err_code":10038,"description":"expected an empty request payload"}}"#
    );
    assert_eq!(
        text(
            MsgDeleteResponse::error(ApiError::msg_delete_failed(crate::error::MSG_DELETE_EOF))
                .to_json()
        ),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_delete_response","error":{"code":500,"err_code":10057,"description":"stream store EOF"}}"#
    );
}

#[test]
fn msg_get_bytes() {
    let msg = StoredMsg {
        subject: "r.b".into(),
        seq: 2,
        hdrs: b"NATS/1.0\r\nFoo: bar\r\n\r\n".to_vec(),
        data: b"y".to_vec(),
        time: ts("2026-11-22T03:55:34.542739036Z"),
    };
    assert_eq!(
        text(MsgGetResponse::ok(MsgGetBody { message: Some(msg) }).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","message":{"subject":"r.b","seq":2,"hdrs":"TkFUUy8xLjANCkZvbzogYmFyDQoNCg==","data":"eQ==","time":"2026-11-22T03:55:34.542739036Z"}}"#
    );
    assert_eq!(
        text(MsgGetResponse::error(ApiError::no_message_found()).to_json()),
        r#"{"type":"io.nats.jetstream.api.v1.stream_msg_get_response","error":{"code":404,"err_code":10037,"description":"no message found"}}"#
    );
}

#[test]
fn request_bodies() {
    let get: MsgGetRequest = decode(br#"{"seq":1,"last_by_subj":"q.a"}"#).unwrap();
    assert_eq!(get.check_single(), Err(ApiError::bad_request()));
    let checks: &[(&str, bool)] = &[
        ("{}", false),
        (r#"{"seq":2}"#, true),
        (r#"{"last_by_subj":"q.a"}"#, true),
        (r#"{"next_by_subj":"q.a"}"#, true),
        (r#"{"next_by_subj":"q.a","seq":3}"#, true),
        (r#"{"next_by_subj":"q.a","last_by_subj":"q.a"}"#, false),
        (r#"{"start_time":"2026-01-01T00:00:00Z"}"#, true),
        (r#"{"start_time":"2026-01-01T00:00:00Z","seq":1}"#, false),
        (r#"{"seq":1,"batch":2}"#, false),
    ];
    for (body, ok) in checks {
        let req: MsgGetRequest = decode(body.as_bytes()).unwrap();
        assert_eq!(req.check_single().is_ok(), *ok, "{body}");
    }
    let unknown = decode::<MsgGetRequest>(br#"{"seq":2,"x":1}"#).unwrap_err();
    assert_eq!(
        unknown.description,
        r#"invalid JSON: json: unknown field "x""#
    );
    let purge: PurgeRequest = decode(br#"{"seq":5,"keep":1}"#).unwrap();
    assert_eq!(purge.check(), Err(ApiError::bad_request()));
    let purge: PurgeRequest = decode(br#"{"filter":"q.>","keep":1}"#).unwrap();
    assert_eq!(
        (purge.filter.as_str(), purge.keep, purge.check()),
        ("q.>", 1, Ok(()))
    );
    let del: MsgDeleteRequest = decode(br#"{"seq":1,"no_erase":true}"#).unwrap();
    assert_eq!((del.seq, del.no_erase), (1, true));
    let info: StreamInfoRequest =
        decode(br#"{"subjects_filter":">","offset":1,"deleted_details":true}"#).unwrap();
    assert_eq!(
        (
            info.subjects_filter.as_str(),
            info.offset,
            info.deleted_details
        ),
        (">", 1, true)
    );
    let names: StreamNamesRequest = decode(br#"{"subject":"zzz"}"#).unwrap();
    assert_eq!(names.subject, "zzz");
    assert_eq!(
        decode::<StreamInfoRequest>(br#"{"x":1}"#)
            .unwrap_err()
            .description,
        r#"invalid JSON: json: unknown field "x""#
    );
    let kind = |body: &[u8]| decode::<MsgGetRequest>(body).unwrap_err().description;
    assert_eq!(kind(b"5"), "invalid JSON: json: cannot unmarshal number into Go value of type server.JSApiMsgGetRequest");
    assert_eq!(
        decode::<MsgDeleteRequest>(b"true").unwrap_err().description,
        "invalid JSON: json: cannot unmarshal bool into Go value of type server.JSApiMsgDeleteRequest"
    );
    assert_eq!(
        decode::<StreamConfig>(b"\"x\"").unwrap_err().description,
        "invalid JSON: json: cannot unmarshal string into Go value of type server.StreamConfigRequest"
    );
    // INFO/NAMES/LIST/PURGE ignore a body that is not an object or array.
    let purge: PurgeRequest = crate::api::json::decode_optional(b"bad").unwrap();
    assert_eq!(purge, PurgeRequest::default());
    let list: StreamListRequest = crate::api::json::decode_optional(br#"{"subject":"a"}"#).unwrap();
    assert_eq!(list.subject, "a");
}
