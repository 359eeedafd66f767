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


def test_a_short_summary_of_this_run_only(airflow_db, tmp_path):
    from empathy import demo

    home = tmp_path / "empathy"
    demo.generate(home / "landing", seed=7)
    env = {**os.environ, "EMPATHY_HOME": str(home), "EMPATHY_LANDING_SETTLE_S": "0"}

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
    loaded = re.search(r"ingest\s+\d+ new file\(s\), \d+ lines: (\d+) loaded", first.stdout)
    assert loaded and int(loaded.group(1)) > 0, first.stdout
    assert "states   " in first.stdout and "decided  " in first.stdout

    # a second run over the same landing folder: its own summary, nothing new to ingest
    second = run_pipeline(env)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert re.search(r"ingest\s+0 new file\(s\), 0 lines", second.stdout), second.stdout
    assert run_id not in second.stdout
