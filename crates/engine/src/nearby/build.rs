//! Gathering the public trail points of every case once per snapshot: each case's trail
//! (`alerts::public_trail`) for each version of its case facts, a venue visit placed at the
//! venue's own coordinates (else its region's point), a ride at the representative points of
//! its departure and arrival regions (read from the `travel` files of the rides' service days
//! only).

use std::collections::{HashMap, HashSet};

use arrow::array::Array;
use model::{Date, Kind, Region, RegionTable, Zone};
use store::Store;
use trace::{CaseInfo, Index, LabRow, Tracer, Via};

use super::{Entry, Place, Stop, Visit};

/// The versions of a case's facts: `(from, until, info)`, `info` holding for every as-of instant
/// in `[from, until)`. A later lab row can bring an onset the first report lacked, and with it
/// another trail window; most cases have one version, from the report on.
pub(super) fn case_versions(mut rows: Vec<LabRow>, zone: Zone) -> Vec<(i64, i64, CaseInfo)> {
    rows.sort_unstable_by_key(|r| (r.reported, r.sample, r.rid));
    let mut times: Vec<i64> = rows.iter().map(|r| r.reported).collect();
    times.dedup();
    let mut out: Vec<(i64, i64, CaseInfo)> = Vec::new();
    for t in times {
        let Some(info) = trace::rules::assess(&mut rows, t, zone).case else {
            continue;
        };
        if out.last().is_some_and(|last| last.2 == info) {
            continue;
        }
        if let Some(last) = out.last_mut() {
            last.1 = t;
        }
        out.push((t, i64::MAX, info));
    }
    out
}

/// The representative point (latitude, longitude) of a region, else of its prefecture, else of
/// its province, as the embedded region table gives them.
pub(super) fn region_point(region: Region) -> Option<(f64, f64)> {
    let table = RegionTable::get();
    [region, region.prefecture(), region.province()]
        .into_iter()
        .find_map(|r| table.info(r)?.point)
        .map(|(lon, lat)| (lat, lon))
}

/// One stop of a trail before it is placed.
struct Raw {
    case: i64,
    via: Via,
    place: String,
    service_date: Option<Date>,
    start: i64,
    end: i64,
    shown_from: i64,
    shown_until: i64,
}

/// A venue as the latest `venues` row of its id describes it.
struct VenueRow {
    rid: i64,
    name: Option<String>,
    region: Option<Region>,
    point: Option<(f64, f64)>,
}

/// One travel leg of a case.
struct Leg {
    via: Via,
    service_no: String,
    date: i32,
    depart: i64,
    arrive: i64,
    from: (Option<String>, Option<Region>),
    to: (Option<String>, Option<Region>),
}

/// Every case's public trail points, placed.
pub(super) fn entries(store: &Store, index: &Index) -> Result<Vec<Entry>, store::StoreError> {
    let zone = store.zone();
    let tracer = Tracer::new(index, zone);
    let mut raw = Vec::new();
    for (case, _) in tracer.cases(i64::MAX) {
        for (from, until, info) in case_versions(index.labs_of(case), zone) {
            for s in alerts::public_trail(index, case, &info, zone) {
                raw.push(Raw {
                    case,
                    via: s.via,
                    place: s.place,
                    service_date: s.service_date,
                    start: s.start.millis(),
                    end: s.end.millis(),
                    shown_from: from,
                    shown_until: until,
                });
            }
        }
    }
    let venues = venues(
        store,
        &raw.iter()
            .filter(|r| r.via == Via::Venue)
            .map(|r| r.place.as_str())
            .collect(),
    )?;
    let legs = legs(store, &raw)?;
    let mut out = Vec::new();
    for r in raw {
        let visit = Visit {
            case: r.case,
            start: r.start,
            end: r.end,
            end_day: model::Timestamp(r.end).date(zone).days(),
            shown_from: r.shown_from,
            shown_until: r.shown_until,
        };
        if r.via == Via::Venue {
            // A venue the store does not describe has no place to be shown at.
            let Some(v) = venues.get(r.place.as_str()) else {
                continue;
            };
            let (point, exact) = match v.point {
                Some(p) => (Some(p), true),
                None => (v.region.and_then(region_point), false),
            };
            let Some((lat, lon)) = point else { continue };
            out.push(Entry {
                place: Place {
                    lat,
                    lon,
                    via: Via::Venue,
                    stop: Stop::Venue,
                    place: r.place,
                    name: v.name.clone(),
                    region: v.region,
                    exact,
                },
                visit,
            });
            continue;
        }
        let Some(leg) = leg_of(&legs, &r) else {
            continue;
        };
        for (stop, (station, region)) in [(Stop::Departure, &leg.from), (Stop::Arrival, &leg.to)] {
            let Some((lat, lon)) = (*region).and_then(region_point) else {
                continue;
            };
            out.push(Entry {
                place: Place {
                    lat,
                    lon,
                    via: r.via,
                    stop,
                    place: r.place.clone(),
                    name: station.clone(),
                    region: *region,
                    exact: false,
                },
                visit,
            });
        }
    }
    Ok(out)
}

