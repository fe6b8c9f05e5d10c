//! Instants, calendar dates and the deployment zone: RFC 3339 parsing and printing without allocation.
//!
//! Instants are milliseconds since the Unix epoch (UTC). Calendar days ("within 14 days",
//! quarantine ends, partitions) are counted in the deployment zone, a fixed UTC offset
//! (`+08:00` unless the data directory says otherwise).

use std::fmt;

use crate::FieldError;

/// Milliseconds in a day; instants are milliseconds.
pub const MS_PER_DAY: i64 = 86_400_000;

/// A fixed UTC offset in which calendar days are counted.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub struct Zone {
    offset_secs: i32,
}

impl Zone {
    /// China Standard Time, the default deployment zone.
    pub const CST: Zone = Zone {
        offset_secs: 8 * 3600,
    };
    pub const UTC: Zone = Zone { offset_secs: 0 };

    /// A zone `offset_secs` east of UTC; offsets beyond ±23:59 are refused.
    pub fn from_offset_secs(offset_secs: i32) -> Option<Zone> {
        (offset_secs.abs() < 24 * 3600 && offset_secs % 60 == 0).then_some(Zone { offset_secs })
    }

    pub fn offset_secs(self) -> i32 {
        self.offset_secs
    }

    fn offset_ms(self) -> i64 {
        i64::from(self.offset_secs) * 1000
    }

    /// Parses `+08:00`, `-05:30`, `Z` or `UTC`.
    pub fn parse(s: &str) -> Option<Zone> {
        let b = s.trim().as_bytes();
        if b.eq_ignore_ascii_case(b"z") || b.eq_ignore_ascii_case(b"utc") {
            return Some(Zone::UTC);
        }
        let (secs, used) = parse_offset(b).ok()?;
        (used == b.len()).then_some(())?;
        Zone::from_offset_secs(secs)
    }
}

impl Default for Zone {
    fn default() -> Self {
        Zone::CST
    }
}

impl fmt::Display for Zone {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.offset_secs < 0 { '-' } else { '+' };
        let m = self.offset_secs.abs() / 60;
        write!(f, "{sign}{:02}:{:02}", m / 60, m % 60)
    }
}

/// A calendar date, as days since 1970-01-01 (the same number Arrow's `Date32` holds).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Date(pub i32);

impl Date {
    pub fn from_ymd(y: i32, m: u32, d: u32) -> Option<Date> {
        if !(1..=12).contains(&m) || d == 0 || d > days_in_month(y, m) {
            return None;
        }
        Some(Date(days_from_civil(y, m, d)))
    }

    pub fn ymd(self) -> (i32, u32, u32) {
        civil_from_days(self.0)
    }

    pub fn days(self) -> i32 {
        self.0
    }

    pub fn add_days(self, n: i32) -> Date {
        Date(self.0 + n)
    }

    /// Parses `YYYY-MM-DD`.
    pub fn parse(b: &[u8]) -> Result<Date, FieldError> {
        if b.len() != 10 || b[4] != b'-' || b[7] != b'-' {
            return Err(FieldError::new("not a date of the form YYYY-MM-DD"));
        }
        let y = digits(&b[0..4]).ok_or_else(|| FieldError::new("year is not 4 digits"))?;
        let m = digits(&b[5..7]).ok_or_else(|| FieldError::new("month is not 2 digits"))?;
        let d = digits(&b[8..10]).ok_or_else(|| FieldError::new("day is not 2 digits"))?;
        Date::from_ymd(y as i32, m, d).ok_or_else(|| FieldError::new("no such calendar date"))
    }

    /// 00:00:00 of this date in `zone`.
    pub fn start(self, zone: Zone) -> Timestamp {
        Timestamp(i64::from(self.0) * MS_PER_DAY - zone.offset_ms())
    }

    /// 23:59:59 of this date in `zone`: what a bare date means as an `--as-of`.
    pub fn end_of_day(self, zone: Zone) -> Timestamp {
        Timestamp(self.start(zone).0 + MS_PER_DAY - 1000)
    }

    /// Writes `YYYY-MM-DD` into `out`.
    pub fn write_to(self, out: &mut Vec<u8>) {
        let (y, m, d) = self.ymd();
        push_num(out, y as u32, 4);
        out.push(b'-');
        push_num(out, m, 2);
        out.push(b'-');
        push_num(out, d, 2);
    }
}

impl fmt::Display for Date {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (y, m, d) = self.ymd();
        write!(f, "{y:04}-{m:02}-{d:02}")
    }
}

impl std::str::FromStr for Date {
    type Err = FieldError;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        Date::parse(s.trim().as_bytes())
    }
}

