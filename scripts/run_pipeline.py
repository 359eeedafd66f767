"""Run ``empathy_pipeline`` once, for real, through Airflow (``dag.test()``: the scheduler's own task
runner, in one process, on the metadata DB of $AIRFLOW_HOME). Exit 0 only when the run succeeded.

Used by ``make run`` and ``make demo``. ``--conf '{"dry_run": true}'`` passes Params.
"""
from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--conf", default="{}", help="Params for the run, as JSON")
    args = parser.parse_args()

    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    if bag.import_errors:
        for path, error in bag.import_errors.items():
            print(f"import error in {path}:\n{error}", file=sys.stderr)
        return 2
    dag = bag.get_dag("empathy_pipeline")
    run = dag.test(run_conf=json.loads(args.conf))
    state = str(getattr(run, "state", "unknown"))
    print(f"empathy_pipeline run {getattr(run, 'run_id', '?')}: {state}")
    return 0 if state.endswith("success") else 1


if __name__ == "__main__":
    sys.exit(main())
