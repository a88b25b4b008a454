//! Random operations applied to `RedbStore` and to `MemStore` (the oracle),
//! with commits, crashes (drop without commit: the oracle goes back to its
//! copy at the last commit) and clean restarts; everything observable is
//! compared after every step.

use bytes::Bytes;

use super::*;

/// xorshift64*: reproducible without a dependency.
struct Rng(u64);

impl Rng {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_F491_4F6C_DD1D) % n.max(1)
    }
}

fn differential(seed: u64) {
    const SUBJECTS: [&str; 5] = ["a.1", "a.2", "b.1", "b.2.x", "c"];
    const FILTERS: [Option<&str>; 7] = [
        None,
        Some(">"),
        Some("a.*"),
        Some("a.1"),
        Some("b.>"),
        Some("*.1"),
        Some("zz"),
    ];
    let mut rng = Rng(seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = db_path(&dir);
    let mut redb = Some(open(&path));
    let mut mem = MemStore::new();
    let mut committed = mem.clone();
    for step in 0..300 {
        let r = redb.as_mut().expect("store");
        let last = mem.state().last_seq;
        let op = rng.below(100);
        let what = match op {
            0..=39 => {
                let n = if rng.below(8) == 0 {
                    20 + rng.below(80)
                } else {
                    1
                };
                for _ in 0..n {
                    let subject = SUBJECTS[rng.below(5) as usize];
                    let headers = (rng.below(3) == 0)
                        .then(|| Bytes::from(vec![b'h'; rng.below(20) as usize]));
                    let payload = Bytes::from(vec![b'p'; rng.below(50) as usize]);
                    let t = step as i64 * 1000 + rng.below(1000) as i64;
                    let got = r
                        .append(subject, headers.clone(), payload.clone(), t)
                        .expect("append");
                    assert_eq!(
                        got,
                        mem.append(subject, headers, payload, t).expect("append")
                    );
                }
                format!("append {n}")
            }
            40..=43 => {
                let n = rng.below(4) + if rng.below(6) == 0 { 300 } else { 1 };
                r.skip(n).expect("skip");
                mem.skip(n).expect("skip");
                format!("skip {n}")
            }
            44..=59 => {
                let seq = rng.below(last + 3);
                assert_eq!(
                    r.remove(seq).expect("remove"),
                    mem.remove(seq).expect("remove"),
                    "remove {seq}"
                );
                format!("remove {seq}")
            }
            60..=69 => {
                let filter = FILTERS[rng.below(7) as usize];
                let below = (rng.below(2) == 0).then(|| rng.below(last + 4));
                let keep = (rng.below(3) == 0).then(|| rng.below(5));
                let got = r.purge(filter, below, keep).expect("purge");
                assert_eq!(
                    got,
                    mem.purge(filter, below, keep).expect("purge"),
                    "purge {filter:?} {below:?} {keep:?}"
                );
                format!("purge {filter:?} {below:?} {keep:?}")
            }
            70..=84 => {
                r.commit().expect("commit");
                committed = mem.clone();
                "commit".into()
            }
            85..=91 => {
                drop(redb.take());
                redb = Some(open(&path));
                mem = committed.clone();
                "crash".into()
            }
            92..=96 => {
                r.commit().expect("commit");
                committed = mem.clone();
                drop(redb.take());
                redb = Some(open(&path));
                "restart".into()
            }
            _ => {
                let config = format!("{{\"step\":{step}}}");
                r.save_config(config.as_bytes()).expect("save");
                mem.save_config(config.as_bytes()).expect("save");
                "config".into()
            }
        };
        let r = redb.as_ref().expect("store");
        assert_eq!(
            snapshot(r),
            snapshot(&mem),
            "seed {seed} step {step}: {what}"
        );
    }
    redb.as_mut().expect("store").commit().expect("commit");
    drop(redb.take());
    assert_eq!(
        snapshot(&open(&path)),
        snapshot(&mem),
        "seed {seed} after the last reopen"
    );
}

#[test]
fn differential_seed_1() {
    differential(1);
}

#[test]
fn differential_seed_2() {
    differential(2);
}

#[test]
fn differential_seed_3() {
    differential(3);
}

#[test]
fn differential_seed_4() {
    differential(4);
}

/// Many seeds, by hand: `DIFF_SEEDS=2000 cargo test -p tern-jetstream
/// --lib differential_many -- --ignored`.
#[test]
#[ignore = "long: run by hand"]
fn differential_many_seeds() {
    let n: u64 = std::env::var("DIFF_SEEDS")
        .ok()
        .and_then(|v| v.parse().ok())
        .unwrap_or(200);
    for seed in 5..5 + n {
        differential(seed);
    }
}
