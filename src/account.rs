//! Accounts: each has its own subject space (router). The default `$G`
//! holds clients of a server without `accounts`; named accounts come from
//! the config, with their users, JetStream, and the streams and services
//! they export to and import from each other. Every client, socket or
//! internal, belongs to exactly one.

use std::sync::atomic::{AtomicBool, AtomicU64, Ordering};
use std::sync::Arc;

use crate::mapping::{Mapped, Mappings};
use crate::router::Router;

/// The default account's name.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name when `system_account` does not name one.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

/// One account at run time: its subject space and its traffic counts.
/// Shared by every client in it.
pub struct Account {
    /// The account's name (`$G`, `$SYS`, or a configured one).
    pub name: String,
    /// The account's subscriptions; subjects never cross accounts except
    /// through exports and imports.
    pub router: Router,
    /// What the account's clients sent, and its slow consumers.
    pub stats: AccountStats,
    /// `mappings`, replaced whole on reload.
    mappings: parking_lot::RwLock<Option<Arc<Mappings>>>,
    /// Whether it has any (or a JetStream domain): a publish in an
    /// account without them reads this flag only.
    mapped: AtomicBool,
    /// `$JS.<domain>.API.`: this server's JetStream by its domain, mapped
    /// onto `$JS.API.` (as the reference maps it for every account but
    /// the system account).
    js_domain_api: parking_lot::RwLock<Option<Vec<u8>>>,
}

/// An account's traffic (`/accstatz`, `$SYS.REQ.ACCOUNT.<acc>.STATZ`):
/// messages its clients published, counted once per read batch; what its
/// clients received is summed from their outbound counts when asked.
#[derive(Default)]
pub struct AccountStats {
    /// Messages its clients published.
    pub in_msgs: AtomicU64,
    /// Bytes (headers and payload) of those messages.
    pub in_bytes: AtomicU64,
    /// Sent to clients of this account that have closed.
    pub closed_out_msgs: AtomicU64,
    /// Bytes of those messages.
    pub closed_out_bytes: AtomicU64,
    /// Its clients cut off as slow consumers since the server started.
    pub slow_consumers: AtomicU64,
}

impl Account {
    /// An account with no subscriptions and zeroed counts.
    pub fn new(name: &str) -> Self {
        Account {
            name: name.to_string(),
            router: Router::new(),
            stats: AccountStats::default(),
            mappings: parking_lot::RwLock::new(None),
            mapped: AtomicBool::new(false),
            js_domain_api: parking_lot::RwLock::new(None),
        }
    }

    /// Maps `$JS.<domain>.API.>` onto `$JS.API.>` in this account.
    pub fn set_js_domain(&self, domain: &str) {
        *self.js_domain_api.write() = Some(format!("$JS.{domain}.API.").into_bytes());
        self.mapped.store(true, Ordering::Release);
    }

    /// Installs the account's mappings (`None` or empty: none).
    pub fn set_mappings(&self, mappings: Option<Arc<Mappings>>) {
        let mappings = mappings.filter(|m| !m.is_empty());
        let domain = self.js_domain_api.read().is_some();
        self.mapped
            .store(mappings.is_some() || domain, Ordering::Release);
        *self.mappings.write() = mappings;
    }

    /// Where a client's publish to `subject` goes, by the mappings.
    pub fn map_subject(&self, subject: &[u8]) -> Mapped {
        if !self.mapped.load(Ordering::Acquire) {
            return Mapped::Keep;
        }
        if let Some(prefix) = &*self.js_domain_api.read() {
            if let Some(rest) = subject.strip_prefix(prefix.as_slice()) {
                let rest = String::from_utf8_lossy(rest);
                return Mapped::To(format!("$JS.API.{rest}").into());
            }
        }
        match &*self.mappings.read() {
            Some(m) => m.select(subject),
            None => Mapped::Keep,
        }
    }

    /// Counts a read batch's publishes.
    pub fn count_inbound(&self, msgs: u64, bytes: u64) {
        self.stats.in_msgs.fetch_add(msgs, Ordering::Relaxed);
        self.stats.in_bytes.fetch_add(bytes, Ordering::Relaxed);
    }
}

/// An account as the config declares it (users join the auth list with
/// their account's name).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountConfig {
    /// The account's name, as clients and monitoring see it.
    pub name: String,
    /// `jetstream: enabled` or a limits block.
    pub jetstream: Option<AccountJetStream>,
    /// Subjects it offers to other accounts (`exports`).
    pub exports: Vec<Export>,
    /// Subjects it takes from other accounts' exports (`imports`).
    pub imports: Vec<Import>,
    /// `mappings`: publishes routed under other subjects.
    pub mappings: Option<Arc<crate::mapping::Mappings>>,
}

