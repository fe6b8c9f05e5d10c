//! The public nearby-cases search (contract §10, `GET /api/v1/public/nearby`): the public trail
//! points (§5's window, from the day before onset to the report) of cases within a radius of a
//! place — where, what kind of place, when, how far, and how many cases — never who.
//!
//! Which points: every confirmed or asymptomatic case (§2; a suspected person has no window and
//! may yet test negative) reported by the as-of instant, its rides and venue visits from
//! `alerts::public_trail`, each point shown while it ended no more than [`RECENT_DAYS`] calendar
//! days before the as-of day (a visit longer ago is past a visitor's incubation period). Where:
//! a venue visit at the venue's own `lat`/`lon`, else at its region's point from the embedded
//! region table; a ride has no single place, so it is shown at both ends, at the points of its
//! departure and arrival regions, each with the ride's times. Identical points (place, kind,
//! end of a ride, time window) of several cases are one point with a count of cases; no seat,
//! car or person is ever part of a point.
//!
//! The points of all cases are gathered once per snapshot ([`NearbyIndex`], built on the first
//! search after the store changed) and kept by place in a grid ([`grid::Grid`]), so a search
//! looks only at the places in the cells its radius covers, and at each place only the visits
//! recent enough to show.

mod build;
mod grid;

use std::collections::HashMap;

use model::{Region, Timestamp, Zone};
use privacy::Action;
use serde::Serialize;
use store::Store;
use trace::{Index, Via};

use crate::ask::{Answer, Blocking, Ctx};
use crate::{Caller, Engine, EngineError};
use grid::Grid;

/// The largest radius a search may ask for, metres.
pub const MAX_RADIUS_M: f64 = 50_000.0;
/// The radius when none is given, metres.
pub const DEFAULT_RADIUS_M: f64 = 3_000.0;
/// At most this many points, the nearest, are answered.
pub const MAX_POINTS: usize = 500;
/// A point is shown while it ended at most this many calendar days before the as-of day.
pub const RECENT_DAYS: i32 = 14;

/// What a search asks, as given (the parameters of the query string, validated here so every
/// door refuses the same input with the same message).
#[derive(Clone, Debug, Default)]
pub struct NearbyParams {
    /// Latitude, degrees (WGS 84), −90 to 90.
    pub lat: Option<String>,
    /// Longitude, degrees, −180 to 180.
    pub lon: Option<String>,
    /// Metres, more than 0 and at most 50,000; default 3,000.
    pub radius_m: Option<String>,
    /// A date (its end) or an RFC 3339 time; default now.
    pub as_of: Option<String>,
}

/// A search, validated.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct NearbyQuery {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub as_of: i64,
}

fn number(value: Option<&str>, name: &str, what: &str) -> Result<Option<f64>, EngineError> {
    let Some(s) = value.map(str::trim).filter(|s| !s.is_empty()) else {
        return Ok(None);
    };
    match s.parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(Some(v)),
        _ => Err(EngineError::BadRequest(format!(
            "{name} {}: not a number ({what})",
            crate::quoted(s, 32)
        ))),
    }
}

impl NearbyParams {
    pub(crate) fn parse(&self, zone: Zone) -> Result<NearbyQuery, EngineError> {
        let bad = |m: String| EngineError::BadRequest(m);
        let lat_what = "a latitude in degrees, -90 to 90";
        let lon_what = "a longitude in degrees, -180 to 180";
        let radius_what = "metres, more than 0 and at most 50000";
        let lat = number(self.lat.as_deref(), "lat", lat_what)?
            .ok_or_else(|| bad(format!("lat is missing ({lat_what})")))?;
        if !(-90.0..=90.0).contains(&lat) {
            return Err(bad(format!("lat {lat}: out of range ({lat_what})")));
        }
        let lon = number(self.lon.as_deref(), "lon", lon_what)?
            .ok_or_else(|| bad(format!("lon is missing ({lon_what})")))?;
        if !(-180.0..=180.0).contains(&lon) {
            return Err(bad(format!("lon {lon}: out of range ({lon_what})")));
        }
        let radius_m =
            number(self.radius_m.as_deref(), "radius_m", radius_what)?.unwrap_or(DEFAULT_RADIUS_M);
        if !(radius_m > 0.0 && radius_m <= MAX_RADIUS_M) {
            return Err(bad(format!(
                "radius_m {radius_m}: out of range ({radius_what})"
            )));
        }
        let as_of = crate::parse_as_of_instant(self.as_of.as_deref(), zone)?;
        Ok(NearbyQuery {
            lat,
            lon,
            radius_m,
            as_of,
        })
    }

