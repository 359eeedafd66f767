"""empathy_pipeline, run for real with dag.test() on the demo journeys: what a user of it would see.

One journey per test, each on its own EMPATHY_HOME, so no test depends on another's order: a dry run
against live stand-ins sends nothing and previews everything; the real run after it delivers every alert
and email exactly once through 429s and 500s; a new landed file is ingested and only its user rescored,
and nothing already sent is sent again.
"""
from __future__ import annotations

import json
from pathlib import Path

import pytest

from standins.sendgrid_server import SendGridStandin
from standins.slack_server import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


@pytest.fixture
def world(tmp_path, airflow_db, monkeypatch):
    """Demo data in a fresh EMPATHY_HOME, Slack and SendGrid stand-ins wired as Airflow connections."""
    from empathy import demo

    home = tmp_path / "home"
    monkeypatch.setenv("EMPATHY_HOME", str(home))
    monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")
    monkeypatch.setenv("EMPATHY_DELIVERY_TIMEOUT_S", "3")
    demo.generate(home / "landing", seed=7)
    with SlackStandin() as slack, SendGridStandin() as sendgrid:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())
        monkeypatch.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", sendgrid.connection())
        yield {"home": home, "slack": slack, "sendgrid": sendgrid}


def dag():
    """A freshly parsed DAG per run: dag.test(run_conf=...) leaves the conf on the DAG object's params."""
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags"))
    assert bag.import_errors == {}
    return bag.dags["empathy_pipeline"]


def query(sql, params=None):
    from empathy import config, store

    with store.connect(config.load(), read_only=True) as con:
        return con.execute(sql, params or []).fetchall()


def task_states(run) -> dict[str, str]:
    return {ti.task_id: str(ti.state).rsplit(".", 1)[-1].lower() for ti in run.get_task_instances()}


def test_dry_run_previews_everything_then_the_real_run_delivers_each_action_exactly_once(world):
    from empathy import demo

    slack, sendgrid = world["slack"], world["sendgrid"]
    dry = dag().test(run_conf={"dry_run": True})
    assert str(dry.state).endswith("success"), task_states(dry)
    assert slack.requests == [] and sendgrid.requests == []
    statuses = dict(query("SELECT status, count(*) FROM actions WHERE run_id = ? GROUP BY 1", [dry.run_id]))
    assert statuses.get("simulated", 0) > 0 and "sent" not in statuses and "pending" not in statuses
    assert query("SELECT DISTINCT simulation FROM actions WHERE run_id = ?", [dry.run_id]) == [("dry run",)]
    previews = query("SELECT preview_path FROM actions WHERE run_id = ? AND kind IN ('email', 'slack_alert') "
                     "AND status = 'simulated'", [dry.run_id])
    assert previews and all(p and Path(p).exists() for (p,) in previews)
    assert query("SELECT count(*) FROM user_state WHERE on_hold")[0][0] == 0   # a preview holds nobody
    states = task_states(dry)
    assert states["prepare"] == "success" and states["score"] == "skipped" and states["deliveries"] == "skipped"
    assert not any(p.name.startswith("manual__") for p in (world["home"] / "work").glob("*"))

    slack.fail_next(429, retry_after=1)
    slack.fail_next(500)
    sendgrid.fail_next(429, retry_after=1)
    sendgrid.fail_next(500)
    real = dag().test()
    assert str(real.state).endswith("success"), task_states(real)
    actions = query("SELECT action_id, kind, status, user_id FROM actions WHERE NOT simulate")
    assert {kind for _, kind, *_ in actions} >= {"hold", "slack_alert", "email"}
    assert [a for a in actions if a[2] in ("pending", "failed")] == []
    sent_alerts = sorted(a[0] for a in actions if a[1] == "slack_alert" and a[2] == "sent")
    sent_emails = sorted(a[0] for a in actions if a[1] == "email" and a[2] == "sent")
    assert sent_alerts and sorted(slack.action_ids()) == sent_alerts      # each alert once, none twice
    assert sent_emails and sorted(sendgrid.action_ids()) == sent_emails   # each email once, none twice
    assert any(r.faulted for r in slack.requests) and any(r.faulted for r in sendgrid.requests)

    states = dict(query("SELECT user_id, state FROM user_state"))
    assert states["user_b"] == "at_risk" and states["user_a"] != "at_risk"
    for user in {a[3] for a in actions if a[1] == "slack_alert"}:  # alerts: high-value negative accounts only
        assert demo.EXPECTED[user]["high_value"] and states[user] in ("frustrated", "at_risk"), user
    held = {u for (u,) in query("SELECT user_id FROM user_state WHERE on_hold")}
    assert held == {u for u, s in states.items() if s in ("frustrated", "at_risk")}
    report = query("SELECT stages->>'decide' FROM pipeline_runs WHERE run_id = ?", [real.run_id])[0][0]
    decide = json.loads(report)   # the dry run scored them; the real run still made the real decisions
    assert decide["holds"] == {"hold": {"sent": len(held)}}
    assert decide["decided"].get("slack_alert:pending") == len(sent_alerts)

    from empathy import config  # the Empathy page followed, without opening the database
    from empathy.ui.reader import ReadModel

    page = ReadModel(config.load().ui_path).snapshot()
    assert page.one("page_run", {"run_id": real.run_id}) and page.one("page_run", {"run_id": dry.run_id})
    shown = page.rows("page_user_actions", {"user_id": "user_b", "limit": 50, "offset": 0})
    assert {a["status"] for a in shown if a["kind"] == "slack_alert"} >= {"simulated", "sent"}


