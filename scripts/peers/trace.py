"""Peer timing for contact tracing: the contract's case status (section 2) and degree-1 close
contacts (section 3) written as set-based queries in DuckDB SQL and in the Polars lazy API, run
over fangyi's stored Parquet files, to compare with fangyi's own indexed engine.

Usage:
  python3 trace.py (--files FILES.json | --data DIR) --as-of-ms MS --out OUTDIR
                   [--cases CASES.txt] [--single N] [--engines duckdb,polars] [--threads T]
                   [--repeat R] [--zone +08:00]
  python3 trace.py --self-test

FILES.json is {"travel": [...], "checkpoint": [...], "checkins": [...], "persons": [...],
"lab_results": [...]} (Parquet paths; a list may be empty). --data reads the same lists, and the
deployment zone, from DIR/manifest.json.

Per engine, stdout gets one line per measurement:
  <engine> bulk <seconds> <rows>           every case's contacts; includes reading the Parquet
                                           files (DuckDB read_parquet, Polars scan_parquet) and
                                           registering them, not importing the module; the best
                                           of --repeat runs (default 1); OUTDIR/<engine>-bulk.csv
                                           is written after the clock stops
  <engine> single <p50_ms> <p99_ms> <n>    one case per query, for the first N (default 1000)
                                           ids of CASES.txt; only the views / lazy frames over
                                           the files exist beforehand, every query reads Parquet
Percentiles are nearest-rank. Diagnostics, and the cross-checks (single answers equal the bulk
rows of that case; both engines' CSVs are byte-identical), go to stderr. --self-test builds tiny
hand-made Parquet files covering each rule and checks both engines against hand-worked answers.

CSV columns: case_id,person_id,is_case,first_exposure_ms,last_exposure_ms,quarantine_until,
evidence; ids are the stored Int64 pseudonyms, times epoch milliseconds, quarantine_until
YYYY-MM-DD, evidence the distinct kinds (rail flight coach ship vehicle venue household) sorted
and ';'-joined; rows sorted by (case_id, person_id).

Rule interpretations (the contract's sections 2 and 3; where it leaves room, the choice made):
- Everything is computed on epoch milliseconds. A calendar date of an instant is the date in the
  deployment zone, a fixed offset (default +08:00): floor((ms + offset) / 1 day). Midnight of a
  date D is D * 1 day - offset.
- Case status: only lab_results rows with reported_time <= as-of count, ordered by
  (reported_time, sample_time, _rid). The status machine is never run row by row: confirmed or
  asymptomatic can only be entered through "a non-empty diagnosis sets the status" (the other two
  transitions only move between none and suspected), and every row whose diagnosis is confirmed
  or asymptomatic sets the status to one of them whatever the status was and whatever its result
  is. So a person is a case exactly when such a row exists, and the case-making row is the first
  of them in that order. Later rows (recovered, negative) do not undo it ("has been"). An empty
  diagnosis string counts as absent.
- Onset: the first non-null onset_date among all of the person's rows <= as-of, in that order,
  including rows reported after the case-making row; else the zone date of the smallest
  sample_time among those rows with result positive (the earliest sample, not the first in
  report order); else the zone date of the case-making row's sample_time.
- Window: [midnight of (onset - 2 days), case report time], closed. A window that starts after
  it ends (an onset recorded after the report) is empty: that case has no contacts.
- A shared interval [s, e] counts when max(s, wfrom) <= min(e, wto) (closed intervals, touching
  counts; this also implies s <= e, i.e. that rides or stays overlap at all). Only intervals that
  count give evidence; first_exposure = min of max(s, wfrom), last_exposure = max of min(e, wto)
  over them; quarantine_until = zone date of last_exposure + 14 days.
- rail / flight / coach / ship: the two travel rows must have the same mode, service_no and
  service_date; shared interval = [max(depart), min(arrive)]. Flights, too, must overlap in time:
  two legs of one flight number that do not overlap share no interval. rail: same car, or a null
  or empty car on either side. flight: seat row = the seat's leading ASCII digits as an integer
  ("012C" -> 12); a null seat, one without leading digits (or with too many digits to fit in
  Int64) matches any seat; otherwise |row_a - row_b| <= 3. Car and seat are ignored for the
  other modes. Travel rows with a mode outside the four are ignored (ingest rejects them).
- vehicle: same checkpoint pass_id; the interval is the pass time. Occupant rows of one pass
  should carry one time; if the case's row and the contact's row disagree, the interval spans
  both times [min, max].
- venue: same venue_id; a null time_out means time_in + 60 min; the stays' overlap
  min(out) - max(in) must be >= 15 min (on the overlap itself, before clipping to the window);
  shared interval = [max(in), min(out)].
- household: same household_id, non-null and non-empty, in any persons row (a person listed in
  two households by different sources belongs to both); the interval is the whole window.
- Records other than lab_results are not filtered by as-of: a shared interval that counts starts
  no later than the report time, which is <= as-of.
- The case is never its own contact (its own overlapping check-ins, rides in one car, etc. are
  dropped). is_case: the contact is itself a case as of the as-of (same rule as above).
"""
import argparse
import json
import math
import os
import sys
import tempfile
import time

DAY_MS = 86_400_000
VENUE_MIN_MS = 15 * 60_000  # minimum overlap of two stays
NO_OUT_MS = 60 * 60_000  # a stay without time_out lasts this long
QUARANTINE_DAYS = 14
CASE_DIAGNOSES = ("confirmed", "asymptomatic")
KINDS = ("travel", "checkpoint", "checkins", "persons", "lab_results")
MODES = ("rail", "flight", "coach", "ship")
# Evidence kinds are aggregated as a bit mask (cheaper than a distinct string aggregate); bits
# in alphabetical order, so listing the set bits from the lowest gives the sorted list.
EVIDENCE_BITS = {kind: 1 << i for i, kind in enumerate(
    sorted(MODES + ("vehicle", "venue", "household")))}
COLUMNS = [
    "case_id", "person_id", "is_case", "first_exposure_ms", "last_exposure_ms",
    "quarantine_until", "evidence",
]

