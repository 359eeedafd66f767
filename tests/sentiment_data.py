"""The labelled text the sentiment tests measure against.

The public training sets live in ``shared/data`` beside the repository (a fresh machine may not have
them: tests that need them skip, saying why); ``tests/data/support_messages.tsv`` is committed.
"""
from __future__ import annotations

import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("negative", "neutral", "positive")
SHARED = ROOT.parent / "shared" / "data"


def training_script():
    """``scripts/train_sentiment.py`` as a module (the tests reuse its cross-validation)."""
    sys.path.insert(0, str(ROOT / "scripts"))
    import train_sentiment

    return train_sentiment


def shared_data() -> Path:
    """The folder with the public labelled sets, or skip the test when this machine has none."""
    if not (SHARED / "tweeteval-sentiment-val" / "val_text.txt").exists():
        pytest.skip("the public labelled sets (shared/data beside the repository) are not on this machine")
    return SHARED


def support_messages() -> tuple[list[str], list[str]]:
    """(texts, labels) of the hand-written support messages in tests/data/support_messages.tsv."""
    rows = [line.split("\t", 1) for line in
            (ROOT / "tests/data/support_messages.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [t for _, t in rows], [g for g, _ in rows]


def macro_recall(pred, gold) -> float:
    return sum(sum(p == c for p, g in zip(pred, gold) if g == c) / gold.count(c) for c in LABELS) / 3
