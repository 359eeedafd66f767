"""`make up` (scripts/local_airflow.py, scripts/embedded_pg.py): the embedded PostgreSQL it starts or the
database it is given, and what its scheduler preloads."""
from __future__ import annotations

import json
import socket

import pytest

import harness  # noqa: F401 - puts scripts/ on sys.path
from embedded_pg import EmbeddedPostgres

pytestmark = pytest.mark.slow


def listening(port: int) -> bool:
    with socket.socket() as s:
        return s.connect_ex(("127.0.0.1", port)) == 0


def test_embedded_postgres_starts_adopts_keeps_its_data_and_stops(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg", durable=False)
    try:
        pg.start()
        assert pg.running() and pg.execute("SELECT 40 + 2") == [(42,)]
        pg.create_database("kept", template="template1")
        assert EmbeddedPostgres(tmp_path / "pg").start().port == pg.port  # a second start adopts the server
        port = pg.port
        pg.stop()
        assert not pg.running() and not listening(port)
        pg.start()  # the same data directory: its databases are still there
        assert pg.has_database("kept")
        assert json.loads((tmp_path / "pg.json").read_text())["port"] == pg.port  # what the next start tries
    finally:
        pg.stop()
    assert not pg.running()


def test_database_names_are_never_interpolated_as_sql(tmp_path):
    pg = EmbeddedPostgres(tmp_path / "pg")
    with pytest.raises(ValueError):
        pg.create_database('x"; DROP DATABASE postgres; --')


def test_make_up_uses_a_configured_database_as_is_and_otherwise_its_own_server(tmp_path, monkeypatch):
    """AIRFLOW__DATABASE__SQL_ALCHEMY_CONN set: used as is, no server started. Unset: the embedded server
    under AIRFLOW_HOME, with an `airflow` database. (The whole `make up` runs in tests/test_backfill.py.)"""
    import psycopg

    from local_airflow import metadata_url

    said: list[str] = []
    monkeypatch.setenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN", "postgresql+psycopg2://u@db.example:5432/airflow")
    assert metadata_url(tmp_path, said.append) == ("postgresql+psycopg2://u@db.example:5432/airflow", None)
    assert not (tmp_path / "postgres").exists()

    monkeypatch.delenv("AIRFLOW__DATABASE__SQL_ALCHEMY_CONN")
    url, pg = metadata_url(tmp_path, said.append)
    try:
        assert pg.data_dir == (tmp_path / "postgres").resolve()
        assert url == f"postgresql+psycopg2://postgres@127.0.0.1:{pg.port}/airflow"
        with psycopg.connect(url.replace("postgresql+psycopg2", "postgresql")) as con:
            assert con.execute("SELECT current_database()").fetchone() == ("airflow",)
        assert any("embedded PostgreSQL" in line for line in said)
    finally:
        pg.stop()


def test_preloaded_modules_import_and_start_no_thread():
    """The scheduler imports PRELOAD (under PRELOAD_ENV) before LocalExecutor forks: every name must import
    (a renamed module would stop the scheduler), and none may start a thread (forking a process with
    threads can deadlock)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    from local_airflow import PRELOAD, PRELOAD_ENV

    scripts = str(Path(__file__).resolve().parents[1] / "scripts")
    env = {k: v for k, v in os.environ.items() if k not in PRELOAD_ENV}
    code = ("import importlib, os, sys; sys.path.insert(0, sys.argv[1]); import local_airflow; "
            "before = len(os.listdir('/proc/self/task')); local_airflow.preload(); "
            "print(before, len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", code, scripts], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split())
    assert after == before, f"importing {PRELOAD} started {after - before} thread(s)"
    # the check itself can fail: without PRELOAD_ENV, pyarrow starts threads (OpenBLAS's, jemalloc's)
    code = ("import importlib, os, sys; before = len(os.listdir('/proc/self/task')); import pyarrow; "
            "print(before, len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, env=env)
    before, after = map(int, out.stdout.split())
    assert after > before
