//! Query parameters as the reference decodes them, with its 400 bodies
//! for values it cannot read, and the value formats its JSON uses (Go
//! durations, RFC 3339 times).

use super::http::{Request, Response};

/// Go's `strconv.ParseBool`.
pub fn parse_bool(v: &str) -> Option<bool> {
    match v {
        "1" | "t" | "T" | "TRUE" | "true" | "True" => Some(true),
        "0" | "f" | "F" | "FALSE" | "false" | "False" => Some(false),
        _ => None,
    }
}

/// A boolean parameter (absent or empty: false).
pub fn boolean(req: &Request, name: &str) -> Result<bool, Response> {
    match req.param(name) {
        None | Some("") => Ok(false),
        Some(v) => parse_bool(v).ok_or_else(|| {
            Response::text(
                400,
                format!(
                    "Error decoding boolean for '{name}': strconv.ParseBool: parsing {v:?}: invalid syntax"
                ),
            )
        }),
    }
}

/// An integer parameter (absent or empty: 0).
pub fn int(req: &Request, name: &str) -> Result<i64, Response> {
    match req.param(name) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<i64>().map_err(|_| {
            Response::text(
                400,
                format!(
                    "Error decoding int for '{name}': strconv.Atoi: parsing {v:?}: {}",
                    range_or_syntax(v)
                ),
            )
        }),
    }
}

/// An unsigned parameter (absent or empty: 0).
pub fn uint(req: &Request, name: &str) -> Result<u64, Response> {
    match req.param(name) {
        None | Some("") => Ok(0),
        Some(v) => v.parse::<u64>().map_err(|_| {
            Response::text(
                400,
                format!(
                    "Error decoding uint64 for '{name}': strconv.ParseUint: parsing {v:?}: {}",
                    // ParseUint takes no sign at all.
                    if v.starts_with(['-', '+']) {
                        "invalid syntax"
                    } else {
                        range_or_syntax(v)
                    }
                ),
            )
        }),
    }
}

/// Go says "value out of range" for digits too many, else "invalid syntax".
fn range_or_syntax(v: &str) -> &'static str {
    let digits = v.strip_prefix(['-', '+']).unwrap_or(v);
    if !digits.is_empty() && digits.bytes().all(|b| b.is_ascii_digit()) {
        "value out of range"
    } else {
        "invalid syntax"
    }
}

/// `offset` and `limit` as the list endpoints read them: a negative
/// offset is 0, a limit of 0 or less is `default`.
pub fn paging(req: &Request, default: usize) -> Result<(usize, usize), Response> {
    let offset = usize::try_from(int(req, "offset")?.max(0)).unwrap_or(0);
    let limit = int(req, "limit")?;
    let limit = if limit <= 0 {
        default
    } else {
        usize::try_from(limit).unwrap_or(usize::MAX)
    };
    Ok((offset, limit))
}

/// The page `offset..offset+limit` of `items`.
pub fn page<T>(mut items: Vec<T>, offset: usize, limit: usize) -> Vec<T> {
    let start = offset.min(items.len());
    let end = offset.saturating_add(limit).min(items.len());
    items.truncate(end);
    items.drain(..start);
    items
}

/// Unix nanoseconds as Go writes a `time.Time` in JSON (RFC 3339, UTC,
/// fraction without trailing zeros).
pub fn rfc3339(ns: u64) -> String {
    tern_jetstream::api::format_time(i64::try_from(ns).unwrap_or(i64::MAX))
}

/// Now, in Unix nanoseconds.
pub fn now_nanos() -> u64 {
    crate::handle::conn_info::unix_nanos(std::time::SystemTime::now())
}

pub use crate::gotime::go_duration;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pages_clamp_to_the_list() {
        assert_eq!(page(vec![1, 2, 3, 4], 1, 2), [2, 3]);
        assert_eq!(page(vec![1, 2, 3], 5, 2), Vec::<i32>::new());
        assert_eq!(page(vec![1, 2, 3], 2, usize::MAX), [3]);
    }
}
