//! A period of whole days in the deployment zone, inclusive at both ends, and the instants and
//! dates that bound it in a scan.

use model::{Date, Timestamp, Zone};

use crate::InflowError;

/// The days `first..=last` (deployment-zone calendar days).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Period {
    first: Date,
    last: Date,
}

impl Period {
    /// Refuses a period whose first day is after its last.
    pub fn new(first: Date, last: Date) -> Result<Period, InflowError> {
        if first > last {
            return Err(InflowError::EmptyPeriod { first, last });
        }
        Ok(Period { first, last })
    }

    pub fn first(self) -> Date {
        self.first
    }

    pub fn last(self) -> Date {
        self.last
    }

    /// Number of days, at least 1.
    pub fn days(self) -> u32 {
        (self.last.days() - self.first.days()) as u32 + 1
    }

    pub fn contains(self, d: Date) -> bool {
        self.first <= d && d <= self.last
    }

    /// The first instant of the period and the first instant after it, in `zone`: an instant
    /// `t` has its date in the period exactly when `start <= t < end`.
    pub fn instants(self, zone: Zone) -> (Timestamp, Timestamp) {
        (self.first.start(zone), self.last.add_days(1).start(zone))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn d(s: &str) -> Date {
        s.parse().unwrap()
    }

    #[test]
    fn bounds_are_whole_days_in_the_zone() {
        let p = Period::new(d("2020-01-10"), d("2020-01-23")).unwrap();
        assert_eq!(p.days(), 14);
        assert!(p.contains(d("2020-01-10")) && p.contains(d("2020-01-23")));
        assert!(!p.contains(d("2020-01-24")) && !p.contains(d("2020-01-09")));
        let (start, end) = p.instants(Zone::CST);
        assert_eq!(start.to_rfc3339(Zone::CST), "2020-01-10T00:00:00+08:00");
        assert_eq!(end.to_rfc3339(Zone::CST), "2020-01-24T00:00:00+08:00");
        for t in [start.millis(), end.millis() - 1] {
            assert!(p.contains(Timestamp(t).date(Zone::CST)));
        }
        assert!(!p.contains(Timestamp(end.millis()).date(Zone::CST)));
        assert!(!p.contains(Timestamp(start.millis() - 1).date(Zone::CST)));
    }

    #[test]
    fn a_backwards_period_is_refused_and_one_day_is_fine() {
        assert!(matches!(
            Period::new(d("2020-01-23"), d("2020-01-10")),
            Err(InflowError::EmptyPeriod { .. })
        ));
        assert_eq!(
            Period::new(d("2020-01-10"), d("2020-01-10"))
                .unwrap()
                .days(),
            1
        );
    }
}
