"""Ingest benchmark: N events (default 1M) from the demo generator, through `empathy.ingest`, against
DuckDB's bare `read_json` of the same files into a table on the same machine in the same run.

    .venv/bin/python bench/ingest.py [--events 1000000] [--per-file 100000] [--gzip]

Prints events/s for both and the ratio (ours / bare). Bare read_json does no validation, no
quarantine, no dedup and no bookkeeping: it is the physical limit of this machine.
"""
from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=100_000)
    parser.add_argument("--gzip", action="store_true")
    args = parser.parse_args()

    import duckdb

    from empathy import config, demo, store
    from empathy.ingest import ingest_landing

    with tempfile.TemporaryDirectory(prefix="empathy-bench-") as tmp:
        home = Path(tmp)
        os.environ["EMPATHY_HOME"] = str(home)
        os.environ["EMPATHY_LANDING_SETTLE_S"] = "0"
        settings = config.load()
        t = time.perf_counter()
        demo.generate_events(args.events, settings.landing, seed=11, events_per_file=args.per_file,
                             compress=args.gzip)
        files = sorted(settings.landing.glob("*.jsonl*"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"generated {args.events:,} events in {len(files)} files ({size_mb:,.0f} MB) "
              f"in {time.perf_counter() - t:.1f} s")

        # the physical limit: DuckDB's own reader straight into a table
        bare_db = home / "bare.duckdb"
        con = duckdb.connect(str(bare_db))
        pattern = str(settings.landing / ("*.jsonl.gz" if args.gzip else "*.jsonl"))
        t = time.perf_counter()
        con.execute(f"CREATE TABLE raw AS SELECT * FROM read_json('{pattern}', format='newline_delimited')")
        bare_s = time.perf_counter() - t
        bare_rows = con.execute("SELECT count(*) FROM raw").fetchall()[0][0]
        con.close()

        t = time.perf_counter()
        with store.connect(settings) as con:
            report = ingest_landing(con, settings, run_id="bench")
        ours_s = time.perf_counter() - t
        totals = report.totals()

        t = time.perf_counter()
        with store.connect(settings) as con:
            rerun = ingest_landing(con, settings, run_id="bench-rerun").totals()
        rerun_s = time.perf_counter() - t

    assert bare_rows == args.events, bare_rows
    assert totals["loaded"] == args.events and totals["quarantined"] == 0, totals
    print(f"bare read_json : {args.events / bare_s:>12,.0f} events/s  ({bare_s:.2f} s)")
    print(f"empathy ingest : {args.events / ours_s:>12,.0f} events/s  ({ours_s:.2f} s; validated, deduped, "
          f"reconciled: {totals['loaded']:,} loaded, {totals['duplicates']} dup, {totals['quarantined']} quarantined)")
    print(f"ratio ours/bare: {bare_s / ours_s:.2f}  (target >= 0.5)")
    print(f"rerun, nothing new: {rerun_s:.3f} s, {rerun['files']} files read, {rerun['skipped_unchanged']} skipped")
    return 0


if __name__ == "__main__":
    sys.exit(main())
