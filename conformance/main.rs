//! Conformance: raw-protocol scenarios run against tern and the reference
//! nats-server 2.14.0, comparing what clients observe.
//!
//! Each `#[test]` in `scenarios` is one scenario: a function that opens raw
//! TCP connections to a target, sends bytes and records a transcript
//! (`wire`). The runner (`runner`) starts one server per target (`harness`),
//! runs the scenario against each in parallel, normalizes the transcripts
//! (`transcript`: ids, ports and versions masked) and fails with a diff when
//! tern differs from the reference. Scenarios also state the exact bytes
//! they expect, so without the reference tern is still checked.

mod differential;
mod harness;
mod runner;
mod scenarios;
mod transcript;
mod wire;
