//! Contract §7's daily inflow and the exposed list ("who arrived from R") as plain SQL
//! statements over the stored tables, with their constants written in, so the same text runs
//! on the embedded DataFusion or a Ballista cluster that has the same tables and functions.
//!
//! They make the `inflow` crate's choices where the contract leaves room, so
//! `tests/inflow_sql.rs` holds them to it row for row: the records that are arrivals are
//! `store::arrivals`' (a ride of a mode the contract does not list, or an origin that does not
//! read as a region, is no arrival; an empty origin is none), a destination is rolled up with
//! `region_at` (`model::Region::at_level`), an origin's risk is the most severe level of a
//! `risk_areas` row covering the unrolled origin on the arrival date, and a stay is the latest
//! registration naming a readable stay region (by arrival date, then row id), else the last
//! ingested `persons` row. Both answer pseudonyms and days since 1970-01-01; shaping them (the
//! `share`, ids revealed) is the caller's.

use arrow::array::{ArrayRef, AsArray, RecordBatch};
use arrow::datatypes::{DataType, Int64Type};
use futures_util::StreamExt;
use model::{ArrivalKind, Date, Kind, Level, Region, Zone};

use crate::trace_sql::zone_day;
use crate::{Query, QueryError, execution, planning, union_of_stored};

/// The kinds counted by `by_kind`, in the contract's order (`ArrivalKind`'s numbers 0–5).
const INFLOW_KINDS: usize = 6;

/// One row of [`inflow_sql`]'s answer: arrivals into `region` (at the level asked) on `date`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlInflowRow {
    pub region: Region,
    pub date: Date,
    /// Distinct persons with an arrival.
    pub arrivals: u32,
    /// Of them, those with an arrival from an origin a high-risk area covered that day.
    pub from_high_risk: u32,
    /// Distinct persons per kind: rail, flight, coach, ship, road, registration.
    pub by_kind: [u32; INFLOW_KINDS],
    /// Each person once at the most severe risk of their origins: high, medium, low, none.
    pub by_origin_risk: [u32; 4],
    /// The largest origin prefectures (most persons first, ties by code), with their persons.
    pub top_origins: Vec<(Region, u32)>,
}

/// Where an exposed person stays, by the record it comes from.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SqlStaySource {
    Registration,
    Home,
    Unknown,
}

/// One row of [`exposed_sql`]'s answer.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SqlExposed {
    pub person: i64,
    pub first_arrival: Date,
    pub last_arrival: Date,
    /// Distinct kinds of the arrival records, in [`ArrivalKind`] order.
    pub kinds: Vec<ArrivalKind>,
    /// Distinct origins the records name, ascending.
    pub origins: Vec<Region>,
    pub stay_region: Option<Region>,
    pub stay_community: Option<String>,
    pub stay_source: SqlStaySource,
}

/// The first instant of `first` and the first after `last` in `zone`, in epoch milliseconds.
fn bounds(first: Date, last: Date, zone: Zone) -> (i64, i64) {
    (
        first.start(zone).millis(),
        last.add_days(1).start(zone).millis(),
    )
}

/// A ride's kind by its mode; NULL (no arrival) for any other text, as `store::arrivals`.
const KIND_OF_MODE: &str =
    "CASE mode WHEN 'rail' THEN 0 WHEN 'flight' THEN 1 WHEN 'coach' THEN 2 WHEN 'ship' THEN 3 END";

