"""empathy_pipeline on a production-shaped Airflow: PostgreSQL metadata, CeleryExecutor on Redis, a
duckdb-queue worker and a default-queue worker that cannot open DuckDB (tests/stack.py, on the
harness's embedded PostgreSQL and pre-migrated template).

Two runs overlap: the pipeline's landing watcher starts one when files land, a person triggers
another at the same moment. Both must succeed with no DuckDB lock error in any task log, and leave
the same ``user_state`` and ``actions`` as the same runs executed in-process one after the other, in
the order the one-slot pool let them write. Skipped only when Redis (the broker) is unreachable.
"""
from __future__ import annotations

import ast
import inspect
import shutil
import sys
import textwrap
from datetime import datetime
from pathlib import Path
from types import SimpleNamespace

import pytest

import harness
import stack
from standins.slack_server import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(900)]


@pytest.fixture(scope="module")
def ran():
    """One stack, two overlapping pipeline runs; the temp dir is kept until the module is done.
    The components' logs are printed at teardown, which pytest shows when a test failed."""
    reason = harness.redis_unreachable()
    if reason:
        pytest.skip(f"the Celery stack needs a Redis broker: {reason}")
    # Slack wired to a stand-in: its alerts are requests, sent from the default worker (a channel with no
    # connection would be previewed in the decide step, and nothing would run on the default queue)
    with SlackStandin() as slack:
        s = stack.celery_stack(keep_files=True, extra_env={"AIRFLOW_CONN_SLACK_API_DEFAULT": slack.connection()})
        try:
            with s:
                result = stack.pipeline(s, timeout=600)
                print(stack.summary(result))
            result["slack"] = slack
            yield s, result
        finally:
            print(s.report())
            shutil.rmtree(s.root, ignore_errors=True)


