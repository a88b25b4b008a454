//! Divergences the differential test found, each kept as the minimised
//! list of operations that showed it, replayed against the reference (or,
//! without it, file storage against memory storage on tern, on the
//! operations those two must agree on).
//!
//! Documented reference bugs tern does not copy are listed in
//! `conformance/README.md` and left out of the generator; they have no
//! entry here.

#![cfg(test)]

use super::lockstep::{self, Pair, Servers};
use super::ops::{for_storage_pair, Op};
use crate::harness::reference_binary;

fn run_regression(name: &str, lines: &str) {
    let ops: Vec<Op> = lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty())
        .map(|l| Op::from_line(l).unwrap_or_else(|e| panic!("{name}: bad line {l}: {e}")))
        .collect();
    // Without the reference, tern's two stores are compared on the
    // operations they must agree on (see `for_storage_pair`).
    let (pair, ops) = if reference_binary().is_some() {
        (Pair::ReferenceVsTern, ops)
    } else {
        (Pair::FileVsMemory, for_storage_pair(ops))
    };
    let servers = Servers::start(pair);
    let Err(first) = lockstep::run(&servers, &ops) else {
        return;
    };
    if first.reference_fault {
        return;
    }
    // As for random seeds: against the reference, a divergence that does
    // not repeat on fresh servers is one of the reference's races
    // (conformance/README.md, "Reference races"), not tern's.
    if pair == Pair::ReferenceVsTern {
        let again = Servers::start(pair);
        match lockstep::run(&again, &ops) {
            Ok(()) => {
                eprintln!(
                    "{name}: unstable (diverged once, clean again): {}",
                    first.text
                );
                return;
            }
            Err(d) if d.reference_fault => return,
            Err(d) => panic!("{name} diverges {}\n{}", d.text, again.logs()),
        }
    }
    panic!("{name} diverges {}\n{}", first.text, servers.logs());
}

macro_rules! regression {
    ($(#[doc = $doc:literal])* $name:ident, $ops:literal) => {
        $(#[doc = $doc])*
        #[test]
        fn $name() {
            run_regression(stringify!($name), $ops);
        }
    };
}

regression!(
    /// A filtered purge with seq 1 purges every matching message.
    diff_purge_filtered_seq_one,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.>\",\"seq\":1}","stream":"S1"}
"##
);

regression!(
    /// A filtered purge that takes everything a consumer sees moves it past
    /// the stream's end.
    diff_filtered_purge_moves_consumer,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_direct\":true,\"discard\":\"new\",\"max_msgs\":7,\"name\":\"S2\",\"retention\":\"workqueue\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.c","headers":[["Nats-Msg-Id","m2"]],"body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"max_ack_pending\":3,\"max_deliver\":3,\"name\":\"C1\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.c\",\"seq\":10}","stream":"S2"}
"##
);

regression!(
    /// A filtered purge of one pending message reaches its consumer as a
    /// term: ack activity, though the purge already moved the floor.
    diff_filtered_purge_terms_pending,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"max_msgs_per_subject\":3,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.b\",\"max_ack_pending\":3,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C2","batch":1,"no_wait":true,"expires_ms":40}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.b\"}","stream":"S1"}
"##
);

regression!(
    /// An interest consumer's filter update drops what nobody needs, and
    /// the message it had pending stays pending.
    diff_filter_update_cleans_interest,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"discard\":\"new\",\"name\":\"S1\",\"retention\":\"interest\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"max_deliver\":3},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":4,"no_wait":true,"expires_ms":0}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.b\",\"max_ack_pending\":1,\"max_deliver\":2},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.a\"},\"stream_name\":\"S1\"}","stream":"S1"}
"##
);

regression!(
    /// A read that finds nothing moves the memory store's position of a
    /// consumer that delivered nothing; after a delivery it stays.
    diff_pull_end_positions,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.a\",\"name\":\"C3\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C3","batch":1,"no_wait":false,"expires_ms":40}
{"op":"request","subject":"s1.a","body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C3","batch":2,"no_wait":false,"expires_ms":40}
{"op":"ack","stream":"S1","consumer":"C3","pick":0,"kind":"+ACK"}
"##
);

regression!(
    /// Account info reserves each stream's max_bytes.
    diff_account_reserved_bytes,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"max_bytes\":504,\"max_msgs_per_subject\":2,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"max_bytes\":212,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.INFO","body":""}
