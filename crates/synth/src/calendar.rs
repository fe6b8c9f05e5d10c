//! The 2020 calendar that shapes behaviour: workdays and the extended Spring Festival holiday,
//! the Wuhan lockdown, Zhejiang's first-level response and the stricter household rules after.

use model::Date;

use crate::config::Rates;

const fn ymd(m: u32, d: u32) -> i32 {
    // Days since 1970-01-01 for dates in 2020 (2020 is a leap year).
    const CUM: [i32; 13] = [0, 31, 60, 91, 121, 152, 182, 213, 244, 274, 305, 335, 366];
    18_262 + CUM[(m - 1) as usize] + d as i32 - 1
}

/// 2020-01-19, a Sunday worked in exchange for the festival holiday.
pub const MAKEUP_WORKDAY: Date = Date(ymd(1, 19));
/// Wuhan declared a high-risk area after human-to-human transmission was confirmed.
pub const WUHAN_ALERT: Date = Date(ymd(1, 20));
/// Wuhan's outbound trains, flights and roads closed at 10:00.
pub const WUHAN_LOCKDOWN: Date = Date(ymd(1, 23));
/// First-level public-health response; the health declaration starts.
pub const RESPONSE: Date = Date(ymd(1, 24));
/// First day of the (extended) holiday and its last day in Zhejiang (work resumed Feb 10).
pub const HOLIDAY_FIRST: Date = Date(ymd(1, 24));
pub const HOLIDAY_LAST: Date = Date(ymd(2, 9));
/// Households limited to one shopper every other day (Wenzhou, Hangzhou: Feb 2–4).
pub const STRICT: Date = Date(ymd(2, 3));
/// Fever clinics start testing every fever patient.
pub const TESTING_OPEN: Date = Date(ymd(1, 20));

/// Lunar new year's day of 2020 and of the year before: 354 days (one lunar year) apart, so
/// the day `d − LUNAR_YEAR` stands where `d` does relative to the festival.
pub const FESTIVAL: Date = Date(ymd(1, 25));
pub const FESTIVAL_2019: Date = Date(17_932);
pub const LUNAR_YEAR: i32 = FESTIVAL.0 - FESTIVAL_2019.0;
/// 2019's festival holiday (February 4–10) and National Day week (October 1–7).
const HOLIDAY_2019: (Date, Date) = (Date(17_931), Date(17_937));
const NATIONAL_DAY_2019: (Date, Date) = (Date(18_170), Date(18_176));
/// The first day of 2020: days before it follow the year before's calendar.
pub const YEAR_2020: Date = Date(ymd(1, 1));

/// Share of an enterprise's normal activity on day `d` of 2019 (a normal year), and whether
/// `d` is a working day. The festival holiday closes those not critical from `close_before`
/// days before lunar new year to their reopening, a third of their 2020 delay after the
/// holiday, ramping up over half their industry's 2020 ramp; National Day week runs at half.
pub fn activity_2019(
    d: Date,
    close_before: i32,
    reopen_delay: i32,
    critical: bool,
    ramp_days: f64,
) -> (f64, bool) {
    let floor = if critical { 0.65 } else { 0.12 };
    let in_range = |(a, b): (Date, Date)| d >= a && d <= b;
    let workday = weekday(d) < 5 && !in_range(HOLIDAY_2019) && !in_range(NATIONAL_DAY_2019);
    if in_range(NATIONAL_DAY_2019) {
        return (if critical { 0.9 } else { 0.5 }, false);
    }
    let close = FESTIVAL_2019.add_days(-close_before);
    let reopen = HOLIDAY_2019.1.add_days(1 + reopen_delay / 3);
    let a = if d <= close {
        1.0
    } else if d < reopen {
        floor
    } else {
        let ramp = f64::from(d.0 - reopen.0 + 1) / (ramp_days / 2.0).max(1.0);
        floor + (1.0 - floor) * ramp.min(1.0)
    };
    (a, workday)
}

