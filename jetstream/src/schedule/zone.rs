//! `Nats-Schedule-Time-Zone`: an IANA zone name read from the system's
//! zone files (TZif, as Go's `time.LoadLocation` reads them), giving the
//! zone's offset from UTC now: its transitions, then the POSIX rule at
//! the file's end for times past them. A cron schedule runs on that
//! offset.

use crate::api::time::{civil_from_days, days_from_civil};

const ZONEINFO: &str = "/usr/share/zoneinfo";

/// The offset east of UTC, in seconds, of zone `name` now; `None` for an
/// empty or unknown name.
pub(super) fn offset(name: &str) -> Option<i32> {
    offset_at(name, crate::outbox::now_ns().div_euclid(1_000_000_000))
}

fn offset_at(name: &str, t: i64) -> Option<i32> {
    if matches!(name, "UTC" | "Etc/UTC" | "GMT" | "Etc/GMT") {
        return Some(0);
    }
    let safe = !name.is_empty()
        && !name.starts_with('/')
        && name
            .split('/')
            .all(|p| !p.is_empty() && p != ".." && p != ".")
        && name
            .bytes()
            .all(|b| b.is_ascii_alphanumeric() || b"/_-+".contains(&b));
    if !safe {
        return None;
    }
    let data = std::fs::read(format!("{ZONEINFO}/{name}")).ok()?;
    Tzif::parse(&data)?.offset_at(t)
}

/// What a zone file says.
struct Tzif {
    transitions: Vec<(i64, usize)>,
    offsets: Vec<(i32, bool)>,
    footer: Option<String>,
}

impl Tzif {
    fn parse(d: &[u8]) -> Option<Tzif> {
        if d.get(..4)? != b"TZif" {
            return None;
        }
        let counts = |at: usize| -> Option<[usize; 6]> {
            let mut c = [0usize; 6];
            for (i, v) in c.iter_mut().enumerate() {
                let b = d.get(at + 20 + i * 4..at + 24 + i * 4)?;
                *v = u32::from_be_bytes(b.try_into().ok()?) as usize;
            }
            Some(c)
        };
        let [isut, isstd, leap, time, types, chars] = counts(0)?;
        let v1_len = time * 5 + types * 6 + chars + leap * 8 + isstd + isut;
        let (at, wide) = if d[4] >= b'2' {
            (44 + v1_len, true)
        } else {
            (0, false)
        };
        let [isut, isstd, leap, time, types, chars] = counts(at)?;
        let tsize = if wide { 8 } else { 4 };
        let mut p = at + 44;
        let mut transitions = Vec::with_capacity(time);
        for i in 0..time {
            let b = d.get(p + i * tsize..p + (i + 1) * tsize)?;
            let t = if wide {
                i64::from_be_bytes(b.try_into().ok()?)
            } else {
                i64::from(i32::from_be_bytes(b.try_into().ok()?))
            };
            transitions.push((t, 0));
        }
        p += time * tsize;
        for (i, tr) in transitions.iter_mut().enumerate() {
            tr.1 = usize::from(*d.get(p + i)?);
        }
        p += time;
        let mut offsets = Vec::with_capacity(types);
        for i in 0..types {
            let b = d.get(p + i * 6..p + i * 6 + 6)?;
            offsets.push((i32::from_be_bytes(b[..4].try_into().ok()?), b[4] != 0));
        }
        p += types * 6 + chars + leap * (tsize + 4) + isstd + isut;
        let footer = if wide {
            let rest = d.get(p..)?;
            std::str::from_utf8(rest)
                .ok()
                .map(|s| s.trim_matches('\n').to_string())
                .filter(|s| !s.is_empty())
        } else {
            None
        };
        Some(Tzif {
            transitions,
            offsets,
            footer,
        })
    }

    fn offset_at(&self, t: i64) -> Option<i32> {
        let past_end = self.transitions.last().is_none_or(|(last, _)| t >= *last);
        if past_end {
            if let Some(rule) = self.footer.as_deref().and_then(Rule::parse) {
                return Some(rule.offset_at(t));
            }
        }
        match self.transitions.iter().rev().find(|(at, _)| *at <= t) {
            Some((_, ty)) => self.offsets.get(*ty).map(|o| o.0),
            None => self
                .offsets
                .iter()
                .find(|o| !o.1)
                .or(self.offsets.first())
                .map(|o| o.0),
        }
    }
}

/// A POSIX rule date, `Mm.w.d/time`: month, week (5: the last),
/// weekday, seconds into the day.
type RuleDate = (u32, u32, u32, i32);

/// A POSIX TZ rule (`CET-1CEST,M3.5.0,M10.5.0/3`): standard offset, and
/// daylight time between two dates.
struct Rule {
    std: i32,
    dst: Option<(i32, RuleDate, RuleDate)>,
}

