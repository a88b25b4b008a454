//! Times as the JS API writes them: RFC 3339 in UTC with up to nine
//! fraction digits, trailing zeros trimmed (Go's `RFC3339Nano`), e.g.
//! `2026-11-22T03:15:00.12345Z`.
//!
//! tern keeps times as Unix nanoseconds in an `i64`. That cannot hold Go's
//! zero time (year 1), which the API uses for "no time" (an empty stream's
//! `first_ts`), so 0 stands for it: it is written as `0001-01-01T00:00:00Z`
//! and that text reads back as 0. No real message is stamped exactly at the
//! Unix epoch, so nothing is lost.

use serde::{Deserialize, Deserializer, Serializer};

use crate::error::go_quote;

/// Go's zero `time.Time` as text.
pub const ZERO_TIME: &str = "0001-01-01T00:00:00Z";

const NANOS_PER_SEC: i64 = 1_000_000_000;
const SECS_PER_DAY: i64 = 86_400;
const RFC3339_LAYOUT: &str = "2006-01-02T15:04:05Z07:00";

/// Days since 1970-01-01 to (year, month, day), proleptic Gregorian
/// (Howard Hinnant's `civil_from_days`).
pub(crate) fn civil_from_days(days: i64) -> (i64, u32, u32) {
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = (doy - (153 * mp + 2) / 5 + 1) as u32;
    let month = if mp < 10 { mp + 3 } else { mp - 9 } as u32;
    let year = yoe + era * 400 + i64::from(month <= 2);
    (year, month, day)
}

/// The inverse of [`civil_from_days`].
pub(crate) fn days_from_civil(year: i64, month: u32, day: u32) -> i64 {
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400);
    let m = i64::from(month);
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + i64::from(day) - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe - 719_468
}

fn days_in_month(year: i64, month: u32) -> u32 {
    match month {
        2 if year % 4 == 0 && (year % 100 != 0 || year % 400 == 0) => 29,
        2 => 28,
        4 | 6 | 9 | 11 => 30,
        _ => 31,
    }
}

/// Unix nanoseconds as Go's RFC3339Nano in UTC; 0 is Go's zero time.
pub fn format_time(ns: i64) -> String {
    if ns == 0 {
        return ZERO_TIME.to_string();
    }
    let secs = ns.div_euclid(NANOS_PER_SEC);
    let nanos = ns.rem_euclid(NANOS_PER_SEC);
    let (year, month, day) = civil_from_days(secs.div_euclid(SECS_PER_DAY));
    let sod = secs.rem_euclid(SECS_PER_DAY);
    let mut out = format!(
        "{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}",
        sod / 3600,
        sod / 60 % 60,
        sod % 60
    );
    if nanos != 0 {
        let frac = format!("{nanos:09}");
        out.push('.');
        out.push_str(frac.trim_end_matches('0'));
    }
    out.push('Z');
    out
}

/// Parses RFC 3339 (`Z` or a `+hh:mm` offset, optional fraction) into Unix
/// nanoseconds; `None` when malformed or outside what an `i64` holds.
pub fn parse_time(s: &str) -> Option<i64> {
    parse_time_go(s).ok()
}

/// Why a time did not parse. `Display` is Go's `time.Parse` error text
/// (clients see it inside JSON decode errors), e.g.
/// `parsing time "x" as "2006-01-02T15:04:05Z07:00": cannot parse "x" as "2006"`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum TimeParseError {
    /// The text stops following the layout at byte `at`, where the layout
    /// element `elem` was expected.
    Layout {
        input: String,
        at: usize,
        elem: &'static str,
    },
    /// A whole time followed by more text, from byte `at` on.
    ExtraText { input: String, at: usize },
    /// A field has an impossible value (`field`: "month", "day", "hour",
    /// "minute", "second" or "time zone offset").
    FieldRange { input: String, field: &'static str },
    /// A valid time too far from 1970 for `i64` nanoseconds.
    OutOfRange { input: String },
}

impl std::fmt::Display for TimeParseError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            TimeParseError::Layout { input, at, elem } => write!(
                f,
                "parsing time {} as {}: cannot parse {} as {}",
                go_quote(input),
                go_quote(RFC3339_LAYOUT),
                go_quote(&input[*at..]),
                go_quote(elem)
            ),
            TimeParseError::ExtraText { input, at } => write!(
                f,
                "parsing time {}: extra text: {}",
                go_quote(input),
                go_quote(&input[*at..])
            ),
            TimeParseError::FieldRange { input, field } => {
                write!(f, "parsing time {}: {field} out of range", go_quote(input))
            }
            TimeParseError::OutOfRange { input } => {
                write!(f, "parsing time {}: out of range", go_quote(input))
            }
        }
    }
}

