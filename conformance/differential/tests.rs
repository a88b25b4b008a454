//! Differential runs: a few seeds in CI, thousands by hand.
//!
//! By hand (release build; each seed takes a few seconds):
//!
//! ```text
//! TERN_DIFF_SEEDS=1-2000 TERN_DIFF_PAIR=reference \
//!   cargo test --release --test conformance differential_seeds_by_hand -- --ignored --nocapture
//! TERN_DIFF_REPLAY=ops.jsonl \
//!   cargo test --release --test conformance differential_replay -- --ignored --nocapture
//! ```
//!
//! `TERN_DIFF_PAIR` is `reference` (nats-server against tern, the
//! default), `storage` (tern's file store against its memory store) or
//! `self` (nats-server against itself, to see what varies between runs of
//! the reference); `TERN_DIFF_OPS` is the length of each sequence (150).

#![cfg(test)]

use std::io::Write as _;
use std::time::Instant;

use super::lockstep::{self, Pair, Servers};
use super::ops::{for_storage_pair, generate, Op};
use crate::harness::reference_binary;

/// Operations per seed.
const OPS: usize = 150;
/// Seeds CI runs for each pair.
const CI_SEEDS: std::ops::RangeInclusive<u64> = 1..=10;

fn say(text: &str) {
    // Straight to stderr so the harness's capture does not hide progress.
    let _ = writeln!(std::io::stderr(), "{text}");
}

/// Runs each seed; returns the reports of those that diverged.
///
/// Against the reference, a seed that diverges is run once more: one that
/// then runs clean met a race of the reference's (see "Reference races" in
/// conformance/README.md). It is printed and counted as unstable, not as
/// a divergence. tern against itself gets no second chance.
fn run_seeds(pair: Pair, seeds: impl IntoIterator<Item = u64>, ops: usize) -> Vec<String> {
    let servers = Servers::start(pair);
    let mut reports = Vec::new();
    let (mut ran, mut faults, mut unstable, started) = (0, 0, 0, Instant::now());
    for seed in seeds {
        let list = match pair {
            Pair::FileVsMemory => for_storage_pair(generate(seed, ops)),
            _ => generate(seed, ops),
        };
        ran += 1;
        match lockstep::run(&servers, &list) {
            Err(d) if d.reference_fault => {
                faults += 1;
                say(&format!(
                    "seed {seed}: inconclusive, the reference failed: {}",
                    d.text
                ));
            }
            Err(d) if pair == Pair::ReferenceVsTern && lockstep::run(&servers, &list).is_ok() => {
                unstable += 1;
                say(&format!(
                    "seed {seed}: unstable, diverged once and ran clean again: {}",
                    d.text
                ));
            }
            Err(d) => {
                let report = lockstep::report(&servers, &format!("seed {seed}"), &list, d);
                say(&report);
                reports.push(report);
            }
            Ok(()) => {}
        }
        if ran % 50 == 0 {
            say(&format!(
                "{ran} seeds, {} diverged, {:.0?}",
                reports.len(),
                started.elapsed()
            ));
        }
    }
    say(&format!(
        "{pair:?}: {ran} seeds of {ops} operations, {} diverged, {unstable} unstable (diverged once, clean again), {faults} inconclusive (reference failed), {:.1?}",
        reports.len(),
        started.elapsed()
    ));
    reports
}

/// `1-2000`, `7`, or a comma list of either.
fn parse_seeds(text: &str) -> Vec<u64> {
    let mut seeds = Vec::new();
    for part in text.split(',').map(str::trim).filter(|p| !p.is_empty()) {
        let number = |s: &str| {
            s.trim()
                .parse::<u64>()
                .expect("TERN_DIFF_SEEDS: a seed number")
        };
        match part.split_once('-') {
            Some((a, b)) => seeds.extend(number(a)..=number(b)),
            None => seeds.push(number(part)),
        }
    }
    seeds
}

fn replay(pair: Pair, label: &str, lines: &str) {
    let ops: Vec<Op> = lines
        .lines()
        .map(str::trim)
        .filter(|l| !l.is_empty() && !l.starts_with('#'))
        .map(|l| Op::from_line(l).unwrap_or_else(|e| panic!("{label}: bad line {l}: {e}")))
        .collect();
    let servers = Servers::start(pair);
    if let Err(d) = lockstep::run(&servers, &ops) {
        panic!("{label} diverges {}\n{}", d.text, servers.logs());
    }
}

/// The reference when it is installed; otherwise a note and `None`.
fn reference_pair() -> Option<Pair> {
    if reference_binary().is_some() {
        Some(Pair::ReferenceVsTern)
    } else {
        say("reference nats-server not found: the differential run against it is skipped");
        None
    }
}

#[test]
fn differential_reference_ci_seeds() {
    let Some(pair) = reference_pair() else { return };
    let reports = run_seeds(pair, CI_SEEDS, OPS);
    assert!(reports.is_empty(), "{}", reports.join("\n"));
}

#[test]
fn differential_file_vs_memory_ci_seeds() {
    let reports = run_seeds(Pair::FileVsMemory, CI_SEEDS, OPS);
    assert!(reports.is_empty(), "{}", reports.join("\n"));
}

#[test]
#[ignore = "by hand: TERN_DIFF_SEEDS=1-2000 (see the module docs)"]
fn differential_seeds_by_hand() {
    let pair = match std::env::var("TERN_DIFF_PAIR").as_deref() {
        Ok("storage") => Pair::FileVsMemory,
        Ok("self") => Pair::ReferenceVsReference,
        _ => Pair::ReferenceVsTern,
    };
    let seeds = std::env::var("TERN_DIFF_SEEDS").unwrap_or_else(|_| "1-100".into());
    let seeds = parse_seeds(&seeds);
    let ops = std::env::var("TERN_DIFF_OPS")
        .ok()
        .and_then(|s| s.parse().ok())
        .unwrap_or(OPS);
    let reports = run_seeds(pair, seeds, ops);
    assert!(reports.is_empty(), "{} seed(s) diverged", reports.len());
}

#[test]
#[ignore = "by hand: TERN_DIFF_REPLAY=<file of operation lines>"]
fn differential_replay() {
    let path = std::env::var("TERN_DIFF_REPLAY").expect("TERN_DIFF_REPLAY=<file>");
    let text = std::fs::read_to_string(&path).expect("read the replay file");
    let pair = match std::env::var("TERN_DIFF_PAIR").as_deref() {
        Ok("storage") => Pair::FileVsMemory,
        Ok("self") => Pair::ReferenceVsReference,
        _ => Pair::ReferenceVsTern,
    };
    replay(pair, &path, &text);
}
