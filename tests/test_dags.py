"""DAG integrity: every file imports, parses fast, uses Airflow 3 imports, and keeps DuckDB to one writer."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
DAGS = ROOT / "dags"
VENV_BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def dagbag(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    return DagBag(dag_folder=str(DAGS))


def test_every_dag_file_imports_without_errors(dagbag):
    assert dagbag.import_errors == {}
    assert "empathy_pipeline" in dagbag.dag_ids


def test_pipeline_is_time_scheduled_with_data_intervals_or_when_files_land(dagbag):
    from airflow.sdk import AssetOrTimeSchedule, CronDataIntervalTimetable

    dag = dagbag.dags["empathy_pipeline"]
    assert isinstance(dag.timetable, AssetOrTimeSchedule)
    assert isinstance(dag.timetable.timetable, CronDataIntervalTimetable)  # a backfill over a date range means something
    assert dag.timetable.timetable.expression == "0 * * * *"
    assert dag.catchup is False
    assert {"dry_run", "deliver", "scorer", "scenario", "holdout_pct", "rage_clicks"} <= set(dag.params.keys())
    assert dag.doc_md and "Dry run" in dag.doc_md


def test_the_trigger_form_reads_like_a_product(dagbag):
    """Titles, help text, sections and ranges; nothing falsely required; thresholds empty by default."""
    dag = dagbag.dags["empathy_pipeline"]
    for name in dag.params:
        schema = dag.params.get_param(name).schema
        assert schema.get("title") and dag.params.get_param(name).description and schema.get("section"), name
        assert name == "dry_run" or "docs_dwell_s" not in schema["title"]
        assert "null" in schema["type"], f"{name} would show as required"
    holdout = dag.params.get_param("holdout_pct").schema
    assert holdout["minimum"] == 0 and holdout["maximum"] == 100 and "null" in holdout["type"]
    assert dag.params.get_param("dry_run").value is False and dag.params.get_param("holdout_pct").value is None
    assert dag.params.get_param("docs_dwell_s").schema["title"] == "Docs dwell (seconds)"


def test_every_task_that_opens_duckdb_takes_the_one_slot_pool_and_queue(dagbag):
    from empathy.runs import DUCKDB_POOL, DUCKDB_QUEUE

    dag = dagbag.dags["empathy_pipeline"]
    opens_duckdb = {"prepare", "decide", "report",
                    "slack_alerts.claim", "slack_alerts.record", "emails.claim", "emails.record"}
    no_database = {"batches", "score", "batch_submit", "batch_wait", "batch_collect", "send_now", "deliveries",
                   "slack_alerts.send", "emails.rewrite", "emails.send"}
    assert set(dag.task_dict) == opens_duckdb | no_database
    for task_id in opens_duckdb:
        task = dag.get_task(task_id)
        assert (task.pool, task.queue) == (DUCKDB_POOL, DUCKDB_QUEUE), task_id
    for task_id in no_database:
        assert dag.get_task(task_id).pool != DUCKDB_POOL, task_id


def test_a_window_that_needs_no_network_is_one_task(dagbag):
    """Everything downstream of prepare is reached only through its branch: a backfill window (simulated,
    offline scorer, nothing to send) runs prepare alone."""
    dag = dagbag.dags["empathy_pipeline"]
    reachable = set()
    for branch in ("batches", "batch_submit", "send_now"):
        reachable |= {branch} | {t.task_id for t in dag.get_task(branch).get_flat_relatives(upstream=False)}
    assert reachable == set(dag.task_dict) - {"prepare"}   # an empty branch skips every other task
    assert dag.get_task("deliveries").upstream_task_ids == {"decide", "send_now"}


@pytest.mark.parametrize("dag_file", sorted(p.name for p in DAGS.glob("empathy_*.py")))
def test_dag_file_parses_fast_beyond_airflow_sdk(dag_file):
    code = (
        f"import time, sys, importlib.util; import airflow.sdk; sys.path.insert(0, {str(DAGS)!r}); "
        f"t = time.perf_counter(); spec = importlib.util.spec_from_file_location('m', {str(DAGS / dag_file)!r}); "
        "m = importlib.util.module_from_spec(spec); spec.loader.exec_module(m); print(time.perf_counter() - t)"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, env=os.environ)
    seconds = float(out.stdout.strip().splitlines()[-1])
    print(f"{dag_file}: {seconds:.3f} s beyond airflow.sdk")
    # Not a speed benchmark: a guard against heavy top-level imports (duckdb, pandas, SDKs) sneaking in.
    modules = subprocess.run(
        [sys.executable, "-c", code.replace("print(time.perf_counter() - t)",
                                            "print(' '.join(sorted(sys.modules)))")],
        capture_output=True, text=True, check=True, env=os.environ).stdout
    for heavy in ("duckdb", "pandas", "openai", "slack_sdk", "sendgrid", "empathy.pipeline"):
        assert f" {heavy} " not in f" {modules.strip()} ", f"{dag_file} imports {heavy} at parse time"


def test_ruff_air3_is_clean():
    result = subprocess.run([str(VENV_BIN / "ruff"), "check", "--select", "AIR3", str(DAGS), str(ROOT / "plugins")],
                            capture_output=True, text=True)
    assert result.returncode == 0, result.stdout + result.stderr
