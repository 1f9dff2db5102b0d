//! Calendar arithmetic and the local time zone: RFC 3339 timestamps to epoch
//! milliseconds, epoch days to `YYYY-MM-DD`, and the UTC offset of the local
//! zone read from `TZ` / `/etc/localtime` (TZif files and POSIX TZ rules).
//! No I/O beyond reading the zone file once; no allocation on the hot path.

use std::path::Path;

pub const MS_PER_MINUTE: i64 = 60_000;
pub const MS_PER_HOUR: i64 = 3_600_000;
pub const MS_PER_DAY: i64 = 86_400_000;

pub use crate::calendar::{civil_from_days, days_from_civil};

/// `YYYY-MM-DD` of an epoch day.
pub fn format_day(days: i64) -> String {
    let (y, m, d) = civil_from_days(days);
    format!("{y:04}-{m:02}-{d:02}")
}

/// `YYYY-MM-DDTHH:MM:SS.mmmZ`, the form ccusage prints for block times.
pub fn format_iso_ms(ms: i64) -> String {
    let days = ms.div_euclid(MS_PER_DAY);
    let rem = ms.rem_euclid(MS_PER_DAY);
    let (h, mi, s, milli) = (
        rem / MS_PER_HOUR,
        rem % MS_PER_HOUR / MS_PER_MINUTE,
        rem % MS_PER_MINUTE / 1000,
        rem % 1000,
    );
    format!("{}T{h:02}:{mi:02}:{s:02}.{milli:03}Z", format_day(days))
}

fn digits(bytes: &[u8], at: usize, len: usize) -> Option<u32> {
    let part = bytes.get(at..at + len)?;
    let mut value = 0u32;
    for &b in part {
        if !b.is_ascii_digit() {
            return None;
        }
        value = value * 10 + u32::from(b - b'0');
    }
    Some(value)
}

/// Parses an RFC 3339 timestamp (`2026-02-11T20:36:45.693Z`, fractional
/// seconds optional, `Z` or `±HH:MM`) into epoch milliseconds. Fractions
/// beyond milliseconds are truncated, as JavaScript's `Date` does.
pub fn parse_timestamp(text: &str) -> Option<i64> {
    let b = text.as_bytes();
    let year = digits(b, 0, 4)?;
    let month = digits(b, 5, 2)?;
    let day = digits(b, 8, 2)?;
    let hour = digits(b, 11, 2)?;
    let minute = digits(b, 14, 2)?;
    let second = digits(b, 17, 2)?;
    if b.get(4) != Some(&b'-')
        || b.get(7) != Some(&b'-')
        || !matches!(b.get(10), Some(b'T' | b't' | b' '))
        || b.get(13) != Some(&b':')
        || b.get(16) != Some(&b':')
        || !(1..=12).contains(&month)
        || !(1..=31).contains(&day)
        || hour > 23
        || minute > 59
        || second > 60
    {
        return None;
    }
    let mut at = 19;
    let mut millis = 0i64;
    if b.get(at) == Some(&b'.') {
        at += 1;
        let start = at;
        while b.get(at).is_some_and(u8::is_ascii_digit) {
            if at - start < 3 {
                millis = millis * 10 + i64::from(b[at] - b'0');
            }
            at += 1;
        }
        if at == start {
            return None;
        }
        for _ in (at - start)..3 {
            millis *= 10;
        }
    }
    let offset_minutes = match b.get(at) {
        Some(b'Z' | b'z') if at + 1 == b.len() => 0,
        Some(&sign @ (b'+' | b'-')) if at + 6 == b.len() && b.get(at + 3) == Some(&b':') => {
            let total = i64::from(digits(b, at + 1, 2)? * 60 + digits(b, at + 4, 2)?);
            if sign == b'+' { total } else { -total }
        }
        _ => return None,
    };
    let days = days_from_civil(i64::from(year), month, day);
    let secs = days * 86_400 + i64::from(hour * 3600 + minute * 60 + second) - offset_minutes * 60;
    Some(secs * 1000 + millis)
}

