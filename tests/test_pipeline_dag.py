"""empathy_pipeline, run for real with dag.test() on the demo journeys: what a user of it would see.

Runs in order, on one EMPATHY_HOME (module-scoped): a dry run against live stand-ins sends nothing;
the real run delivers every alert and email exactly once through 429s and 500s; a rerun sends nothing.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from standins.sendgrid_server import SendGridStandin
from standins.slack_server import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def world(tmp_path_factory, airflow_db):
    """Demo data in a fresh EMPATHY_HOME, Slack and SendGrid stand-ins wired as Airflow connections."""
    from empathy import demo

    mp = pytest.MonkeyPatch()
    home = tmp_path_factory.mktemp("pipeline-home")
    mp.setenv("EMPATHY_HOME", str(home))
    mp.setenv("EMPATHY_LANDING_SETTLE_S", "0")
    mp.setenv("EMPATHY_DELIVERY_TIMEOUT_S", "3")
    demo.generate(home / "landing", seed=7)
    with SlackStandin() as slack, SendGridStandin() as sendgrid:
        mp.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())
        mp.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", sendgrid.connection())
        yield {"home": home, "slack": slack, "sendgrid": sendgrid}
    mp.undo()


@pytest.fixture
def dag(airflow_db):
    """A freshly parsed DAG per test: dag.test(run_conf=...) leaves the conf on the DAG object's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.get_dag("empathy_pipeline")


def query(sql, params=None):
    from empathy import config, store

    with store.connect(config.load()) as con:
        return con.execute(sql, params or []).fetchall()


def task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state) for ti in run.get_task_instances()}


def test_1_dry_run_decides_and_previews_but_sends_nothing(world, dag):
    run = dag.test(run_conf={"dry_run": True})
    assert str(run.state).endswith("success"), task_states(run)

    assert world["slack"].requests == [] and world["sendgrid"].requests == []
    statuses = dict(query("SELECT status, count(*) FROM actions WHERE run_id = ? GROUP BY 1", [run.run_id]))
    assert statuses.get("simulated", 0) > 0 and "sent" not in statuses and "pending" not in statuses
    previews = query("SELECT preview_path FROM actions WHERE run_id = ? AND kind IN ('email', 'slack_alert') "
                     "AND status = 'simulated'",
                     [run.run_id])
    assert previews and all(p and Path(p).exists() for (p,) in previews)
    # a dry run is a preview: nobody is actually put on hold
    assert query("SELECT count(*) FROM user_state WHERE on_hold")[0][0] == 0
    # the run's hand-off files are gone once it succeeded; the UI snapshot is fresh
    assert not any(p.name.startswith("manual__") for p in (world["home"] / "work").glob("*"))
    assert (world["home"] / "outbox" / "snapshot.json").exists()


def test_2_real_run_delivers_each_action_exactly_once_through_faults(world, dag):
    from empathy import demo

    slack, sendgrid = world["slack"], world["sendgrid"]
    slack.fail_next(429, retry_after=1)
    slack.fail_next(500)
    sendgrid.fail_next(429, retry_after=1)
    sendgrid.fail_next(500)

    run = dag.test()
    assert str(run.state).endswith("success"), task_states(run)

    actions = query("SELECT action_id, kind, status, user_id, detail FROM actions WHERE NOT simulate")
    assert {kind for _, kind, *_ in actions} >= {"hold", "slack_alert", "email"}
    assert [a for a in actions if a[2] in ("pending", "failed")] == []

    sent_alerts = sorted(a[0] for a in actions if a[1] == "slack_alert" and a[2] == "sent")
    sent_emails = sorted(a[0] for a in actions if a[1] == "email" and a[2] == "sent")
    slack_ids = sorted(slack.action_ids())
    mail_ids = sorted(sendgrid.action_ids())
    assert sent_alerts and slack_ids == sent_alerts          # each alert once, none twice
    assert sent_emails and mail_ids == sent_emails           # each email once, none twice
    assert any(r.faulted for r in slack.requests) and any(r.faulted for r in sendgrid.requests)

    # the seed's two users, as a support lead would describe them
    states = dict(query("SELECT user_id, state FROM user_state"))
    assert states["user_b"] == "at_risk"
    assert states["user_a"] != "at_risk"
    # alerts went to high-value negative accounts only
    alerted_users = {a[3] for a in actions if a[1] == "slack_alert"}
    for user in alerted_users:
        assert demo.EXPECTED[user]["high_value"], user
        assert states[user] in ("frustrated", "at_risk"), user
    # held users are exactly the ones trending negative
    held = {u for (u,) in query("SELECT user_id FROM user_state WHERE on_hold")}
    assert held == {u for u, s in states.items() if s in ("frustrated", "at_risk")}


def test_3_rerun_with_nothing_new_sends_nothing(world, dag):
    slack, sendgrid = world["slack"], world["sendgrid"]
    before = (len(slack.requests), len(sendgrid.requests), query("SELECT count(*) FROM actions")[0][0])
    run = dag.test()
    assert str(run.state).endswith("success"), task_states(run)
    assert (len(slack.requests), len(sendgrid.requests)) == before[:2]
    assert query("SELECT count(*) FROM actions")[0][0] == before[2]
    assert task_states(run).get("nothing_to_deliver") in ("success", "TaskInstanceState.SUCCESS")


def test_4_new_landed_file_is_ingested_and_only_its_user_rescored(world, dag):
    landing = world["home"] / "landing"
    event = {"type": "track", "messageId": "late-1", "userId": "u_gus", "event": "Command Executed",
             "timestamp": "2026-11-26T10:00:00Z", "properties": {"command": "empathy deploy"}}
    (landing / "zz-late.jsonl").write_text(json.dumps(event) + "\n")
    before = dict(query("SELECT user_id, updated_at FROM user_state"))
    run = dag.test()
    assert str(run.state).endswith("success"), task_states(run)
    after = dict(query("SELECT user_id, updated_at FROM user_state"))
    assert {u for u in after if after[u] != before.get(u)} == {"u_gus"}
    assert query("SELECT loaded FROM ingested_files WHERE file_name = 'zz-late.jsonl'") == [(1,)]
