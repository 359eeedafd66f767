"""A small trained layer over the lexicon: multinomial logistic regression, shipped as weights.

Why: a lexicon alone stops around 0.61 macro recall on general tweets (a word list cannot learn that
"tomorrow night" and "can't wait" lean positive, or that a headline is neutral). A linear model over the
lexicon's own evidence (its score, positive and negative mass, phrases, emoji, "!", caps) plus word
unigrams and bigrams learns those regularities from 2,000 labelled tweets, and stays a dictionary lookup
and a dot product at run time: numpy-free, no network, thousands of texts per second.

The weights (``data/sentiment_model.json``) are made by ``scripts/train_sentiment.py`` and committed; this
module only reads them from the package. Nothing here reads evaluation data.
"""
from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from importlib import resources

from empathy.scoring.lexicon import NEGATORS, SPEAKER_WORDS, LexiconScorer, _base_forms, _norm

CLASSES = ("negative", "neutral", "positive")
WEIGHTS_FILE = "sentiment_model.json"

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_USER = re.compile(r"@\w+")
_WORDISH = re.compile(r"[#@]?[^\W_][\w'\-]*|<url>|[.,;:!?]+|[^\s\w]")
_ELONGATED = re.compile(r"(.)\1{2,}")
_LITERAL_ESCAPE = re.compile(r"\\u([0-9a-fA-F]{4})")
_CLAUSE_END = frozenset(".,;:!?")

DENSE = (
    "score", "label_neg", "label_pos", "pos_mass", "neg_mass", "n_pos", "n_neg", "max_pos", "min_neg",
    "phrase_sum", "domain_sum", "emo_sum", "exclaim", "question", "ends_question", "caps_ratio",
    "speaker", "log_words", "negators", "users", "url", "hashtags",
)


def bag(text: str) -> list[str]:
    """Lower-cased unigrams and bigrams; users, links and numbers normalised; words after a negator
    (to the end of the clause) marked ``not_``, so "not good" and "good" are different features."""
    if "\\u" in text:
        text = _LITERAL_ESCAPE.sub(lambda m: chr(int(m.group(1), 16)), text)
    text = _USER.sub(" @user ", _URL.sub(" <url> ", text.replace("\u2019", "'"))).lower()
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
        if _norm(tok) in NEGATORS:
            negated = True
    return out


def dense(text: str, scorer: LexiconScorer) -> tuple[list[float], float, float]:
    """The lexicon's evidence as numbers (order: ``DENSE``), plus its score and its support-domain mass."""
    trace: list[tuple[str, float]] = []
    s = max(-1.0, min(1.0, scorer.score_one(text, trace)))
    pos = [v for _, v in trace if v > 0]
    neg = [v for _, v in trace if v < 0]
    phrase = sum(v for k, v in trace if " " in k)
    domain = sum(v for k, v in trace if " " not in k and _is_domain(k, scorer))
    emo = sum(v for k, v in trace if k and not k[0].isalnum())
    words = text.split()
    n = len(words)
    low = {w.strip(".,;:!?\"'()").lower() for w in words}
    caps = sum(1 for w in words if len(w) > 1 and w.isalpha() and w.isupper())
    lab = scorer.label(s)
    feats = [
        s, float(lab == "negative"), float(lab == "positive"),
        sum(pos), -sum(neg), float(len(pos)), float(len(neg)), max(pos, default=0.0), min(neg, default=0.0),
        phrase, domain, emo,
        float(min(text.count("!"), 4)), float(min(text.count("?"), 4)), float(text.rstrip().endswith("?")),
        caps / n if n else 0.0, float(not SPEAKER_WORDS.isdisjoint(low)), math.log1p(n),
        float(sum(1 for w in low if _norm(w) in NEGATORS)), float(min(text.count("@"), 4)),
        float(bool(_URL.search(text))), float(min(text.count("#"), 4)),
    ]
    return feats, s, phrase + domain


def _is_domain(key: str, scorer: LexiconScorer) -> bool:
    d = scorer._domain
    if key in d:
        return True
    return len(key) > 4 and any(b in d for b in _base_forms(key))


@lru_cache(maxsize=1)
def load_weights() -> dict:
    """The committed weights, read once per process from the installed package."""
    raw = resources.files("empathy.scoring").joinpath("data", WEIGHTS_FILE).read_text(encoding="utf-8")
    w = json.loads(raw)
    if tuple(w["dense_names"]) != DENSE or tuple(w["classes"]) != CLASSES:
        raise ValueError(f"{WEIGHTS_FILE} was made for other features; rerun scripts/train_sentiment.py")
    return w


class SentimentModel:
    """Class probabilities for a text from the lexicon's evidence and its words (see the module doc)."""

    def __init__(self, weights: dict | None = None, scorer: LexiconScorer | None = None):
        w = weights or load_weights()
        self.scorer = scorer or LexiconScorer()
        self.mean = w["dense_mean"]
        self.scale = w["dense_scale"]
        self.dense_w = w["dense_weights"]            # one row of 3 per dense feature
        self.bias = [b + o for b, o in zip(w["bias"], w.get("class_offset", [0.0, 0.0, 0.0]))]
        self.tokens = w["tokens"]                    # token -> [neg, neu, pos]

    def logits(self, text: str) -> tuple[list[float], float, float]:
        """Biased logits, the lexicon's score and its support-domain mass (for the blend)."""
        feats, s, domain = dense(text, self.scorer)
        z = list(self.bias)
        for x, m, sc, row in zip(feats, self.mean, self.scale, self.dense_w):
            v = (x - m) / sc
            if v:
                z[0] += v * row[0]
                z[1] += v * row[1]
                z[2] += v * row[2]
        tw = self.tokens
        for tok in set(bag(text)):
            row = tw.get(tok)
            if row is not None:
                z[0] += row[0]
                z[1] += row[1]
                z[2] += row[2]
        return z, s, domain

    def proba(self, text: str) -> list[float]:
        z, _, _ = self.logits(text)
        return softmax(z)


def softmax(z: list[float]) -> list[float]:
    m = max(z)
    e = [math.exp(v - m) for v in z]
    t = sum(e)
    return [v / t for v in e]
