//! What to generate: population size, horizon, seed, home region, output format and the
//! behavioural rates, with defaults drawn from what was reported for early 2020.

use std::fmt;
use std::str::FromStr;

use model::{Date, Region, Zone};

/// Everything that determines the output; the same `Config` always gives the same bytes.
#[derive(Clone, Debug)]
pub struct Config {
    /// Residents in `persons` (non-resident Hubei visitors come on top, see [`Rates::visitors`]).
    pub persons: u64,
    /// Days simulated, from `start`.
    pub days: u32,
    /// First simulated day (default 2020-01-14, ten days before the first-level response).
    pub start: Date,
    pub seed: u64,
    /// Home area: a province (`330000`) or a prefecture (`330300`); residents live in its counties.
    pub region: Region,
    pub format: Format,
    /// Share of extra, deliberately corrupted copies of good rows (0 = none).
    pub bad_row_rate: f64,
    pub rates: Rates,
    /// Deployment zone: times are written with this offset and files are split by its dates.
    pub zone: Zone,
    /// Days of power readings before the year of `start` ends, up to its December 31 (default
    /// 92: October 1 to December 31, the power index's default baseline period; 0: none).
    pub power_baseline_days: u32,
    /// Also write the year before's readings for the simulated days' lunar-calendar twins (each
    /// day 354 days earlier: the same distance from the Spring Festival), for forecasts that
    /// align on the festival.
    pub power_last_year: bool,
}

impl Default for Config {
    fn default() -> Self {
        Config {
            persons: 100_000,
            days: 30,
            start: Date::from_ymd(2020, 1, 14).expect("valid date"),
            seed: 2020,
            region: Region::new(330000).expect("valid region"),
            format: Format::Csv,
            bad_row_rate: 0.0,
            rates: Rates::default(),
            zone: Zone::CST,
            power_baseline_days: 92,
            power_last_year: true,
        }
    }
}

impl Config {
    pub(crate) fn validate(&self) -> Result<(), crate::Error> {
        let bad = |m: String| Err(crate::Error::Config(m));
        if self.persons == 0 {
            return bad("persons must be at least 1".into());
        }
        if self.days == 0 || self.days > 366 {
            return bad(format!("days must be 1..=366, not {}", self.days));
        }
        if self.power_baseline_days > 366 {
            return bad(format!(
                "power_baseline_days must be 0..=366, not {}",
                self.power_baseline_days
            ));
        }
        if !(0.0..=0.5).contains(&self.bad_row_rate) {
            return bad(format!(
                "bad_row_rate must be within 0..0.5, not {}",
                self.bad_row_rate
            ));
        }
        if model::RegionTable::get()
            .counties_under(self.region)
            .is_empty()
        {
            return bad(format!(
                "region {} has no county-level units in the region table",
                self.region
            ));
        }
        self.rates.validate().map_err(crate::Error::Config)
    }
}

/// Output file format.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Format {
    Csv,
    Jsonl,
    Parquet,
}

impl Format {
    pub fn extension(&self) -> &str {
        match self {
            Format::Csv => "csv",
            Format::Jsonl => "jsonl",
            Format::Parquet => "parquet",
        }
    }
}

impl fmt::Display for Format {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.extension())
    }
}

impl FromStr for Format {
    type Err = String;
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        match s.trim().to_ascii_lowercase().as_str() {
            "csv" => Ok(Format::Csv),
            "jsonl" | "json" | "ndjson" => Ok(Format::Jsonl),
            "parquet" | "pq" => Ok(Format::Parquet),
            other => Err(format!(
                "unknown format {other:?} (expected csv, jsonl or parquet)"
            )),
        }
    }
}