# The stored columns each engine reads, with their types (for empty file lists).
RAW = {
    "travel": {
        "person_id": "int64", "mode": "str", "service_no": "str", "service_date": "date",
        "car": "str", "seat": "str", "depart_time": "ts", "arrive_time": "ts",
    },
    "checkpoint": {"pass_id": "str", "person_id": "int64", "time": "ts"},
    "checkins": {"person_id": "int64", "venue_id": "str", "time_in": "ts", "time_out": "ts"},
    "persons": {"person_id": "int64", "household_id": "str"},
    "lab_results": {
        "person_id": "int64", "sample_time": "ts", "result": "str", "diagnosis": "str",
        "onset_date": "date", "reported_time": "ts", "_rid": "int64",
    },
}


def log(*args) -> None:
    print(*args, file=sys.stderr, flush=True)


def zone_offset_ms(zone: str) -> int:
    """'+08:00' / '-05:30' / 'Z' -> milliseconds east of UTC."""
    if zone in ("Z", "+00:00", "-00:00"):
        return 0
    sign = -1 if zone[0] == "-" else 1
    hours, minutes = zone[1:].split(":")
    return sign * (int(hours) * 3_600_000 + int(minutes) * 60_000)


def files_from_data_dir(data_dir: str) -> tuple[dict, str]:
    """The Parquet files of each kind, and the deployment zone, from a fangyi data dir."""
    with open(os.path.join(data_dir, "manifest.json")) as f:
        manifest = json.load(f)
    files = {kind: [] for kind in KINDS}
    for source in manifest["sources"]:
        if source["kind"] in files:
            files[source["kind"]] += [os.path.join(data_dir, sf["path"]) for sf in source["files"]]
    return files, manifest.get("zone", "+08:00")


def nearest_rank(sorted_values: list, q: float) -> float:
    return sorted_values[max(0, math.ceil(q * len(sorted_values)) - 1)]


# --------------------------------------------------------------------------------------------
# DuckDB


