//! Runs one list of operations on two servers in lockstep, comparing what
//! each observes after every operation, and shrinks a diverging list to a
//! short one that still diverges.

use std::fmt::Write as _;
use std::thread;
use std::time::{Duration, Instant};

use super::observe::Side;
use super::ops::Op;
use crate::harness::{ServerProcess, ServerSpec, Target};
use crate::transcript::diff;

const JS: ServerSpec = ServerSpec {
    conf: None,
    jetstream: true,
    monitor: false,
};

/// How often, and how far apart, the states are looked at again when only
/// they differ: up to half a second, as nats-server also settles a pending
/// message its store removed on a goroutine of its own, which a loaded
/// machine can hold back that long (seen: a 2,000-seed run).
const SETTLE_LOOKS: u32 = 20;
const SETTLE_PAUSE: Duration = Duration::from_millis(25);

/// The minimiser stops trying after this long and reports what it has.
const MINIMISE_BUDGET: Duration = Duration::from_secs(240);

/// Which two servers are compared.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Pair {
    /// nats-server (left) against tern (right).
    ReferenceVsTern,
    /// tern with every stream on file storage (left) against tern with
    /// every stream in memory (right).
    FileVsMemory,
    /// nats-server against itself: what the harness cannot hold constant.
    ReferenceVsReference,
}

impl Pair {
    fn sides(self) -> [(Target, Option<&'static str>, &'static str); 2] {
        match self {
            Pair::ReferenceVsTern => [
                (Target::Reference, None, "nats-server"),
                (Target::Tern, None, "tern"),
            ],
            Pair::FileVsMemory => [
                (Target::Tern, Some("file"), "tern (file)"),
                (Target::Tern, Some("memory"), "tern (memory)"),
            ],
            Pair::ReferenceVsReference => [
                (Target::Reference, None, "nats-server A"),
                (Target::Reference, None, "nats-server B"),
            ],
        }
    }
}

/// Two running servers.
pub struct Servers {
    pair: Pair,
    procs: [ServerProcess; 2],
}

impl Servers {
    pub fn start(pair: Pair) -> Servers {
        let [a, b] = pair.sides();
        let (pa, pb) = thread::scope(|s| {
            let ha = s.spawn(|| ServerProcess::start(a.0, JS));
            let hb = s.spawn(|| ServerProcess::start(b.0, JS));
            (
                ha.join().expect("start left server"),
                hb.join().expect("start right server"),
            )
        });
        Servers {
            pair,
            procs: [pa, pb],
        }
    }

    /// The servers' logs, for a report.
    pub fn logs(&self) -> String {
        let names = self.pair.sides();
        let mut out = String::new();
        for (p, n) in self.procs.iter().zip(names) {
            let log = p.log();
            let tail: Vec<&str> = log.lines().rev().take(40).collect();
            let _ = writeln!(out, "----- {} log (last lines) -----", n.2);
            for l in tail.into_iter().rev() {
                let _ = writeln!(out, "{l}");
            }
        }
        out
    }
}

/// Where two servers first observed different things.
#[derive(Debug)]
pub struct Divergence {
    /// The index of the operation after which they differed.
    pub index: usize,
    pub text: String,
    /// The reference itself failed (it could not create a stream's
    /// files): not a difference in behaviour, the run is inconclusive.
    pub reference_fault: bool,
}

/// What nats-server answers when it cannot set up a stream's files (seen
/// when a file stream is created again right after its deletion).
const REFERENCE_STORE_FAULT: &str = "err_code = 10049";

