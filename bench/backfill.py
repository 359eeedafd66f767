"""Where a backfill's time goes on the live scheduler (`make up`'s shape: LocalExecutor, embedded PostgreSQL).

Backfills N hourly windows of ``empathy_pipeline`` through the REST API (the Backfill dialog's defaults:
one run at a time), and, in the same run, of a bare DAG of the same shape (a chain of no-op tasks on
the same pool): the platform's floor. Prints per task: scheduling wait (upstream done -> queued),
queue wait (queued -> started) and run time (process start + work), and the ratio of the pipeline
to the floor. Figures, not pass/fail: ``python bench/backfill.py [--windows 12]``.
"""
from __future__ import annotations

import argparse
import shutil
import statistics
import sys
import tempfile
import textwrap
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "tests"))

import harness

BARE_DAG = textwrap.dedent('''
    """The pipeline's shape with no work: the platform's floor for one backfilled window."""
    from datetime import datetime
    from airflow.sdk import CronDataIntervalTimetable, dag, task

    @dag(dag_id="bare_chain", schedule=CronDataIntervalTimetable("0 * * * *", timezone="UTC"),
         start_date=datetime(2026, 1, 1), catchup=False, max_active_runs=2)
    def bare_chain():
        previous = None
        for name, pooled in [("ingest", 1), ("prepare", 1), ("score", 0), ("apply", 1), ("choose", 0),
                             ("claim", 1), ("send", 0), ("record", 1), ("summary", 1)]:
            @task(task_id=name, pool="duckdb" if pooled else "default_pool")
            def step():
                return None
            current = step()
            if previous is not None:
                previous >> current
            previous = current

    bare_chain()
''')


def _ts(value):
    return datetime.fromisoformat(value) if value else None


def backfill(af: harness.Airflow, dag_id: str, start: datetime, windows: int, timeout: float) -> dict:
    af.wait_for_dag(dag_id)
    af.set_paused(dag_id, False)
    started = time.monotonic()
    created = af.create_backfill(dag_id, start.isoformat(), (start + timedelta(hours=windows - 1)).isoformat())
    af.wait(lambda: af.backfill(created["id"]).get("completed_at"), timeout, f"the {dag_id} backfill", every=3)
    seconds = time.monotonic() - started
    af.set_paused(dag_id, True)
    runs = [r for r in af.runs(dag_id) if r["run_type"] == "backfill"]
    tis = [t for t in af.task_instances(dag_id) if t["dag_run_id"] in {r["dag_run_id"] for r in runs}]
    return {"seconds": seconds, "runs": runs, "tis": tis}


def breakdown(result: dict) -> dict:
    """Median seconds per task: waiting for the scheduler, in the queue, running."""
    per: dict[str, list[tuple[float, float, float]]] = {}
    for run in result["runs"]:
        tis = sorted((t for t in result["tis"] if t["dag_run_id"] == run["dag_run_id"] and t["state"] == "success"),
                     key=lambda t: t["start_date"])
        previous_end = _ts(run["start_date"])
        for t in tis:
            queued, start, end = _ts(t["queued_when"]) or _ts(t["start_date"]), _ts(t["start_date"]), _ts(t["end_date"])
            per.setdefault(t["task_id"], []).append(((queued - previous_end).total_seconds(),
                                                     (start - queued).total_seconds(), (end - start).total_seconds()))
            previous_end = max(previous_end, end)
    return {k: tuple(statistics.median(x[i] for x in v) for i in range(3)) for k, v in per.items()}


def show(name: str, result: dict) -> float:
    runs = result["runs"]
    walls = [(_ts(r["end_date"]) - _ts(r["start_date"])).total_seconds() for r in runs]
    states = sorted({r["state"] for r in runs})
    ordered = sorted(runs, key=lambda r: r["start_date"])
    span = (_ts(ordered[-1]["end_date"]) - _ts(ordered[0]["start_date"])).total_seconds()
    per_run = span / max(1, len(runs))
    done = [t for t in result["tis"] if t["state"] == "success"]
    tails = [(_ts(r["end_date"]) - max(_ts(t["end_date"]) for t in done if t["dag_run_id"] == r["dag_run_id"]))
             .total_seconds() for r in runs]
    between = [(_ts(b["start_date"]) - _ts(a["end_date"])).total_seconds() for a, b in zip(ordered, ordered[1:])]
    print(f"\n{name}: {len(runs)} windows, first start to last end {span:.0f} s = {per_run:.1f} s per window; "
          f"states {states}\n  run wall median {statistics.median(walls):.1f} s, of which after its last task "
          f"{statistics.median(tails):.1f} s; between runs {statistics.median(between or [0]):.1f} s; "
          f"backfill marked complete {result['seconds'] - span:.0f} s after creation + the runs")
    print(f"  {'task':<24} {'sched wait':>10} {'queue':>7} {'run':>7}")
    total = [0.0, 0.0, 0.0]
    for task_id, parts in breakdown(result).items():
        print(f"  {task_id:<24} {parts[0]:>10.2f} {parts[1]:>7.2f} {parts[2]:>7.2f}")
        total = [a + b for a, b in zip(total, parts)]
    print(f"  {'sum':<24} {total[0]:>10.2f} {total[1]:>7.2f} {total[2]:>7.2f}")
    return per_run


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--windows", type=int, default=12, help="hourly windows per backfill")
    parser.add_argument("--timeout", type=float, default=1800)
    parser.add_argument("--only", choices=["bare", "pipeline"], help="one of the two backfills")
    parser.add_argument("--no-preload", action="store_true", help="the scheduler without PRELOAD (a plain `airflow`)")
    parser.add_argument("--via-up", action="store_true", help="start the deployment with make up's own command")
    parser.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                        help="extra environment for every component, e.g. AIRFLOW__CORE__PARALLELISM=2")
    args = parser.parse_args()
    extra = dict(item.split("=", 1) for item in args.set)
    day = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0) - timedelta(days=1)
    dags = Path(tempfile.mkdtemp(prefix="empathy-bench-dags-"))
    for source in (harness.REPO / "dags").glob("*.py"):
        (dags / source.name).write_text(source.read_text())
    (dags / "bare_chain.py").write_text(BARE_DAG)
    first = day - timedelta(hours=args.windows)
    try:
        return run(args, dags, day, first, extra)
    finally:
        shutil.rmtree(dags, ignore_errors=True)


def run(args, dags: Path, day: datetime, first: datetime, extra: dict) -> int:
    with harness.Airflow(dags_folder=dags, verbose=True, extra_env=extra, preload=not args.no_preload,
                         via_up=args.via_up) as af:
        harness.demo_data(af, "--start", day.isoformat())
        per_window = {}
        if args.only != "pipeline":
            per_window["bare"] = show("bare chain (the platform's floor)",
                                      backfill(af, "bare_chain", first, args.windows, args.timeout))
        if args.only != "bare":
            per_window["pipeline"] = show("empathy_pipeline",
                                          backfill(af, "empathy_pipeline", first, args.windows, args.timeout))
        if len(per_window) == 2:
            print(f"\nratio pipeline / bare chain per window: {per_window['pipeline'] / per_window['bare']:.2f}")
        for name, cost in per_window.items():
            print(f"7-day backfill (168 windows) at this rate: {name} {168 * cost / 60:.1f} min")
        print(f"health after: {af.health()}, exited components: {af.restarts() or 'none'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
