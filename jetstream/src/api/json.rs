//! JSON the way the reference's Go code reads and writes it.
//!
//! Writing: Go's encoder escapes `<`, `>`, `&`, U+2028 and U+2029 inside
//! strings (`"f.\u003e"`); [`to_json`] does the same so replies match the
//! reference byte for byte.
//!
//! Reading: requests are decoded strictly (unknown fields rejected, as the
//! reference runs with `strict: true`), and a failure becomes 10025
//! `invalid JSON: <text>` with the text Go's decoder would give. Syntax is
//! checked first by a scanner that mirrors Go's (same messages, same
//! `at offset N` the reference appends), because Go validates the whole
//! value before it unmarshals anything; only then does serde map the value.
//! Field names match case-insensitively when no field has the key exactly
//! (`fold_keys`), as in Go; where a request names one field twice in
//! different cases Go keeps the later value, here the exact key's (the
//! parsed map does not keep the document's order).

use std::io;

use serde::de::{self, DeserializeOwned, Deserializer, IgnoredAny, Visitor};
use serde::{Deserialize, Serialize};

use crate::error::{go_quote, ApiError};

/// Serializes an API value with Go's string escaping.
pub fn to_json<T: Serialize + ?Sized>(value: &T) -> Vec<u8> {
    let mut out = Vec::with_capacity(256);
    let mut ser = serde_json::Serializer::with_formatter(&mut out, GoFormatter);
    // Only maps with non-string keys or failing Serialize impls can error;
    // the API types have neither, so a failure is a bug in this crate.
    value
        .serialize(&mut ser)
        .expect("JetStream API types always serialize");
    out
}

struct GoFormatter;

impl serde_json::ser::Formatter for GoFormatter {
    fn write_string_fragment<W: ?Sized + io::Write>(
        &mut self,
        writer: &mut W,
        fragment: &str,
    ) -> io::Result<()> {
        let mut start = 0;
        for (i, c) in fragment.char_indices() {
            let escaped = match c {
                '<' => "\\u003c",
                '>' => "\\u003e",
                '&' => "\\u0026",
                '\u{2028}' => "\\u2028",
                '\u{2029}' => "\\u2029",
                _ => continue,
            };
            writer.write_all(&fragment.as_bytes()[start..i])?;
            writer.write_all(escaped.as_bytes())?;
            start = i + c.len_utf8();
        }
        writer.write_all(&fragment.as_bytes()[start..])
    }
}

/// A request body type, with the reference's Go type name for its errors
/// (`json: cannot unmarshal number into Go value of type server.X`).
pub trait Request: DeserializeOwned + Default {
    /// The Go type the reference decodes it into, e.g. `server.JSApiStreamInfoRequest`.
    const GO_TYPE: &'static str;
}

/// Decodes a request body. An empty (or blank) body and a top-level `null`
/// give `T::default()`, as Go's decoder leaves the struct untouched then.
/// After the first JSON value the reference ignores a following value but
/// rejects bytes that cannot start one; so does this.
pub fn decode<T: Request>(body: &[u8]) -> Result<T, ApiError> {
    decode_named(body, T::GO_TYPE)
}

/// [`decode`] for a body type without a [`Request`] impl; errors name it
/// `server.<Rust type name>`.
pub fn parse_json<T: DeserializeOwned + Default>(body: &[u8]) -> Result<T, ApiError> {
    let full = std::any::type_name::<T>();
    let short = full.rsplit("::").next().unwrap_or(full);
    decode_named(body, &format!("server.{short}"))
}

