"""What the `openai` scorer costs: requests and tokens per 1,000 users, and dollars at gpt-4o-mini prices.

Writes the demo journeys plus N background users into a throwaway EMPATHY_HOME, ingests them,
builds the real per-user contexts (state.prepare: detectors, latest texts, evidence summary) and
runs the whole score stage with EMPATHY_SCORER=openai against the local OpenAI-compatible stand-in.
Then it reruns: once with nothing new (the score stage selects nobody) and once re-scoring the same
contexts (as a backfill would), where the llm_cache must answer instead of the model.

Tokens are approximate (characters / 4, counted by the stand-in over the messages and the JSON
schema, which OpenAI also bills as input). Prices: $0.15 per 1M input tokens, $0.60 per 1M output
tokens; the Batch API halves both.

    .venv/bin/python bench/llm_cost.py [--users 1000] [--concurrency 8]
"""
from __future__ import annotations

import argparse
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--users", type=int, default=1000, help="background users on top of the demo personas")
    parser.add_argument("--concurrency", type=int, default=8)
    args = parser.parse_args()

    home = Path(tempfile.mkdtemp(prefix="empathy-llm-bench-"))
    os.environ["EMPATHY_HOME"] = str(home)
    os.environ["EMPATHY_SCORER"] = "openai"
    os.environ.setdefault("AIRFLOW_HOME", str(home / "airflow"))
    import logging

    logging.disable(logging.WARNING)

    from empathy import config, demo, ingest, state, store
    from empathy.scoring.llm import OpenAIScorer
    from standins.openai_server import OpenAIStandin

    written = demo.generate(home / "landing", scale_users=args.users, files=("journeys",))
    as_of = written["start"]
    with OpenAIStandin() as server:
        os.environ["AIRFLOW_CONN_OPENAI_DEFAULT"] = json.dumps(
            {"conn_type": "openai", "host": server.base_url + "/v1", "password": "sk-bench", "extra": {"model": MODEL}})
        settings = config.load({"llm_concurrency": args.concurrency, "landing_settle_s": 0})
        scorer = OpenAIScorer(settings)
        with store.connect(settings) as con:
            ingest.ingest_landing(con, settings)
            t0 = time.perf_counter()
            first = state.score_stage(con, settings, as_of, scorer=scorer)
            seconds = time.perf_counter() - t0
            full = dict(server.usage, requests=len(server.requests))

            before = len(server.requests)
            rerun = state.score_stage(con, settings, as_of, scorer=scorer)
            rerun_requests = len(server.requests) - before

            users = [r[0] for r in con.execute("SELECT user_id FROM user_state ORDER BY user_id").fetchall()]
            before = len(server.requests)
            contexts = state.prepare(con, settings, as_of, users)
            cached = sum(c.cached is not None for c in contexts)
            scorer.score_users(contexts)
            backfill_requests = len(server.requests) - before
        contexts_with_texts = sum(bool(c.texts) for c in contexts)

    n = first["users"]
    per_k = 1000 / max(1, n)
    p_in, p_out = full["prompt_tokens"] * per_k, full["completion_tokens"] * per_k
    cost = p_in / 1e6 * PRICE_IN + p_out / 1e6 * PRICE_OUT
    print(f"users scored:                  {n} ({contexts_with_texts} with customer texts), states {first['states']}")
    print(f"requests (first run):          {full['requests']}  = {full['requests'] * per_k:.0f} per 1,000 users")
    print(f"prompt tokens per 1,000 users: {p_in:,.0f}  ({p_in / 1000:.0f} per user)")
    print(f"completion tokens per 1,000:   {p_out:,.0f}  ({p_out / 1000:.0f} per user)")
    print(f"cost per 1,000 users:          ${cost:.4f} (chat completions)   ${cost / 2:.4f} (Batch API, 50% off)")
    print(f"cost per 1M users:             ${cost * 1000:,.2f} (chat completions)   ${cost * 500:,.2f} (Batch API)")
    print(f"fallbacks:                     {scorer.usage['fallbacks']}")
    print(f"score stage wall time:         {seconds:.1f} s against the local stand-in "
          f"({n / seconds:.0f} users/s, concurrency {args.concurrency})")
    print(f"rerun with nothing new:        {rerun['selected']} users selected, {rerun_requests} requests")
    print(f"re-score same contexts:        {cached}/{len(contexts)} answered from llm_cache, {backfill_requests} requests")


if __name__ == "__main__":
    main()
