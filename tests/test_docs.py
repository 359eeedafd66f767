"""The README documents what the code does: its settings table is the code's, its links resolve."""
from __future__ import annotations

import re
import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = (ROOT / "README.md").read_text()


def test_readme_settings_table_matches_the_code():
    from empathy.config import settings_table

    documented = re.search(r"<!-- settings:start -->\n(.*)\n<!-- settings:end -->", README, re.S).group(1)
    assert documented == settings_table(), "run: python -m empathy settings, and paste it into the README"


def test_contract_settings_are_documented_with_their_defaults():
    assert "| `EMPATHY_HOME` | `data/ in the repository` |" in README
    assert "| `EMPATHY_SCORER` | `lexicon` |" in README


def test_readme_links_to_docs_exist():
    for link in re.findall(r"\]\((docs/[^)]+)\)", README):
        assert (ROOT / link).exists(), link


def test_readme_gives_the_two_commands():
    assert "make demo" in README and "make test" in README


def test_score_text_cli_contract():
    """One JSON object per input line, in order, label and score within the contract."""
    lines = ["This is still broken and nobody answered my ticket.", "", "Works now, thanks a lot!",
             "How do I export invoices?"]
    out = subprocess.run([sys.executable, "-m", "empathy", "score-text"], input="\n".join(lines) + "\n",
                         capture_output=True, text=True, check=True, env={"PATH": "/usr/bin:/bin"} | {
                             k: v for k, v in __import__("os").environ.items() if k != "EMPATHY_SCORER"})
    import json

    results = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(results) == len(lines)
    assert all(set(r) == {"label", "score"} and -1 <= r["score"] <= 1 for r in results)
    assert [r["label"] for r in results] == ["negative", "neutral", "positive", "neutral"]
