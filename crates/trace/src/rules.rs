//! The contract's rules for case status (section 2) and close contact (section 3), as pure
//! functions over plain values, so the indexed engine and every test apply the same text.

use model::{Date, Diagnosis, Timestamp, Zone};

/// Stays at a venue must overlap this long to count.
pub const VENUE_MIN_OVERLAP_MS: i64 = 15 * 60_000;
/// A check-in without `time_out` is a stay of this long.
pub const VENUE_DEFAULT_STAY_MS: i64 = 60 * 60_000;
/// Flight contacts sit within this many rows of each other.
pub const FLIGHT_ROW_SPAN: i32 = 3;
/// Quarantine ends this many calendar days after the last exposure.
pub const QUARANTINE_DAYS: i32 = 14;

/// One `lab_results` row as the status machine needs it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct LabRow {
    pub reported: i64,
    pub sample: i64,
    /// Input order: source sequence and line, so ties break as the rows arrived.
    pub rid: i64,
    pub positive: bool,
    pub diagnosis: Option<Diagnosis>,
    pub onset: Option<Date>,
}

/// A person's status under section 2's machine.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub enum Status {
    #[default]
    None,
    Suspected,
    Confirmed,
    Asymptomatic,
    Recovered,
}

impl Status {
    pub fn as_str(self) -> &'static str {
        match self {
            Status::None => "none",
            Status::Suspected => "suspected",
            Status::Confirmed => "confirmed",
            Status::Asymptomatic => "asymptomatic",
            Status::Recovered => "recovered",
        }
    }

    fn from_diagnosis(d: Diagnosis) -> Status {
        match d {
            Diagnosis::Confirmed => Status::Confirmed,
            Diagnosis::Suspected => Status::Suspected,
            Diagnosis::Asymptomatic => Status::Asymptomatic,
            Diagnosis::Recovered => Status::Recovered,
        }
    }
}

/// The closed interval `[from, to]` (milliseconds) in which a case counts as infectious.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Window {
    pub from: i64,
    pub to: i64,
}

impl Window {
    /// The part of `[start, end]` inside the window, if any (closed intervals).
    pub fn clip(self, start: i64, end: i64) -> Option<(i64, i64)> {
        let (a, b) = (start.max(self.from), end.min(self.to));
        (a <= b).then_some((a, b))
    }
}

/// What makes a person a case: when it was reported, the onset and the infectious window.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CaseInfo {
    pub report_time: i64,
    pub onset: Date,
    pub window: Window,
}

/// A person's lab history read up to an instant.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Default)]
pub struct Assessment {
    /// The status after the last row reported by then.
    pub status: Status,
    /// When the current status was set (the reported time of the row that set it).
    pub status_since: Option<i64>,
    /// Set when the status has at some point been confirmed or asymptomatic.
    pub case: Option<CaseInfo>,
}

/// Runs section 2 over `rows` (any order; sorted here) as of `as_of`.
pub fn assess(rows: &mut [LabRow], as_of: i64, zone: Zone) -> Assessment {
    rows.sort_unstable_by_key(|r| (r.reported, r.sample, r.rid));
    let mut status = Status::None;
    let mut since = None;
    let mut case_row: Option<&LabRow> = None;
    let mut onset = None;
    let mut first_positive: Option<i64> = None;
    for r in rows.iter().take_while(|r| r.reported <= as_of) {
        let next = match r.diagnosis {
            Some(d) => Status::from_diagnosis(d),
            None if r.positive && status == Status::None => Status::Suspected,
            None if !r.positive && status == Status::Suspected => Status::None,
            None => status,
        };
        // A repeated diagnosis restates the status; "since" stays when it first took it.
        if next != status {
            since = Some(r.reported);
            status = next;
        }
        if case_row.is_none() && matches!(status, Status::Confirmed | Status::Asymptomatic) {
            case_row = Some(r);
        }
        if onset.is_none() {
            onset = r.onset;
        }
        if r.positive {
            first_positive = Some(first_positive.map_or(r.sample, |s| s.min(r.sample)));
        }
    }
    let case = case_row.map(|row| {
        let onset =
            onset.unwrap_or_else(|| Timestamp(first_positive.unwrap_or(row.sample)).date(zone));
        CaseInfo {
            report_time: row.reported,
            onset,
            window: Window {
                from: onset.add_days(-2).start(zone).millis(),
                to: row.reported,
            },
        }
    });
    Assessment {
        status,
        status_since: since,
        case,
    }
}