def _ts(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


# --- the runs ----------------------------------------------------------------------------------------

def test_a_watcher_triggered_and_a_manual_run_overlap_and_both_succeed(ran):
    _, result = ran
    runs = result["runs"]
    assert {r["dag_run_id"]: r["state"] for r in runs} == {r["dag_run_id"]: "success" for r in runs}
    manual = [r for r in runs if r["run_type"] == "manual"]
    triggered = [r for r in runs if r["run_type"] == "asset_triggered"]
    assert manual and triggered, [(r["dag_run_id"], r["run_type"]) for r in runs]
    a, b = triggered[0], manual[0]
    assert _ts(a["start_date"]) < _ts(b["end_date"]) and _ts(b["start_date"]) < _ts(a["end_date"]), \
        "the two runs did not overlap"


def test_no_duckdb_lock_error_in_any_task_log(ran):
    s, result = ran
    logs = list(s.logs.rglob("*.log"))
    assert any("dag_id=empathy_pipeline" in str(p) for p in logs), "no task logs to check"
    assert result["lock_errors"] == []


# --- one writer --------------------------------------------------------------------------------------

def _opens_duckdb_functions(module) -> set[str]:
    """Functions of a module that open the DuckDB file: call store.connect, or one that does (transitively)."""
    tree = ast.parse(inspect.getsource(module))
    calls: dict[str, set[str]] = {}
    for node in tree.body:
        if isinstance(node, ast.FunctionDef):
            names = set()
            for sub in ast.walk(node):
                if isinstance(sub, ast.Call):
                    f = sub.func
                    if isinstance(f, ast.Attribute) and isinstance(f.value, ast.Name):
                        names.add(f"{f.value.id}.{f.attr}")
                    elif isinstance(f, ast.Name):
                        names.add(f.id)
            calls[node.name] = names
    opens = {name for name, called in calls.items() if "store.connect" in called}
    while True:
        more = {name for name, called in calls.items() if called & opens} - opens
        if not more:
            return opens
        opens |= more


def _task_opens_duckdb(task, pipeline_openers: set[str]) -> bool:
    """Does this task's code open DuckDB: store.connect itself, or a pipeline stage that does?

    A Python task is read through its callable; any other operator (the Batch API's deferrable wait) through
    its class, so a new operator that opens DuckDB is found too."""
    code = [task.python_callable] if hasattr(task, "python_callable") else [
        f for f in vars(type(task)).values() if inspect.isfunction(f)]
    assert code, task.task_id
    called = {f"{n.func.value.id}.{n.func.attr}" for fn in code
              for n in ast.walk(ast.parse(textwrap.dedent(inspect.getsource(fn))))
              if isinstance(n, ast.Call) and isinstance(n.func, ast.Attribute) and isinstance(n.func.value, ast.Name)}
    return "store.connect" in called or any(f"pipeline.{name}" in called for name in pipeline_openers)


def test_every_task_that_opens_duckdb_is_on_the_duckdb_queue_and_pool():
    """Found from the code, not from a list: a new task that opens DuckDB without DUCKDB_TASK fails here."""
    from airflow.dag_processing.dagbag import DagBag

    from empathy import pipeline
    from empathy.runs import DUCKDB_POOL, DUCKDB_QUEUE

    openers = _opens_duckdb_functions(pipeline)
    assert {"prepare", "decide", "claim", "record", "report", "finish"} <= openers
    assert not {"score_batch", "rewrite", "send"} & openers
    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["empathy_pipeline"]
    on_duckdb = {t.task_id for t in dag.tasks if _task_opens_duckdb(t, openers)}
    assert {"prepare", "decide", "slack_alerts.claim", "emails.record", "report"} <= on_duckdb
    for task in dag.tasks:
        if task.task_id in on_duckdb:
            assert (task.queue, task.pool) == (DUCKDB_QUEUE, DUCKDB_POOL), task.task_id
        else:  # nothing else takes the writer's slot or its one worker
            assert task.queue != DUCKDB_QUEUE and task.pool != DUCKDB_POOL, task.task_id


def test_duckdb_tasks_ran_on_the_duckdb_worker_and_the_rest_without_duckdb(ran):
    """On the stack the default worker's EMPATHY_HOME is unusable, so what succeeded there needs no DuckDB."""
    _, result = ran
    from empathy.runs import DUCKDB_POOL

    where = result["executed_on"]
    for run_id, tis in result["tasks"].items():
        for ti in tis:
            if ti["state"] != "success":
                continue
            if ti["pool"] == DUCKDB_POOL:
                assert ti["task_id"] in where["worker-duckdb"], (run_id, ti["task_id"])
                assert ti["task_id"] not in where["worker-default"], (run_id, ti["task_id"])
    assert where["worker-default"], "nothing ran on the default queue: the split was not exercised"
    import duckdb

    con = duckdb.connect(str(result["db_path"]), read_only=True)
    try:
        sent = sorted(a for (a,) in con.execute("SELECT action_id FROM actions WHERE kind = 'slack_alert' "
                                                "AND status = 'sent'").fetchall())
    finally:
        con.close()
    assert sent and sorted(result["slack"].action_ids()) == sent   # sent from there, each alert once


# --- same results as the embedded runs ----------------------------------------------------------------

def _replay(settings, runs: list[dict], tasks: dict[str, list[dict]]) -> None:
    """The stack's runs, in-process (the DAG's stages in its order, tests/runner.py), one after the other
    in the order the one-slot pool let them write."""
    from runner import run_window as run_stages

    from empathy.runs import run_window

    def prepare_started(run):
        starts = [t["start_date"] for t in tasks[run["dag_run_id"]] if t["task_id"] == "prepare"]
        return starts[0] if starts and starts[0] else "9999"

    for run in sorted(runs, key=prepare_started):
        context = {"dag_run": SimpleNamespace(run_type=run["run_type"], run_after=_ts(run["run_after"])),
                   "data_interval_start": _ts(run["data_interval_start"]),
                   "data_interval_end": _ts(run["data_interval_end"]), "logical_date": _ts(run["logical_date"])}
        as_of, since = run_window(context)
        run_stages(settings, as_of, since=since, run_id=run["dag_run_id"], run_type=run["run_type"])


def _results(db_path: Path) -> tuple[set, set]:
    import duckdb

    con = duckdb.connect(str(db_path), read_only=True)
    try:
        states = set(con.execute("SELECT user_id, state, on_hold FROM user_state").fetchall())
        actions = set(con.execute("SELECT action_id, kind, status FROM actions").fetchall())
    finally:
        con.close()
    return states, actions


def test_same_user_state_and_actions_as_the_embedded_runs(ran, tmp_path):
    s, result = ran
    from empathy import config

    home = tmp_path / "embedded"
    shutil.copytree(s.empathy_home / "landing", home / "landing")  # the very same files, mtimes kept
    settings = config.load({"home": str(home), "landing_settle_s": 0})
    with SlackStandin() as slack, pytest.MonkeyPatch.context() as mp:   # as the stack's workers had it
        mp.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())
        _replay(settings, result["runs"], result["tasks"])

    celery_states, celery_actions = _results(result["db_path"])
    embedded_states, embedded_actions = _results(settings.db_path)
    assert len(embedded_states) >= 10 and embedded_actions, "the demo data should give states and actions"
    order = [(r["dag_run_id"], t["task_id"]) for r in result["runs"] for t in result["tasks"][r["dag_run_id"]]
             if t["pool"] == "duckdb" and t["start_date"]]
    order.sort(key=lambda rt: next(t["start_date"] for t in result["tasks"][rt[0]] if t["task_id"] == rt[1]))
    where = f"DuckDB tasks in the order the pool ran them: {order}"
    assert celery_states == embedded_states, (
        f"user_state differs (user: celery vs embedded): {_diff(celery_states, embedded_states)}\n{where}")
    assert celery_actions == embedded_actions, (
        f"actions differ (id: celery vs embedded): {_diff(celery_actions, embedded_actions)}\n{where}")


def _diff(celery: set, embedded: set) -> dict:
    left, right = {r[0]: r[1:] for r in celery}, {r[0]: r[1:] for r in embedded}
    return {k: (left.get(k), right.get(k)) for k in sorted(set(left) | set(right)) if left.get(k) != right.get(k)}


def test_the_lock_check_recognises_duckdbs_own_lock_error(tmp_path):
    """The 'no lock error' assertion is only as good as its pattern: match DuckDB's real message."""
    import subprocess

    import duckdb

    db = tmp_path / "held.duckdb"
    code = f"import duckdb, time; c = duckdb.connect({str(db)!r}); print('holding', flush=True); time.sleep(60)"
    holder = subprocess.Popen([sys.executable, "-c", code], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "holding"
        with pytest.raises(duckdb.IOException) as err:
            duckdb.connect(str(db))
    finally:
        holder.kill()
        holder.wait()
    assert harness.LOCK_ERROR.search(str(err.value)), str(err.value)
    assert not harness.LOCK_ERROR.search("pool duckdb: 1 slot, task queued on queue duckdb")
