"""A backfill a marketer can trust, the way the UI's Backfill dialog makes it, on the `make up` shape.

A live deployment started by `make up`'s own command (``local_airflow.py up``: LocalExecutor,
scheduler, dag-processor, triggerer and api-server, with its tuning), on a database of the harness's
embedded PostgreSQL cloned from the migrated template. Slack and
SendGrid are configured and point at stand-ins. The landed history is ingested first (so the landing
watcher has nothing to announce); unpausing the DAG starts its latest scheduled run, which scores
everyone and delivers its own, real decisions, as a live deployment would have. Then
``POST /api/v2/backfills`` with the dialog's defaults asks for the last twelve hourly windows.

The backfill must be accepted (no "database is locked"), every run must succeed, the scheduler must
be healthy after it, nothing it decided may leave the machine, and the simulated concierge alerts
must respect the 24 h cooldown across windows. Then a file lands and the watcher starts a run.
"""
from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

import harness
from standins.sendgrid_server import SendGridStandin
from standins.slack_server import SlackStandin

pytestmark = [pytest.mark.slow, pytest.mark.e2e, pytest.mark.timeout(2700)]
PIPELINE = "empathy_pipeline"
WINDOWS = 12  # half a day of hourly windows, the demo's busiest (the cooldown is 24 h: every window is inside it)
COOLDOWN_H = 24  # the default alert_cooldown_h
RUNS_TIMEOUT_S = 1800  # a ceiling for a loaded machine (up to ~45 s a window seen), not a speed target


@pytest.fixture(scope="module")
def deployment():
    now_hour = datetime.now(timezone.utc).replace(minute=0, second=0, microsecond=0)
    history_end = now_hour - timedelta(hours=2)  # the latest scheduled interval [now-1h, now) stays empty
    with contextlib.ExitStack() as stack:
        slack = stack.enter_context(SlackStandin())
        sendgrid = stack.enter_context(SendGridStandin())
        af = harness.Airflow(via_up=True, extra_env={
            "AIRFLOW_CONN_SLACK_API_DEFAULT": slack.connection(),
            "AIRFLOW_CONN_SENDGRID_DEFAULT": sendgrid.connection(),
        })
        try:
            stack.enter_context(af)
            harness.demo_data(af, "--start", history_end.isoformat())
            ingest = subprocess.run([sys.executable, "-m", "empathy", "ingest"], env=af.env(), capture_output=True,
                                    text=True, timeout=300)
            assert ingest.returncode == 0, ingest.stderr[-2000:]
            yield {"af": af, "slack": slack, "sendgrid": sendgrid, "history_end": history_end}
        finally:
            print(af.report())  # shown by pytest when a test of this module failed


@pytest.fixture(scope="module")
def backfilled(deployment):
    af = deployment["af"]
    first = deployment["history_end"] - timedelta(hours=WINDOWS)
    af.wait_for_dag(PIPELINE)
    af.set_paused(PIPELINE, False)  # tasks of a paused DAG are never scheduled, backfill or not
    scheduled = af.wait(lambda: [r for r in af.runs(PIPELINE) if r["state"] in harness.TERMINAL], 600,
                        "the scheduled run that unpausing starts")
    assert [r["state"] for r in scheduled] == ["success"], scheduled
    sent_before = len(deployment["slack"].requests) + len(deployment["sendgrid"].requests)
    created = af.create_backfill(PIPELINE, first.isoformat(), (first + timedelta(hours=WINDOWS - 1)).isoformat())

    def backfill_runs():
        runs = [r for r in af.runs(PIPELINE) if r["run_type"] == "backfill"]
        return runs if len(runs) == WINDOWS and all(r["state"] in harness.TERMINAL for r in runs) else None

    runs = af.wait(backfill_runs, RUNS_TIMEOUT_S, f"{WINDOWS} backfill runs", every=3)
    sent_during = len(deployment["slack"].requests) + len(deployment["sendgrid"].requests) - sent_before
    others = [r for r in af.runs(PIPELINE) if r["run_type"] != "backfill" and r["dag_run_id"] not in
              {s["dag_run_id"] for s in scheduled}]
    return {**deployment, "created": created, "runs": runs, "sent_during": sent_during, "other_runs_during": others}


def _db(deployment):
    from empathy import config, store

    home = deployment["af"].empathy_home
    return store.connect(config.load({"home": str(home)}), read_only=True)


def test_the_dialogs_backfill_over_a_day_of_hourly_windows_succeeds(backfilled):
    runs = backfilled["runs"]
    assert len(runs) == WINDOWS
    assert {r["dag_run_id"]: r["state"] for r in runs} == {r["dag_run_id"]: "success" for r in runs}
    starts = sorted(datetime.fromisoformat(r["data_interval_start"]) for r in runs)
    assert [b - a for a, b in zip(starts, starts[1:])] == [timedelta(hours=1)] * (WINDOWS - 1)


