"""Peer timing for daily inflow (contract section 7): the same figures written as one DuckDB
SQL query over fangyi's stored Parquet files, to compare with fangyi's own day-at-a-time scan.

Usage:
  python3 inflow.py --data DIR --regions REGIONS.csv --first YYYY-MM-DD --last YYYY-MM-DD
                    --out OUT.csv [--threads T] [--repeat R] [--zone +08:00]

Reads the Parquet files of travel, checkpoint, registrations and risk_areas listed in
DIR/manifest.json, the region table (code,name,level,parent_code,longitude,latitude) for the
prefecture roll-up, and computes the prefecture-level rows for the days first..last:

  region,date,arrivals,from_high_risk,rail,flight,coach,ship,road,registration,top_origins

top_origins is "code:persons" for the ten largest origin prefectures (ties by code), ';'-joined.
Rows are sorted by region, date. stdout gets one line "duckdb inflow <seconds> <rows>" (the best
of --repeat runs; reading the Parquet files included), and OUT.csv is written after the clock
stops.

Rule interpretations (section 7, as fangyi reads it):
- A date is the deployment-zone date of an instant: floor((ms + offset) / 1 day); a
  registration's is its arrival_date.
- The destination rolls up to its prefecture: a code ending in 00 stays, a county code goes to
  its parent in the region table, a code not in the table to its first four digits + 00.
- "X covers R" is the contract's prefix rule: X without its trailing 00 pairs is a prefix of R.
- An arrival is a travel leg whose from_region the destination does not cover, a checkpoint pass
  whose origin_region is empty or not covered, a registration with a stay_region whose
  from_region is not covered. Unparseable regions do not occur (ingest validated them).
- from_high_risk: persons with an arrival whose origin a high-risk area covers on that date
  (valid_from <= date <= valid_to, an empty valid_to open-ended).
"""

import argparse
import json
import os
import sys
import time


def parse_zone(z):
    sign = -1 if z.startswith("-") else 1
    h, m = z.lstrip("+-").split(":")
    return sign * (int(h) * 3600 + int(m) * 60) * 1000


def files_of(data, kind):
    with open(os.path.join(data, "manifest.json")) as f:
        m = json.load(f)
    return [
        os.path.join(data, f["path"])
        for source in m["sources"]
        if source["kind"] == kind
        for f in source["files"]
    ]


def sql_list(paths):
    return "[" + ", ".join("'" + p.replace("'", "''") + "'" for p in paths) + "]"