/// The arrival records dated in the period: `(person, day, kind, origin, dest)`, the origin
/// and destination as stored. Without `to` (the exposed list, which asks where each arrival
/// stays now rather than where it went) `dest` is NULL and self-reported visits count too.
/// Branches over kinds nothing is stored of (`unstored`) are left out ([`union_of_stored`]).
/// Each table is filtered by its partition column, so files outside the period are skipped
/// by their statistics.
fn arrivals(first: Date, last: Date, zone: Zone, to: bool, unstored: &[Kind]) -> String {
    let z = i64::from(zone.offset_secs()) * 1000;
    let (start, end) = bounds(first, last, zone);
    let within = |col: &str| {
        format!("CAST(\"{col}\" AS BIGINT) >= {start} AND CAST(\"{col}\" AS BIGINT) < {end}")
    };
    let day = |col: &str| zone_day(&format!("CAST(\"{col}\" AS BIGINT)"), z);
    let dest = |col: &str| {
        if to {
            col.to_string()
        } else {
            "CAST(NULL AS VARCHAR)".to_string()
        }
    };
    let named = |day: &str, kind: &str, origin: &str, dest: &str| {
        format!("AS person, {day} AS day, {kind} AS kind, {origin} AS origin, {dest} AS dest")
    };
    let travel = format!(
        "
        SELECT person_id {}
        FROM travel WHERE {}",
        named(
            &day("arrive_time"),
            KIND_OF_MODE,
            "from_region",
            &dest("to_region")
        ),
        within("arrive_time"),
    );
    let checkpoint = format!(
        "
        SELECT person_id {}
        FROM checkpoint WHERE {}",
        named(&day("time"), "4", "origin_region", &dest("region")),
        within("time"),
    );
    let registrations = format!(
        "
        SELECT person_id {}
        FROM registrations
        WHERE arrival_date >= DATE '{first}' AND arrival_date <= DATE '{last}'",
        named(
            "CAST(CAST(arrival_date AS INT) AS BIGINT)",
            "5",
            "from_region",
            &dest("stay_region")
        ),
    );
    let mut branches = vec![
        (Kind::Travel, travel),
        (Kind::Checkpoint, checkpoint),
        (Kind::Registrations, registrations),
    ];
    if !to {
        branches.push((
            Kind::SelfReports,
            format!(
                "
        SELECT person, day, 6 AS kind, origin, CAST(NULL AS VARCHAR) AS dest FROM (
            SELECT person_id AS person, {} AS day, unnest(visited_regions) AS origin
            FROM self_reports WHERE {} AND visited_regions IS NOT NULL)",
                day("time"),
                within("time"),
            ),
        ));
    }
    union_of_stored(&branches, unstored)
}

/// The statement answering daily inflow (contract §7) at `level` for the days `first..=last`
/// in `zone`, keeping `top` origins a row; see [`SqlInflowRow`]. Columns: `region`, `day`,
/// `arrivals`, `from_high_risk`, the six kinds `k0`–`k5`, `risk_high`, `risk_medium`,
/// `risk_low`, `risk_none`, `top_origins` (`origin:persons` by rank, `;`-joined). Rows ordered by region, then day.
/// `unstored`: the kinds nothing is stored of (see [`arrivals`]).
pub fn inflow_sql(
    level: Level,
    first: Date,
    last: Date,
    zone: Zone,
    top: usize,
    unstored: &[Kind],
) -> String {
    let arrivals = arrivals(first, last, zone, true, unstored);
    let level = level.name();
    let kinds: String = (0..INFLOW_KINDS)
        .map(|k| format!("max(CASE WHEN kind = {k} THEN 1 ELSE 0 END) AS k{k}, "))
        .collect();
    let kind_sums: String = (0..INFLOW_KINDS)
        .map(|k| format!("CAST(sum(k{k}) AS BIGINT) AS k{k}, "))
        .collect();
    let worst = |w: u8| format!("CAST(sum(CASE WHEN worst = {w} THEN 1 ELSE 0 END) AS BIGINT)");
    format!(
        "
        WITH
        arr AS ({arrivals}),
        -- An empty origin is none; one that does not read as a region drops the record.
        ends AS (
            SELECT person, day, kind,
                   CASE WHEN origin IS NULL OR origin = '' THEN NULL
                        ELSE region_at(origin, 'county') END AS origin,
                   origin IS NULL OR origin = '' AS no_origin,
                   region_at(dest, '{level}') AS region
            FROM arr WHERE kind IS NOT NULL),
        -- A move within the destination's area is no arrival into it.
        moves AS (
            SELECT person, day, kind, origin, region FROM ends
            WHERE region IS NOT NULL AND (no_origin OR origin IS NOT NULL)
              AND (origin IS NULL OR NOT covers(region, origin))),
        -- Each distinct origin and day once against the published areas (few), not each record.
        risk AS (
            SELECT o.origin, o.day,
                   max(CASE r.level WHEN 'high' THEN 3 WHEN 'medium' THEN 2 WHEN 'low' THEN 1
                       ELSE 0 END) AS risk
            FROM (SELECT DISTINCT origin, day FROM moves WHERE origin IS NOT NULL) o
            JOIN risk_areas r ON covers(r.region, o.origin)
                 AND CAST(CAST(r.valid_from AS INT) AS BIGINT) <= o.day
                 AND (r.valid_to IS NULL OR o.day <= CAST(CAST(r.valid_to AS INT) AS BIGINT))
            GROUP BY o.origin, o.day),
        rec AS (
            SELECT m.region, m.day, m.person, m.kind, prefecture(m.origin) AS origin,
                   coalesce(k.risk, 0) AS risk
            FROM moves m LEFT JOIN risk k ON k.origin = m.origin AND k.day = m.day),
        persons AS (
            SELECT region, day, person, {kinds}max(risk) AS worst
            FROM rec GROUP BY region, day, person),
        per_row AS (
            SELECT region, day, CAST(count(*) AS BIGINT) AS arrivals, {kind_sums}
                   {high} AS risk_high, {medium} AS risk_medium, {low} AS risk_low,
                   {none} AS risk_none
            FROM persons GROUP BY region, day),
        origins AS (
            SELECT region, day, origin, CAST(count(DISTINCT person) AS BIGINT) AS persons
            FROM rec WHERE origin IS NOT NULL GROUP BY region, day, origin),
        ranked AS (
            SELECT region, day, origin, persons,
                   row_number() OVER (PARTITION BY region, day ORDER BY persons DESC, origin)
                       AS pos
            FROM origins),
        tops AS (
            SELECT region, day,
                   string_agg(concat(origin, ':', CAST(persons AS VARCHAR)), ';' ORDER BY pos)
                       AS origins
            FROM ranked WHERE pos <= {top} GROUP BY region, day)
        SELECT p.region, p.day, p.arrivals, p.risk_high AS from_high_risk,
               p.k0, p.k1, p.k2, p.k3, p.k4, p.k5,
               p.risk_high, p.risk_medium, p.risk_low, p.risk_none,
               coalesce(t.origins, '') AS top_origins
        FROM per_row p LEFT JOIN tops t ON t.region = p.region AND t.day = p.day
        ORDER BY p.region, p.day",
        high = worst(3),
        medium = worst(2),
        low = worst(1),
        none = worst(0),
    )
}