class DuckDBPeer:
    @staticmethod
    def load() -> None:
        import duckdb  # noqa: F401  (imported before the clock starts)

    def __init__(self, files: dict, zone_ms: int, threads: int | None):
        import duckdb

        config = {"threads": threads} if threads else {}
        self.con = duckdb.connect(config=config)
        self.zone_ms = zone_ms
        # Zone date (days since 1970-01-01) of an epoch-ms instant; exact floor division, as
        # DuckDB's // truncates toward zero.
        local = f"(ms + {zone_ms})"
        self.con.execute(
            f"CREATE MACRO zone_day(ms) AS "
            f"({local} - (({local} % {DAY_MS}) + {DAY_MS}) % {DAY_MS}) // {DAY_MS}"
        )
        src = {kind: self._source(kind, paths) for kind, paths in files.items()}
        # Lazy views: every query reads the Parquet files again.
        self.con.execute(f"""
            CREATE VIEW lab AS
            SELECT person_id, epoch_ms(sample_time) AS sample_ms, result,
                   NULLIF(diagnosis, '') AS diagnosis,
                   onset_date - DATE '1970-01-01' AS onset_day,
                   epoch_ms(reported_time) AS reported_ms, _rid
            FROM {src['lab_results']}""")
        self.con.execute(f"""
            CREATE VIEW rides AS
            SELECT person_id, mode, service_no, service_date, NULLIF(car, '') AS car,
                   TRY_CAST(regexp_extract(seat, '^[0-9]+') AS BIGINT) AS seat_row,
                   epoch_ms(depart_time) AS t0, epoch_ms(arrive_time) AS t1
            FROM {src['travel']} WHERE mode IN {MODES}""")
        self.con.execute(f"""
            CREATE VIEW passes AS
            SELECT pass_id, person_id, epoch_ms("time") AS t FROM {src['checkpoint']}""")
        self.con.execute(f"""
            CREATE VIEW stays AS
            SELECT person_id, venue_id, epoch_ms(time_in) AS t0,
                   coalesce(epoch_ms(time_out), epoch_ms(time_in) + {NO_OUT_MS}) AS t1
            FROM {src['checkins']}""")
        # For the bulk query, a stay once per zone day it touches. Two overlapping stays share
        # the day of the later start, so joining on (venue_id, day) finds every overlapping pair
        # (some twice, which the min / max / bit_or aggregates absorb) without pairing every
        # stay of a busy venue with every other one over the whole period.
        self.con.execute("""
            CREATE VIEW stay_days AS
            SELECT *, unnest(range(zone_day(t0), zone_day(t1) + 1)) AS day FROM stays""")
        self.con.execute(f"""
            CREATE VIEW households AS
            SELECT person_id, household_id FROM {src['persons']} WHERE household_id <> ''""")

    @staticmethod
    def _source(kind: str, paths: list) -> str:
        if paths:
            quoted = ", ".join("'" + p.replace("'", "''") + "'" for p in paths)
            return f"read_parquet([{quoted}])"
        types = {"int64": "BIGINT", "str": "VARCHAR", "date": "DATE", "ts": "TIMESTAMPTZ"}
        cols = ", ".join(f'NULL::{types[t]} AS "{c}"' for c, t in RAW[kind].items())
        return f"(SELECT {cols} LIMIT 0)"

    def _sql(self, one_case: bool) -> str:
        case_filter = "AND person_id = $case_id" if one_case else ""
        # One case has a handful of stays: a plain venue_id join is small, and expanding every
        # stay into days would cost more than it saves.
        stays, same_day = ("stays", "") if one_case else ("stay_days", "AND o.day = a.day")
        mode_bit = " ".join(f"WHEN '{m}' THEN {EVIDENCE_BITS[m]}" for m in MODES)
        evidence = ", ".join(
            f"CASE WHEN (kinds & {b}) <> 0 THEN '{kind}' END" for kind, b in EVIDENCE_BITS.items()
        )
        diagnoses = ", ".join(f"'{d}'" for d in CASE_DIAGNOSES)
        order = "ORDER BY reported_ms, sample_ms, _rid"
        return f"""
        WITH
        case_lab AS (SELECT * FROM lab WHERE reported_ms <= $as_of {case_filter}),
        -- the first row that made each person a case (see the module docstring)
        made AS (
            SELECT person_id AS case_id,
                   first(reported_ms {order}) AS report_ms,
                   first(sample_ms {order}) AS made_sample_ms
            FROM case_lab WHERE diagnosis IN ({diagnoses})
            GROUP BY person_id),
        onsets AS (
            SELECT person_id,
                   first(onset_day {order}) FILTER (WHERE onset_day IS NOT NULL) AS onset_day,
                   min(sample_ms) FILTER (WHERE result = 'positive') AS positive_ms
            FROM case_lab GROUP BY person_id),
        cases AS (
            SELECT m.case_id, m.report_ms AS wto,
                   (coalesce(o.onset_day, zone_day(o.positive_ms), zone_day(m.made_sample_ms)) - 2)
                       * {DAY_MS} - {self.zone_ms} AS wfrom
            FROM made m JOIN onsets o ON o.person_id = m.case_id),
        -- The cases' own rides, passes and stays that touch their window (a shared interval
        -- lies inside the case's own one, so the others cannot count).
        own_rides AS MATERIALIZED (
            SELECT c.case_id, c.wfrom, c.wto, a.* FROM cases c
            JOIN rides a ON a.person_id = c.case_id AND a.t1 >= c.wfrom AND a.t0 <= c.wto),
        own_passes AS MATERIALIZED (
            SELECT c.case_id, c.wfrom, c.wto, a.* FROM cases c
            JOIN passes a ON a.person_id = c.case_id AND a.t >= c.wfrom AND a.t <= c.wto),
        own_stays AS MATERIALIZED (
            SELECT c.case_id, c.wfrom, c.wto, a.* FROM cases c
            JOIN {stays} a ON a.person_id = c.case_id AND a.t1 >= c.wfrom AND a.t0 <= c.wto),
        -- every shared interval [s, e] of a case with another person, by kind
        shared AS (
            SELECT a.case_id, a.wfrom, a.wto, o.person_id, CASE a.mode {mode_bit} END AS kind,
                   greatest(a.t0, o.t0) AS s, least(a.t1, o.t1) AS e
            FROM own_rides a
            JOIN rides o ON o.mode = a.mode AND o.service_no = a.service_no
                        AND o.service_date = a.service_date
            WHERE CASE a.mode
                WHEN 'rail' THEN a.car IS NULL OR o.car IS NULL OR a.car = o.car
                WHEN 'flight' THEN a.seat_row IS NULL OR o.seat_row IS NULL
                                   OR abs(a.seat_row - o.seat_row) <= 3
                ELSE true END
            UNION ALL
            SELECT a.case_id, a.wfrom, a.wto, o.person_id, {EVIDENCE_BITS['vehicle']},
                   least(a.t, o.t), greatest(a.t, o.t)
            FROM own_passes a JOIN passes o ON o.pass_id = a.pass_id
            UNION ALL
            SELECT a.case_id, a.wfrom, a.wto, o.person_id, {EVIDENCE_BITS['venue']},
                   greatest(a.t0, o.t0), least(a.t1, o.t1)
            FROM own_stays a JOIN {stays} o ON o.venue_id = a.venue_id {same_day}
            WHERE least(a.t1, o.t1) - greatest(a.t0, o.t0) >= {VENUE_MIN_MS}
            UNION ALL
            SELECT c.case_id, c.wfrom, c.wto, o.person_id, {EVIDENCE_BITS['household']},
                   c.wfrom, c.wto
            FROM cases c
            JOIN households a ON a.person_id = c.case_id
            JOIN households o ON o.household_id = a.household_id),
        -- clipped to the window; an interval that misses the window is dropped
        hits AS (
            SELECT case_id, person_id, kind, greatest(s, wfrom) AS s, least(e, wto) AS e
            FROM shared
            WHERE person_id <> case_id AND greatest(s, wfrom) <= least(e, wto)),
        contacts AS (
            SELECT case_id, person_id, min(s) AS first_ms, max(e) AS last_ms,
                   bit_or(kind) AS kinds
            FROM hits GROUP BY case_id, person_id),
        all_cases AS (
            SELECT DISTINCT person_id FROM lab
            WHERE reported_ms <= $as_of AND diagnosis IN ({diagnoses}))
        SELECT k.case_id, k.person_id, a.person_id IS NOT NULL AS is_case,
               k.first_ms AS first_exposure_ms, k.last_ms AS last_exposure_ms,
               DATE '1970-01-01' + CAST(zone_day(k.last_ms) + {QUARANTINE_DAYS} AS INTEGER)
                   AS quarantine_until,
               concat_ws(';', {evidence}) AS evidence
        FROM contacts k LEFT JOIN all_cases a ON a.person_id = k.person_id
        ORDER BY k.case_id, k.person_id
        """

    def _fetch(self, sql: str, params: dict):
        relation = self.con.sql(sql, params=params)
        fetch = getattr(relation, "to_arrow_table", None) or relation.arrow  # DuckDB 2 / 1.x
        return fetch()

    def bulk(self, as_of_ms: int):
        return self._fetch(self._sql(False), {"as_of": as_of_ms})

    def single(self, as_of_ms: int, case_id: int):
        return self._fetch(self._sql(True), {"as_of": as_of_ms, "case_id": case_id})


# --------------------------------------------------------------------------------------------
# Polars


