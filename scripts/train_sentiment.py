"""Train the offline scorer's model layer; write include/empathy/scoring/data/sentiment_model.json.

Run from the repository root: ``.venv/bin/python scripts/train_sentiment.py [--cv-only] [--data DIR]``.

Data (public, labelled; read only here and by the tests, never at run time), from ``--data`` or the
``shared/data`` folder beside the repository:
  - tweeteval-sentiment-val: TweetEval's validation split, 2,000 general tweets;
  - apple-twitter-sentiment: 3,804 tweets about Apple products and support, crowd-labelled;
  - chatgpt-app-reviews: 9,698 app-store reviews of a SaaS app, labelled by stars.

Every figure printed is out of sample, with hyperparameters chosen inside the training part only
(nested): 5-fold cross-validation over the three sets pooled (stratified by set and label, every copy of
a text in one fold; each set's figure is on its held-out folds), and leave-one-dataset-out (train on two
sets, test on the third). The hyperparameters (C, the gain on the rules' numbers, offsets on the neutral
logit for all texts and for texts the rules read nothing clear in, the margin under which a text torn
between negative and positive is neutral) are chosen by leave-one-set-out inside the training part of each outer
split (across sets: the scorer meets text from places it never saw). The shipped weights are fitted on
all three sets, with hyperparameters chosen by leave-one-set-out over all three.

Model: scikit-learn's LogisticRegression (multinomial, L2) over ``empathy.scoring.model.dense_row`` (the
rules' evidence, standardised, cut to +-DENSE_CLIP standard deviations so that a cue rare in training (a
link, ALL CAPS) cannot outweigh everything else in a set where it is common, and scaled by ``dense_gain``)
and binary ``model.bag`` features (unigrams and bigrams seen in >= MIN_DF training texts); the weights are
the mean of a model on all training sets pooled and one on each set alone (DOMAIN_AVERAGE). Each set
weighs the same and, within a set, each label weighs the same (star-labelled neutral reviews less: 3
stars is a weak stand-in for neutral). Decision: the most probable class (``empathy.scoring.lexicon``
turns the probabilities into a score whose neutral band gives that same class).
"""
from __future__ import annotations

import argparse
import itertools
import json
import os
import sys
import time
from dataclasses import dataclass
from datetime import date
from pathlib import Path

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(_var, "1")   # small problems: threads only fight over a shared machine's cores

import numpy as np
from scipy import sparse
from sklearn.feature_extraction.text import CountVectorizer
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import recall_score
from sklearn.model_selection import StratifiedGroupKFold
from sklearn.preprocessing import StandardScaler

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))

from empathy.scoring.base import NEUTRAL_BAND
from empathy.scoring.lexicon import score_from_proba
from empathy.scoring.model import CLASSES, DENSE, WEIGHTS_FILE, bag, dense_matrix, no_clear_evidence
from empathy.scoring.rules import Rules

OUT = ROOT / "include" / "empathy" / "scoring" / "data" / WEIGHTS_FILE
SETS = ("tweeteval", "apple", "reviews")
FOLDERS = {"tweeteval": "tweeteval-sentiment-val", "apple": "apple-twitter-sentiment",
           "reviews": "chatgpt-app-reviews"}
MIN_DF = 2
SEED = 2017
GRID = {"C": (0.03, 0.1), "dense_gain": (1.0, 3.0),
        "neutral_offset": tuple(np.round(np.arange(-1.0, 0.61, 0.1), 2)),   # below -1.0: questions read as polar
        "no_evidence_offset": (0.0, 0.5, 1.0, 1.5, 2.0, 3.0), "mixed_margin": (0.0, 0.05, 0.1, 0.2)}
# --quick before any weights exist
DEFAULT_HP = {"C": 0.03, "dense_gain": 1.0, "neutral_offset": 0.0, "no_evidence_offset": 0.0, "mixed_margin": 0.0}
DENSE_CLIP = 3.0   # standardised rule numbers are cut to +-3 sd: a link, in 3 of TweetEval's and the reviews'
# 11,700 texts, would otherwise weigh 145 sd in a set where most texts have one
REVIEW_NEUTRAL_WEIGHT = 0.5   # 3-star reviews count half as much as a labelled neutral
SET_WEIGHT = {"tweeteval": 1.0, "apple": 1.0, "reviews": 1.0}
DOMAIN_AVERAGE = True   # weights: mean of the pooled model and one model per set (see ``fit``)


