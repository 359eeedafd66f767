"""Lexicon scorer vs plain VADER: TweetEval sentiment (validation split) and our support messages.

Run from the repository root: ``.venv/bin/python bench/tweeteval.py``. Prints macro-averaged recall
(the benchmark's metric) and per-class recall for VADER, the rules alone (``use_model=False``) and the
shipped scorer (rules + trained layer), a two-fold check that the few tuned global parameters of the
rules generalise (tune on one random half, report on the other, and the other way round), accuracy on
tests/data/support_messages.tsv, and texts per second. The shipped scorer's layer was trained on these
2,000 tweets, so its figure here is in-sample: the honest one is the cross-validated figure printed by
``scripts/train_sentiment.py``.

The data is read from ../shared/data/tweeteval-sentiment-val (beside the clone) or /work/shared/...;
only this script and the tests read it, never the scorer.
"""
from __future__ import annotations

import itertools
import random
import sys
import time
from dataclasses import replace
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from empathy.scoring.lexicon import LexiconParams, LexiconScorer

LABELS = ("negative", "neutral", "positive")   # TweetEval: 0, 1, 2


def data_dir() -> Path:
    for base in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (base / "tweeteval-sentiment-val" / "val_text.txt").exists():
            return base / "tweeteval-sentiment-val"
    raise SystemExit("TweetEval validation data not found in ../shared/data")


def load_tweeteval() -> tuple[list[str], list[str]]:
    d = data_dir()
    labels = [LABELS[int(x)] for x in (d / "val_labels.txt").read_text().split()]
    texts = (d / "val_text.txt").read_text(encoding="utf-8").split("\n")[: len(labels)]
    return texts, labels


def load_support() -> tuple[list[str], list[str]]:
    texts, labels = [], []
    for line in (ROOT / "tests" / "data" / "support_messages.tsv").read_text(encoding="utf-8").splitlines():
        if line.strip() and not line.startswith("#"):
            label, text = line.split("\t", 1)
            labels.append(label)
            texts.append(text)
    return texts, labels


def recalls(pred: list[str], gold: list[str], idx=None) -> tuple[float, dict[str, float]]:
    """Macro-averaged recall and recall per class."""
    idx = range(len(gold)) if idx is None else idx
    per = {}
    for c in LABELS:
        members = [i for i in idx if gold[i] == c]
        per[c] = sum(pred[i] == c for i in members) / max(1, len(members))
    return sum(per.values()) / len(LABELS), per


def band(scores, neg, pos):
    return ["negative" if s <= -neg else "positive" if s >= pos else "neutral" for s in scores]


# The search space of the tuned globals: the neutral band and two rule weights. Nothing else is fit.
GRID = {
    "neg_threshold": [0.05, 0.1, 0.15, 0.2, 0.25],
    "pos_threshold": [0.2, 0.25, 0.3, 0.35, 0.4, 0.45, 0.5],
    "bare_negation": [0.0, -0.25, -0.5, -0.75],
    "objective_damp": [1.0, 0.85, 0.7, 0.55],
}


def tune(texts, gold, idx) -> tuple[LexiconParams, float]:
    """Best parameters on the texts at ``idx``; thresholds are applied to cached scores."""
    best = (LexiconParams(), -1.0)
    for bare, damp in itertools.product(GRID["bare_negation"], GRID["objective_damp"]):
        scorer = LexiconScorer(replace(LexiconParams(), bare_negation=bare, objective_damp=damp, use_model=False))
        scores = {i: scorer.score_one(texts[i]) for i in idx}
        sub_gold = [gold[i] for i in idx]
        for neg, pos in itertools.product(GRID["neg_threshold"], GRID["pos_threshold"]):
            m, _ = recalls(band([scores[i] for i in idx], neg, pos), sub_gold)
            if m > best[1]:
                best = (LexiconParams(neg_threshold=neg, pos_threshold=pos, bare_negation=bare,
                                      objective_damp=damp, use_model=False), m)
    return best


def main() -> None:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    texts, gold = load_tweeteval()
    s_texts, s_gold = load_support()
    vader = SentimentIntensityAnalyzer()
    ours = LexiconScorer()
    rules = LexiconScorer(LexiconParams(use_model=False))

    def vader_labels(ts):
        return band([vader.polarity_scores(t)["compound"] for t in ts], 0.05, 0.05)

    def our_labels(ts):
        return [r.label for r in ours.score_texts(ts)]

    def rule_labels(ts):
        return [r.label for r in rules.score_texts(ts)]

    scorers = (("VADER (±0.05)", vader_labels), ("rules only", rule_labels), ("lexicon (ours)", our_labels))

    print(f"TweetEval sentiment, validation ({len(texts)} tweets), macro-averaged recall "
          "(ours in-sample: see scripts/train_sentiment.py for 5-fold CV)")
    for name, fn in scorers:
        m, per = recalls(fn(texts), gold)
        per_s = "  ".join(f"{c} {v:.3f}" for c, v in per.items())
        print(f"  {name:16s} {m:.4f}   {per_s}")

    print("\nTwo-fold check of the rules: tune their globals on one half, score the other half")
    order = list(range(len(texts)))
    random.Random(2017).shuffle(order)
    halves = (order[: len(order) // 2], order[len(order) // 2:])
    held = []
    for a, b in ((0, 1), (1, 0)):
        params, fit = tune(texts, gold, halves[a])
        scorer = LexiconScorer(params)
        m, _ = recalls([r.label for r in scorer.score_texts([texts[i] for i in halves[b]])],
                       [gold[i] for i in halves[b]])
        held.append(m)
        print(f"  tuned on half {a + 1}: {fit:.4f} -> half {b + 1}: {m:.4f}   "
              f"(neg {params.neg_threshold}, pos {params.pos_threshold}, bare_negation {params.bare_negation}, "
              f"objective_damp {params.objective_damp})")
    vh = [recalls(vader_labels([texts[i] for i in h]), [gold[i] for i in h])[0] for h in halves]
    print(f"  held-out mean {sum(held) / 2:.4f}   (VADER on the same halves: {vh[0]:.4f}, {vh[1]:.4f})")
    d = LexiconParams()
    print(f"  shipped defaults: neg {d.neg_threshold}, pos {d.pos_threshold}, bare_negation {d.bare_negation}, "
          f"objective_damp {d.objective_damp}")

    print(f"\nSupport messages ({len(s_texts)}, tests/data/support_messages.tsv), accuracy")
    for name, fn in scorers:
        pred = fn(s_texts)
        acc = sum(p == g for p, g in zip(pred, s_gold)) / len(s_gold)
        print(f"  {name:16s} {acc:.3f}")

    big = (texts * 10)[:20000]
    t0 = time.perf_counter()
    ours.score_texts(big)
    dt = time.perf_counter() - t0
    t0 = time.perf_counter()
    rules.score_texts(big[:10000])
    rdt = time.perf_counter() - t0
    t0 = time.perf_counter()
    for t in big[:5000]:
        vader.polarity_scores(t)
    vdt = time.perf_counter() - t0
    print(f"\nSpeed: ours {len(big) / dt:,.0f} texts/s ({len(big)} tweets, one core); "
          f"rules only {10000 / rdt:,.0f} texts/s; VADER {5000 / vdt:,.0f} texts/s")


if __name__ == "__main__":
    main()
