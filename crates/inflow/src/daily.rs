//! Daily inflow (contract §7): arrivals into each region at a level, per day, with the
//! distinct persons per arrival kind, per origin (rolled up to prefectures) and per origin
//! risk level.
//!
//! Each of the three tables is read once for the whole period, concurrently and only where its
//! statistics overlap the period (one query per table: planning a query per day cost more than
//! the scan), its batches read by `store::arrivals` (the one reader of what an arrival is, with
//! both ends) and each arrival kept or not by §7's rule (`model::arrival::enters`). Arrivals
//! become compact records (32 bytes; moves within an area are dropped
//! as they stream), bucketed by day; each day's records are then reduced by one sort. At the
//! community level the persons' stays are read once for the whole period.

use std::collections::{HashMap, HashSet};

use futures_util::future::try_join3;
use model::arrival::enters;
use model::{Arrival, Date, Kind, Level, Region, Zone};
use query::Query;
use store::arrivals::{Ends, read_arrivals};

use crate::InflowError;
use crate::period::Period;
use crate::scan::{Params, date, for_each_batch, instant};
use crate::stay::stays;

/// The area arrivals are counted into.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum InflowLevel {
    Province,
    Prefecture,
    County,
    /// County arrivals (contract §7 at the county level) attributed to the community where the
    /// person stays now, when that stay is in the destination's area (the row's region is then
    /// the stay's county: a ticket may name only `330300`); otherwise to no community.
    Community,
}

impl InflowLevel {
    pub const ALL: [InflowLevel; 4] = [
        InflowLevel::Province,
        InflowLevel::Prefecture,
        InflowLevel::County,
        InflowLevel::Community,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            InflowLevel::Province => "province",
            InflowLevel::Prefecture => "prefecture",
            InflowLevel::County => "county",
            InflowLevel::Community => "community",
        }
    }

    pub fn parse(s: &str) -> Option<InflowLevel> {
        InflowLevel::ALL.into_iter().find(|l| l.as_str() == s)
    }

    /// The region level destinations roll up to.
    fn region_level(self) -> Level {
        match self {
            InflowLevel::Province => Level::Province,
            InflowLevel::Prefecture => Level::Prefecture,
            InflowLevel::County | InflowLevel::Community => Level::County,
        }
    }
}

/// The most severe risk level of an area covering an origin on the arrival date.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum OriginRisk {
    /// No published area covers the origin (or the record names none).
    None = 0,
    Low = 1,
    Medium = 2,
    High = 3,
}

impl OriginRisk {
    /// Most severe first, the order `by_origin_risk` prints in.
    pub const ALL: [OriginRisk; 4] = [
        OriginRisk::High,
        OriginRisk::Medium,
        OriginRisk::Low,
        OriginRisk::None,
    ];

    pub fn as_str(self) -> &'static str {
        match self {
            OriginRisk::High => "high",
            OriginRisk::Medium => "medium",
            OriginRisk::Low => "low",
            OriginRisk::None => "none",
        }
    }

    fn from_index(i: u8) -> OriginRisk {
        match i {
            3 => OriginRisk::High,
            2 => OriginRisk::Medium,
            1 => OriginRisk::Low,
            _ => OriginRisk::None,
        }
    }
}

/// The kinds an inflow row counts, in the contract's `by_kind` order.
pub const INFLOW_KINDS: [&str; 6] = ["rail", "flight", "coach", "ship", "road", "registration"];

/// Persons arriving from one origin prefecture.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct OriginCount {
    pub region: Region,
    pub persons: u32,
}

/// Arrivals into one region (and, at the community level, one community) on one day.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct InflowRow {
    /// The destination at the requested level (the county at the community level).
    pub region: Region,
    /// Only at the community level: where the arriving persons stay (`None`: not known to
    /// stay in a community of this county).
    pub community: Option<String>,
    pub date: Date,
    /// Distinct persons with at least one arrival.
    pub arrivals: u32,
    /// Of them, those with an arrival from an origin a high-risk area covered that day.
    pub from_high_risk: u32,
    /// Distinct persons per kind, in [`INFLOW_KINDS`] order.
    pub by_kind: [u32; 6],
    /// Each person once, at the most severe risk of their arrivals' origins, in
    /// [`OriginRisk::ALL`] order (high, medium, low, none); sums to `arrivals`.
    pub by_origin_risk: [u32; 4],
    /// The largest origin prefectures, most persons first, ties by code.
    pub top_origins: Vec<OriginCount>,
}

