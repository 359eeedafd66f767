"""`make up` (scripts/local_airflow.py): the embedded PostgreSQL it starts, and the whole command
started, checked healthy and stopped, on a configured database used as is."""
from __future__ import annotations

import os
import socket
import subprocess
import sys

import pytest

import harness
from local_airflow import EmbeddedPostgres, free_port

pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_embedded_postgres_starts_keeps_its_port_and_stops(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg", durable=False)
    try:
        pg.start()
        assert pg.running() and pg.execute("SELECT 40 + 2") == [(42,)]
        port = pg.port
        assert EmbeddedPostgres(tmp_path / "pg").start().port == port  # a second start adopts the running server
        pg.stop()
        assert not pg.running() and not listening(port)
        assert pg.start().port == port  # the data directory and its port are kept for the next start
        pg.create_database("cloned", template="template1")
        assert pg.has_database("cloned")
    finally:
        pg.stop()
    assert not pg.running()


def test_database_names_are_never_interpolated_as_sql(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg")
    with pytest.raises(ValueError):
        pg.create_database('x"; DROP DATABASE postgres; --')


def test_make_up_starts_healthy_and_stops_everything_on_a_configured_database(tmp_path):
    """`make up` with AIRFLOW__DATABASE__SQL_ALCHEMY_CONN set: that database as is, no embedded server;
    AIRFLOW_HOME and AIRFLOW__API__PORT honoured; every component healthy; nothing left running."""
    server = harness.metadata_server()
    db = "airflow_up_" + os.urandom(4).hex()
    server.create_database(db, template=harness.template_database(server))
    port = free_port()
    home = tmp_path / "airflow-home"
    env = {**harness._clean_environ(), "AIRFLOW_HOME": str(home), "AIRFLOW__API__PORT": str(port),
           "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": server.url(db),
           "AIRFLOW__CORE__DAGS_FOLDER": str(harness.REPO / "dags"),
           "AIRFLOW__CORE__PLUGINS_FOLDER": str(harness.REPO / "plugins"),
           "EMPATHY_HOME": str(tmp_path / "empathy")}
    try:
        out = subprocess.run([sys.executable, str(harness.REPO / "scripts" / "local_airflow.py"), "up", "--check"],
                             env=env, capture_output=True, text=True, timeout=600)
        logs = "\n".join(f"--- {p.name}\n{p.read_text(errors='replace')[-2000:]}"
                         for p in (home / "logs" / "components").glob("*.log"))
        assert out.returncode == 0, out.stdout + out.stderr + logs
        assert f"UI: http://localhost:{port}" in out.stdout
        assert "healthy: metadatabase healthy, scheduler healthy, triggerer healthy, dag_processor healthy" \
            in out.stdout, out.stdout
        assert "embedded PostgreSQL" not in out.stdout and not (home / "postgres").exists()
        assert not listening(port), "the api-server was left running"
        assert server.url(db) in (home / "metadata.env").read_text()
    finally:
        server.drop_database(db)
