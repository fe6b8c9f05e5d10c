//! `trace --all` as one SQL statement over the stored tables: contract section 2 (who is a
//! case, their infectious window) and section 3 (close contacts of degree 1 and 2, first and
//! last exposure, quarantine end, evidence kinds), giving the trace index's rows exactly.
//!
//! A plain statement with its constants written in, so it can be shipped as text to another
//! DataFusion (a Ballista cluster) that has the same tables registered. It answers in
//! pseudonyms and epoch milliseconds; revealing ids and formatting times is the caller's.
//!
//! Where the index's reading of the contract is a choice, the statement makes the same one:
//! a seat's row is its first nine leading ASCII digits (`trace::rules::seat_row`); an empty
//! car, seat, diagnosis or household counts as absent; a checkpoint pass is shared by all its
//! occupants whatever their own rows' times (the interval spans the two times); of a degree-2
//! contact's routes, `via` names the degree-1 contact with the earliest clipped exposure,
//! ties to the smaller pseudonym (the index visits contacts in pseudonym order and replaces
//! only on a strictly earlier one).

use arrow::array::{Array, AsArray, RecordBatch};
use arrow::datatypes::{Int32Type, Int64Type};
use datafusion::execution::SendableRecordBatchStream;
use futures_util::StreamExt;
use model::{Date, Kind, Zone};

use crate::{Query, QueryError, execution, planning, union_of_stored};

const DAY_MS: i64 = 86_400_000;
/// Stays must overlap this long (`trace::rules::VENUE_MIN_OVERLAP_MS`).
const VENUE_MIN_MS: i64 = 15 * 60_000;
/// A check-in without `time_out` lasts this long (`trace::rules::VENUE_DEFAULT_STAY_MS`).
const NO_OUT_MS: i64 = 60 * 60_000;
/// Flight contacts sit within this many rows (`trace::rules::FLIGHT_ROW_SPAN`).
const ROW_SPAN: i32 = 3;
/// Quarantine ends this many days after the last exposure (`trace::rules::QUARANTINE_DAYS`).
const QUARANTINE_DAYS: i32 = 14;

/// Evidence kinds as bits, in the alphabetical order of their names, so listing the set bits
/// from the lowest gives the contract's sorted list (and `bit_or` is cheaper than a distinct
/// string aggregate).
const KINDS: [&str; 7] = [
    "coach",
    "flight",
    "household",
    "rail",
    "ship",
    "vehicle",
    "venue",
];

fn bit(kind: &str) -> u32 {
    1 << KINDS.iter().position(|k| *k == kind).expect("a kind")
}

/// The output columns, in order: pseudonyms (`case_id`, `person_id`, `via`), `degree` (1 or
/// 2), `is_case`, exposures in epoch milliseconds, `quarantine_until` in days since
/// 1970-01-01, `evidence` the kinds `;`-joined. Rows ordered by `(case_id, person_id)`.
pub const TRACE_COLUMNS: [&str; 9] = [
    "case_id",
    "person_id",
    "degree",
    "via",
    "is_case",
    "first_exposure_ms",
    "last_exposure_ms",
    "quarantine_until_day",
    "evidence",
];

/// The calendar day (days since 1970-01-01) of an epoch-millisecond expression in a zone of
/// `offset` milliseconds: floor division, written out since `/` truncates toward zero.
pub(crate) fn zone_day(ms: &str, offset: i64) -> String {
    let local = format!("({ms} + {offset})");
    format!("(({local} - ((({local} % {DAY_MS}) + {DAY_MS}) % {DAY_MS})) / {DAY_MS})")
}

