//! Runs one scenario against every available target (in parallel threads,
//! one server each) and compares the transcripts. The test fails with a
//! report when tern's transcript differs from the reference's, or when any
//! target breaks the scenario's own expectations; the servers' logs are
//! printed only then.

use std::any::Any;
use std::fmt::Write as _;
use std::panic::{catch_unwind, AssertUnwindSafe};
use std::thread;

use crate::harness::{self, ServerProcess, ServerSpec, Target};
use crate::transcript::{diff, Transcript};
use crate::wire::Session;

pub type Scenario = fn(&mut Session);

/// Runs `scenario` on default servers.
pub fn run(name: &str, scenario: Scenario) {
    run_with(name, ServerSpec::default(), scenario);
}

/// Runs `scenario` on servers started with `spec`.
pub fn run_with(name: &str, spec: ServerSpec, scenario: Scenario) {
    let targets = harness::targets();
    let runs: Vec<(ServerProcess, Result<Transcript, String>)> = thread::scope(|scope| {
        let handles: Vec<_> = targets
            .iter()
            .map(|&target| scope.spawn(move || run_one(target, spec, scenario)))
            .collect();
        handles
            .into_iter()
            .map(|h| h.join().unwrap_or_else(|e| panic!("{}", panic_text(&*e))))
            .collect()
    });
    if let Some(report) = report(name, &runs) {
        // `runs` is dropped while unwinding: each server is killed and,
        // because the thread is panicking, prints its log.
        panic!("{report}");
    }
}

fn run_one(
    target: Target,
    spec: ServerSpec,
    scenario: Scenario,
) -> (ServerProcess, Result<Transcript, String>) {
    let server = ServerProcess::start(target, spec);
    let port = server.port;
    let outcome = catch_unwind(AssertUnwindSafe(|| {
        let mut session = Session::new(target, port);
        session.monitor_port = server.monitor_port;
        session.websocket_port = server.websocket_port;
        scenario(&mut session);
        session.into_transcript()
    }));
    (server, outcome.map_err(|e| panic_text(&*e)))
}

fn panic_text(payload: &(dyn Any + Send)) -> String {
    if let Some(s) = payload.downcast_ref::<&str>() {
        (*s).to_string()
    } else if let Some(s) = payload.downcast_ref::<String>() {
        s.clone()
    } else {
        "panic".to_string()
    }
}

/// The failure report, or `None` when the scenario passed.
fn report(name: &str, runs: &[(ServerProcess, Result<Transcript, String>)]) -> Option<String> {
    let mut out = String::new();
    for (server, outcome) in runs {
        match outcome {
            Err(panic) => {
                let _ = writeln!(out, "{} panicked in the scenario: {panic}", server.target);
            }
            Ok(t) if !t.violations.is_empty() => {
                let whose = match server.target {
                    Target::Tern => "tern breaks the scenario's expectations:",
                    Target::Reference => {
                        "nats-server breaks the scenario's expectations (the scenario is wrong):"
                    }
                };
                let _ = writeln!(out, "{whose}");
                for v in &t.violations {
                    let _ = writeln!(out, "  * {v}");
                }
            }
            Ok(_) => {}
        }
    }
    let transcript = |target| {
        runs.iter()
            .find(|(s, _)| s.target == target)
            .and_then(|(_, t)| t.as_ref().ok())
    };
    match (transcript(Target::Reference), transcript(Target::Tern)) {
        (Some(reference), Some(tern)) if reference.lines != tern.lines => {
            let _ = writeln!(
                out,
                "transcripts differ (-: only nats-server, +: only tern):\n{}",
                diff(&reference.lines, &tern.lines)
            );
        }
        (None, Some(tern)) if !out.is_empty() => {
            let _ = writeln!(out, "tern transcript:\n{}", tern.lines.join("\n"));
        }
        _ => {}
    }
    (!out.is_empty()).then(|| format!("conformance scenario `{name}` failed\n{out}"))
}