    /// What the audit log records of a search: the place to two decimals (about a kilometre),
    /// enough for oversight to see where was searched without keeping where the asker's phone
    /// was; a value that is not a number is kept, quoted and cut short.
    pub fn request_text(&self) -> String {
        let coarse = |v: &Option<String>| match v.as_deref().map(str::trim) {
            None | Some("") => "-".to_string(),
            Some(s) => match s.parse::<f64>() {
                Ok(x) if x.is_finite() => format!("{x:.2}"),
                _ => crate::quoted(s, 32),
            },
        };
        let plain = |v: &Option<String>| match v.as_deref().map(str::trim) {
            None | Some("") => "-".to_string(),
            Some(s) => crate::quoted(s, 40),
        };
        format!(
            "GET /api/v1/public/nearby lat={} lon={} radius_m={} as_of={}",
            coarse(&self.lat),
            coarse(&self.lon),
            plain(&self.radius_m),
            plain(&self.as_of)
        )
    }
}

/// One point near the place asked about: a place, what it is, when cases were there and how
/// many. Never who.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NearbyPoint {
    /// The venue id, or the ride's service number (`G1234`).
    pub place: String,
    /// The venue's name, or the ride's station at this end, when known.
    pub place_name: Option<String>,
    /// `venue`, `rail`, `flight`, `coach` or `ship`.
    pub kind: &'static str,
    /// Rides: which end of the ride this point is, `departure` or `arrival`.
    pub stop: Option<&'static str>,
    /// The region the place is in (the venue's, or the ride's region at this end).
    pub region: Option<String>,
    pub region_name: Option<&'static str>,
    /// `venue`: the venue's own coordinates; `region`: the representative point of `region`
    /// (every ride, and a venue the store has no coordinates for).
    pub position: &'static str,
    /// The time window the cases were there (rides: the ride), RFC 3339.
    pub start: String,
    pub end: String,
    /// How many cases were at this place in this window.
    pub cases: u32,
    /// From the place asked about, metres (great-circle), rounded.
    pub distance_m: u32,
    pub lat: f64,
    pub lon: f64,
}

/// The search's answer: the nearest points first.
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
#[derive(Clone, Debug, Serialize, PartialEq)]
pub struct NearbyOut {
    pub lat: f64,
    pub lon: f64,
    pub radius_m: f64,
    pub as_of: String,
    /// Points ending before this day are not shown (the as-of day less 14 days).
    pub since: String,
    pub points: Vec<NearbyPoint>,
    /// More points lie within the radius than the 500 nearest answered.
    pub truncated: bool,
}

/// Which end of a ride, or a venue.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub(crate) enum Stop {
    Venue,
    Departure,
    Arrival,
}

impl Stop {
    fn name(self) -> Option<&'static str> {
        match self {
            Stop::Venue => None,
            Stop::Departure => Some("departure"),
            Stop::Arrival => Some("arrival"),
        }
    }
}

/// A place points are shown at.
#[derive(Clone, Debug, PartialEq)]
pub(crate) struct Place {
    pub lat: f64,
    pub lon: f64,
    pub via: Via,
    pub stop: Stop,
    /// Venue id or service number.
    pub place: String,
    /// Venue name or station.
    pub name: Option<String>,
    pub region: Option<Region>,
    /// The venue's own coordinates (else a region's point).
    pub exact: bool,
}

