"""A backfill over three past days, created from the CLI and run by a real scheduler, sends nothing.

`airflow standalone` (SQLite metadata, LocalExecutor: the `make up` setup) runs in its own
AIRFLOW_HOME; `airflow backfill create` asks for three daily windows (EMPATHY_PIPELINE_CRON is set
to daily so the test stays short; hourly windows behave the same). Slack and SendGrid are configured
and pointing at stand-ins: a backfill must still only simulate, and a marketer can open what it would
have sent in outbox/.
"""
from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from standins.sendgrid_server import SendGridStandin
from standins.slack_server import SlackStandin

ROOT = Path(__file__).resolve().parents[1]
AIRFLOW = str(Path(sys.executable).parent / "airflow")
pytestmark = pytest.mark.slow


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def airflow(env, *args, timeout=180) -> subprocess.CompletedProcess:
    return subprocess.run([AIRFLOW, *args], env=env, capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def standalone(tmp_path):
    from empathy import demo

    home = tmp_path / "empathy"
    today = datetime.now(timezone.utc).replace(hour=0, minute=0, second=0, microsecond=0)
    demo.generate(home / "landing", seed=7, start=today)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "EMPATHY_"))}
    env.update({
        "AIRFLOW_HOME": str(tmp_path / "airflow"),
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__PARALLELISM": "2",
        "AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION": "True",
        "AIRFLOW__API__PORT": str(port),
        "AIRFLOW__CORE__EXECUTION_API_SERVER_URL": f"http://localhost:{port}/execution/",
        "AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL": "5",
        "AIRFLOW__SCHEDULER__DAG_DIR_LIST_INTERVAL": "5",
        "EMPATHY_HOME": str(home),
        "EMPATHY_LANDING_SETTLE_S": "0",
        "EMPATHY_PIPELINE_CRON": "0 0 * * *",
        "PATH": f"{Path(AIRFLOW).parent}{os.pathsep}{os.environ.get('PATH', '')}",  # standalone spawns `airflow`
    })
    with SlackStandin() as slack, SendGridStandin() as sendgrid:
        env["AIRFLOW_CONN_SLACK_API_DEFAULT"] = slack.connection()
        env["AIRFLOW_CONN_SENDGRID_DEFAULT"] = sendgrid.connection()
        assert airflow(env, "db", "migrate", timeout=300).returncode == 0
        assert airflow(env, "pools", "set", "duckdb", "1", "DuckDB: one writer").returncode == 0
        log = (tmp_path / "standalone.log").open("w")
        proc = subprocess.Popen([AIRFLOW, "standalone"], env=env, stdout=log, stderr=subprocess.STDOUT,
                                start_new_session=True)
        try:
            yield {"env": env, "home": home, "today": today, "slack": slack, "sendgrid": sendgrid,
                   "log": tmp_path / "standalone.log"}
        finally:
            os.killpg(proc.pid, signal.SIGTERM)
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
            log.close()


def wait_for_runs(env, count: int, deadline_s: float) -> list[dict]:
    deadline = time.monotonic() + deadline_s
    runs: list[dict] = []
    while time.monotonic() < deadline:
        out = airflow(env, "dags", "list-runs", "empathy_pipeline", "-o", "json")
        listing = [line for line in out.stdout.splitlines() if line.startswith("[")]  # warnings share stdout
        if out.returncode == 0 and listing:
            runs = json.loads(listing[-1])
            if len(runs) >= count and all(r["state"] in ("success", "failed") for r in runs):
                return runs
        time.sleep(10)
    raise AssertionError(f"backfill did not finish in {deadline_s} s: {runs}")


def test_cli_backfill_over_three_days_simulates_everything(standalone):
    env, today = standalone["env"], standalone["today"]
    start = (today - timedelta(days=3)).isoformat()
    end = (today - timedelta(days=1)).isoformat()
    # the dag-processor must have put the DAG into the metadata DB before a backfill can be created for it
    deadline = time.monotonic() + 300
    while True:
        created = airflow(env, "backfill", "create", "--dag-id", "empathy_pipeline",
                          "--from-date", start, "--to-date", end, "--max-active-runs", "1")
        if created.returncode == 0 or time.monotonic() > deadline:
            break
        assert "Could not find dag" in created.stderr + created.stdout, created.stderr[-2000:]
        time.sleep(5)
    assert created.returncode == 0, created.stdout + created.stderr
    # backfill runs of a paused DAG wait in the queue; unpausing also starts the latest scheduled run
    assert airflow(env, "dags", "unpause", "empathy_pipeline").returncode == 0

    runs = wait_for_runs(env, 3, deadline_s=780)
    backfill_runs = [r for r in runs if r["run_id"].startswith("backfill__")]
    assert len(backfill_runs) == 3, runs
    assert [r["state"] for r in runs] == ["success"] * len(runs), (runs, standalone["log"].read_text()[-3000:])

    from empathy import config, store

    os.environ["EMPATHY_HOME"] = str(standalone["home"])
    try:
        with store.connect(config.load(), read_only=True) as con:
            backfilled = "run_id LIKE 'backfill%'"
            statuses = dict(con.execute(f"SELECT status, count(*) FROM actions WHERE {backfilled} GROUP BY 1")
                            .fetchall())
            backfill_ids = {a for (a,) in con.execute(f"SELECT action_id FROM actions WHERE {backfilled}").fetchall()}
            previews = [p for (p,) in con.execute(
                f"SELECT preview_path FROM actions WHERE {backfilled} AND status = 'simulated' "
                "AND kind IN ('email', 'slack_alert')").fetchall()]
            windows = {t for (t,) in con.execute("SELECT DISTINCT as_of FROM user_state_history").fetchall()}
    finally:
        os.environ.pop("EMPATHY_HOME")
    assert statuses.get("simulated", 0) > 0
    assert not set(statuses) & {"sent", "pending", "failed"}, statuses
    assert previews and all(Path(p).exists() for p in previews)  # what it would have sent, to open
    # the backfilled windows' states were recomputed as of each window's end (history keeps changes)
    assert len({today - timedelta(days=d) for d in (2, 1, 0)} & windows) >= 2, windows
    # both connections were live, yet nothing a backfill decided left the machine (the scheduled run that
    # unpausing started may deliver its own, real, decisions)
    sent_ids = set(standalone["slack"].action_ids()) | set(standalone["sendgrid"].action_ids())
    assert not sent_ids & backfill_ids
