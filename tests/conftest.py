"""Shared fixtures: every test gets its own EMPATHY_HOME and Airflow home, so tests never touch data/."""
from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))

# Airflow reads its settings at import: point it at a throwaway home before anything imports it, whatever
# the caller exported (`make test` exports the local AIRFLOW_HOME of `make up`).
_AIRFLOW_HOME = ROOT / ".airflow" / "test"
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
})
for _name in list(os.environ):  # a developer's real credentials never reach a test
    if _name.startswith("AIRFLOW_CONN_") or _name.startswith("EMPATHY_"):
        del os.environ[_name]


@pytest.fixture
def settings(tmp_path, monkeypatch):
    """Settings with a fresh EMPATHY_HOME under tmp_path (also exported, for code that reloads them)."""
    from empathy import config

    monkeypatch.setenv("EMPATHY_HOME", str(tmp_path / "home"))
    monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")  # tests land files and ingest at once
    s = config.load()
    s.landing.mkdir(parents=True, exist_ok=True)
    return s


@pytest.fixture
def con(settings):
    """A migrated DuckDB connection on the test's own database."""
    from empathy import store

    with store.connect(settings) as c:
        yield c


@pytest.fixture
def openai_server():
    """The OpenAI stand-in (tests/standins/openai_server.py), speaking the real API, one per test."""
    from standins.openai_server import OpenAIStandin

    with OpenAIStandin() as s:
        yield s


@pytest.fixture(scope="session")
def airflow_db():
    """Airflow's metadata DB (SQLite under .airflow/test), migrated once and reused across sessions."""
    import subprocess

    stamp = _AIRFLOW_HOME / ".migrated"
    if not stamp.exists():
        _AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
        airflow = Path(sys.executable).parent / "airflow"
        subprocess.run([str(airflow), "db", "migrate"], check=True, capture_output=True, env=os.environ)
        subprocess.run([str(airflow), "pools", "set", "duckdb", "1", "DuckDB: one writer"], check=True,
                       capture_output=True, env=os.environ)
        stamp.touch()
    return _AIRFLOW_HOME
