//! tern: a NATS-compatible messaging server.
//!
//! The path of a message: a connection's reader task reads into its buffer
//! and the parser (`proto::parse`) yields ops borrowing it. A PUB goes to the
//! account's router (`router`), which returns the matching subscriptions
//! (through a per-connection and a shared cache). Each receiver gets the
//! MSG frame appended to its outbound buffer (`client::Outbound`) and is
//! noted; once the whole read is processed, each noted writer task is woken
//! once and writes everything it has in one call. A receiver over its
//! pending limit is cut off as a slow consumer.
//!
//! # Layers
//!
//! Modules import only from layers below their own (checked by
//! `tests/layering.rs`), so the crate reads from the bottom up:
//!
//! 1. Leaves: `proto` (the wire: parser, writers, CONNECT), `permissions`,
//!    `ids`, `gotime`, `nkey`, `jwt`, `cert`, `tls`, `rate_limit`,
//!    `process`, `stats`, `syslog`.
//! 2. `handle`: what the router delivers to (outbound buffer or callback,
//!    and what monitoring shows of a connection); `log`.
//! 3. `router` (subscriptions by subject), then `account` (a router and
//!    its figures), then `deliver` (a match result to its handles).
//! 4. `auth` (users, operator trust), `config`, `info`.
//! 5. `server`: the shared state (accounts, the connection registry,
//!    internal clients); it knows nothing of sockets, JetStream or
//!    monitoring.
//! 6. `imports`, `inproc`, `js_audit`, `jetstream`, then `reload`, then
//!    `monitor`: each built on the server.
//! 7. `client`: the socket connection tasks, given their `Connection`
//!    and the `Stats` rather than reaching through the whole server for
//!    them.
//! 8. `lifecycle` (start, accept, stop) and `embed`.

#![warn(missing_docs)]

pub mod account;
pub mod auth;
pub(crate) mod cert;
pub(crate) mod client;
pub mod config;
pub(crate) mod deliver;
pub mod embed;
pub(crate) mod gotime;
pub mod handle;
pub(crate) mod ids;
pub(crate) mod imports;
pub(crate) mod info;
pub(crate) mod inproc;
pub(crate) mod jetstream;
pub(crate) mod js_audit;
pub mod jwt;
pub(crate) mod leaf;
pub mod lifecycle;
pub(crate) mod link;
pub mod log;
pub mod mapping;
pub(crate) mod monitor;
pub mod nkey;
pub mod peers;
pub mod permissions;
pub mod process;
pub mod proto;
pub(crate) mod rate_limit;
pub mod reload;
pub(crate) mod route;
pub mod router;
pub mod server;
pub mod stats;
pub(crate) mod syslog;
pub mod tls;
pub mod websocket;

pub use config::options::Options;
pub use lifecycle::{start, Running};
pub use server::Server;
