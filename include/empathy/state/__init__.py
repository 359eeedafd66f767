"""Per-user state: behavioural evidence + text judgement -> user_state and its history.

The score stage in three calls, so the DAG can split it across tasks (DuckDB work in one task at a
time, text scoring anywhere, on any worker):

    users = select_users(con, settings, as_of, since)            # who has new activity
    batches = prepare(con, settings, as_of, users, out_dir)       # detectors -> user_evidence; context files
    ... scorer.score_users(contexts) per batch file ...           # lexicon or LLM, no DuckDB (empathy.scoring)
    apply(con, settings, as_of, judgement_files, run_id)          # the rules (SQL) -> user_state, history

The rules that turn evidence into a state are SQL (``state/sql/rules.sql``), for all users of a run at
once, and are written out for people in docs/states.md. No Python runs per user here.
"""
from __future__ import annotations

import logging
from datetime import UTC, datetime
from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq

from empathy import signals, store
from empathy.config import Settings
from empathy.files import replacing
from empathy.scoring.base import NEUTRAL_BAND
from empathy.signals.catalog import TEXT_WEIGHT

log = logging.getLogger(__name__)

KNOWN_INTENTS = ("security_review", "billing", "cancellation")
DELIGHTED_TEXT = 0.5          # a latest text at or above this is clearly positive
PRIOR_WEIGHT = 0.5            # neutral prior in the trend: one faint signal does not make a user +-1
MAX_REASONS = 20

JUDGEMENT_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("sentiment", pa.float64()), ("emotion", pa.string()),
    ("intents", pa.list_(pa.string())), ("confidence", pa.float64()), ("friction", pa.string()),
    ("text_scores", pa.list_(pa.float64())), ("scorer", pa.string()), ("context_hash", pa.string()),
    ("fallback", pa.string()),
])


def rule_params(settings: Settings, as_of) -> dict:
    """What the rules SQL takes, from settings and the constants above."""
    return {"as_of": signals.as_utc(as_of), "ticket_stale_s": float(settings.ticket_stale_h) * 3600.0,
            "half_life_h": float(settings.half_life_h), "neutral_band": float(NEUTRAL_BAND),
            "delighted_text": DELIGHTED_TEXT,
            "text_weight": TEXT_WEIGHT, "prior_weight": PRIOR_WEIGHT}


# --- 1. who to score --------------------------------------------------------------------------------
def select_users(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, since=None) -> list[str]:
    """Users with events ingested since their last scoring (or never scored) with ts <= as_of, plus
    users with events in (since, as_of] when ``since`` is given (a backfill window), plus users whose
    state changes with time alone (an unresolved negative ticket turning stale, evidence expiring)."""
    values = {"as_of": signals.as_utc(as_of), "since": signals.as_utc(since) if since is not None else None,
              "ticket_stale_s": float(settings.ticket_stale_h) * 3600.0,
              "lookback_s": float(settings.lookback_days) * 86400.0}
    return [r[0] for r in store.run(con, "state/select_users.sql", values).fetchall()]


# --- 2. evidence and scoring batches ----------------------------------------------------------------
def prepare(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str],
            out_dir: Path) -> list[str]:
    """Run the detectors for these users, store their evidence (user_evidence, keyed by as_of) and write
    the scorer's input as Parquet batches of ``settings.score_batch_size`` users; returns the file paths."""
    if not user_ids:
        return []
    prepared_at = datetime.now(UTC)
    values = signals.detect(con, settings, as_of, user_ids)
    signals.store_evidence(con, as_of, prepared_at)
    store.run(con, "state/contexts.sql", {"as_of": values["as_of"], "batch_size": settings.score_batch_size}).fetchall()
    out_dir.mkdir(parents=True, exist_ok=True)
    for old in out_dir.glob("contexts-*.parquet"):  # a retried task starts clean
        old.unlink()
    paths = []
    batches = con.execute("SELECT max(batch_no) FROM _contexts").fetchall()[0][0]
    for n in range(int(batches) + 1 if batches is not None else 0):
        path = out_dir / f"contexts-{n:05d}.parquet"
        con.table("_contexts").filter(f"batch_no = {n}").project("* EXCLUDE (batch_no)").write_parquet(str(path))
        paths.append(str(path))
    return paths


def read_contexts(path: str):
    """The UserContext records of one batch file (for the scoring task, which has no database)."""
    import json

    from empathy.scoring.base import CustomerText, UserContext

    rows = pq.read_table(path).to_pylist()
    return [UserContext(user_id=r["user_id"], as_of=r["as_of"], evidence=json.loads(r["evidence"] or "{}"),
                        texts=[CustomerText(**t) for t in r["texts"] or []], pii_names=list(r["pii_names"] or []),
                        cached=None)
            for r in rows]


def write_judgements(judgements, path: str) -> str:
    """One batch's judgements as a Parquet file the apply stage reads back (atomically replaced)."""
    rows = [j.model_dump(include=set(JUDGEMENT_SCHEMA.names)) for j in judgements]
    with replacing(path) as tmp:
        pq.write_table(pa.Table.from_pylist(rows, schema=JUDGEMENT_SCHEMA), tmp)
    return str(path)


def read_judgements(paths: list[str]):
    """The UserJudgement records of judgement files (the cache stores the LLM's among them)."""
    from empathy.scoring.base import UserJudgement

    return [UserJudgement(**{k: v for k, v in row.items() if v is not None})
            for path in paths for row in pq.read_table(path).to_pylist()]


# --- 3. the rules and the write -----------------------------------------------------------------------
def apply(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, judgement_paths: list[str],
          run_id: str | None = None) -> dict:
    """Turn the judged users' evidence into states and write user_state, user_state_history and llm_cache.

    Reads the evidence ``prepare`` stored for this as_of. Opens no transaction: the caller wraps apply
    and the policy's decisions in one. Returns counts per state and the number of changes."""
    as_of = signals.as_utc(as_of)
    paths = [p for p in judgement_paths if Path(p).exists()]
    if not paths:
        return {"users": 0, "states": {}, "changed": 0, "history": 0, "backfilled": 0}
    judgements = pq.read_table(paths, schema=JUDGEMENT_SCHEMA) if len(paths) > 1 else pq.read_table(paths[0])
    now = datetime.now(UTC)
    store.run(con, "state/judged.sql", relations={"_judgements_in": judgements}).fetchall()
    store.run(con, "state/rules.sql", rule_params(settings, as_of)).fetchall()
    store.run(con, "state/reasons.sql", {"as_of": as_of, "max_reasons": MAX_REASONS}).fetchall()
    store.run(con, "state/write.sql", {"as_of": as_of, "run_id": run_id, "now": now}).fetchall()
    counts = dict(con.execute("SELECT state, count(*) FROM _new_states GROUP BY state").fetchall())
    changed, history, backfilled = con.execute(
        "SELECT count(*) FILTER (WHERE state IS DISTINCT FROM previous_state), "
        "count(*) FILTER (WHERE state IS DISTINCT FROM previous_state OR is_backfill OR has_row_at), "
        "count(*) FILTER (WHERE is_backfill) FROM _new_states").fetchall()[0]
    total = sum(counts.values())
    log.info("states as of %s for %d users: %s", as_of.isoformat(), total, counts)
    return {"users": total, "states": counts, "changed": changed, "history": history, "backfilled": backfilled}


def in_words(reason: dict) -> str:
    """One entry of ``user_state.reasons`` as a person reads it (the rule's own sentence, or the evidence
    through the catalogue)."""
    from empathy.signals.catalog import words

    return reason.get("detail") or words(reason.get("signal", ""), reason.get("data") or {})
