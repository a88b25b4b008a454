//! Differential conformance: seeded random sequences of JetStream
//! operations applied in lockstep to two servers, comparing every reply,
//! every delivery and the touched stream's state (with its consumers)
//! after each operation.
//!
//! - `ops`: the operations and the seeded generator; `rng` its numbers.
//! - `client`: a blocking client; `observe`: one target, rendering what it
//!   observed so that two servers compare equal.
//! - `lockstep`: the run, the comparison and the minimiser.
//! - `tests`: what CI runs (a few seeds against the reference, file
//!   storage against memory storage on tern), the regressions found, and
//!   the by-hand commands (many seeds, replay of a list).

mod client;
mod lockstep;
mod observe;
mod ops;
mod regressions;
mod rng;
mod tests;