impl Place {
    fn key(&self) -> (u8, Stop, &str, Option<&str>, u32, u64, u64) {
        (
            self.via as u8,
            self.stop,
            self.place.as_str(),
            self.name.as_deref(),
            self.region.map_or(0, Region::code),
            self.lat.to_bits(),
            self.lon.to_bits(),
        )
    }
}

/// A case at a place: when, and for which as-of instants it is shown.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct Visit {
    /// The case's pseudonym: for the audit entry, never for the answer.
    pub case: i64,
    pub start: i64,
    pub end: i64,
    /// `end`'s calendar day in the zone (days since 1970-01-01).
    pub end_day: i32,
    /// Shown for as-of instants in `[shown_from, shown_until)`: from the case's report on, as
    /// long as these facts of the case hold.
    pub shown_from: i64,
    pub shown_until: i64,
}

/// A visit at its place, before places are shared.
#[derive(Clone, Debug)]
pub(crate) struct Entry {
    pub place: Place,
    pub visit: Visit,
}

/// Every case's public trail points, by place, in a grid.
#[derive(Debug, Default)]
pub(crate) struct NearbyIndex {
    places: Vec<Place>,
    grid: Grid,
    /// Visits sorted by place, then end day; `offsets[p]..offsets[p + 1]` are place `p`'s.
    visits: Vec<Visit>,
    offsets: Vec<u32>,
}

/// One answered point before it is rendered.
#[derive(Clone, Copy, Debug, PartialEq)]
pub(crate) struct Found {
    pub place: u32,
    pub distance_m: f64,
    pub start: i64,
    pub end: i64,
    pub cases: u32,
}

impl NearbyIndex {
    /// Reads every case's trail points from the trace index and the store.
    pub fn build(store: &Store, index: &Index) -> Result<NearbyIndex, EngineError> {
        let started = std::time::Instant::now();
        let index = build::entries(store, index)
            .map(NearbyIndex::new)
            .map_err(EngineError::internal)?;
        tracing::info!(
            "nearby search: {} trail points of cases at {} places, gathered in {:.2} s",
            index.visits(),
            index.places(),
            started.elapsed().as_secs_f64()
        );
        Ok(index)
    }

    pub fn new(entries: Vec<Entry>) -> NearbyIndex {
        let mut ids: HashMap<_, u32> = HashMap::new();
        let mut places: Vec<Place> = Vec::new();
        let mut by_place: Vec<(u32, Visit)> = Vec::with_capacity(entries.len());
        for e in &entries {
            let id = match ids.get(&e.place.key()) {
                Some(&id) => id,
                None => {
                    let id = places.len() as u32;
                    places.push(e.place.clone());
                    ids.insert(e.place.key(), id);
                    id
                }
            };
            by_place.push((id, e.visit));
        }
        drop(ids);
        by_place
            .sort_unstable_by_key(|&(p, v)| (p, v.end_day, v.start, v.end, v.case, v.shown_from));
        by_place.dedup();
        let mut offsets = vec![0u32; places.len() + 1];
        for &(p, _) in &by_place {
            offsets[p as usize + 1] += 1;
        }
        let mut sum = 0;
        for o in &mut offsets {
            sum += *o;
            *o = sum;
        }
        NearbyIndex {
            grid: Grid::new(places.iter().map(|p| (p.lat, p.lon)).collect()),
            places,
            visits: by_place.into_iter().map(|(_, v)| v).collect(),
            offsets,
        }
    }

    pub fn places(&self) -> usize {
        self.places.len()
    }

    pub fn visits(&self) -> usize {
        self.visits.len()
    }