"##
);

regression!(
    /// Discard new lets a message in over max_msgs when its subject is at
    /// its limit (it replaces that subject's oldest).
    diff_discard_new_at_subject_limit,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"max_msgs\":4,\"max_msgs_per_subject\":3,\"name\":\"S1\",\"retention\":\"workqueue\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"allow_rollup_hdrs\":true,\"discard\":\"new\",\"max_bytes\":530,\"max_msgs\":2,\"max_msgs_per_subject\":2,\"name\":\"S1\",\"retention\":\"workqueue\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
"##
);

regression!(
    /// A rollup passes discard_new_per_subject, and with discard new the
    /// stream keeps what it holds over a lowered max_msgs.
    diff_rollup_with_discard_new,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"s2.c","body":"x","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"allow_rollup_hdrs\":true,\"discard\":\"new\",\"discard_new_per_subject\":true,\"max_msgs\":2,\"max_msgs_per_subject\":1,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","headers":[["Nats-Rollup","sub"]],"body":"xxxxx","stream":"S2"}
"##
);

regression!(
    /// A no_wait pull held back by max_ack_pending waits unanswered; one
    /// whose requester went away is dropped.
    diff_no_wait_held_by_max_ack_pending,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"max_msgs\":7,\"name\":\"S1\",\"retention\":\"workqueue\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Msg-Id","m2"]],"body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.a\",\"max_ack_pending\":2,\"name\":\"C3\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C3","batch":4,"no_wait":true,"expires_ms":0}
{"op":"fetch","stream":"S1","consumer":"C3","batch":1,"no_wait":true,"expires_ms":40}
"##
);

regression!(
    /// Rollups move consumers as purges do; an ack-none consumer's floor
    /// follows its deliveries without an ack time.
    diff_rollup_all_moves_consumers,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.c","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"none\",\"deliver_policy\":\"last\",\"durable_name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.b","headers":[["Nats-Rollup","all"]],"body":"xxxxxxxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":3,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A stream changed to interest retention drops what its consumers
    /// are done with (not past a consumer that starts beyond the end).
    diff_retention_change_to_interest,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"discard\":\"new\",\"discard_new_per_subject\":true,\"max_consumers\":1,\"max_msgs_per_subject\":3,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"new\",\"durable_name\":\"C1\",\"filter_subjects\":[\"s1.a\",\"s1.zz\"]},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"max_msgs_per_subject\":2,\"name\":\"S1\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.a\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"by_start_sequence\",\"durable_name\":\"C3\",\"opt_start_seq\":5},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.a\"]}","stream":"S2"}
"##
);

regression!(
    /// An interest stream without interest in a subject skips its message
    /// before discard-new checks and limits.
    diff_no_interest_skips_limits,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"discard\":\"new\",\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.c","body":"x","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"discard\":\"new\",\"max_msgs\":3,\"max_msgs_per_subject\":2,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
"##
);

regression!(
    /// A deliver-last-per-subject consumer whose next message went ends
    /// that pass (a no_wait pull gets its 404), and goes on at the next;
    /// with no matching subject it starts at the last message.
    diff_last_per_subject_gaps,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"discard\":\"new\",\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.b\",\"max_ack_pending\":2},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.zz\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"seq\":9}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":2,"no_wait":true,"expires_ms":0}
{"op":"fetch","stream":"S1","consumer":"C1","batch":2,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// Deliver by start time with a filter skips to the filter's first
    /// message.
    diff_start_time_with_filter,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"x","stream":"S1"}
{"op":"request","subject":"s1.a","body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"by_start_time\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.a\",\"name\":\"C3\",\"opt_start_time\":\"2020-01-01T00:00:00Z\"},\"stream_name\":\"S1\"}","stream":"S1"}
"##
);