/// The last `YYYY-MM-DD` parsed and its date: rows of one day repeat it, and comparing ten
/// bytes is cheaper than validating and converting them again.
#[derive(Clone, Debug, Default)]
pub struct DateMemo {
    text: [u8; 10],
    date: Option<Date>,
}

impl DateMemo {
    /// Parses `YYYY-MM-DD` like [`Date::parse`].
    pub fn date(&mut self, b: &[u8]) -> Result<Date, FieldError> {
        if b.len() != 10 {
            return Date::parse(b);
        }
        if let Some(d) = self.date
            && b == self.text
        {
            return Ok(d);
        }
        let d = Date::parse(b)?;
        self.text.copy_from_slice(b);
        self.date = Some(d);
        Ok(d)
    }
}

/// An instant, as milliseconds since 1970-01-01T00:00:00Z.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Timestamp(pub i64);

impl Timestamp {
    /// The wall clock, now: the one place fangyi reads it. Code whose answer depends on the
    /// time takes the instant as an argument (verifying a code, expiring a token), so it is
    /// tested with fixed instants; callers read this once at their edge.
    pub fn now() -> Timestamp {
        let ms = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map_or(0, |d| d.as_millis() as i64);
        Timestamp(ms)
    }

    pub fn millis(self) -> i64 {
        self.0
    }

    /// Whole seconds since the epoch (rounded down).
    pub fn secs(self) -> i64 {
        self.0.div_euclid(1000)
    }

    pub fn add_ms(self, ms: i64) -> Timestamp {
        Timestamp(self.0 + ms)
    }

    /// The calendar date of this instant in `zone`.
    pub fn date(self, zone: Zone) -> Date {
        Date((self.0 + zone.offset_ms()).div_euclid(MS_PER_DAY) as i32)
    }

    /// Parses RFC 3339 with a mandatory offset: `2020-01-23T08:15:00+08:00`, `…Z`,
    /// optional fraction (kept to the millisecond), `T`, `t` or a space between date and time.
    pub fn parse_rfc3339(b: &[u8]) -> Result<Timestamp, FieldError> {
        Timestamp::parse_rfc3339_with(b, &mut DateMemo::default())
    }

    /// [`Timestamp::parse_rfc3339`], skipping the calendar work when the date is the one
    /// `memo` saw last (most rows of a file share a few dates).
    pub fn parse_rfc3339_with(b: &[u8], memo: &mut DateMemo) -> Result<Timestamp, FieldError> {
        if b.len() < 19 {
            if b.len() == 10 && Date::parse(b).is_ok() {
                return Err(FieldError::new(
                    "a date where a time with an offset is required",
                ));
            }
            return Err(FieldError::new(
                "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS+08:00)",
            ));
        }
        let date = memo.date(&b[0..10])?;
        if !matches!(b[10], b'T' | b't' | b' ') || b[13] != b':' || b[16] != b':' {
            return Err(FieldError::new(
                "not an RFC 3339 time (YYYY-MM-DDTHH:MM:SS+08:00)",
            ));
        }
        let (h, mi, s) = match (digits(&b[11..13]), digits(&b[14..16]), digits(&b[17..19])) {
            (Some(h), Some(mi), Some(s)) => (h, mi, s),
            _ => return Err(FieldError::new("hour, minute or second is not 2 digits")),
        };
        if h > 23 || mi > 59 || s > 59 {
            return Err(FieldError::new("hour, minute or second out of range"));
        }
        let mut i = 19;
        let mut ms = 0u32;
        if i < b.len() && b[i] == b'.' {
            i += 1;
            let start = i;
            while i < b.len() && b[i].is_ascii_digit() {
                if i - start < 3 {
                    ms = ms * 10 + u32::from(b[i] - b'0');
                }
                i += 1;
            }
            let n = i - start;
            if n == 0 || n > 9 {
                return Err(FieldError::new(
                    "fraction of a second must have 1 to 9 digits",
                ));
            }
            for _ in n..3 {
                ms *= 10;
            }
        }
        if i == b.len() {
            return Err(FieldError::new("time has no UTC offset (add +08:00 or Z)"));
        }
        let offset_secs = if matches!(b[i], b'Z' | b'z') {
            i += 1;
            0
        } else {
            let (o, used) = parse_offset(&b[i..])?;
            i += used;
            o
        };
        if i != b.len() {
            return Err(FieldError::new(
                "unexpected characters after the UTC offset",
            ));
        }
        let secs =
            i64::from(date.0) * 86_400 + i64::from(h * 3600 + mi * 60 + s) - i64::from(offset_secs);
        Ok(Timestamp(secs * 1000 + i64::from(ms)))
    }

