"""Peer timing for the power index of resumption (contract section 8.3): the same rows written
as one DuckDB SQL query over fangyi's stored Parquet files, in integers (watt-hours, micro-kWh
baselines, HUGEINT sums), to compare with fangyi's own day-at-a-time scan.

Usage:
  python3 resume.py --data DIR --regions REGIONS.csv --from YYYY-MM-DD --to YYYY-MM-DD
                    --baseline YYYY-MM-DD..YYYY-MM-DD --out OUT.csv
                    [--theta-micros 300000] [--threads T] [--repeat R]

Reads the Parquet files of enterprises and power listed in DIR/manifest.json and the region
table (code,name,level,parent_code,longitude,latitude) for the prefecture roll-up, and writes
the prefecture x industry rows for the days from..to:

  region,industry,date,indexed,resumed,firms_e4,power_e4,index_e2

(the shares in ten-thousandths, the index in hundredths, each rounded half up), sorted by region,
industry, date. stdout gets one line "duckdb resume <seconds> <rows>" (the best of --repeat
runs, reading the Parquet files included); OUT.csv is written after the clock stops.

The definition, as fangyi reads it:
- A reading is kept in watt-hours: round(kwh * 1000) (half away from zero, as Rust's f64::round).
- One reading per enterprise and day: of several, the one with the largest _rid (the latest
  ingested source, then the latest line). One row per enterprise: the largest _rid.
- baseline (micro-kWh) = round half up of (sum of the baseline days' Wh * 1000) / (days with a
  reading); indexed when the sum is > 0.
- resumed on a day when Wh * 1000 * 1e6 >= theta_micros * baseline (no reading: 0 Wh).
- firms_e4 = round(resumed * 1e4 / indexed), power_e4 = round(Wh_resumed * 1000 * 1e4 / sum of
  baselines), index_e2 = round(5000 * (Wh_resumed * 1000 * indexed + resumed * baselines) /
  (baselines * indexed)), each rounded half up: (2 n + d) // (2 d).
- The enterprise's region rolls up to its prefecture: a code ending in 00 stays, a county code
  goes to its parent in the region table, a code not in the table to its first four digits + 00.
- Every (prefecture, industry) with an indexed enterprise has a row for every day.
"""

import argparse
import csv
import json
import os
import sys
import time


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


def query(enterprises, power, first, last, b0, b1, theta):
    return f"""
WITH firm AS (
  SELECT enterprise_id, arg_max(industry, _rid) AS industry, arg_max(region, _rid) AS region
  FROM read_parquet({sql_list(enterprises)}) GROUP BY enterprise_id
), placed AS (
  SELECT f.enterprise_id, f.industry,
    CASE WHEN f.region LIKE '%00' THEN f.region
         ELSE coalesce(r.parent, substr(f.region, 1, 4) || '00') END AS region
  FROM firm f LEFT JOIN regions r ON r.code = f.region
), reading AS (
  SELECT enterprise_id, date, CAST(round(arg_max(kwh, _rid) * 1000) AS BIGINT) AS wh
  FROM read_parquet({sql_list(power)})
  WHERE date BETWEEN DATE '{min(first, b0)}' AND DATE '{max(last, b1)}'
  GROUP BY enterprise_id, date
), base AS (
  SELECT enterprise_id,
    (2 * CAST(sum(wh) AS HUGEINT) * 1000 + count(*)) // (2 * count(*)) AS micro
  FROM reading WHERE date BETWEEN DATE '{b0}' AND DATE '{b1}'
  GROUP BY enterprise_id HAVING sum(wh) > 0
), grp AS (
  SELECT p.region, p.industry, count(*) AS indexed, sum(b.micro) AS baselines
  FROM base b JOIN placed p USING (enterprise_id) GROUP BY ALL
), resumed AS (
  SELECT p.region, p.industry, r.date, count(*) AS resumed,
    sum(CAST(r.wh AS HUGEINT)) AS wh
  FROM reading r JOIN base b USING (enterprise_id) JOIN placed p USING (enterprise_id)
  WHERE r.date BETWEEN DATE '{first}' AND DATE '{last}'
    AND CAST(r.wh AS HUGEINT) * 1000 * 1000000 >= {theta} * b.micro
  GROUP BY ALL
), days AS (
  SELECT CAST(d AS DATE) AS date FROM range(DATE '{first}', DATE '{last}' + 1, INTERVAL 1 DAY) t(d)
), filled AS (
  SELECT g.region, g.industry, d.date, g.indexed, g.baselines,
    coalesce(x.resumed, 0) AS resumed, coalesce(x.wh, 0) AS wh
  FROM grp g CROSS JOIN days d
  LEFT JOIN resumed x ON x.region = g.region AND x.industry = g.industry AND x.date = d.date
)
SELECT region, industry, strftime(date, '%Y-%m-%d') AS date, indexed, resumed,
  (2 * CAST(resumed AS HUGEINT) * 10000 + indexed) // (2 * indexed) AS firms_e4,
  (2 * wh * 1000 * 10000 + baselines) // (2 * baselines) AS power_e4,
  (2 * 5000 * (wh * 1000 * indexed + resumed * baselines) + baselines * indexed)
    // (2 * baselines * indexed) AS index_e2
FROM filled ORDER BY region, industry, date
"""


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--from", dest="first", required=True)
    ap.add_argument("--to", dest="last", required=True)
    ap.add_argument("--baseline", required=True)
    ap.add_argument("--theta-micros", type=int, default=300000)
    ap.add_argument("--out", required=True)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed (pip install duckdb)", file=sys.stderr)
        return 1
    b0, b1 = a.baseline.split("..")
    con = duckdb.connect()
    con.execute(f"SET threads TO {a.threads}")
    con.execute(
        "CREATE TABLE regions AS SELECT lpad(CAST(code AS VARCHAR), 6, '0') AS code, "
        "lpad(CAST(parent_code AS VARCHAR), 6, '0') AS parent "
        f"FROM read_csv('{a.regions}', header = true, all_varchar = true)"
    )
    sql = query(
        files_of(a.data, "enterprises"),
        files_of(a.data, "power"),
        a.first,
        a.last,
        b0,
        b1,
        a.theta_micros,
    )
    best, rows = float("inf"), None
    for _ in range(max(1, a.repeat)):
        started = time.perf_counter()
        rows = con.execute(sql).fetchall()
        best = min(best, time.perf_counter() - started)
    print(f"duckdb resume {best:.3f} {len(rows)}")
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(
            ["region", "industry", "date", "indexed", "resumed", "firms_e4", "power_e4", "index_e2"]
        )
        for r in rows:
            w.writerow([str(v) for v in r])
    return 0


if __name__ == "__main__":
    sys.exit(main())
