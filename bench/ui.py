"""The Empathy page at scale: the read model's refresh (what every pipeline run pays) and every page's answer
time, on the demo plus N generated users, against bare DuckDB baselines measured in the same run.

    .venv/bin/python bench/ui.py [--users 100000] [--home bench/out/ui-100000] [--repeat 5]

The database is built once per --home (demo personas + N background users, three pipeline runs 24 h apart,
minutes at 100k) and reused; the benchmark works on a copy. Figures:

- refresh: the first one (every user rendered), one with nothing changed, and one after 10% of the users
  were rescored (their state rows touched, as a window with that much activity leaves them); baseline: a bare
  COPY of user_state and actions to Parquet (the least any export of them costs).
- pages: the median of --repeat requests through the real app (in-process HTTP, no auth), for the seed's
  User B, a user far down the list, search by email and by name, an account, a run, the runs list, the
  uplift; baseline: a bare DuckDB point lookup of one user in the users file.
"""
from __future__ import annotations

import argparse
import os
import shutil
import statistics
import sys
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))
START = datetime(2026, 5, 10, 12, tzinfo=UTC)


def build(home: Path, users: int) -> None:
    """Demo personas and ``users`` background users, three pipeline runs 24 h apart."""
    from runner import run_window

    from empathy import config, demo

    os.environ["EMPATHY_HOME"] = str(home)
    settings = config.load()
    settings.landing.mkdir(parents=True, exist_ok=True)
    t = time.perf_counter()
    demo.generate(settings.landing, seed=7, start=START, scale_users=users)
    print(f"  generated demo + {users:,} users in {time.perf_counter() - t:.0f} s", flush=True)
    for hours in (48, 24, 0):
        t = time.perf_counter()
        run_window(settings, START - timedelta(hours=hours), run_id=f"bench__{hours}h")
        print(f"  pipeline run as of -{hours} h: {time.perf_counter() - t:.0f} s", flush=True)


def timed(fn, repeat: int) -> float:
    fn()  # warm: imports, caches, the first open of a version
    times = []
    for _ in range(repeat):
        t = time.perf_counter()
        fn()
        times.append(time.perf_counter() - t)
    return statistics.median(times)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--users", type=int, default=100_000)
    parser.add_argument("--home", type=Path, default=None, help="where the built database is kept (reused)")
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args()
    built = args.home or ROOT / "bench" / "out" / f"ui-{args.users}"
    os.environ["EMPATHY_LANDING_SETTLE_S"] = "0"
    if not (built / "empathy.duckdb").exists():
        print(f"building {built} (once)", flush=True)
        build(built, args.users)
    work = built.parent / (built.name + "-work")
    shutil.rmtree(work, ignore_errors=True)
    work.mkdir(parents=True)
    shutil.copy(built / "empathy.duckdb", work / "empathy.duckdb")
    os.symlink(built / "outbox", work / "outbox")   # previews are read, never written, by the benchmark
    os.environ.update(EMPATHY_HOME=str(work), EMPATHY_UI_DIR=str(work / "ui"))

    import duckdb
    import pandas  # noqa: F401 - DuckDB imports it on its first Arrow scan: not the refresh's cost
    from fastapi.testclient import TestClient

    from empathy import config, store, ui
    from empathy.ui.app import create_app

    settings = config.load()
    rows = []
    with store.connect(settings) as con:
        n_users = con.execute("SELECT count(*) FROM user_state").fetchall()[0][0]
        t = time.perf_counter()
        con.execute(f"COPY user_state TO '{work}/bare_users.parquet' (FORMAT parquet, COMPRESSION zstd)")
        con.execute(f"COPY actions TO '{work}/bare_actions.parquet' (FORMAT parquet, COMPRESSION zstd)")
        bare = time.perf_counter() - t
        first = ui.refresh(con, settings, "bench")
        same = ui.refresh(con, settings, "bench")
        con.execute("UPDATE user_state SET updated_at = updated_at + INTERVAL 1 MINUTE WHERE user_id IN (SELECT user_id "
                    "FROM user_state ORDER BY hash(user_id) LIMIT (SELECT greatest(1, count(*) // 10) FROM user_state))")
        tenth = ui.refresh(con, settings, "bench")
        # the least worrying generated user: the overview's last page, worst first
        user_far = con.execute("SELECT user_id FROM user_state ORDER BY user_id LIKE 'bg-%' DESC, CASE state "
                               "WHEN 'delighted' THEN 1 ELSE 0 END DESC, sentiment DESC, user_id LIMIT 1").fetchall()[0][0]
        account = con.execute("SELECT account_id FROM user_state WHERE user_id = 'user_b'").fetchall()[0][0]
        email = con.execute("SELECT email FROM user_profiles WHERE user_id = 'user_b'").fetchall()[0][0]
        run_id = con.execute("SELECT run_id FROM pipeline_runs ORDER BY started_at DESC LIMIT 1").fetchall()[0][0]
    for label, figures in (("first (all rendered)", first), ("nothing changed", same), ("10% rescored", tenth)):
        if "error" in figures:
            print(f"refresh failed: {figures['error']}")
            return 1
        rows.append((f"refresh: {label}", figures["seconds"], bare, f"{figures['users_rendered']:,} users rendered"))

    client = TestClient(create_app(settings), root_path="/empathy")
    users_file = next((work / "ui" / "data").glob("users-*.parquet"))
    lookup = duckdb.connect()
    baseline = timed(lambda: lookup.execute("SELECT * FROM read_parquet($f) WHERE user_id = $u",
                                            {"f": str(users_file), "u": user_far}).fetchall(), args.repeat)
    paths = {
        "overview": "/", "search by email": f"/?q={email}", "search by name": "/?q=okafor",
        "users at_risk, page 40": "/?state=at_risk&page=40", "user B": "/users/user_b",
        "user far down the list": f"/users/{user_far}", "account of user B": f"/accounts/{account}",
        "run": f"/runs/{run_id}", "runs": "/runs", "uplift": "/uplift",
    }
    for label, path in paths.items():
        answer = client.get(path)
        if answer.status_code != 200:
            print(f"{path}: HTTP {answer.status_code}")
            return 1
        rows.append((f"page: {label}", timed(lambda p=path: client.get(p), args.repeat), baseline, path))

    print(f"\n{n_users:,} users; refresh baseline: bare COPY of user_state+actions to Parquet; "
          f"page baseline: bare point lookup in the users file ({baseline * 1000:.1f} ms)\n")
    print(f"{'what':<36} {'seconds':>9} {'x baseline':>11}  note")
    for label, seconds, base, note in rows:
        print(f"{label:<36} {seconds:>9.3f} {seconds / base if base else float('nan'):>11.1f}  {note}")
    slowest = max(s for label, s, _, _ in rows if label.startswith("page:"))
    print(f"\nslowest page: {slowest:.3f} s ({'within' if slowest < 1 else 'OVER'} 1 s)")
    shutil.rmtree(work, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
