//! The NATS client protocol: a resumable parser over the read buffer and the
//! writers for the frames the server sends.

pub mod connect;
pub mod parse;
pub mod write;

pub use parse::{Op, ParseError, Parser};
