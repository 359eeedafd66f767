"""The trained layer over the rules: multinomial logistic regression, shipped as weights.

Why: rules alone cannot learn that a headline is neutral or that "tomorrow night" leans positive, and a
hand-tuned neutral band does not say how sure a label is. A linear model over the rules' evidence
(``Evidence``: score, positive and negative mass, support phrases, emoji...) plus a few text cues and word
unigrams and bigrams learns those from labelled public text (``scripts/train_sentiment.py``, scikit-learn),
and at run time is a dictionary lookup and one matrix product per batch (numpy), no network.

The weights (``data/sentiment_model.json``) are committed; this module only reads them from the package.
Nothing here reads training or evaluation data.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources

import numpy as np

from empathy.scoring.rules import (
    EMOJI,
    NEGATION,
    PHRASE,
    SUPPORT,
    Evidence,
    decode_escapes,
    normalise_negator,
)
from empathy.scoring.wordlists import NEGATORS, SPEAKER_WORDS

CLASSES = ("negative", "neutral", "positive")
WEIGHTS_FILE = "sentiment_model.json"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"@\w+")
_WORDISH = re.compile(r"[#@]?[^\W_][\w'\-]*|<url>|[.,;:!?]+|[^\s\w]")
_ELONGATED = re.compile(r"(.)\1{2,}")
_CLAUSE_END = frozenset(".,;:!?")
_STRIP = ".,;:!?\"'()"

CLEAR_EVIDENCE = 1.0   # total |valence| of the rules' units below which a text says nothing clear

DENSE = (
    "score", "pos_mass", "neg_mass", "n_pos", "n_neg", "max_pos", "min_neg",
    "phrase_sum", "support_sum", "emoji_sum", "negation_sum",
    "exclaim", "question", "ends_question", "caps_ratio", "speaker", "log_words", "negators",
    "users", "url", "hashtags", "names",
)


def bag(text: str) -> list[str]:
    """Lower-cased unigrams and bigrams; users, links and numbers normalised; words after a negator
    (to the end of the clause) marked ``not_``, so "not good" and "good" are different features."""
    text = _USER.sub(" @user ", _URL.sub(" <url> ", decode_escapes(text).replace("\u2019", "'"))).lower()
    out: list[str] = []
    prev = "<s>"
    negated = False
    for tok in _WORDISH.findall(text):
        if tok[0] in _CLAUSE_END:
            negated = False
            prev = "<s>"
            continue
        if tok[0].isdigit():
            tok = "<num>"
        elif len(tok) > 3:
            tok = _ELONGATED.sub(r"\1\1", tok)
        feat = ("not_" + tok) if negated and tok not in ("@user", "<url>") else tok
        out.append(feat)
        out.append(prev + " " + feat)
        prev = feat
        if normalise_negator(tok) in NEGATORS:
            negated = True
    return out


def dense_row(text: str, ev: Evidence) -> list[float]:
    """The rules' evidence and a few surface cues of one text as numbers, in the order of ``DENSE``."""
    pos = [u.valence for u in ev.units if u.valence > 0]
    neg = [u.valence for u in ev.units if u.valence < 0]
    by_kind = dict.fromkeys((PHRASE, SUPPORT, EMOJI, NEGATION), 0.0)
    for u in ev.units:
        if u.kind in by_kind:
            by_kind[u.kind] += u.valence
    words = text.split()
    n = len(words)
    low = {w.strip(_STRIP).lower() for w in words}
    caps = sum(1 for w in words if len(w) > 1 and w.isalpha() and w.isupper())
    return [
        ev.score, sum(pos), -sum(neg), float(len(pos)), float(len(neg)), max(pos, default=0.0),
        min(neg, default=0.0),
        by_kind[PHRASE], by_kind[SUPPORT], by_kind[EMOJI], by_kind[NEGATION],
        float(min(text.count("!"), 4)), float(min(text.count("?"), 4)), float(text.rstrip().endswith("?")),
        caps / n if n else 0.0, float(ev.speaker or not SPEAKER_WORDS.isdisjoint(low)), math.log1p(n),
        float(sum(1 for w in low if normalise_negator(w) in NEGATORS)),
        float(min(text.count("@"), 4)), float(bool(_URL.search(text))), float(min(text.count("#"), 4)),
        ev.names,
    ]


def no_clear_evidence(ev: Evidence) -> bool:
    """The rules read nothing clear: no unit, or only weak ones ("please", "support", "number")."""
    return sum(abs(u.valence) for u in ev.units) < CLEAR_EVIDENCE


def dense_matrix(texts: list[str], evidence: list[Evidence]) -> np.ndarray:
    return np.array([dense_row(t, e) for t, e in zip(texts, evidence)], dtype=np.float64).reshape(-1, len(DENSE))


@lru_cache(maxsize=1)
def load_weights() -> dict:
    """The committed weights, read once per process from the installed package."""
    raw = resources.files("empathy.scoring").joinpath("data", WEIGHTS_FILE).read_text(encoding="utf-8")
    w = json.loads(raw)
    if tuple(w["dense_names"]) != DENSE or tuple(w["classes"]) != CLASSES:
        raise ValueError(f"{WEIGHTS_FILE} was made for other features; rerun scripts/train_sentiment.py")
    return w


class SentimentModel:
    """Class probabilities for a batch of texts from the rules' evidence and their words."""

    def __init__(self, weights: dict | None = None):
        w = weights or load_weights()
        self.mean = np.array(w["dense_mean"])
        self.scale = np.array(w["dense_scale"])
        self.dense_w = np.array(w["dense_weights"]).reshape(len(DENSE), len(CLASSES))
        # the standardised numbers are cut to +-clip: a cue rare in training (a link, CAPS) must not dominate
        self.clip = float(w["dense_clip"])
        self.bias = np.array(w["bias"]) + np.array(w["class_offset"])
        self.no_evidence_offset = float(w["no_evidence_offset"])   # on the neutral logit: no_clear_evidence
        self.mixed_margin = float(w["mixed_margin"])   # |P(pos) - P(neg)| below which a polar text is mixed
        tokens = w["tokens"]                                     # token -> [neg, neu, pos]
        self.token_index = {t: k for k, t in enumerate(tokens)}
        self.token_w = np.array(list(tokens.values()), dtype=np.float64).reshape(-1, len(CLASSES))

    def logits(self, texts: list[str], evidence: list[Evidence]) -> np.ndarray:
        """(n, 3) logits: one matrix product for the dense part, one scatter-add for the words."""
        dense = np.clip((dense_matrix(texts, evidence) - self.mean) / self.scale, -self.clip, self.clip)
        z = dense @ self.dense_w + self.bias
        rows, cols = [], []
        index = self.token_index
        for r, text in enumerate(texts):
            ids = {index[t] for t in bag(text) if t in index}
            rows.extend([r] * len(ids))
            cols.extend(ids)
        if cols:
            np.add.at(z, np.array(rows), self.token_w[np.array(cols)])
        z[:, 1] += self.no_evidence_offset * np.array([no_clear_evidence(e) for e in evidence], dtype=np.float64)
        return z

    def proba(self, texts: list[str], evidence: list[Evidence]) -> np.ndarray:
        return softmax(self.logits(texts, evidence))


def softmax(z: np.ndarray) -> np.ndarray:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)