fn decode_named<T: DeserializeOwned + Default>(body: &[u8], go_type: &str) -> Result<T, ApiError> {
    let end = match scan(body) {
        Scan::Empty | Scan::Null => return Ok(T::default()),
        Scan::Value { end } => end,
        Scan::Error(text) => return Err(ApiError::invalid_json(text)),
    };
    let value = &body[..end];
    let first = value
        .iter()
        .copied()
        .find(|b| !is_space(*b))
        .unwrap_or(b'{');
    let kind = match first {
        b'{' => None,
        b'[' => Some("array"),
        b'"' => Some("string"),
        b't' | b'f' => Some("bool"),
        _ => Some("number"),
    };
    if let Some(kind) = kind {
        return Err(ApiError::invalid_json(format!(
            "json: cannot unmarshal {kind} into Go value of type {go_type}"
        )));
    }
    // Go matches a key to a field case-insensitively when no field has
    // the key exactly: such keys are renamed and the value decoded again.
    let folded;
    let value = match serde_json::from_slice::<T>(value) {
        Err(e) if message(&e).starts_with("unknown field `") => match fold_keys::<T>(value) {
            Some(v) => {
                folded = v;
                folded.as_slice()
            }
            None => value,
        },
        _ => value,
    };
    match serde_json::from_slice(value) {
        Ok(v) => Ok(v),
        // Go keeps the last of repeated keys; serde's derive refuses them.
        // serde_json's own map keeps the last, so go through it.
        Err(e) if message(&e).starts_with("duplicate field `") => {
            serde_json::from_slice::<serde_json::Value>(value)
                .and_then(T::deserialize)
                .map_err(|e| ApiError::invalid_json(go_text(&e)))
        }
        Err(e) => {
            let text = go_type_error::<T>(value, go_type).unwrap_or_else(|| go_text(&e));
            Err(ApiError::invalid_json(text))
        }
    }
}

/// The request with every key that names a field only case-insensitively
/// renamed to that field (Go's decoder takes `"Name"` for `name`); `None`
/// when no key could be matched so. Each unknown key is found by decoding
/// (serde names it, where it is, and the fields it expected there).
fn fold_keys<T: DeserializeOwned>(body: &[u8]) -> Option<Vec<u8>> {
    let mut value: serde_json::Value = serde_json::from_slice(body).ok()?;
    let mut changed = false;
    // Each round renames one key; a request has few.
    for _ in 0..64 {
        let text = serde_json::to_vec(&value).ok()?;
        let mut de = serde_json::Deserializer::from_slice(&text);
        let err = match serde_path_to_error::deserialize::<_, T>(&mut de) {
            Ok(_) => return changed.then_some(text),
            Err(err) => err,
        };
        let msg = message(err.inner());
        let rest = msg.strip_prefix("unknown field `")?;
        let (key, expected) = rest.split_once('`')?;
        let field = expected
            .split('`')
            .skip(1)
            .step_by(2)
            .find(|f| f.eq_ignore_ascii_case(key))?
            .to_string();
        // The object holding the key: the error's path without its last
        // segment (the key itself).
        let segments: Vec<&serde_path_to_error::Segment> = err.path().iter().collect();
        let mut at = &mut value;
        for seg in segments.iter().take(segments.len().saturating_sub(1)) {
            at = match seg {
                serde_path_to_error::Segment::Map { key } => at.get_mut(key.as_str())?,
                serde_path_to_error::Segment::Seq { index } => at.get_mut(*index)?,
                _ => return None,
            };
        }
        let object = at.as_object_mut()?;
        let v = object.remove(key)?;
        object.entry(field).or_insert(v);
        changed = true;
    }
    None
}