impl std::error::Error for TimeParseError {}

/// [`parse_time`] with Go's reasons, for JSON decode errors.
pub(crate) fn parse_time_go(s: &str) -> Result<i64, TimeParseError> {
    if s == ZERO_TIME {
        return Ok(0);
    }
    let mut p = Parser { s, pos: 0 };
    let year = p.digits(4, "2006")?;
    p.literal("-")?;
    let month = p.digits(2, "01")?;
    p.literal("-")?;
    let day = p.digits(2, "02")?;
    p.literal("T")?;
    let hour = p.digits(2, "15")?;
    p.literal(":")?;
    let minute = p.digits(2, "04")?;
    p.literal(":")?;
    let second = p.digits(2, "05")?;
    let nanos = p.fraction();
    let offset_secs = p.zone()?;
    if p.pos != s.len() {
        return Err(TimeParseError::ExtraText {
            input: s.to_owned(),
            at: p.pos,
        });
    }
    let out_of_range = |field| TimeParseError::FieldRange {
        input: s.to_owned(),
        field,
    };
    let (month, day) = (month as u32, day as u32);
    if !(1..=12).contains(&month) {
        return Err(out_of_range("month"));
    }
    if day < 1 || day > days_in_month(year, month) {
        return Err(out_of_range("day"));
    }
    if hour > 23 {
        return Err(out_of_range("hour"));
    }
    if minute > 59 {
        return Err(out_of_range("minute"));
    }
    if second > 59 {
        return Err(out_of_range("second"));
    }
    let secs =
        days_from_civil(year, month, day) * SECS_PER_DAY + hour * 3600 + minute * 60 + second
            - offset_secs;
    // In i128: near the ends of the range the seconds alone may overflow
    // while the sum with the (positive) fraction does not.
    let ns = i128::from(secs) * i128::from(NANOS_PER_SEC) + i128::from(nanos);
    i64::try_from(ns).map_err(|_| TimeParseError::OutOfRange {
        input: s.to_owned(),
    })
}

/// Walks the input against the RFC 3339 layout; errors name the layout
/// element that failed, as Go's do.
struct Parser<'a> {
    s: &'a str,
    pos: usize,
}

impl Parser<'_> {
    fn fail(&self, elem: &'static str) -> TimeParseError {
        TimeParseError::Layout {
            input: self.s.to_owned(),
            at: self.pos,
            elem,
        }
    }

    fn digits(&mut self, n: usize, elem: &'static str) -> Result<i64, TimeParseError> {
        let rest = &self.s.as_bytes()[self.pos..];
        if rest.len() < n || !rest[..n].iter().all(u8::is_ascii_digit) {
            return Err(self.fail(elem));
        }
        let value = rest[..n]
            .iter()
            .fold(0i64, |acc, d| acc * 10 + i64::from(d - b'0'));
        self.pos += n;
        Ok(value)
    }

    fn literal(&mut self, lit: &'static str) -> Result<(), TimeParseError> {
        if !self.s[self.pos..].starts_with(lit) {
            return Err(self.fail(lit));
        }
        self.pos += lit.len();
        Ok(())
    }

    /// `.ddd...`: any number of digits, only the first nine count.
    fn fraction(&mut self) -> i64 {
        let bytes = self.s.as_bytes();
        if bytes.get(self.pos) != Some(&b'.') {
            return 0;
        }
        let digits = bytes[self.pos + 1..]
            .iter()
            .take_while(|b| b.is_ascii_digit())
            .count();
        if digits == 0 {
            return 0;
        }
        let mut nanos = 0i64;
        for i in 0..9 {
            let d = if i < digits {
                i64::from(bytes[self.pos + 1 + i] - b'0')
            } else {
                0
            };
            nanos = nanos * 10 + d;
        }
        self.pos += 1 + digits;
        nanos
    }

    /// `Z` or `+hh:mm`/`-hh:mm`, as seconds east of UTC.
    fn zone(&mut self) -> Result<i64, TimeParseError> {
        match self.s.as_bytes().get(self.pos) {
            Some(b'Z') => {
                self.pos += 1;
                Ok(0)
            }
            Some(&sign @ (b'+' | b'-')) => {
                let start = self.pos;
                self.pos += 1;
                let parsed = self.digits(2, "Z07:00").and_then(|h| {
                    self.literal(":")?;
                    Ok((h, self.digits(2, "Z07:00")?))
                });
                let (h, m) = parsed.map_err(|_| {
                    self.pos = start;
                    self.fail("Z07:00")
                })?;
                if h > 23 || m > 59 {
                    return Err(TimeParseError::FieldRange {
                        input: self.s.to_owned(),
                        field: "time zone offset",
                    });
                }
                let secs = h * 3600 + m * 60;
                Ok(if sign == b'-' { -secs } else { secs })
            }
            _ => Err(self.fail("Z07:00")),
        }
    }
}

