//! Subject transforms: the reference's mapping language, compiled once and
//! applied per message. One engine for every user: a stream's
//! `subject_transform` on ingest, mirror and source `subject_transforms`,
//! RePublish, and the server's core `mappings` (which reuse it from here,
//! as they reuse the subject grammar).
//!
//! A transform has a source (a subject, wildcards allowed; empty means
//! `>`) and a destination whose tokens are literals, `$n` (the n-th `*`
//! of the source) or `{{function(args)}}`:
//!
//! | function | result |
//! |---|---|
//! | `wildcard(n)` | the n-th `*` token, as `$n` |
//! | `partition(k, n...)` | FNV-1a of the named tokens (or of the whole subject) mod k |
//! | `splitFromLeft(n, p)` / `splitFromRight(n, p)` | the token cut in two, p bytes from that end |
//! | `sliceFromLeft(n, s)` / `sliceFromRight(n, s)` | the token cut into pieces of s bytes |
//! | `split(n, d)` | the token cut at each `d`, empty pieces dropped |
//! | `random(k)` | a random number below k |
//!
//! A trailing `>` in the destination copies what the source's `>` matched.
//! The reference's engine also knows `left` and `right`, but its check of
//! every configured mapping (streams, sources, republish, `mappings`)
//! calls them unknown functions, so here they are.
//! Cut points are byte offsets, as the reference's are.

use crate::subject::{is_valid_literal_subject, is_valid_subject, matches};

/// Why a subject mapping was refused. `Display` is the reference's text,
/// which clients see inside the `{err}` of the transform errors.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum MappingError {
    /// The source is not a subject, or a destination token cannot map it.
    InvalidSubject,
    /// A `{{...}}` token that is not a known function or has a bad
    /// argument; `problem` is the reference's phrase for which.
    Function {
        /// The destination token.
        token: String,
        /// What is wrong with it.
        problem: &'static str,
    },
    /// A function names wildcards the source does not have.
    IndexOutOfRange {
        /// The destination token.
        token: String,
        /// The wildcard numbers it names that the source lacks.
        indexes: Vec<usize>,
    },
}

impl std::fmt::Display for MappingError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            MappingError::InvalidSubject => f.write_str("invalid subject"),
            MappingError::Function { token, problem } => {
                write!(f, "invalid mapping destination: {problem} in {token}")
            }
            MappingError::IndexOutOfRange { token, indexes } => {
                write!(
                    f,
                    "invalid mapping destination: wildcard index out of range in {token}: ["
                )?;
                for (i, n) in indexes.iter().enumerate() {
                    let sep = if i == 0 { "" } else { " " };
                    write!(f, "{sep}{n}")?;
                }
                f.write_str("]")
            }
        }
    }
}

impl std::error::Error for MappingError {}

const NOT_ENOUGH_ARGS: &str = "not enough arguments passed to the function";
const TOO_MANY_ARGS: &str = "too many arguments passed to the function";
const INVALID_ARG: &str = "function argument is invalid or in the wrong format";

/// Checks a mapping as the reference does when a stream, mirror, source
/// or republish names one; an empty destination means no mapping.
pub fn check_mapping(src: &str, dest: &str) -> Result<(), MappingError> {
    if dest.is_empty() {
        return Ok(());
    }
    SubjectTransform::new(src, dest).map(|_| ())
}

/// One destination token, compiled. Wildcard indexes are already token
/// positions in the source.
#[derive(Clone, Debug, PartialEq, Eq)]
enum Part {
    Literal(String),
    /// The rest of the subject from where the source's `>` is.
    Rest,
    Wildcard(usize),
    Partition {
        buckets: u32,
        tokens: Vec<usize>,
    },
    SplitFromLeft(usize, usize),
    SplitFromRight(usize, usize),
    SliceFromLeft(usize, usize),
    SliceFromRight(usize, usize),
    Split(usize, String),
    Random(u32),
}

/// A compiled transform.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SubjectTransform {
    src: String,
    dest: String,
    /// Tokens of the source (for the position of its `>`).
    src_tokens: usize,
    parts: Vec<Part>,
}

