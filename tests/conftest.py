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
# the caller exported (`make test` exports the local AIRFLOW_HOME of `make up`). One home per pytest-xdist
# worker (PYTEST_XDIST_WORKER is set before this file is imported), so no two processes share its SQLite DB.
_TEST_HOMES = ROOT / ".airflow" / "test"
_AIRFLOW_HOME = _TEST_HOMES / os.environ.get("PYTEST_XDIST_WORKER", "main")
os.environ.update({
    "AIRFLOW_HOME": str(_AIRFLOW_HOME),
    "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
    "AIRFLOW__CORE__PLUGINS_FOLDER": str(ROOT / "plugins"),
    "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
    "AIRFLOW__CORE__UNIT_TEST_MODE": "False",
    "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{_AIRFLOW_HOME / 'airflow.db'}",
    "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(_AIRFLOW_HOME / "logs"),
})
# Two pytest workers on two cores: a BLAS or OpenMP pool of one thread per core in every process (numpy's
# OpenBLAS starts one at import) only makes them contend. The cross-validation test took 38 s of wall and
# 67 s of CPU with the pool, 32 s and 33 s without; the results are the same. Airflow's components and task
# processes started by the tests inherit this.
for _name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_name, "1")
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
    """Airflow's metadata DB (SQLite in this worker's home under .airflow/test), reused across sessions: a
    copy of one DB migrated once per Airflow version (under a file lock, so parallel workers migrate once)."""
    import fcntl
    import shutil
    from importlib.metadata import version

    stamp = _AIRFLOW_HOME / ".migrated"
    want = version("apache-airflow-core")
    if stamp.exists() and stamp.read_text() == want:
        return _AIRFLOW_HOME
    _TEST_HOMES.mkdir(parents=True, exist_ok=True)
    with open(_TEST_HOMES / "migrate.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        template = _TEST_HOMES / "template"
        if not (template / ".migrated").exists() or (template / ".migrated").read_text() != want:
            shutil.rmtree(template, ignore_errors=True)
            template.mkdir()
            env = {**os.environ, "AIRFLOW_HOME": str(template),
                   "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{template / 'airflow.db'}",
                   "AIRFLOW__LOGGING__BASE_LOG_FOLDER": str(template / "logs")}
            sys.path.insert(0, str(ROOT / "scripts"))
            from local_airflow import prepare_metadata

            prepare_metadata(env, template / "db-migrate.log")
            (template / ".migrated").write_text(want)
    _AIRFLOW_HOME.mkdir(parents=True, exist_ok=True)
    shutil.copyfile(template / "airflow.db", _AIRFLOW_HOME / "airflow.db")
    stamp.write_text(want)
    return _AIRFLOW_HOME



def pytest_collection_modifyitems(config, items):
    """Longest first, a module's tests kept together: the live-deployment modules (marked ``e2e``), then the
    other ``slow`` ones, then the rest in collection order. Under pytest-xdist (``--dist loadfile
    --no-loadscope-reorder``, pyproject.toml) the two e2e modules start at once on separate workers, and the
    many short modules fill whichever worker is free, so the run ends close to its longest module."""
    marks: dict[str, set[str]] = {}
    for item in items:
        marks.setdefault(item.nodeid.split("::")[0], set()).update(m.name for m in item.iter_markers())

    def rank(item) -> int:
        names = marks[item.nodeid.split("::")[0]]
        return 0 if "e2e" in names else 1 if "slow" in names else 2

    items.sort(key=rank)  # stable: collection order within a rank
