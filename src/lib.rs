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

pub mod account;
pub mod auth;
pub mod cert;
pub mod client;
pub mod config;
pub mod embed;
pub mod imports;
pub mod info;
pub mod inproc;
pub mod jetstream;
pub mod js_audit;
pub mod jwt;
pub mod log;
pub mod monitor;
pub mod nkey;
pub mod operator;
pub mod permissions;
pub mod process;
pub mod proto;
pub mod rate_limit;
pub mod reload;
pub mod router;
pub mod server;
pub mod syslog;
pub mod tls;

pub use config::options::Options;
pub use server::{start, Running, Server};