impl SubjectTransform {
    /// Compiles `src` -> `dest` (an empty source is `>`), refusing what
    /// the reference refuses, with its words.
    pub fn new(src: &str, dest: &str) -> Result<Self, MappingError> {
        let src = if src.is_empty() { ">" } else { src };
        if !is_valid_subject(src.as_bytes()) {
            return Err(MappingError::InvalidSubject);
        }
        let src_toks: Vec<&str> = src.split('.').collect();
        // Token position of each `*` of the source, by its number (1-based).
        let stars: Vec<usize> = src_toks
            .iter()
            .enumerate()
            .filter(|(_, t)| **t == "*")
            .map(|(i, _)| i)
            .collect();
        let src_tail = src_toks.last() == Some(&">");
        let dest_toks: Vec<&str> = dest.split('.').collect();
        let mut parts = Vec::with_capacity(dest_toks.len());
        for (i, token) in dest_toks.iter().enumerate() {
            if token.is_empty() || token.chars().any(char::is_whitespace) {
                return Err(MappingError::InvalidSubject);
            }
            let part = match *token {
                ">" if i + 1 != dest_toks.len() || !src_tail => {
                    return Err(MappingError::InvalidSubject)
                }
                ">" => Part::Rest,
                "*" => return Err(MappingError::InvalidSubject),
                t => compile_token(t, &stars)?,
            };
            parts.push(part);
        }
        if src_tail != (parts.last() == Some(&Part::Rest)) {
            return Err(MappingError::InvalidSubject);
        }
        Ok(SubjectTransform {
            src: src.to_owned(),
            dest: dest.to_owned(),
            src_tokens: src_toks.len(),
            parts,
        })
    }

    /// Whether a subject always maps to the same result (no `random`):
    /// what a cache of results may keep.
    pub fn is_deterministic(&self) -> bool {
        !self.parts.iter().any(|p| matches!(p, Part::Random(_)))
    }

    /// The source, `>` when it was given empty.
    pub fn source(&self) -> &str {
        &self.src
    }

    /// The destination as given.
    pub fn destination(&self) -> &str {
        &self.dest
    }

    /// Whether a published subject is one this transform maps.
    pub fn matches(&self, subject: &str) -> bool {
        self.src == ">" || matches(self.src.as_bytes(), subject.as_bytes())
    }

    /// The mapped subject, or `None` when `subject` is not a literal the
    /// source matches (the caller keeps it as it was).
    pub fn apply(&self, subject: &str) -> Option<String> {
        if !is_valid_literal_subject(subject.as_bytes()) || !self.matches(subject) {
            return None;
        }
        Some(self.transform(subject))
    }

    /// The mapped subject of one the source matches.
    pub fn transform(&self, subject: &str) -> String {
        let tokens: Vec<&str> = subject.split('.').collect();
        let token = |i: usize| tokens.get(i).copied().unwrap_or("");
        let mut out = String::with_capacity(subject.len() + self.dest.len());
        for (i, part) in self.parts.iter().enumerate() {
            if i > 0 {
                out.push('.');
            }
            match part {
                Part::Literal(t) => out.push_str(t),
                Part::Rest => {
                    let from = self.src_tokens.saturating_sub(1);
                    out.push_str(&tokens.get(from..).unwrap_or(&[]).join("."));
                }
                Part::Wildcard(n) => out.push_str(token(*n)),
                Part::Partition {
                    buckets,
                    tokens: named,
                } => {
                    let hash = if named.is_empty() {
                        fnv1a(subject.as_bytes().iter().copied())
                    } else {
                        fnv1a(named.iter().flat_map(|&n| token(n).bytes()))
                    };
                    let bucket = if *buckets == 0 { 0 } else { hash % buckets };
                    out.push_str(&bucket.to_string());
                }
                Part::SplitFromLeft(n, at) => split_at(&mut out, token(*n), *at, false),
                Part::SplitFromRight(n, at) => split_at(&mut out, token(*n), *at, true),
                Part::SliceFromLeft(n, size) => slice_from_left(&mut out, token(*n), *size),
                Part::SliceFromRight(n, size) => slice_from_right(&mut out, token(*n), *size),
                Part::Split(n, delim) => {
                    let pieces: Vec<&str> = token(*n)
                        .split(delim.as_str())
                        .filter(|p| !p.is_empty())
                        .collect();
                    out.push_str(&pieces.join("."));
                }
                Part::Random(k) => {
                    let r = random_below(*k);
                    out.push_str(&r.to_string());
                }
            }
        }
        out
    }
}