/// Go's words for a value of the wrong type: `json: cannot unmarshal
/// string into Go struct field <Type>.<path> of type int64`. Decodes again
/// (on the error path only) to learn which field failed.
fn go_type_error<T: DeserializeOwned>(value: &[u8], go_type: &str) -> Option<String> {
    let mut de = serde_json::Deserializer::from_slice(value);
    let err = serde_path_to_error::deserialize::<_, T>(&mut de).err()?;
    let msg = message(err.inner());
    let (kind, expected) = wrong_kind(&msg)?;
    let path: String = err
        .path()
        .iter()
        .filter_map(|seg| match seg {
            serde_path_to_error::Segment::Map { key } => Some(key.as_str()),
            _ => None,
        })
        .collect::<Vec<_>>()
        .join(".");
    let field = path.rsplit('.').next().unwrap_or(&path);
    let go_field_type = go_field_type(field, expected)?;
    let owner = go_type.strip_prefix("server.").unwrap_or(go_type);
    // The config fields sit in an embedded StreamConfig inside the request.
    let owner = if owner == "StreamConfigRequest" && path != "pedantic" {
        "StreamConfigRequest.StreamConfig"
    } else {
        owner
    };
    Some(format!(
        "json: cannot unmarshal {kind} into Go struct field {owner}.{path} of type {go_field_type}"
    ))
}

/// From serde's `invalid type: string "a", expected i64`: Go's name for
/// the JSON value (`string`, `number -1`, ...) and serde's expectation.
fn wrong_kind(msg: &str) -> Option<(String, &str)> {
    let rest = msg
        .strip_prefix("invalid type: ")
        .or_else(|| msg.strip_prefix("invalid value: "))?;
    let (found, expected) = rest.rsplit_once(", expected ")?;
    let literal = |s: &str| s.split('`').nth(1).unwrap_or("").to_string();
    let kind = if found.starts_with("string") {
        "string".to_string()
    } else if found.starts_with("integer") || found.starts_with("floating point") {
        format!("number {}", literal(found))
    } else if found.starts_with("boolean") {
        "bool".to_string()
    } else if found.starts_with("sequence") {
        "array".to_string()
    } else if found.starts_with("map") {
        "object".to_string()
    } else {
        return None;
    };
    Some((kind, expected))
}

/// The Go type of a request field: where Go's type is not what serde's
/// expectation names (durations, `int`), by field name.
fn go_field_type(field: &str, expected: &str) -> Option<&'static str> {
    let by_field = match field {
        "max_age" | "duplicate_window" | "subject_delete_marker_ttl" | "inactive_threshold" => {
            Some("time.Duration")
        }
        "max_consumers" | "num_replicas" | "offset" | "batch" | "max_bytes"
            if expected != "u64" =>
        {
            Some("int")
        }
        "subjects" | "multi_last" | "tags" => Some("[]string"),
        _ => None,
    };
    by_field.or(match expected {
        "i64" => Some("int64"),
        "u64" => Some("uint64"),
        "i32" => Some("int32"),
        "u32" => Some("uint32"),
        "a boolean" => Some("bool"),
        "a string" => Some("string"),
        _ => None,
    })
}

/// [`decode`] as STREAM.INFO, NAMES, LIST and PURGE use it: a body that
/// does not start like a JSON object or array is ignored (default request).
pub fn decode_optional<T: Request>(body: &[u8]) -> Result<T, ApiError> {
    match body.iter().find(|b| !is_space(**b)) {
        Some(b'{' | b'[') => decode(body),
        _ => Ok(T::default()),
    }
}

/// The reference's test for requests that must carry no body (e.g. stream
/// delete): nothing at all, or an object without members. A blank body or
/// `null` is not empty.
pub fn is_empty_request(body: &[u8]) -> bool {
    if body.is_empty() {
        return true;
    }
    let inner: Vec<u8> = body.iter().copied().filter(|b| !is_space(*b)).collect();
    inner == b"{}"
}

/// serde_json's message without its ` at line L column C` suffix.
fn message(e: &serde_json::Error) -> String {
    let msg = e.to_string();
    if e.line() == 0 {
        return msg;
    }
    let suffix = format!(" at line {} column {}", e.line(), e.column());
    msg.strip_suffix(&suffix).map(str::to_string).unwrap_or(msg)
}