@dataclass
class Corpus:
    """All labelled texts with their set, label (0 neg, 1 neu, 2 pos), rule features and bags."""

    texts: list[str]
    y: np.ndarray
    source: np.ndarray
    dense: np.ndarray
    bags: list[list[str]]
    no_evidence: np.ndarray   # the rules read nothing clear in the text (model.no_clear_evidence)
    groups: np.ndarray        # the same text (retweets, "good") is one group: never on both sides of a split


def data_dir(explicit: str | None = None) -> Path:
    for base in ([Path(explicit)] if explicit else []) + [ROOT.parent / "shared" / "data"]:
        if (base / FOLDERS["tweeteval"]).is_dir():
            return base
    raise SystemExit("labelled data not found: pass --data DIR (the folder holding tweeteval-sentiment-val/ ...)")


def load_set(base: Path, name: str) -> tuple[list[str], list[int]]:
    d = base / FOLDERS[name]
    if name == "tweeteval":
        y = [int(x) for x in (d / "val_labels.txt").read_text().split()]
        texts = (d / "val_text.txt").read_text(encoding="utf-8").split("\n")[: len(y)]
    else:
        y = [CLASSES.index(x) for x in (d / "labels.txt").read_text().split()]
        texts = (d / "texts.txt").read_text(encoding="utf-8").split("\n")[: len(y)]
    return texts, y


def corpus(base: Path, names=SETS) -> Corpus:
    rules = Rules()
    texts, y, source = [], [], []
    for name in names:
        t, labels = load_set(base, name)
        texts += t
        y += labels
        source += [name] * len(t)
    evidence = [rules.evidence(t) for t in texts]
    bags = [bag(t) for t in texts]
    ids: dict[str, int] = {}
    groups = np.array([ids.setdefault(" ".join(b[::2]), len(ids)) for b in bags])
    return Corpus(texts, np.array(y), np.array(source), dense_matrix(texts, evidence), bags,
                  np.array([no_clear_evidence(e) for e in evidence]), groups)


def sample_weights(c: Corpus, idx: np.ndarray) -> np.ndarray:
    """Each set weighs the same and each label within a set the same; mean weight 1."""
    w = np.zeros(len(idx))
    ys, srcs = c.y[idx], c.source[idx]
    for name in np.unique(srcs):
        for label in range(3):
            cell = (srcs == name) & (ys == label)
            if cell.any():
                share = SET_WEIGHT[name] * (REVIEW_NEUTRAL_WEIGHT if (name == "reviews" and label == 1) else 1.0)
                w[cell] = share / cell.sum()
    return w * len(idx) / w.sum()


def dense_part(scaler: StandardScaler, dense: np.ndarray, gain: float) -> np.ndarray:
    """The rules' numbers standardised, cut to +-DENSE_CLIP, times ``gain`` (as ``SentimentModel`` reads them)."""
    return np.clip(scaler.transform(dense), -DENSE_CLIP, DENSE_CLIP) * gain


