"""The one cache of LLM answers: table ``llm_cache``, keyed by the sha256 of the exact request that was sent.

Both uses of the LLM go through it: user judgements (``scoring``) and email rewrites (``rewrite``). The
tasks that talk to the model have no database (DuckDB has one writer), so the cache is read and
written around them by the tasks that do:

    answers = cache.lookup(con, keys, kind)        # DB task, before: {key: answer}
    ...  the DB-free task asks only for what is missing, and returns its results  ...
    cache.store(con, cache.rows_to_store(results)) # DB task, after

A row holds ``{"kind", "answer"}``: the answer as the consumer reads it back. Only real answers are
stored: a fallback or an error is asked again next time. Rows are plain JSON-friendly dicts, so they can
cross task boundaries in a hand-off file.
"""
from __future__ import annotations

import json
import logging
from collections.abc import Iterable
from datetime import UTC, datetime

import pyarrow as pa

from empathy import store as db
from empathy.scoring.base import UserJudgement

log = logging.getLogger(__name__)

USER_JUDGEMENT = "user_judgement"
EMAIL_REWRITE = "email_rewrite"
KINDS = (USER_JUDGEMENT, EMAIL_REWRITE)


def lookup(con, keys: Iterable[str], kind: str | None = None) -> dict[str, dict]:
    """``{key: answer}`` for the keys the cache holds (of ``kind``, when given); unreadable rows are skipped."""
    keys = sorted({k for k in keys if k})
    if not keys:
        return {}
    found = {}
    for key, response in db.run(con, "llm/lookup.sql", {"keys": keys}).fetchall():
        try:
            entry = json.loads(response)
            if entry["kind"] in KINDS and (kind is None or entry["kind"] == kind) and isinstance(entry["answer"], dict):
                found[key] = entry["answer"]
        except (ValueError, KeyError, TypeError):
            log.info("llm_cache row %s is in an older format; it will be asked again", key[:12])
    return found


def row(key: str, kind: str, model: str, answer: dict) -> dict:
    """One cache row (JSON-friendly)."""
    if kind not in KINDS:
        raise ValueError(f"unknown cache kind {kind!r}")
    return {"key": key, "kind": kind, "model": model, "answer": answer}


def rows_to_store(results: Iterable) -> list[dict]:
    """The cache rows for the real LLM answers among ``results``: user judgements (not fallbacks) and email
    rewrites (anything with a ``cache_row()``); one row per key."""
    out: dict[str, dict] = {}
    for result in results:
        if isinstance(result, UserJudgement):
            if result.context_hash and result.fallback is None and result.scorer.startswith("openai:"):
                answer = result.model_dump(exclude={"user_id", "context_hash"})
                out.setdefault(result.context_hash, row(result.context_hash, USER_JUDGEMENT,
                                                        result.scorer.split(":", 1)[1], answer))
        elif hasattr(result, "cache_row"):
            entry = result.cache_row()
            if entry is not None:
                out.setdefault(entry["key"], entry)
    return list(out.values())


def store(con, rows: Iterable[dict], now: datetime | None = None) -> int:
    """Write cache rows (an answer to the same request replaces the older one); returns how many."""
    rows = [r for r in rows if r.get("key")]
    if not rows:
        return 0
    table = pa.table({
        "key": pa.array([r["key"] for r in rows], pa.string()),
        "model": pa.array([str(r.get("model") or "") for r in rows], pa.string()),
        "response": pa.array([json.dumps({"kind": r["kind"], "answer": r["answer"]}, ensure_ascii=False)
                              for r in rows], pa.string()),
    })
    db.run(con, "llm/store.sql", {"now": now or datetime.now(UTC)}, relations={"_llm_rows": table}).fetchall()
    return len(rows)
