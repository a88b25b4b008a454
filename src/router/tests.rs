//! Router tests: the trie against a brute-force matcher on random subjects,
//! with the shared cache and without it.

use std::sync::Arc;

use bytes::Bytes;
use tern_jetstream::subject;

use super::{MatchResult, Router, Subscription};
use crate::handle::Handle;

fn handle(id: u64) -> Arc<Handle> {
    Arc::new(Handle::internal(id, Box::new(|_| {})))
}

fn sub(client: &Arc<Handle>, subject: &str, queue: Option<&str>, sid: usize) -> Arc<Subscription> {
    Arc::new(Subscription::new(
        client.clone(),
        Bytes::from(sid.to_string()),
        Bytes::copy_from_slice(subject.as_bytes()),
        queue.map(|q| Bytes::copy_from_slice(q.as_bytes())),
    ))
}

/// Sids in a result, sorted, queue members included.
fn sids(r: &MatchResult) -> Vec<String> {
    let mut out: Vec<String> = r
        .plain
        .iter()
        .chain(r.queues.iter().flat_map(|q| q.members.iter()))
        .map(|s| String::from_utf8_lossy(&s.sid).into_owned())
        .collect();
    out.sort();
    out
}

/// A small deterministic generator, so failures reproduce.
struct Rng(u64);
impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
    fn pick<'a>(&mut self, items: &[&'a str]) -> &'a str {
        items[(self.next() % items.len() as u64) as usize]
    }
}

fn random_subject(rng: &mut Rng, wildcards: bool) -> String {
    let len = 1 + rng.next() % 4;
    let mut tokens = Vec::new();
    for i in 0..len {
        let last = i == len - 1;
        let t = if wildcards && rng.next() % 4 == 0 {
            if last && rng.next() % 2 == 0 {
                ">"
            } else {
                "*"
            }
        } else {
            rng.pick(&["a", "b", "c", "foo"])
        };
        tokens.push(t);
    }
    tokens.join(".")
}

#[test]
fn trie_matches_brute_force_with_and_without_cache() {
    let mut rng = Rng(0x9e37_79b9_7f4a_7c15);
    let router = Router::new();
    let client = handle(1);
    let mut all = Vec::new();
    for i in 0..300 {
        let s = random_subject(&mut rng, true);
        let queue = (rng.next() % 5 == 0).then_some("q");
        let sub = sub(&client, &s, queue, i);
        router.insert(sub.clone());
        all.push(sub);
        if rng.next() % 7 == 0 {
            let victim = all.swap_remove((rng.next() % all.len() as u64) as usize);
            assert!(router.remove(&victim));
            assert!(!router.remove(&victim));
        }
    }
    assert_eq!(router.count(), all.len());
    for _ in 0..500 {
        let s = random_subject(&mut rng, false);
        let mut want: Vec<String> = all
            .iter()
            .filter(|x| subject::matches(&x.subject, s.as_bytes()))
            .map(|x| String::from_utf8_lossy(&x.sid).into_owned())
            .collect();
        want.sort();
        assert_eq!(
            sids(&router.lookup_uncached(s.as_bytes())),
            want,
            "uncached {s}"
        );
        assert_eq!(sids(&router.lookup(s.as_bytes())), want, "cached {s}");
        assert_eq!(sids(&router.lookup(s.as_bytes())), want, "cache hit {s}");
    }
}

#[test]
fn cache_sees_changes() {
    let router = Router::new();
    let client = handle(1);
    assert!(router.lookup(b"foo.bar").is_empty());
    let s = sub(&client, "foo.*", None, 1);
    router.insert(s.clone());
    assert_eq!(sids(&router.lookup(b"foo.bar")), vec!["1"]);
    let mut local = super::LocalCache::default();
    assert_eq!(sids(&local.lookup(&router, b"foo.bar")), vec!["1"]);
    router.remove(&s);
    assert!(router.lookup(b"foo.bar").is_empty());
    assert!(local.lookup(&router, b"foo.bar").is_empty());
}