/// Every shared interval of an anchor person with another, clipped to the anchor's window:
/// `(case_id, anchor, person_id, kind, s, e)`. `anchors` names a relation of
/// `(case_id, anchor, wfrom, wto)`: each case itself at degree 1, each degree-1 contact (with
/// the window from its first exposure to the as-of) at degree 2.
///
/// Stays are expanded to one row per zone day they touch (`offset`: the zone's, in
/// milliseconds) after they are narrowed to the anchors' own and to the stays at the venues
/// those are at: two overlapping stays share the day of the later start, so joining on (venue,
/// day) finds every overlapping pair (some twice, which the aggregates absorb) without pairing
/// each stay with every other of its venue.
///
/// Only the branches over kinds something is stored of (`unstored` lists the others; see
/// [`union_of_stored`]).
fn shared(anchors: &str, offset: i64, unstored: &[Kind]) -> String {
    let first_day = zone_day("s.t0", offset);
    let last_day = zone_day("s.t1", offset);
    let (vehicle, venue, household) = (bit("vehicle"), bit("venue"), bit("household"));
    let modes = ["rail", "flight", "coach", "ship"]
        .iter()
        .map(|m| format!("WHEN '{m}' THEN {}", bit(m)))
        .collect::<Vec<_>>()
        .join(" ");
    let rides = format!(
        "
        SELECT x.case_id, x.anchor, x.wfrom, x.wto, o.person_id,
               CASE a.mode {modes} END AS kind,
               greatest(a.t0, o.t0) AS s, least(a.t1, o.t1) AS e
        FROM {anchors} x
        JOIN rides a ON a.person_id = x.anchor AND a.t1 >= x.wfrom AND a.t0 <= x.wto
        JOIN rides o ON o.mode = a.mode AND o.service_no = a.service_no
                    AND o.service_date = a.service_date
        WHERE CASE a.mode
              WHEN 'rail' THEN a.car IS NULL OR o.car IS NULL OR a.car = o.car
              WHEN 'flight' THEN a.seat_row IS NULL OR o.seat_row IS NULL
                                 OR abs(a.seat_row - o.seat_row) <= {ROW_SPAN}
              ELSE true END"
    );
    let passes = format!(
        "
        SELECT x.case_id, x.anchor, x.wfrom, x.wto, o.person_id, {vehicle} AS kind,
               least(a.t, o.t) AS s, greatest(a.t, o.t) AS e
        FROM {anchors} x
        JOIN passes a ON a.person_id = x.anchor
        JOIN passes o ON o.pass_id = a.pass_id"
    );
    let venues = format!(
        "
        SELECT a.case_id, a.anchor, a.wfrom, a.wto, o.person_id, {venue} AS kind,
               greatest(a.t0, o.t0) AS s, least(a.t1, o.t1) AS e
        FROM (
            SELECT x.case_id, x.anchor, x.wfrom, x.wto, s.venue_id, s.t0, s.t1,
                   unnest(range({first_day}, {last_day} + 1)) AS day
            FROM {anchors} x
            JOIN stays s ON s.person_id = x.anchor AND s.t1 >= x.wfrom AND s.t0 <= x.wto) a
        JOIN (
            SELECT s.person_id, s.venue_id, s.t0, s.t1,
                   unnest(range({first_day}, {last_day} + 1)) AS day
            FROM stays s
            WHERE s.venue_id IN (
                SELECT v.venue_id FROM {anchors} y
                JOIN stays v ON v.person_id = y.anchor AND v.t1 >= y.wfrom AND v.t0 <= y.wto)) o
          ON o.venue_id = a.venue_id AND o.day = a.day
        WHERE least(a.t1, o.t1) - greatest(a.t0, o.t0) >= {VENUE_MIN_MS}"
    );
    let households = format!(
        "
        SELECT x.case_id, x.anchor, x.wfrom, x.wto, o.person_id, {household} AS kind,
               x.wfrom AS s, x.wto AS e
        FROM {anchors} x
        JOIN households a ON a.person_id = x.anchor
        JOIN households o ON o.household_id = a.household_id"
    );
    union_of_stored(
        &[
            (Kind::Travel, rides),
            (Kind::Checkpoint, passes),
            (Kind::Checkins, venues),
            (Kind::Persons, households),
        ],
        unstored,
    )
}