impl InflowRow {
    /// `persons / arrivals` in thousandths, rounded half up (contract §7's `share` × 1000).
    pub fn share_millis(&self, persons: u32) -> u32 {
        if self.arrivals == 0 {
            return 0;
        }
        let (p, a) = (u64::from(persons), u64::from(self.arrivals));
        ((p * 2000 + a) / (2 * a)) as u32
    }
}

/// What to count.
#[derive(Clone, Copy, Debug)]
pub struct InflowQuery {
    pub level: InflowLevel,
    pub period: Period,
    /// How many origins `top_origins` keeps (the contract's 10).
    pub top: usize,
}

/// The risk of an origin on a date, from the published risk areas (contract §4's rule: an area
/// of that level covers the origin and is valid that day).
pub type RiskOf<'a> = &'a (dyn Fn(Region, Date) -> OriginRisk + Send + Sync);

/// One arrival record, reduced to what the counts need.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Record {
    /// The destination at the level.
    region: u32,
    /// Index into the community names (0: none), filled at the community level.
    community: u32,
    person: i64,
    /// The arrival's kind by its number (`ArrivalKind::index`), the position in `by_kind`.
    kind: u8,
    /// The origin rolled up to its prefecture; 0 when the record names none.
    origin: u32,
    risk: u8,
}

/// Daily inflow rows for every region with an arrival in the period, sorted by region (then
/// community: named ones by name, then none), then date.
pub async fn daily_inflow(
    query: &Query,
    zone: Zone,
    risk: RiskOf<'_>,
    q: InflowQuery,
) -> Result<Vec<InflowRow>, InflowError> {
    let mut days = period_records(query, zone, risk, q.level.region_level(), q.period).await?;
    let names = if q.level == InflowLevel::Community {
        attribute_communities(query, &mut days).await?
    } else {
        Vec::new()
    };
    let mut out = Vec::new();
    for (i, records) in days.into_iter().enumerate() {
        aggregate(
            q.period.first().add_days(i as i32),
            records,
            &names,
            q.top,
            &mut out,
        );
    }
    out.sort_by(|a, b| {
        (a.region, a.community.is_none(), &a.community, a.date).cmp(&(
            b.region,
            b.community.is_none(),
            &b.community,
            b.date,
        ))
    });
    Ok(out)
}

/// Caches of the two lookups every record needs: origin risk (by origin and day) and
/// roll-ups; and the period's records, by day.
struct Lookups<'a> {
    risk: RiskOf<'a>,
    level: Level,
    period: Period,
    risk_by_origin: HashMap<(u32, i32), u8>,
    rolled: HashMap<(u32, Level), u32>,
    days: Vec<Vec<Record>>,
}

impl Lookups<'_> {
    fn risk(&mut self, origin: Region, day: Date) -> u8 {
        let risk = self.risk;
        *self
            .risk_by_origin
            .entry((origin.code(), day.days()))
            .or_insert_with(|| risk(origin, day) as u8)
    }

    fn roll(&mut self, r: Region, level: Level) -> u32 {
        *self
            .rolled
            .entry((r.code(), level))
            .or_insert_with(|| r.at_level(level).code())
    }

    /// Files an arrival on its day, unless the day is outside the period or it is no arrival
    /// into an area at the level (see [`Lookups::record`]).
    fn add(&mut self, a: &Arrival) {
        if !self.period.contains(a.date) {
            return;
        }
        if let Some(r) = self.record(a) {
            self.days[(a.date.days() - self.period.first().days()) as usize].push(r);
        }
    }

    /// The record of an arrival into its destination's area at the level, or `None` when inflow
    /// does not count its kind, it names no destination, or that area covers its origin.
    fn record(&mut self, a: &Arrival) -> Option<Record> {
        if !a.kind.counts_as_inflow() {
            return None;
        }
        let dest = Region::new(self.roll(a.to?, self.level))?;
        if !enters(dest, a.from) {
            return None;
        }
        let (origin, risk) = match a.from {
            Some(f) => (self.roll(f, Level::Prefecture), self.risk(f, a.date)),
            None => (0, OriginRisk::None as u8),
        };
        Some(Record {
            region: dest.code(),
            community: 0,
            person: a.person,
            kind: a.kind.index() as u8,
            origin,
            risk,
        })
    }
}