    /// Writes RFC 3339 in `zone`, with milliseconds only when they are not zero.
    pub fn write_rfc3339(self, zone: Zone, out: &mut Vec<u8>) {
        let local = self.0 + zone.offset_ms();
        let day = local.div_euclid(MS_PER_DAY);
        let ms_of_day = local.rem_euclid(MS_PER_DAY);
        Date(day as i32).write_to(out);
        out.push(b'T');
        let secs = (ms_of_day / 1000) as u32;
        push_num(out, secs / 3600, 2);
        out.push(b':');
        push_num(out, secs / 60 % 60, 2);
        out.push(b':');
        push_num(out, secs % 60, 2);
        let frac = (ms_of_day % 1000) as u32;
        if frac != 0 {
            out.push(b'.');
            push_num(out, frac, 3);
        }
        out.extend_from_slice(zone.to_string().as_bytes());
    }

    pub fn to_rfc3339(self, zone: Zone) -> String {
        let mut v = Vec::with_capacity(29);
        self.write_rfc3339(zone, &mut v);
        String::from_utf8(v).expect("RFC 3339 output is ASCII")
    }
}

/// Parses `+HH:MM` / `-HH:MM` at the start of `b`; returns seconds east of UTC and bytes used.
fn parse_offset(b: &[u8]) -> Result<(i32, usize), FieldError> {
    let bad = || FieldError::new("UTC offset must be Z or ±HH:MM");
    if b.len() < 6 || b[3] != b':' {
        return Err(bad());
    }
    let sign = match b[0] {
        b'+' => 1,
        b'-' => -1,
        _ => return Err(bad()),
    };
    let h = digits(&b[1..3]).ok_or_else(bad)?;
    let m = digits(&b[4..6]).ok_or_else(bad)?;
    if h > 23 || m > 59 {
        return Err(FieldError::new("UTC offset out of range"));
    }
    Ok((sign * (h * 3600 + m * 60) as i32, 6))
}

/// Parses 1 to 9 ASCII digits.
pub(crate) fn digits(b: &[u8]) -> Option<u32> {
    if b.is_empty() || b.len() > 9 {
        return None;
    }
    let mut v = 0u32;
    for &c in b {
        if !c.is_ascii_digit() {
            return None;
        }
        v = v * 10 + u32::from(c - b'0');
    }
    Some(v)
}

fn push_num(out: &mut Vec<u8>, mut v: u32, width: usize) {
    let start = out.len();
    for _ in 0..width {
        out.push(b'0' + (v % 10) as u8);
        v /= 10;
    }
    out[start..].reverse();
}

pub fn is_leap(y: i32) -> bool {
    (y % 4 == 0 && y % 100 != 0) || y % 400 == 0
}

pub fn days_in_month(y: i32, m: u32) -> u32 {
    match m {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if is_leap(y) => 29,
        2 => 28,
        _ => 0,
    }
}

/// Days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant's algorithm).
fn days_from_civil(y: i32, m: u32, d: u32) -> i32 {
    let y = if m <= 2 { y - 1 } else { y };
    let era = y.div_euclid(400);
    let yoe = y.rem_euclid(400) as u32;
    let mp = (m + 9) % 12;
    let doy = (153 * mp + 2) / 5 + d - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    era * 146_097 + doe as i32 - 719_468
}