/// 32-bit FNV-1a, the reference's partition hash.
fn fnv1a(bytes: impl Iterator<Item = u8>) -> u32 {
    let mut h: u32 = 0x811c_9dc5;
    for b in bytes {
        h ^= u32::from(b);
        h = h.wrapping_mul(0x0100_0193);
    }
    h
}

/// A random number below `n` (0 when `n` is 0): mapping weights and
/// `random(k)`.
pub fn random_below(n: u32) -> u32 {
    if n == 0 {
        0
    } else {
        random_u32() % n
    }
}

/// A random number for `random(k)`: a per-thread xorshift seeded from the
/// clock and the thread (spread, not secret).
fn random_u32() -> u32 {
    use std::cell::Cell;
    thread_local! {
        static STATE: Cell<u64> = Cell::new({
            use std::hash::{BuildHasher, Hasher};
            let mut h = std::collections::hash_map::RandomState::new().build_hasher();
            h.write_u128(
                std::time::SystemTime::now()
                    .duration_since(std::time::UNIX_EPOCH)
                    .map_or(0, |d| d.as_nanos()),
            );
            h.finish() | 1
        });
    }
    STATE.with(|s| {
        let mut x = s.get();
        x ^= x << 13;
        x ^= x >> 7;
        x ^= x << 17;
        s.set(x);
        (x >> 32) as u32
    })
}

/// `t[from..to]` by bytes; a cut inside a UTF-8 character keeps the whole
/// token (subjects are bytes to the reference, strings here).
fn byte_slice(t: &str, from: usize, to: usize) -> &str {
    t.get(from..to).unwrap_or(t)
}

fn split_at(out: &mut String, t: &str, at: usize, from_right: bool) {
    if at == 0 || at >= t.len() {
        out.push_str(t);
        return;
    }
    let cut = if from_right { t.len() - at } else { at };
    match (t.get(..cut), t.get(cut..)) {
        (Some(a), Some(b)) => {
            out.push_str(a);
            out.push('.');
            out.push_str(b);
        }
        _ => out.push_str(t),
    }
}

fn slice_from_left(out: &mut String, t: &str, size: usize) {
    if size == 0 || size >= t.len() {
        out.push_str(t);
        return;
    }
    let pieces: Vec<&str> = (0..t.len())
        .step_by(size)
        .map(|i| byte_slice(t, i, (i + size).min(t.len())))
        .collect();
    out.push_str(&pieces.join("."));
}

fn slice_from_right(out: &mut String, t: &str, size: usize) {
    if size == 0 || size >= t.len() {
        out.push_str(t);
        return;
    }
    let first = t.len() % size;
    let mut pieces = Vec::new();
    if first > 0 {
        pieces.push(byte_slice(t, 0, first));
    }
    pieces.extend(
        (first..t.len())
            .step_by(size)
            .map(|i| byte_slice(t, i, i + size)),
    );
    out.push_str(&pieces.join("."));
}