impl Rule {
    fn parse(s: &str) -> Option<Rule> {
        let (std_part, rest) = split_name(s)?;
        let _ = std_part;
        let (std_off, rest) = take_offset(rest)?;
        // POSIX offsets are west of UTC.
        let std = -std_off;
        if rest.is_empty() {
            return Some(Rule { std, dst: None });
        }
        let (_, rest) = split_name(rest)?;
        let (dst, rest) = match take_offset(rest) {
            Some((off, r)) if !rest.starts_with(',') => (-off, r),
            _ => (std + 3600, rest),
        };
        let rest = rest.strip_prefix(',')?;
        let (start, end) = rest.split_once(',')?;
        Some(Rule {
            std,
            dst: Some((dst, date(start)?, date(end)?)),
        })
    }

    fn offset_at(&self, t: i64) -> i32 {
        let Some((dst, start, end)) = self.dst else {
            return self.std;
        };
        let (year, _, _) = civil_from_days((t + i64::from(self.std)).div_euclid(86_400));
        // Start is in standard time, end in daylight time.
        let begins = at(year, start) - i64::from(self.std);
        let ends = at(year, end) - i64::from(dst);
        let in_dst = if begins < ends {
            t >= begins && t < ends
        } else {
            t >= begins || t < ends
        };
        if in_dst {
            dst
        } else {
            self.std
        }
    }
}

/// A zone abbreviation (`CET`, `<+03>`), and what follows it.
fn split_name(s: &str) -> Option<(&str, &str)> {
    if let Some(rest) = s.strip_prefix('<') {
        let end = rest.find('>')?;
        return Some((&rest[..end], &rest[end + 1..]));
    }
    let end = s
        .find(|c: char| !c.is_ascii_alphabetic())
        .unwrap_or(s.len());
    (end >= 3).then(|| (&s[..end], &s[end..]))
}

/// `[+-]hh[:mm[:ss]]` in seconds, and what follows.
fn take_offset(s: &str) -> Option<(i32, &str)> {
    let (sign, body) = match s.as_bytes().first()? {
        b'-' => (-1, &s[1..]),
        b'+' => (1, &s[1..]),
        _ => (1, s),
    };
    let end = body
        .find(|c: char| !(c.is_ascii_digit() || c == ':'))
        .unwrap_or(body.len());
    if end == 0 {
        return None;
    }
    let mut secs = 0;
    for (i, part) in body[..end].split(':').enumerate() {
        let v: i32 = part.parse().ok()?;
        secs += v * [3600, 60, 1].get(i)?;
    }
    Some((sign * secs, &body[end..]))
}

/// `Mm.w.d[/time]`: month, week (5 = last), weekday, seconds into the day.
fn date(s: &str) -> Option<RuleDate> {
    let (d, time) = match s.split_once('/') {
        Some((d, t)) => (d, take_offset(t)?.0),
        None => (s, 7200),
    };
    let mut parts = d.strip_prefix('M')?.split('.');
    let m = parts.next()?.parse().ok()?;
    let w = parts.next()?.parse().ok()?;
    let wd = parts.next()?.parse().ok()?;
    Some((m, w, wd, time))
}

/// The local second of `year`'s `Mm.w.d/time`.
fn at(year: i64, (m, w, wd, time): RuleDate) -> i64 {
    let first = days_from_civil(year, m, 1);
    let first_wd = (first + 4).rem_euclid(7) as u32;
    let mut day = first + i64::from((wd + 7 - first_wd) % 7) + 7 * i64::from(w.saturating_sub(1));
    let next_month = if m == 12 {
        days_from_civil(year + 1, 1, 1)
    } else {
        days_from_civil(year, m + 1, 1)
    };
    while day >= next_month {
        day -= 7;
    }
    day * 86_400 + i64::from(time)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn posix_rules_give_summer_and_winter_offsets() {
        let berlin = Rule::parse("CET-1CEST,M3.5.0,M10.5.0/3").expect("rule");
        let t = |s: &str| crate::api::time::parse_time(s).expect("time") / 1_000_000_000;
        assert_eq!(berlin.offset_at(t("2026-01-15T12:00:00Z")), 3600);
        assert_eq!(berlin.offset_at(t("2026-07-15T12:00:00Z")), 7200);
        // The switch: the last Sunday of March, 01:00 UTC.
        assert_eq!(berlin.offset_at(t("2026-03-29T00:59:59Z")), 3600);
        assert_eq!(berlin.offset_at(t("2026-03-29T01:00:00Z")), 7200);
        let ny = Rule::parse("EST5EDT,M3.2.0,M11.1.0").expect("rule");
        assert_eq!(ny.offset_at(t("2026-12-01T00:00:00Z")), -5 * 3600);
        assert_eq!(ny.offset_at(t("2026-06-01T00:00:00Z")), -4 * 3600);
        let tokyo = Rule::parse("JST-9").expect("rule");
        assert_eq!(tokyo.offset_at(0), 9 * 3600);
        assert_eq!(offset_at("UTC", 0), Some(0));
        assert_eq!(offset_at("", 0), None);
        assert_eq!(offset_at("../etc/passwd", 0), None);
        assert_eq!(offset_at("Not/AZone", 0), None);
    }
}
