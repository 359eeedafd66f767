"""`make up` (scripts/local_airflow.py): the embedded PostgreSQL it starts or the database it is given."""
from __future__ import annotations

import socket

import pytest

import harness  # noqa: F401 - puts scripts/ on sys.path
from local_airflow import EmbeddedPostgres

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
    """The scheduler imports PRELOAD before LocalExecutor forks: every name must import (a renamed module
    would stop the scheduler), and none may start a thread (forking a process with threads can deadlock)."""
    import subprocess
    import sys

    from local_airflow import PRELOAD

    code = ("import importlib, os, sys; before = len(os.listdir('/proc/self/task')); "
            "[importlib.import_module(n) for n in sys.argv[1:]]; "
            "print(before, len(os.listdir('/proc/self/task')))")
    out = subprocess.run([sys.executable, "-c", code, *PRELOAD], capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr[-2000:]
    before, after = map(int, out.stdout.split())
    assert after == before, f"importing {PRELOAD} started {after - before} thread(s)"
    # the check itself can fail: pyarrow starts jemalloc's background thread
    out = subprocess.run([sys.executable, "-c", code, "pyarrow"], capture_output=True, text=True, timeout=120)
    before, after = map(int, out.stdout.split())
    assert after > before