/// The ticket behind a ride stop: the case's leg of that service on that day whose ride, cut
/// to the trail's window, is the stop; else the first that overlaps it.
fn leg_of<'a>(legs: &'a HashMap<i64, Vec<Leg>>, r: &Raw) -> Option<&'a Leg> {
    let date = r.service_date?.days();
    let mine: Vec<&Leg> = legs
        .get(&r.case)?
        .iter()
        .filter(|l| l.via == r.via && l.date == date && l.service_no == r.place)
        .collect();
    mine.iter()
        .find(|l| l.arrive.min(r.end) == r.end && l.depart.max(r.start) == r.start)
        .or_else(|| {
            mine.iter()
                .find(|l| l.depart <= r.end && r.start <= l.arrive)
        })
        .copied()
}

fn text(a: &arrow::array::StringArray, i: usize) -> Option<String> {
    a.is_valid(i).then(|| a.value(i).to_string())
}

/// The venues among `ids`, each as its latest row describes it.
fn venues(
    store: &Store,
    ids: &HashSet<&str>,
) -> Result<HashMap<String, VenueRow>, store::StoreError> {
    let mut out: HashMap<String, VenueRow> = HashMap::new();
    if ids.is_empty() {
        return Ok(out);
    }
    let columns = [
        "venue_id",
        "name",
        "region",
        "lat",
        "lon",
        store::RID_COLUMN,
    ];
    for file in store.tables(Kind::Venues) {
        for batch in file.scan(&columns)? {
            let batch = batch?;
            let (id, name, region) = (
                batch.texts("venue_id")?,
                batch.texts("name")?,
                batch.texts("region")?,
            );
            let (lat, lon, rid) = (
                batch.floats("lat")?,
                batch.floats("lon")?,
                batch.ints(store::RID_COLUMN)?,
            );
            for i in 0..batch.rows() {
                let key = id.value(i);
                if !ids.contains(key) {
                    continue;
                }
                let rid = rid.value(i);
                if out.get(key).is_some_and(|v| v.rid > rid) {
                    continue;
                }
                let point = (lat.is_valid(i) && lon.is_valid(i))
                    .then(|| (lat.value(i), lon.value(i)))
                    .filter(|(a, b)| {
                        a.is_finite() && b.is_finite() && a.abs() <= 90.0 && b.abs() <= 180.0
                    });
                out.insert(
                    key.to_string(),
                    VenueRow {
                        rid,
                        name: text(name, i),
                        region: region
                            .is_valid(i)
                            .then(|| region.value(i).parse().ok())
                            .flatten(),
                        point,
                    },
                );
            }
        }
    }
    Ok(out)
}

