"""The offline text scorer's figures: out-of-sample macro recall, support messages, speed against VADER.

    .venv/bin/python bench/scorer.py            # recorded figures, support messages, speed
    .venv/bin/python bench/scorer.py --cv       # also re-run 5-fold CV with the shipped hyperparameters

1. The out-of-sample figures recorded in the weights by scripts/train_sentiment.py (nested selection;
   k-fold and leave-one-dataset-out), beside VADER on the same texts. With ``--cv`` (needs the public
   sets beside the repository, ~2 minutes): a fresh 5-fold run with the shipped hyperparameters.
2. Accuracy and macro recall on tests/data/support_messages.tsv: VADER, the rules alone, the scorer.
3. Speed, one core, same run: texts/s of VADER, the rules alone and the scorer on distinct texts, and
   on a batch where texts repeat as they do in a pipeline run (each distinct text is read once).
"""
from __future__ import annotations

import argparse
import json
import random
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "scripts"))
sys.path.insert(0, str(ROOT / "tests"))

from sentiment_data import macro_recall, support_messages

from empathy.scoring.lexicon import BlendParams, LexiconScorer
from empathy.scoring.model import load_weights


def vader_label(analyzer, text: str) -> str:
    c = analyzer.polarity_scores(text)["compound"]
    return "negative" if c <= -0.05 else "positive" if c >= 0.05 else "neutral"


def texts_per_second(fn, texts: list[str]) -> float:
    t0 = time.perf_counter()
    fn(texts)
    return len(texts) / (time.perf_counter() - t0)


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--cv", action="store_true", help="re-run 5-fold CV with the shipped hyperparameters")
    ap.add_argument("--texts", type=int, default=6000, help="texts per speed measurement")
    args = ap.parse_args(argv)
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    ours = LexiconScorer()
    rules = LexiconScorer(blend=BlendParams(use_model=False))
    w = load_weights()

    print(f"1. Out-of-sample macro recall recorded by {w['made_by']} on {w['made_on']} ({w['hyperparameters']})")
    for name, row in w["out_of_sample_macro_recall"].items():
        print(f"   {name:10s} " + "   ".join(f"{k} {v:.3f}" for k, v in row.items()))
    if w.get("out_of_sample_calibration"):
        print("   k-fold, TweetEval + Apple, share of labels right by |score|: " + "  ".join(
            f"{r['abs_score']}: {r['right']:.2f} ({r['share']:.0%})" for r in w["out_of_sample_calibration"]))
    if args.cv:
        import train_sentiment as train

        c = train.corpus(train.data_dir())
        hp = {k: w["hyperparameters"][k] for k in train.DEFAULT_HP}
        pred, _, _ = train.out_of_fold(c, train.kfold(c, 5), fixed=hp)
        vader_pred = train.vader_labels(c.texts)
        for s in train.SETS:
            m = c.source == s
            print(f"   re-run 5-fold, {s:10s} ours {train.macro_recall(pred[m], c.y[m]):.3f}   "
                  f"VADER {train.macro_recall(vader_pred[m], c.y[m]):.3f}")

    texts, gold = support_messages()
    print(f"\n2. Support messages ({len(texts)}, hand-written, tests/data/support_messages.tsv)")
    for name, pred in (("VADER", [vader_label(vader, t) for t in texts]),
                       ("rules only", [r.label for r in rules.score_texts(texts)]),
                       ("scorer", [r.label for r in ours.score_texts(texts)])):
        acc = sum(p == g for p, g in zip(pred, gold)) / len(gold)
        print(f"   {name:10s} accuracy {acc:.3f}   macro recall {macro_recall(pred, gold):.3f}")

    rnd = random.Random(7)
    words = " ".join(texts).split()
    distinct = [f"{t} #{i}" if i % 2 else " ".join(rnd.sample(words, rnd.randint(5, 25)))
                for i, t in enumerate((texts * (args.texts // len(texts) + 1))[: args.texts])]
    repeated = [rnd.choice(distinct[: args.texts // 4]) for _ in range(args.texts)]
    base = texts_per_second(lambda ts: [vader.polarity_scores(t) for t in ts], distinct)
    print(f"\n3. Speed, {args.texts} texts, one core of a shared machine (ratios to VADER in the same run)")
    print(f"   VADER              {base:9,.0f} texts/s   1.00x")
    for name, fn, batch in (("rules only", rules.score_texts, distinct), ("scorer", ours.score_texts, distinct),
                            ("scorer, 4x repeats", LexiconScorer().score_texts, repeated)):
        rate = texts_per_second(fn, batch)
        print(f"   {name:18s} {rate:9,.0f} texts/s   {rate / base:.2f}x")
    print(json.dumps({"distinct_texts": len(set(distinct)), "repeated_batch_distinct": len(set(repeated))}))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