class PolarsPeer:
    @staticmethod
    def load() -> None:
        import polars  # noqa: F401  (imported before the clock starts; reads POLARS_MAX_THREADS)

    def __init__(self, files: dict, zone_ms: int, threads: int | None):
        import polars as pl

        self.pl = pl
        self.zone_ms = zone_ms
        raw = {kind: self._source(kind, paths) for kind, paths in files.items()}
        ms = lambda c: pl.col(c).dt.epoch("ms")  # noqa: E731
        # Lazy frames: every collect() reads the Parquet files again.
        self.lab = raw["lab_results"].select(
            "person_id", "result", "_rid",
            ms("sample_time").alias("sample_ms"),
            pl.when(pl.col("diagnosis") != "").then(pl.col("diagnosis")).alias("diagnosis"),
            pl.col("onset_date").cast(pl.Int64).alias("onset_day"),
            ms("reported_time").alias("reported_ms"),
        )
        self.rides = raw["travel"].filter(pl.col("mode").is_in(MODES)).select(
            "person_id", "mode", "service_no", "service_date",
            pl.when(pl.col("car") != "").then(pl.col("car")).alias("car"),
            pl.col("seat").str.extract(r"^([0-9]+)", 1).cast(pl.Int64, strict=False)
            .alias("seat_row"),
            ms("depart_time").alias("t0"), ms("arrive_time").alias("t1"),
        )
        self.passes = raw["checkpoint"].select("pass_id", "person_id", ms("time").alias("t"))
        self.stays = raw["checkins"].select(
            "person_id", "venue_id", ms("time_in").alias("t0"),
            pl.coalesce(ms("time_out"), ms("time_in") + NO_OUT_MS).alias("t1"),
        )
        # for the bulk plan: a stay once per zone day it touches (see DuckDBPeer)
        self.stay_days = self.stays.with_columns(
            pl.int_ranges(self._zone_day(pl.col("t0")), self._zone_day(pl.col("t1")) + 1)
            .alias("day")
        ).explode("day").filter(pl.col("day").is_not_null())
        self.households = (
            raw["persons"].select("person_id", "household_id").filter(pl.col("household_id") != "")
        )

    def _source(self, kind: str, paths: list):
        pl = self.pl
        if paths:
            return pl.scan_parquet(paths, hive_partitioning=False)
        types = {"int64": pl.Int64, "str": pl.String, "date": pl.Date,
                 "ts": pl.Datetime("ms", "+08:00")}
        return pl.LazyFrame(schema={c: types[t] for c, t in RAW[kind].items()})

    def _zone_day(self, expr):
        return (expr + self.zone_ms) // DAY_MS  # Polars' // floors

    def _plan(self, as_of_ms: int, case_id: int | None):
        pl = self.pl
        order = ["reported_ms", "sample_ms", "_rid"]
        case_lab = self.lab.filter(pl.col("reported_ms") <= as_of_ms)
        if case_id is not None:
            case_lab = case_lab.filter(pl.col("person_id") == case_id)
        is_case_row = pl.col("diagnosis").is_in(CASE_DIAGNOSES)

        # the first row that made each person a case (see the module docstring)
        made = case_lab.filter(is_case_row).group_by("person_id").agg(
            pl.col("reported_ms").sort_by(order).first().alias("report_ms"),
            pl.col("sample_ms").sort_by(order).first().alias("made_sample_ms"),
        )
        first_onset = case_lab.filter(pl.col("onset_day").is_not_null()).group_by("person_id").agg(
            pl.col("onset_day").sort_by(order).first()
        )
        first_positive = case_lab.filter(pl.col("result") == "positive").group_by("person_id").agg(
            pl.col("sample_ms").min().alias("positive_ms")
        )
        onset = pl.coalesce(
            pl.col("onset_day"),
            self._zone_day(pl.col("positive_ms")),
            self._zone_day(pl.col("made_sample_ms")),
        )
        cases = (
            made.join(first_onset, on="person_id", how="left")
            .join(first_positive, on="person_id", how="left")
            .select(
                pl.col("person_id").alias("case_id"),
                ((onset - 2) * DAY_MS - self.zone_ms).alias("wfrom"),
                pl.col("report_ms").alias("wto"),
            )
        )

        def own(frame, rename, start="t0_a", end="t1_a"):
            """The cases' own rows of a table that touch their window (a shared interval lies
            inside the case's own one, so the others cannot count); columns renamed for the
            join."""
            return cases.join(frame.rename(rename), left_on="case_id", right_on="person_id").filter(
                (pl.col(end) >= pl.col("wfrom")) & (pl.col(start) <= pl.col("wto"))
            )

        bit = lambda kind: pl.lit(EVIDENCE_BITS[kind], pl.Int64)  # noqa: E731
        # One case has a handful of stays: a plain venue_id join is small, and expanding every
        # stay into days would cost more than it saves.
        stays, stay_keys = (
            (self.stays, ["venue_id"]) if case_id is not None
            else (self.stay_days, ["venue_id", "day"])
        )

        # every shared interval [s, e] of a case with another person, by kind
        shared_cols = ["case_id", "wfrom", "wto", "person_id", "kind", "s", "e"]
        travel = (
            own(self.rides, {"car": "car_a", "seat_row": "row_a", "t0": "t0_a", "t1": "t1_a"})
            .join(self.rides, on=["mode", "service_no", "service_date"])
            .filter(
                pl.when(pl.col("mode") == "rail").then(
                    pl.col("car_a").is_null() | pl.col("car").is_null()
                    | (pl.col("car_a") == pl.col("car"))
                ).when(pl.col("mode") == "flight").then(
                    pl.col("row_a").is_null() | pl.col("seat_row").is_null()
                    | ((pl.col("row_a") - pl.col("seat_row")).abs() <= 3)
                ).otherwise(True)
            )
            .with_columns(
                pl.col("mode").replace_strict({m: EVIDENCE_BITS[m] for m in MODES},
                                              return_dtype=pl.Int64).alias("kind"),
                pl.max_horizontal("t0_a", "t0").alias("s"),
                pl.min_horizontal("t1_a", "t1").alias("e"),
            )
            .select(shared_cols)
        )
        vehicle = (
            own(self.passes, {"t": "t_a"}, "t_a", "t_a")
            .join(self.passes, on="pass_id")
            .with_columns(
                bit("vehicle").alias("kind"),
                pl.min_horizontal("t_a", "t").alias("s"),
                pl.max_horizontal("t_a", "t").alias("e"),
            )
            .select(shared_cols)
        )
        venue = (
            own(stays, {"t0": "t0_a", "t1": "t1_a"})
            .join(stays, on=stay_keys)
            .with_columns(
                bit("venue").alias("kind"),
                pl.max_horizontal("t0_a", "t0").alias("s"),
                pl.min_horizontal("t1_a", "t1").alias("e"),
            )
            .filter(pl.col("e") - pl.col("s") >= VENUE_MIN_MS)
            .select(shared_cols)
        )
        household = (
            cases.join(self.households, left_on="case_id", right_on="person_id")
            .join(self.households, on="household_id")
            .with_columns(
                bit("household").alias("kind"),
                pl.col("wfrom").alias("s"),
                pl.col("wto").alias("e"),
            )
            .select(shared_cols)
        )
        # clipped to the window; an interval that misses the window is dropped
        hits = (
            pl.concat([travel, vehicle, venue, household])
            .with_columns(
                pl.max_horizontal("s", "wfrom").alias("s"),
                pl.min_horizontal("e", "wto").alias("e"),
            )
            .filter((pl.col("person_id") != pl.col("case_id")) & (pl.col("s") <= pl.col("e")))
        )
        contacts = hits.group_by("case_id", "person_id").agg(
            pl.col("s").min().alias("first_exposure_ms"),
            pl.col("e").max().alias("last_exposure_ms"),
            pl.col("kind").bitwise_or().alias("kinds"),
        )
        all_cases = (
            self.lab.filter((pl.col("reported_ms") <= as_of_ms) & is_case_row)
            .select("person_id").unique().with_columns(pl.lit(True).alias("is_case"))
        )
        return (
            contacts.join(all_cases, on="person_id", how="left")
            .select(
                "case_id", "person_id",
                pl.col("is_case").fill_null(False),
                "first_exposure_ms", "last_exposure_ms",
                (self._zone_day(pl.col("last_exposure_ms")) + QUARANTINE_DAYS)
                .cast(pl.Int32).cast(pl.Date).alias("quarantine_until"),
                pl.concat_str(
                    [pl.when((pl.col("kinds") & b) != 0).then(pl.lit(kind))
                     for kind, b in EVIDENCE_BITS.items()],
                    separator=";", ignore_nulls=True,
                ).alias("evidence"),
            )
            .sort("case_id", "person_id")
        )

    def bulk(self, as_of_ms: int):
        return self._plan(as_of_ms, None).collect().to_arrow()

    def single(self, as_of_ms: int, case_id: int):
        return self._plan(as_of_ms, case_id).collect().to_arrow()


