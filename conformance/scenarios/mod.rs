//! The scenarios, grouped by topic; each `#[test]` is one scenario.
//! Expected bytes come from the reference's observed behaviour.

mod accounts;
mod auth;
mod batch;
mod connect;
mod consumers;
mod delivery;
mod errors;
pub(crate) mod jetstream;
mod kv;
mod limits;
mod mappings;
mod monitor;
mod no_responders;
mod objstore;
mod operator;
mod parsing;
mod schedules;
mod sourcing;
mod tls;
mod websocket;
