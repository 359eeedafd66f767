"""Run ``empathy_pipeline`` once, for real, through Airflow (``dag.test()``: the scheduler's own task
runner, in one process, on the metadata DB of $AIRFLOW_HOME). Exit 0 only when the run succeeded.

Used by ``make run`` and ``make demo``. Airflow's own output (task logs, its info lines) goes to a
file it names; the terminal gets a short summary of this run: what it ingested, the states of the
users it scored, what it decided. ``--conf '{"dry_run": true}'`` passes Params; ``--verbose`` shows
Airflow's output instead.
"""
from __future__ import annotations

import argparse
import contextlib
import json
import os
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


@contextlib.contextmanager
def output_to(log_path: Path | None):
    """Send this process's stdout and stderr (file descriptors, so subprocesses and C code too) to a file."""
    if log_path is None:
        yield
        return
    log_path.parent.mkdir(parents=True, exist_ok=True)
    sys.stdout.flush()
    sys.stderr.flush()
    saved = os.dup(1), os.dup(2)
    with log_path.open("w") as log:
        os.dup2(log.fileno(), 1)
        os.dup2(log.fileno(), 2)
        try:
            yield
        finally:
            sys.stdout.flush()
            sys.stderr.flush()
            os.dup2(saved[0], 1)
            os.dup2(saved[1], 2)
            for fd in saved:
                os.close(fd)


def run_summary(run_id: str) -> str:
    """The run's report (``empathy.report``): what this run ingested, the states it computed, what it decided."""
    from empathy import config, report, store

    with store.connect(config.load(), read_only=True) as con:
        return report.run_report(con, run_id)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--conf", default="{}", help="Params for the run, as JSON")
    parser.add_argument("--verbose", action="store_true", help="Airflow's output on the terminal, not in a file")
    args = parser.parse_args()
    home = Path(os.environ.get("AIRFLOW_HOME", ROOT / ".airflow" / "local"))
    log_path = None if args.verbose else home / "logs" / "last-run.log"

    started = time.monotonic()
    with output_to(log_path):
        from airflow.dag_processing.dagbag import DagBag

        bag = DagBag(dag_folder=str(ROOT / "dags"))
        dag = bag.get_dag("empathy_pipeline")
        run = dag.test(run_conf=json.loads(args.conf)) if dag is not None and not bag.import_errors else None
    if run is None:
        for path, error in bag.import_errors.items():
            print(f"import error in {path}:\n{error}", file=sys.stderr)
        return 2
    state = str(getattr(run, "state", "unknown")).rsplit(".", 1)[-1].lower()
    where = f"; Airflow's log: {log_path}" if log_path else ""
    print(f"empathy_pipeline run {run.run_id}: {state} in {time.monotonic() - started:.0f} s{where}")
    if state != "success":
        failed = [ti.task_id for ti in run.get_task_instances() if str(ti.state).endswith("failed")]
        print(f"failed tasks: {', '.join(failed) or '?'} (their logs are in the file above)", file=sys.stderr)
        return 1
    print(run_summary(run.run_id))
    return 0


if __name__ == "__main__":
    sys.exit(main())