ENGINES = {"duckdb": DuckDBPeer, "polars": PolarsPeer}


# --------------------------------------------------------------------------------------------
# Running and checking


def normalise(table):
    """Both engines' answers in one Arrow schema (Polars gives string views, DuckDB strings)."""
    import pyarrow as pa

    schema = pa.schema([
        ("case_id", pa.int64()), ("person_id", pa.int64()), ("is_case", pa.bool_()),
        ("first_exposure_ms", pa.int64()), ("last_exposure_ms", pa.int64()),
        ("quarantine_until", pa.date32()), ("evidence", pa.string()),
    ])
    return table.select(COLUMNS).cast(schema)


def rows_of(table) -> list:
    return list(zip(*(table.column(c).to_pylist() for c in COLUMNS)))


def write_csv(table, path: str) -> None:
    import pyarrow.csv as pacsv

    with open(path, "wb") as f:
        f.write((",".join(COLUMNS) + "\n").encode())
        # no value can hold a comma or a quote: ints, booleans, dates and kind names
        pacsv.write_csv(table, f, pacsv.WriteOptions(include_header=False, quoting_style="none"))


def run_engine(name: str, files: dict, zone_ms: int, args, case_ids: list) -> str | None:
    """Times one engine; returns the path of its bulk CSV (None when it is not installed)."""
    import pyarrow as pa
    import pyarrow.compute as pc

    try:
        ENGINES[name].load()
    except ImportError as e:
        log(f"{name}: not installed ({e}); pip install {name}")
        return None
    seconds = math.inf
    for _ in range(max(1, args.repeat)):  # the best of --repeat runs, each from scratch
        start = time.perf_counter()
        peer = ENGINES[name](files, zone_ms, args.threads)
        registered = time.perf_counter() - start
        bulk = normalise(peer.bulk(args.as_of_ms))
        elapsed = time.perf_counter() - start
        log(f"{name}: bulk {elapsed:.3f} s ({registered * 1000:.1f} ms of it registering the "
            f"files), {bulk.num_rows} contact rows, "
            f"{pc.count_distinct(bulk.column('case_id')).as_py()} cases with contacts")
        seconds = min(seconds, elapsed)
    print(f"{name} bulk {seconds:.4f} {bulk.num_rows}", flush=True)
    path = os.path.join(args.out, f"{name}-bulk.csv")
    write_csv(bulk, path)

    if case_ids:
        # Only the sampled cases' rows are kept to check single answers against: a province's
        # bulk answer can run to tens of millions of rows.
        wanted = bulk.filter(pc.is_in(bulk.column("case_id"), value_set=pa.array(case_ids, pa.int64())))
        del bulk
        expected: dict = {}
        for row in rows_of(wanted):
            expected.setdefault(row[0], []).append(row)
        latencies, mismatches = [], 0
        for case_id in case_ids:
            t = time.perf_counter()
            answer = peer.single(args.as_of_ms, case_id)
            latencies.append((time.perf_counter() - t) * 1000)
            if rows_of(normalise(answer)) != expected.get(case_id, []):
                mismatches += 1
        latencies.sort()
        p50, p99 = nearest_rank(latencies, 0.50), nearest_rank(latencies, 0.99)
        log(f"{name}: single p50 {p50:.2f} ms, p99 {p99:.2f} ms, max {latencies[-1]:.2f} ms over "
            f"{len(case_ids)} cases; {mismatches} answers differ from the bulk rows")
        print(f"{name} single {p50:.3f} {p99:.3f} {len(case_ids)}", flush=True)
    return path


