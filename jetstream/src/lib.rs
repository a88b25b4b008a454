//! tern-jetstream: JetStream storage and state machines for tern.
//!
//! It knows nothing about sockets: the server hands it messages and gets back
//! acks and deliveries. For now it holds the subject grammar, which the
//! server's router shares with the stores' filter subjects.

pub mod api;
pub mod duration;
pub mod error;
pub mod headers;
pub mod store;
pub mod subject;