/// Every arrival dated in `period` at `level`, by day, from the three tables read
/// concurrently.
async fn period_records(
    query: &Query,
    zone: Zone,
    risk: RiskOf<'_>,
    level: Level,
    period: Period,
) -> Result<Vec<Vec<Record>>, InflowError> {
    let (start, end) = period.instants(zone);
    let lookups = || Lookups {
        risk,
        level,
        period,
        risk_by_origin: HashMap::new(),
        rolled: HashMap::new(),
        days: vec![Vec::new(); period.days() as usize],
    };
    let instants = || vec![("start", instant(start, zone)), ("end", instant(end, zone))];
    // Each scan filters only by date; the reader's arrivals are filtered in Rust, on the text as
    // the scan hands it over: measured faster than filtering in the scan with the `arrives` SQL
    // function, whose arguments DataFusion copies out of their string views first.
    let scan = |kind: Kind, sql: &'static str, params: Params| {
        let mut l = lookups();
        async move {
            let table = kind.name();
            for_each_batch(query, table, sql, params, |b| {
                read_arrivals(kind, b, zone, Ends::FromAndTo, |a| l.add(&a)).map_err(|e| {
                    InflowError::Query {
                        table,
                        message: e.to_string(),
                    }
                })
            })
            .await?;
            Ok::<_, InflowError>(l.days)
        }
    };
    let travel = "SELECT person_id, arrive_time, mode, from_region, to_region FROM travel \
                  WHERE arrive_time >= $start AND arrive_time < $end";
    let road = "SELECT person_id, time, region, origin_region FROM checkpoint \
                WHERE time >= $start AND time < $end";
    let registrations = "SELECT person_id, arrival_date, stay_region, from_region \
                         FROM registrations WHERE arrival_date >= $first AND arrival_date <= $last \
                         AND stay_region IS NOT NULL";
    let dates = vec![
        ("first", date(period.first())),
        ("last", date(period.last())),
    ];
    let (mut all, road, registrations) = try_join3(
        scan(Kind::Travel, travel, instants()),
        scan(Kind::Checkpoint, road, instants()),
        scan(Kind::Registrations, registrations, dates),
    )
    .await?;
    for (day, (r, g)) in all.iter_mut().zip(road.into_iter().zip(registrations)) {
        day.extend(r);
        day.extend(g);
    }
    Ok(all)
}

/// Fills each record's community and county from where its person stays (when the stay is in
/// the record's destination area) and returns the community names, index 0 being "none".
async fn attribute_communities(
    query: &Query,
    days: &mut [Vec<Record>],
) -> Result<Vec<String>, InflowError> {
    let persons: HashSet<i64> = days
        .iter()
        .flat_map(|r| r.iter().map(|r| r.person))
        .collect();
    let stays = stays(query, &persons).await?;
    let mut names = vec![String::new()];
    let mut index: HashMap<String, u32> = HashMap::new();
    for records in days.iter_mut() {
        for r in records.iter_mut() {
            let Some(stay) = stays.get(&r.person) else {
                continue;
            };
            let (Some(region), Some(community)) = (stay.region, stay.community.as_ref()) else {
                continue;
            };
            let county = Region::new(r.region).expect("a record's region is valid");
            if !county.covers(region) {
                continue;
            }
            // A ticket may name only the prefecture (`330300`); the stay says which county.
            r.region = region.code();
            r.community = *index.entry(community.clone()).or_insert_with(|| {
                names.push(community.clone());
                (names.len() - 1) as u32
            });
        }
    }
    Ok(names)
}