fn civil_from_days(z: i32) -> (i32, u32, u32) {
    let z = z + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097) as u32;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe as i32 + era * 400 + i32::from(m <= 2);
    (y, m, d)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ts(s: &str) -> Result<Timestamp, FieldError> {
        Timestamp::parse_rfc3339(s.as_bytes())
    }

    #[test]
    fn the_clock_reads_the_epoch_in_milliseconds_and_whole_seconds() {
        // After the product's own test data (2020) and before the year 2100.
        let now = Timestamp::now();
        assert!(now > ts("2020-01-01T00:00:00Z").unwrap(), "{now:?}");
        assert!(now < ts("2100-01-01T00:00:00Z").unwrap(), "{now:?}");
        assert_eq!(Timestamp(1_999).secs(), 1);
        assert_eq!(Timestamp(-1).secs(), -1);
    }

    #[test]
    fn parses_offsets_to_the_same_instant() {
        let a = ts("2020-01-23T08:15:00+08:00").unwrap();
        let b = ts("2020-01-23T00:15:00Z").unwrap();
        let c = ts("2020-01-22T19:15:00-05:00").unwrap();
        let d = ts("2020-01-23 00:15:00.000z").unwrap();
        assert_eq!(a, b);
        assert_eq!(a, c);
        assert_eq!(a, d);
        assert_eq!(a.millis(), 1_579_738_500_000);
    }

    #[test]
    fn keeps_milliseconds_and_truncates_finer_fractions() {
        assert_eq!(ts("2020-01-23T00:00:00.5Z").unwrap().millis() % 1000, 500);
        assert_eq!(
            ts("2020-01-23T00:00:00.123456789Z").unwrap().millis() % 1000,
            123
        );
        assert!(ts("2020-01-23T00:00:00.Z").is_err());
    }

    #[test]
    fn refuses_times_without_offset_and_malformed_ones() {
        let no_offset = ts("2020-01-23T08:15:00").unwrap_err();
        assert!(
            no_offset.to_string().contains("no UTC offset"),
            "{no_offset}"
        );
        assert!(
            ts("2020-01-23")
                .unwrap_err()
                .to_string()
                .contains("a date where a time")
        );
        for bad in [
            "2020-01-23T24:00:00Z",
            "2020-01-23T08:60:00Z",
            "2020-01-23T08:15:60Z",
            "2020-02-30T08:15:00Z",
            "2020-01-23T08:15:00+08",
            "2020-01-23T08:15:00+0800",
            "2020-01-23T08:15:00+24:00",
            "2020-01-23T08:15:00+08:00x",
            "2020/01/23T08:15:00Z",
            "20-01-23T08:15:00Z",
            "",
        ] {
            assert!(ts(bad).is_err(), "{bad} should be refused");
        }
    }

    #[test]
    fn dates_round_trip_and_know_leap_years() {
        for s in [
            "1970-01-01",
            "2000-02-29",
            "2020-01-23",
            "1899-12-31",
            "2038-01-19",
        ] {
            assert_eq!(Date::parse(s.as_bytes()).unwrap().to_string(), s);
        }
        assert_eq!(Date::parse(b"1970-01-01").unwrap().days(), 0);
        assert_eq!(Date::parse(b"2020-01-23").unwrap().days(), 18_284);
        assert!(Date::parse(b"1900-02-29").is_err());
        assert!(Date::parse(b"2019-02-29").is_err());
        assert!(Date::parse(b"2020-13-01").is_err());
        assert!(Date::parse(b"2020-1-01").is_err());
        for day in -800_000..800_000 {
            let (y, m, d) = Date(day).ymd();
            assert_eq!(Date::from_ymd(y, m, d), Some(Date(day)));
        }
    }

    #[test]
    fn calendar_days_are_counted_in_the_zone() {
        // 16:00Z is midnight in +08:00: the date moves, the instant does not.
        let before = ts("2020-01-23T15:59:59Z").unwrap();
        let at = ts("2020-01-23T16:00:00Z").unwrap();
        assert_eq!(before.date(Zone::CST).to_string(), "2020-01-23");
        assert_eq!(at.date(Zone::CST).to_string(), "2020-01-24");
        assert_eq!(at.date(Zone::UTC).to_string(), "2020-01-23");
        let day = Date::parse(b"2020-01-24").unwrap();
        assert_eq!(day.start(Zone::CST), at);
        assert_eq!(
            day.end_of_day(Zone::CST).to_rfc3339(Zone::CST),
            "2020-01-24T23:59:59+08:00"
        );
    }

    #[test]
    fn the_memo_gives_the_same_answers() {
        let mut memo = DateMemo::default();
        for s in [
            "2020-01-23T08:15:00+08:00",
            "2020-01-23T09:00:00Z",
            "2020-01-24T00:00:00+08:00",
            "2020-01-23T23:59:59-05:00",
        ] {
            assert_eq!(
                Timestamp::parse_rfc3339_with(s.as_bytes(), &mut memo),
                ts(s)
            );
        }
        for bad in ["2020-02-30T08:15:00Z", "2020-01-23T08:15:00", "2020-01-23"] {
            assert_eq!(
                Timestamp::parse_rfc3339_with(bad.as_bytes(), &mut memo),
                ts(bad)
            );
        }
        assert_eq!(memo.date(b"2020-02-29").unwrap().to_string(), "2020-02-29");
        assert!(memo.date(b"2019-02-29").is_err());
        assert!(memo.date(b"2020-2-29").is_err());
        assert!(memo.date(b"2020-02-290").is_err());
        assert_eq!(memo.date(b"2020-02-29").unwrap().to_string(), "2020-02-29");
    }

    #[test]
    fn prints_in_the_deployment_zone() {
        let t = ts("2020-01-23T00:15:00Z").unwrap();
        assert_eq!(t.to_rfc3339(Zone::CST), "2020-01-23T08:15:00+08:00");
        assert_eq!(t.to_rfc3339(Zone::UTC), "2020-01-23T00:15:00+00:00");
        assert_eq!(
            t.add_ms(7).to_rfc3339(Zone::CST),
            "2020-01-23T08:15:00.007+08:00"
        );
        let west = Zone::parse("-05:30").unwrap();
        assert_eq!(t.to_rfc3339(west), "2020-01-22T18:45:00-05:30");
        assert_eq!(Zone::parse("Z"), Some(Zone::UTC));
        assert_eq!(Zone::parse("+24:00"), None);
    }
}
