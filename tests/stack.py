"""`make stack`: a production-shaped Airflow on this machine, without Docker (the harness's Celery shape).

Same shape as docker-compose.yaml: metadata in PostgreSQL (the harness's embedded server, a database
cloned from the migrated template), CeleryExecutor with Redis as broker (a free Redis database number)
and Postgres as result backend; scheduler, dag-processor, triggerer, api-server and two Celery workers:

- ``duckdb`` worker: ``--queues duckdb --concurrency 1``, the only process that sees EMPATHY_HOME;
- ``default`` worker: the default queue; its EMPATHY_HOME points *under a regular file*, so a task
  wrongly routed there fails loudly instead of quietly creating a second database.

``pipeline()`` runs empathy_pipeline twice, overlapping: files land, the pipeline's landing watcher
(in the triggerer) starts one run, and a person triggers another at the same moment. Exit 0 only if
both succeed with no DuckDB lock error in any task log. ``--smoke`` checks the stack alone with a
tiny DAG (queue routing, pool); ``--keep`` leaves it up until Ctrl-C.
"""
from __future__ import annotations

import argparse
import contextlib
import shutil
import signal
import sys
import tempfile
import textwrap
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

import harness  # noqa: E402

PIPELINE = "empathy_pipeline"


def celery_stack(**kwargs) -> harness.Airflow:
    return harness.Airflow(executor="CeleryExecutor", **kwargs)


SMOKE_DAG = textwrap.dedent('''
    """Stack smoke test: one task on the duckdb queue and pool, one on the default queue."""
    import os
    from datetime import datetime
    from airflow.sdk import dag, task

    @dag(dag_id="stack_smoke", schedule=None, start_date=datetime(2026, 1, 1), catchup=False)
    def stack_smoke():
        @task(queue=os.environ.get("EMPATHY_DUCKDB_QUEUE", "duckdb"), pool="duckdb")
        def on_duckdb_worker():
            import duckdb
            home = os.environ["EMPATHY_HOME"]
            os.makedirs(home, exist_ok=True)
            con = duckdb.connect(os.path.join(home, "smoke.duckdb"))
            con.execute("CREATE TABLE IF NOT EXISTS t AS SELECT 42 AS answer")
            return con.execute("SELECT answer FROM t").fetchone()[0]

        @task
        def on_default_worker(answer):
            return {"answer": answer, "home_usable": os.path.isdir(os.path.dirname(os.environ["EMPATHY_HOME"]))}

        on_default_worker(on_duckdb_worker())

    stack_smoke()
''')


def smoke() -> int:
    dags = Path(tempfile.mkdtemp(prefix="empathy-smoke-dags-"))
    (dags / "stack_smoke.py").write_text(SMOKE_DAG)
    try:
        with celery_stack(dags_folder=dags, verbose=True) as s:
            s.wait_for_dag("stack_smoke")
            s.set_paused("stack_smoke", False)
            s.trigger("stack_smoke", "smoke-1")
            runs = s.wait(lambda: [r for r in s.runs("stack_smoke") if r["state"] in harness.TERMINAL], 300,
                          "the smoke run")
            where = s.executed_on()
            ok = (runs[0]["state"] == "success"
                  and "on_duckdb_worker" in where.get("worker-duckdb", set())
                  and "on_default_worker" in where.get("worker-default", set()))
            for t in s.task_instances("stack_smoke", "smoke-1"):
                print(f"  {t['task_id']:<20} {t['state']:<8} queue={t['queue']} pool={t['pool']}")
            print(f"  executed on: { {k: sorted(v) for k, v in where.items()} }")
            print("smoke:", "OK" if ok else "FAILED")
            return 0 if ok else 1
    finally:
        shutil.rmtree(dags, ignore_errors=True)


def watcher_ready(stack: harness.Airflow) -> bool:
    """The landing asset's watcher is registered (the DAG file was parsed unpaused)."""
    assets = stack.api("GET", "/api/v2/assets?name_pattern=empathy_landing").get("assets", [])
    return any(a.get("watchers") for a in assets)


