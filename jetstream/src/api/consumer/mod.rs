//! The consumer endpoints' JSON (`$JS.API.CONSUMER.*`): the configuration
//! and its checks, what info replies hold, and the request/response
//! bodies. Pure data: the consumer engine keeps the state and calls these.
//!
//! A create request flows: [`crate::api::decode`] a
//! [`CreateConsumerRequest`], [`CreateConsumerRequest::check_subject`],
//! [`ConsumerConfig::validate`] against the stream, then
//! [`decide_action`] against an existing consumer of that name (or
//! [`check_new_consumer`] when there is none), then
//! [`ConsumerConfig::set_static_metadata`] before storing.

mod config;
mod info;
mod requests;
mod validate;

pub use config::*;
pub use info::*;
pub use requests::*;
pub use validate::*;

#[cfg(test)]
mod tests;
