//! `Nats-Schedule` patterns, as the reference reads them: `@at <RFC 3339
//! time>` (once), `@every <Go duration>` (at least a second),
//! `@yearly`/`@annually`/`@monthly`/`@weekly`/`@daily`/`@midnight`/
//! `@hourly`, and cron with six fields (seconds first), evaluated in UTC
//! or a fixed-offset zone, at whole seconds.

use crate::api::time::{civil_from_days, days_from_civil};

const NANOS: i64 = 1_000_000_000;
const DAY: i64 = 86_400;
/// A cron pattern that matches nothing within this many years is invalid.
const SEARCH_YEARS: i64 = 5;

/// A parsed schedule.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) enum Pattern {
    /// Once, at this time (Unix ns).
    At(i64),
    /// Repeatedly, this many nanoseconds apart.
    Every(i64),
    /// Whenever the cron fields match, in a zone `offset` seconds east of
    /// UTC.
    Cron(Box<Cron>, i32),
}

/// The six cron fields as bit sets.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct Cron {
    sec: u64,
    min: u64,
    hour: u64,
    dom: u64,
    month: u64,
    dow: u64,
    /// Day of month and day of week both restricted: either may match.
    days_either: bool,
}

/// Why a pattern is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct InvalidPattern;

impl Pattern {
    /// Reads a `Nats-Schedule` value; `offset` is the time zone's offset
    /// from `Nats-Schedule-Time-Zone` (`None`: no zone header).
    pub(crate) fn parse(value: &str, offset: Option<i32>) -> Result<Pattern, InvalidPattern> {
        if let Some(at) = value.strip_prefix("@at ") {
            if offset.is_some() {
                return Err(InvalidPattern);
            }
            return crate::api::time::parse_time(at.trim())
                .map(Pattern::At)
                .ok_or(InvalidPattern);
        }
        if let Some(every) = value.strip_prefix("@every ") {
            if offset.is_some() {
                return Err(InvalidPattern);
            }
            let ns = crate::duration::parse_go_duration(every.trim()).ok_or(InvalidPattern)?;
            if ns < NANOS {
                return Err(InvalidPattern);
            }
            return Ok(Pattern::Every(ns));
        }
        let fields = match value {
            "@yearly" | "@annually" => "0 0 0 1 1 *",
            "@monthly" => "0 0 0 1 * *",
            "@weekly" => "0 0 0 * * 0",
            "@daily" | "@midnight" => "0 0 0 * * *",
            "@hourly" => "0 0 * * * *",
            other => other,
        };
        let cron = Cron::parse(fields)?;
        let p = Pattern::Cron(Box::new(cron), offset.unwrap_or(0));
        // One that never fires within the search window is refused.
        p.next_after(0).ok_or(InvalidPattern)?;
        Ok(p)
    }

    /// Whether it fires once only.
    pub(crate) fn is_once(&self) -> bool {
        matches!(self, Pattern::At(_))
    }

    /// When it fires next after `ts` (Unix ns); `None` for never. `@at`
    /// gives its time even when past; `@every` and cron skip ahead of
    /// `now`, never replaying missed runs.
    pub(crate) fn next(&self, ts: i64, now: i64) -> Option<i64> {
        match self {
            Pattern::At(t) => Some(*t),
            Pattern::Every(ns) => {
                let next = round_to_second(ts) + ns;
                Some(if next < now {
                    round_to_second(now) + ns
                } else {
                    next
                })
            }
            Pattern::Cron(..) => {
                let next = self.next_after(ts)?;
                if next < now {
                    self.next_after(round_to_second(now))
                } else {
                    Some(next)
                }
            }
        }
    }

    /// The first matching whole second strictly after `ts`.
    fn next_after(&self, ts: i64) -> Option<i64> {
        let Pattern::Cron(cron, offset) = self else {
            return None;
        };
        let local = ts.div_euclid(NANOS) + i64::from(*offset) + 1;
        cron.next_from(local)
            .map(|secs| (secs - i64::from(*offset)) * NANOS)
    }
}

fn round_to_second(ns: i64) -> i64 {
    (ns + NANOS / 2).div_euclid(NANOS) * NANOS
}

impl Cron {
    fn parse(text: &str) -> Result<Cron, InvalidPattern> {
        let fields: Vec<&str> = text.split_whitespace().collect();
        let [sec, min, hour, dom, month, dow] = fields[..] else {
            return Err(InvalidPattern);
        };
        const MONTHS: &[&str] = &[
            "jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec",
        ];
        const DAYS: &[&str] = &["sun", "mon", "tue", "wed", "thu", "fri", "sat"];
        let (dom_bits, dom_star) = field(dom, 1, 31, &[], 0)?;
        let (dow_bits, dow_star) = field(dow, 0, 6, DAYS, 0)?;
        Ok(Cron {
            sec: field(sec, 0, 59, &[], 0)?.0,
            min: field(min, 0, 59, &[], 0)?.0,
            hour: field(hour, 0, 23, &[], 0)?.0,
            dom: dom_bits,
            month: field(month, 1, 12, MONTHS, 1)?.0,
            dow: dow_bits,
            days_either: !dom_star && !dow_star,
        })
    }

    fn day_matches(&self, days: i64) -> bool {
        let (_, _, d) = civil_from_days(days);
        // 1970-01-01 was a Thursday (4).
        let weekday = (days + 4).rem_euclid(7);
        let dom = self.dom & (1 << d) != 0;
        let dow = self.dow & (1 << weekday) != 0;
        if self.days_either {
            dom || dow
        } else {
            dom && dow
        }
    }