    /// The points within the radius as of the query's instant, nearest first (then by place,
    /// then time), at most `limit`; whether more were left out; and the cases behind those
    /// answered, sorted, each once.
    pub fn search(
        &self,
        q: &NearbyQuery,
        zone: Zone,
        limit: usize,
    ) -> (Vec<Found>, bool, Vec<i64>) {
        let since = Timestamp(q.as_of).date(zone).days() - RECENT_DAYS;
        let mut near: Vec<(f64, u32)> = Vec::new();
        self.grid
            .within(q.lat, q.lon, q.radius_m, |p, d| near.push((d, p)));
        near.sort_unstable_by(|a, b| a.0.total_cmp(&b.0).then(a.1.cmp(&b.1)));
        let mut found: Vec<Found> = Vec::new();
        let mut cases: Vec<i64> = Vec::new();
        let mut truncated = false;
        let mut here: Vec<(i64, i64, i64)> = Vec::new();
        'places: for (d, p) in near {
            let visits = &self.visits
                [self.offsets[p as usize] as usize..self.offsets[p as usize + 1] as usize];
            let recent = &visits[visits.partition_point(|v| v.end_day < since)..];
            here.clear();
            here.extend(
                recent
                    .iter()
                    .filter(|v| v.shown_from <= q.as_of && q.as_of < v.shown_until)
                    .map(|v| (v.start, v.end, v.case)),
            );
            here.sort_unstable();
            here.dedup();
            let mut i = 0;
            while i < here.len() {
                let (start, end, _) = here[i];
                let j = i + here[i..].partition_point(|h| (h.0, h.1) == (start, end));
                if found.len() == limit {
                    truncated = true;
                    break 'places;
                }
                found.push(Found {
                    place: p,
                    distance_m: d,
                    start,
                    end,
                    cases: (j - i) as u32,
                });
                cases.extend(here[i..j].iter().map(|h| h.2));
                i = j;
            }
        }
        cases.sort_unstable();
        cases.dedup();
        (found, truncated, cases)
    }

    fn render(&self, f: &Found, zone: Zone) -> NearbyPoint {
        let p = &self.places[f.place as usize];
        let round = |x: f64| (x * 1e6).round() / 1e6;
        NearbyPoint {
            place: p.place.clone(),
            place_name: p.name.clone(),
            kind: p.via.as_str(),
            stop: p.stop.name(),
            region: p.region.map(|r| r.to_string()),
            region_name: p.region.and_then(Region::place_name),
            position: if p.exact { "venue" } else { "region" },
            start: Timestamp(f.start).to_rfc3339(zone),
            end: Timestamp(f.end).to_rfc3339(zone),
            cases: f.cases,
            distance_m: f.distance_m.round() as u32,
            lat: round(p.lat),
            lon: round(p.lon),
        }
    }
}

impl Engine {
    /// The public nearby-cases search. Anyone may ask (`self_check`); the answer names no one,
    /// yet the audit entry notes the cases whose points it showed, as a case's public trail
    /// does, so oversight (and a case's own access log) can see it was shown.
    pub async fn nearby(&self, caller: &Caller, p: NearbyParams) -> Result<NearbyOut, EngineError> {
        let work = Blocking(move |ctx: &Ctx<'_>| {
            let zone = ctx.zone();
            let q = p.parse(zone)?;
            let index = ctx.snap.nearby()?;
            let (found, truncated, cases) = index.search(&q, zone, MAX_POINTS);
            ctx.shown.note_all(cases);
            let since = Timestamp(q.as_of).date(zone).add_days(-RECENT_DAYS);
            let out = NearbyOut {
                lat: q.lat,
                lon: q.lon,
                radius_m: q.radius_m,
                as_of: Timestamp(q.as_of).to_rfc3339(zone),
                since: since.to_string(),
                points: found.iter().map(|f| index.render(f, zone)).collect(),
                truncated,
            };
            let n = out.points.len() as i64;
            Ok(Answer::new(out, n))
        });
        self.ask(caller, Action::Nearby, work).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    const ZONE: Zone = Zone::CST;
    const DAY: i64 = 86_400_000;

