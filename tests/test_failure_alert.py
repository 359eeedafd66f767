"""A failed task alerts Slack through Airflow's SlackNotifier when Slack is configured, and only then."""
from __future__ import annotations

import json
from types import SimpleNamespace

from empathy.connections import notify_failure
from standins.slack_server import SlackStandin


def failed_context():
    ti = SimpleNamespace(task_id="apply_and_decide", try_number=3, log_url="http://localhost:8080/log/1")
    from airflow.sdk import DAG

    dag = DAG("empathy_pipeline", schedule=None)  # the notifier renders its text with the DAG's template env
    return {"ti": ti, "task_instance": ti, "dag": dag, "run_id": "scheduled__2026-11-26T10:00:00+00:00"}


def test_failure_alert_goes_to_slack_with_task_and_run(monkeypatch, settings):
    with SlackStandin() as slack:
        monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())
        notify_failure(failed_context())
        (post,) = slack.served("chat.postMessage")
    body = post.json if post.headers.get("Content-Type", "").startswith("application/json") else None
    text = json.dumps(body) if body is not None else post.text
    assert "apply_and_decide" in text and "scheduled__2026-11-26T10:00:00" in text and "empathy_pipeline" in text
    assert settings.slack_fallback_channel.lstrip("#") in text


def test_no_slack_connection_means_no_alert_and_no_crash(capsys):
    notify_failure(failed_context())
    assert "no Slack connection" in capsys.readouterr().out