/// The statement answering "who arrived from a region `origin` covers in `first..=last`"
/// (contract §4's arrivals, self-reported visits included), with where each stays now. One
/// row per person: `person`, `first_day`, `last_day`, `kinds` (a bit per [`ArrivalKind`]
/// number), `origins` (`;`-joined, ascending), `stay_region`, `stay_community`, `source`
/// (1 registration, 2 home, 3 unknown); ordered by person. `unstored`: the kinds nothing is
/// stored of (see [`arrivals`]).
pub fn exposed_sql(
    origin: Region,
    first: Date,
    last: Date,
    zone: Zone,
    unstored: &[Kind],
) -> String {
    let arrivals = arrivals(first, last, zone, false, unstored);
    let bits = ArrivalKind::ALL
        .iter()
        .map(|k| format!("WHEN {} THEN {}", k.index(), 1 << k.index()))
        .collect::<Vec<_>>()
        .join(" ");
    format!(
        "
        WITH
        arr AS ({arrivals}),
        hits AS (
            SELECT person, day, kind, region_at(origin, 'county') AS origin FROM arr
            WHERE kind IS NOT NULL AND origin IS NOT NULL AND origin <> ''
              AND covers('{origin}', origin)),
        people AS (
            SELECT person, min(day) AS first_day, max(day) AS last_day,
                   bit_or(CASE kind {bits} END) AS kinds
            FROM hits GROUP BY person),
        named AS (
            SELECT person, string_agg(origin, ';' ORDER BY origin) AS origins
            FROM (SELECT DISTINCT person, origin FROM hits) GROUP BY person),
        reg AS (
            SELECT person_id AS person,
                   first_value(region_at(stay_region, 'county')
                               ORDER BY arrival_date DESC, _rid DESC) AS region,
                   first_value(stay_community ORDER BY arrival_date DESC, _rid DESC) AS community
            FROM registrations
            WHERE region_at(stay_region, 'county') IS NOT NULL
              AND person_id IN (SELECT person FROM people)
            GROUP BY person_id),
        home AS (
            SELECT person_id AS person,
                   first_value(region_at(home_region, 'county') ORDER BY _rid DESC) AS region,
                   first_value(community_id ORDER BY _rid DESC) AS community
            FROM persons
            WHERE region_at(home_region, 'county') IS NOT NULL
              AND person_id IN (SELECT person FROM people)
            GROUP BY person_id)
        SELECT p.person, p.first_day, p.last_day, CAST(p.kinds AS BIGINT) AS kinds,
               n.origins,
               CASE WHEN r.person IS NOT NULL THEN r.region ELSE h.region END AS stay_region,
               CASE WHEN r.person IS NOT NULL THEN r.community ELSE h.community END
                   AS stay_community,
               CAST(CASE WHEN r.person IS NOT NULL THEN 1 WHEN h.person IS NOT NULL THEN 2
                    ELSE 3 END AS BIGINT) AS source
        FROM people p JOIN named n ON n.person = p.person
        LEFT JOIN reg r ON r.person = p.person
        LEFT JOIN home h ON h.person = p.person
        ORDER BY p.person"
    )
}