    fn params(lat: &str, lon: &str, radius: Option<&str>) -> NearbyParams {
        NearbyParams {
            lat: Some(lat.into()),
            lon: Some(lon.into()),
            radius_m: radius.map(str::to_string),
            as_of: Some("2020-02-01".into()),
        }
    }

    fn message(p: &NearbyParams) -> String {
        match p.parse(ZONE) {
            Err(EngineError::BadRequest(m)) => m,
            other => panic!("{p:?}: {other:?}"),
        }
    }

    #[test]
    fn hostile_parameters_are_refused_by_name() {
        for (p, name) in [
            (params("NaN", "120", None), "lat"),
            (params("inf", "120", None), "lat"),
            (params("1e308", "120", None), "lat"),
            (params("-90.0001", "120", None), "lat"),
            (params("30", "nan", None), "lon"),
            (params("30", "180.5", None), "lon"),
            (params("30", "-1e400", None), "lon"),
            (params("30", "120", Some("-5")), "radius_m"),
            (params("30", "120", Some("0")), "radius_m"),
            (params("30", "120", Some("50000.1")), "radius_m"),
            (params("30", "120", Some("1e308")), "radius_m"),
            (params("30", "120", Some("NaN")), "radius_m"),
            (params("30", "120", Some("ten")), "radius_m"),
            (params("30,5", "120", None), "lat"),
            (params("0x1f", "120", None), "lat"),
            (NearbyParams::default(), "lat"),
            (
                NearbyParams {
                    lat: Some("30".into()),
                    ..Default::default()
                },
                "lon",
            ),
            (
                NearbyParams {
                    as_of: Some("yesterday".into()),
                    ..params("30", "120", None)
                },
                "as_of",
            ),
        ] {
            let m = message(&p);
            assert!(m.starts_with(name), "{p:?}: {m}");
        }
        // A long value is quoted cut short, control characters escaped.
        let m = message(&params(&"9\n".repeat(5000), "120", None));
        assert!(m.len() < 200 && !m.contains('\n'), "{m}");
        // The ends of the ranges are fine; the radius defaults.
        let q = params("-90", "180", None).parse(ZONE).unwrap();
        assert_eq!((q.lat, q.lon, q.radius_m), (-90.0, 180.0, DEFAULT_RADIUS_M));
        let q = params(" 28.0 ", "-180", Some("50000")).parse(ZONE).unwrap();
        assert_eq!((q.lat, q.lon, q.radius_m), (28.0, -180.0, 50_000.0));
    }

    #[test]
    fn the_audit_text_keeps_the_place_to_a_kilometre() {
        let t = params("28.012345", "120.654321", Some("1500")).request_text();
        assert_eq!(
            t,
            "GET /api/v1/public/nearby lat=28.01 lon=120.65 radius_m=\"1500\" as_of=\"2020-02-01\""
        );
        let t = NearbyParams {
            lat: Some("no\nrth".into()),
            ..Default::default()
        }
        .request_text();
        assert_eq!(
            t,
            "GET /api/v1/public/nearby lat=\"no\\nrth\" lon=- radius_m=- as_of=-"
        );
    }

    fn place(lat: f64, lon: f64, name: &str, stop: Stop) -> Place {
        Place {
            lat,
            lon,
            via: if stop == Stop::Venue {
                Via::Venue
            } else {
                Via::Rail
            },
            stop,
            place: name.into(),
            name: Some(format!("{name} name")),
            region: Some("330302".parse().unwrap()),
            exact: stop == Stop::Venue,
        }
    }

    fn visit(case: i64, start: i64, end: i64, shown_from: i64) -> Visit {
        Visit {
            case,
            start,
            end,
            end_day: Timestamp(end).date(ZONE).days(),
            shown_from,
            shown_until: i64::MAX,
        }
    }

