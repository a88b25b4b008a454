//! tern-jetstream: JetStream storage and state machines for tern.
//!
//! It knows nothing about sockets: the server hands it messages and gets back
//! acks and deliveries through an `engine::Outbox`. `engine` runs the API
//! and the registry of streams; a pool of shard threads (`writer`) runs
//! the streams, each shard owning its streams' state machines (`stream`)
//! and stores (`store`), committing publishes in groups and keeping a
//! failure inside its stream. `subject` is the subject grammar the
//! server's router shares.

#![warn(missing_docs)]

pub(crate) mod advisory;
pub mod api;
mod atomic_batch;
mod backup;
mod config;
pub mod consumer;
mod counter;
pub mod duration;
pub mod engine;
pub mod error;
mod fast_batch;
pub mod headers;
pub mod metrics;
pub(crate) mod msg_api;
mod outbox;
mod registry;
mod schedule;
mod sourcing;
pub mod store;
pub mod stream;
mod stream_backup;
mod stream_batches;
mod stream_consumers;
mod stream_schedules;
mod stream_sourcing;
pub mod subject;
mod subject_index;
pub mod transform;
pub mod writer;
