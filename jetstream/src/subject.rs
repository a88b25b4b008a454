//! The NATS subject grammar: validation and wildcard matching.
//!
//! Subjects are `.`-separated tokens. `*` matches exactly one token and `>`
//! one or more trailing tokens; each is a wildcard only when it is a whole
//! token (`a.b*` is a literal). Pure functions over bytes, no allocation.

/// Token separator.
pub const SEP: u8 = b'.';
/// Single-token wildcard.
pub const PWC: u8 = b'*';
/// Trailing multi-token wildcard.
pub const FWC: u8 = b'>';

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n' | b'\x0c')
}

/// A subject a subscription may use: non-empty tokens, no whitespace, `>`
/// only as the last token.
pub fn is_valid_subject(subject: &[u8]) -> bool {
    validate(subject, true)
}

/// A subject a message may be published to: valid and without wildcards.
pub fn is_valid_literal_subject(subject: &[u8]) -> bool {
    validate(subject, false)
}

fn validate(subject: &[u8], wildcards: bool) -> bool {
    if subject.is_empty() {
        return false;
    }
    let mut tokens = subject.split(|&b| b == SEP).peekable();
    while let Some(token) = tokens.next() {
        if token.is_empty() || token.iter().any(|&b| is_space(b)) {
            return false;
        }
        let wildcard = token.len() == 1 && (token[0] == PWC || token[0] == FWC);
        if wildcard && (!wildcards || (token[0] == FWC && tokens.peek().is_some())) {
            return false;
        }
    }
    true
}

/// True when the subject holds a `*` or `>` wildcard token.
pub fn has_wildcard(subject: &[u8]) -> bool {
    subject
        .split(|&b| b == SEP)
        .any(|t| t.len() == 1 && (t[0] == PWC || t[0] == FWC))
}

/// Whether a literal `subject` matches the `filter` (which may hold
/// wildcards). A subject holding wildcards is compared token by token, as
/// the router treats a wildcard publish subject like a literal.
pub fn matches(filter: &[u8], subject: &[u8]) -> bool {
    let mut f = filter.split(|&b| b == SEP);
    let mut s = subject.split(|&b| b == SEP);
    loop {
        match (f.next(), s.next()) {
            (None, None) => return true,
            (Some(ft), Some(st)) => {
                if ft == [FWC] {
                    return true;
                }
                if ft != [PWC] && ft != st {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether some literal subject matches both filters (either may hold
/// wildcards): streams may not capture overlapping subjects.
pub fn subjects_overlap(a: &str, b: &str) -> bool {
    let mut x = a.split('.');
    let mut y = b.split('.');
    loop {
        match (x.next(), y.next()) {
            (None, None) => return true,
            (Some(">"), Some(_)) | (Some(_), Some(">")) => return true,
            (Some(s), Some(t)) => {
                if s != "*" && t != "*" && s != t {
                    return false;
                }
            }
            _ => return false,
        }
    }
}

/// Whether every subject `a` matches is also matched by `b` (both may
/// hold wildcards): the reference's subset test, used to decide which
/// consumers a filtered purge moves.
pub fn is_subset(a: &str, b: &str) -> bool {
    let a: Vec<&str> = a.split('.').collect();
    let mut n = 0;
    for (i, t2) in b.split('.').enumerate() {
        n = i + 1;
        let Some(&t1) = a.get(i) else {
            return false;
        };
        if t2.is_empty() {
            return false;
        }
        if t2 == ">" {
            return true;
        }
        if t1.is_empty() || t1 == ">" {
            return false;
        }
        if t1 == "*" {
            if t2 != "*" {
                return false;
            }
            continue;
        }
        if t2 != "*" && t1 != t2 {
            return false;
        }
    }
    a.len() == n
}

/// A queue group name: one non-empty token without whitespace.
pub fn is_valid_queue(queue: &[u8]) -> bool {
    !queue.is_empty() && !queue.iter().any(|&b| is_space(b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validity_table() {
        let cases: &[(&str, bool, bool)] = &[
            // subject, valid for SUB, valid for PUB
            ("foo", true, true),
            ("foo.bar", true, true),
            ("foo.*", true, false),
            ("foo.>", true, false),
            (">", true, false),
            ("*", true, false),
            ("a.b*", true, true),
            ("a.>.b", false, false),
            ("a..b", false, false),
            (".a", false, false),
            ("a.", false, false),
            ("", false, false),
            ("a b", false, false),
            ("a\tb", false, false),
            ("$JS.API.INFO", true, true),
            ("*.*.>", true, false),
        ];
        for &(s, sub, publish) in cases {
            assert_eq!(is_valid_subject(s.as_bytes()), sub, "sub {s:?}");
            assert_eq!(is_valid_literal_subject(s.as_bytes()), publish, "pub {s:?}");
        }
    }

    #[test]
    fn overlap_table() {
        let cases = [
            ("a", "a", true),
            ("a", "b", false),
            ("a.*", "a.b", true),
            ("a.>", "a", false),
            ("a.>", "a.b.c", true),
            ("*.b", "a.*", true),
            ("*.b", "a.c", false),
            (">", "x.y", true),
            ("a.b", "a.b.c", false),
        ];
        for (a, b, want) in cases {
            assert_eq!(subjects_overlap(a, b), want, "{a} ~ {b}");
            assert_eq!(subjects_overlap(b, a), want, "{b} ~ {a}");
        }
    }

    #[test]
    fn match_table() {
        let cases: &[(&str, &str, bool)] = &[
            ("foo", "foo", true),
            ("foo", "bar", false),
            ("foo.*", "foo.bar", true),
            ("foo.*", "foo", false),
            ("foo.*", "foo.bar.baz", false),
            ("foo.>", "foo.bar.baz", true),
            ("foo.>", "foo", false),
            (">", "a", true),
            ("*.b.>", "a.b.c", true),
            ("*.b.>", "a.c.c", false),
            ("a.b*", "a.bx", false),
            ("a.*", "a.*", true),
            ("a.>", "a.*", true),
        ];
        for &(f, s, want) in cases {
            assert_eq!(matches(f.as_bytes(), s.as_bytes()), want, "{f} ~ {s}");
        }
    }

    #[test]
    fn subset_is_the_references() {
        assert!(is_subset("s.a", "s.a"));
        assert!(is_subset("s.a", "s.*"));
        assert!(is_subset("s.a", "s.>"));
        assert!(is_subset("s.*", "s.>"));
        assert!(is_subset("s.*", "s.*"));
        assert!(!is_subset("s.*", "s.a"));
        assert!(!is_subset("s.>", "s.*"));
        assert!(!is_subset("s.a.b", "s.*"));
        assert!(!is_subset("s", "s.*"));
        assert!(is_subset("s.a.b", ">"));
        assert!(!is_subset(">", "s.>"));
    }
}
