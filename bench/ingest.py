"""Ingest benchmark: N events (default 1M, ~105k users: about ten each) from the demo generator, through `empathy.ingest`,
against a bare *typed* DuckDB `read_json` of the same files into a table, on the same machine in the same run.

    .venv/bin/python bench/ingest.py [--events 1000000] [--per-file 100000] [--gzip] [--hostile] [--repeat 2]

Each contender runs in its own process, so each one's peak memory (max RSS, DuckDB's threads included)
is its own. The bare baseline reads the columns Empathy keeps, typed as `events` types them (timestamp as
TIMESTAMPTZ, properties/traits/context as JSON), and does nothing else: no validation, no quarantine, no
dedup, no line numbers, no bookkeeping. Prints events/s for both, the ratio (ours / bare), peak memory,
and a rerun with nothing new. The machine is shared: each contender runs --repeat times, alternately, each
time into a fresh database, and the fastest run of each counts (CPU seconds are printed too). --hostile adds a gzip bomb, a corrupt gzip, a 100 MB line, a symlink and
files with impossible timestamps beside the good files (not in the ratio: the bare reader fails on them).
"""
from __future__ import annotations

import argparse
import gzip
import json
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

BARE_COLUMNS = ("{messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', type: 'VARCHAR', "
                "event: 'VARCHAR', name: 'VARCHAR', timestamp: 'TIMESTAMPTZ', groupId: 'VARCHAR', "
                "properties: 'JSON', traits: 'JSON', context: 'JSON'}")


def _peak_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _cpu() -> float:
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child_bare(home: Path, gz: bool) -> dict:
    import duckdb

    files = sorted(str(p) for p in (home / "landing").glob("*.jsonl.gz" if gz else "*.jsonl")
                   if not p.name.startswith("zz-"))  # never the --hostile files: the bare reader fails on them
    con = duckdb.connect(str(home / "bare.duckdb"))
    t, cpu = time.perf_counter(), _cpu()
    con.execute(f"CREATE TABLE raw AS SELECT * FROM read_json({files!r}, format='newline_delimited', "
                f"columns={BARE_COLUMNS})")
    seconds, cpu = time.perf_counter() - t, _cpu() - cpu
    rows, users = con.execute("SELECT count(*), count(DISTINCT userId) FROM raw").fetchall()[0]
    con.close()
    return {"seconds": seconds, "cpu": cpu, "rows": rows, "users": users, "peak_mb": _peak_mb()}


def child_ours(home: Path, run_id: str) -> dict:
    os.environ["EMPATHY_HOME"] = str(home)
    os.environ["EMPATHY_LANDING_SETTLE_S"] = "0"
    from empathy import config, store
    from empathy.ingest import ingest_landing

    settings = config.load()
    t, cpu = time.perf_counter(), _cpu()
    with store.connect(settings) as con:
        report = ingest_landing(con, settings, run_id=run_id)
        seconds, cpu = time.perf_counter() - t, _cpu() - cpu
        users = con.execute("SELECT count(DISTINCT user_id) FROM events").fetchall()[0][0]
    return {"seconds": seconds, "cpu": cpu, "totals": report.totals(), "users": users, "peak_mb": _peak_mb(),
            "notices": [n.kind for n in report.notices], "memory_limit": settings.ingest_memory_limit}


def _child(*args: str) -> dict:
    out = subprocess.run([sys.executable, __file__, "--child", *args], check=True, capture_output=True, text=True)
    return json.loads(out.stdout.strip().splitlines()[-1])


