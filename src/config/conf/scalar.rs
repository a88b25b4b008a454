//! Scalar values: integers with size suffixes, boolean words, and Go-style
//! durations.

use std::num::IntErrorKind;

use super::{ConfError, Pos, Value};

pub(super) fn bool_word(text: &str) -> Option<bool> {
    match text.to_ascii_lowercase().as_str() {
        "true" | "yes" | "on" => Some(true),
        "false" | "no" | "off" => Some(false),
        _ => None,
    }
}

pub(super) fn is_size_suffix(c: char) -> bool {
    matches!(c.to_ascii_lowercase(), 'k' | 'm' | 'g' | 't' | 'p' | 'e')
}

/// What may follow an integer. nats-server forgets `]`, which breaks `[1]`.
pub(super) fn ends_number(c: Option<char>) -> bool {
    matches!(
        c,
        None | Some('\n' | '\r' | '}' | ']' | ';' | ',' | ' ' | '\t')
    )
}

/// Single letters are powers of 1000; with `b`, `i` or `ib` powers of 1024.
fn size_multiplier(suffix: &str) -> Option<i64> {
    let lower = suffix.to_ascii_lowercase();
    let mut chars = lower.chars();
    let Some(letter) = chars.next() else {
        return Some(1);
    };
    let binary = match chars.as_str() {
        "" => false,
        "b" | "i" | "ib" => true,
        _ => return None,
    };
    let power = 1 + "kmgtpe".find(letter)?;
    let base: i64 = if binary { 1024 } else { 1000 };
    base.checked_pow(u32::try_from(power).ok()?)
}

pub(super) fn int_value(text: &str, pos: &Pos) -> Result<Value, ConfError> {
    let split = text
        .find(|c: char| !(c.is_ascii_digit() || c == '-'))
        .unwrap_or(text.len());
    let (digits, suffix) = text.split_at(split);
    let out_of_range = || ConfError::at(pos, format!("integer '{text}' is out of the range"));
    let n: i64 = digits
        .parse()
        .map_err(|e: std::num::ParseIntError| match e.kind() {
            IntErrorKind::PosOverflow | IntErrorKind::NegOverflow => out_of_range(),
            _ => ConfError::at(pos, format!("expected integer, but got '{text}'")),
        })?;
    let mult = size_multiplier(suffix)
        .ok_or_else(|| ConfError::at(pos, format!("invalid size suffix in '{text}'")))?;
    n.checked_mul(mult).map(Value::Int).ok_or_else(out_of_range)
}

pub use tern_jetstream::duration::parse_duration;