def fit(c: Corpus, idx: np.ndarray, C: float, dense_gain: float) -> dict:
    """One model on the texts at ``idx``: scaler, vocabulary and weights from them alone.

    With DOMAIN_AVERAGE the weights are the mean of a model fitted on all of ``idx`` and one fitted on each
    set within it (same features, same scaler): a word that is evidence in one set only weighs less, and
    the mean of linear models' logits is one linear model, so the scorer's cost does not change."""
    scaler = StandardScaler().fit(c.dense[idx])
    vec = CountVectorizer(analyzer=lambda b: b, binary=True, min_df=MIN_DF, lowercase=False)
    tokens = vec.fit_transform([c.bags[i] for i in idx])
    X = sparse.hstack([sparse.csr_matrix(dense_part(scaler, c.dense[idx], dense_gain)), tokens]).tocsr()
    parts = [np.arange(len(idx))]
    names = np.unique(c.source[idx])
    if DOMAIN_AVERAGE and len(names) > 1:
        parts += [np.flatnonzero(c.source[idx] == s) for s in names]
    coefs, intercepts = [], []
    for part in parts:
        sub = idx[part]
        lr = LogisticRegression(C=C, max_iter=3000, tol=1e-4).fit(X[part], c.y[sub], sample_weight=sample_weights(c, sub))
        coefs.append(lr.coef_)
        intercepts.append(lr.intercept_)
    return {"scaler": scaler, "vec": vec, "coef": np.mean(coefs, axis=0), "intercept": np.mean(intercepts, axis=0),
            "dense_gain": dense_gain}


def proba(m: dict, c: Corpus, idx: np.ndarray) -> np.ndarray:
    X = sparse.hstack([sparse.csr_matrix(dense_part(m["scaler"], c.dense[idx], m["dense_gain"])),
                       m["vec"].transform([c.bags[i] for i in idx])]).tocsr()
    z = np.asarray(X @ m["coef"].T) + m["intercept"]
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def shifted(p: np.ndarray, no_evidence: np.ndarray, hp: dict) -> np.ndarray:
    """Probabilities after the offsets on the neutral logit (as ``SentimentModel`` adds them)."""
    z = np.log(np.clip(p, 1e-12, None))
    z[:, 1] += hp["neutral_offset"] + hp["no_evidence_offset"] * no_evidence
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def labels_for(p: np.ndarray, no_evidence: np.ndarray, hp: dict) -> np.ndarray:
    """The scorer's decision (``lexicon.score_from_proba``), as class indices."""
    s = score_from_proba(shifted(p, no_evidence, hp), mixed_margin=hp["mixed_margin"])
    return np.where(s <= -NEUTRAL_BAND, 0, np.where(s >= NEUTRAL_BAND, 2, 1))


def splits(c: Corpus, idx: np.ndarray, k: int) -> list[tuple[np.ndarray, np.ndarray]]:
    """k folds of ``idx`` stratified by set and label, with every copy of a text in one fold."""
    strata = np.char.add(c.source[idx], c.y[idx].astype(str))
    skf = StratifiedGroupKFold(k, shuffle=True, random_state=SEED)
    return [(idx[tr], idx[te]) for tr, te in skf.split(idx, strata, c.groups[idx])]


def macro_recall(pred: np.ndarray, y: np.ndarray) -> float:
    return float(recall_score(y, pred, average="macro", labels=[0, 1, 2], zero_division=0))


def selection_score(c: Corpus, idx: np.ndarray, pred: np.ndarray) -> float:
    """Mean over the sets present of each set's macro recall: every set counts the same."""
    src = c.source[idx]
    return float(np.mean([macro_recall(pred[src == s], c.y[idx][src == s]) for s in np.unique(src)]))


def choose(c: Corpus, idx: np.ndarray) -> dict:
    """Hyperparameters with the best leave-one-set-out score inside ``idx`` (never looks outside it).

    Selection is across sets, not within them: the scorer meets text from places it never saw, so what
    counts is how a choice carries over from two sets to a third (or from one to the other)."""
    names = np.unique(c.source[idx])
    inner = [(idx[c.source[idx] != s], idx[c.source[idx] == s]) for s in names]
    if len(names) < 2:
        inner = splits(c, idx, 3)
    pos = {i: r for r, i in enumerate(idx)}
    best = (-1.0, None)
    for C, gain in itertools.product(GRID["C"], GRID["dense_gain"]):
        p = np.zeros((len(idx), 3))
        for tr, va in inner:
            p[[pos[i] for i in va]] = proba(fit(c, tr, C, gain), c, va)
        for off, ev_off, mixed in itertools.product(GRID["neutral_offset"], GRID["no_evidence_offset"],
                                                    GRID["mixed_margin"]):
            hp = {"C": C, "dense_gain": gain, "neutral_offset": float(off), "no_evidence_offset": float(ev_off),
                  "mixed_margin": float(mixed)}
            s = selection_score(c, idx, labels_for(p, c.no_evidence[idx], hp))
            if s > best[0]:
                best = (s, hp)
    return best[1]


