//! What a user may publish to and subscribe to (`permissions { publish,
//! subscribe }`), checked as nats-server checks them: an allow list (none:
//! everything) then a deny list, patterns matched against the subject's
//! tokens taken literally (so `foo.>` allows subscribing to `foo.*`).
//! Subscribe entries may name a queue group (`"foo.> q1"`).

use std::collections::HashMap;

use tern_jetstream::subject;

/// One allow-or-deny list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    pub allow: Option<Vec<Entry>>,
    pub deny: Vec<Entry>,
}

/// A subject pattern, with a queue group pattern for subscribe entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    pub subject: String,
    pub queue: Option<String>,
}

impl Entry {
    /// `"foo.>"` or `"foo.> q1"`.
    pub fn parse(text: &str) -> Entry {
        let mut parts = text.split_whitespace();
        let subject = parts.next().unwrap_or_default().to_string();
        let queue = parts.next().map(str::to_string);
        Entry { subject, queue }
    }
}

/// A user's permissions.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Permissions {
    pub publish: Rules,
    pub subscribe: Rules,
}

impl Permissions {
    /// Whether publishing to the literal `subj` is allowed.
    pub fn may_publish(&self, subj: &[u8]) -> bool {
        let r = &self.publish;
        let allowed = r.allow.as_ref().is_none_or(|allow| {
            allow
                .iter()
                .any(|e| subject::matches(e.subject.as_bytes(), subj))
        });
        allowed
            && !r
                .deny
                .iter()
                .any(|e| subject::matches(e.subject.as_bytes(), subj))
    }

    /// Whether subscribing to `subj` (perhaps with wildcards), in `queue`
    /// if given, is allowed. Plain entries decide for any subscription; a
    /// queue entry that matches the subject decides for queue
    /// subscriptions by whether it names the queue.
    pub fn may_subscribe(&self, subj: &[u8], queue: Option<&[u8]>) -> bool {
        let r = &self.subscribe;
        let mut allowed = true;
        if let Some(allow) = &r.allow {
            let (plain, queues) = matching(allow, subj);
            allowed = plain;
            if let Some(q) = queue {
                if !queues.is_empty() {
                    allowed = queues.iter().any(|p| subject::matches(p.as_bytes(), q));
                }
            }
        }
        if allowed && !r.deny.is_empty() {
            let (plain, queues) = matching(&r.deny, subj);
            allowed = !plain;
            if let Some(q) = queue {
                if !queues.is_empty() {
                    allowed = !queues.iter().any(|p| subject::matches(p.as_bytes(), q));
                }
            }
        }
        allowed
    }
}

impl Permissions {
    /// Whether a subscription to `subj` could receive messages on a denied
    /// subject (a wildcard that overlaps a deny entry).
    pub fn deny_overlaps(&self, subj: &[u8]) -> bool {
        let Ok(subj) = std::str::from_utf8(subj) else {
            return false;
        };
        subject::has_wildcard(subj.as_bytes())
            && self
                .subscribe
                .deny
                .iter()
                .any(|e| e.queue.is_none() && subject::subjects_overlap(&e.subject, subj))
    }

    /// Whether a message on `subj` is one the subscribe deny list keeps
    /// from this user.
    pub fn denies_delivery(&self, subj: &[u8]) -> bool {
        self.subscribe
            .deny
            .iter()
            .any(|e| e.queue.is_none() && subject::matches(e.subject.as_bytes(), subj))
    }
}

/// Whether a plain entry matches `subj`, and the queue patterns of the
/// queue entries that do.
fn matching<'a>(entries: &'a [Entry], subj: &[u8]) -> (bool, Vec<&'a str>) {
    let mut plain = false;
    let mut queues = Vec::new();
    for e in entries {
        if subject::matches(e.subject.as_bytes(), subj) {
            match &e.queue {
                Some(q) => queues.push(q.as_str()),
                None => plain = true,
            }
        }
    }
    (plain, queues)
}

/// Most subjects a connection's publish cache remembers before it starts
/// over (the reference keeps 128 and prunes).
const PUBLISH_CACHE_MAX: usize = 128;

/// A connection's publish verdicts, so the hot path does not walk the
/// lists per message.
#[derive(Debug, Default)]
pub struct PublishCache {
    seen: HashMap<Box<[u8]>, bool>,
}

impl PublishCache {
    pub fn may_publish(&mut self, perms: &Permissions, subj: &[u8]) -> bool {
        if let Some(&v) = self.seen.get(subj) {
            return v;
        }
        let v = perms.may_publish(subj);
        if self.seen.len() >= PUBLISH_CACHE_MAX {
            self.seen.clear();
        }
        self.seen.insert(subj.into(), v);
        v
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn entries(list: &[&str]) -> Vec<Entry> {
        list.iter().map(|t| Entry::parse(t)).collect()
    }

    fn perms(
        pub_allow: &[&str],
        pub_deny: &[&str],
        sub_allow: &[&str],
        sub_deny: &[&str],
    ) -> Permissions {
        let rules = |allow: &[&str], deny: &[&str]| Rules {
            allow: (!allow.is_empty()).then(|| entries(allow)),
            deny: entries(deny),
        };
        Permissions {
            publish: rules(pub_allow, pub_deny),
            subscribe: rules(sub_allow, sub_deny),
        }
    }

    #[test]
    fn publish_allow_then_deny() {
        let p = perms(&["foo.>", "_INBOX.>"], &["foo.secret"], &[], &[]);
        assert!(p.may_publish(b"foo.a"));
        assert!(p.may_publish(b"_INBOX.x.y"));
        assert!(!p.may_publish(b"foo.secret"));
        assert!(!p.may_publish(b"bar"));
        let open = perms(&[], &["x.*"], &[], &[]);
        assert!(open.may_publish(b"anything"));
        assert!(!open.may_publish(b"x.y"));
    }

    #[test]
    fn subscribe_wildcards_and_queues() {
        let p = perms(&[], &[], &["foo.>", "bar.* q1"], &["foo.secret"]);
        assert!(p.may_subscribe(b"foo.*", None));
        assert!(p.may_subscribe(b"foo.>", None));
        assert!(!p.may_subscribe(b">", None));
        assert!(!p.may_subscribe(b"foo.secret", None));
        // A queue entry allows only its queue, and no plain subscription.
        assert!(p.may_subscribe(b"bar.a", Some(b"q1")));
        assert!(!p.may_subscribe(b"bar.a", Some(b"q2")));
        assert!(!p.may_subscribe(b"bar.a", None));
        let deny_queue = perms(&[], &[], &[], &["baz q1"]);
        assert!(!deny_queue.may_subscribe(b"baz", Some(b"q1")));
        assert!(deny_queue.may_subscribe(b"baz", Some(b"q2")));
        assert!(deny_queue.may_subscribe(b"baz", None));
    }

    #[test]
    fn cache_agrees_and_stays_bounded() {
        let p = perms(&["ok.>"], &[], &[], &[]);
        let mut cache = PublishCache::default();
        for i in 0..1000 {
            let subj = format!("ok.{i}");
            assert!(cache.may_publish(&p, subj.as_bytes()));
            assert!(!cache.may_publish(&p, format!("no.{i}").as_bytes()));
        }
        assert!(cache.seen.len() <= PUBLISH_CACHE_MAX);
    }
}
