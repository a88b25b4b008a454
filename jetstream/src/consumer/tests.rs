//! The state machine on a memory store with explicit times.

use bytes::Bytes;

use super::ack::{parse_ack_subject, AckKind};
use super::*;
use crate::api::consumer::ReplayPolicy;
use crate::store::MemStore;

const MS: i64 = 1_000_000;

fn store_with(times: &[i64]) -> MemStore {
    let mut s = MemStore::new();
    for (i, &t) in times.iter().enumerate() {
        s.append("s.a", None, Bytes::from(format!("m{i}")), t)
            .expect("append");
    }
    s
}

fn pull_consumer(store: &MemStore, tweak: impl FnOnce(&mut ConsumerConfig)) -> Consumer {
    let mut config = ConsumerConfig {
        durable_name: "D".into(),
        ack_policy: AckPolicy::Explicit,
        ack_wait: 1000 * MS,
        max_deliver: -1,
        max_waiting: 512,
        ..ConsumerConfig::default()
    };
    tweak(&mut config);
    Consumer::new("S", "D", config, 0, store, false).expect("consumer")
}

fn payloads(out: &[OutMsg]) -> Vec<String> {
    out.iter()
        .filter(|m| m.reply.is_some())
        .map(|m| String::from_utf8_lossy(&m.payload).into_owned())
        .collect()
}

#[test]
fn replay_original_spaces_deliveries_as_stored() {
    let store = store_with(&[0, 100 * MS, 250 * MS]);
    let mut c = pull_consumer(&store, |c| c.replay_policy = ReplayPolicy::Original);
    let t0 = 1_000_000 * MS;
    let mut out = Vec::new();
    c.on_pull(b"3", "_INBOX.r", &store, t0, &mut out);
    assert_eq!(payloads(&out), vec!["m0"]);
    assert_eq!(c.next_deadline(), Some(t0 + 100 * MS));
    out.clear();
    c.deliver(&store, t0 + 99 * MS, &mut out).expect("deliver");
    assert!(payloads(&out).is_empty(), "too early");
    c.tick(t0 + 100 * MS, &mut out);
    c.deliver(&store, t0 + 100 * MS, &mut out).expect("deliver");
    assert_eq!(payloads(&out), vec!["m1"]);
    out.clear();
    c.tick(t0 + 250 * MS, &mut out);
    c.deliver(&store, t0 + 250 * MS, &mut out).expect("deliver");
    assert_eq!(payloads(&out), vec!["m2"]);
}

#[test]
fn ack_wait_expiry_redelivers_with_a_higher_count() {
    let store = store_with(&[0, 0]);
    let mut c = pull_consumer(&store, |_| {});
    let mut out = Vec::new();
    c.on_pull(b"2", "_INBOX.r", &store, 0, &mut out);
    assert_eq!(payloads(&out), vec!["m0", "m1"]);
    let first = out[0].reply.clone().expect("ack subject");
    let target = parse_ack_subject(&first).expect("ack subject");
    let outcome = c.on_ack(&target, AckKind::Ack, 10 * MS);
    assert!(outcome.reply);
    assert_eq!(outcome.released, vec![1]);
    out.clear();
    assert_eq!(c.next_deadline(), Some(1000 * MS));
    c.tick(1000 * MS, &mut out);
    c.on_pull(b"1", "_INBOX.r", &store, 1000 * MS, &mut out);
    assert_eq!(payloads(&out), vec!["m1"]);
    let again = out.iter().find_map(|m| m.reply.clone()).expect("reply");
    assert!(again.starts_with("$JS.ACK.S.D.2.2.3."), "{again}");
    let counts = c.counts(&store).expect("counts");
    assert_eq!((counts.num_ack_pending, counts.num_redelivered), (1, 1));
    assert_eq!(counts.ack_floor.stream_seq, 1);
}

#[test]
fn never_delivered_acks_get_no_reply() {
    let store = store_with(&[0, 0]);
    let mut c = pull_consumer(&store, |_| {});
    let target = parse_ack_subject("$JS.ACK.S.D.1.2.2.0.0").expect("subject");
    assert!(!c.on_ack(&target, AckKind::Ack, 0).reply);
}