/// The travel legs of the cases' ride stops, by case: only the files of the rides' service
/// days are read, and only the cases' rows kept.
fn legs(store: &Store, raw: &[Raw]) -> Result<HashMap<i64, Vec<Leg>>, store::StoreError> {
    let rides: Vec<&Raw> = raw.iter().filter(|r| r.via.is_ride()).collect();
    let mut out: HashMap<i64, Vec<Leg>> = HashMap::new();
    if rides.is_empty() {
        return Ok(out);
    }
    let days: HashSet<i32> = rides
        .iter()
        .filter_map(|r| r.service_date.map(Date::days))
        .collect();
    let wanted: HashMap<i64, Vec<(&str, i32)>> = rides.iter().fold(HashMap::new(), |mut m, r| {
        if let Some(d) = r.service_date {
            m.entry(r.case)
                .or_default()
                .push((r.place.as_str(), d.days()));
        }
        m
    });
    let columns = [
        "person_id",
        "mode",
        "service_no",
        "service_date",
        "from_station",
        "from_region",
        "depart_time",
        "to_station",
        "to_region",
        "arrive_time",
    ];
    for file in store.tables(Kind::Travel) {
        if file.date().is_some_and(|d| !days.contains(&d.days())) {
            continue;
        }
        for batch in file.scan(&columns)? {
            let batch = batch?;
            let person = batch.ints("person_id")?;
            let (mode, service) = (batch.texts("mode")?, batch.texts("service_no")?);
            let date = batch.dates("service_date")?;
            let (from_station, from_region) =
                (batch.texts("from_station")?, batch.texts("from_region")?);
            let (to_station, to_region) = (batch.texts("to_station")?, batch.texts("to_region")?);
            let (depart, arrive) = (
                batch.instants("depart_time")?,
                batch.instants("arrive_time")?,
            );
            for i in 0..batch.rows() {
                let p = person.value(i);
                let Some(w) = wanted.get(&p) else { continue };
                let (s, d) = (service.value(i), date.value(i));
                if !w.iter().any(|&(ws, wd)| ws == s && wd == d) {
                    continue;
                }
                let Some(via) = Via::from_mode(mode.value(i)) else {
                    continue;
                };
                let region = |a: &arrow::array::StringArray| {
                    a.is_valid(i)
                        .then(|| a.value(i).parse::<Region>().ok())
                        .flatten()
                };
                out.entry(p).or_default().push(Leg {
                    via,
                    service_no: s.to_string(),
                    date: d,
                    depart: depart.value(i),
                    arrive: arrive.value(i),
                    from: (text(from_station, i), region(from_region)),
                    to: (text(to_station, i), region(to_region)),
                });
            }
        }
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;
    use model::Diagnosis;

    fn at(s: &str) -> i64 {
        model::Timestamp::parse_rfc3339(s.as_bytes())
            .unwrap()
            .millis()
    }

    fn row(reported: &str, diagnosis: Option<Diagnosis>, onset: Option<&str>, rid: i64) -> LabRow {
        LabRow {
            reported: at(reported),
            sample: at(reported) - 3_600_000,
            rid,
            positive: true,
            diagnosis,
            onset: onset.map(|d| d.parse().unwrap()),
        }
    }

    #[test]
    fn a_later_onset_makes_a_second_version_of_the_case() {
        let zone = Zone::CST;
        let rows = vec![
            row("2020-01-20T09:00:00+08:00", None, None, 1),
            row(
                "2020-01-23T10:00:00+08:00",
                Some(Diagnosis::Confirmed),
                None,
                2,
            ),
            row("2020-01-25T10:00:00+08:00", None, Some("2020-01-18"), 3),
            row(
                "2020-01-27T10:00:00+08:00",
                Some(Diagnosis::Confirmed),
                None,
                4,
            ),
        ];
        let v = case_versions(rows, zone);
        assert_eq!(v.len(), 2, "{v:?}");
        assert_eq!(
            (v[0].0, v[0].1),
            (
                at("2020-01-23T10:00:00+08:00"),
                at("2020-01-25T10:00:00+08:00")
            )
        );
        assert_eq!(v[0].2.onset.to_string(), "2020-01-20");
        assert_eq!(
            (v[1].0, v[1].1),
            (at("2020-01-25T10:00:00+08:00"), i64::MAX)
        );
        assert_eq!(v[1].2.onset.to_string(), "2020-01-18");
        // Same report time in both: it is the first row that made the case.
        assert_eq!(v[0].2.report_time, v[1].2.report_time);
        // A suspected person alone is no case and has no trail.
        assert!(
            case_versions(vec![row("2020-01-20T09:00:00+08:00", None, None, 1)], zone).is_empty()
        );
    }

    #[test]
    fn a_region_without_a_point_falls_back_to_its_prefecture() {
        let wenzhou = region_point("330300".parse().unwrap()).unwrap();
        assert!(
            (wenzhou.0 - 28.0).abs() < 0.5 && (wenzhou.1 - 120.7).abs() < 0.5,
            "{wenzhou:?}"
        );
        // 330399 is not a code; its prefecture is.
        assert_eq!(region_point("330399".parse().unwrap()), Some(wenzhou));
    }
}