    /// The first matching second at or after `from` (seconds, local).
    fn next_from(&self, from: i64) -> Option<i64> {
        let (start_year, _, _) = civil_from_days(from.div_euclid(DAY));
        let mut t = from;
        loop {
            let days = t.div_euclid(DAY);
            let (y, m, _) = civil_from_days(days);
            if y > start_year + SEARCH_YEARS {
                return None;
            }
            if self.month & (1 << m) == 0 {
                // The first day of the next month.
                let (ny, nm) = if m == 12 { (y + 1, 1) } else { (y, m + 1) };
                t = days_from_civil(ny, nm, 1) * DAY;
                continue;
            }
            if !self.day_matches(days) {
                t = (days + 1) * DAY;
                continue;
            }
            let sod = t.rem_euclid(DAY);
            let (h, mi, s) = (sod / 3600, sod / 60 % 60, sod % 60);
            if self.hour & (1 << h) == 0 {
                t = days * DAY + (h + 1) * 3600;
                continue;
            }
            if self.min & (1 << mi) == 0 {
                t = days * DAY + h * 3600 + (mi + 1) * 60;
                continue;
            }
            if self.sec & (1 << s) == 0 {
                t += 1;
                continue;
            }
            return Some(t);
        }
    }
}

/// One cron field: its bits, and whether it is unrestricted (`*` or `?`
/// without a step over 1), for the day-matching rule.
fn field(
    text: &str,
    min: u32,
    max: u32,
    names: &[&str],
    name_base: u32,
) -> Result<(u64, bool), InvalidPattern> {
    let value = |s: &str| -> Result<u32, InvalidPattern> {
        if let Some(i) = names.iter().position(|n| n.eq_ignore_ascii_case(s)) {
            return Ok(i as u32 + name_base);
        }
        s.parse::<u32>().map_err(|_| InvalidPattern)
    };
    let mut bits = 0u64;
    let mut star = false;
    for part in text.split(',') {
        let (range, step) = match part.split_once('/') {
            Some((r, s)) => (r, Some(s.parse::<u32>().map_err(|_| InvalidPattern)?)),
            None => (part, None),
        };
        if step == Some(0) {
            return Err(InvalidPattern);
        }
        let (lo, hi) = if range == "*" || range == "?" {
            if step.unwrap_or(1) <= 1 {
                star = true;
            }
            (min, max)
        } else if let Some((a, b)) = range.split_once('-') {
            (value(a)?, value(b)?)
        } else {
            let v = value(range)?;
            (v, if step.is_some() { max } else { v })
        };
        if lo < min || hi > max || lo > hi {
            return Err(InvalidPattern);
        }
        let mut v = lo;
        while v <= hi {
            bits |= 1 << v;
            v += step.unwrap_or(1);
        }
    }
    Ok((bits, star))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        crate::api::time::parse_time(s).expect("time")
    }

    fn next(p: &str, after: &str) -> String {
        let p = Pattern::parse(p, None).expect("pattern");
        crate::api::time::format_time(p.next(t(after), t(after)).expect("next"))
    }

    #[test]
    fn patterns_fire_when_the_reference_says() {
        assert_eq!(
            next("@at 2030-01-02T03:04:05Z", "2026-01-01T00:00:00Z"),
            "2030-01-02T03:04:05Z"
        );
        assert_eq!(
            next("@every 90s", "2026-01-01T00:00:00.4Z"),
            "2026-01-01T00:01:30Z"
        );
        assert_eq!(
            next("@hourly", "2026-01-01T00:00:00Z"),
            "2026-01-01T01:00:00Z"
        );
        assert_eq!(
            next("@daily", "2026-01-01T10:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
        assert_eq!(
            next("@weekly", "2026-01-01T10:00:00Z"),
            "2026-01-04T00:00:00Z"
        );
        assert_eq!(
            next("@yearly", "2026-03-01T00:00:00Z"),
            "2027-01-01T00:00:00Z"
        );
        assert_eq!(
            next("*/15 * * * * *", "2026-01-01T00:00:07Z"),
            "2026-01-01T00:00:15Z"
        );
        assert_eq!(
            next("0 30 9 * * mon-fri", "2026-01-03T12:00:00Z"),
            "2026-01-05T09:30:00Z"
        );
        assert_eq!(
            next("0 0 0 29 2 *", "2026-01-01T00:00:00Z"),
            "2028-02-29T00:00:00Z"
        );
        // Both day fields restricted: either matches.
        assert_eq!(
            next("0 0 0 13 * fri", "2026-01-01T00:00:00Z"),
            "2026-01-02T00:00:00Z"
        );
    }

    #[test]
    fn bad_patterns_are_refused() {
        for p in [
            "",
            "* * * * *",
            "60 * * * * *",
            "* * * 0 * *",
            "*/0 * * * * *",
            "5-1 * * * * *",
            "0 0 0 30 2 *",
            "@every 999ms",
            "@every x",
            "@at yesterday",
            "@sometimes",
        ] {
            assert_eq!(Pattern::parse(p, None), Err(InvalidPattern), "{p:?}");
        }
        assert_eq!(Pattern::parse("@every 1s", Some(0)), Err(InvalidPattern));
        assert!(Pattern::parse("0 0 9 * * *", Some(3600)).is_ok());
    }
}