def pipeline(stack: harness.Airflow, timeout: float = 600) -> dict:
    """empathy_pipeline twice at once: files land, the watcher starts a run, a person triggers another."""
    stack.wait_for_dag(PIPELINE)
    stack.set_paused(PIPELINE, False)  # catchup is off: the schedule adds its latest (empty) interval
    stack.wait(lambda: watcher_ready(stack), timeout, "the landing watcher to be registered")
    stack.wait(lambda: all(r["state"] in harness.TERMINAL for r in stack.runs(PIPELINE)), timeout,
               "the scheduled run over the empty landing folder")
    before = {r["dag_run_id"] for r in stack.runs(PIPELINE)}
    started = time.monotonic()
    harness.demo_data(stack)
    stack.trigger(PIPELINE, "manual__stack", conf={})

    def finished():
        runs = [r for r in stack.runs(PIPELINE) if r["dag_run_id"] not in before]
        kinds = {r["run_type"] for r in runs}
        if {"asset_triggered", "manual"} <= kinds and all(r["state"] in harness.TERMINAL for r in runs):
            return runs
        return None
    runs = stack.wait(finished, timeout, "the watcher-triggered and the manual pipeline runs", every=3.0)
    elapsed = time.monotonic() - started
    stack.set_paused(PIPELINE, True)
    tasks = {r["dag_run_id"]: stack.task_instances(PIPELINE, r["dag_run_id"]) for r in runs}
    return {"runs": runs, "tasks": tasks, "lock_errors": stack.lock_errors(), "executed_on": stack.executed_on(),
            "seconds": elapsed, "db_path": stack.empathy_home / "empathy.duckdb"}


def summary(result: dict) -> str:
    lines = [f"empathy_pipeline on CeleryExecutor: {len(result['runs'])} run(s) in {result['seconds']:.0f}s"]
    for run in result["runs"]:
        lines.append(f"  run {run['dag_run_id']} ({run['run_type']}): {run['state']}")
        for t in sorted(result["tasks"][run["dag_run_id"]], key=lambda t: t.get("start_date") or ""):
            lines.append(f"    {t['task_id']:<32} {t['state']!s:<10} queue={t['queue']:<8} pool={t['pool']}"
                         f" {t.get('duration') or 0:6.1f}s")
    lines.append(f"  DuckDB lock errors in task logs: {len(result['lock_errors'])}")
    lines.extend(f"    {hit}" for hit in result["lock_errors"][:10])
    for worker, task_ids in sorted(result["executed_on"].items()):
        lines.append(f"  {worker} executed: {', '.join(sorted(task_ids)) or '-'}")
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="check the stack with a tiny DAG only")
    parser.add_argument("--keep", action="store_true", help="leave the stack running until Ctrl-C")
    parser.add_argument("--timeout", type=float, default=900, help="seconds to wait for the runs")
    parser.add_argument("--keep-files", action="store_true", help="keep the temp dir (logs, DuckDB) afterwards")
    args = parser.parse_args(argv)
    # Ctrl-C and SIGTERM unwind through the context managers, so everything is stopped.
    signal.signal(signal.SIGTERM, lambda *_: sys.exit(143))
    reason = harness.redis_unreachable()
    if reason:
        print(f"make stack needs a Redis broker on this machine: {reason}", file=sys.stderr)
        return 2
    if args.smoke:
        return smoke()
    with celery_stack(keep_files=args.keep_files, verbose=True) as stack:
        try:
            result = pipeline(stack, args.timeout)
        except BaseException:
            print(stack.report())
            raise
        print(summary(result))
        ok = all(r["state"] == "success" for r in result["runs"]) and not result["lock_errors"]
        if args.keep:
            print(f"stack left up at {stack.url} (admin / {stack.password}); Ctrl-C to stop")
            with contextlib.suppress(KeyboardInterrupt):
                while True:
                    stack.check_alive()
                    time.sleep(5)
        print("stack:", "OK" if ok else "FAILED", f"(files kept in {stack.root})" if args.keep_files else "")
        return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