regression!(
    /// Acks: one past the consumer's position is ignored (a progress
    /// ack still answered); ack-all sets the floor to the acked delivery;
    /// an explicit ack of nothing pending still counts as activity; a
    /// nak past max_deliver stays pending until the next read.
    diff_ack_edges,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"name\":\"S2\",\"retention\":\"workqueue\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.b\",\"max_deliver\":1,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":3,"no_wait":true,"expires_ms":0}
{"op":"ack","stream":"S2","consumer":"C2","pick":1,"kind":"+TERM"}
{"op":"ack","stream":"S2","consumer":"C2","pick":0,"kind":"-NAK"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":1,"no_wait":true,"expires_ms":0}
{"op":"ack","stream":"S2","consumer":"C2","pick":0,"kind":"+ACK"}
{"op":"request","subject":"$JS.API.STREAM.DELETE.S2","body":""}
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"durable_name\":\"C2\",\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"ack","stream":"S2","consumer":"C2","pick":1,"kind":"+WPI"}
{"op":"ack","stream":"S2","consumer":"C2","pick":1,"kind":"+ACK"}
{"op":"request","subject":"s2.a","body":"x","stream":"S2"}
{"op":"request","subject":"s2.a","body":"x","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":2,"no_wait":true,"expires_ms":0}
{"op":"ack","stream":"S2","consumer":"C2","pick":5,"kind":"+ACK"}
"##
);

regression!(
    /// An ack-none consumer on a stream changed from limits to interest:
    /// one started before the change releases nothing; one started after
    /// counts its deliveries as ack activity and keeps the messages.
    diff_ack_none_after_retention_change,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"none\",\"deliver_policy\":\"last\",\"durable_name\":\"C1\",\"filter_subject\":\"s2.b\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"allow_direct\":true,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"none\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.c\",\"max_ack_pending\":2,\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.c","headers":[["Nats-Msg-Id","m3"]],"body":"x","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":2,"no_wait":true,"expires_ms":0}
{"op":"fetch","stream":"S2","consumer":"C1","batch":3,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A purge reaching a deliver-last-per-subject consumer moves it from
    /// its next last-per-subject message, not from past them all.
    diff_purge_of_last_per_subject_consumer,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"discard\":\"new\",\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"deliver_subject\":\"push.C2\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":4,\"max_deliver\":1,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.c\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"discard\":\"new\",\"discard_new_per_subject\":true,\"max_msgs_per_subject\":3,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.b\",\"max_deliver\":2,\"name\":\"C1\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"seq\":2}","stream":"S1"}
"##
);

regression!(
    /// A redelivery that finds its message gone is a term (ack activity).
    diff_gone_redelivery_is_a_term,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"max_msg_size\":57,\"max_msgs_per_subject\":3,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":2,\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":1,"no_wait":true,"expires_ms":0}
{"op":"ack","stream":"S2","consumer":"C3","pick":745,"kind":"-NAK"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.c\",\"max_deliver\":2},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":1,"no_wait":false,"expires_ms":40}
"##
);

regression!(
    /// Deleting an interest consumer drops what nobody needs from its ack
    /// floor on, not below it.
    diff_consumer_delete_cleans_from_its_floor,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.b","headers":[["Nats-Msg-Id","m3"]],"body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"new\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.zz\",\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"allow_direct\":true,\"discard\":\"new\",\"max_msgs\":3,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.zz\",\"max_ack_pending\":3,\"max_deliver\":2,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DELETE.S2.C3","body":"","stream":"S2"}
"##
);

regression!(
    /// A deliver-last-per-subject consumer's num_pending drops with a reported
    /// removal ahead of it, as the reference counts it.
    diff_last_per_subject_pending_after_delete,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Msg-Id","m4"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"x","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.MSG.DELETE.S1","body":"{\"no_erase\":true,\"seq\":10}","stream":"S1"}
"##
);

regression!(
    /// num_pending of a last-per-subject consumer on a stream keeping one
    /// message per subject counts subjects, as the reference counts it afresh.
    diff_last_per_subject_pending_one_per_subject,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"duplicate_window\":60000000000,\"max_msg_size\":55,\"max_msgs\":7,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Msg-Id","m2"]],"body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"allow_rollup_hdrs\":true,\"duplicate_window\":60000000000,\"max_bytes\":278,\"max_msgs\":7,\"max_msgs_per_subject\":1,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.>\",\"max_deliver\":1},\"stream_name\":\"S1\"}","stream":"S1"}
"##
);

