//! Accounts: each has its own subject space (router). The default `$G`
//! holds clients of a server without `accounts`; named accounts come from
//! the config, with their users, JetStream, and the streams and services
//! they export to and import from each other. Every client, socket or
//! internal, belongs to exactly one.

use std::sync::atomic::{AtomicU64, Ordering};

use crate::router::Router;

/// The default account's name.
pub const GLOBAL_ACCOUNT: &str = "$G";
/// The system account's name when `system_account` does not name one.
pub const SYSTEM_ACCOUNT: &str = "$SYS";

pub struct Account {
    pub name: String,
    pub router: Router,
    pub stats: AccountStats,
}

/// An account's traffic (`/accstatz`, `$SYS.REQ.ACCOUNT.<acc>.STATZ`):
/// messages its clients published, counted once per read batch; what its
/// clients received is summed from their outbound counts when asked.
#[derive(Default)]
pub struct AccountStats {
    pub in_msgs: AtomicU64,
    pub in_bytes: AtomicU64,
    /// Sent to clients of this account that have closed.
    pub closed_out_msgs: AtomicU64,
    pub closed_out_bytes: AtomicU64,
    pub slow_consumers: AtomicU64,
}

impl Account {
    pub fn new(name: &str) -> Self {
        Account {
            name: name.to_string(),
            router: Router::new(),
            stats: AccountStats::default(),
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
    pub name: String,
    /// `jetstream: enabled` or a limits block.
    pub jetstream: Option<AccountJetStream>,
    pub exports: Vec<Export>,
    pub imports: Vec<Import>,
}

/// An account's JetStream limits (`-1`/absent: unlimited, as the
/// reference writes them).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct AccountJetStream {
    pub max_memory: Option<i64>,
    pub max_storage: Option<i64>,
    pub max_streams: Option<i64>,
    pub max_consumers: Option<i64>,
}

/// Whether an export or import is of a stream (messages flow from the
/// exporter) or of a service (requests flow to it, replies back).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
#[non_exhaustive]
pub enum Kind {
    Stream,
    Service,
}

impl Kind {
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
    #[default]
    Singleton,
    Stream,
    Chunked,
}

/// A subject an account offers to others.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Export {
    pub kind: Kind,
    pub subject: String,
    /// Who may import it; empty: any account.
    pub accounts: Vec<String>,
    pub response_type: ResponseType,
}

/// A subject an account takes from another's export.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Import {
    pub kind: Kind,
    /// The exporting account.
    pub account: String,
    /// The subject in the exporting account.
    pub subject: String,
    /// Where it appears here: a stream's `prefix` + subject, or `to` (a
    /// service's local subject, a stream's mapped one); else `subject`.
    pub local: Local,
}

#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Local {
    Same,
    Prefix(String),
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
