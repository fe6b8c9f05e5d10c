"""Peer timing for the market scan (contract section 9): the seven rules written as one DuckDB SQL
query over fangyi's stored Parquet files, in exact integers (micro-yuan, unit prices as
fractions compared by cross multiplication in HUGEINT), to compare with fangyi's own scan.

Usage:
  python3 market.py --data DIR --regions REGIONS.csv --out OUT.csv
                    [--zone-offset-seconds 28800] [--tolerance-e4 0] [--k-e4 30000]
                    [--threads T] [--repeat R]

Reads the Parquet files of listings, enterprises, device_registrations and price_baselines
listed in DIR/manifest.json and the region table (code,name,level,parent_code,...) for the
prefecture roll-up, and writes every flagged capture:

  platform,listing_id,shop_id,captured_ms,unit_price_micro,rules

(captured_ms: the instant in ms since the epoch; unit_price_micro: price / units in micro-yuan,
rounded half up; rules: the rule ids that fired, sorted, joined by ';'), sorted by platform,
listing, capture time. stdout gets one line "duckdb market <seconds> <rows>" (the best of
--repeat runs, reading the Parquet files included; the rows fetched as Arrow); OUT.csv is
written after the clock stops.

The definition, as fangyi reads it (the built-in rules; the tolerance and k as arguments, in
ten-thousandths):
- A price is kept in micro-yuan: round(price_cny * 1e6) (half away from zero, as Rust's
  f64::round); a unit price is the fraction p / units.
- One capture per platform, listing_id and captured_time: the one with the largest _rid (the
  later ingested source, then the later line; a _rid is unique in a store, the source's
  sequence number and the line), kept by a semi join on the largest _rid of each group (twice
  as fast here as arg_max of the row or a window's row_number). The capture's day is its date
  at the deployment zone's offset.
- unknown_seller: seller_enterprise_id empty or not an enterprise_id of enterprises.
- unregistered: product medical_protective, surgical or medical, and no device_registrations row
  of that registration_no has the same product and valid_from <= day <= valid_to (empty: open).
- standard_mismatch: standard given and, upper-cased, white space (Unicode's White_Space, as
  Rust's char::is_whitespace) removed, a trailing "-YYYY" (or en, em, full-width dash) dropped,
  not the product's designation normalised the same way.
- no_standard: standard empty and unknown_seller.
- price_rise: the shop's baseline for the product (by shop_id; the latest date, of several on it
  the largest _rid), b = round(unit_price_cny * 1e6), and p * 1e6 > b * units * (1e6 + tol_e4).
- price_outlier: no baseline, seller_region given, and p * den * 1e4 > num * units * k_e4 where
  num / den is the median unit price of the same day, prefecture and product (the capture
  included): the middle one, or for an even count the mean of the two middle ones
  (p1 * u2 + p2 * u1) / (2 * u1 * u2). The unit prices are ordered by the integer
  pair (p // units, (p % units) * 10^12 // units), which orders fractions exactly since
  units <= 10^6 (the contract's bound: two different fractions differ by at least 10^-12).
  Prefecture: a code ending in 00 stays; a county code goes to its parent in the region table
  (to itself if the table gives none), a code not in the table to its first four digits + 00.
- The standards and the claim words are judged once per distinct (standard, product) and title,
  as fangyi does.
- efficacy_claim: product daily or respirator and the lower-cased title contains a claim word
  (医用, 防病毒, 抗病毒, 灭活, 99.99%).
"""

import argparse
import csv
import json
import os
import sys
import time

WORDS = ["医用", "防病毒", "抗病毒", "灭活", "99.99%"]
STANDARDS = {
    "medical_protective": "GB19083",
    "surgical": "YY0469",
    "medical": "YY/T0969",
    "respirator": "GB2626",
    "daily": "GB/T32610",
}
# Rust's char::is_whitespace (the White_Space property); RE2's \s is ASCII only.
WHITE = r"[\t\n\x0B\f\r \x{85}\x{A0}\x{1680}\x{2000}-\x{200A}\x{2028}\x{2029}\x{202F}\x{205F}\x{3000}]"


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


def sql_text(s):
    return "'" + s.replace("'", "''") + "'"


def empty_or(paths, columns):
    """read_parquet over `paths`, or an empty relation with `columns` (name, type) when a kind
    has no files."""
    if paths:
        return f"read_parquet({sql_list(paths)})"
    cols = ", ".join(f"CAST(NULL AS {t}) AS {n}" for n, t in columns)
    return f"(SELECT {cols} WHERE false)"