regression!(
    /// A filter change counts a last-per-subject consumer's num_pending
    /// afresh as subjects ahead.
    diff_last_per_subject_pending_after_filter_change,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_direct\":true,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.b\",\"max_ack_pending\":4,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.c","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.c","headers":[["Nats-Msg-Id","m4"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.c\",\"max_ack_pending\":2,\"max_deliver\":2,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
"##
);

regression!(
    /// A rollup of all that takes one message reports it (to the file store's
    /// in-place purge's notice, subject ">") only to consumers of every
    /// subject: a filtered consumer keeps counting it in num_pending.
    diff_rollup_all_single_removal_unreported_to_filtered,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"max_msgs_per_subject\":3,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C1","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"filter_subjects\":[\"s2.c\",\"s2.a\"],\"max_ack_pending\":2,\"max_deliver\":2,\"name\":\"C1\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"new\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.b\",\"max_deliver\":3,\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.b","headers":[["Nats-Rollup","all"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
"##
);

regression!(
    /// A subject rollup that takes one message reports it to the consumers
    /// of that subject: a last-per-subject consumer counts one fewer pending.
    diff_rollup_sub_reported_to_last_per_subject,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"max_bytes\":210,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"allow_rollup_hdrs\":true,\"discard\":\"new\",\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.a\",\"name\":\"C3\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Rollup","sub"]],"body":"xxxxx","stream":"S1"}
"##
);

regression!(
    /// A purge that takes nothing reports nothing: a last-per-subject
    /// consumer's num_pending keeps its count rather than being counted afresh.
    diff_purge_of_nothing_keeps_last_per_subject_count,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"max_msgs_per_subject\":2,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.b\",\"max_ack_pending\":4},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"seq\":2}","stream":"S1"}
"##
);

regression!(
    /// A file-store filtered purge of one message names its (wildcard) subject;
    /// a consumer whose filter does not match that subject as a literal is not
    /// told, so the message it had pending is dropped without ack activity.
    diff_wildcard_filtered_purge_notice_skips_literal_filters,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.a\",\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"x","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C2","batch":4,"no_wait":false,"expires_ms":40}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.>\",\"keep\":1}","stream":"S1"}
"##
);

regression!(
    /// On an interest stream, a filter change removes what no consumer needs;
    /// an ack-all consumer still needs every message past its ack floor, even
    /// one it skipped past as unmatched before the change.
    diff_ack_all_filter_change_keeps_skipped_messages,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"max_consumers\":2,\"max_msgs\":6,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.b\",\"max_deliver\":1},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"allow_direct\":false,\"discard\":\"new\",\"max_msgs\":1,\"name\":\"S1\",\"retention\":\"interest\",\"sealed\":true,\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C2","batch":3,"no_wait":true,"expires_ms":0}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.c.>\"},\"stream_name\":\"S1\"}","stream":"S1"}
"##
);

