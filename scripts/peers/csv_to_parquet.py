"""Peer timing for `fangyi bench ingest`: the same CSV to Parquet with DuckDB and Polars.

Prints one line per peer: "<name> <seconds>", the best of REPEAT runs. Peers do no
validation, pseudonymisation or partitioning; they only parse and write, so the ratio is a
floor for what fangyi adds.
Usage: python3 csv_to_parquet.py INPUT.csv OUTDIR [REPEAT]
"""
import os
import sys
import time


def best(run, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        run()
        times.append(time.perf_counter() - t)
    return min(times)


def main() -> None:
    src, out = sys.argv[1], sys.argv[2]
    repeat = int(sys.argv[3]) if len(sys.argv) > 3 else 1
    os.makedirs(out, exist_ok=True)
    try:
        import duckdb

        def run_duckdb() -> None:
            con = duckdb.connect()
            con.execute(
                f"COPY (SELECT * FROM read_csv('{src}', header=true, all_varchar=false)) "
                f"TO '{os.path.join(out, 'duckdb.parquet')}' (FORMAT parquet, COMPRESSION zstd)"
            )
            con.close()

        print(f"duckdb(csv->parquet) {best(run_duckdb, repeat):.3f}", flush=True)
    except ImportError:
        print("duckdb is not installed (pip install duckdb)", file=sys.stderr)
    try:
        import polars as pl

        def run_polars() -> None:
            pl.scan_csv(src).sink_parquet(os.path.join(out, "polars.parquet"), compression="zstd")

        print(f"polars(csv->parquet) {best(run_polars, repeat):.3f}", flush=True)
    except ImportError:
        print("polars is not installed (pip install polars)", file=sys.stderr)


if __name__ == "__main__":
    main()
