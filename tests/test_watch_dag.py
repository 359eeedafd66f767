"""The near-real-time path, run with dag.test(): a new landed file triggers empathy_pipeline once."""
from __future__ import annotations

import hashlib
import json
import uuid
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def pipeline_runs(prefix: str) -> list[str]:
    from airflow.models.dagrun import DagRun
    from airflow.utils.session import create_session

    with create_session() as session:
        return sorted(r.run_id for r in session.query(DagRun).filter(DagRun.dag_id == "empathy_pipeline")
                      if r.run_id.startswith(prefix))


def watch_dag():
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("empathy_landing_watch")


def test_new_file_triggers_one_pipeline_run(airflow_db, settings):
    from empathy.ingest import pending_files

    event = {"type": "track", "messageId": "w-1", "userId": "u1", "event": "Command Executed",
             "timestamp": "2026-11-26T10:00:00Z", "properties": {"command": "deploy"}}
    name = f"watch-{uuid.uuid4().hex}.jsonl"  # a file set never seen before, in any test session
    (settings.landing / name).write_text(json.dumps(event) + "\n")
    assert pending_files(settings) == [name]
    expected_run = "landing__" + hashlib.sha256(name.encode()).hexdigest()[:16]
    assert pipeline_runs(expected_run) == []

    run = watch_dag().test()
    states = {ti.task_id: str(ti.state) for ti in run.get_task_instances()}
    assert str(run.state).endswith("success"), states
    assert pipeline_runs(expected_run) == [expected_run]

    # the same unprocessed file seen again (the next minute) does not start a second run for it
    before = pipeline_runs("landing__")
    run = watch_dag().test()
    assert str(run.state).endswith("success")
    assert pipeline_runs("landing__") == before
