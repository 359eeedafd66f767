"""Benchmark the whole score stage (detectors + lexicon + state + history) and an incremental rerun.

    .venv/bin/python bench/score.py                 # 100k users / ~1M events
    .venv/bin/python bench/score.py --users 20000   # quicker

1. Generates demo users with `empathy.demo` (about ten events each) into a fresh EMPATHY_HOME and
   ingests them with `empathy.ingest.ingest_landing` (ingest is not timed here: bench/ingest.py).
2. Times `state.score_stage` with the lexicon scorer over everyone: users/s.
3. Lands 1% new events (sessions of ~10 events for 1% of the users, one hour later: new activity
   arrives in sessions, from a few users at a time), ingests them, and times the rerun.
4. Prints the rerun / full ratio (target: under 10%).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from empathy import config, demo, state, store
from empathy.ingest import ingest_landing
from empathy.scoring import get_scorer

START = datetime(2025, 3, 10, 12, 0, tzinfo=UTC)


def new_sessions(users: list[str], at: datetime, seed: int = 11) -> list[dict]:
    """About ten events per user in one session: pages, clicks, commands, API calls, a search."""
    rnd = random.Random(seed)
    events = []
    for n, user in enumerate(users):
        t = at + timedelta(seconds=rnd.uniform(0, 1800))
        steps = [("page", {"path": rnd.choice(["/app", "/docs/cli/deploy", "/settings", "/pricing"])})]
        steps += [("track", {"event": "Element Clicked", "properties": {"element": rnd.choice(["Save", "Run", "Open"]),
                                                                          "path": "/app"}})] * 3
        steps += [("track", {"event": "API Request", "properties": {"endpoint": "/v1/deploy",
                                                                      "status_code": rnd.choice([200, 200, 200, 500])}})] * 4
        steps += [("track", {"event": "Command Executed", "properties": {"command": "deploy"}}),
                  ("track", {"event": "Search Performed", "properties": {"query": rnd.choice(["invoice", "sdk", "SOC 2"])}})]
        for i, (kind, body) in enumerate(steps):
            t += timedelta(seconds=rnd.uniform(2, 90))
            ev = {"type": kind, "messageId": f"bench-new-{n}-{i}", "userId": user, "timestamp": t.isoformat()}
            if kind == "page":
                ev["name"] = "Page"
                ev["properties"] = body
            else:
                ev.update(body)
            events.append(ev)
    return events


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--users", type=int, default=100_000, help="generated users (about ten events each)")
    ap.add_argument("--new-pct", type=float, default=1.0, help="new events for the rerun, %% of all events")
    ap.add_argument("--batch-size", type=int, default=0, help="users per prepare/apply batch (default: the setting)")
    ap.add_argument("--home", default="", help="EMPATHY_HOME to use (default: a fresh temp dir)")
    args = ap.parse_args(argv)

    home = Path(args.home or tempfile.mkdtemp(prefix="empathy-bench-score-"))
    settings = config.load({"home": str(home), "scorer": "lexicon", "landing_settle_s": 0})
    t = time.perf_counter()
    info = demo.generate(settings.landing, seed=7, start=START, files=("journeys",), scale_users=args.users)
    print(f"generated {info['events']:,} events for {info['users']:,} users in {time.perf_counter() - t:.1f} s")
    scorer = get_scorer(settings)
    batch = args.batch_size or settings.score_batch_size

    with store.connect(settings) as con:
        t = time.perf_counter()
        ingest_landing(con, settings)
        events = con.execute("SELECT count(*) FROM events").fetchall()[0][0]
        print(f"ingested {events:,} events in {time.perf_counter() - t:.1f} s (not part of the score figures)")

        as_of = START
        t, c = time.perf_counter(), time.process_time()
        full = state.score_stage(con, settings, as_of, scorer=scorer, run_id="bench-full", batch_size=batch)
        full_s, full_cpu = time.perf_counter() - t, time.process_time() - c
        print(f"full score stage: {full['users']:,} users in {full_s:.1f} s wall / {full_cpu:.1f} s CPU = "
              f"{full['users'] / full_s:,.0f} users/s ({events / full_s:,.0f} events/s; batch {batch}); "
              f"states {json.dumps(full['states'])}")

        n_new_users = max(1, int(events * args.new_pct / 100 / 10))
        users = [r[0] for r in con.execute(
            "SELECT user_id FROM user_state ORDER BY hash(user_id) LIMIT ?", [n_new_users]).fetchall()]
        new = new_sessions(users, as_of + timedelta(minutes=5))
        path = settings.landing / "bench-new-events.jsonl"
        path.write_text("".join(json.dumps(e) + "\n" for e in new), encoding="utf-8")
        ingest_landing(con, settings)
        as_of2 = as_of + timedelta(hours=1)

        t = time.perf_counter()
        selected = len(state.select_users(con, settings, as_of2))
        select_s = time.perf_counter() - t
        t, c = time.perf_counter(), time.process_time()
        rerun = state.score_stage(con, settings, as_of2, scorer=scorer, run_id="bench-rerun", batch_size=batch)
        rerun_s, rerun_cpu = time.perf_counter() - t, time.process_time() - c
        print(f"new events: {len(new):,} ({100 * len(new) / events:.2f}% of events) for {len(users):,} users; "
              f"select_users alone {select_s * 1000:.0f} ms -> {selected:,} users")
        print(f"rerun: {rerun['users']:,} users in {rerun_s:.2f} s wall / {rerun_cpu:.2f} s CPU; "
              f"changed {rerun['changed']:,}")
        print(f"rerun / full = {rerun_s / full_s:.1%} wall, {rerun_cpu / full_cpu:.1%} CPU (target < 10%)")
        t = time.perf_counter()
        nothing = state.score_stage(con, settings, as_of2, scorer=scorer, run_id="bench-noop", batch_size=batch)
        print(f"rerun with nothing new: {nothing['users']} users in {time.perf_counter() - t:.2f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