def out_of_fold(c: Corpus, outer: list[tuple[np.ndarray, np.ndarray]], fixed: dict | None = None):
    """Labels and scores for every text of each test part, from a model fitted on its training part only;
    the hyperparameters are ``fixed`` or chosen inside that training part (nested).
    Returns (labels, chosen hyperparameters per split, scores as the scorer computes them)."""
    pred, scores = np.full(len(c.y), -1), np.zeros(len(c.y))
    chosen = []
    for tr, te in outer:
        hp = fixed or choose(c, tr)
        chosen.append(hp)
        p = shifted(proba(fit(c, tr, hp["C"], hp["dense_gain"]), c, te), c.no_evidence[te], hp)
        scores[te] = score_from_proba(p, mixed_margin=hp["mixed_margin"])
        pred[te] = np.where(scores[te] <= -NEUTRAL_BAND, 0, np.where(scores[te] >= NEUTRAL_BAND, 2, 1))
    return pred, chosen, scores


def kfold(c: Corpus, k: int = 5) -> list[tuple[np.ndarray, np.ndarray]]:
    return splits(c, np.arange(len(c.y)), k)


def leave_one_set_out(c: Corpus) -> list[tuple[np.ndarray, np.ndarray]]:
    return [(np.flatnonzero(c.source != s), np.flatnonzero(c.source == s)) for s in np.unique(c.source)]


def evaluate(c: Corpus, k: int = 5, fixed: dict | None = None) -> dict:
    """Out-of-sample labels: pooled k-fold and leave-one-dataset-out."""
    kf, kf_hp, kf_scores = out_of_fold(c, kfold(c, k), fixed)
    lo, lo_hp, _ = out_of_fold(c, leave_one_set_out(c), fixed)
    return {"kfold": kf, "lodo": lo, "kfold_scores": kf_scores,
            "chosen": [("kfold", h) for h in kf_hp] + [("lodo", h) for h in lo_hp]}


CALIBRATION_BINS = (0.0, 0.1, 0.2, 0.3, 0.5, 0.7, 1.01)


def calibration(c: Corpus, scores: np.ndarray, pred: np.ndarray) -> list[dict]:
    """Out-of-fold: how often the label is right, by how far the score is from 0 (TweetEval + Apple, the
    human-labelled sets): the further from the band, the more often right, if the score means anything."""
    human = np.isin(c.source, ("tweeteval", "apple"))
    rows = []
    for lo, hi in zip(CALIBRATION_BINS, CALIBRATION_BINS[1:]):
        m = human & (np.abs(scores) >= lo) & (np.abs(scores) < hi)
        if m.any():
            rows.append({"abs_score": f"{lo:.1f}-{min(hi, 1.0):.1f}", "share": round(float(m.sum() / human.sum()), 3),
                         "right": round(float((pred[m] == c.y[m]).mean()), 3)})
    return rows


def vader_labels(texts: list[str]) -> np.ndarray:
    from vaderSentiment.vaderSentiment import SentimentIntensityAnalyzer

    v = SentimentIntensityAnalyzer()
    comp = np.array([v.polarity_scores(t)["compound"] for t in texts])
    return np.where(comp <= -0.05, 0, np.where(comp >= 0.05, 2, 1))


def report(c: Corpus, res: dict) -> dict:
    """Per set: macro recall (and per class) of VADER, k-fold and leave-one-dataset-out."""
    vader = vader_labels(c.texts)
    table = {}
    for s in SETS:
        m = c.source == s
        if not m.any():
            continue
        row = {}
        for name, pred in (("VADER", vader), ("k-fold", res["kfold"]), ("leave-one-set-out", res["lodo"])):
            per = recall_score(c.y[m], pred[m], average=None, labels=[0, 1, 2], zero_division=0)
            row[name] = {"macro": round(float(per.mean()), 4), "per_class": [round(float(v), 3) for v in per]}
        table[s] = row
    return table