def read_case_ids(path: str, limit: int) -> list:
    with open(path) as f:
        ids = [int(line) for line in (raw.strip() for raw in f) if line]
    return ids[:limit]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    where = ap.add_mutually_exclusive_group()
    where.add_argument("--files", help="JSON: kind -> list of Parquet paths")
    where.add_argument("--data", help="a fangyi data dir (reads its manifest.json)")
    ap.add_argument("--as-of-ms", type=int, help="as-of instant, epoch milliseconds")
    ap.add_argument("--cases", help="case pseudonyms, one Int64 per line, for --single")
    ap.add_argument("--out", help="output folder for <engine>-bulk.csv")
    ap.add_argument("--single", type=int, default=1000, help="cases timed one at a time (0: none)")
    ap.add_argument("--engines", default="duckdb,polars")
    ap.add_argument("--threads", type=int, help="threads per engine (default: all cores)")
    ap.add_argument("--repeat", type=int, default=1, help="bulk runs per engine; the best counts")
    ap.add_argument("--zone", help="deployment zone offset (default: the manifest's, or +08:00)")
    ap.add_argument("--self-test", action="store_true", help="check both engines on hand-made data")
    args = ap.parse_args()
    if args.threads:
        os.environ["POLARS_MAX_THREADS"] = str(args.threads)  # read when polars is imported
    if args.self_test:
        sys.exit(self_test())
    if not (args.files or args.data) or args.as_of_ms is None or not args.out:
        ap.error("--files or --data, --as-of-ms and --out are required")

    zone = "+08:00"
    if args.data:
        files, zone = files_from_data_dir(args.data)
    else:
        with open(args.files) as f:
            listed = json.load(f)
        files = {kind: list(listed.get(kind) or []) for kind in KINDS}
    zone_ms = zone_offset_ms(args.zone or zone)
    os.makedirs(args.out, exist_ok=True)
    log("files: " + ", ".join(f"{kind} {len(paths)}" for kind, paths in files.items()))

    case_ids = []
    if args.single > 0:
        if args.cases:
            case_ids = read_case_ids(args.cases, args.single)
        else:
            log("no --cases: single-case timing skipped")

    outputs = {}
    for name in [e.strip() for e in args.engines.split(",") if e.strip()]:
        if name not in ENGINES:
            ap.error(f"unknown engine {name!r} (known: {', '.join(ENGINES)})")
        path = run_engine(name, files, zone_ms, args, case_ids)
        if path:
            outputs[name] = path
    if len(outputs) > 1:
        import filecmp  # streams: the files can be gigabytes

        paths = list(outputs.values())
        same = all(filecmp.cmp(paths[0], p, shallow=False) for p in paths[1:])
        log(f"bulk CSVs of {' and '.join(outputs)}: {'identical' if same else 'DIFFERENT'}")
        if not same:
            sys.exit(1)


# --------------------------------------------------------------------------------------------
# Self-test: tiny hand-made Parquet files, one or more rows per rule, checked against answers
# worked out by hand (see the comments on each row).