    fn t(s: &str) -> i64 {
        Timestamp::parse_rfc3339(s.as_bytes()).unwrap().millis()
    }

    #[test]
    fn points_of_several_cases_are_one_point_with_a_count() {
        let (a, b) = (
            t("2020-01-20T10:00:00+08:00"),
            t("2020-01-20T11:00:00+08:00"),
        );
        let report = t("2020-01-23T10:00:00+08:00");
        let market = place(28.0, 120.65, "V1", Stop::Venue);
        let station = place(28.01, 120.66, "G1234", Stop::Arrival);
        let entries = vec![
            Entry {
                place: market.clone(),
                visit: visit(1, a, b, report),
            },
            Entry {
                place: market.clone(),
                visit: visit(2, a, b, report),
            },
            // The same case twice at the same point counts once.
            Entry {
                place: market.clone(),
                visit: visit(2, a, b, report),
            },
            Entry {
                place: market.clone(),
                visit: visit(3, a, b + 1, report),
            },
            Entry {
                place: station.clone(),
                visit: visit(1, a, b, report),
            },
            // Reported later: not shown before its report.
            Entry {
                place: station.clone(),
                visit: visit(4, a, b, report + 30 * DAY),
            },
        ];
        let index = NearbyIndex::new(entries);
        assert_eq!(index.places(), 2);
        let q = NearbyQuery {
            lat: 28.0,
            lon: 120.65,
            radius_m: 5_000.0,
            as_of: t("2020-01-25T00:00:00+08:00"),
        };
        let (found, truncated, cases) = index.search(&q, ZONE, 100);
        assert!(!truncated);
        assert_eq!(cases, vec![1, 2, 3]);
        let shown: Vec<(u32, u32)> = found.iter().map(|f| (f.place, f.cases)).collect();
        assert_eq!(shown, vec![(0, 2), (0, 1), (1, 1)]);
        assert_eq!(found[0].distance_m, 0.0);
        let p = index.render(&found[2], ZONE);
        assert_eq!(
            (p.kind, p.stop, p.position),
            ("rail", Some("arrival"), "region")
        );
        assert_eq!(p.start, "2020-01-20T10:00:00+08:00");
        // Out of the radius, nothing; before any report, nothing; more than the limit, cut.
        assert!(
            index
                .search(&NearbyQuery { lat: 29.0, ..q }, ZONE, 100)
                .0
                .is_empty()
        );
        assert!(
            index
                .search(
                    &NearbyQuery {
                        as_of: report - 1,
                        ..q
                    },
                    ZONE,
                    100
                )
                .0
                .is_empty()
        );
        let (two, truncated, cases) = index.search(&q, ZONE, 2);
        assert_eq!((two.len(), truncated, cases), (2, true, vec![1, 2, 3]));
        // Fourteen days after the visits' day they still show; fifteen, no longer.
        let day = |d: &str| t(&format!("{d}T12:00:00+08:00"));
        assert_eq!(
            index
                .search(
                    &NearbyQuery {
                        as_of: day("2020-02-03"),
                        ..q
                    },
                    ZONE,
                    100
                )
                .0
                .len(),
            3
        );
        assert!(
            index
                .search(
                    &NearbyQuery {
                        as_of: day("2020-02-04"),
                        ..q
                    },
                    ZONE,
                    100
                )
                .0
                .is_empty()
        );
    }