/// Adds the rows of one day's records to `out`.
fn aggregate(
    day: Date,
    mut records: Vec<Record>,
    communities: &[String],
    top: usize,
    out: &mut Vec<InflowRow>,
) {
    records.sort_unstable();
    records.dedup();
    let mut origins: HashMap<u32, u32> = HashMap::new();
    let mut person_origins: Vec<u32> = Vec::new();
    for group in records.chunk_by(|a, b| (a.region, a.community) == (b.region, b.community)) {
        let mut row = InflowRow {
            region: Region::new(group[0].region).expect("a record's region is valid"),
            community: (group[0].community != 0)
                .then(|| communities[group[0].community as usize].clone()),
            date: day,
            arrivals: 0,
            from_high_risk: 0,
            by_kind: [0; 6],
            by_origin_risk: [0; 4],
            top_origins: Vec::new(),
        };
        origins.clear();
        for person in group.chunk_by(|a, b| a.person == b.person) {
            row.arrivals += 1;
            let mut kinds = 0u8;
            let mut worst = 0u8;
            person_origins.clear();
            for r in person {
                kinds |= 1 << r.kind;
                worst = worst.max(r.risk);
                if r.origin != 0 {
                    person_origins.push(r.origin);
                }
            }
            for (k, n) in row.by_kind.iter_mut().enumerate() {
                *n += u32::from(kinds >> k & 1);
            }
            let worst = OriginRisk::from_index(worst);
            if worst == OriginRisk::High {
                row.from_high_risk += 1;
            }
            let at = OriginRisk::ALL
                .iter()
                .position(|&r| r == worst)
                .expect("every risk is listed");
            row.by_origin_risk[at] += 1;
            person_origins.sort_unstable();
            person_origins.dedup();
            for &o in &person_origins {
                *origins.entry(o).or_default() += 1;
            }
        }
        let mut ranked: Vec<OriginCount> = origins
            .iter()
            .filter_map(|(&o, &persons)| {
                Region::new(o).map(|region| OriginCount { region, persons })
            })
            .collect();
        ranked.sort_unstable_by(|a, b| b.persons.cmp(&a.persons).then(a.region.cmp(&b.region)));
        ranked.truncate(top);
        row.top_origins = ranked;
        out.push(row);
    }
}

#[cfg(test)]
mod tests {
    use model::ArrivalKind;

    use super::*;

    fn rec(region: u32, person: i64, kind: u8, origin: u32, risk: u8) -> Record {
        Record {
            region,
            community: 0,
            person,
            kind,
            origin,
            risk,
        }
    }

    fn day() -> Date {
        "2020-01-22".parse().unwrap()
    }

    #[test]
    fn persons_count_once_per_row_and_once_per_kind_and_origin() {
        let records = vec![
            // Person 1 by rail and by road from Wuhan, and by rail again (a second leg).
            rec(330100, 1, 0, 420100, 3),
            rec(330100, 1, 4, 420100, 3),
            rec(330100, 1, 0, 420100, 3),
            // Person 2 by flight from Beijing and by road with no origin.
            rec(330100, 2, 1, 110100, 0),
            rec(330100, 2, 4, 0, 0),
            // Person 3 registered from Xiaogan (medium) into another prefecture.
            rec(330300, 3, 5, 420900, 2),
        ];
        let mut out = Vec::new();
        aggregate(day(), records, &[], 10, &mut out);
        assert_eq!(out.len(), 2);
        let hz = &out[0];
        assert_eq!(
            (hz.region.code(), hz.arrivals, hz.from_high_risk),
            (330100, 2, 1)
        );
        assert_eq!(hz.by_kind, [1, 1, 0, 0, 2, 0]);
        assert_eq!(hz.by_origin_risk, [1, 0, 0, 1]);
        assert_eq!(
            hz.top_origins,
            [
                OriginCount {
                    region: Region::new(110100).unwrap(),
                    persons: 1
                },
                OriginCount {
                    region: Region::new(420100).unwrap(),
                    persons: 1
                }
            ]
        );
        let wz = &out[1];
        assert_eq!((wz.arrivals, wz.from_high_risk), (1, 0));
        assert_eq!(wz.by_origin_risk, [0, 1, 0, 0]);
        assert_eq!(wz.by_kind, [0, 0, 0, 0, 0, 1]);
    }