def query(data, offset_ms, tol_e4, k_e4):
    listings = files_of(data, "listings")
    if not listings:
        return None
    enterprises = empty_or(files_of(data, "enterprises"), [("enterprise_id", "VARCHAR")])
    registrations = empty_or(
        files_of(data, "device_registrations"),
        [
            ("registration_no", "VARCHAR"),
            ("product", "VARCHAR"),
            ("valid_from", "DATE"),
            ("valid_to", "DATE"),
        ],
    )
    baselines = empty_or(
        files_of(data, "price_baselines"),
        [
            ("shop_id", "VARCHAR"),
            ("product", "VARCHAR"),
            ("unit_price_cny", "DOUBLE"),
            ("date", "DATE"),
            ("_rid", "BIGINT"),
        ],
    )
    norm = (
        f"regexp_replace(regexp_replace(upper(standard), '{WHITE}', '', 'g'), "
        "'[-–—－][0-9]{4}$', '')"
    )
    expected = "CASE product " + " ".join(
        f"WHEN {sql_text(p)} THEN {sql_text(s)}" for p, s in STANDARDS.items()
    ) + " END"
    claim = " OR ".join(f"contains(lower(title), {sql_text(w.lower())})" for w in WORDS)
    return f"""
WITH raw AS (
  SELECT platform, listing_id, shop_id, seller_enterprise_id AS seller, seller_region,
    title, product, standard, registration_no, units, _rid,
    epoch_ms(captured_time) AS ms,
    CAST(round(price_cny * 1000000) AS BIGINT) AS p
  FROM read_parquet({sql_list(listings)})
), latest AS (
  SELECT max(_rid) AS _rid FROM raw GROUP BY platform, listing_id, ms
), cap AS (
  SELECT * EXCLUDE (_rid), (ms + {offset_ms}) // 86400000 AS day
  FROM raw SEMI JOIN latest USING (_rid)
), place AS (
  SELECT DISTINCT c.seller_region,
    CASE WHEN c.seller_region LIKE '%00' THEN c.seller_region
         WHEN r.code IS NOT NULL THEN coalesce(r.parent, c.seller_region)
         ELSE substr(c.seller_region, 1, 4) || '00' END AS pref
  FROM cap c LEFT JOIN regions r ON r.code = c.seller_region
  WHERE c.seller_region IS NOT NULL
), l AS (
  SELECT c.*, place.pref FROM cap c LEFT JOIN place USING (seller_region)
), ranked AS (
  SELECT day, pref, product, p, units,
    row_number() OVER w AS rn, count(*) OVER (PARTITION BY day, pref, product) AS n
  FROM l WHERE pref IS NOT NULL
  WINDOW w AS (PARTITION BY day, pref, product
               ORDER BY p // units, p % units * 1000000000000 // units)
), med AS (
  SELECT day, pref, product,
    max(p) FILTER (WHERE rn = (n + 1) // 2) AS p1,
    max(units) FILTER (WHERE rn = (n + 1) // 2) AS u1,
    max(p) FILTER (WHERE rn = n // 2 + 1) AS p2,
    max(units) FILTER (WHERE rn = n // 2 + 1) AS u2
  FROM ranked WHERE rn = (n + 1) // 2 OR rn = n // 2 + 1
  GROUP BY ALL
), ent AS (
  SELECT DISTINCT enterprise_id FROM {enterprises}
), reg AS (
  SELECT DISTINCT registration_no, product,
    valid_from - DATE '1970-01-01' AS f, valid_to - DATE '1970-01-01' AS t
  FROM {registrations}
), base AS (
  SELECT shop_id, product, CAST(round(unit_price_cny * 1000000) AS BIGINT) AS b
  FROM {baselines}
  QUALIFY row_number() OVER (PARTITION BY shop_id, product ORDER BY date DESC, _rid DESC) = 1
), std AS (
  SELECT standard, product, {norm} <> {expected} AS mismatch
  FROM (SELECT DISTINCT standard, product FROM cap WHERE standard IS NOT NULL)
), claims AS (
  SELECT title, {claim} AS claimed
  FROM (SELECT DISTINCT title FROM cap WHERE product IN ('daily', 'respirator'))
), flags AS (
  SELECT l.platform, l.listing_id, l.shop_id, l.ms, l.p, l.units,
    (l.seller IS NULL OR ent.enterprise_id IS NULL) AS unknown_seller,
    (l.product IN ('medical_protective', 'surgical', 'medical') AND NOT EXISTS (
       SELECT 1 FROM reg WHERE reg.registration_no = l.registration_no
         AND reg.product = l.product AND reg.f <= l.day AND (reg.t IS NULL OR l.day <= reg.t)
     )) AS unregistered,
    coalesce(std.mismatch, false) AS standard_mismatch,
    l.standard IS NULL AS no_standard_given,
    (base.b IS NOT NULL AND CAST(l.p AS HUGEINT) * 1000000
       > CAST(base.b AS HUGEINT) * l.units * (1000000 + {tol_e4})) AS price_rise,
    (base.b IS NULL AND med.p1 IS NOT NULL
       AND CAST(l.p AS HUGEINT) * (2 * CAST(med.u1 AS HUGEINT) * med.u2) * 10000
         > (CAST(med.p1 AS HUGEINT) * med.u2 + CAST(med.p2 AS HUGEINT) * med.u1)
           * l.units * {k_e4}) AS price_outlier,
    coalesce(claims.claimed, false) AS efficacy_claim
  FROM l
  LEFT JOIN ent ON ent.enterprise_id = l.seller
  LEFT JOIN std ON std.standard = l.standard AND std.product = l.product
  LEFT JOIN claims ON claims.title = l.title AND l.product IN ('daily', 'respirator')
  LEFT JOIN base ON base.shop_id = l.shop_id AND base.product = l.product
  LEFT JOIN med ON med.day = l.day AND med.pref = l.pref AND med.product = l.product
)
SELECT platform, listing_id, shop_id, ms AS captured_ms,
  (2 * CAST(p AS HUGEINT) + units) // (2 * units) AS unit_price_micro,
  concat_ws(';',
    CASE WHEN efficacy_claim THEN 'efficacy_claim' END,
    CASE WHEN no_standard_given AND unknown_seller THEN 'no_standard' END,
    CASE WHEN price_outlier THEN 'price_outlier' END,
    CASE WHEN price_rise THEN 'price_rise' END,
    CASE WHEN standard_mismatch THEN 'standard_mismatch' END,
    CASE WHEN unknown_seller THEN 'unknown_seller' END,
    CASE WHEN unregistered THEN 'unregistered' END) AS rules
FROM flags
WHERE unknown_seller OR unregistered OR standard_mismatch OR price_rise OR price_outlier
  OR efficacy_claim
ORDER BY platform, listing_id, ms
"""