/// An account's JetStream limits (`-1`/absent: unlimited, as the
/// reference writes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountJetStream {
    /// `max_memory` (`max_mem`): bytes of memory storage its streams may use.
    pub max_memory: Option<i64>,
    /// `max_store` (`max_file`): bytes of file storage its streams may use.
    pub max_storage: Option<i64>,
    /// `max_streams`: how many streams it may have.
    pub max_streams: Option<i64>,
    /// `max_consumers`: how many consumers each of its streams may have.
    pub max_consumers: Option<i64>,
    /// `max_bytes_required` (`max_stream_bytes`, `max_bytes`): every
    /// stream must set `max_bytes`.
    pub max_bytes_required: bool,
    /// `mem_max_stream_bytes`: the largest `max_bytes` a memory stream may set.
    pub memory_max_stream_bytes: Option<i64>,
    /// `disk_max_stream_bytes`: the largest `max_bytes` a file stream may set.
    pub storage_max_stream_bytes: Option<i64>,
    /// `max_ack_pending`: the most unacked messages a consumer may allow.
    pub max_ack_pending: Option<i64>,
}

/// Whether an export or import is of a stream (messages flow from the
/// exporter) or of a service (requests flow to it, replies back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    /// Messages published on the subject in one account appear in another.
    Stream,
    /// Requests on the subject go to the exporting account's responders, and
    /// their replies come back.
    Service,
}

impl Kind {
    /// The word the config and JWT claims use for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Stream => "stream",
            Kind::Service => "service",
        }
    }
}

/// How many replies a service import forwards back for one request.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
#[non_exhaustive]
pub enum ResponseType {
    /// One reply per request: the first closes it (the default).
    #[default]
    Singleton,
    /// Any number of replies, until an empty one or the response threshold.
    Stream,
    /// A reply sent in chunks, ended by an empty one; tern forwards it as it
    /// does `Stream`.
    Chunked,
}

/// A subject an account offers to others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    /// A stream or a service.
    pub kind: Kind,
    /// The subject offered, wildcards allowed.
    pub subject: String,
    /// Who may import it; empty: any account.
    pub accounts: Vec<String>,
    /// For a service: how many replies one request may get.
    pub response_type: ResponseType,
}

/// A subject an account takes from another's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    /// A stream or a service; must match the export.
    pub kind: Kind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// Where it appears here: a stream's `prefix` + subject, or `to` (a
    /// service's local subject, a stream's mapped one); else `subject`.
    pub local: Local,
}

/// Where an import's subject appears in the importing account.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Local {
    /// Under the same subject as in the exporting account.
    Same,
    /// A stream import's `prefix`, put before the subject with a dot.
    Prefix(String),
    /// The `to` subject, a service's local name or a stream's mapping; its
    /// wildcards take the tokens the exported subject's wildcards matched.
    To(String),
}

impl Import {
    /// The subject this import listens on in the importing account.
    pub fn local_subject(&self) -> String {
        match &self.local {
            Local::Same => self.subject.clone(),
            Local::Prefix(p) => format!("{p}.{}", self.subject),
            Local::To(to) => to.clone(),
        }
    }
}

/// Maps `subject`, a match of `from`, onto `to`: wildcard tokens of `to`
/// take the tokens `from`'s wildcards matched, in order (`>` the rest).
/// A literal `to` is returned as it is.
pub fn map_subject(from: &str, to: &str, subject: &[u8]) -> Vec<u8> {
    let tokens: Vec<&[u8]> = subject.split(|&b| b == b'.').collect();
    let mut captured: Vec<Vec<u8>> = Vec::new();
    for (i, t) in from.split('.').enumerate() {
        match t {
            "*" => captured.push(tokens.get(i).map(|t| t.to_vec()).unwrap_or_default()),
            ">" => {
                captured.push(tokens.get(i..).map(|r| r.join(&b'.')).unwrap_or_default());
                break;
            }
            _ => {}
        }
    }
    let mut captured = captured.into_iter();
    let mut out = Vec::with_capacity(to.len() + subject.len());
    for (i, t) in to.split('.').enumerate() {
        if i > 0 {
            out.push(b'.');
        }
        match t {
            "*" | ">" => out.extend_from_slice(&captured.next().unwrap_or_default()),
            _ => out.extend_from_slice(t.as_bytes()),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subjects_map_through_wildcards() {
        assert_eq!(map_subject("a.*.c", "x.*", b"a.b.c"), b"x.b");
        assert_eq!(map_subject("a.>", "x.>", b"a.b.c"), b"x.b.c");
        assert_eq!(map_subject("a.b", "x.y", b"a.b"), b"x.y");
        assert_eq!(map_subject("a.*.>", "q.*.>", b"a.1.2.3"), b"q.1.2.3");
    }

    #[test]
    fn local_subjects() {
        let mut i = Import {
            kind: Kind::Stream,
            account: "A".into(),
            subject: "events.>".into(),
            local: Local::Prefix("fromA".into()),
        };
        assert_eq!(i.local_subject(), "fromA.events.>");
        i.local = Local::Same;
        assert_eq!(i.local_subject(), "events.>");
    }
}
