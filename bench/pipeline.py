"""The whole `make run` on a bulk load, against a bare typed DuckDB load of the same files, in one run.

    .venv/bin/python bench/pipeline.py [--events 1000000] [--keep DIR]

1. Writes N events (default 1M; about 105k users: the generator makes about ten events each) with the demo generator.
2. Bare baseline: DuckDB's `read_json` of the same files, with typed columns, into a table (no validation,
   no dedup, no state: the physical limit of this machine).
3. `make run`, each through Airflow exactly as `make run` does it (`scripts/run_pipeline.py`: `dag.test()`,
   no connections, so every delivery is a preview): three times on an empty landing folder (Airflow's own
   cost of a run; their median is the baseline), on the bulk load (the first real run), and again after 1%
   new events land (sessions of ~10 events for 1% of the users, an hour later).
4. Prints each run's wall time, the bulk run beyond the empty one as a ratio to the bare load (target: within
   6x, goal 3x), the rerun beyond the empty one as a share of the bulk run's (target: under 10%, goal 5%),
   and the peak memory of each run (the run's process tree). Beside each wall time, the run's tasks' own
   time (their durations summed, from Airflow's metadata): it leaves out starting Airflow, which varies by
   seconds between identical empty runs, so the rerun's share is also given on it.

Figures vary with the machine's load: read the ratios, measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from datetime import timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

TYPED = ("{messageId: 'VARCHAR', userId: 'VARCHAR', anonymousId: 'VARCHAR', type: 'VARCHAR', event: 'VARCHAR', "
         "name: 'VARCHAR', timestamp: 'TIMESTAMPTZ', groupId: 'VARCHAR', properties: 'JSON', traits: 'JSON', "
         "context: 'JSON'}")


EMPTY_RUNS = 3


def bare_load(files: list[Path], db: Path) -> float:
    import duckdb

    con = duckdb.connect(str(db))
    t = time.perf_counter()
    con.execute(f"CREATE TABLE t AS SELECT * FROM read_json({[str(f) for f in files]!r}, "
                f"format = 'newline_delimited', columns = {TYPED})").fetchall()
    return time.perf_counter() - t


def make_run(env: dict) -> tuple[float, float]:
    """One `make run`: (wall seconds, peak MB of the run's processes)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    t = time.perf_counter()
    out = subprocess.run([sys.executable, str(ROOT / "scripts" / "run_pipeline.py")], env=env,
                         capture_output=True, text=True)
    seconds = time.perf_counter() - t
    if out.returncode != 0:
        raise SystemExit(f"make run failed:\n{out.stdout[-3000:]}\n{out.stderr[-3000:]}")
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
    return seconds, max(peak, before) / 1024


def task_seconds(airflow_home: Path) -> float:
    """The latest run's task durations summed (Airflow's metadata): the work, without Airflow's start."""
    import sqlite3

    with sqlite3.connect(airflow_home / "airflow.db") as db:
        return db.execute("SELECT coalesce(sum(t.duration), 0) FROM task_instance t WHERE t.run_id = "
                          "(SELECT run_id FROM dag_run ORDER BY id DESC LIMIT 1)").fetchone()[0]


def new_sessions(users: list[str], start, seed: int = 11) -> list[dict]:
    """About ten events per user in one session, an hour after the bulk load ends."""
    rnd = random.Random(seed)
    events = []
    for n, user in enumerate(users):
        t = start + timedelta(seconds=rnd.uniform(0, 1800))
        for i in range(10):
            t += timedelta(seconds=rnd.uniform(2, 90))
            kind = rnd.choice(["page", "Element Clicked", "API Request", "Command Executed"])
            ev = {"messageId": f"bench-new-{n}-{i}", "userId": user, "timestamp": t.isoformat()}
            if kind == "page":
                ev.update(type="page", name="Page", properties={"path": rnd.choice(["/app", "/docs/cli/deploy"])})
            else:
                props = {"Element Clicked": {"element": "Save", "path": "/app"},
                         "API Request": {"endpoint": "/v1/deploy", "status_code": rnd.choice([200, 200, 500])},
                         "Command Executed": {"command": "deploy"}}[kind]
                ev.update(type="track", event=kind, properties=props)
            events.append(ev)
    return events


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--events", type=int, default=1_000_000)
    parser.add_argument("--keep", help="work in this folder and keep it (default: a temporary one)")
    args = parser.parse_args()
    from datetime import datetime

    from empathy import demo

    tmp = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="empathy-bench-pipeline-"))
    home, airflow_home, data = tmp / "home", tmp / "airflow", tmp / "data"
    for folder in (home / "landing", airflow_home, data):
        folder.mkdir(parents=True, exist_ok=True)
    start = datetime.fromisoformat("2026-11-30T12:00:00+00:00")
    if not list(data.glob("*.jsonl")):
        demo.generate_events(args.events, data, seed=11, start=start)
    files = sorted(data.glob("*.jsonl"))
    print(f"{args.events:,} events in {len(files)} files ({sum(f.stat().st_size for f in files) / 1e6:,.0f} MB)")

    os.sync()   # each measurement starts with nothing of the files written before it still being flushed
    bare = bare_load(files, tmp / "bare.duckdb")
    print(f"bare typed read_json into a table: {bare:6.1f} s")

    env = {**os.environ, "EMPATHY_HOME": str(home), "EMPATHY_LANDING_SETTLE_S": "0", "AIRFLOW_HOME": str(airflow_home),
           "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"), "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{airflow_home / 'airflow.db'}",
           "PYTHONPATH": str(ROOT / "include")}
    for name in [n for n in env if n.startswith("AIRFLOW_CONN_")]:
        del env[name]   # no connections: every delivery is a preview, nothing leaves the machine
    airflow = str(Path(sys.executable).parent / "airflow")
    if not (airflow_home / "airflow.db").exists():
        subprocess.run([airflow, "db", "migrate"], env=env, check=True, capture_output=True)
        subprocess.run([airflow, "pools", "set", "duckdb", "1", "DuckDB: one writer"], env=env, check=True,
                       capture_output=True)

    empties, empty_tasks = [], []
    for _ in range(EMPTY_RUNS):   # the baseline both ratios subtract: its median, as it varies by seconds
        os.sync()
        empties.append(make_run(env))
        empty_tasks.append(task_seconds(airflow_home))
    empty, empty_mb = sorted(empties)[len(empties) // 2]
    empty_task = sorted(empty_tasks)[len(empty_tasks) // 2]
    print(f"make run, empty landing:          {empty:6.1f} s   peak {empty_mb:,.0f} MB   (median of "
          f"{', '.join(f'{s:.1f}' for s, _ in empties)} s; tasks {', '.join(f'{t:.1f}' for t in empty_tasks)} s)")
    for f in files:   # copies: the landing folder refuses links
        (home / "landing" / f.name).write_bytes(f.read_bytes())
    os.sync()
    full, full_mb = make_run(env)
    full_task = task_seconds(airflow_home) - empty_task
    beyond = full - empty
    print(f"make run, bulk load:              {full:6.1f} s   peak {full_mb:,.0f} MB   beyond the empty run "
          f"{beyond:.1f} s = {beyond / bare:.1f}x the bare load (target 6x, goal 3x); tasks beyond the empty "
          f"run's {full_task:.1f} s = {full_task / bare:.1f}x")

    import duckdb

    con = duckdb.connect(str(home / "empathy.duckdb"), read_only=True)
    users = [u for (u,) in con.execute("SELECT DISTINCT user_id FROM events ORDER BY 1").fetchall()]
    con.close()
    picked = random.Random(5).sample(users, max(1, len(users) // 100))
    later = start + timedelta(hours=1)
    (home / "landing" / "zz-new-sessions.jsonl").write_text(
        "\n".join(json.dumps(e) for e in new_sessions(picked, later)) + "\n")
    os.sync()
    rerun, rerun_mb = make_run(env)
    rerun_task = task_seconds(airflow_home) - empty_task
    print(f"make run, 1% new events ({len(picked):,} users): {rerun:6.1f} s   peak {rerun_mb:,.0f} MB   beyond the empty run "
          f"{rerun - empty:.1f} s = {(rerun - empty) / beyond:.1%} of the bulk run's (target < 10%, goal 5%); "
          f"tasks beyond the empty run's {rerun_task:.1f} s = {rerun_task / full_task:.1%} of the bulk run's")
    print(f"users: {len(users):,}; work folder: {tmp}" + ("" if args.keep else " (delete it when done)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