/// One destination token: a literal, `$n`, or `{{function(args)}}`.
fn compile_token(token: &str, stars: &[usize]) -> Result<Part, MappingError> {
    let fail = |problem| MappingError::Function {
        token: token.to_owned(),
        problem,
    };
    // The wildcard numbers `args` name, as token positions.
    let positions = |args: &[&str]| -> Result<Vec<usize>, MappingError> {
        let mut out = Vec::with_capacity(args.len());
        let mut bad = Vec::new();
        for arg in args {
            match arg.parse::<usize>() {
                Ok(n) if (1..=stars.len()).contains(&n) => out.push(stars[n - 1]),
                Ok(n) => bad.push(n),
                Err(_) => return Err(fail(INVALID_ARG)),
            }
        }
        if bad.is_empty() {
            Ok(out)
        } else {
            Err(MappingError::IndexOutOfRange {
                token: token.to_owned(),
                indexes: bad,
            })
        }
    };
    if let Some(n) = token.strip_prefix('$') {
        // `$` followed by other than a number is a literal to the
        // reference (other features use such tokens).
        return match n.parse::<usize>() {
            Ok(_) => Ok(Part::Wildcard(positions(&[n])?[0])),
            Err(_) => Ok(Part::Literal(token.to_owned())),
        };
    }
    if !(token.len() > 4 && token.starts_with("{{") && token.ends_with("}}")) {
        return Ok(Part::Literal(token.to_owned()));
    }
    let inner = token[2..token.len() - 2].trim();
    let (name, args) = inner
        .strip_suffix(')')
        .and_then(|t| t.split_once('('))
        .ok_or_else(|| fail("unknown function"))?;
    let args: Vec<&str> = args.split(',').map(str::trim).collect();
    let args: Vec<&str> = if args == [""] { Vec::new() } else { args };
    let int = |a: &str| a.parse::<u32>().map_err(|_| fail(INVALID_ARG));
    // A wildcard index and a number.
    let index_and_int = |args: &[&str]| -> Result<(usize, usize), MappingError> {
        match args.len() {
            0 | 1 => Err(fail(NOT_ENOUGH_ARGS)),
            2 => {
                let n = args[1].parse::<i64>().map_err(|_| fail(INVALID_ARG))?;
                let index = positions(&args[..1])?[0];
                Ok((index, usize::try_from(n.max(0)).unwrap_or(0)))
            }
            _ => Err(fail(TOO_MANY_ARGS)),
        }
    };
    let part = match name.trim().to_ascii_lowercase().as_str() {
        "wildcard" => match args.len() {
            0 => return Err(fail(NOT_ENOUGH_ARGS)),
            1 => Part::Wildcard(positions(&args)?[0]),
            _ => return Err(fail(TOO_MANY_ARGS)),
        },
        "partition" => {
            let Some((buckets, named)) = args.split_first() else {
                return Err(fail(NOT_ENOUGH_ARGS));
            };
            Part::Partition {
                buckets: int(buckets)?,
                tokens: positions(named)?,
            }
        }
        f @ ("splitfromleft" | "splitfromright" | "slicefromleft" | "slicefromright") => {
            // A wildcard index and a byte count each.
            let make: fn(usize, usize) -> Part = match f {
                "splitfromleft" => Part::SplitFromLeft,
                "splitfromright" => Part::SplitFromRight,
                "slicefromleft" => Part::SliceFromLeft,
                _ => Part::SliceFromRight,
            };
            let (n, k) = index_and_int(&args)?;
            make(n, k)
        }
        "split" => match args.len() {
            0 | 1 => return Err(fail(NOT_ENOUGH_ARGS)),
            2 => {
                let delim = args[1];
                if delim.is_empty() || delim.contains(' ') || delim.contains('.') {
                    return Err(fail(INVALID_ARG));
                }
                Part::Split(positions(&args[..1])?[0], delim.to_owned())
            }
            _ => return Err(fail(TOO_MANY_ARGS)),
        },
        "random" => match args.len() {
            1 => Part::Random(int(args[0])?),
            _ => return Err(fail(NOT_ENOUGH_ARGS)),
        },
        _ => return Err(fail("unknown function")),
    };
    Ok(part)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(src: &str, dest: &str, subject: &str) -> Option<String> {
        SubjectTransform::new(src, dest)
            .unwrap_or_else(|e| panic!("{src} -> {dest}: {e}"))
            .apply(subject)
    }

    /// Results as the reference's transform tests give them.
    #[test]
    fn functions_as_the_reference() {
        let cases = [
            ("foo.*.*", "bar.$2.$1", "foo.A.B", "bar.B.A"),
            (
                "foo.*.*",
                "bar.{{wildcard(2)}}.{{Wildcard(1)}}",
                "foo.A.B",
                "bar.B.A",
            ),
            ("foo.>", "bar.>", "foo.a.b.c", "bar.a.b.c"),
            ("*.>", "{{wildcard(1)}}.x.>", "a.b.c", "a.x.b.c"),
            ("foo.*", "{{splitfromleft(1,1)}}", "foo.abcd", "a.bcd"),
            ("foo.*", "{{SplitFromRight(1,1)}}", "foo.abcd", "abc.d"),
            ("foo.*", "{{splitfromleft(1,9)}}", "foo.abcd", "abcd"),
            ("foo.*", "{{slicefromleft(1,2)}}", "foo.abcde", "ab.cd.e"),
            ("foo.*", "{{slicefromright(1,2)}}", "foo.abcde", "a.bc.de"),
            ("foo.*", "{{slicefromleft(1,2)}}", "foo.abcd", "ab.cd"),
            ("foo.*", "{{split(1,-)}}", "foo.-a--b-c-", "a.b.c"),
            ("foo", "bar", "foo", "bar"),
            ("", "x.>", "a.b", "x.a.b"),
            ("foo.*", "$x.$1", "foo.a", "$x.a"),
        ];
        for (src, dest, subject, want) in cases {
            let got = map(src, dest, subject);
            assert_eq!(got.as_deref(), Some(want), "{src} -> {dest} on {subject}");
        }
        assert_eq!(map("foo.*", "bar.$1", "baz.a"), None, "not matched");
        assert_eq!(map("foo.*", "bar.$1", "foo.*"), None, "not a literal");
    }

    /// partition is FNV-1a over the named tokens, as the reference
    /// computes it (values from its own tests).
    #[test]
    fn partitions_agree_with_the_reference() {
        assert_eq!(fnv1a(b"foo".iter().copied()), 0xa9f3_7ed7);
        let t = SubjectTransform::new("foo.*.*", "bar.{{partition(10,1,2)}}").expect("compile");
        let key = fnv1a(b"ab".iter().copied()) % 10;
        assert_eq!(t.apply("foo.a.b"), Some(format!("bar.{key}")));
        let whole = SubjectTransform::new("foo.*", "p.{{partition(5)}}").expect("compile");
        let key = fnv1a(b"foo.x".iter().copied()) % 5;
        assert_eq!(whole.apply("foo.x"), Some(format!("p.{key}")));
        let r = SubjectTransform::new("foo", "r.{{random(3)}}").expect("compile");
        for _ in 0..50 {
            let got = r.apply("foo").expect("mapped");
            assert!(["r.0", "r.1", "r.2"].contains(&got.as_str()), "{got}");
        }
    }

    #[test]
    fn bad_mappings_are_refused_with_the_references_words() {
        let err = |src: &str, dest: &str| {
            SubjectTransform::new(src, dest)
                .err()
                .map(|e| e.to_string())
                .unwrap_or_default()
        };
        assert_eq!(err("foo.*", "bar.*"), "invalid subject");
        assert_eq!(err("foo.>", "bar"), "invalid subject");
        assert_eq!(err("foo", "bar.>"), "invalid subject");
        assert_eq!(
            err("foo.*", "{{wildcard(2)}}"),
            "invalid mapping destination: wildcard index out of range in {{wildcard(2)}}: [2]"
        );
        assert_eq!(
            err("foo.*", "{{nope(1)}}"),
            "invalid mapping destination: unknown function in {{nope(1)}}"
        );
        assert_eq!(
            err("foo.*", "{{left(1,2)}}"),
            "invalid mapping destination: unknown function in {{left(1,2)}}"
        );
        assert_eq!(
            err("foo.*", "{{splitfromleft(1)}}"),
            "invalid mapping destination: not enough arguments passed to the function in \
             {{splitfromleft(1)}}"
        );
        assert_eq!(
            err("foo.*", "{{wildcard(1,2)}}"),
            "invalid mapping destination: too many arguments passed to the function in \
             {{wildcard(1,2)}}"
        );
        assert_eq!(
            err("foo.*", "{{wildcard(x)}}"),
            "invalid mapping destination: function argument is invalid or in the wrong format \
             in {{wildcard(x)}}"
        );
        assert!(
            check_mapping("foo", "").is_ok(),
            "no destination, no mapping"
        );
    }
}