#[test]
fn rate_limit_paces_push_deliveries() {
    struct Listening;
    impl crate::outbox::Outbox for Listening {
        fn publish(&self, _: &str, _: Option<&[u8]>, _: &[u8]) {}
        fn publish_with_reply(&self, _: &str, _: &str, _: Option<&[u8]>, _: &[u8]) {}
    }
    let store = store_with(&[0, 0, 0]);
    let mut c = pull_consumer(&store, |c| {
        c.deliver_subject = "push.d".into();
        c.max_waiting = 0;
        // 8,000 bits/s: 1,000 bytes a second.
        c.rate_limit = 8_000;
    });
    let mut out = Vec::new();
    c.refresh_activity(&Listening, 0);
    c.deliver(&store, 0, &mut out).expect("deliver");
    assert_eq!(payloads(&out), vec!["m0"]);
    let size = (out[0].subject.len() + out[0].reply.as_ref().map_or(0, String::len) + 2) as i64;
    let next = c.next_deadline().expect("held");
    assert_eq!(next, size * MS);
    out.clear();
    c.deliver(&store, next - 1, &mut out).expect("deliver");
    assert!(payloads(&out).is_empty());
    c.tick(next, &mut out);
    c.deliver(&store, next, &mut out).expect("deliver");
    assert_eq!(payloads(&out), vec!["m1"]);
}

#[test]
fn last_per_subject_delivers_each_subjects_last_then_new_ones() {
    let mut store = MemStore::new();
    for (subject, t) in [("k.a", 1), ("k.b", 2), ("k.a", 3), ("k.c", 4), ("k.b", 5)] {
        store
            .append(subject, None, Bytes::from(format!("{subject}@{t}")), t)
            .expect("append");
    }
    let mut c = pull_consumer(&store, |c| {
        c.deliver_policy = DeliverPolicy::LastPerSubject;
        c.filter_subject = "k.*".into();
    });
    assert_eq!(c.counts(&store).expect("counts").num_pending, 3);
    let mut out = Vec::new();
    c.on_pull(b"10", "_INBOX.r", &store, 0, &mut out);
    assert_eq!(payloads(&out), vec!["k.a@3", "k.c@4", "k.b@5"]);
    let pending: Vec<&str> = out
        .iter()
        .filter_map(|m| m.reply.as_deref())
        .map(|r| r.rsplit('.').next().unwrap_or(""))
        .collect();
    assert_eq!(pending, vec!["2", "1", "0"]);
    store
        .append("k.a", None, Bytes::from("new"), 6)
        .expect("append");
    c.on_stored(6, "k.a");
    out.clear();
    c.deliver(&store, 0, &mut out).expect("deliver");
    assert_eq!(payloads(&out), vec!["new"]);
}

#[test]
fn read_ahead_holds_about_a_mebibyte_of_large_messages() {
    const CHUNK: usize = 128 * 1024;
    let mut store = MemStore::new();
    for i in 0..40u8 {
        store
            .append("s.big", None, Bytes::from(vec![i; CHUNK]), 0)
            .expect("append");
    }
    for i in 0..300 {
        store
            .append("s.small", None, Bytes::from(format!("m{i}")), 0)
            .expect("append");
    }
    let mut c = pull_consumer(&store, |c| c.ack_policy = AckPolicy::None);
    let ahead_bytes = |c: &Consumer| c.ahead.iter().map(|m| m.payload.len()).sum::<usize>();
    let mut delivered = Vec::new();
    for i in 0..340 {
        let mut out = Vec::new();
        c.on_pull(b"1", "_INBOX.r", &store, 0, &mut out);
        let got: Vec<OutMsg> = out.into_iter().filter(|m| m.reply.is_some()).collect();
        assert_eq!(got.len(), 1, "pull {i}");
        delivered.push(got[0].payload.clone());
        // The first read guesses READ_AHEAD_FIRST messages; every later
        // one is sized by what was read before.
        if i >= READ_AHEAD_FIRST {
            assert!(
                ahead_bytes(&c) <= READ_AHEAD_BYTES + CHUNK,
                "pull {i}: {} bytes read ahead",
                ahead_bytes(&c)
            );
        }
    }
    for (i, payload) in delivered.iter().take(40).enumerate() {
        assert_eq!(payload.len(), CHUNK);
        assert_eq!(payload[0], u8::try_from(i).expect("small"));
    }
    assert_eq!(delivered[40].as_ref(), b"m0");
    assert_eq!(delivered[339].as_ref(), b"m299");
    // Small messages are read ahead in full batches again.
    assert_eq!(c.ahead_msgs, READ_AHEAD);
}

// Time-driven behaviour on a controlled clock: what the differential test
// cannot drive (it would have to wait out real ack waits and expiries).