regression!(
    /// A purge settles a pending message and moves the ack floor's consumer
    /// sequence past an earlier one still pending; a NAK of that one is at or
    /// below the floor, and the reference ignores it (no redelivery).
    diff_nak_below_ack_floor_consumer_seq_ignored,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_direct\":true,\"discard\":\"new\",\"max_msgs\":3,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C3\",\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.a","headers":[["Nats-Msg-Id","m4"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":3,"no_wait":true,"expires_ms":0}
{"op":"request","subject":"s2.a","body":"x","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.b\",\"seq\":8}","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":3,"no_wait":true,"expires_ms":0}
{"op":"ack","stream":"S2","consumer":"C3","pick":945,"kind":"-NAK"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":3,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A filtered purge of pending messages moves the floor; a NAK of an
    /// earlier delivery is then ignored, as the reference's range check does.
    diff_nak_after_filtered_purge_ignored,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"max_consumers\":1,\"name\":\"S1\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"by_start_time\",\"durable_name\":\"C1\",\"max_deliver\":1,\"name\":\"C1\",\"opt_start_time\":\"2020-01-01T00:00:00Z\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":3,"no_wait":false,"expires_ms":40}
{"op":"request","subject":"s1.a","body":"xxxxx","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":3,"no_wait":false,"expires_ms":40}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.a\"}","stream":"S1"}
{"op":"ack","stream":"S1","consumer":"C1","pick":493,"kind":"-NAK"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":4,"no_wait":true,"expires_ms":40}
"##
);

regression!(
    /// A last-per-subject consumer whose one subject's last message is the
    /// stream's last reads on from it as any consumer does (the reference drops
    /// its skip list at once): when that message is purged, a newer one is
    /// delivered.
    diff_last_per_subject_single_last_reads_on,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_direct\":true,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s1.b\",\"name\":\"C1\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.b\",\"seq\":1}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C1","batch":2,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// The same after a purge of the whole stream: the next message on the
    /// subject is delivered.
    diff_last_per_subject_single_last_after_purge_all,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"allow_rollup_hdrs\":true,\"max_msg_size\":34,\"max_msgs\":3,\"max_msgs_per_subject\":3,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s2.*\",\"max_deliver\":1},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C1","batch":3,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// Single-subject last-per-subject start on an interest stream, purged by
    /// subject, then a new message: it is delivered.
    diff_last_per_subject_single_last_interest_purge,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"max_msgs\":2,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"durable_name\":\"C1\",\"filter_subject\":\"s2.c\",\"max_deliver\":1},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.c","body":"x","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.c\",\"max_deliver\":2,\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.c\",\"keep\":0}","stream":"S2"}
{"op":"request","subject":"s2.c","body":"xxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C3","batch":3,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A last-per-subject consumer over several subjects whose only last message
    /// is the stream's last; that message deleted, the next one is delivered.
    diff_last_per_subject_single_last_deleted,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.c","headers":[["Nats-Msg-Id","m2"]],"body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.c\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":1,\"max_deliver\":1,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.MSG.DELETE.S2","body":"{\"seq\":4}","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":1,"no_wait":false,"expires_ms":40}
"##
);

regression!(
    /// A single-subject last-per-subject consumer reads on from the stream's last
    /// message: its num_pending and deliveries count what came after as usual.
    diff_last_per_subject_single_last_pending_count,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S1","body":"{\"max_msgs\":3,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.c.>\",\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Msg-Id","m4"]],"body":"x","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C2","batch":4,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// An ack-none last-per-subject consumer after a purge of its one message:
    /// the newer message is delivered.
    diff_last_per_subject_single_last_ack_none_after_purge,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"discard\":\"new\",\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","headers":[["Nats-Msg-Id","m2"]],"body":"xxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"none\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s2.a\",\"max_ack_pending\":2},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C1","batch":1,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A delivery's ack subject carries the consumer's kept count less one (a
    /// last-per-subject consumer's subjects-ahead count), not a fresh count.
    diff_last_per_subject_ack_reply_pending_is_the_count,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"deny_purge\":true,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.c\",\"max_ack_pending\":4},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":3,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":2,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A filtered purge of a memory stream reports each message it takes with
    /// its own subject: a last-per-subject consumer counts each one it had ahead
    /// out of its num_pending, rather than being counted afresh.
    diff_memory_filtered_purge_reports_each_removal,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Msg-Id","m4"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.*\"}","stream":"S1"}
"##
);

regression!(
    /// The same purge of a subject the consumer does not match leaves its count.
    diff_memory_filtered_purge_of_other_subject_keeps_count,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.c","headers":[["Nats-Msg-Id","m3"]],"body":"x","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.c\",\"max_ack_pending\":2,\"max_deliver\":1,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.c","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.a\"}","stream":"S2"}
"##
);

regression!(
    /// A filtered purge up to a sequence on a memory interest stream, reported
    /// message by message to a last-per-subject consumer.
    diff_memory_interest_filtered_purge_seq_reports_each,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"discard\":\"new\",\"max_consumers\":2,\"max_msg_size\":65,\"max_msgs\":2,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C3","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C3\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":3,\"max_deliver\":3,\"name\":\"C3\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"max_consumers\":2,\"max_msg_size\":41,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","body":"x","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.b\",\"seq\":10}","stream":"S2"}
"##
);

regression!(
    /// A subject rollup on a memory stream takes the subject's older messages
    /// one by one: a last-per-subject consumer counts each out.
    diff_memory_subject_rollup_reports_each_removal,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m3"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m2"]],"body":"x","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"max_deliver\":3,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Rollup","sub"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
"##
);

regression!(
    /// A filtered purge on a memory stream changed to interest retention, with a
    /// last-per-subject consumer counting.
    diff_memory_interest_filtered_purge_last_per_subject,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"max_msgs\":4,\"max_msgs_per_subject\":1,\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.DURABLE.CREATE.S2.C1","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C1\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":4},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.UPDATE.S2","body":"{\"max_bytes\":469,\"name\":\"S2\",\"retention\":\"interest\",\"storage\":\"memory\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.a","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.b\"}","stream":"S2"}
"##
);