/// Like [`activity`], with the ramp after reopening lasting `ramp_days` (power use recovers at
/// its industry's pace: the per-industry recovery curves).
pub fn power_activity(d: Date, close: Date, reopen: Date, critical: bool, ramp_days: f64) -> f64 {
    let floor = if critical { 0.65 } else { 0.12 };
    if d <= close {
        return 1.0;
    }
    if d < reopen {
        return floor;
    }
    let ramp = f64::from(d.0 - reopen.0 + 1) / ramp_days.max(1.0);
    (floor + (1.0 - floor) * ramp.min(1.0) * 0.85).min(1.0)
}

/// Monday = 0 … Sunday = 6.
pub fn weekday(d: Date) -> u32 {
    (d.0 + 3).rem_euclid(7) as u32
}

pub fn is_holiday(d: Date) -> bool {
    d >= HOLIDAY_FIRST && d <= HOLIDAY_LAST
}

/// A day offices are expected to work (before closures and after resumption).
pub fn is_workday(d: Date) -> bool {
    if is_holiday(d) {
        return false;
    }
    weekday(d) < 5 || d == MAKEUP_WORKDAY
}

/// Outings relative to ordinary January days.
pub fn mobility(d: Date, rates: &Rates) -> f64 {
    if d < WUHAN_LOCKDOWN {
        1.0
    } else if d < RESPONSE {
        0.8
    } else if d < STRICT {
        rates.lockdown_mobility
    } else {
        rates.strict_mobility
    }
}

/// Restaurants lost almost all dine-in customers with the response.
pub fn restaurant_factor(d: Date) -> f64 {
    if d < RESPONSE { 1.0 } else { 0.08 }
}

/// Share of an enterprise's normal activity on day `d`. Factories wind down in the week before
/// the festival (`close` is the enterprise's own last day), critical ones keep a core running,
/// and reopening starts on the enterprise's `reopen` day and ramps up over two weeks.
pub fn activity(d: Date, close: Date, reopen: Date, critical: bool) -> f64 {
    let floor = if critical { 0.65 } else { 0.12 };
    if d <= close {
        return 1.0;
    }
    if d < reopen {
        return floor;
    }
    let ramp = f64::from(d.0 - reopen.0 + 1) / 14.0;
    (floor + (1.0 - floor) * ramp.min(1.0) * 0.85).min(1.0)
}

/// Mean onset-to-report delay for an onset on `d`, shrinking from the early to the late value
/// between Jan 10 and Feb 1.
pub fn report_delay(d: Date, rates: &Rates) -> f64 {
    let a = ymd(1, 10);
    let b = ymd(2, 1);
    if d.0 <= a {
        rates.report_delay_early
    } else if d.0 >= b {
        rates.report_delay_late
    } else {
        let t = f64::from(d.0 - a) / f64::from(b - a);
        rates.report_delay_early + t * (rates.report_delay_late - rates.report_delay_early)
    }
}

/// Daily force of infection in Wuhan on day `d` (before its peak in early February).
pub fn wuhan_hazard(d: Date, rates: &Rates) -> f64 {
    let t = f64::from(d.0 - WUHAN_LOCKDOWN.0).min(12.0);
    rates.wuhan_hazard * (t / rates.doubling_days).exp2()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn dates_are_right() {
        assert_eq!(WUHAN_LOCKDOWN.to_string(), "2020-01-23");
        assert_eq!(HOLIDAY_LAST.to_string(), "2020-02-09");
        assert_eq!(weekday(Date::from_ymd(2020, 1, 23).unwrap()), 3); // Thursday
        assert!(is_workday(MAKEUP_WORKDAY));
        assert!(!is_workday(Date::from_ymd(2020, 1, 25).unwrap()));
        assert!(is_workday(Date::from_ymd(2020, 2, 10).unwrap()));
        assert_eq!(FESTIVAL_2019.to_string(), "2019-02-05");
        assert_eq!(LUNAR_YEAR, 354);
        assert_eq!(HOLIDAY_2019.0.to_string(), "2019-02-04");
        assert_eq!(HOLIDAY_2019.1.to_string(), "2019-02-10");
        assert_eq!(NATIONAL_DAY_2019.0.to_string(), "2019-10-01");
        assert_eq!(NATIONAL_DAY_2019.1.to_string(), "2019-10-07");
        assert_eq!(YEAR_2020.to_string(), "2020-01-01");
    }
}