def self_test() -> int:
    import datetime as dt

    import pyarrow as pa
    import pyarrow.parquet as pq

    zone = dt.timezone(dt.timedelta(hours=8))

    def ts(text):  # "01-18T08:00", a 2020 time in +08:00 -> aware datetime
        return dt.datetime.fromisoformat("2020-" + text).replace(tzinfo=zone)

    def ms(text):
        return (ts(text) - dt.datetime(1970, 1, 1, tzinfo=dt.timezone.utc)) // dt.timedelta(
            milliseconds=1)

    def day(text):  # "01-18" -> a 2020 date
        return dt.date.fromisoformat("2020-" + text)

    tz = pa.timestamp("ms", tz="+08:00")
    schemas = {
        "travel": [("person_id", pa.int64()), ("mode", pa.string()), ("service_no", pa.string()),
                   ("service_date", pa.date32()), ("car", pa.string()), ("seat", pa.string()),
                   ("from_station", pa.string()), ("from_region", pa.string()),
                   ("depart_time", tz), ("to_station", pa.string()), ("to_region", pa.string()),
                   ("arrive_time", tz)],
        "checkpoint": [("pass_id", pa.string()), ("person_id", pa.int64()), ("role", pa.string()),
                       ("checkpoint_id", pa.string()), ("region", pa.string()), ("time", tz),
                       ("origin_region", pa.string()), ("destination_region", pa.string()),
                       ("purpose", pa.string())],
        "checkins": [("person_id", pa.int64()), ("venue_id", pa.string()), ("time_in", tz),
                     ("time_out", tz)],
        "persons": [("person_id", pa.int64()), ("birth_date", pa.date32()), ("sex", pa.string()),
                    ("home_region", pa.string()), ("community_id", pa.string()),
                    ("household_id", pa.string())],
        "lab_results": [("person_id", pa.int64()), ("sample_time", tz), ("result", pa.string()),
                        ("diagnosis", pa.string()), ("onset_date", pa.date32()),
                        ("reported_time", tz)],
    }

    def ride(pid, mode, no, date, car, seat, t0, t1):
        return (pid, mode, no, day(date), car, seat, "A", "330100", ts(t0), "B", "330200", ts(t1))

    def lab(pid, sample, result, diagnosis, onset, reported):
        return (pid, ts(sample), result, diagnosis, onset and day(onset), ts(reported))

    def person(pid, household):
        return (pid, dt.date(1980, 1, 1), "M", "330102", "C1", household)

    def stay(pid, venue, t_in, t_out):
        return (pid, venue, ts(t_in), t_out and ts(t_out))

    def vpass(pid, pass_id, t):
        return (pass_id, pid, "passenger", "KP1", "330102", ts(t), "330100", "330200", "")

    rows = {
        "lab_results": [
            # 100: made a case by the confirmed row (onset Jan 17)
            # -> window Jan15 00:00..Jan20 12:00
            lab(100, "01-18T09:00", "positive", None, None, "01-19T09:00"),
            lab(100, "01-19T10:00", "positive", "confirmed", "01-17", "01-20T12:00"),
            # 200: no onset; earliest positive sample Jan 16 01:00 +08 (Jan 15 in UTC) although
            # reported last; the row with onset Jan 10 is reported after the as-of
            # -> window Jan14 00:00..Jan19 10:00 (as of Jan 20 00:00: Jan15 00:00..)
            lab(200, "01-16T01:00", "positive", None, None, "01-22T08:00"),
            lab(200, "01-17T10:00", "positive", None, None, "01-17T20:00"),
            lab(200, "01-18T10:00", "positive", "confirmed", None, "01-19T10:00"),
            lab(200, "01-18T10:00", "positive", None, "01-10", "02-05T10:00"),
            # 300: suspected, then asymptomatic with a negative result, no positive row: onset is
            # the case-making sample's zone date, Jan 21 -> window Jan19 00:00..Jan22 10:00
            lab(300, "01-18T10:00", "negative", "suspected", None, "01-19T10:00"),
            lab(300, "01-21T01:30", "negative", "asymptomatic", None, "01-22T10:00"),
            # 400: onset from rows reported after the case-making one; of the two reported at one
            # time the earlier sample wins (Jan 18), then _rid beats the Jan 17 row
            # -> window Jan16 00:00..Jan21 10:00
            lab(400, "01-20T10:00", "positive", "confirmed", None, "01-21T10:00"),
            lab(400, "01-22T09:00", "positive", None, "01-19", "01-23T10:00"),
            lab(400, "01-22T08:00", "positive", None, "01-18", "01-23T10:00"),
            lab(400, "01-22T08:00", "positive", None, "01-17", "01-23T10:00"),
            # 500: suspected then recovered: never a case
            lab(500, "01-20T10:00", "positive", "suspected", None, "01-21T10:00"),
            lab(500, "01-22T10:00", "negative", "recovered", None, "01-23T10:00"),
            # 600: confirmed after the as-of: not a case (yet)
            lab(600, "01-31T10:00", "positive", "confirmed", "01-30", "02-02T10:00"),
            # 700: confirmed then recovered: still a case -> window Jan22 00:00..Jan25 10:00
            lab(700, "01-24T10:00", "positive", "confirmed", "01-24", "01-25T10:00"),
            lab(700, "01-29T10:00", "negative", "recovered", None, "01-30T10:00"),
            # 800: onset after the report: an empty window, no contacts
            lab(800, "01-24T10:00", "positive", "confirmed", "01-30", "01-25T10:00"),
        ],
        "travel": [
            ride(100, "rail", "G1", "01-18", "05", "01A", "01-18T08:00", "01-18T12:00"),
            ride(101, "rail", "G1", "01-18", "05", "02A", "01-18T09:00", "01-18T11:00"),
            ride(102, "rail", "G1", "01-18", "06", "02A", "01-18T09:00", "01-18T11:00"),
            ride(103, "rail", "G1", "01-18", None, None, "01-18T11:00", "01-18T13:00"),
            ride(104, "rail", "G1", "01-18", "05", "03B", "01-18T12:00", "01-18T14:00"),
            ride(105, "rail", "G1", "01-18", "05", "03B", "01-18T12:01", "01-18T14:00"),
            ride(106, "rail", "G1", "01-19", "05", "03B", "01-18T08:00", "01-18T12:00"),
            ride(107, "flight", "G1", "01-18", None, None, "01-18T08:00", "01-18T12:00"),
            ride(100, "flight", "CA1", "01-19", None, "12C", "01-19T14:00", "01-19T16:00"),
            ride(111, "flight", "CA1", "01-19", None, "15A", "01-19T14:00", "01-19T16:00"),
            ride(112, "flight", "CA1", "01-19", None, "16A", "01-19T14:00", "01-19T16:00"),
            ride(113, "flight", "CA1", "01-19", None, "9F", "01-19T14:00", "01-19T16:00"),
            ride(114, "flight", "CA1", "01-19", None, "08A", "01-19T14:00", "01-19T16:00"),
            ride(115, "flight", "CA1", "01-19", None, "C", "01-19T14:00", "01-19T16:00"),
            ride(116, "flight", "CA1", "01-19", None, None, "01-19T14:00", "01-19T16:00"),
            ride(117, "flight", "CA1", "01-19", None, "12D", "01-19T16:30", "01-19T18:00"),
            ride(100, "coach", "K1", "01-16", None, "1", "01-16T10:00", "01-16T12:00"),
            ride(121, "coach", "K1", "01-16", None, "9", "01-16T10:30", "01-16T11:00"),
            ride(122, "coach", "K1", "01-16", None, "9", "01-16T12:30", "01-16T13:00"),
            ride(400, "coach", "K1", "01-16", None, "30", "01-16T10:00", "01-16T12:00"),
            ride(100, "ship", "S1", "01-20", None, None, "01-20T11:00", "01-20T13:00"),
            ride(131, "ship", "S1", "01-20", None, None, "01-20T11:00", "01-20T13:00"),
            ride(132, "ship", "S1", "01-20", None, None, "01-20T12:30", "01-20T13:00"),
        ],
        "checkpoint": [
            vpass(100, "P1", "01-17T09:00"), vpass(141, "P1", "01-17T09:00"),
            vpass(100, "P2", "01-14T20:00"), vpass(142, "P2", "01-14T20:00"),
            # one pass, two times: the interval spans both
            vpass(100, "P5", "01-17T12:00"), vpass(143, "P5", "01-17T12:05"),
            vpass(200, "P3", "01-13T23:00"), vpass(202, "P3", "01-13T23:00"),
            vpass(200, "P4", "01-14T00:00"), vpass(203, "P4", "01-14T00:00"),
        ],
        "checkins": [
            stay(100, "V1", "01-17T10:00", "01-17T11:00"),
            stay(100, "V1", "01-17T10:05", "01-17T10:50"),  # its own overlap: no self row
            stay(101, "V1", "01-17T10:00", "01-17T10:30"),
            stay(151, "V1", "01-17T10:45", "01-17T11:30"),  # exactly 15 min
            stay(152, "V1", "01-17T10:45:00.001", "01-17T11:30"),  # 1 ms short
            stay(153, "V1", "01-17T10:30", None),  # 10:30..11:30
            stay(600, "V1", "01-17T10:00", "01-17T10:20"),
            stay(100, "V2", "01-14T23:00", None),  # 23:00..00:00, touches the window start
            stay(154, "V2", "01-14T23:00", "01-15T00:30"),
            stay(155, "V2", "01-14T22:00", "01-14T23:20"),  # before the window
            stay(300, "V3", "01-21T00:30", "01-21T01:00"),
            stay(301, "V3", "01-21T00:30", "01-21T01:30"),  # zone date Jan 21 (UTC 20)
            stay(300, "V4", "01-18T12:00", "01-18T13:00"),  # before Jan 19 00:00
            stay(302, "V4", "01-18T12:00", "01-18T13:00"),
            stay(400, "V6", "01-15T12:00", "01-15T13:00"),  # before Jan 16 00:00
            stay(401, "V6", "01-15T12:00", "01-15T13:00"),
            stay(700, "V5", "01-24T10:00", "01-24T11:00"),
            stay(701, "V5", "01-24T10:00", "01-24T10:30"),
            # stays across midnight and over several days (the bulk plan joins on days)
            stay(700, "V8", "01-24T00:10", "01-24T00:50"),
            stay(704, "V8", "01-23T23:50", "01-24T00:40"),
            stay(705, "V8", "01-22T10:00", "01-24T12:00"),
        ],
        "persons": [
            person(100, "H1"), person(161, "H1"), person(100, ""), person(162, ""),
            person(163, None), person(200, "H2"), person(201, "H2"), person(500, "H5"),
            person(600, "H5"), person(501, "H5"), person(800, "H8"), person(801, "H8"),
        ],
    }

    def contact(case, pid, is_case, first, last, until, evidence):
        return (case, pid, is_case, ms(first), ms(last), day(until), evidence)

    expected_all = [
        contact(100, 101, False, "01-17T10:00", "01-18T11:00", "02-01", "rail;venue"),
        contact(100, 103, False, "01-18T11:00", "01-18T12:00", "02-01", "rail"),
        contact(100, 104, False, "01-18T12:00", "01-18T12:00", "02-01", "rail"),
        contact(100, 111, False, "01-19T14:00", "01-19T16:00", "02-02", "flight"),
        contact(100, 113, False, "01-19T14:00", "01-19T16:00", "02-02", "flight"),
        contact(100, 115, False, "01-19T14:00", "01-19T16:00", "02-02", "flight"),
        contact(100, 116, False, "01-19T14:00", "01-19T16:00", "02-02", "flight"),
        contact(100, 121, False, "01-16T10:30", "01-16T11:00", "01-30", "coach"),
        contact(100, 131, False, "01-20T11:00", "01-20T12:00", "02-03", "ship"),
        contact(100, 141, False, "01-17T09:00", "01-17T09:00", "01-31", "vehicle"),
        contact(100, 143, False, "01-17T12:00", "01-17T12:05", "01-31", "vehicle"),
        contact(100, 151, False, "01-17T10:45", "01-17T11:00", "01-31", "venue"),
        contact(100, 153, False, "01-17T10:30", "01-17T11:00", "01-31", "venue"),
        contact(100, 154, False, "01-15T00:00", "01-15T00:00", "01-29", "venue"),
        contact(100, 161, False, "01-15T00:00", "01-20T12:00", "02-03", "household"),
        contact(100, 400, True, "01-16T10:00", "01-16T12:00", "01-30", "coach"),
        contact(100, 600, False, "01-17T10:00", "01-17T10:20", "01-31", "venue"),
        contact(200, 201, False, "01-14T00:00", "01-19T10:00", "02-02", "household"),
        contact(200, 203, False, "01-14T00:00", "01-14T00:00", "01-28", "vehicle"),
        contact(300, 301, False, "01-21T00:30", "01-21T01:00", "02-04", "venue"),
        contact(400, 100, True, "01-16T10:00", "01-16T12:00", "01-30", "coach"),
        contact(400, 121, False, "01-16T10:30", "01-16T11:00", "01-30", "coach"),
        contact(700, 701, False, "01-24T10:00", "01-24T10:30", "02-07", "venue"),
        contact(700, 704, False, "01-24T00:10", "01-24T00:40", "02-07", "venue"),
        contact(700, 705, False, "01-24T00:10", "01-24T00:50", "02-07", "venue"),
    ]
    # As of Jan 20 00:00 only 200 is a case, and its onset falls back to the Jan 17 sample.
    expected_early = [
        contact(200, 201, False, "01-15T00:00", "01-19T10:00", "02-02", "household"),
    ]
    scenarios = [
        ("all rules", ms("01-31T23:59:59"), False, expected_all),
        ("earlier as-of", ms("01-20T00:00"), False, expected_early),
        ("no files", ms("01-31T23:59:59"), True, []),
    ]

    failures = 0
    with tempfile.TemporaryDirectory() as tmp:
        files = {}
        rid = 1 << 32
        for kind, kind_rows in rows.items():
            files[kind] = []
            # two files per kind, split in the middle, to read a list of files
            for part, chunk in enumerate((kind_rows[: len(kind_rows) // 2],
                                          kind_rows[len(kind_rows) // 2:])):
                columns = list(zip(*chunk)) if chunk else [[] for _ in schemas[kind]]
                arrays = [pa.array(col, type=t) for col, (_, t) in zip(columns, schemas[kind])]
                arrays.append(pa.array(range(rid, rid + len(chunk)), pa.int64()))
                rid += len(chunk)
                names = [n for n, _ in schemas[kind]] + ["_rid"]
                path = os.path.join(tmp, f"{kind}-{part}.parquet")
                pq.write_table(pa.Table.from_arrays(arrays, names=names), path)
                files[kind].append(path)
        empty = {kind: [] for kind in KINDS}
        for engine in ENGINES:
            try:
                ENGINES[engine].load()
            except ImportError as e:
                log(f"{engine}: not installed ({e}), skipped")
                continue
            peer = ENGINES[engine](files, 8 * 3_600_000, None)
            no_files = ENGINES[engine](empty, 8 * 3_600_000, None)
            for label, as_of, use_empty, expected in scenarios:
                p = no_files if use_empty else peer
                got = rows_of(normalise(p.bulk(as_of)))
                singles = []
                for case_id in (100, 200, 300, 400, 500, 600, 700, 800, 999):
                    singles += rows_of(normalise(p.single(as_of, case_id)))
                for what, answer in (("bulk", got), ("single", singles)):
                    if answer == expected:
                        log(f"ok    {engine} {what}: {label} ({len(answer)} rows)")
                        continue
                    failures += 1
                    log(f"FAIL  {engine} {what}: {label}")
                    for row in sorted(set(expected) - set(answer)):
                        log(f"        missing {row}")
                    for row in sorted(set(answer) - set(expected)):
                        log(f"        extra   {row}")
    log("self-test passed" if failures == 0 else f"self-test: {failures} failures")
    return 1 if failures else 0


if __name__ == "__main__":
    main()
