"""`make run` / `make demo` (scripts/run_pipeline.py): one real run through Airflow, a short summary of
that run on the terminal, Airflow's own output in the file it names."""
from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
pytestmark = pytest.mark.slow


def run_pipeline(env) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, str(ROOT / "scripts" / "run_pipeline.py")], env=env,
                          capture_output=True, text=True, timeout=600)


def test_a_short_summary_of_this_run_only(airflow_db, settings, tmp_path):
    """An earlier run (the DAG's stages in-process) has ingested part of the landing folder; the real run
    through Airflow then reports only itself: the files that landed since, its own run id, never the
    earlier one's."""
    from datetime import UTC, datetime

    from runner import run_window

    from empathy import demo, store

    demo.generate(settings.landing, seed=7)
    files = sorted(settings.landing.iterdir())
    held_back = tmp_path / "later"
    held_back.mkdir()
    for f in files[len(files) // 2:]:  # the second half lands after the earlier run
        f.rename(held_back / f.name)
    run_window(settings, datetime.now(UTC), run_id="manual__earlier_run")
    with store.connect(settings, read_only=True) as con:
        assert con.execute("SELECT count(*) FROM events").fetchone()[0] > 0  # it ingested its half
    for f in held_back.iterdir():
        f.rename(settings.landing / f.name)
    env = dict(os.environ)  # the settings fixture exported EMPATHY_HOME and a settle time of 0

    first = run_pipeline(env)
    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    lines = first.stdout.splitlines()
    assert 5 <= len(lines) <= 40, first.stdout  # a summary, not Airflow's logs
    assert not re.search(r"\[(info|warning|error)\s*\]", first.stdout + first.stderr), "Airflow's log lines leaked"
    head = re.match(r"empathy_pipeline run (\S+): success in \d+ s; Airflow's log: (\S+)$", lines[0])
    assert head, lines[0]
    run_id, log = head.groups()
    assert "Task instance" in Path(log).read_text() or "DagRun Finished" in Path(log).read_text()
    assert f"Empathy run {run_id}" in first.stdout
    ingested = re.search(r"ingest\s+(\d+) new file\(s\), \d+ lines: (\d+) loaded", first.stdout)
    assert ingested and int(ingested.group(2)) > 0, first.stdout
    assert int(ingested.group(1)) == len(files) - len(files) // 2, first.stdout  # only what landed since
    assert "states   " in first.stdout and "decided  " in first.stdout
    assert "manual__earlier_run" not in first.stdout  # this run only
