"""The offline scorer the product uses (``EMPATHY_SCORER=lexicon``): the rules, then the trained layer.

Imports go one way: ``rules`` (the VADER-style engine) <- ``model`` (the trained layer over the rules'
evidence) <- this blend. A batch is scored once per distinct text: the rules read each distinct text, and
the model scores them all in one matrix product.

How a text is decided: the model gives class probabilities P(negative), P(neutral), P(positive); the
label is the most probable class (neutral when negative and positive are within a trained margin of
each other: a mixed text), and the score says the same thing on one -1..1 axis (``score_from_proba``):
a polar label gets ``±(NEUTRAL_BAND + (1 - NEUTRAL_BAND) × (P(label) − P(runner-up)))``, a neutral one
``NEUTRAL_BAND × (P(positive) − P(negative))``. So ``label == label_for(score)`` always, with the band
symmetric, and the further a score is from the band the surer the model is.
"""
from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from empathy.scoring.base import NEUTRAL_BAND, TextScore, UserContext, UserJudgement, label_for
from empathy.scoring.model import SentimentModel
from empathy.scoring.rules import RuleParams, Rules

RECENCY_DECAY = 0.6   # each older text weighs 0.6 of the one after it


@dataclass(frozen=True)
class BlendParams:
    use_model: bool = True       # False: the rules alone (their compound score and label_for), for comparison


def score_from_proba(p: np.ndarray, band: float = NEUTRAL_BAND, mixed_margin: float = 0.0) -> np.ndarray:
    """(n, 3) class probabilities -> (n,) scores whose band gives the decided class.

    The most probable class wins, unless it is polar and the other polar class is within
    ``mixed_margin`` of it (a mixed text: neutral). A polar score is ``±(band + (1 - band) × margin)``
    with margin = P(winner) − P(runner-up); a neutral one ``band × (P(positive) − P(negative))``."""
    order = np.sort(p, axis=1)
    k = p.argmax(axis=1)
    mixed = np.abs(p[:, 2] - p[:, 0]) < mixed_margin
    polar = np.where(k == 0, -1.0, 1.0) * (band + (1.0 - band) * (order[:, 2] - order[:, 1]))
    return np.clip(np.where((k == 1) | mixed, band * (p[:, 2] - p[:, 0]), polar), -1.0, 1.0)


class LexiconScorer:
    """Rules + trained layer; see the module docstring. ``name`` is what ``UserJudgement.scorer`` records."""

    name = "lexicon"

    def __init__(self, rules: RuleParams | None = None, blend: BlendParams | None = None):
        self.rules = Rules(rules)
        self.blend = blend or BlendParams()
        self.model = SentimentModel() if self.blend.use_model else None

    def explain(self, text: str) -> list[tuple[str, float]]:
        """The words and phrases the rules read, with their valences (for people and tests)."""
        return self.rules.explain(text)

    def score_texts(self, texts: list[str]) -> list[TextScore]:
        """One TextScore per text, in order; each distinct text is read once."""
        distinct = list(dict.fromkeys(t or "" for t in texts))
        scored = dict(zip(distinct, self._score_distinct(distinct)))
        return [scored[t or ""] for t in texts]

    def _score_distinct(self, texts: list[str]) -> list[TextScore]:
        evidence = [self.rules.evidence(t) for t in texts]
        if self.model is None:
            scores = np.array([e.score for e in evidence])
        else:
            scores = score_from_proba(self.model.proba(texts, evidence), mixed_margin=self.model.mixed_margin)
        empty = np.array([not t.strip() for t in texts], dtype=bool)
        scores = np.where(empty, 0.0, np.round(np.clip(scores, -1.0, 1.0), 4))
        return [TextScore(label=label_for(s), score=s) for s in scores.tolist()]

    def score_users(self, contexts: list[UserContext]) -> list[UserJudgement]:
        """Every text of the batch scored once together, then each user judged from theirs."""
        flat = [t.text for ctx in contexts for t in ctx.texts]
        scored = iter(self.score_texts(flat))
        return [judge_user(ctx, [next(scored).score for _ in ctx.texts], self.name) for ctx in contexts]


def judge_user(ctx: UserContext, scores: list[float], scorer_name: str = "lexicon") -> UserJudgement:
    """Combine a user's text scores (latest first) into one judgement; the latest text counts most.

    Confidence grows with the number of texts and with how clearly they lean one way; a user with no
    text gets sentiment 0 and confidence 0, so the state machine leans on behaviour alone.
    """
    texts = [t.text for t in ctx.texts]
    weights = [RECENCY_DECAY ** rank for rank in range(len(scores))]
    used = [(w, s) for w, s, t in zip(weights, scores, texts) if t and t.strip()]
    if not used:
        return UserJudgement(user_id=ctx.user_id, sentiment=0.0, confidence=0.0, text_scores=scores,
                             scorer=scorer_name)
    sentiment = sum(w * s for w, s in used) / sum(w for w, _ in used)
    coverage = 1.0 - 0.6 ** len(used)                  # 1 text 0.4, 3 texts 0.78, 5 texts 0.92
    strength = 0.4 + 0.6 * min(1.0, abs(sentiment) / 0.5)
    friction = ""
    worst = min(range(len(scores)), key=lambda k: scores[k])
    if sentiment < 0 and scores[worst] <= -NEUTRAL_BAND:
        excerpt = " ".join(texts[worst].split())
        friction = f'Negative customer message: "{excerpt[:117] + "..." if len(excerpt) > 120 else excerpt}"'
    return UserJudgement(user_id=ctx.user_id, sentiment=round(max(-1.0, min(1.0, sentiment)), 4),
                         confidence=round(min(0.95, coverage * strength), 3), text_scores=scores,
                         scorer=scorer_name, friction=friction)