    /// What a search should answer, by reading every entry.
    fn brute(entries: &[Entry], q: &NearbyQuery) -> Vec<(i64, i64, u32, f64)> {
        let since = Timestamp(q.as_of).date(ZONE).days() - RECENT_DAYS;
        let mut groups: HashMap<(String, i64, i64), (f64, Vec<i64>)> = HashMap::new();
        for e in entries {
            let d = grid::haversine_m(q.lat, q.lon, e.place.lat, e.place.lon);
            let v = &e.visit;
            if d > q.radius_m
                || v.end_day < since
                || !(v.shown_from <= q.as_of && q.as_of < v.shown_until)
            {
                continue;
            }
            let g = groups
                .entry((format!("{:?}", e.place.key()), v.start, v.end))
                .or_insert((d, Vec::new()));
            g.1.push(v.case);
        }
        let mut out: Vec<_> = groups
            .into_iter()
            .map(|((_, s, e), (d, mut c))| {
                c.sort_unstable();
                c.dedup();
                (s, e, c.len() as u32, d)
            })
            .collect();
        out.sort_by(|a, b| a.partial_cmp(b).unwrap());
        out
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(200))]

        /// The index answers what a reading of every point answers: the same groups with the
        /// same counts, none found twice, the nearest kept when cut.
        #[test]
        fn the_index_answers_what_a_scan_answers(
            spots in prop::collection::vec((-0.3f64..0.3, -0.3f64..0.3, 0u8..4), 1..30),
            visits in prop::collection::vec((0usize..30, 1i64..8, 0i64..40, 0i64..3, 0i64..40), 0..200),
            query in (-0.3f64..0.3, -0.3f64..0.3, 1.0f64..50_000.0, 0i64..60),
            limit in 1usize..50,
        ) {
            let base = t("2020-01-01T00:00:00+08:00");
            let places: Vec<Place> = spots
                .iter()
                .enumerate()
                .map(|(i, &(a, b, s))| {
                    let stop = [Stop::Venue, Stop::Departure, Stop::Arrival, Stop::Venue][s as usize];
                    place(28.0 + a, 120.0 + b, &format!("P{}", i % 7), stop)
                })
                .collect();
            let entries: Vec<Entry> = visits
                .iter()
                .map(|&(p, case, day, len, report)| {
                    let start = base + day * DAY / 2;
                    Entry {
                        place: places[p % places.len()].clone(),
                        visit: visit(case, start, start + len * 3_600_000, base + report * DAY),
                    }
                })
                .collect();
            let index = NearbyIndex::new(entries.clone());
            let q = NearbyQuery {
                lat: 28.0 + query.0,
                lon: 120.0 + query.1,
                radius_m: query.2,
                as_of: base + query.3 * DAY,
            };
            let want = brute(&entries, &q);
            let (found, truncated, cases) = index.search(&q, ZONE, limit);
            prop_assert_eq!(truncated, want.len() > limit);
            prop_assert_eq!(found.len(), want.len().min(limit));
            let mut got: Vec<_> = found
                .iter()
                .map(|f| (f.start, f.end, f.cases, f.distance_m))
                .collect();
            // Nearest first.
            prop_assert!(found.windows(2).all(|w| w[0].distance_m <= w[1].distance_m));
            if !truncated {
                got.sort_by(|a, b| a.partial_cmp(b).unwrap());
                prop_assert_eq!(&got, &want);
            } else {
                // Every answered point is one of the brute force's, and nothing left out is
                // nearer than the farthest answered.
                for g in &got {
                    prop_assert!(want.contains(g), "{:?}", g);
                }
                let far = found.last().unwrap().distance_m;
                for w in want.iter().filter(|w| w.3 < far) {
                    prop_assert!(got.contains(w), "{:?} left out", w);
                }
            }
            // The cases noted are exactly those behind the points answered.
            let mut behind: Vec<i64> = Vec::new();
            for f in &found {
                let p = &index.places[f.place as usize];
                for e in &entries {
                    let v = &e.visit;
                    if e.place.key() == p.key() && (v.start, v.end) == (f.start, f.end)
                        && v.shown_from <= q.as_of && q.as_of < v.shown_until {
                        behind.push(v.case);
                    }
                }
            }
            behind.sort_unstable();
            behind.dedup();
            prop_assert_eq!(cases, behind);
        }
    }
}
