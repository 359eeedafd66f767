"""The labelled text the sentiment tests measure against (TweetEval validation, in ../shared/data)."""
from __future__ import annotations

from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("negative", "neutral", "positive")


def tweeteval() -> tuple[list[str], list[str]]:
    """(texts, gold labels) of TweetEval's validation split, or skip when ../shared/data is absent."""
    for base in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        d = base / "tweeteval-sentiment-val"
        if (d / "val_text.txt").exists():
            gold = [LABELS[int(x)] for x in (d / "val_labels.txt").read_text().split()]
            return (d / "val_text.txt").read_text(encoding="utf-8").split("\n")[: len(gold)], gold
    pytest.skip("TweetEval validation data (../shared/data) not present")


def macro_recall(pred, gold) -> float:
    return sum(sum(p == c for p, g in zip(pred, gold) if g == c) / gold.count(c) for c in LABELS) / 3