#[test]
fn ack_wait_at_max_deliver_drops_the_message_from_pending() {
    let store = store_with(&[0]);
    let mut c = pull_consumer(&store, |c| c.max_deliver = 2);
    let mut out = Vec::new();
    c.on_pull(b"1", "_INBOX.r", &store, 0, &mut out);
    assert_eq!(payloads(&out), vec!["m0"]);
    out.clear();
    // First expiry: due again, delivered a second time.
    c.tick(1000 * MS, &mut out);
    c.on_pull(b"1", "_INBOX.r", &store, 1000 * MS, &mut out);
    assert_eq!(payloads(&out), vec!["m0"]);
    out.clear();
    // Second expiry at max_deliver: it leaves pending, not redelivered.
    c.tick(2000 * MS, &mut out);
    let counts = c.counts(&store).expect("counts");
    assert_eq!((counts.num_ack_pending, counts.num_redelivered), (0, 0));
    c.on_pull(
        br#"{"batch":1,"no_wait":true}"#,
        "_INBOX.r",
        &store,
        2000 * MS,
        &mut out,
    );
    assert!(payloads(&out).is_empty());
}

#[test]
fn backoff_sets_each_redelivery_deadline() {
    let store = store_with(&[0]);
    let mut c = pull_consumer(&store, |c| {
        c.backoff = vec![100 * MS, 300 * MS];
        c.max_deliver = 5;
    });
    let mut out = Vec::new();
    c.on_pull(b"1", "_INBOX.r", &store, 0, &mut out);
    assert_eq!(c.next_deadline(), Some(100 * MS));
    c.tick(100 * MS, &mut out);
    c.on_pull(b"1", "_INBOX.r", &store, 100 * MS, &mut out);
    // The second delivery waits the second backoff, and the last one
    // every delivery after.
    assert_eq!(c.next_deadline(), Some(400 * MS));
    c.tick(400 * MS, &mut out);
    c.on_pull(b"1", "_INBOX.r", &store, 400 * MS, &mut out);
    assert_eq!(c.next_deadline(), Some(700 * MS));
    assert_eq!(payloads(&out), vec!["m0", "m0", "m0"]);
}

#[test]
fn pull_expiry_and_heartbeats_follow_the_clock() {
    let store = MemStore::new();
    let mut c = pull_consumer(&store, |_| {});
    let mut out = Vec::new();
    let body = format!(
        r#"{{"batch":2,"expires":{},"idle_heartbeat":{}}}"#,
        100 * MS,
        30 * MS
    );
    c.on_pull(body.as_bytes(), "_INBOX.r", &store, 0, &mut out);
    assert!(out.is_empty());
    let statuses = |out: &[OutMsg]| -> Vec<String> {
        out.iter()
            .filter_map(|m| m.headers.as_ref())
            .map(|h| {
                String::from_utf8_lossy(h)
                    .lines()
                    .next()
                    .unwrap_or("")
                    .to_string()
            })
            .collect()
    };
    for t in [30, 60, 90] {
        c.tick(t * MS, &mut out);
    }
    assert_eq!(
        statuses(&out),
        vec!["NATS/1.0 100 Idle Heartbeat"; 3],
        "one heartbeat every 30 ms"
    );
    out.clear();
    c.tick(99 * MS, &mut out);
    assert!(out.is_empty(), "not expired yet");
    c.tick(100 * MS, &mut out);
    assert_eq!(statuses(&out), vec!["NATS/1.0 408 Request Timeout"]);
    let counts = c.counts(&store).expect("counts");
    assert_eq!(counts.num_waiting, 0);
}

/// An outbox where every subject has interest.
struct Everyone;

impl crate::outbox::Outbox for Everyone {
    fn publish(&self, _: &str, _: Option<&[u8]>, _: &[u8]) {}
    fn publish_with_reply(&self, _: &str, _: &str, _: Option<&[u8]>, _: &[u8]) {}
}

#[test]
fn inactive_threshold_ends_an_idle_consumer() {
    let store = MemStore::new();
    let mut c = pull_consumer(&store, |c| c.inactive_threshold = 500 * MS);
    let mut out = Vec::new();
    c.refresh_activity(&Everyone, 0);
    assert!(c.tick(499 * MS, &mut out), "still within the threshold");
    // A pull request is activity: the clock starts again after it.
    c.on_pull(
        br#"{"batch":1,"expires":100000000}"#,
        "_INBOX.r",
        &store,
        400 * MS,
        &mut out,
    );
    c.refresh_activity(&Everyone, 400 * MS);
    assert!(c.tick(800 * MS, &mut out));
    c.refresh_activity(&Everyone, 800 * MS);
    assert!(c.tick(1299 * MS, &mut out));
    assert!(!c.tick(1300 * MS, &mut out), "idle for the threshold");
}