def export(m: dict, hp: dict, c: Corpus, figures: dict) -> dict:
    """The fitted model as plain numbers: dense weights folded with the scaler and gain, word weights."""
    coef = m["coef"].T             # (features, 3)
    nd = len(DENSE)
    vocab = m["vec"].get_feature_names_out()
    word_w = coef[nd:]
    keep = np.abs(word_w).max(axis=1) >= 1e-3
    return {
        "made_by": "scripts/train_sentiment.py",
        "made_on": date.today().isoformat(),
        "data": {s: int((c.source == s).sum()) for s in SETS},
        "hyperparameters": hp | {"min_df": MIN_DF, "review_neutral_weight": REVIEW_NEUTRAL_WEIGHT,
                                 "model": "sklearn LogisticRegression (multinomial, L2)"},
        "out_of_sample_macro_recall": figures,
        "classes": list(CLASSES),
        "dense_names": list(DENSE),
        "dense_mean": [round(float(v), 6) for v in m["scaler"].mean_],
        "dense_scale": [round(float(v), 6) for v in m["scaler"].scale_ / m["dense_gain"]],
        "dense_clip": DENSE_CLIP * m["dense_gain"],
        "dense_weights": [[round(float(v), 5) for v in row] for row in coef[:nd]],
        "bias": [round(float(v), 5) for v in m["intercept"]],
        "class_offset": [0.0, hp["neutral_offset"], 0.0],
        "no_evidence_offset": hp["no_evidence_offset"],
        "mixed_margin": hp["mixed_margin"],
        "tokens": {str(t): [round(float(v), 4) for v in row] for t, row, k in zip(vocab, word_w, keep) if k},
    }


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--data", help="folder holding tweeteval-sentiment-val/, apple-twitter-sentiment/, ...")
    ap.add_argument("--cv-only", action="store_true", help="print the out-of-sample figures, write nothing")
    ap.add_argument("--quick", action="store_true", help="skip nested selection: reuse the shipped hyperparameters")
    args = ap.parse_args()

    t0 = time.perf_counter()
    c = corpus(data_dir(args.data))
    fixed = None
    if args.quick:
        shipped = json.loads(OUT.read_text(encoding="utf-8")).get("hyperparameters", DEFAULT_HP)
        fixed = {k: shipped.get(k, DEFAULT_HP[k]) for k in DEFAULT_HP}
    res = evaluate(c, fixed=fixed)
    table = report(c, res)
    print(f"Out-of-sample macro recall (featurised in {time.perf_counter() - t0:.0f} s incl. evaluation)")
    for s, row in table.items():
        print(f"  {s} ({int((c.source == s).sum())} texts)")
        for name, r in row.items():
            print(f"    {name:18s} {r['macro']:.4f}   neg {r['per_class'][0]:.3f}  neu {r['per_class'][1]:.3f}"
                  f"  pos {r['per_class'][2]:.3f}")
    print("  chosen per outer split:", "; ".join(f"{k} {hp}" for k, hp in res["chosen"]))
    calib = calibration(c, res["kfold_scores"], res["kfold"])
    print("  k-fold, TweetEval + Apple, share right by |score|: "
          + "  ".join(f"{r['abs_score']}: {r['right']:.2f} ({r['share']:.0%})" for r in calib))
    if args.cv_only:
        return
    hp = fixed or choose(c, np.arange(len(c.y)))
    m = fit(c, np.arange(len(c.y)), hp["C"], hp["dense_gain"])
    figures = {s: {k: v["macro"] for k, v in row.items()} for s, row in table.items()}
    weights = export(m, hp, c, figures)
    weights["out_of_sample_calibration"] = calib
    OUT.write_text(json.dumps(weights, ensure_ascii=False, separators=(",", ":")) + "\n", encoding="utf-8")
    print(f"\nwrote {OUT.relative_to(ROOT)} with {hp}: {len(weights['tokens'])} tokens, "
          f"{OUT.stat().st_size / 1024:.0f} KiB")


if __name__ == "__main__":
    main()