/// A local time zone: a fixed list of transitions from a TZif file and an
/// optional POSIX rule for instants after the last one. `offset_at` is what
/// the day buckets need; everything else about zones is out of scope.
#[derive(Debug, Clone, Default)]
pub struct LocalZone {
    /// What the zone was read from, so a persisted cache can tell when the
    /// machine's zone changed and its day buckets are stale.
    pub id: String,
    transitions: Vec<(i64, i32)>,
    initial: i32,
    rule: Option<PosixRule>,
}

impl LocalZone {
    pub fn utc() -> Self {
        LocalZone {
            id: "UTC".to_string(),
            ..LocalZone::default()
        }
    }

    /// The zone this process runs in: `$TZ` (a name under
    /// /usr/share/zoneinfo, an absolute path, or a POSIX rule string) or else
    /// /etc/localtime. Anything unreadable falls back to UTC, which is what
    /// the C library does too.
    pub fn from_env() -> Self {
        match std::env::var("TZ") {
            Ok(tz) => Self::from_tz_value(&tz),
            Err(_) => {
                Self::from_file(Path::new("/etc/localtime"), "localtime").unwrap_or_else(Self::utc)
            }
        }
    }

    fn from_tz_value(tz: &str) -> Self {
        let tz = tz.strip_prefix(':').unwrap_or(tz);
        if tz.is_empty() || tz == "UTC" || tz == "UTC0" {
            return Self::utc();
        }
        let path = if tz.starts_with('/') {
            Path::new(tz).to_path_buf()
        } else {
            Path::new("/usr/share/zoneinfo").join(tz)
        };
        if !tz.contains("..")
            && let Some(zone) = Self::from_file(&path, tz)
        {
            return zone;
        }
        match PosixRule::parse(tz) {
            Some(rule) => LocalZone {
                id: format!("posix:{tz}"),
                transitions: Vec::new(),
                initial: rule.std_offset,
                rule: Some(rule),
            },
            None => Self::utc(),
        }
    }

    fn from_file(path: &Path, name: &str) -> Option<Self> {
        let bytes = std::fs::read(path).ok()?;
        let mut zone = parse_tzif(&bytes)?;
        zone.id = format!("{name}:{:016x}", crate::usage::ledger::fnv1a(&[&bytes]));
        Some(zone)
    }

    /// Seconds east of UTC in effect at `utc_secs`.
    pub fn offset_at(&self, utc_secs: i64) -> i32 {
        match self.transitions.last() {
            None => match &self.rule {
                Some(rule) => rule.offset_at(utc_secs),
                None => self.initial,
            },
            Some(&(last_at, last_off)) if utc_secs >= last_at => match &self.rule {
                Some(rule) => rule.offset_at(utc_secs),
                None => last_off,
            },
            Some(_) => {
                let idx = self.transitions.partition_point(|&(at, _)| at <= utc_secs);
                if idx == 0 {
                    self.initial
                } else {
                    self.transitions[idx - 1].1
                }
            }
        }
    }

    /// The local calendar day (days since the epoch) of an instant.
    pub fn local_day(&self, ms: i64) -> i64 {
        let secs = ms.div_euclid(1000);
        (secs + i64::from(self.offset_at(secs))).div_euclid(86_400)
    }
}

fn be_u32(b: &[u8], at: usize) -> Option<u32> {
    let s = b.get(at..at + 4)?;
    Some(u32::from_be_bytes([s[0], s[1], s[2], s[3]]))
}

fn be_i64(b: &[u8], at: usize) -> Option<i64> {
    let s = b.get(at..at + 8)?;
    Some(i64::from_be_bytes([
        s[0], s[1], s[2], s[3], s[4], s[5], s[6], s[7],
    ]))
}