#[test]
fn queue_members_merge_across_nodes_and_rotate_evenly() {
    let router = Router::new();
    let client = handle(1);
    for (i, s) in ["foo.bar", "foo.*", "foo.>", "foo.bar"].iter().enumerate() {
        router.insert(sub(&client, s, Some("workers"), i));
    }
    let r = router.lookup(b"foo.bar");
    assert_eq!(r.queues.len(), 1);
    assert_eq!(r.queues[0].members.len(), 4);
    let mut counts = [0usize; 4];
    for _ in 0..400 {
        let first = r.queues[0].rotation().next().unwrap();
        counts[first.sid[0] as usize - b'0' as usize] += 1;
    }
    assert_eq!(counts, [100; 4]);
}

#[test]
fn auto_unsubscribe_limit_is_exact() {
    use super::AfterDelivery;
    let client = handle(1);
    let s = sub(&client, "foo", None, 1);
    assert_eq!(s.set_max(2), AfterDelivery::Keep);
    assert_eq!(s.reserve_delivery(), Some(AfterDelivery::Keep));
    assert_eq!(s.reserve_delivery(), Some(AfterDelivery::Remove));
    assert_eq!(s.reserve_delivery(), None);
    assert_eq!(s.set_max(1), AfterDelivery::Remove);
}

/// With permissions: what a connection may subscribe to and what its
/// subscriptions are handed, against a brute-force reading of the rules
/// (allow then deny, patterns against the subject's tokens), over the
/// trie with and without the cache.
#[test]
fn deliveries_obey_permissions_against_brute_force() {
    use crate::permissions::{Entry, Permissions, Rules};
    let mut rng = Rng(0x2545_f491_4f6c_dd1d);
    for round in 0..40 {
        let allow: Vec<String> = (0..1 + rng.next() % 3)
            .map(|_| random_subject(&mut rng, true))
            .collect();
        let deny: Vec<String> = (0..rng.next() % 3)
            .map(|_| random_subject(&mut rng, true))
            .collect();
        let perms = Arc::new(Permissions {
            publish: Rules::default(),
            subscribe: Rules {
                allow: Some(allow.iter().map(|s| Entry::parse(s)).collect()),
                deny: deny.iter().map(|s| Entry::parse(s)).collect(),
            },
            responses: None,
        });
        let router = Router::new();
        let client = handle(round);
        let mut held = Vec::new();
        for i in 0..60 {
            let s = random_subject(&mut rng, true);
            // The brute-force verdict on the subscription: some allow
            // pattern covers it and no deny pattern covers it.
            let covered = |patterns: &[String]| {
                patterns
                    .iter()
                    .any(|p| subject::matches(p.as_bytes(), s.as_bytes()))
            };
            let may = covered(&allow) && !covered(&deny);
            assert_eq!(
                perms.may_subscribe(s.as_bytes(), None),
                may,
                "subscribe {s}"
            );
            if !may {
                continue;
            }
            let sub = Arc::new(
                Subscription::new(
                    client.clone(),
                    Bytes::from(i.to_string()),
                    Bytes::copy_from_slice(s.as_bytes()),
                    None,
                )
                .with_deny_filter(&perms),
            );
            router.insert(sub.clone());
            held.push(sub);
        }
        for _ in 0..200 {
            let s = random_subject(&mut rng, false);
            let denied = deny
                .iter()
                .any(|p| subject::matches(p.as_bytes(), s.as_bytes()));
            let mut want: Vec<String> = held
                .iter()
                .filter(|x| subject::matches(&x.subject, s.as_bytes()) && !denied)
                .map(|x| String::from_utf8_lossy(&x.sid).into_owned())
                .collect();
            want.sort();
            let uncached = Arc::new(router.lookup_uncached(s.as_bytes()));
            for result in [uncached, router.lookup(s.as_bytes())] {
                let mut got: Vec<String> = result
                    .plain
                    .iter()
                    .filter(|x| x.admits(s.as_bytes()))
                    .map(|x| String::from_utf8_lossy(&x.sid).into_owned())
                    .collect();
                got.sort();
                assert_eq!(got, want, "deliver {s} (allow {allow:?}, deny {deny:?})");
            }
        }
    }
}