macro_rules! rates {
    ($($(#[doc = $doc:literal])+ $name:ident: $default:expr, [$lo:expr, $hi:expr];)+) => {
        /// Behavioural and epidemiological rates. Every field can be overridden with
        /// `"key=value,key=value"` (see [`Rates::from_str`]).
        #[derive(Clone, Debug, PartialEq)]
        pub struct Rates {
            $($(#[doc = $doc])+ pub $name: f64,)+
        }

        impl Default for Rates {
            fn default() -> Self {
                Rates { $($name: $default),+ }
            }
        }

        impl Rates {
            /// Every key with its default, its allowed range and its documentation.
            pub const KEYS: &'static [(&'static str, f64, f64, &'static str)] =
                &[$((stringify!($name), $lo, $hi, concat!($($doc),+))),+];

            /// The value of the rate named `key`.
            pub fn get(&self, key: &str) -> Option<f64> {
                match key {
                    $(stringify!($name) => Some(self.$name),)+
                    _ => None,
                }
            }

            fn set(&mut self, key: &str, value: f64) -> Result<(), String> {
                match key {
                    $(stringify!($name) => self.$name = value,)+
                    _ => {
                        let known: Vec<&str> = Self::KEYS.iter().map(|k| k.0).collect();
                        return Err(format!("unknown rate {key:?}; known: {}", known.join(", ")));
                    }
                }
                Ok(())
            }

            fn validate(&self) -> Result<(), String> {
                $(
                    if !(self.$name.is_finite() && self.$name >= $lo && self.$name <= $hi) {
                        return Err(format!("rate {} = {} is outside {}..{}", stringify!($name), self.$name, $lo, $hi));
                    }
                )+
                Ok(())
            }
        }
    };
}

rates! {
    /// Shop, market and restaurant check-ins per person-day before the lockdown (office
    /// check-ins of workers come on top).
    checkins: 1.6, [0.0, 20.0];
    /// Outings after the first-level response (Jan 24) as a share of before.
    lockdown_mobility: 0.45, [0.0, 1.0];
    /// Outings from Feb 3, when households were limited to one shopper every other day.
    strict_mobility: 0.3, [0.0, 1.0];
    /// Share of check-ins without a scan out (the contract reads them as a 60-minute stay).
    missing_time_out: 0.25, [0.0, 1.0];
    /// Health self-reports per person-day once the declaration starts (Jan 24).
    self_reports: 0.5, [0.0, 3.0];
    /// Share of working-age natives living in Hubei (mostly Wuhan) at the start; Wenzhou
    /// gets three times this (about 180,000 of its 9.3 million people were in Wuhan).
    wuhan_sojourners: 0.01, [0.0, 1.0];
    /// Share of 18–22 year-olds studying outside their county who come home for the break.
    students_away: 0.45, [0.0, 1.0];
    /// Share of working-age residents who are migrant workers born in another province.
    migrants: 0.12, [0.0, 0.5];
    /// Share of migrant workers born in Hubei.
    hubei_migrants: 0.08, [0.0, 1.0];
    /// Share of migrant households that go home for the Spring Festival.
    migrants_go_home: 0.7, [0.0, 1.0];
    /// Business trips per worker over the weeks before the festival.
    business_trips: 0.03, [0.0, 2.0];
    /// Share of native households visiting relatives in another county around the festival.
    festival_visits: 0.12, [0.0, 1.0];
    /// Non-resident Hubei visitors arriving, per resident.
    visitors: 0.002, [0.0, 0.5];
    /// Daily force of infection in Wuhan on 2020-01-23: about 75,000 infected (0.7% of the
    /// city) by Jan 25, doubling every 6.4 days (Wu, Leung & Leung, Lancet 2020), gives a
    /// daily incidence of 0.7% x ln 2 / 6.4.
    wuhan_hazard: 0.0006, [0.0, 1.0];
    /// Epidemic doubling time in Wuhan before the lockdown, days (Wu et al. 6.4; Li et al. 7.4).
    doubling_days: 6.4, [1.0, 100.0];
    /// Force of infection elsewhere in Hubei relative to Wuhan.
    hubei_relative_hazard: 0.25, [0.0, 10.0];
    /// At least this many people bring an infection back from Hubei, however small the
    /// province: at the real rate (about 20 cases per million) one of 20,000 residents has
    /// none to trace. Those whose stays came closest are infected (0: the rate alone).
    min_imported: 8.0, [0.0, 10000.0];
    /// Multiplier on every per-contact transmission probability.
    transmission: 1.0, [0.0, 100.0];
    /// Share of infections that stay asymptomatic (~18–20% on the Diamond Princess).
    asymptomatic: 0.2, [0.0, 1.0];
    /// Share of symptomatic infected who never seek care for their illness.
    never_seek_care: 0.1, [0.0, 1.0];
    /// RT-PCR sensitivity of one throat swab.
    sensitivity: 0.75, [0.0, 1.0];
    /// Mean onset-to-report delay (days) of cases with onset before Jan 10 (Li et al. NEJM 2020).
    report_delay_early: 7.0, [0.5, 30.0];
    /// Mean onset-to-report delay (days) from Feb 1.
    report_delay_late: 3.0, [0.5, 30.0];
    /// Non-COVID fever onsets (influenza season) per person-day.
    flu: 0.0015, [0.0, 0.1];
    /// Share of returnees and visitors from outside the province who register.
    registration: 0.8, [0.0, 1.0];
    /// Cases reported within 14 days that make a county a high-risk area (one makes it medium).
    high_risk_cases: 5.0, [1.0, 1e9];
    /// Share of enterprises that apply for employees to return around their restart (besides
    /// the one large application of about 1,700), each for 40–100% of its staff.
    applications: 0.01, [0.0, 1.0];
    /// Online mask shops per 1,000 residents, at most 50,000 (contract §9's listings, captured
    /// daily; 0: none).
    market_shops: 10.0, [0.0, 1000.0];
}

impl FromStr for Rates {
    type Err = String;
    /// Parses `"checkins=1.5,flu=0.002"` over the defaults; an empty string is the defaults.
    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let mut rates = Rates::default();
        for part in s.split(',') {
            let part = part.trim();
            if part.is_empty() {
                continue;
            }
            let (k, v) = part
                .split_once('=')
                .ok_or_else(|| format!("expected key=value, found {part:?}"))?;
            let value: f64 = v
                .trim()
                .parse()
                .map_err(|_| format!("rate {}: {v:?} is not a number", k.trim()))?;
            rates.set(k.trim(), value)?;
        }
        rates.validate()?;
        Ok(rates)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rates_parse_over_defaults() {
        let r: Rates = "checkins=2.5, flu=0.01".parse().unwrap();
        assert_eq!(r.checkins, 2.5);
        assert_eq!(r.flu, 0.01);
        assert_eq!(r.self_reports, Rates::default().self_reports);
        assert!(
            "nope=1"
                .parse::<Rates>()
                .unwrap_err()
                .contains("unknown rate")
        );
        assert!("checkins=x".parse::<Rates>().is_err());
        assert!("asymptomatic=2".parse::<Rates>().is_err());
        assert_eq!("".parse::<Rates>().unwrap(), Rates::default());
    }

    #[test]
    fn every_rate_reads_back_by_its_key() {
        let d = Rates::default();
        for (key, lo, hi, _) in Rates::KEYS {
            let v = d.get(key).unwrap();
            assert!((*lo..=*hi).contains(&v), "{key} = {v}");
        }
        let r: Rates = "flu=0.01".parse().unwrap();
        assert_eq!(r.get("flu"), Some(0.01));
        assert_eq!(r.get("nope"), None);
    }

    #[test]
    fn formats_parse() {
        assert_eq!("CSV".parse::<Format>().unwrap(), Format::Csv);
        assert_eq!("jsonl".parse::<Format>().unwrap().extension(), "jsonl");
        assert!("xml".parse::<Format>().is_err());
    }
}
