//! Go's duration syntax (`time.ParseDuration`), shared by the config file
//! parser and by JetStream headers such as `Nats-TTL`.

use std::time::Duration;

/// Go's `time.ParseDuration`: an optional sign, then one or more decimal
/// numbers (fractions allowed) each with a unit of `ns`, `us` (or the micro
/// sign), `ms`, `s`, `m` or `h`, e.g. `1h30m`, `1.5s`, `300ms`; `0` alone
/// needs no unit. Negative durations, which `Duration` cannot hold, give
/// `None` (except zero).
#[must_use]
pub fn parse_duration(s: &str) -> Option<Duration> {
    let (negative, mut rest) = match s.as_bytes().first() {
        Some(b'-') => (true, s.get(1..)?),
        Some(b'+') => (false, s.get(1..)?),
        _ => (false, s),
    };
    if rest == "0" {
        return Some(Duration::ZERO);
    }
    if rest.is_empty() {
        return None;
    }
    let mut total: u64 = 0;
    while !rest.is_empty() {
        let (nanos, tail) = duration_term(rest)?;
        total = total.checked_add(nanos)?;
        rest = tail;
    }
    if total > i64::MAX as u64 {
        return None;
    }
    match (negative, total) {
        (true, 0) => Some(Duration::ZERO),
        (true, _) => None,
        (false, n) => Some(Duration::from_nanos(n)),
    }
}

/// One `<number><unit>` term, in nanoseconds, and what follows it.
fn duration_term(s: &str) -> Option<(u64, &str)> {
    let (whole, rest) = split_digits(s);
    let (frac, rest) = match rest.strip_prefix('.') {
        Some(after) => split_digits(after),
        None => ("", rest),
    };
    if whole.is_empty() && frac.is_empty() {
        return None;
    }
    let unit_len = rest
        .find(|c: char| c == '.' || c.is_ascii_digit())
        .unwrap_or(rest.len());
    let (unit, rest) = rest.split_at(unit_len);
    let unit = duration_unit(unit)?;
    let whole: u64 = if whole.is_empty() {
        0
    } else {
        whole.parse().ok()?
    };
    let nanos = whole
        .checked_mul(unit)?
        .checked_add(fraction_nanos(frac, unit))?;
    (nanos <= 1 << 63).then_some((nanos, rest))
}

fn split_digits(s: &str) -> (&str, &str) {
    let end = s.find(|c: char| !c.is_ascii_digit()).unwrap_or(s.len());
    s.split_at(end)
}

fn duration_unit(unit: &str) -> Option<u64> {
    Some(match unit {
        "ns" => 1,
        "us" | "\u{b5}s" | "\u{3bc}s" => 1_000,
        "ms" => 1_000_000,
        "s" => 1_000_000_000,
        "m" => 60_000_000_000,
        "h" => 3_600_000_000_000,
        _ => return None,
    })
}

/// Digits beyond what fits are ignored, and the scaling is done in f64,
/// both as Go does, so long fractions round the same way.
#[allow(
    clippy::cast_precision_loss,
    clippy::cast_possible_truncation,
    clippy::cast_sign_loss
)]
fn fraction_nanos(frac: &str, unit: u64) -> u64 {
    let mut value: u64 = 0;
    let mut scale: f64 = 1.0;
    for d in frac.bytes() {
        let Some(next) = value
            .checked_mul(10)
            .and_then(|v| v.checked_add(u64::from(d - b'0')))
            .filter(|v| *v <= 1 << 63)
        else {
            break;
        };
        value = next;
        scale *= 10.0;
    }
    (value as f64 * (unit as f64 / scale)) as u64
}

/// A Go duration in signed nanoseconds (`-1ms` is allowed here).
pub fn parse_go_duration(s: &str) -> Option<i64> {
    match s.strip_prefix('-') {
        Some(rest) => parse_duration(rest)
            .and_then(|d| i64::try_from(d.as_nanos()).ok())
            .map(|n| -n),
        None => parse_duration(s).and_then(|d| i64::try_from(d.as_nanos()).ok()),
    }
}

/// Go's `time.Duration.String`: `1s`, `1m30s`, `5m0s`, `1h0m0s`, `1.5s`,
/// `100ms`, `0s` (headers such as a marker's `Nats-TTL` carry this form).
pub fn format_go_duration(ns: i64) -> String {
    if ns == 0 {
        return "0s".to_string();
    }
    let sign = if ns < 0 { "-" } else { "" };
    let n = ns.unsigned_abs();
    if n < 1_000_000_000 {
        let (unit, scale) = if n < 1_000 {
            ("ns", 1)
        } else if n < 1_000_000 {
            ("\u{b5}s", 1_000)
        } else {
            ("ms", 1_000_000)
        };
        return format!("{sign}{}{unit}", with_fraction(n, scale));
    }
    let hours = n / 3_600_000_000_000;
    let minutes = n / 60_000_000_000 % 60;
    let seconds = with_fraction(n % 60_000_000_000, 1_000_000_000);
    if hours > 0 {
        format!("{sign}{hours}h{minutes}m{seconds}s")
    } else if minutes > 0 {
        format!("{sign}{minutes}m{seconds}s")
    } else {
        format!("{sign}{seconds}s")
    }
}

/// `n / scale` with its fraction, trailing zeros trimmed (`1.5`, `2`).
fn with_fraction(n: u64, scale: u64) -> String {
    let whole = n / scale;
    let frac = n % scale;
    if frac == 0 {
        return whole.to_string();
    }
    let width = scale.ilog10() as usize;
    let digits = format!("{frac:0width$}");
    format!("{whole}.{}", digits.trim_end_matches('0'))
}

#[cfg(test)]
mod format_tests {
    use super::format_go_duration;

    #[test]
    fn go_duration_strings() {
        let cases = [
            (0, "0s"),
            (1_000_000_000, "1s"),
            (1_500_000_000, "1.5s"),
            (90_000_000_000, "1m30s"),
            (300_000_000_000, "5m0s"),
            (3_600_000_000_000, "1h0m0s"),
            (100_000_000, "100ms"),
            (1_500, "1.5\u{b5}s"),
            (500, "500ns"),
            (3_723_500_000_000, "1h2m3.5s"),
        ];
        for (ns, want) in cases {
            assert_eq!(format_go_duration(ns), want, "{ns}");
        }
    }
}
