//! What a user may publish to and subscribe to (`permissions { publish,
//! subscribe }`), checked as nats-server checks them: an allow list (none:
//! everything) then a deny list, patterns matched against the subject's
//! tokens taken literally (so `foo.>` allows subscribing to `foo.*`).
//! Subscribe entries may name a queue group (`"foo.> q1"`).

use std::collections::HashMap;
use std::time::{Duration, Instant};

use parking_lot::Mutex;

use tern_jetstream::subject;

/// One allow-or-deny list.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Rules {
    /// `allow`: subjects permitted; `None` permits every subject not denied.
    pub allow: Option<Vec<Entry>>,
    /// `deny`: subjects refused even when allowed.
    pub deny: Vec<Entry>,
}

/// A subject pattern, with a queue group pattern for subscribe entries.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Entry {
    /// The subject pattern, wildcards allowed.
    pub subject: String,
    /// For subscribe entries: the queue group pattern the entry is limited to.
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
    /// What it may publish to.
    pub publish: Rules,
    /// What it may subscribe to.
    pub subscribe: Rules,
    /// `allow_responses`: may publish to the reply subjects of messages it
    /// received, up to `max` times each, within `expires`.
    pub responses: Option<ResponseRule>,
}

/// `allow_responses: true` (one response within two minutes, the
/// reference's defaults) or `{ max, expires }`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ResponseRule {
    /// Responses allowed to one reply subject.
    pub max: u32,
    /// How long a reply subject stays open after the request was delivered;
    /// zero: until `max` is used up.
    pub expires: Duration,
}

impl Default for ResponseRule {
    fn default() -> Self {
        ResponseRule {
            max: 1,
            expires: Duration::from_secs(120),
        }
    }
}

/// How many reply subjects a connection remembers at most (the
/// reference's limit); past it, expired and then oldest ones go.
const RESPONSES_MAX: usize = 4096;

/// The reply subjects a connection with response permission may answer,
/// recorded as messages are delivered to it (on the publisher's task, so
/// behind a lock; only such connections have one).
#[derive(Debug)]
pub struct Responses {
    rule: ResponseRule,
    open: Mutex<HashMap<Box<[u8]>, OpenReply>>,
}

/// When a reply subject was recorded and how many responses went to it.
type OpenReply = (Instant, u32);

impl Responses {
    /// An empty record of reply subjects, under `rule`.
    pub fn new(rule: ResponseRule) -> Responses {
        Responses {
            rule,
            open: Mutex::new(HashMap::new()),
        }
    }

    /// A message with reply subject `reply` was delivered.
    pub fn record(&self, reply: &[u8]) {
        let now = Instant::now();
        let mut open = self.open.lock();
        if open.len() >= RESPONSES_MAX && !open.contains_key(reply) {
            let expires = self.rule.expires;
            open.retain(|_, (at, _)| expires.is_zero() || now.duration_since(*at) < expires);
            if open.len() >= RESPONSES_MAX {
                if let Some(oldest) = open
                    .iter()
                    .min_by_key(|(_, (at, _))| *at)
                    .map(|(k, _)| k.clone())
                {
                    open.remove(&oldest);
                }
            }
        }
        open.insert(reply.into(), (now, 0));
    }

    /// Takes one response to `subject`, if it is an open reply subject.
    pub fn take(&self, subject: &[u8]) -> bool {
        let mut open = self.open.lock();
        let Some((at, sent)) = open.get_mut(subject) else {
            return false;
        };
        let expires = self.rule.expires;
        if !expires.is_zero() && at.elapsed() >= expires {
            open.remove(subject);
            return false;
        }
        *sent += 1;
        if self.rule.max > 0 && *sent >= self.rule.max {
            open.remove(subject);
        }
        true
    }
}

impl Permissions {
    /// The permissions as the reference shows them (`$SYS.REQ.USER.INFO`):
    /// `publish`/`subscribe` with `allow` and `deny` lists, empty ones
    /// left out, and `responses`.
    pub fn to_json(&self) -> serde_json::Value {
        let rules = |r: &Rules| {
            let list = |l: &[Entry]| -> Vec<String> {
                l.iter()
                    .map(|e| match &e.queue {
                        Some(q) => format!("{} {q}", e.subject),
                        None => e.subject.clone(),
                    })
                    .collect()
            };
            let mut m = serde_json::Map::new();
            if let Some(allow) = r.allow.as_deref().filter(|a| !a.is_empty()) {
                m.insert("allow".into(), list(allow).into());
            }
            if !r.deny.is_empty() {
                m.insert("deny".into(), list(&r.deny).into());
            }
            m
        };
        let mut v = serde_json::Map::new();
        for (name, r) in [("publish", &self.publish), ("subscribe", &self.subscribe)] {
            let m = rules(r);
            if !m.is_empty() {
                v.insert(name.into(), serde_json::Value::Object(m));
            }
        }
        if let Some(resp) = &self.responses {
            v.insert(
                "responses".into(),
                serde_json::json!({
                    "max": resp.max,
                    "ttl": u64::try_from(resp.expires.as_nanos()).unwrap_or(u64::MAX),
                }),
            );
        }
        serde_json::Value::Object(v)
    }

    /// Whether publishing to the literal `subj` is allowed.
    pub fn may_publish(&self, subj: &[u8]) -> bool {
        let r = &self.publish;
        // Response permission turns off the blanket allow, as in the
        // reference: only listed subjects and open replies.
        if r.allow.is_none() && self.responses.is_some() {
            return false;
        }
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
    /// The last subject and its verdict: a publisher mostly repeats its
    /// subject, and comparing bytes costs less than hashing them.
    last: Vec<u8>,
    last_verdict: bool,
}

impl PublishCache {
    /// Whether `perms` let the connection publish to `subj`, from the cache
    /// when this subject was judged before.
    #[inline]
    pub fn may_publish(&mut self, perms: &Permissions, subj: &[u8]) -> bool {
        if !self.last.is_empty() && self.last == subj {
            return self.last_verdict;
        }
        let v = match self.seen.get(subj) {
            Some(&v) => v,
            None => {
                let v = perms.may_publish(subj);
                if self.seen.len() >= PUBLISH_CACHE_MAX {
                    self.seen.clear();
                }
                self.seen.insert(subj.into(), v);
                v
            }
        };
        self.last.clear();
        self.last.extend_from_slice(subj);
        self.last_verdict = v;
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
            responses: None,
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
    fn responses_open_and_close() {
        let r = Responses::new(ResponseRule {
            max: 2,
            expires: Duration::ZERO,
        });
        assert!(!r.take(b"_INBOX.a"));
        r.record(b"_INBOX.a");
        assert!(r.take(b"_INBOX.a"));
        assert!(r.take(b"_INBOX.a"));
        assert!(!r.take(b"_INBOX.a"));
        let expiring = Responses::new(ResponseRule {
            max: 0,
            expires: Duration::from_millis(1),
        });
        expiring.record(b"r");
        std::thread::sleep(Duration::from_millis(5));
        assert!(!expiring.take(b"r"));
        let bounded = Responses::new(ResponseRule::default());
        for i in 0..(RESPONSES_MAX + 10) {
            bounded.record(format!("r.{i}").as_bytes());
        }
        assert!(bounded.open.lock().len() <= RESPONSES_MAX);
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