/// serde: a time field (output only; requests carry optional times).
pub(crate) fn serialize<S: Serializer>(ns: &i64, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&format_time(*ns))
}

/// serde: a time field read back (replies read by in-process clients).
pub(crate) fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<i64, D::Error> {
    parse_time_go(&String::deserialize(d)?).map_err(serde::de::Error::custom)
}

/// serde: an optional (`omitempty` pointer) time field.
pub(crate) mod opt {
    use serde::Serializer;

    pub(crate) fn serialize<S: Serializer>(ns: &Option<i64>, s: S) -> Result<S::Ok, S::Error> {
        match ns {
            Some(ns) => super::serialize(ns, s),
            None => s.serialize_none(),
        }
    }

    pub(crate) use super::deserialize_opt as deserialize;
}

pub(crate) fn deserialize_opt<'de, D: Deserializer<'de>>(d: D) -> Result<Option<i64>, D::Error> {
    match Option::<serde_json::Value>::deserialize(d)? {
        None => Ok(None),
        Some(serde_json::Value::String(s)) => parse_time_go(&s)
            .map(Some)
            .map_err(serde::de::Error::custom),
        Some(_) => Err(serde::de::Error::custom(
            "Time.UnmarshalJSON: input is not a JSON string",
        )),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn format_like_go_rfc3339nano() {
        let cases: &[(i64, &str)] = &[
            (0, "0001-01-01T00:00:00Z"),
            (1, "1970-01-01T00:00:00.000000001Z"),
            (1_795_313_285_494_839_765, "2026-11-22T02:08:05.494839765Z"),
            (1_795_313_285_494_839_000, "2026-11-22T02:08:05.494839Z"),
            (1_795_313_285_100_000_000, "2026-11-22T02:08:05.1Z"),
            (1_795_313_285_000_000_000, "2026-11-22T02:08:05Z"),
            (951_782_400_000_000_000, "2000-02-29T00:00:00Z"),
            (-1, "1969-12-31T23:59:59.999999999Z"),
            (-86_400_000_000_000, "1969-12-31T00:00:00Z"),
            (i64::MAX, "2262-04-11T23:47:16.854775807Z"),
            (i64::MIN + 1, "1677-09-21T00:12:43.145224193Z"),
        ];
        for &(ns, want) in cases {
            assert_eq!(format_time(ns), want, "{ns}");
            assert_eq!(parse_time(want), Some(ns), "{want}");
        }
    }

    #[test]
    fn parse_accepts_offsets_and_long_fractions() {
        assert_eq!(
            parse_time("2020-01-01T02:00:00.5+02:00"),
            parse_time("2020-01-01T00:00:00.5Z")
        );
        assert_eq!(
            parse_time("2019-12-31T23:00:00-01:00"),
            parse_time("2020-01-01T00:00:00Z")
        );
        assert_eq!(
            parse_time("1970-01-01T00:00:00.1234567891Z"),
            Some(123_456_789)
        );
    }

    #[test]
    fn parse_rejects_like_go() {
        let bad: &[(&str, &str)] = &[
            (
                "bad",
                r#"parsing time "bad" as "2006-01-02T15:04:05Z07:00": cannot parse "bad" as "2006""#,
            ),
            (
                "2020-01-01",
                r#"parsing time "2020-01-01" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "T""#,
            ),
            (
                "2020-13-01T00:00:00Z",
                r#"parsing time "2020-13-01T00:00:00Z": month out of range"#,
            ),
            (
                "2021-02-29T00:00:00Z",
                r#"parsing time "2021-02-29T00:00:00Z": day out of range"#,
            ),
            (
                "2020-01-01T00:00:00",
                r#"parsing time "2020-01-01T00:00:00" as "2006-01-02T15:04:05Z07:00": cannot parse "" as "Z07:00""#,
            ),
        ];
        for (s, want) in bad {
            assert_eq!(parse_time_go(s).unwrap_err().to_string(), *want);
            assert_eq!(parse_time(s), None);
        }
        assert_eq!(
            parse_time("3000-01-01T00:00:00Z"),
            None,
            "beyond i64 nanoseconds"
        );
    }
}