    #[test]
    fn top_origins_keep_the_largest_with_ties_by_code() {
        let mut records = Vec::new();
        for (person, origin) in [
            (1, 420100),
            (2, 420100),
            (3, 110100),
            (4, 310100),
            (5, 120100),
        ] {
            records.push(rec(330100, person, 0, origin, 0));
        }
        let mut out = Vec::new();
        aggregate(day(), records, &[], 2, &mut out);
        let top: Vec<(u32, u32)> = out[0]
            .top_origins
            .iter()
            .map(|o| (o.region.code(), o.persons))
            .collect();
        assert_eq!(top, [(420100, 2), (110100, 1)]);
    }

    #[test]
    fn shares_round_half_up_in_thousandths() {
        let row = |arrivals| InflowRow {
            region: Region::new(330100).unwrap(),
            community: None,
            date: day(),
            arrivals,
            from_high_risk: 0,
            by_kind: [0; 6],
            by_origin_risk: [0; 4],
            top_origins: Vec::new(),
        };
        assert_eq!(row(412).share_millis(120), 291); // 0.29126
        assert_eq!(row(8).share_millis(1), 125);
        assert_eq!(row(2000).share_millis(1), 1); // 0.0005 rounds up
        assert_eq!(row(2001).share_millis(1), 0); // 0.00049975 rounds down
        assert_eq!(row(3).share_millis(3), 1000);
        assert_eq!(row(0).share_millis(0), 0);
    }

    /// An arrival on `day()` into `to` from `from` (empty: none), as the reader gives it.
    fn arrival(kind: ArrivalKind, to: &str, from: &str) -> Arrival {
        Arrival {
            person: 1,
            date: day(),
            time: day().start(Zone::CST),
            kind,
            from: (!from.is_empty()).then(|| from.parse().unwrap()),
            to: Some(to.parse().unwrap()),
        }
    }

    #[test]
    fn a_move_within_the_area_is_not_an_arrival() {
        let risk = |_: Region, _: Date| OriginRisk::None;
        let mut l = Lookups {
            risk: &risk,
            level: Level::Prefecture,
            period: Period::new(day(), day()).unwrap(),
            risk_by_origin: HashMap::new(),
            rolled: HashMap::new(),
            days: vec![Vec::new()],
        };
        let rail = ArrivalKind::Rail;
        // 420111 → 420106: within Wuhan.
        assert_eq!(l.record(&arrival(rail, "420106", "420111")), None);
        l.level = Level::County;
        let r = l.record(&arrival(rail, "420106", "420111")).unwrap();
        assert_eq!((r.region, r.origin), (420106, 420100));
        // A checkpoint pass with no origin is an arrival, with no origin.
        let r = l.record(&arrival(ArrivalKind::Road, "330302", "")).unwrap();
        assert_eq!((r.region, r.origin, r.risk, r.kind), (330302, 0, 0, 4));
        // A county not in the table rolls up by its digits.
        l.level = Level::Prefecture;
        let r = l.record(&arrival(rail, "330399", "429004")).unwrap();
        assert_eq!((r.region, r.origin), (330300, 429000));
        // A self-reported visit is not inflow, nor is a record naming no destination.
        let visit = arrival(ArrivalKind::SelfReport, "330302", "420100");
        assert_eq!(l.record(&visit), None);
        let nowhere = Arrival {
            to: None,
            ..arrival(ArrivalKind::Registration, "330302", "420100")
        };
        assert_eq!(l.record(&nowhere), None);
    }

    #[test]
    fn levels_parse_by_name() {
        for l in InflowLevel::ALL {
            assert_eq!(InflowLevel::parse(l.as_str()), Some(l));
        }
        assert_eq!(InflowLevel::parse("city"), None);
    }
}