/// Go's decoder text for a serde error, where the two can be matched.
fn go_text(e: &serde_json::Error) -> String {
    let msg = message(e);
    if let Some(rest) = msg.strip_prefix("unknown field `") {
        // serde: "unknown field `x`, expected one of ..." or ", there are no fields".
        if let Some(end) = rest.find("`, ") {
            return format!("json: unknown field {}", go_quote(&rest[..end]));
        }
    }
    if e.classify() == serde_json::error::Category::Eof {
        return "unexpected EOF".to_string();
    }
    msg
}

/// For `#[serde(deserialize_with)]`: Go leaves a field untouched on `null`,
/// so `null` reads as the field's default.
pub(crate) fn nullable<'de, D, T>(d: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de> + Default,
{
    Ok(Option::<T>::deserialize(d)?.unwrap_or_default())
}

/// A JSON token as a Go `UnmarshalJSON` method sees it: the enums below
/// report errors quoting the raw token (`can not unmarshal "\"bogus\""`).
pub(crate) struct RawToken {
    /// The decoded string when the token was a string.
    pub text: Option<String>,
    /// The token as JSON (approximate for numbers, `[...]`/`{...}` for
    /// containers, which no enum accepts anyway).
    pub raw: String,
}

impl RawToken {
    /// Go's `can not unmarshal %q` error over this token.
    pub fn error<E: de::Error>(&self) -> E {
        E::custom(format!("can not unmarshal {}", go_quote(&self.raw)))
    }
}

impl<'de> Deserialize<'de> for RawToken {
    fn deserialize<D: Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        d.deserialize_any(RawTokenVisitor)
    }
}

struct RawTokenVisitor;

impl RawTokenVisitor {
    fn other(raw: String) -> RawToken {
        RawToken { text: None, raw }
    }
}

impl<'de> Visitor<'de> for RawTokenVisitor {
    type Value = RawToken;

    fn expecting(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("a JSON value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<RawToken, E> {
        Ok(RawToken {
            text: Some(v.to_string()),
            raw: String::from_utf8_lossy(&to_json(v)).into_owned(),
        })
    }

    fn visit_bool<E: de::Error>(self, v: bool) -> Result<RawToken, E> {
        Ok(Self::other(v.to_string()))
    }

    fn visit_i64<E: de::Error>(self, v: i64) -> Result<RawToken, E> {
        Ok(Self::other(v.to_string()))
    }

    fn visit_u64<E: de::Error>(self, v: u64) -> Result<RawToken, E> {
        Ok(Self::other(v.to_string()))
    }

    fn visit_f64<E: de::Error>(self, v: f64) -> Result<RawToken, E> {
        Ok(Self::other(v.to_string()))
    }

    fn visit_unit<E: de::Error>(self) -> Result<RawToken, E> {
        Ok(Self::other("null".to_string()))
    }

    fn visit_none<E: de::Error>(self) -> Result<RawToken, E> {
        Ok(Self::other("null".to_string()))
    }

    fn visit_seq<A: de::SeqAccess<'de>>(self, mut seq: A) -> Result<RawToken, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Self::other("[...]".to_string()))
    }

    fn visit_map<A: de::MapAccess<'de>>(self, mut map: A) -> Result<RawToken, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Self::other("{...}".to_string()))
    }
}

