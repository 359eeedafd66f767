"""The text-scoring interface every scorer implements, and the records that cross task boundaries.

``UserContext`` is what the score stage knows about one user (their latest customer-written texts
and a compact summary of behavioural evidence); ``UserJudgement`` is what a scorer says about them.
Both are plain JSON-serialisable pydantic models: scoring batches are handed between Airflow tasks
as JSON Lines files, so a batch can be scored on any worker without touching DuckDB.
"""
from __future__ import annotations

from typing import Literal, Protocol

from pydantic import BaseModel, Field

Label = Literal["negative", "neutral", "positive"]
STATES = ("delighted", "exploring", "confused", "frustrated", "at_risk")

# The one neutral band on a text's ``score``: negative at or below -NEUTRAL_BAND, positive at or above
# +NEUTRAL_BAND, neutral strictly between. Every scorer's TextScore obeys it (label == label_for(score)),
# so other rooms that threshold scores (the state rules) call a text negative exactly when it is labelled so.
NEUTRAL_BAND = 0.3


def label_for(score: float) -> Label:
    """The label a score stands for (see ``NEUTRAL_BAND``); the sign convention: negative < 0 < positive."""
    if score <= -NEUTRAL_BAND:
        return "negative"
    if score >= NEUTRAL_BAND:
        return "positive"
    return "neutral"


class TextScore(BaseModel):
    """One text's verdict. The offline scorer keeps ``label == label_for(score)``."""

    label: Label
    score: float = Field(ge=-1.0, le=1.0)


class CustomerText(BaseModel):
    ts: str                     # ISO-8601
    kind: str                   # e.g. "Support Ticket Created", "Support Message Sent"
    text: str                   # as the customer wrote it (redaction happens before anything leaves)
    ticket_id: str | None = None


class UserContext(BaseModel):
    user_id: str
    as_of: str                  # ISO-8601
    texts: list[CustomerText] = []            # latest first, at most settings.llm_texts_per_user
    evidence: dict = {}                       # compact behavioural summary: {"rage_clicks": 2, ...}
    pii_names: list[str] = []                 # names from identify traits: redacted, never sent
    cached: UserJudgement | None = None     # filled by the score stage from llm_cache: no new call


class UserJudgement(BaseModel):
    user_id: str
    sentiment: float = Field(ge=-1.0, le=1.0)
    emotion: str | None = None                # one of STATES, or the scorer's own word
    intents: list[str] = []
    confidence: float = Field(ge=0.0, le=1.0)
    friction: str = ""                        # one sentence: what is going wrong, if anything
    text_scores: list[float] = []             # per text, same order as UserContext.texts
    scorer: str                               # "lexicon", "openai:<model>", ...
    context_hash: str | None = None
    fallback: str | None = None               # why the LLM answer was not used, when it was not


class TextScorer(Protocol):
    """Scores free text. ``score_users`` sees a whole user at once (the LLM uses the evidence too)."""

    name: str

    def score_texts(self, texts: list[str]) -> list[TextScore]: ...

    def score_users(self, contexts: list[UserContext]) -> list[UserJudgement]: ...


UserContext.model_rebuild()
