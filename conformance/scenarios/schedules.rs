//! Message schedules (ADR-51), compared with the reference: a stream with
//! `allow_msg_schedules` (its rollups turned on), an `@at` schedule in
//! the past firing at once onto its target with the reference's headers
//! (the schedule's own `Nats-*` ones dropped, `Nats-Scheduler` and
//! `Nats-Schedule-Next: purge` added) and the schedule message purged,
//! a schedule taking its body from a source subject, and every refusal.

use std::time::{Duration, Instant};

use serde_json::Value;

use super::jetstream::{api, create, js_client, parse_reply, publish, publish_bytes, run_js};
use crate::transcript::split_frames;
use crate::wire::Conn;

/// Waits (unrecorded) until `subject` has a message in `stream`.
fn wait_for_subject(c: &mut Conn, stream: &str, subject: &str) {
    let start = Instant::now();
    let req = format!(r#"{{"last_by_subj":"{subject}"}}"#);
    loop {
        let got = c.poll_unlogged(
            &publish_bytes(
                &format!("$JS.API.STREAM.MSG.GET.{stream}"),
                &[],
                req.as_bytes(),
            ),
            1,
        );
        let found = split_frames(&got)
            .into_iter()
            .find_map(parse_reply)
            .and_then(|r| serde_json::from_slice::<Value>(&r.payload).ok())
            .is_some_and(|v| v.get("message").is_some());
        if found {
            return;
        }
        if start.elapsed() > Duration::from_secs(10) {
            c.check(false, format!("nothing arrived on {subject}"));
            return;
        }
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn js_message_schedules() {
    run_js("js_message_schedules", |s| {
        let mut c = js_client(s, "c");
        create(
            &mut c,
            "S",
            r#"{"name":"S","subjects":["sched.>","target.>","src.>"],"allow_msg_schedules":true,"allow_msg_ttl":true}"#,
        );
        create(&mut c, "P", r#"{"name":"P","subjects":["p.>"]}"#);
        let at = ("Nats-Schedule", "@at 1970-01-01T00:00:00Z");
        // Fires at once: its copy on the target, the schedule gone.
        publish(
            &mut c,
            "sched.a",
            &[
                at,
                ("Nats-Schedule-Target", "target.a"),
                ("Nats-Schedule-TTL", "5s"),
                ("Nats-Msg-Id", "m1"),
                ("Custom", "kept"),
            ],
            b"body",
        );
        wait_for_subject(&mut c, "S", "target.a");
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.S",
            r#"{"last_by_subj":"target.a"}"#,
        );
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.S",
            r#"{"last_by_subj":"sched.a"}"#,
        );
        // The body and headers from a source subject's last message.
        publish(&mut c, "src.x", &[("From", "source")], b"from the source");
        publish(
            &mut c,
            "sched.b",
            &[
                at,
                ("Nats-Schedule-Target", "target.b"),
                ("Nats-Schedule-Source", "src.x"),
            ],
            b"ignored",
        );
        wait_for_subject(&mut c, "S", "target.b");
        api(
            &mut c,
            "$JS.API.STREAM.MSG.GET.S",
            r#"{"last_by_subj":"target.b"}"#,
        );
        api(&mut c, "$JS.API.STREAM.INFO.S", "");
        // Refusals.
        let target = ("Nats-Schedule-Target", "target.z");
        let cases: &[(&str, &[(&str, &str)])] = &[
            ("p.1", &[at, ("Nats-Schedule-Target", "p.2")]),
            ("sched.z", &[("Nats-Schedule", "@every 500ms"), target]),
            ("sched.z", &[("Nats-Schedule", "* * * * *"), target]),
            ("sched.z", &[("Nats-Schedule", "@at soon"), target]),
            ("sched.z", &[at]),
            ("sched.z", &[at, ("Nats-Schedule-Target", "sched.z")]),
            ("sched.z", &[at, ("Nats-Schedule-Target", "elsewhere")]),
            ("sched.z", &[at, ("Nats-Schedule-Target", "target.*")]),
            (
                "sched.z",
                &[at, target, ("Nats-Schedule-Source", "target.z")],
            ),
            (
                "sched.z",
                &[at, target, ("Nats-Schedule-Source", "nowhere")],
            ),
            ("sched.z", &[at, target, ("Nats-Schedule-TTL", "1ms")]),
            ("sched.z", &[at, target, ("Nats-Schedule-Rollup", "all")]),
            ("sched.z", &[at, target, ("Nats-Rollup", "all")]),
            (
                "sched.z",
                &[at, target, ("Nats-Schedule-Time-Zone", "Nowhere/Land")],
            ),
            (
                "sched.z",
                &[
                    ("Nats-Schedule", "0 0 9 * * *"),
                    target,
                    ("Nats-Schedule-Time-Zone", ""),
                ],
            ),
            (
                "sched.z",
                &[
                    ("Nats-Schedule", "@every 1s"),
                    target,
                    ("Nats-Schedule-Time-Zone", "UTC"),
                ],
            ),
            ("target.q", &[("Nats-Scheduler", "sched.q")]),
            (
                "target.q",
                &[
                    ("Nats-Schedule-Next", "soon"),
                    ("Nats-Scheduler", "sched.q"),
                ],
            ),
            ("target.q", &[("Nats-Schedule-Next", "purge")]),
            (
                "p.1",
                &[("Nats-Schedule-Next", "purge"), ("Nats-Scheduler", "p.2")],
            ),
        ];
        for (subject, headers) in cases {
            publish(&mut c, subject, headers, b"");
        }
        // A cron schedule far ahead is accepted and waits; a plain
        // message on its subject cancels it.
        publish(
            &mut c,
            "sched.c",
            &[
                ("Nats-Schedule", "0 0 0 1 1 *"),
                ("Nats-Schedule-Target", "target.c"),
                ("Nats-Schedule-Time-Zone", "Europe/Amsterdam"),
            ],
            b"",
        );
        publish(&mut c, "sched.c", &[], b"plain");
        // Turning schedules off is refused.
        api(
            &mut c,
            "$JS.API.STREAM.UPDATE.S",
            r#"{"name":"S","subjects":["sched.>","target.>","src.>"],"allow_msg_ttl":true}"#,
        );
    });
}