def arrow_table(relation):
    """The result as an Arrow table (`arrow()` before DuckDB 1.4, `to_arrow_table()` after)."""
    fetch = getattr(relation, "to_arrow_table", None) or relation.arrow
    return fetch()


HEADER = ["platform", "listing_id", "shop_id", "captured_ms", "unit_price_micro", "rules"]


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--data", required=True)
    ap.add_argument("--regions", required=True)
    ap.add_argument("--out", required=True)
    ap.add_argument("--zone-offset-seconds", type=int, default=8 * 3600)
    ap.add_argument("--tolerance-e4", type=int, default=0)
    ap.add_argument("--k-e4", type=int, default=30000)
    ap.add_argument("--threads", type=int, default=os.cpu_count())
    ap.add_argument("--repeat", type=int, default=1)
    a = ap.parse_args()
    try:
        import duckdb
    except ImportError:
        print("duckdb is not installed (pip install duckdb)", file=sys.stderr)
        return 1
    con = duckdb.connect()
    con.execute(f"SET threads TO {a.threads}")
    con.execute(
        "CREATE TABLE regions AS SELECT lpad(CAST(code AS VARCHAR), 6, '0') AS code, "
        "CASE WHEN parent_code IS NULL OR parent_code = '' THEN NULL "
        "ELSE lpad(CAST(parent_code AS VARCHAR), 6, '0') END AS parent "
        f"FROM read_csv({sql_text(a.regions)}, header = true, all_varchar = true)"
    )
    sql = query(a.data, a.zone_offset_seconds * 1000, a.tolerance_e4, a.k_e4)
    best, table = float("inf"), None
    for _ in range(max(1, a.repeat)):
        started = time.perf_counter()
        table = arrow_table(con.sql(sql)) if sql else None
        best = min(best, time.perf_counter() - started)
    rows = table.to_pylist() if table is not None else []
    print(f"duckdb market {best:.3f} {len(rows)}")
    with open(a.out, "w", newline="") as f:
        w = csv.writer(f, lineterminator="\n")
        w.writerow(HEADER)
        for r in rows:
            w.writerow([str(r[c]) for c in HEADER])
    return 0


if __name__ == "__main__":
    sys.exit(main())