def test_the_scheduler_is_healthy_after_the_backfill(backfilled):
    af = backfilled["af"]
    assert af.restarts() == {}, af.report()  # no component exited during or after the backfill
    assert af.health()["scheduler"] == "healthy"
    # and it still schedules: a manual run made now is taken up and finishes
    af.trigger(PIPELINE, "manual__after_backfill", conf={"dry_run": True})
    run = af.wait(lambda: next((r for r in af.runs(PIPELINE) if r["dag_run_id"] == "manual__after_backfill"
                                and r["state"] in harness.TERMINAL), None), 300, "a run after the backfill")
    assert run["state"] == "success"


def test_nothing_the_backfill_decided_left_the_machine_and_previews_show_it(backfilled):
    if not backfilled["other_runs_during"]:  # no other run could have sent anything meanwhile
        assert backfilled["sent_during"] == 0
    with _db(backfilled) as con:
        backfill_ids = {a for (a,) in con.execute("SELECT action_id FROM actions WHERE run_id LIKE 'backfill%'")
                        .fetchall()}
        statuses = dict(con.execute("SELECT status, count(*) FROM actions WHERE run_id LIKE 'backfill%' "
                                    "GROUP BY 1").fetchall())
        previews = [p for (p,) in con.execute(
            "SELECT preview_path FROM actions WHERE run_id LIKE 'backfill%' AND status = 'simulated' "
            "AND kind IN ('email', 'slack_alert')").fetchall()]
        windows = {t for (t,) in con.execute("SELECT DISTINCT as_of FROM user_state_history").fetchall()}
    assert statuses.get("simulated", 0) > 0, statuses
    assert not set(statuses) & {"sent", "pending", "failed"}, statuses
    sent_ids = set(backfilled["slack"].action_ids()) | set(backfilled["sendgrid"].action_ids())
    assert sent_ids, "the scheduled run should have delivered through the stand-ins (the connections work)"
    assert not sent_ids & backfill_ids
    assert previews and all(Path(p).exists() for p in previews)
    run_ends = {datetime.fromisoformat(r["data_interval_end"]) for r in backfilled["runs"]}
    assert len(run_ends & windows) >= WINDOWS // 4, "states were not recomputed as of the windows' ends"


def test_simulated_alerts_respect_the_cooldown_across_windows(backfilled):
    """Two concierge alerts for one account less than 24 h apart only when the second is worse: a
    higher state, or evidence of a kind the earlier ones did not show (the policy's own rule)."""
    with _db(backfilled) as con:
        alerts = con.execute(
            "SELECT account_id, as_of, CAST(detail->>'severity' AS INTEGER), detail->>'evidence_kinds' "
            "FROM actions WHERE kind = 'slack_alert' AND run_id LIKE 'backfill%' AND status <> 'skipped' "
            "ORDER BY account_id, as_of").fetchall()
    assert alerts, "the demo's high-value accounts should raise concierge alerts in the backfilled windows"
    by_account: dict[str, list] = {}
    for account, as_of, severity, kinds in alerts:
        by_account.setdefault(account, []).append((as_of, severity or 0, set(json.loads(kinds or "[]"))))
    repeats = []
    for account, seq in by_account.items():
        for i, (as_of, severity, kinds) in enumerate(seq):
            earlier = [a for a in seq[:i] if as_of - a[0] < timedelta(hours=COOLDOWN_H)]
            if not earlier:
                continue
            worse = severity > max(a[1] for a in earlier) or bool(kinds - set().union(*(a[2] for a in earlier)))
            repeats.append((account, as_of.isoformat(), worse, [a[0].isoformat() for a in earlier]))
    not_worse = [f"{account} at {at} (earlier: {', '.join(prior)})" for account, at, worse, prior in repeats if not worse]
    assert not not_worse, "alerts within the cooldown that were not worse:\n" + "\n".join(not_worse)


def test_a_landed_file_starts_a_pipeline_run_through_the_watcher(backfilled):
    af = backfilled["af"]
    before = {r["dag_run_id"] for r in af.runs(PIPELINE)}
    event = {"type": "track", "messageId": "watch-e2e-1", "userId": "u_watch", "event": "Command Executed",
             "timestamp": datetime.now(timezone.utc).isoformat(), "properties": {"command": "deploy"}}
    landing = af.empathy_home / "landing"
    (landing / "late.jsonl.part").write_text(json.dumps(event) + "\n")
    os.replace(landing / "late.jsonl.part", landing / "late.jsonl")  # written, then renamed: the contract
    run = af.wait(lambda: next((r for r in af.runs(PIPELINE) if r["dag_run_id"] not in before
                                and r["run_type"] == "asset_triggered" and r["state"] in harness.TERMINAL), None),
                  300, "a watcher-triggered run")
    assert run["state"] == "success"
    with _db(backfilled) as con:
        assert con.execute("SELECT count(*) FROM events WHERE message_id = 'watch-e2e-1'").fetchone()[0] == 1


def test_the_backfill_is_marked_complete(backfilled):
    """Last in the module: the scheduler marks a backfill complete on its own 30 s timer after its last
    run, so the wait overlaps the tests above instead of holding up the fixture."""
    af = backfilled["af"]
    completed = af.wait(lambda: af.backfill(backfilled["created"]["id"]).get("completed_at"), 120,
                        "the backfill to complete")
    assert datetime.fromisoformat(completed) >= max(datetime.fromisoformat(r["end_date"]) for r in backfilled["runs"])
