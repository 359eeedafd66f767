"""Scoring through OpenAI's Batch API (half the price, answers within 24 h), in three DB-free steps.

    batch_id = submit(settings, contexts, cached)          # task: upload the requests, create the job
    OpenAIBatchWaitOperator(batch_id=..., ...)             # deferred: the triggerer polls, no worker waits
    judgements = collect(settings, contexts, batch_id, cached)   # task: read the answers back

Each line asks about one distinct, uncached context; its ``custom_id`` is the context's cache key, so
answers map back to every user who shares it. A job that did not finish in time (cancelled by the wait,
expired, failed) still gives the lines it finished; every other user falls back to the lexicon with the
reason. Collect never raises for the job's outcome.
"""
from __future__ import annotations

import io
import json
import logging

from empathy.llm.client import LLM, Unusable, answer_of, error_reason
from empathy.llm.scoring import OpenAIScorer, UserAnswer, build_request
from empathy.scoring.base import UserContext, UserJudgement

log = logging.getLogger(__name__)

ENDPOINT = "/v1/chat/completions"


def request_lines(scorer: OpenAIScorer, contexts: list[UserContext], cached: dict | None = None) -> list[str]:
    """The Batch API input (JSON Lines): one request per distinct context the cache does not answer."""
    lines: dict[str, str] = {}
    for ctx in contexts:
        key = scorer.cache_key(ctx)
        known = (cached or {}).get(key) is not None or (ctx.cached is not None and ctx.cached.context_hash in (None, key))
        if not known and key not in lines:
            lines[key] = json.dumps({"custom_id": key, "method": "POST", "url": ENDPOINT,
                                     "body": build_request(ctx, scorer.settings, scorer.model)}, ensure_ascii=False)
    return list(lines.values())


def submit(settings, contexts: list[UserContext], cached: dict | None = None, scorer: OpenAIScorer | None = None) -> str | None:
    """Upload the requests and create the job; its id, or None when the cache answers everyone.

    Raises when the job cannot be created (no connection, the API refuses): the task retries, and if it
    keeps failing the pipeline can still score with ``score_users``."""
    scorer = scorer or OpenAIScorer(settings)
    lines = request_lines(scorer, contexts, cached)
    if not lines:
        return None
    client = scorer.llm.client
    upload = client.files.create(file=("empathy-batch.jsonl", io.BytesIO(("\n".join(lines) + "\n").encode())),
                                 purpose="batch")
    job = client.batches.create(input_file_id=upload.id, endpoint=ENDPOINT, completion_window="24h",
                                metadata={"empathy": "user_judgements", "requests": str(len(lines))})
    log.info("batch %s: %d requests for %d users", job.id, len(lines), len(contexts))
    return job.id


def collect(settings, contexts: list[UserContext], batch_id: str | None, cached: dict | None = None,
            scorer: OpenAIScorer | None = None) -> list[UserJudgement]:
    """One judgement per context, in order: the job's answers, the cache's, or the lexicon's with the reason."""
    scorer = scorer or OpenAIScorer(settings)
    return scorer.judge(contexts, cached, lambda keys, _ctxs: _answers(scorer.llm, batch_id, keys, settings))


def _answers(llm: LLM, batch_id: str | None, keys: list[str], settings) -> dict:
    """{custom_id: UserAnswer | reason} for ``keys`` from the job's output and error files."""
    if not batch_id:
        return dict.fromkeys(keys, "openai: batch job missing (nothing was submitted for this user)")
    try:
        job = llm.client.batches.retrieve(batch_id)
        found = {}
        for file_id in (job.output_file_id, job.error_file_id):
            if file_id:
                found.update(_read_lines(llm, llm.client.files.content(file_id).text))
    except Exception as exc:  # noqa: BLE001 - the job cannot be read: everyone falls back, with the reason
        return dict.fromkeys(keys, f"{error_reason(exc)} (reading batch {batch_id})")
    if job.status == "completed":
        missing = "openai: batch line missing"
    elif job.status in ("failed", "expired"):
        missing = f"openai: batch job {job.status}"
    else:  # cancelled by the wait at its timeout, or still running
        missing = f"openai: batch job not finished in time ({job.status}, waited up to {settings.llm_batch_max_wait_s:g} s)"
    return {key: found.get(key, missing) for key in keys}


def _read_lines(llm: LLM, text: str) -> dict:
    from openai.types.chat import ChatCompletion

    out = {}
    for line in filter(None, (text or "").splitlines()):
        try:
            item = json.loads(line)
            key = item["custom_id"]
        except (ValueError, KeyError, TypeError):
            continue  # a garbled line: its user falls back as "missing"
        response = item.get("response") or {}
        try:
            if response.get("status_code") != 200:
                error = (item.get("error") or {}).get("code") or (response.get("body") or {}).get("error", {}).get("type")
                raise Unusable(f"openai: batch line failed (HTTP {response.get('status_code', '?')}"
                               + (f", {error})" if error else ")"))
            completion = ChatCompletion.model_validate(response["body"])
            llm.count(completion.usage)
            out[key] = answer_of(completion, UserAnswer)
        except Unusable as exc:
            out[key] = str(exc)
        except Exception as exc:  # noqa: BLE001 - one bad line is one user's fallback
            out[key] = error_reason(exc)
    return out