regression!(
    /// A filtered purge up to a sequence on a file stream, then a pull on a
    /// last-per-subject consumer over every subject.
    diff_file_filtered_purge_seq_last_per_subject_fetch,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"max_msgs\":7,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Rollup","sub"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"name\":\"C3\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.b\",\"seq\":6}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C3","batch":4,"no_wait":true,"expires_ms":0}
"##
);

regression!(
    /// A last-per-subject count goes below zero when a memory purge reports
    /// more removals than it counted, and reads 0 until new messages bring it
    /// back above (the reference keeps it signed).
    diff_last_per_subject_count_goes_below_zero,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Msg-Id","m4"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Msg-Id","m3"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"config\":{\"ack_policy\":\"explicit\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.*\"}","stream":"S1"}
{"op":"request","subject":"s1.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
"##
);

regression!(
    /// While its start messages last, a last-per-subject consumer's position is
    /// one past the last it delivered (not its next start message): a purge
    /// that leaves it shows delivered there.
    diff_last_per_subject_position_after_skip_list_deliveries,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"memory\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Msg-Id","m1"],["Nats-Rollup","all"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.b","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m3"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Expected-Last-Sequence","3"]],"body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m2"]],"body":"x","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.c.d","headers":[["Nats-Expected-Last-Sequence","6"]],"body":"xxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C2","body":"{\"action\":\"create\",\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":2,\"max_deliver\":3,\"name\":\"C2\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C2","batch":2,"no_wait":true,"expires_ms":0}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S1","body":"{\"filter\":\"s1.c.>\",\"keep\":2}","stream":"S1"}
"##
);

regression!(
    /// The same after one delivery and a filtered purge that takes nothing.
    diff_last_per_subject_position_after_one_delivery,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S2","body":"{\"name\":\"S2\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s2.*\"]}","stream":"S2"}
{"op":"request","subject":"s2.b","body":"xxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"s2.a","body":"xxxxxxxxxx","stream":"S2"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S2.C2","body":"{\"config\":{\"ack_policy\":\"all\",\"deliver_policy\":\"last_per_subject\",\"durable_name\":\"C2\",\"filter_subject\":\"s2.*\",\"max_ack_pending\":1,\"max_deliver\":1,\"name\":\"C2\"},\"stream_name\":\"S2\"}","stream":"S2"}
{"op":"fetch","stream":"S2","consumer":"C2","batch":1,"no_wait":false,"expires_ms":40}
{"op":"request","subject":"$JS.API.STREAM.PURGE.S2","body":"{\"filter\":\"s2.c\",\"keep\":1}","stream":"S2"}
"##
);

regression!(
    /// A subject rollup terminates an ack-all consumer's pending message and
    /// moves its floor's consumer sequence past an earlier one still pending;
    /// an ack of that one is at or below the floor, and the reference ignores it.
    diff_ack_all_at_or_below_floor_consumer_seq_ignored,
    r##"
{"op":"request","subject":"$JS.API.STREAM.CREATE.S1","body":"{\"allow_rollup_hdrs\":true,\"deny_delete\":true,\"discard\":\"new\",\"name\":\"S1\",\"retention\":\"limits\",\"storage\":\"file\",\"subjects\":[\"s1.>\"]}","stream":"S1"}
{"op":"request","subject":"s1.c.d","body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"s1.b","headers":[["Nats-Expected-Stream","S1"]],"body":"xxxxxxxxxx","stream":"S1"}
{"op":"request","subject":"$JS.API.CONSUMER.CREATE.S1.C3","body":"{\"config\":{\"ack_policy\":\"all\",\"durable_name\":\"C3\",\"filter_subject\":\"s1.>\",\"max_ack_pending\":3,\"max_deliver\":2,\"name\":\"C3\"},\"stream_name\":\"S1\"}","stream":"S1"}
{"op":"request","subject":"s1.a","headers":[["Nats-Msg-Id","m1"]],"body":"xxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxxx","stream":"S1"}
{"op":"fetch","stream":"S1","consumer":"C3","batch":4,"no_wait":true,"expires_ms":0}
{"op":"request","subject":"s1.b","headers":[["Nats-Msg-Id","m4"],["Nats-Rollup","sub"]],"body":"xxxxx","stream":"S1"}
{"op":"ack","stream":"S1","consumer":"C3","pick":561,"kind":"+ACK"}
"##
);
