"""The Empathy page's test database as fixtures (a pytest plugin: ``pytest_plugins = ["ui_fixtures"]``)."""
from __future__ import annotations

import os

import pytest
from ui_data import build


@pytest.fixture(scope="session")
def ui_home(tmp_path_factory):
    """EMPATHY_HOME of the built database (session-wide: building it runs the pipeline four times)."""
    saved = {k: os.environ.get(k) for k in ("EMPATHY_HOME", "EMPATHY_LANDING_SETTLE_S", "AIRFLOW__API__BASE_URL")}
    try:
        yield build(tmp_path_factory.mktemp("ui") / "home")
    finally:
        for key, value in saved.items():
            if value is None:
                os.environ.pop(key, None)
            else:
                os.environ[key] = value


@pytest.fixture
def ui_settings(ui_home, monkeypatch):
    from empathy import config

    monkeypatch.setenv("EMPATHY_HOME", str(ui_home))
    return config.load()