def _hostile(landing: Path, outside: Path) -> None:
    """The classes of input that must not stop a run, beside the good files."""
    bomb = landing / "zz-bomb.jsonl.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as out:
        block = b" " * (1 << 24)
        for _ in range(128):  # 2 GiB of spaces
            out.write(block)
    stamp = '{"type":"track","messageId":"%s","userId":"u-%d","event":"X","timestamp":"%s"}\n'
    good = "".join(stamp % (f"c{i}", i, "2026-11-20T10:00:00Z") for i in range(20_000)).encode()
    (landing / "zz-corrupt.jsonl.gz").write_bytes(gzip.compress(good)[:-4000] + b"garbage!" * 5)
    with (landing / "zz-long-line.jsonl").open("wb") as out:
        out.write(b'{"type": "track", "properties": {"blob": "' + b"x" * (100 << 20) + b'"}}\n')
    (landing / "zz-times.jsonl").write_text("".join(stamp % (f"t{i}", i, ts) for i, ts in enumerate(
        ["-infinity", "infinity", "0044-03-15 BC", "294276-01-01", "1970-01-01T00:00:00Z"])))
    outside.write_text("jwt_secret = do-not-read\n")
    (landing / "zz-link.jsonl").symlink_to(outside)
    (landing / os.fsdecode(b"zz-caf\xe9.jsonl")).write_bytes(
        b"\xef\xbb\xbf" + (stamp % ("bom-1", 1, "2026-11-20T10:00:00Z")).encode())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--per-file", type=int, default=100_000)
    parser.add_argument("--gzip", action="store_true")
    parser.add_argument("--hostile", action="store_true")
    parser.add_argument("--repeat", type=int, default=2)
    parser.add_argument("--child", nargs="+", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        kind, home, extra = args.child[0], Path(args.child[1]), args.child[2]
        print(json.dumps(child_bare(home, extra == "gz") if kind == "bare" else child_ours(home, extra)))
        return 0

    from empathy import demo

    with tempfile.TemporaryDirectory(prefix="empathy-bench-") as tmp:
        landing = Path(tmp) / "landing"
        t = time.perf_counter()
        demo.generate_events(args.events, landing, seed=11, events_per_file=args.per_file, compress=args.gzip)
        files = sorted(landing.glob("*.jsonl*"))
        size_mb = sum(f.stat().st_size for f in files) / 1e6
        print(f"generated {args.events:,} events in {len(files)} files ({size_mb:,.0f} MB) "
              f"in {time.perf_counter() - t:.1f} s")
        bares, ours_runs = [], []
        for i in range(max(1, args.repeat)):
            home = Path(tmp) / f"run{i}"
            home.mkdir()
            (home / "landing").symlink_to(landing)  # the landing folder itself may be a link
            bares.append(_child("bare", str(home), "gz" if args.gzip else "plain"))
            if args.hostile and i == 0:
                _hostile(landing, Path(tmp) / "outside-secret.cfg")
            ours_runs.append(_child("ours", str(home), "bench"))
        rerun = _child("ours", str(home), "bench-rerun")
        bare = min(bares, key=lambda r: r["seconds"])
        ours = min(ours_runs, key=lambda r: r["seconds"])

    totals = ours["totals"]
    assert bare["rows"] == args.events, bare
    assert totals["loaded"] == args.events if not args.hostile else totals["loaded"] > args.events, totals
    print(f"bare typed read_json: {args.events / bare['seconds']:>10,.0f} events/s  ({bare['seconds']:.2f} s, "
          f"{bare['users']:,} users, peak {bare['peak_mb']:,.0f} MB with DuckDB's default memory limit)")
    print(f"empathy ingest      : {args.events / ours['seconds']:>10,.0f} events/s  ({ours['seconds']:.2f} s, "
          f"{ours['users']:,} users, peak {ours['peak_mb']:,.0f} MB with memory limit {ours['memory_limit']}; "
          f"validated, deduped, reconciled: {totals['loaded']:,} loaded, {totals['duplicates']} duplicates, "
          f"{totals['quarantined']} quarantined, notices {ours['notices']})")
    pairs = ", ".join(f"{b['seconds']:.2f}/{o['seconds']:.2f} s = {b['seconds'] / o['seconds']:.2f}"
                      for b, o in zip(bares, ours_runs))
    print(f"ratio ours/bare     : {bare['seconds'] / ours['seconds']:.2f} fastest of each (goal >= 0.8); "
          f"each round bare/ours: {pairs}")
    print(f"CPU seconds         : bare {bare['cpu']:.2f}, ours {ours['cpu']:.2f}: ratio {bare['cpu'] / ours['cpu']:.2f}; "
          f"peak memory ours/bare: {ours['peak_mb'] / bare['peak_mb']:.2f}")
    print(f"rerun, nothing new  : {rerun['seconds']:.3f} s, {rerun['totals']['files']} files read, "
          f"{rerun['totals']['skipped_unchanged']} skipped, peak {rerun['peak_mb']:,.0f} MB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