def query(files, regions, first_day, last_day, offset_ms):
    day = f"CAST(floor((epoch_ms({{col}}) + {offset_ms}) / 86400000) AS INTEGER)"
    parts = []
    if files["travel"]:
        d = day.format(col="arrive_time")
        parts.append(
            f"SELECT person_id AS person, {d} AS day, mode AS kind, from_region AS origin, "
            f"to_region AS dest FROM read_parquet({sql_list(files['travel'])}) "
            f"WHERE {d} BETWEEN {first_day} AND {last_day}"
        )
    if files["checkpoint"]:
        d = day.format(col="time")
        parts.append(
            f"SELECT person_id, {d}, 'road', NULLIF(origin_region, ''), region "
            f"FROM read_parquet({sql_list(files['checkpoint'])}) "
            f"WHERE {d} BETWEEN {first_day} AND {last_day}"
        )
    if files["registrations"]:
        d = "CAST(arrival_date - DATE '1970-01-01' AS INTEGER)"
        parts.append(
            f"SELECT person_id, {d}, 'registration', from_region, stay_region "
            f"FROM read_parquet({sql_list(files['registrations'])}) "
            f"WHERE stay_region IS NOT NULL AND {d} BETWEEN {first_day} AND {last_day}"
        )
    if not parts:
        return None
    high = (
        f"SELECT region, CAST(valid_from - DATE '1970-01-01' AS INTEGER) AS f, "
        f"CAST(coalesce(valid_to, DATE '9999-12-31') - DATE '1970-01-01' AS INTEGER) AS t "
        f"FROM read_parquet({sql_list(files['risk_areas'])}) WHERE level = 'high'"
        if files["risk_areas"]
        else "SELECT NULL::VARCHAR AS region, 0 AS f, 0 AS t WHERE false"
    )
    prefix = (
        "CASE WHEN {c} LIKE '%0000' THEN substr({c}, 1, 2) "
        "WHEN {c} LIKE '%00' THEN substr({c}, 1, 4) ELSE {c} END"
    )
    return f"""
WITH reg AS (
  SELECT code, parent_code FROM read_csv('{regions}', header = true, all_varchar = true)
),
raw AS ({" UNION ALL ".join(parts)}),
rolled AS (
  SELECT r.person, r.day, r.kind, r.origin,
         CASE WHEN r.dest LIKE '%00' THEN r.dest
              ELSE coalesce(g.parent_code, substr(r.dest, 1, 4) || '00') END AS dest
  FROM raw r LEFT JOIN reg g ON g.code = r.dest
),
arr AS (
  SELECT person, day, kind, origin, dest FROM rolled
  WHERE origin IS NULL OR NOT starts_with(origin, {prefix.format(c='dest')})
),
high AS ({high}),
flagged AS (
  SELECT a.*,
         EXISTS (SELECT 1 FROM high h WHERE a.origin IS NOT NULL
                 AND starts_with(a.origin, {prefix.format(c='h.region')})
                 AND a.day BETWEEN h.f AND h.t) AS hi,
         CASE WHEN a.origin IS NULL THEN NULL
              WHEN a.origin LIKE '%00' THEN a.origin
              ELSE coalesce(g.parent_code, substr(a.origin, 1, 4) || '00') END AS origin_pref
  FROM arr a LEFT JOIN reg g ON g.code = a.origin
),
figures AS (
  SELECT dest, day, count(DISTINCT person) AS arrivals,
         count(DISTINCT person) FILTER (WHERE hi) AS from_high_risk,
         count(DISTINCT person) FILTER (WHERE kind = 'rail') AS rail,
         count(DISTINCT person) FILTER (WHERE kind = 'flight') AS flight,
         count(DISTINCT person) FILTER (WHERE kind = 'coach') AS coach,
         count(DISTINCT person) FILTER (WHERE kind = 'ship') AS ship,
         count(DISTINCT person) FILTER (WHERE kind = 'road') AS road,
         count(DISTINCT person) FILTER (WHERE kind = 'registration') AS registration
  FROM flagged GROUP BY dest, day
),
origins AS (
  SELECT dest, day, origin_pref, count(DISTINCT person) AS n FROM flagged
  WHERE origin_pref IS NOT NULL GROUP BY dest, day, origin_pref
),
top AS (
  SELECT dest, day,
         string_agg(origin_pref || ':' || n, ';' ORDER BY n DESC, origin_pref) AS top_origins
  FROM (SELECT *, row_number() OVER (PARTITION BY dest, day ORDER BY n DESC, origin_pref) AS k
        FROM origins) WHERE k <= 10 GROUP BY dest, day
)
SELECT f.dest AS region, strftime(DATE '1970-01-01' + f.day::INTEGER, '%Y-%m-%d') AS date,
       arrivals, from_high_risk, rail, flight, coach, ship, road, registration,
       coalesce(t.top_origins, '') AS top_origins
FROM figures f LEFT JOIN top t USING (dest, day)
ORDER BY region, date
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--first", required=True)
    ap.add_argument("--last", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count() or 2)
    ap.add_argument("--repeat", type=int, default=1)
    ap.add_argument("--zone", default="+08:00")
    a = ap.parse_args()
    import datetime

    import duckdb

    epoch = datetime.date(1970, 1, 1)
    first = (datetime.date.fromisoformat(a.first) - epoch).days
    last = (datetime.date.fromisoformat(a.last) - epoch).days
    files = {k: files_of(a.data, k) for k in ("travel", "checkpoint", "registrations", "risk_areas")}
    sql = query(files, a.regions, first, last, parse_zone(a.zone))
    best, rows = None, []
    for _ in range(max(1, a.repeat)):
        con = duckdb.connect()
        con.execute(f"SET threads = {a.threads}")
        started = time.perf_counter()
        rows = con.execute(sql).fetchall() if sql else []
        took = time.perf_counter() - started
        con.close()
        best = took if best is None else min(best, took)
    with open(a.out, "w") as f:
        f.write("region,date,arrivals,from_high_risk,rail,flight,coach,ship,road,registration,top_origins\n")
        for r in rows:
            f.write(",".join(str(x) for x in r) + "\n")
    print(f"duckdb inflow {best:.4f} {len(rows)}")


if __name__ == "__main__":
    sys.exit(main())
