//! Every expectation here was captured from nats-server 2.14.0 for the same
//! request body (STREAM.CREATE or STREAM.UPDATE on a fresh server).

use super::*;
use crate::api::json::decode;

fn cfg(json: &str) -> StreamConfig {
    decode(json.as_bytes()).unwrap_or_else(|e| panic!("{json}: {e}"))
}

fn create_err(json: &str) -> (u16, u16, String) {
    let e = cfg(json).validate_create().expect_err(json);
    (e.code, e.err_code, e.description)
}

fn created(json: &str) -> StreamConfig {
    let mut c = cfg(json);
    c.validate_create()
        .unwrap_or_else(|e| panic!("{json}: {e}"));
    c
}

#[test]
fn create_refusals() {
    let long_name = "n".repeat(256);
    let long_desc = "d".repeat(4097);
    let big_meta = "d".repeat(140_000);
    let cases: Vec<(String, u16, u16, &str)> = vec![
        (r#"{"name":"X","max_age":-1}"#.into(), 500, 10052, "max age can not be negative"),
        (r#"{"name":"X","max_age":1000}"#.into(), 500, 10052, "max age needs to be >= 100ms"),
        (r#"{"name":"X","max_age":99000000}"#.into(), 500, 10052, "max age needs to be >= 100ms"),
        (r#"{"name":"X","duplicate_window":-1}"#.into(), 500, 10052, "duplicates window can not be negative"),
        (r#"{"name":"X","duplicate_window":1000}"#.into(), 500, 10052, "duplicates window needs to be >= 100ms"),
        (
            r#"{"name":"X","max_age":1000000000,"duplicate_window":2000000000}"#.into(),
            500,
            10052,
            "duplicates window can not be larger then max age",
        ),
        (r#"{"name":"X","num_replicas":3}"#.into(), 500, 10074, "replicas > 1 not supported in non-clustered mode"),
        (r#"{"name":"X","num_replicas":-1}"#.into(), 400, 10133, "replicas count cannot be negative"),
        (r#"{"name":"X","num_replicas":6}"#.into(), 500, 10052, "maximum replicas is 5"),
        (r#"{"name":"X","sealed":true}"#.into(), 500, 10052, "stream configuration for create can not be sealed"),
        (
            r#"{"name":"X","discard_new_per_subject":true}"#.into(),
            500,
            10052,
            "discard new per subject requires discard new policy to be set",
        ),
        (
            r#"{"name":"X","discard_new_per_subject":true,"discard":"new"}"#.into(),
            500,
            10052,
            "discard new per subject requires max msgs per subject > 0",
        ),
        (
            r#"{"name":"X","deny_purge":true,"allow_rollup_hdrs":true}"#.into(),
            500,
            10052,
            "roll-ups require the purge permission",
        ),
        (
            r#"{"name":"X","subject_delete_marker_ttl":1000,"allow_msg_ttl":true}"#.into(),
            500,
            10052,
            "subject delete marker TTL must be at least 1 second",
        ),
        (
            r#"{"name":"X","subject_delete_marker_ttl":-1}"#.into(),
            500,
            10052,
            "subject delete marker TTL must not be negative",
        ),
        (r#"{"name":"X","subjects":["a.."]}"#.into(), 500, 10052, "invalid subject"),
        (r#"{"name":"X","subjects":[""]}"#.into(), 500, 10052, "invalid subject"),
        (r#"{"name":"X","subjects":["a b"]}"#.into(), 500, 10052, "invalid subject"),
        (r#"{"name":"X","subjects":["a.>.b"]}"#.into(), 500, 10052, "invalid subject"),
        (r#"{"name":"X","subjects":["b","b"]}"#.into(), 500, 10052, r#"subject "b" overlaps with "b""#),
        (r#"{"name":"X","subjects":["b.*","b.c"]}"#.into(), 500, 10052, r#"subject "b.*" overlaps with "b.c""#),
        (
            r#"{"name":"X","subjects":[">"]}"#.into(),
            500,
            10052,
            "capturing all subjects requires no-ack to be true",
        ),
        (
            r#"{"name":"X","subjects":["$JS.API.>"]}"#.into(),
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            r#"{"name":"X","subjects":["$NRG.x"]}"#.into(),
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            r#"{"name":"X","subjects":["*.API.x"]}"#.into(),
            500,
            10052,
            "subjects that overlap with jetstream api require no-ack to be true",
        ),
        (
            r#"{"name":"X","subjects":["$SYS.x"]}"#.into(),
            500,
            10052,
            "subjects that overlap with system api require no-ack to be true",
        ),
        (r#"{"name":"X","mirror":{"name":"S"},"subjects":["q"]}"#.into(), 400, 10034, "stream mirrors can not contain subjects"),
        (
            r#"{"name":"X","mirror":{"name":"S"},"sources":[{"name":"S"}]}"#.into(),
            400,
            10031,
            "stream mirrors can not also contain other sources",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S"},"first_seq":5}"#.into(),
            400,
            10143,
            "stream mirrors can not have first sequence configured",
        ),
        (r#"{"name":"X","mirror":{"name":"S.x"}}"#.into(), 400, 10142, "mirrored stream name is invalid"),
        (
            r#"{"name":"X","mirror":{"name":"S"},"allow_atomic":true}"#.into(),
            400,
            10198,
            "stream mirrors can not also use atomic publishing",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S"},"allow_msg_counter":true}"#.into(),
            400,
            10173,
            "stream mirrors can not also calculate counters",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S"},"allow_msg_schedules":true}"#.into(),
            400,
            10186,
            "stream mirrors can not also schedule messages",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S"},"allow_batched":true}"#.into(),
            400,
            10209,
            "stream mirrors can not also use batch publishing",
        ),
        (
            r#"{"name":"X","subject_delete_marker_ttl":1000000000,"mirror":{"name":"S"}}"#.into(),
            500,
            10052,
            "subject delete markers forbidden on mirrors",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S"}],"allow_msg_schedules":true}"#.into(),
            400,
            10187,
            "stream source can not also schedule messages",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S"},{"name":"S"}]}"#.into(),
            400,
            10140,
            "duplicate source configuration detected",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","subject_transforms":[{"src":"a.*","dest":"b.>"}]}]}"#.into(),
            400,
            10146,
            "source transform: invalid subject",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","external":{"api":"$JS.API","deliver":"x"}}]}"#.into(),
            400,
            10021,
            "stream external api prefix $JS.API must not overlap with $JS.API",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","external":{"api":"a.*","deliver":"x"}}]}"#.into(),
            500,
            10052,
            r#"stream external api prefix "a.*" must be a valid subject without wildcards"#,
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","external":{"api":"a","deliver":"x.*"}}]}"#.into(),
            400,
            10024,
            "stream external delivery prefix x.* must not contain wildcards",
        ),
        (
            r#"{"name":"X","allow_msg_counter":true,"allow_msg_ttl":true}"#.into(),
            500,
            10052,
            "counter stream cannot use message TTLs",
        ),
        (
            r#"{"name":"X","allow_msg_counter":true,"discard":"new"}"#.into(),
            500,
            10052,
            "counter stream cannot use discard new",
        ),
        (
            r#"{"name":"X","allow_msg_counter":true,"retention":"workqueue"}"#.into(),
            500,
            10052,
            "counter stream can only use limits retention",
        ),
        (
            r#"{"name":"X","persist_mode":"async","storage":"memory"}"#.into(),
            500,
            10052,
            "async persist mode is only supported on file storage",
        ),
        (
            r#"{"name":"X","persist_mode":"async","allow_atomic":true}"#.into(),
            500,
            10052,
            "async persist mode is not supported with atomic batch publish",
        ),
        (format!(r#"{{"name":"X","description":"{long_desc}"}}"#), 500, 10052, "stream description is too long, maximum allowed is 4096"),
        (
            format!(r#"{{"name":"X","metadata":{{"k":"{big_meta}"}}}}"#),
            500,
            10052,
            "stream metadata exceeds maximum size of 131072 bytes",
        ),
        (r#"{"name":"X","placement":{"preferred":"x"}}"#.into(), 500, 10052, "preferred server not permitted in placement"),
        (
            r#"{"name":"X","republish":{"src":">","dest":"X"}}"#.into(),
            500,
            10052,
            "stream configuration for republish destination forms a cycle",
        ),
        (
            r#"{"name":"X","republish":{"src":"bad..","dest":"rp"}}"#.into(),
            500,
            10052,
            "stream configuration for republish with transform from 'bad..' to 'rp' not valid",
        ),
        (
            r#"{"name":"X","republish":{"src":">","dest":"a"}}"#.into(),
            500,
            10052,
            "stream configuration for republish with transform from '>' to 'a' not valid",
        ),
        (
            r#"{"name":"X","subject_transform":{"src":"bad..","dest":"rp"}}"#.into(),
            400,
            10155,
            "stream transform source: invalid subject bad..",
        ),
        (
            r#"{"name":"X","subjects":["x.>"],"subject_transform":{"src":"x.>","dest":"y.*.bad"}}"#.into(),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.{{wildcard(2)}}"}}"#.into(),
            400,
            10156,
            "stream transform: invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]",
        ),
        (
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.{{bogus(1)}}"}}"#.into(),
            400,
            10156,
            "stream transform: invalid mapping destination: unknown function in {{bogus(1)}}",
        ),
        (
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"","dest":"z"}}"#.into(),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.*"}}"#.into(),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.>"}}"#.into(),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            r#"{"name":"X","subjects":["x.>"],"subject_transform":{"src":"x.>","dest":"y"}}"#.into(),
            400,
            10156,
            "stream transform: invalid subject",
        ),
        (
            r#"{"name":"X","subjects":["x.*.*"],"republish":{"src":"x.*.*","dest":"r.*.*"}}"#.into(),
            500,
            10052,
            "stream configuration for republish with transform from 'x.*.*' to 'r.*.*' not valid",
        ),
        (
            r#"{"name":"X","republish":{"dest":"rp"}}"#.into(),
            500,
            10052,
            "stream configuration for republish with transform from '>' to 'rp' not valid",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","filter_subject":"a","subject_transforms":[{"src":"a","dest":"b"}]}]}"#.into(),
            400,
            10144,
            "source with multiple subject transforms cannot also have a single subject filter",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","consumer":{"name":"c.d","deliver_subject":"d"}}}"#.into(),
            400,
            10213,
            "stream mirror consumer config is invalid",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","consumer":{"name":"c","deliver_subject":"d.*"}}}"#.into(),
            400,
            10213,
            "stream mirror consumer config is invalid",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","opt_start_seq":2,"consumer":{"name":"c","deliver_subject":"d"}}}"#.into(),
            400,
            10213,
            "stream mirror consumer config is invalid",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","consumer":{"name":"c","deliver_subject":"d"}},{"name":"S","filter_subject":"q","consumer":{"name":"c","deliver_subject":"e"}}]}"#.into(),
            400,
            10215,
            "stream source consumer config is invalid",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","consumer":{"name":"c","deliver_subject":"d"}},{"name":"S","subject_transforms":[{"src":"q","dest":"r"}],"consumer":{"name":"c","deliver_subject":"e"}}]}"#.into(),
            400,
            10216,
            "duplicate stream source consumer detected",
        ),
        (
            r#"{"name":"X","sources":[{"name":"S","subject_transforms":[{"src":"a.*","dest":"b.{{wildcard(1)}}"},{"src":"a.b","dest":"c"}]}]}"#.into(),
            400,
            10147,
            "source filters can not overlap",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","subject_transforms":[{"src":"a.*","dest":"b.{{wildcard(1)}}"},{"src":"a.b","dest":"c"}]}}"#.into(),
            400,
            10152,
            "mirror subject filters can not overlap",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","subject_transforms":[{"src":"a..","dest":"b"}]}}"#.into(),
            400,
            10151,
            "mirror transform source: invalid subject a..",
        ),
        (
            r#"{"name":"X","mirror":{"name":"S","filter_subject":"a","subject_transforms":[{"src":"a","dest":"b"}]}}"#.into(),
            400,
            10150,
            "mirror with multiple subject transforms cannot also have a single subject filter",
        ),
        (
            r#"{"name":"a*"}"#.into(),
            500,
            10052,
            r"stream name is required and can not contain '.', '*', '>', '\', '/'",
        ),
        (
            "{}".into(),
            500,
            10052,
            r"stream name is required and can not contain '.', '*', '>', '\', '/'",
        ),
        (r#"{"name":"a/b"}"#.into(), 400, 10128, "Stream name can not contain path separators"),
        (r#"{"name":"a\\b"}"#.into(), 400, 10128, "Stream name can not contain path separators"),
        (format!(r#"{{"name":"{long_name}"}}"#), 500, 10052, "stream name is too long, maximum allowed is 255"),
        // Precedence.
        (r#"{"name":"X","num_replicas":3,"max_age":-1}"#.into(), 500, 10052, "max age can not be negative"),
        (r#"{"name":"X","sealed":true,"max_age":-1}"#.into(), 500, 10052, "stream configuration for create can not be sealed"),
        (r#"{"name":"a/b","sealed":true}"#.into(), 400, 10128, "Stream name can not contain path separators"),
        // Pedantic mode refuses the corrections.
        (r#"{"name":"X","pedantic":true,"max_msgs":-5}"#.into(), 400, 10157, "pedantic mode: max_msgs must be set to -1"),
        (
            r#"{"name":"X","pedantic":true,"max_age":1000000000}"#.into(),
            400,
            10157,
            "pedantic mode: duplicate window cannot be bigger than max age",
        ),
        (
            r#"{"name":"X","pedantic":true,"subject_delete_marker_ttl":1000000000}"#.into(),
            500,
            10052,
            "subject delete marker cannot be set if message TTLs are disabled",
        ),
        (
            r#"{"name":"X","pedantic":true,"republish":{"dest":"rp"}}"#.into(),
            400,
            10157,
            "pedantic mode: republish source can not be empty",
        ),
        (
            r#"{"name":"X","pedantic":true,"allow_msg_schedules":true}"#.into(),
            500,
            10052,
            "message scheduling cannot be set if roll-ups are disabled",
        ),
    ];
    for (json, code, err_code, text) in &cases {
        assert_eq!(
            create_err(json),
            (*code, *err_code, text.to_string()),
            "{json}"
        );
    }
}

#[test]
fn create_accepts_and_corrects() {
    let c = created(r#"{"name":"X","subject_delete_marker_ttl":1000000000,"deny_purge":true}"#);
    assert!(c.allow_msg_ttl && c.allow_rollup_hdrs && !c.deny_purge);
    let c = created(r#"{"name":"X","allow_msg_schedules":true}"#);
    assert!(c.allow_rollup_hdrs);
    let c = created(
        r#"{"name":"X","max_msgs":-5,"max_bytes":-5,"max_consumers":-5,"max_msgs_per_subject":-5,"max_msg_size":-5}"#,
    );
    assert_eq!(
        (
            c.max_msgs,
            c.max_bytes,
            c.max_consumers,
            c.max_msgs_per_subject,
            c.max_msg_size
        ),
        (-1, -1, -1, -1, -1)
    );
    assert_eq!(
        created(r#"{"name":"X","max_age":30000000000}"#).duplicate_window,
        30_000_000_000
    );
    let m = created(r#"{"name":"X","mirror":{"name":"S"}}"#);
    assert_eq!((m.duplicate_window, m.subjects.len()), (0, 0));
    let s = created(r#"{"name":"X","sources":[{"name":"S"}]}"#);
    assert_eq!((s.duplicate_window, s.subjects.len()), (0, 0));
    assert_eq!(created(r#"{"name":"X","placement":{}}"#).placement, None);
    let kept = created(r#"{"name":"X","placement":{"tags":[]}}"#);
    assert_eq!(serde_json::to_string(&kept.placement).unwrap(), "{}");
    assert_eq!(created(r#"{"name":"X"}"#).subjects, vec!["X".to_string()]);
    let c = created(r#"{"name":"X","pedantic":true}"#);
    assert!(!c.pedantic, "pedantic is request-only");
    for ok in [
        r#"{"name":"X","subjects":["$JS.EVENT.x"]}"#,
        r#"{"name":"X","subjects":["$SYS.ACCOUNT.x"]}"#,
        r#"{"name":"X","subjects":["a*b"]}"#,
        r#"{"name":"X","subjects":[">"],"no_ack":true}"#,
        r#"{"name":"X","allow_msg_schedules":true,"discard":"new"}"#,
        r#"{"name":"X","allow_msg_counter":true,"allow_msg_schedules":true}"#,
        r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.{{wildcard(1)}}"}}"#,
        r#"{"name":"X","subjects":["x.>"],"subject_transform":{"src":"x.>","dest":"y.>"}}"#,
        r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":""}}"#,
        r#"{"name":"X","mirror":{"name":"S","consumer":{"name":"c","deliver_subject":"d"}}}"#,
        r#"{"name":"X","sources":[{"name":"S","consumer":{"name":"c","deliver_subject":"d"}}]}"#,
        r#"{"name":"X","persist_mode":"async"}"#,
        r#"{"name":"X","allow_msg_counter":true}"#,
        r#"{"name":"X","republish":{"src":"X","dest":"rp.x"}}"#,
        r#"{"name":"X","republish":{"src":"X","dest":""}}"#,
        r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.{{partition(3,1)}}"}}"#,
        r#"{"name":"X","subjects":["x.*"],"subject_transform":{"src":"x.*","dest":"y.{{Wildcard(1)}}"}}"#,
        r#"{"name":"X","sources":[{"name":"S","opt_start_time":"2020-01-01T02:00:00.5+02:00"}]}"#,
    ] {
        created(ok);
    }
    created(&format!(r#"{{"name":"{}"}}"#, "n".repeat(255)));
}

#[test]
fn validate_is_idempotent_and_atomic() {
    let mut c = created(r#"{"name":"X","max_age":500000000,"republish":{"src":"X","dest":"rp"}}"#);
    let before = c.clone();
    c.validate().unwrap();
    assert_eq!(c, before);
    let mut bad = cfg(r#"{"name":"X","max_age":-1,"max_msgs":0}"#);
    let untouched = bad.clone();
    assert!(bad.validate().is_err());
    assert_eq!(
        bad, untouched,
        "a failed validate leaves the config as it was"
    );
}

const UPDATE_BASE: &str = r#"{"name":"F","subjects":["f.>"],"deny_delete":true,"deny_purge":true,"max_msgs_per_subject":3,"discard":"new","discard_new_per_subject":true}"#;

/// `base` with the fields of `change` replaced.
fn merged(base: &str, change: &str) -> String {
    let mut v: serde_json::Value = serde_json::from_str(base).unwrap();
    let c: serde_json::Value = serde_json::from_str(change).unwrap();
    for (k, val) in c.as_object().unwrap() {
        v[k] = val.clone();
    }
    v.to_string()
}

fn update(base: &str, change: &str) -> Result<StreamConfig, (u16, u16, String)> {
    let old = created(base);
    let mut new = cfg(&merged(base, change));
    StreamConfig::check_update(&old, &mut new)
        .map(|()| new)
        .map_err(|e| (e.code, e.err_code, e.description))
}

#[test]
fn update_refusals() {
    let ttl = r#"{"name":"F","subjects":["f.>"],"allow_msg_ttl":true}"#;
    let counter = r#"{"name":"F","subjects":["f.>"],"allow_msg_counter":true}"#;
    let schedules = r#"{"name":"F","subjects":["f.>"],"allow_msg_schedules":true}"#;
    let asynchronous = r#"{"name":"F","subjects":["f.>"],"persist_mode":"async"}"#;
    let mirror = r#"{"name":"F","mirror":{"name":"S"}}"#;
    let cases: &[(&str, &str, u16, u16, &str)] = &[
        (
            UPDATE_BASE,
            r#"{"storage":"memory"}"#,
            500,
            10052,
            "stream configuration update can not change storage type",
        ),
        (
            UPDATE_BASE,
            r#"{"retention":"workqueue"}"#,
            500,
            10052,
            "stream configuration update can not change retention policy to/from workqueue",
        ),
        (
            UPDATE_BASE,
            r#"{"deny_delete":false}"#,
            500,
            10052,
            "stream configuration update can not cancel deny message deletes",
        ),
        (
            UPDATE_BASE,
            r#"{"deny_purge":false}"#,
            500,
            10052,
            "stream configuration update can not cancel deny purge",
        ),
        (
            UPDATE_BASE,
            r#"{"mirror":{"name":"S"},"subjects":[]}"#,
            400,
            10055,
            "stream mirror configuration can not be updated",
        ),
        (
            UPDATE_BASE,
            r#"{"allow_msg_counter":true,"discard":"old","discard_new_per_subject":false}"#,
            500,
            10052,
            "stream configuration update can not change message counter setting",
        ),
        (
            UPDATE_BASE,
            r#"{"persist_mode":"async"}"#,
            500,
            10052,
            "stream configuration update can not change persist mode",
        ),
        // Markers and schedules turn deny_purge off, which an update may not.
        (
            UPDATE_BASE,
            r#"{"subject_delete_marker_ttl":2000000000}"#,
            500,
            10052,
            "stream configuration update can not cancel deny purge",
        ),
        (
            UPDATE_BASE,
            r#"{"allow_msg_schedules":true}"#,
            500,
            10052,
            "stream configuration update can not cancel deny purge",
        ),
        (
            UPDATE_BASE,
            r#"{"discard":"old"}"#,
            500,
            10052,
            "discard new per subject requires discard new policy to be set",
        ),
        (
            ttl,
            r#"{"allow_msg_ttl":false}"#,
            500,
            10052,
            "message TTL status can not be disabled",
        ),
        (
            ttl,
            r#"{"allow_msg_counter":true}"#,
            500,
            10052,
            "counter stream cannot use message TTLs",
        ),
        (
            counter,
            r#"{"allow_msg_counter":false}"#,
            500,
            10052,
            "stream configuration update can not change message counter setting",
        ),
        (
            schedules,
            r#"{"allow_msg_schedules":false}"#,
            500,
            10052,
            "message schedules can not be disabled",
        ),
        (
            asynchronous,
            r#"{"persist_mode":"default"}"#,
            500,
            10052,
            "stream configuration update can not change persist mode",
        ),
        (
            mirror,
            r#"{"mirror":{"name":"S","filter_subject":"a"}}"#,
            400,
            10055,
            "stream mirror configuration can not be updated",
        ),
        (
            mirror,
            r#"{"subjects":["q"]}"#,
            400,
            10034,
            "stream mirrors can not contain subjects",
        ),
        (
            UPDATE_BASE,
            r#"{"name":""}"#,
            500,
            10052,
            r"stream name is required and can not contain '.', '*', '>', '\', '/'",
        ),
    ];
    for (base, change, code, err_code, text) in cases {
        assert_eq!(
            update(base, change).map(|_| ()),
            Err((*code, *err_code, text.to_string())),
            "{base} + {change}"
        );
    }
    let old = update(UPDATE_BASE, r#"{"sealed":true}"#).unwrap();
    let mut unseal = StreamConfig {
        sealed: false,
        ..old.clone()
    };
    assert_eq!(
        StreamConfig::check_update(&old, &mut unseal)
            .unwrap_err()
            .description,
        "stream configuration update can not unseal a sealed stream"
    );
}

#[test]
fn update_accepts() {
    let c = update(UPDATE_BASE, r#"{"max_consumers":7}"#).unwrap();
    assert_eq!(c.max_consumers, 7);
    assert!(
        update(UPDATE_BASE, r#"{"allow_msg_ttl":true}"#)
            .unwrap()
            .allow_msg_ttl
    );
    assert_eq!(
        update(UPDATE_BASE, r#"{"first_seq":3}"#).unwrap().first_seq,
        3
    );
    assert_eq!(
        update(UPDATE_BASE, r#"{"num_replicas":3}"#)
            .unwrap()
            .num_replicas,
        3
    );
    assert_eq!(
        update(UPDATE_BASE, r#"{"compression":"s2"}"#)
            .unwrap()
            .compression,
        Compression::S2
    );
    assert!(
        update(UPDATE_BASE, r#"{"allow_atomic":true}"#)
            .unwrap()
            .allow_atomic
    );
    assert_eq!(
        update(UPDATE_BASE, r#"{"subjects":["g"]}"#)
            .unwrap()
            .subjects,
        vec!["g"]
    );
    let c = update(UPDATE_BASE, r#"{"max_age":500000000}"#).unwrap();
    assert_eq!((c.max_age, c.duplicate_window), (500_000_000, 500_000_000));
    // Sealing forces its limits.
    let s = update(
        r#"{"name":"F","subjects":["f.>"],"max_age":10000000000,"allow_rollup_hdrs":true}"#,
        r#"{"sealed":true}"#,
    )
    .unwrap();
    assert_eq!(
        (
            s.max_age,
            s.discard,
            s.deny_delete,
            s.deny_purge,
            s.allow_rollup_hdrs
        ),
        (0, DiscardPolicy::New, true, true, false)
    );
    // Schedules keep rollups on even when the update asks otherwise.
    let c = update(
        r#"{"name":"F","subjects":["f.>"],"allow_msg_schedules":true}"#,
        r#"{"allow_rollup_hdrs":false}"#,
    )
    .unwrap();
    assert!(c.allow_rollup_hdrs);
    // Dropping the mirror promotes the stream.
    let c = update(
        r#"{"name":"F","mirror":{"name":"S"}}"#,
        r#"{"mirror":null}"#,
    )
    .unwrap();
    assert_eq!((c.mirror, c.subjects), (None, vec!["F".to_string()]));
}

#[test]
fn subject_relations() {
    let collide: &[(&str, &str, bool)] = &[
        ("a", "a", true),
        ("a", "b", false),
        ("a.*", "a.b", true),
        ("a.>", "a", false),
        ("a.>", "*.b.c", true),
        ("*.API.x", "$JS.>", true),
        ("a.*", "a", false),
        (">", "x.y", true),
    ];
    for (a, b, want) in collide {
        assert_eq!(subjects_collide(a, b), *want, "{a} ~ {b}");
        assert_eq!(subjects_collide(b, a), *want, "{b} ~ {a}");
    }
    let subset: &[(&str, &str, bool)] = &[
        ("$JS.EVENT.x", "$JS.EVENT.>", true),
        ("$JS.>", "$JS.EVENT.>", false),
        ("a.b", "a.*", true),
        ("a.*", "a.b", false),
        ("a.*", "a.*", true),
        ("a.>", "a.*", false),
        ("a.b.c", "a.>", true),
    ];
    for (s, t, want) in subset {
        assert_eq!(is_subset_match(s, t), *want, "{s} in {t}");
    }
}

#[test]
fn required_levels_and_metadata() {
    let level = |json: &str| created(json).required_api_level();
    assert_eq!(level(r#"{"name":"X"}"#), 0);
    assert_eq!(level(r#"{"name":"X","allow_msg_ttl":true}"#), 1);
    assert_eq!(
        level(r#"{"name":"X","subject_delete_marker_ttl":1000000000}"#),
        1
    );
    assert_eq!(level(r#"{"name":"X","allow_msg_schedules":true}"#), 2);
    assert_eq!(level(r#"{"name":"X","allow_msg_counter":true}"#), 2);
    assert_eq!(level(r#"{"name":"X","persist_mode":"async"}"#), 2);
    assert_eq!(
        level(r#"{"name":"X","allow_batched":true,"persist_mode":"async"}"#),
        4
    );
    // User keys stay, server keys are the server's.
    let mut c = created(r#"{"name":"X","metadata":{"_nats.foo":"x","_nats.level":"9","a":"b"}}"#);
    c.set_static_metadata();
    let shown = c.with_dynamic_metadata("2.14.0");
    let keys: Vec<(&str, &str)> = shown
        .metadata
        .iter()
        .map(|(k, v)| (k.as_str(), v.as_str()))
        .collect();
    assert_eq!(
        keys,
        [
            ("_nats.foo", "x"),
            ("_nats.level", "4"),
            ("_nats.req.level", "0"),
            ("_nats.ver", "2.14.0"),
            ("a", "b")
        ]
    );
}