/// The statement answering `trace --all --as-of AS_OF --depth DEPTH` (1 or 2) in `zone`; see
/// [`TRACE_COLUMNS`] for what it returns. `unstored`: the kinds nothing is stored of, whose
/// branches are left out (the same answer; see [`union_of_stored`]).
pub fn trace_all_sql(as_of: i64, zone: Zone, depth: u8, unstored: &[Kind]) -> String {
    let z = i64::from(zone.offset_secs()) * 1000;
    let day = |ms: &str| zone_day(ms, z);
    let order = "ORDER BY reported_ms, sample_ms, _rid";
    let evidence = KINDS
        .iter()
        .map(|k| format!("CASE WHEN (k.kinds & {}) <> 0 THEN '{k}' END", bit(k)))
        .collect::<Vec<_>>()
        .join(", ");
    let onset = format!(
        "coalesce(o.onset_day, {}, {})",
        day("o.positive_ms"),
        day("m.made_sample_ms")
    );
    let shared1 = shared("anchors1", z, unstored);
    // Degree 2: each degree-1 contact traced over [its first exposure, as-of]; the case and
    // its degree-1 contacts are not degree 2 (each person once, at the lowest degree).
    let second = if depth >= 2 {
        let shared2 = shared("anchors2", z, unstored);
        format!(
            ",
        anchors2 AS (
            SELECT case_id, person_id AS anchor, first_ms AS wfrom, CAST({as_of} AS BIGINT) AS wto
            FROM c1),
        shared2 AS ({shared2}),
        hits2 AS (
            SELECT h.case_id, h.anchor, h.person_id, h.kind,
                   greatest(h.s, h.wfrom) AS s, least(h.e, h.wto) AS e
            FROM shared2 h
            LEFT JOIN c1 d ON d.case_id = h.case_id AND d.person_id = h.person_id
            WHERE h.person_id <> h.anchor AND h.person_id <> h.case_id AND d.person_id IS NULL
              AND greatest(h.s, h.wfrom) <= least(h.e, h.wto)),
        c2 AS (
            SELECT case_id, person_id, min(s) AS first_ms, max(e) AS last_ms,
                   bit_or(kind) AS kinds, first_value(anchor ORDER BY s, anchor) AS via
            FROM hits2 GROUP BY case_id, person_id)"
        )
    } else {
        String::new()
    };
    let contacts = if depth >= 2 {
        "SELECT case_id, person_id, 1 AS degree, case_id AS via, first_ms, last_ms, kinds FROM c1
         UNION ALL
         SELECT case_id, person_id, 2 AS degree, via, first_ms, last_ms, kinds FROM c2"
    } else {
        "SELECT case_id, person_id, 1 AS degree, case_id AS via, first_ms, last_ms, kinds FROM c1"
    };
    format!(
        "
        WITH
        lab AS (
            SELECT person_id, CAST(sample_time AS BIGINT) AS sample_ms, result,
                   CASE WHEN diagnosis = '' THEN NULL ELSE diagnosis END AS diagnosis,
                   CAST(CAST(onset_date AS INT) AS BIGINT) AS onset_day,
                   CAST(reported_time AS BIGINT) AS reported_ms, _rid
            FROM lab_results
            WHERE CAST(reported_time AS BIGINT) <= {as_of}),
        -- A status of confirmed or asymptomatic is entered only by a row of that diagnosis, and
        -- nothing leaves 'has been': the first such row in report order makes the case.
        made AS (
            SELECT person_id AS case_id,
                   first_value(reported_ms {order}) AS report_ms,
                   first_value(sample_ms {order}) AS made_sample_ms
            FROM lab WHERE diagnosis IN ('confirmed', 'asymptomatic')
            GROUP BY person_id),
        onsets AS (
            SELECT person_id,
                   first_value(onset_day ORDER BY onset_day IS NULL, reported_ms, sample_ms, _rid)
                       AS onset_day,
                   min(CASE WHEN result = 'positive' THEN sample_ms END) AS positive_ms
            FROM lab GROUP BY person_id),
        cases AS (
            SELECT m.case_id, m.report_ms AS wto, ({onset} - 2) * {DAY_MS} - ({z}) AS wfrom
            FROM made m JOIN onsets o ON o.person_id = m.case_id),
        rides AS (
            SELECT person_id, mode, service_no, service_date,
                   CASE WHEN car = '' THEN NULL ELSE car END AS car,
                   CAST(substr(regexp_match(seat, '^[0-9]+')[1], 1, 9) AS BIGINT) AS seat_row,
                   CAST(depart_time AS BIGINT) AS t0, CAST(arrive_time AS BIGINT) AS t1
            FROM travel),
        passes AS (
            SELECT pass_id, person_id, CAST(\"time\" AS BIGINT) AS t FROM checkpoint),
        stays AS (
            SELECT person_id, venue_id, CAST(time_in AS BIGINT) AS t0,
                   coalesce(CAST(time_out AS BIGINT), CAST(time_in AS BIGINT) + {NO_OUT_MS}) AS t1
            FROM checkins),
        households AS (
            SELECT person_id, household_id FROM persons
            WHERE household_id IS NOT NULL AND household_id <> ''),
        anchors1 AS (SELECT case_id, case_id AS anchor, wfrom, wto FROM cases),
        shared1 AS ({shared1}),
        hits1 AS (
            SELECT case_id, person_id, kind, greatest(s, wfrom) AS s, least(e, wto) AS e
            FROM shared1
            WHERE person_id <> anchor AND greatest(s, wfrom) <= least(e, wto)),
        c1 AS (
            SELECT case_id, person_id, min(s) AS first_ms, max(e) AS last_ms,
                   bit_or(kind) AS kinds
            FROM hits1 GROUP BY case_id, person_id){second}
        SELECT k.case_id, k.person_id, CAST(k.degree AS INT) AS degree,
               CAST(k.via AS BIGINT) AS via, a.case_id IS NOT NULL AS is_case,
               k.first_ms AS first_exposure_ms, k.last_ms AS last_exposure_ms,
               CAST({until} + {QUARANTINE_DAYS} AS INT) AS quarantine_until_day,
               concat_ws(';', {evidence}) AS evidence
        FROM ({contacts}) k
        LEFT JOIN made a ON a.case_id = k.person_id
        ORDER BY k.case_id, k.person_id",
        until = day("k.last_ms"),
    )
}

/// The statement listing every case as of `as_of` (`case_id`, pseudonyms in order): the
/// cases [`trace_all_sql`] traces, those without contacts too.
pub fn cases_sql(as_of: i64) -> String {
    format!(
        "SELECT DISTINCT person_id AS case_id FROM lab_results
         WHERE CAST(reported_time AS BIGINT) <= {as_of}
           AND diagnosis IN ('confirmed', 'asymptomatic')
         ORDER BY case_id"
    )
}

/// One row of [`trace_all_sql`]'s answer.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct SqlContact {
    pub case: i64,
    pub person: i64,
    pub degree: u8,
    /// The case (degree 1), or the degree-1 contact they were exposed to.
    pub via: i64,
    pub is_case: bool,
    pub first_exposure: i64,
    pub last_exposure: i64,
    pub quarantine_until: Date,
    /// The evidence kinds, distinct, sorted, `;`-separated.
    pub evidence: String,
}

/// The rows of one batch of [`trace_all_sql`]'s answer.
pub fn contacts_of(batch: &RecordBatch) -> Result<Vec<SqlContact>, QueryError> {
    let col = |name: &str| {
        batch
            .column_by_name(name)
            .ok_or_else(|| QueryError::Execution(format!("trace SQL: no column {name}")))
    };
    let bad =
        |name: &str| QueryError::Execution(format!("trace SQL: column {name} has a wrong type"));
    let int64 = |name: &str| {
        col(name)?
            .as_primitive_opt::<Int64Type>()
            .ok_or_else(|| bad(name))
    };
    let int32 = |name: &str| {
        col(name)?
            .as_primitive_opt::<Int32Type>()
            .ok_or_else(|| bad(name))
    };
    let (case, person, via) = (int64("case_id")?, int64("person_id")?, int64("via")?);
    let (first, last) = (int64("first_exposure_ms")?, int64("last_exposure_ms")?);
    let (degree, until) = (int32("degree")?, int32("quarantine_until_day")?);
    let is_case = col("is_case")?
        .as_boolean_opt()
        .ok_or_else(|| bad("is_case"))?;
    let evidence = col("evidence")?
        .as_string_opt::<i32>()
        .ok_or_else(|| bad("evidence"))?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for i in 0..batch.num_rows() {
        out.push(SqlContact {
            case: case.value(i),
            person: person.value(i),
            degree: u8::try_from(degree.value(i)).map_err(|_| bad("degree"))?,
            via: via.value(i),
            is_case: is_case.is_valid(i) && is_case.value(i),
            first_exposure: first.value(i),
            last_exposure: last.value(i),
            quarantine_until: Date(until.value(i)),
            evidence: evidence.value(i).to_string(),
        });
    }
    Ok(out)
}

impl Query {
    /// Runs [`trace_all_sql`] on this session: every case's contacts as of `as_of` to `depth`
    /// 1 or 2, as a stream of batches of [`TRACE_COLUMNS`]. The statement is the crate's own,
    /// so the bounds on statements from outside do not apply; it runs read-only all the same.
    pub async fn trace_all(
        &self,
        as_of: i64,
        zone: Zone,
        depth: u8,
    ) -> Result<SendableRecordBatchStream, QueryError> {
        if !(1..=2).contains(&depth) {
            return Err(QueryError::Sql("depth is 1 or 2".into()));
        }
        let sql = trace_all_sql(as_of, zone, depth, &self.unstored);
        let df = self
            .ctx
            .sql_with_options(&sql, Self::options())
            .await
            .map_err(planning)?;
        df.execute_stream().await.map_err(execution)
    }

    /// Every case as of `as_of`, in pseudonym order ([`cases_sql`]).
    pub async fn trace_cases(&self, as_of: i64) -> Result<Vec<i64>, QueryError> {
        let df = self
            .ctx
            .sql_with_options(&cases_sql(as_of), Self::options())
            .await
            .map_err(planning)?;
        let mut out = Vec::new();
        for b in df.collect().await.map_err(execution)? {
            let ids = b
                .column(0)
                .as_primitive_opt::<Int64Type>()
                .ok_or_else(|| QueryError::Execution("trace SQL: case_id is not Int64".into()))?;
            out.extend(ids.iter().flatten());
        }
        Ok(out)
    }

    /// [`Query::trace_all`] collected into rows, in `(case, person)` pseudonym order.
    pub async fn trace_all_rows(
        &self,
        as_of: i64,
        zone: Zone,
        depth: u8,
    ) -> Result<Vec<SqlContact>, QueryError> {
        let mut stream = self.trace_all(as_of, zone, depth).await?;
        let mut out = Vec::new();
        while let Some(b) = stream.next().await {
            out.extend(contacts_of(&b.map_err(execution)?)?);
        }
        Ok(out)
    }
}