/// The row number of a seat: its leading digits (`12C` → 12); none without leading digits.
pub fn seat_row(seat: &str) -> Option<i32> {
    let digits = seat.bytes().take_while(u8::is_ascii_digit).count();
    if digits == 0 {
        return None;
    }
    // More digits than any aircraft has rows: saturate rather than refuse.
    Some(seat[..digits.min(9)].parse::<i32>().expect("ascii digits"))
}

/// Flight rows within [`FLIGHT_ROW_SPAN`]; an unknown row on either side matches.
pub fn rows_near(a: Option<i32>, b: Option<i32>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => (a - b).abs() <= FLIGHT_ROW_SPAN,
        _ => true,
    }
}

/// Rail cars match when equal; a missing car on either side matches any car.
pub fn cars_match(a: Option<&str>, b: Option<&str>) -> bool {
    match (a, b) {
        (Some(a), Some(b)) => a == b,
        _ => true,
    }
}

/// The overlap of two closed intervals, if they meet.
pub fn overlap(a: (i64, i64), b: (i64, i64)) -> Option<(i64, i64)> {
    let (s, e) = (a.0.max(b.0), a.1.min(b.1));
    (s <= e).then_some((s, e))
}

/// The overlap of two venue stays when it lasts at least fifteen minutes.
pub fn venue_overlap(a: (i64, i64), b: (i64, i64)) -> Option<(i64, i64)> {
    overlap(a, b).filter(|(s, e)| e - s >= VENUE_MIN_OVERLAP_MS)
}

/// The end of a stay: `time_out`, or an hour after `time_in` without one.
pub fn stay_end(time_in: i64, time_out: Option<i64>) -> i64 {
    time_out.unwrap_or(time_in + VENUE_DEFAULT_STAY_MS)
}