/// Typed access to one batch's columns by name.
struct Cols<'a> {
    batch: &'a RecordBatch,
    what: &'static str,
}

impl Cols<'_> {
    fn column(&self, name: &str) -> Result<&ArrayRef, QueryError> {
        self.batch
            .column_by_name(name)
            .ok_or_else(|| QueryError::Execution(format!("{} SQL: no column {name}", self.what)))
    }

    fn bad(&self, name: &str) -> QueryError {
        QueryError::Execution(format!("{} SQL: column {name} has a wrong type", self.what))
    }

    fn ints(&self, name: &str) -> Result<Vec<Option<i64>>, QueryError> {
        let c = self.column(name)?;
        let c = arrow::compute::cast(c, &DataType::Int64).map_err(|_| self.bad(name))?;
        Ok(c.as_primitive::<Int64Type>().iter().collect())
    }

    fn texts(&self, name: &str) -> Result<Vec<Option<String>>, QueryError> {
        let c = self.column(name)?;
        let c = arrow::compute::cast(c, &DataType::Utf8).map_err(|_| self.bad(name))?;
        Ok(c.as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect())
    }

    fn count(&self, v: Option<i64>, name: &str) -> Result<u32, QueryError> {
        v.and_then(|n| u32::try_from(n).ok())
            .ok_or_else(|| self.bad(name))
    }

    fn region(&self, v: Option<&str>, name: &str) -> Result<Region, QueryError> {
        v.and_then(|s| s.parse().ok()).ok_or_else(|| self.bad(name))
    }

    fn day(&self, v: Option<i64>, name: &str) -> Result<Date, QueryError> {
        v.and_then(|d| i32::try_from(d).ok())
            .map(Date)
            .ok_or_else(|| self.bad(name))
    }
}

/// The rows of one batch of [`inflow_sql`]'s answer.
pub fn inflow_rows_of(batch: &RecordBatch) -> Result<Vec<SqlInflowRow>, QueryError> {
    let c = Cols {
        batch,
        what: "inflow",
    };
    let (region, day) = (c.texts("region")?, c.ints("day")?);
    let (arrivals, high_risk) = (c.ints("arrivals")?, c.ints("from_high_risk")?);
    let kinds: Vec<Vec<Option<i64>>> = (0..INFLOW_KINDS)
        .map(|k| c.ints(&format!("k{k}")))
        .collect::<Result<_, _>>()?;
    let risks: Vec<Vec<Option<i64>>> = ["risk_high", "risk_medium", "risk_low", "risk_none"]
        .iter()
        .map(|r| c.ints(r))
        .collect::<Result<_, _>>()?;
    let top = c.texts("top_origins")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let mut by_kind = [0; INFLOW_KINDS];
        for (k, n) in by_kind.iter_mut().enumerate() {
            *n = c.count(kinds[k][i], "by_kind")?;
        }
        let mut by_origin_risk = [0; 4];
        for (r, n) in by_origin_risk.iter_mut().enumerate() {
            *n = c.count(risks[r][i], "by_origin_risk")?;
        }
        let mut top_origins = Vec::new();
        for item in top[i].as_deref().unwrap_or("").split(';') {
            if item.is_empty() {
                continue;
            }
            let (o, n) = item.split_once(':').ok_or_else(|| c.bad("top"))?;
            let n = n.parse::<u32>().map_err(|_| c.bad("top"))?;
            top_origins.push((c.region(Some(o), "top")?, n));
        }
        out.push(SqlInflowRow {
            region: c.region(region[i].as_deref(), "region")?,
            date: c.day(day[i], "day")?,
            arrivals: c.count(arrivals[i], "arrivals")?,
            from_high_risk: c.count(high_risk[i], "from_high_risk")?,
            by_kind,
            by_origin_risk,
            top_origins,
        });
    }
    Ok(out)
}