def test_a_new_landed_file_rescored_its_user_only_and_nothing_is_sent_twice(world):
    slack, sendgrid = world["slack"], world["sendgrid"]
    first = dag().test()
    assert str(first.state).endswith("success"), task_states(first)
    sent_first = {standin: standin.action_ids() for standin in (slack, sendgrid)}
    event = {"type": "track", "messageId": "late-1", "userId": "u_gus", "event": "Command Executed",
             "timestamp": "2026-11-26T10:00:00Z", "properties": {"command": "empathy deploy"}}
    (world["home"] / "landing" / "zz-late.jsonl").write_text(json.dumps(event) + "\n")
    before = dict(query("SELECT user_id, updated_at FROM user_state"))
    again = dag().test()
    assert str(again.state).endswith("success"), task_states(again)
    after = dict(query("SELECT user_id, updated_at FROM user_state"))
    assert {u for u in after if after[u] != before.get(u)} == {"u_gus"}
    assert query("SELECT loaded FROM ingested_files WHERE file_name = 'zz-late.jsonl'") == [(1,)]
    for standin, before_ids in sent_first.items():
        ids = standin.action_ids()
        assert ids[:len(before_ids)] == before_ids and len(set(ids)) == len(ids)   # nothing sent twice
        # what the second run sent, if anything, it decided itself (a step that fell due between the runs:
        # quiet hours ending at 8:00 somewhere), never one of the first run's messages again
        for action_id in ids[len(before_ids):]:
            assert query("SELECT run_id FROM actions WHERE action_id = ?", [action_id]) == [(again.run_id,)], action_id


def test_a_run_configuration_with_a_typo_is_refused_before_anything_happens(world):
    run = dag().test(run_conf={"dryrun": True})
    assert str(run.state).endswith("failed")
    assert not (world["home"] / "empathy.duckdb").exists() or query("SELECT count(*) FROM events")[0][0] == 0
    assert world["sendgrid"].requests == []
    posted = [json.loads(r.body) for r in world["slack"].requests]   # only the team's failure alert, once
    assert len(posted) == 1 and "failed" in posted[0]["text"] and posted[0]["channel"] == "#empathy-alerts"
