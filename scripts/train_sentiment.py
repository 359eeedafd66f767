"""Train the sentiment model layered over the lexicon and write include/empathy/scoring/data/sentiment_model.json.

Run from the repository root: ``.venv/bin/python scripts/train_sentiment.py [--cv-only] [--folds 5]``.

Data: the TweetEval sentiment validation split in ../shared/data/tweeteval-sentiment-val (2,000 tweets),
the only labelled data we have. First prints k-fold cross-validated macro recall (train on k-1 folds,
score the held-out fold; vocabulary, scaling and weights come from the training folds only) for VADER,
the lexicon and the model, then trains on all 2,000 tweets and writes the weights. numpy only.

Model: multinomial logistic regression, class-balanced sample weights, L2 penalty (lighter on the
lexicon's dense features than on words), full-batch Adam. Features: ``empathy.scoring.model.dense``
(the lexicon's evidence) and ``empathy.scoring.model.bag`` (unigrams and bigrams seen in >= MIN_DF tweets).
"""
from __future__ import annotations

import argparse
import json
import os
import sys
from collections import Counter
from datetime import date
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # small matrices: threads only fight over a shared machine's cores

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from empathy.scoring.lexicon import LexiconParams, LexiconScorer
from empathy.scoring.model import CLASSES, DENSE, WEIGHTS_FILE, bag, dense

OUT = ROOT / "include" / "empathy" / "scoring" / "data" / WEIGHTS_FILE
MIN_DF = 2            # a word or bigram must appear in two training tweets to get a weight
L2_TOKENS = 0.1       # per-sample L2 on word weights (strong: 2,000 tweets are few)
L2_DENSE = 3e-4       # ... and on the lexicon's features (light: they generalise)
STEPS, LR = 400, 0.05
SEED = 2017


def data_dir() -> Path:
    for base in (ROOT.parent / "shared" / "data", Path("/work/shared/data")):
        if (base / "tweeteval-sentiment-val" / "val_text.txt").exists():
            return base / "tweeteval-sentiment-val"
    raise SystemExit("TweetEval validation data not found in ../shared/data")


def load() -> tuple[list[str], np.ndarray]:
    d = data_dir()
    y = np.array([int(x) for x in (d / "val_labels.txt").read_text().split()])
    texts = (d / "val_text.txt").read_text(encoding="utf-8").split("\n")[: len(y)]
    return texts, y


def macro_recall(pred: np.ndarray, y: np.ndarray) -> tuple[float, list[float]]:
    per = [float((pred[y == c] == c).mean()) for c in range(3)]
    return sum(per) / 3, per


def vocabulary(bags: list[list[str]], idx) -> list[str]:
    df = Counter(t for i in idx for t in set(bags[i]))
    return sorted(t for t, c in df.items() if c >= MIN_DF)


def token_matrix(bags, idx, vocab) -> np.ndarray:
    pos = {t: j for j, t in enumerate(vocab)}
    X = np.zeros((len(idx), len(vocab)), dtype=np.float32)
    for r, i in enumerate(idx):
        for t in set(bags[i]):
            j = pos.get(t)
            if j is not None:
                X[r, j] = 1.0
    return X


def fit(D: np.ndarray, T: np.ndarray, y: np.ndarray, l2_tokens=L2_TOKENS, l2_dense=L2_DENSE):
    """Weighted multinomial logistic regression; returns (dense W, token W, bias)."""
    n = len(y)
    Y = np.eye(3, dtype=np.float32)[y]
    counts = np.bincount(y, minlength=3)
    sw = ((n / (3.0 * counts))[y][:, None] / n).astype(np.float32)   # class-balanced, mean 1/n
    X = np.hstack([D, T]).astype(np.float32)
    W = np.zeros((X.shape[1], 3), dtype=np.float32)
    b = np.log(counts / n) * 0.0
    lam = np.concatenate([np.full(D.shape[1], l2_dense), np.full(T.shape[1], l2_tokens)])
    lam = lam[:, None].astype(np.float32)
    m_w, v_w = np.zeros_like(W), np.zeros_like(W)
    m_b, v_b = np.zeros(3), np.zeros(3)
    b1, b2, eps = 0.9, 0.999, 1e-8
    for step in range(1, STEPS + 1):
        Z = X @ W + b
        Z -= Z.max(axis=1, keepdims=True)
        P = np.exp(Z)
        P /= P.sum(axis=1, keepdims=True)
        G = (P - Y) * sw
        gW = X.T @ G + lam * W
        gb = G.sum(axis=0)
        m_w = b1 * m_w + (1 - b1) * gW
        v_w = b2 * v_w + (1 - b2) * gW * gW
        m_b = b1 * m_b + (1 - b1) * gb
        v_b = b2 * v_b + (1 - b2) * gb * gb
        lr = LR * np.sqrt(1 - b2 ** step) / (1 - b1 ** step)
        W -= lr * m_w / (np.sqrt(v_w) + eps)
        b -= lr * m_b / (np.sqrt(v_b) + eps)
    return W[: D.shape[1]], W[D.shape[1]:], b