/// Reads a TZif file (RFC 8536), preferring the 64-bit second part and its
/// POSIX footer when the file has them.
fn parse_tzif(b: &[u8]) -> Option<LocalZone> {
    if b.get(0..4) != Some(b"TZif") {
        return None;
    }
    let version = *b.get(4)?;
    let counts = |at: usize| -> Option<[usize; 6]> {
        let mut c = [0usize; 6];
        for (i, slot) in c.iter_mut().enumerate() {
            *slot = be_u32(b, at + 20 + i * 4)? as usize;
        }
        Some(c)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(0)?;
    let v1_len = timecnt * 5 + typecnt * 6 + charcnt + leap * 8 + isstd + isut;
    let (base, time_size) = if version >= b'2' {
        (44 + v1_len, 8)
    } else {
        (0, 4)
    };
    let [isut, isstd, leap, timecnt, typecnt, charcnt] = counts(base)?;
    let times_at = base + 44;
    let idx_at = times_at + timecnt * time_size;
    let types_at = idx_at + timecnt;
    let mut types = Vec::with_capacity(typecnt);
    for i in 0..typecnt {
        types.push(be_u32(b, types_at + i * 6)? as i32);
    }
    let mut transitions = Vec::with_capacity(timecnt);
    for i in 0..timecnt {
        let at = if time_size == 8 {
            be_i64(b, times_at + i * 8)?
        } else {
            i64::from(be_u32(b, times_at + i * 4)? as i32)
        };
        let ty = *b.get(idx_at + i)? as usize;
        transitions.push((at, *types.get(ty)?));
    }
    let end = types_at + typecnt * 6 + charcnt + leap * (time_size + 4) + isstd + isut;
    let rule = if version >= b'2' {
        b.get(end..)
            .and_then(|footer| std::str::from_utf8(footer).ok())
            .map(|footer| footer.trim_matches('\n'))
            .filter(|footer| !footer.is_empty())
            .and_then(PosixRule::parse)
    } else {
        None
    };
    Some(LocalZone {
        id: String::new(),
        transitions,
        initial: types.first().copied().unwrap_or(0),
        rule,
    })
}

/// A POSIX TZ rule such as `CET-1CEST,M3.5.0,M10.5.0/3`. Only the `Mm.w.d`
/// date form is supported for DST rules; it is the one tzdata footers use.
#[derive(Debug, Clone)]
struct PosixRule {
    std_offset: i32,
    dst: Option<(i32, RuleDate, RuleDate)>,
}

#[derive(Debug, Clone, Copy)]
struct RuleDate {
    month: u32,
    week: u32,
    weekday: u32,
    /// Seconds after local midnight; may be negative or exceed a day.
    time: i32,
}

impl PosixRule {
    fn parse(text: &str) -> Option<PosixRule> {
        let mut rest = skip_name(text)?;
        let (std_posix, after) = parse_hms(rest)?;
        rest = after;
        let std_offset = -std_posix;
        if rest.is_empty() {
            return Some(PosixRule {
                std_offset,
                dst: None,
            });
        }
        rest = skip_name(rest)?;
        let mut dst_offset = std_offset + 3600;
        if !rest.starts_with(',')
            && let Some((value, after)) = parse_hms(rest)
        {
            dst_offset = -value;
            rest = after;
        }
        let rest = rest.strip_prefix(',')?;
        let (start, rest) = parse_rule_date(rest)?;
        let rest = rest.strip_prefix(',')?;
        let (end, rest) = parse_rule_date(rest)?;
        if !rest.is_empty() {
            return None;
        }
        Some(PosixRule {
            std_offset,
            dst: Some((dst_offset, start, end)),
        })
    }

    fn offset_at(&self, utc_secs: i64) -> i32 {
        let Some((dst_offset, start, end)) = self.dst else {
            return self.std_offset;
        };
        let year = civil_from_days((utc_secs + i64::from(self.std_offset)).div_euclid(86_400)).0;
        // The start is written in standard time, the end in daylight time.
        let start_utc = start.local_secs(year) - i64::from(self.std_offset);
        let end_utc = end.local_secs(year) - i64::from(dst_offset);
        let in_dst = if start_utc < end_utc {
            utc_secs >= start_utc && utc_secs < end_utc
        } else {
            utc_secs < end_utc || utc_secs >= start_utc
        };
        if in_dst { dst_offset } else { self.std_offset }
    }
}

impl RuleDate {
    fn local_secs(&self, year: i64) -> i64 {
        let first = days_from_civil(year, self.month, 1);
        // 1970-01-01 was a Thursday (weekday 4).
        let first_weekday = (first + 4).rem_euclid(7) as u32;
        let mut day = 1 + (self.weekday + 7 - first_weekday) % 7 + (self.week - 1) * 7;
        let next_month = if self.month == 12 {
            days_from_civil(year + 1, 1, 1)
        } else {
            days_from_civil(year, self.month + 1, 1)
        };
        let month_len = (next_month - first) as u32;
        while day > month_len {
            day -= 7;
        }
        (first + i64::from(day) - 1) * 86_400 + i64::from(self.time)
    }
}

fn skip_name(text: &str) -> Option<&str> {
    if let Some(rest) = text.strip_prefix('<') {
        let close = rest.find('>')?;
        return Some(&rest[close + 1..]);
    }
    let len = text.bytes().take_while(u8::is_ascii_alphabetic).count();
    (len >= 3).then(|| &text[len..])
}

/// `[+-]hh[:mm[:ss]]` in seconds, as written (POSIX offsets are west-positive).
fn parse_hms(text: &str) -> Option<(i32, &str)> {
    let (sign, mut rest) = match text.as_bytes().first()? {
        b'-' => (-1, &text[1..]),
        b'+' => (1, &text[1..]),
        _ => (1, text),
    };
    let mut total = 0i32;
    for (i, unit) in [3600, 60, 1].into_iter().enumerate() {
        if i > 0 {
            match rest.strip_prefix(':') {
                Some(after) => rest = after,
                None => break,
            }
        }
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        if len == 0 || len > 3 {
            return None;
        }
        total += rest[..len].parse::<i32>().ok()? * unit;
        rest = &rest[len..];
    }
    Some((sign * total, rest))
}

fn parse_rule_date(text: &str) -> Option<(RuleDate, &str)> {
    let rest = text.strip_prefix('M')?;
    let mut parts = [0u32; 3];
    let mut rest = rest;
    for (i, part) in parts.iter_mut().enumerate() {
        if i > 0 {
            rest = rest.strip_prefix('.')?;
        }
        let len = rest.bytes().take_while(u8::is_ascii_digit).count();
        *part = rest.get(..len)?.parse().ok()?;
        rest = &rest[len..];
    }
    let [month, week, weekday] = parts;
    if !(1..=12).contains(&month) || !(1..=5).contains(&week) || weekday > 6 {
        return None;
    }
    let mut time = 7200;
    if let Some(after) = rest.strip_prefix('/') {
        let (value, after) = parse_hms(after)?;
        time = value;
        rest = after;
    }
    Some((
        RuleDate {
            month,
            week,
            weekday,
            time,
        },
        rest,
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_ts(input: &str, expect: Option<&str>) {
        let got = parse_timestamp(input).map(format_iso_ms);
        assert_eq!(got.as_deref(), expect, "{input}");
    }

    #[test]
    fn timestamps() {
        check_ts("2026-02-11T20:36:45.693Z", Some("2026-02-11T20:36:45.693Z"));
        check_ts("2026-02-11T20:36:45Z", Some("2026-02-11T20:36:45.000Z"));
        check_ts("2026-02-11T20:36:45.6Z", Some("2026-02-11T20:36:45.600Z"));
        check_ts(
            "2026-02-11T20:36:45.123456Z",
            Some("2026-02-11T20:36:45.123Z"),
        );
        check_ts(
            "2026-01-05T23:30:00.000-05:00",
            Some("2026-01-06T04:30:00.000Z"),
        );
        check_ts(
            "2024-08-05T08:30:00.000+09:00",
            Some("2024-08-04T23:30:00.000Z"),
        );
        check_ts("1969-12-31T23:59:59.999Z", Some("1969-12-31T23:59:59.999Z"));
        check_ts("2026-02-11", None);
        check_ts("2026-13-11T20:36:45Z", None);
        check_ts("2026-02-11T20:36:45", None);
        check_ts("2026-02-11T20:36:45.Z", None);
        check_ts("not a time", None);
    }

    #[test]
    fn civil_round_trip() {
        for days in [-800_000, -1, 0, 1, 10_957, 20_000, 2_932_896] {
            let (y, m, d) = civil_from_days(days);
            assert_eq!(days_from_civil(y, m, d), days);
        }
        assert_eq!(format_day(0), "1970-01-01");
        assert_eq!(format_day(days_from_civil(2024, 2, 29)), "2024-02-29");
    }

    fn check_zone(tz: &str, instant: &str, expect_offset: i32) {
        let zone = LocalZone::from_tz_value(tz);
        let secs = parse_timestamp(instant).map(|ms| ms / 1000);
        assert_eq!(
            secs.map(|s| zone.offset_at(s)),
            Some(expect_offset),
            "{tz} at {instant} (zone id {})",
            zone.id
        );
    }

    #[test]
    fn posix_rules() {
        check_zone("UTC", "2026-07-01T00:00:00Z", 0);
        check_zone("CET-1CEST,M3.5.0,M10.5.0/3", "2026-01-15T12:00:00Z", 3600);
        check_zone("CET-1CEST,M3.5.0,M10.5.0/3", "2026-07-15T12:00:00Z", 7200);
        // Last Sunday of March 2026 is the 29th; the switch is 01:00 UTC.
        check_zone("CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T00:59:59Z", 3600);
        check_zone("CET-1CEST,M3.5.0,M10.5.0/3", "2026-03-29T01:00:00Z", 7200);
        check_zone("EST5EDT,M3.2.0,M11.1.0", "2026-07-01T00:00:00Z", -4 * 3600);
        check_zone("EST5EDT,M3.2.0,M11.1.0", "2026-12-01T00:00:00Z", -5 * 3600);
        // Southern hemisphere: DST spans the new year.
        check_zone(
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "2026-01-10T00:00:00Z",
            11 * 3600,
        );
        check_zone(
            "AEST-10AEDT,M10.1.0,M4.1.0/3",
            "2026-06-10T00:00:00Z",
            10 * 3600,
        );
        check_zone("<+0530>-5:30", "2026-06-10T00:00:00Z", 19_800);
        check_zone("nonsense zone!", "2026-06-10T00:00:00Z", 0);
    }

    #[test]
    fn tzif_files_when_installed() {
        // The tzdata files are optional on a build machine; the POSIX rule
        // tests above cover the arithmetic either way.
        if !Path::new("/usr/share/zoneinfo/Asia/Tokyo").exists() {
            return;
        }
        check_zone("Asia/Tokyo", "2024-08-04T23:30:00Z", 9 * 3600);
        if Path::new("/usr/share/zoneinfo/America/New_York").exists() {
            check_zone("America/New_York", "1990-07-01T00:00:00Z", -4 * 3600);
            check_zone("America/New_York", "2040-01-01T00:00:00Z", -5 * 3600);
            check_zone("America/New_York", "2040-07-01T00:00:00Z", -4 * 3600);
        }
        let tokyo = LocalZone::from_tz_value("Asia/Tokyo");
        let ms = parse_timestamp("2024-08-04T23:30:00.000Z").unwrap_or_default();
        assert_eq!(format_day(tokyo.local_day(ms)), "2024-08-05");
    }
}