/// The day a contact is released: the calendar date of the last exposure plus 14 days.
pub fn quarantine_until(last_exposure: i64, zone: Zone) -> Date {
    Timestamp(last_exposure)
        .date(zone)
        .add_days(QUARANTINE_DAYS)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s.as_bytes()).unwrap().millis()
    }

    fn d(s: &str) -> Date {
        Date::parse(s.as_bytes()).unwrap()
    }

    fn row(reported: &str, sample: &str, positive: bool, diagnosis: Option<Diagnosis>) -> LabRow {
        LabRow {
            reported: t(reported),
            sample: t(sample),
            rid: 0,
            positive,
            diagnosis,
            onset: None,
        }
    }

    #[test]
    fn positive_then_confirmed_makes_a_case_with_the_positive_sample_as_onset() {
        let mut rows = [
            row(
                "2020-01-22T10:00:00+08:00",
                "2020-01-20T23:30:00+08:00",
                true,
                None,
            ),
            row(
                "2020-01-24T10:00:00+08:00",
                "2020-01-23T09:00:00+08:00",
                true,
                Some(Diagnosis::Confirmed),
            ),
        ];
        let a = assess(&mut rows, i64::MAX, Zone::CST);
        assert_eq!(a.status, Status::Confirmed);
        let c = a.case.unwrap();
        assert_eq!(c.onset, d("2020-01-20"));
        assert_eq!(c.report_time, t("2020-01-24T10:00:00+08:00"));
        assert_eq!(c.window.from, t("2020-01-18T00:00:00+08:00"));
        assert_eq!(c.window.to, c.report_time);
    }

    #[test]
    fn onset_dates_are_counted_in_the_deployment_zone() {
        // 23:30 UTC on the 20th is the 21st in +08:00.
        let mut rows = [row(
            "2020-01-24T10:00:00+08:00",
            "2020-01-20T23:30:00Z",
            true,
            Some(Diagnosis::Asymptomatic),
        )];
        let c = assess(&mut rows, i64::MAX, Zone::CST).case.unwrap();
        assert_eq!(c.onset, d("2020-01-21"));
        assert_eq!(c.window.from, t("2020-01-19T00:00:00+08:00"));
        let c = assess(&mut rows, i64::MAX, Zone::UTC).case.unwrap();
        assert_eq!(c.onset, d("2020-01-20"));
    }

    #[test]
    fn recovery_keeps_a_case_and_rows_after_as_of_are_ignored() {
        let mut rows = [
            row(
                "2020-01-24T10:00:00+08:00",
                "2020-01-23T09:00:00+08:00",
                true,
                Some(Diagnosis::Confirmed),
            ),
            row(
                "2020-02-10T10:00:00+08:00",
                "2020-02-09T09:00:00+08:00",
                false,
                Some(Diagnosis::Recovered),
            ),
        ];
        let a = assess(&mut rows, i64::MAX, Zone::CST);
        assert_eq!(a.status, Status::Recovered);
        assert!(a.case.is_some());
        let before = assess(&mut rows, t("2020-01-24T09:59:59+08:00"), Zone::CST);
        assert_eq!(before, Assessment::default());
    }

    #[test]
    fn negative_clears_only_a_suspicion_and_first_onset_wins() {
        let mut rows = [
            row(
                "2020-01-20T10:00:00+08:00",
                "2020-01-19T09:00:00+08:00",
                true,
                None,
            ),
            row(
                "2020-01-21T10:00:00+08:00",
                "2020-01-21T09:00:00+08:00",
                false,
                None,
            ),
            LabRow {
                onset: Some(d("2020-01-15")),
                ..row(
                    "2020-01-25T10:00:00+08:00",
                    "2020-01-25T09:00:00+08:00",
                    true,
                    Some(Diagnosis::Confirmed),
                )
            },
            LabRow {
                onset: Some(d("2020-01-10")),
                ..row(
                    "2020-01-26T10:00:00+08:00",
                    "2020-01-26T09:00:00+08:00",
                    false,
                    None,
                )
            },
        ];
        let a = assess(&mut rows[..2], i64::MAX, Zone::CST);
        assert_eq!(a.status, Status::None);
        let a = assess(&mut rows, i64::MAX, Zone::CST);
        assert_eq!(
            a.status,
            Status::Confirmed,
            "a negative does not undo a diagnosis"
        );
        assert_eq!(a.case.unwrap().onset, d("2020-01-15"));
    }

    #[test]
    fn ties_in_report_time_break_by_sample_time_then_input_order() {
        let mut rows = [
            LabRow {
                rid: 2,
                ..row(
                    "2020-01-25T10:00:00+08:00",
                    "2020-01-24T09:00:00+08:00",
                    false,
                    Some(Diagnosis::Recovered),
                )
            },
            LabRow {
                rid: 1,
                ..row(
                    "2020-01-25T10:00:00+08:00",
                    "2020-01-24T09:00:00+08:00",
                    true,
                    Some(Diagnosis::Confirmed),
                )
            },
        ];
        let a = assess(&mut rows, i64::MAX, Zone::CST);
        assert_eq!(a.status, Status::Recovered);
        assert!(a.case.is_some(), "confirmed came first by input order");
    }

    #[test]
    fn pair_rules() {
        assert_eq!(seat_row("12C"), Some(12));
        assert_eq!(seat_row("C12"), None);
        assert_eq!(seat_row(""), None);
        assert!(rows_near(Some(12), Some(15)) && !rows_near(Some(12), Some(16)));
        assert!(rows_near(None, Some(40)));
        assert!(cars_match(Some("05"), None) && !cars_match(Some("05"), Some("06")));
        assert_eq!(overlap((0, 10), (10, 20)), Some((10, 10)));
        assert_eq!(overlap((0, 9), (10, 20)), None);
        let m = 60_000;
        assert_eq!(venue_overlap((0, 15 * m), (0, 60 * m)), Some((0, 15 * m)));
        assert_eq!(venue_overlap((0, 15 * m - 1), (0, 60 * m)), None);
        assert_eq!(stay_end(0, None), 60 * m);
        let last = t("2020-01-21T23:59:59+08:00");
        assert_eq!(quarantine_until(last, Zone::CST), d("2020-02-04"));
        assert_eq!(quarantine_until(last, Zone::UTC), d("2020-02-04"));
        assert_eq!(
            quarantine_until(t("2020-01-21T16:00:00Z"), Zone::CST),
            d("2020-02-05")
        );
    }
}