/// The rows of one batch of [`exposed_sql`]'s answer.
pub fn exposed_rows_of(batch: &RecordBatch) -> Result<Vec<SqlExposed>, QueryError> {
    let c = Cols {
        batch,
        what: "exposed",
    };
    let (person, first, last) = (c.ints("person")?, c.ints("first_day")?, c.ints("last_day")?);
    let (kinds, origins) = (c.ints("kinds")?, c.texts("origins")?);
    let (region, community) = (c.texts("stay_region")?, c.texts("stay_community")?);
    let source = c.ints("source")?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        let bits = kinds[i].ok_or_else(|| c.bad("kinds"))?;
        let stay_source = match source[i] {
            Some(1) => SqlStaySource::Registration,
            Some(2) => SqlStaySource::Home,
            Some(3) => SqlStaySource::Unknown,
            _ => return Err(c.bad("source")),
        };
        out.push(SqlExposed {
            person: person[i].ok_or_else(|| c.bad("person"))?,
            first_arrival: c.day(first[i], "first_day")?,
            last_arrival: c.day(last[i], "last_day")?,
            kinds: ArrivalKind::ALL
                .into_iter()
                .filter(|k| bits >> k.index() & 1 == 1)
                .collect(),
            origins: origins[i]
                .as_deref()
                .unwrap_or("")
                .split(';')
                .filter(|o| !o.is_empty())
                .map(|o| c.region(Some(o), "origins"))
                .collect::<Result<_, _>>()?,
            stay_region: match &region[i] {
                None => None,
                Some(r) => Some(c.region(Some(r), "stay_region")?),
            },
            stay_community: community[i].clone(),
            stay_source,
        });
    }
    Ok(out)
}

impl Query {
    /// Runs one of this module's statements to completion, batch by batch through `read`.
    async fn rows_of<T>(
        &self,
        sql: &str,
        read: fn(&RecordBatch) -> Result<Vec<T>, QueryError>,
    ) -> Result<Vec<T>, QueryError> {
        let df = self
            .ctx
            .sql_with_options(sql, Self::options())
            .await
            .map_err(planning)?;
        let mut stream = df.execute_stream().await.map_err(execution)?;
        let mut out = Vec::new();
        while let Some(b) = stream.next().await {
            out.extend(read(&b.map_err(execution)?)?);
        }
        Ok(out)
    }

    /// Daily inflow ([`inflow_sql`]) on this session, a cluster's too: rows by region, then
    /// date. The statement is the crate's own, so the bounds on statements from outside do not
    /// apply; it runs read-only all the same.
    pub async fn inflow_rows(
        &self,
        level: Level,
        first: Date,
        last: Date,
        zone: Zone,
        top: usize,
    ) -> Result<Vec<SqlInflowRow>, QueryError> {
        if first > last {
            return Err(QueryError::Sql(format!(
                "the period starts on {first}, after its last day {last}"
            )));
        }
        self.rows_of(
            &inflow_sql(level, first, last, zone, top, &self.unstored),
            inflow_rows_of,
        )
        .await
    }

    /// The exposed list ([`exposed_sql`]) on this session: one row per person, by pseudonym.
    pub async fn exposed_rows(
        &self,
        origin: Region,
        first: Date,
        last: Date,
        zone: Zone,
    ) -> Result<Vec<SqlExposed>, QueryError> {
        if first > last {
            return Err(QueryError::Sql(format!(
                "the period starts on {first}, after its last day {last}"
            )));
        }
        self.rows_of(
            &exposed_sql(origin, first, last, zone, &self.unstored),
            exposed_rows_of,
        )
        .await
    }
}