/// Standard base64 with padding, as Go encodes `[]byte` fields.
pub(crate) fn base64(data: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(data.len().div_ceil(3) * 4);
    for chunk in data.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[(n >> (18 - 6 * i)) as usize & 63]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------
// A syntax scanner with Go's error messages.
// ---------------------------------------------------------------------------

#[derive(Debug, PartialEq, Eq)]
enum Scan {
    /// Nothing but whitespace.
    Empty,
    /// A top-level `null`.
    Null,
    /// A valid first value ending at `end` (exclusive).
    Value { end: usize },
    /// Go's text for the first syntax error.
    Error(String),
}

/// Go's limit on nesting (`maxNestingDepth`).
const MAX_DEPTH: usize = 10_000;

#[derive(Clone, Copy)]
enum Ctx {
    ObjectKey,
    ObjectValue,
    Array,
}

#[derive(Clone, Copy, PartialEq, Eq)]
enum State {
    BeginValue,
    BeginValueOrEmpty,
    BeginKeyOrEmpty,
    BeginKey,
    EndValue,
    Str,
    StrEsc,
    StrHex(u8),
    Neg,
    Zero,
    Digits,
    Dot,
    Fraction,
    Exp,
    ExpSign,
    ExpDigits,
    /// Inside `true`/`false`/`null`: the literal and how much is matched.
    Literal(&'static str, usize),
}

fn is_space(b: u8) -> bool {
    matches!(b, b' ' | b'\t' | b'\r' | b'\n')
}

/// Go's `quoteChar`: the offending byte in single quotes.
fn quote_char(c: u8) -> String {
    match c {
        b'\'' => "'\\''".to_string(),
        b'"' => "'\"'".to_string(),
        _ => {
            let q = go_quote(&char::from(c).to_string());
            format!("'{}'", &q[1..q.len() - 1])
        }
    }
}

fn syntax_error(c: u8, context: &str, at: usize) -> Scan {
    Scan::Error(format!(
        "invalid character {} {context} at offset {}",
        quote_char(c),
        at + 1
    ))
}

fn scan(body: &[u8]) -> Scan {
    let mut stack: Vec<Ctx> = Vec::new();
    let mut state = State::BeginValue;
    let mut started = false;
    let mut null_literal = false;
    let mut i = 0;
    while i < body.len() {
        let c = body[i];
        match state {
            State::BeginValue | State::BeginValueOrEmpty => {
                if is_space(c) {
                    i += 1;
                    continue;
                }
                if state == State::BeginValueOrEmpty && c == b']' {
                    stack.pop();
                    state = State::EndValue;
                    i += 1;
                    continue;
                }
                started = true;
                state = match c {
                    b'{' | b'[' => {
                        if stack.len() >= MAX_DEPTH {
                            return syntax_error(c, "exceeded max depth", i);
                        }
                        if c == b'{' {
                            stack.push(Ctx::ObjectKey);
                            State::BeginKeyOrEmpty
                        } else {
                            stack.push(Ctx::Array);
                            State::BeginValueOrEmpty
                        }
                    }
                    b'"' => State::Str,
                    b'-' => State::Neg,
                    b'0' => State::Zero,
                    b'1'..=b'9' => State::Digits,
                    b't' => State::Literal("true", 1),
                    b'f' => State::Literal("false", 1),
                    b'n' => {
                        null_literal = stack.is_empty();
                        State::Literal("null", 1)
                    }
                    _ => return syntax_error(c, "looking for beginning of value", i),
                };
                i += 1;
            }
            State::BeginKeyOrEmpty | State::BeginKey => {
                if is_space(c) {
                } else if state == State::BeginKeyOrEmpty && c == b'}' {
                    stack.pop();
                    state = State::EndValue;
                } else if c == b'"' {
                    state = State::Str;
                } else {
                    return syntax_error(c, "looking for beginning of object key string", i);
                }
                i += 1;
            }
            State::EndValue => {
                let Some(top) = stack.last_mut() else {
                    return after_top_level(body, i, null_literal);
                };
                if is_space(c) {
                    i += 1;
                    continue;
                }
                match (*top, c) {
                    (Ctx::ObjectKey, b':') => {
                        *top = Ctx::ObjectValue;
                        state = State::BeginValue;
                    }
                    (Ctx::ObjectKey, _) => return syntax_error(c, "after object key", i),
                    (Ctx::ObjectValue, b',') => {
                        *top = Ctx::ObjectKey;
                        state = State::BeginKey;
                    }
                    (Ctx::ObjectValue, b'}') | (Ctx::Array, b']') => {
                        stack.pop();
                    }
                    (Ctx::ObjectValue, _) => {
                        return syntax_error(c, "after object key:value pair", i)
                    }
                    (Ctx::Array, b',') => state = State::BeginValue,
                    (Ctx::Array, _) => return syntax_error(c, "after array element", i),
                }
                i += 1;
            }
            State::Str => {
                match c {
                    b'"' => state = State::EndValue,
                    b'\\' => state = State::StrEsc,
                    c if c < 0x20 => return syntax_error(c, "in string literal", i),
                    _ => {}
                }
                i += 1;
            }
            State::StrEsc => {
                state = match c {
                    b'b' | b'f' | b'n' | b'r' | b't' | b'\\' | b'/' | b'"' => State::Str,
                    b'u' => State::StrHex(0),
                    _ => return syntax_error(c, "in string escape code", i),
                };
                i += 1;
            }
            State::StrHex(n) => {
                if !c.is_ascii_hexdigit() {
                    return syntax_error(c, "in \\u hexadecimal character escape", i);
                }
                state = if n == 3 {
                    State::Str
                } else {
                    State::StrHex(n + 1)
                };
                i += 1;
            }
            State::Neg => {
                state = match c {
                    b'0' => State::Zero,
                    b'1'..=b'9' => State::Digits,
                    _ => return syntax_error(c, "in numeric literal", i),
                };
                i += 1;
            }
            State::Digits | State::Zero => {
                if state == State::Digits && c.is_ascii_digit() {
                    i += 1;
                } else if c == b'.' {
                    state = State::Dot;
                    i += 1;
                } else if c == b'e' || c == b'E' {
                    state = State::Exp;
                    i += 1;
                } else {
                    // The number ended; this byte belongs to what follows.
                    state = State::EndValue;
                }
            }
            State::Dot => {
                if !c.is_ascii_digit() {
                    return syntax_error(c, "after decimal point in numeric literal", i);
                }
                state = State::Fraction;
                i += 1;
            }
            State::Fraction => {
                if c.is_ascii_digit() {
                    i += 1;
                } else if c == b'e' || c == b'E' {
                    state = State::Exp;
                    i += 1;
                } else {
                    state = State::EndValue;
                }
            }
            State::Exp | State::ExpSign => {
                if state == State::Exp && (c == b'+' || c == b'-') {
                    state = State::ExpSign;
                } else if c.is_ascii_digit() {
                    state = State::ExpDigits;
                } else {
                    return syntax_error(c, "in exponent of numeric literal", i);
                }
                i += 1;
            }
            State::ExpDigits => {
                if c.is_ascii_digit() {
                    i += 1;
                } else {
                    state = State::EndValue;
                }
            }
            State::Literal(word, matched) => {
                let want = word.as_bytes()[matched];
                if c != want {
                    let context = format!("in literal {word} (expecting {})", quote_char(want));
                    return syntax_error(c, &context, i);
                }
                state = if matched + 1 == word.len() {
                    State::EndValue
                } else {
                    State::Literal(word, matched + 1)
                };
                i += 1;
            }
        }
    }
    let complete = stack.is_empty()
        && matches!(
            state,
            State::EndValue | State::Zero | State::Digits | State::Fraction | State::ExpDigits
        );
    match (started, complete) {
        (false, _) => Scan::Empty,
        (true, true) if null_literal => Scan::Null,
        (true, true) => Scan::Value { end: body.len() },
        (true, false) => Scan::Error("unexpected EOF".to_string()),
    }
}

/// The first value ended just before `at`: trailing blanks are fine, as is
/// the start of another value (the reference reads only the first); any
/// other byte is an error.
fn after_top_level(body: &[u8], at: usize, null_literal: bool) -> Scan {
    let rest = body[at..].iter().position(|&b| !is_space(b));
    if let Some(off) = rest {
        let c = body[at + off];
        let starts_value = matches!(
            c,
            b'{' | b'[' | b'"' | b'-' | b'0'..=b'9' | b't' | b'f' | b'n'
        );
        if !starts_value {
            return syntax_error(c, "looking for beginning of value", at + off);
        }
    }
    if null_literal {
        Scan::Null
    } else {
        Scan::Value { end: at }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, Default, Deserialize, PartialEq)]
    #[serde(deny_unknown_fields, default)]
    struct Probe {
        name: String,
        #[serde(deserialize_with = "nullable")]
        subjects: Vec<String>,
        max_age: i64,
    }

    impl Request for Probe {
        const GO_TYPE: &'static str = "server.Probe";
    }

    fn err(body: &str) -> String {
        decode::<Probe>(body.as_bytes()).unwrap_err().description
    }

    // Texts captured from nats-server 2.14.0 for the same bodies.
    #[test]
    fn syntax_errors_match_go() {
        let cases: &[(&str, &str)] = &[
            (r#"{"name":"X","#, "unexpected EOF"),
            (
                "garbage",
                "invalid character 'g' looking for beginning of value at offset 1",
            ),
            (
                r#"{"name":"H"} x"#,
                "invalid character 'x' looking for beginning of value at offset 14",
            ),
            (
                r#"{"name":"H",}"#,
                "invalid character '}' looking for beginning of object key string at offset 13",
            ),
            (
                r#"{"name":"X", "subjects":["a", tru]}"#,
                "invalid character ']' in literal true (expecting 'e') at offset 34",
            ),
            (
                r#"{"name":"X", "max_age":-}"#,
                "invalid character '}' in numeric literal at offset 25",
            ),
            (
                r#"{"name":"X", "max_age":1.}"#,
                "invalid character '}' after decimal point in numeric literal at offset 26",
            ),
            (
                r#"{"name":"X" "max_age":1}"#,
                "invalid character '\"' after object key:value pair at offset 13",
            ),
            (
                r#"{"name":"X\q"}"#,
                "invalid character 'q' in string escape code at offset 12",
            ),
            (
                "{\"name\":\"X\x01\"}",
                "invalid character '\\x01' in string literal at offset 11",
            ),
            (
                r#"{"name":"X","subjects":["a"]]"#,
                "invalid character ']' after object key:value pair at offset 29",
            ),
            (
                r#"{"name":"X","subjects":["a" "b"]}"#,
                "invalid character '\"' after array element at offset 29",
            ),
            (
                "{'name':1}",
                "invalid character '\\'' looking for beginning of object key string at offset 2",
            ),
            (
                r#"{"name":"X","max_age":1e}"#,
                "invalid character '}' in exponent of numeric literal at offset 25",
            ),
            (
                r#"{"name":"X","subjects":["\u12"]}"#,
                "invalid character '\"' in \\u hexadecimal character escape at offset 30",
            ),
            (
                r#"{"name" 1}"#,
                "invalid character '1' after object key at offset 9",
            ),
        ];
        for (body, want) in cases {
            assert_eq!(err(body), format!("invalid JSON: {want}"), "{body}");
        }
    }

    #[test]
    fn decode_leniency_matches_go() {
        let want = Probe {
            name: "H".into(),
            ..Probe::default()
        };
        assert_eq!(decode::<Probe>(br#"{"name":"H"}{}"#).unwrap(), want);
        assert_eq!(decode::<Probe>(br#" {"name":"H"} "#).unwrap(), want);
        assert_eq!(
            decode::<Probe>(br#"{"name":"X","name":"H"}"#).unwrap(),
            want
        );
        assert_eq!(
            decode::<Probe>(br#"{"name":"H","subjects":null}"#).unwrap(),
            want
        );
        assert_eq!(decode::<Probe>(b"").unwrap(), Probe::default());
        assert_eq!(decode::<Probe>(b"  ").unwrap(), Probe::default());
        assert_eq!(decode::<Probe>(b"null").unwrap(), Probe::default());
        assert_eq!(decode_optional::<Probe>(b"bad").unwrap(), Probe::default());
        assert_eq!(decode_optional::<Probe>(b"5").unwrap(), Probe::default());
        assert_eq!(decode_optional::<Probe>(br#" {"name":"H"}"#).unwrap(), want);
        assert!(decode_optional::<Probe>(br#"{"x":1}"#).is_err());
    }

    #[test]
    fn top_level_kind_errors() {
        for (body, kind) in [
            ("-12", "number"),
            ("\"x\"", "string"),
            ("true", "bool"),
            ("[]", "array"),
        ] {
            assert_eq!(
                err(body),
                format!("invalid JSON: json: cannot unmarshal {kind} into Go value of type server.Probe")
            );
        }
        assert_eq!(err("[1"), "invalid JSON: unexpected EOF");
        assert_eq!(
            parse_json::<Probe>(b"5").unwrap_err().description,
            "invalid JSON: json: cannot unmarshal number into Go value of type server.Probe"
        );
    }

    #[test]
    fn unknown_field_is_go_text() {
        assert_eq!(
            err(r#"{"name":"X","foo":1}"#),
            r#"invalid JSON: json: unknown field "foo""#
        );
    }

    /// Keys that name a field only case-insensitively are taken for it,
    /// at any depth, as Go's decoder takes them; others stay unknown.
    #[test]
    fn keys_match_fields_case_insensitively() {
        use crate::api::consumer::CreateConsumerRequest;
        use crate::api::stream::StreamConfig;
        let c: StreamConfig =
            decode(br#"{"Name":"X","SUBJECTS":["a.>"],"Max_Msgs":5}"#).expect("folded");
        assert_eq!((c.name.as_str(), c.max_msgs), ("X", 5));
        assert_eq!(c.subjects, ["a.>"]);
        let r: CreateConsumerRequest =
            decode(br#"{"Stream_Name":"S","Config":{"Durable_Name":"D","ACK_POLICY":"explicit"}}"#)
                .expect("folded");
        assert_eq!(r.config.durable_name, "D");
        // Exact keys win; a key that matches nothing is still refused.
        let c: StreamConfig = decode(br#"{"name":"X","NAME":"Y"}"#).expect("folded");
        assert_eq!(c.name, "X");
        assert_eq!(
            err(r#"{"Nam":"X"}"#),
            r#"invalid JSON: json: unknown field "Nam""#
        );
    }

    #[test]
    fn empty_request_rule() {
        assert!(is_empty_request(b""));
        assert!(is_empty_request(b"{}"));
        assert!(is_empty_request(b"{ }"));
        assert!(!is_empty_request(b" "));
        assert!(!is_empty_request(b"null"));
        assert!(!is_empty_request(br#"{"x":1}"#));
    }

    #[test]
    fn go_escaping() {
        let s = "f.> <&> \u{2028}\u{2029} \"\\\n";
        assert_eq!(
            String::from_utf8(to_json(s)).unwrap(),
            r#""f.\u003e \u003c\u0026\u003e \u2028\u2029 \"\\\n""#
        );
    }

    #[test]
    fn base64_std() {
        let cases: &[(&[u8], &str)] = &[
            (b"", ""),
            (b"y", "eQ=="),
            (b"hi", "aGk="),
            (b"abc", "YWJj"),
            (
                b"NATS/1.0\r\nFoo: bar\r\n\r\n",
                "TkFUUy8xLjANCkZvbzogYmFyDQoNCg==",
            ),
        ];
        for (data, want) in cases {
            assert_eq!(base64(data), *want);
        }
    }

    #[test]
    fn deep_nesting_is_an_error_not_a_crash() {
        let body = "[".repeat(20_000);
        assert!(err(&body).contains("exceeded max depth"));
    }
}