def featurize(texts: list[str]):
    scorer = LexiconScorer(LexiconParams(use_model=False))   # features must not need the weights
    rows, scores, domain = [], [], []
    for t in texts:
        f, s, d = dense(t, scorer)
        rows.append(f)
        scores.append(s)
        domain.append(d)
    return np.array(rows), [bag(t) for t in texts], np.array(scores), np.array(domain), scorer


def train_on(Dall, bags, y, idx, **kw):
    vocab = vocabulary(bags, idx)
    mean = Dall[idx].mean(axis=0)
    scale = Dall[idx].std(axis=0)
    scale[scale == 0] = 1.0
    Wd, Wt, b = fit((Dall[idx] - mean) / scale, token_matrix(bags, idx, vocab), y[idx], **kw)
    return {"vocab": vocab, "mean": mean, "scale": scale, "Wd": Wd, "Wt": Wt, "b": b}


def predict(m, Dall, bags, idx) -> np.ndarray:
    Z = ((Dall[idx] - m["mean"]) / m["scale"]) @ m["Wd"] + token_matrix(bags, idx, m["vocab"]) @ m["Wt"] + m["b"]
    return Z


def folds(n: int, k: int) -> list[np.ndarray]:
    order = np.random.default_rng(SEED).permutation(n)
    return [order[f::k] for f in range(k)]


def cross_validate(texts, y, Dall, bags, lex_scores, domain, scorer, k: int, **kw) -> dict:
    """Held-out macro recall of VADER, the lexicon alone and the shipped blend (``LexiconScorer``: the
    model's class unless support phrases/words carry |valence| >= domain_trust or the text is
    shorter than model_min_words, then the lexicon's)."""
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    vader = SentimentIntensityAnalyzer()
    vc = np.array([vader.polarity_scores(t)["compound"] for t in texts])
    vader_pred = np.where(vc <= -0.05, 0, np.where(vc >= 0.05, 2, 1))
    lex_pred = np.array([CLASSES.index(scorer.label(s)) for s in lex_scores])
    model_pred = np.zeros(len(y), dtype=int)
    short = np.array([len(t.split()) < scorer.params.model_min_words for t in texts])
    trust = (np.abs(domain) >= scorer.params.domain_trust) | short
    per_fold = {"VADER": [], "lexicon": [], "combined": []}
    for test in folds(len(y), k):
        train = np.setdiff1d(np.arange(len(y)), test)
        m = train_on(Dall, bags, y, train, **kw)
        model_pred[test] = np.where(trust[test], lex_pred[test], predict(m, Dall, bags, test).argmax(axis=1))
        for name, pred in (("VADER", vader_pred), ("lexicon", lex_pred), ("combined", model_pred)):
            per_fold[name].append(macro_recall(pred[test], y[test])[0])
    return {name: (macro_recall(pred, y), per_fold[name])
            for name, pred in (("VADER", vader_pred), ("lexicon", lex_pred), ("combined", model_pred))}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--folds", type=int, default=5)
    ap.add_argument("--cv-only", action="store_true", help="print the cross-validated figures, write nothing")
    args = ap.parse_args()

    texts, y = load()
    Dall, bags, lex_scores, domain, scorer = featurize(texts)
    res = cross_validate(texts, y, Dall, bags, lex_scores, domain, scorer, args.folds)
    print(f"TweetEval sentiment validation ({len(y)} tweets): {args.folds}-fold cross-validated macro recall")
    for name, ((m, per), fold_m) in res.items():
        print(f"  {name:8s} {m:.4f}   neg {per[0]:.3f}  neu {per[1]:.3f}  pos {per[2]:.3f}   "
              f"folds {' '.join(f'{v:.3f}' for v in fold_m)} (sd {np.std(fold_m):.3f})")
    if args.cv_only:
        return

    m = train_on(Dall, bags, y, np.arange(len(y)))
    keep = np.abs(m["Wt"]).max(axis=1) >= 1e-3
    weights = {
        "made_by": "scripts/train_sentiment.py",
        "made_on": date.today().isoformat(),
        "data": f"TweetEval sentiment validation split, {len(y)} tweets (cardiffnlp/tweeteval)",
        "cv_macro_recall": round(res["combined"][0][0], 4),
        "settings": {"min_df": MIN_DF, "l2_tokens": L2_TOKENS, "l2_dense": L2_DENSE, "steps": STEPS,
                     "lr": LR, "class_weights": "balanced"},
        "classes": list(CLASSES),
        "dense_names": list(DENSE),
        "dense_mean": [round(float(v), 6) for v in m["mean"]],
        "dense_scale": [round(float(v), 6) for v in m["scale"]],
        "dense_weights": [[round(float(v), 5) for v in row] for row in m["Wd"]],
        "bias": [round(float(v), 5) for v in m["b"]],
        "class_offset": [0.0, 0.0, 0.0],
        "tokens": {t: [round(float(v), 4) for v in row]
                   for t, row, k in zip(m["vocab"], m["Wt"], keep) if k},
    }
    OUT.write_text(json.dumps(weights, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(ROOT)}: {len(weights['tokens'])} tokens, {OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
