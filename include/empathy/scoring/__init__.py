"""Text scorers behind one interface (see ``base.TextScorer``): pick one by name, score lines of text.

``lexicon`` is offline and the default; ``openai`` (in ``llm.py``) is imported only when chosen, so the
offline path never loads the OpenAI SDK.
"""
from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from itertools import islice

from empathy.scoring.base import TextScore, TextScorer

SCORERS = ("lexicon", "openai")


def get_scorer(settings) -> TextScorer:
    """The scorer named by ``settings.scorer`` (EMPATHY_SCORER)."""
    name = (getattr(settings, "scorer", None) or "lexicon").strip().lower()
    if name == "lexicon":
        from empathy.scoring.lexicon import LexiconScorer
        return LexiconScorer()
    if name == "openai":
        from empathy.llm.scoring import OpenAIScorer
        return OpenAIScorer(settings)
    raise ValueError(f"unknown scorer {name!r}; valid scorers: {', '.join(SCORERS)}")


def needs_network(settings) -> bool:
    """Whether the configured scorer calls out (the LLM): then scoring runs in its own tasks, away from
    the database; the offline scorer runs where the data is."""
    return (getattr(settings, "scorer", None) or "lexicon").strip().lower() != "lexicon"


def score_text_lines(lines: Iterable[str], scorer: TextScorer, batch_size: int = 2000) -> Iterator[str]:
    """One JSON object per input line, in order: ``{"label": ..., "score": ...}``.

    Lines are scored in batches (an LLM scorer needs that; the lexicon does not mind). A blank line is
    neutral 0.0 without asking the scorer, so output line N always belongs to input line N.
    """
    it = iter(lines)
    while batch := list(islice(it, batch_size)):
        texts = [line.rstrip("\r\n") for line in batch]
        todo = [k for k, t in enumerate(texts) if t.strip()]
        scored = scorer.score_texts([texts[k] for k in todo]) if todo else []
        results: list[TextScore] = [TextScore(label="neutral", score=0.0)] * len(texts)
        for k, ts in zip(todo, scored):
            results[k] = ts
        for ts in results:
            yield json.dumps({"label": ts.label, "score": round(float(ts.score), 4)})