/// Applies `ops` to both servers from a clean slate, comparing after each.
pub fn run(servers: &Servers, ops: &[Op]) -> Result<(), Divergence> {
    let sides = servers.pair.sides();
    let mut left = connect(&servers.procs[0], sides[0].1)?;
    let mut right = connect(&servers.procs[1], sides[1].1)?;
    for (index, op) in ops.iter().enumerate() {
        let (a, b) = both(&mut left, &mut right, |side| side.apply(op));
        let (mut sa, mut sb) = both(&mut left, &mut right, |side| side.state_after(op));
        // Counts a server updates after it has answered (nats-server
        // counts a consumer's pending messages, and settles removed
        // pending ones, on goroutines of their own) get a few looks
        // before the states count as different.
        let mut looks = 0;
        while a == b && sa != sb && looks < SETTLE_LOOKS {
            thread::sleep(SETTLE_PAUSE);
            (sa, sb) = both(&mut left, &mut right, |side| side.state_after(op));
            looks += 1;
        }
        let a: Vec<String> = a.into_iter().chain(sa).collect();
        let b: Vec<String> = b.into_iter().chain(sb).collect();
        if let Some(show) = std::env::var_os("TERN_DIFF_SHOW") {
            // By hand: what one side observed (`right`, else the left),
            // operation by operation.
            eprintln!("#{index} {}", op.to_line());
            let shown = if show == "right" { &b } else { &a };
            for line in shown {
                eprintln!("    {line}");
            }
        }
        if a != b {
            let reference_fault = servers.pair != Pair::FileVsMemory
                && a.iter().any(|l| l.contains(REFERENCE_STORE_FAULT));
            let text = format!(
                "after operation {index} ({}), -: {}, +: {}\n{}",
                op.to_line(),
                sides[0].2,
                sides[1].2,
                diff(&a, &b)
            );
            return Err(Divergence {
                index,
                text,
                reference_fault,
            });
        }
    }
    Ok(())
}

/// Runs `step` on both sides at once; a side's failure is what it observed.
fn both(
    left: &mut Side,
    right: &mut Side,
    step: impl Fn(&mut Side) -> std::io::Result<Vec<String>> + Sync,
) -> (Vec<String>, Vec<String>) {
    let (a, b) = thread::scope(|s| {
        let ha = s.spawn(|| step(left));
        let hb = s.spawn(|| step(right));
        (ha.join(), hb.join())
    });
    let side = |r: thread::Result<std::io::Result<Vec<String>>>| match r {
        Ok(Ok(lines)) => lines,
        Ok(Err(e)) => vec![format!("connection failed: {e}")],
        Err(_) => vec!["the side panicked".to_string()],
    };
    (side(a), side(b))
}

fn connect(server: &ServerProcess, storage: Option<&'static str>) -> Result<Side, Divergence> {
    let mut side = Side::connect(server.port, storage).map_err(|e| Divergence {
        index: 0,
        text: format!("cannot connect to {}: {e}", server.target),
        reference_fault: false,
    })?;
    side.reset().map_err(|e| Divergence {
        index: 0,
        text: format!("cannot reset {}: {e}", server.target),
        reference_fault: false,
    })?;
    Ok(side)
}

/// Shrinks `ops` (which diverge) to a shorter list that still diverges:
/// the list is cut after the diverging operation, then chunks of halving
/// size are dropped while the lists still diverge at that operation.
pub fn minimise(servers: &Servers, ops: &[Op], first: Divergence) -> (Vec<Op>, Divergence) {
    let started = Instant::now();
    let mut best = ops[..=first.index].to_vec();
    let mut found = first;
    let mut chunk = best.len().div_ceil(2);
    while chunk >= 1 && started.elapsed() < MINIMISE_BUDGET {
        let mut at = 0;
        // The last operation is where they differ: keep it.
        while at + 1 < best.len() && started.elapsed() < MINIMISE_BUDGET {
            let end = (at + chunk).min(best.len() - 1);
            let mut candidate = best[..at].to_vec();
            candidate.extend_from_slice(&best[end..]);
            match run(servers, &candidate) {
                // Still at the operation where they first differed: a
                // divergence that moved earlier may be another one (even a
                // documented reference bug the generator avoids).
                Err(d) if !d.reference_fault && d.index + 1 == candidate.len() => {
                    best = candidate;
                    found = d;
                }
                _ => at = end,
            }
        }
        if chunk == 1 {
            break;
        }
        chunk = chunk.div_ceil(2).max(1);
        if chunk == 2 {
            chunk = 1;
        }
    }
    (best, found)
}

/// The report for a diverging list: the first divergence, the minimised
/// list (replayable: save the lines to a file, `TERN_DIFF_REPLAY=<file>`)
/// and its divergence.
pub fn report(servers: &Servers, label: &str, ops: &[Op], first: Divergence) -> String {
    let mut out = format!("{label}: divergence\n{}\n", first.text);
    let (small, d) = minimise(servers, ops, first);
    let _ = writeln!(
        out,
        "minimised to {} operation(s) (replay these lines):",
        small.len()
    );
    for op in &small {
        let _ = writeln!(out, "{}", op.to_line());
    }
    let _ = writeln!(out, "which diverge {}", d.text);
    out
}
