"""The pipeline's stages as plain functions: what each Airflow task of ``empathy_pipeline`` calls.

Stages that touch DuckDB open one short-lived connection (the DAG gives them the one-slot
``duckdb`` pool and queue); stages that talk to the network (LLM scoring, sending) never open the
database and exchange JSON Lines files under ``settings.work_dir`` instead, so on Celery they can
run on any worker. Every stage is idempotent: a retried task or a rerun of the run redoes the same
work and writes the same rows.
"""
from __future__ import annotations

import json
import re
from datetime import datetime, timezone
from pathlib import Path

from empathy import store
from empathy.config import Settings
from empathy.scoring.base import UserContext, UserJudgement


def _run_dir(settings: Settings, run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id or "adhoc")
    path = settings.work_dir / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


def _write_jsonl(path: Path, records) -> str:
    tmp = path.with_suffix(path.suffix + ".tmp")
    with tmp.open("w", encoding="utf-8") as out:
        for record in records:
            out.write(record if isinstance(record, str) else json.dumps(record, default=str))
            out.write("\n")
    tmp.replace(path)  # a reader never sees half a file
    return str(path)


def _read_jsonl(path: str | Path) -> list[str]:
    return [line for line in Path(path).read_text(encoding="utf-8").splitlines() if line.strip()]


# --- ingest --------------------------------------------------------------------------------------

def ingest(settings: Settings, run_id: str | None = None) -> dict:
    from empathy.ingest import ingest_landing

    with store.connect(settings) as con:
        return ingest_landing(con, settings, run_id=run_id).as_dict()


# --- score -----------------------------------------------------------------------------------------

def prepare_scoring(settings: Settings, as_of: datetime, since: datetime | None, run_id: str) -> list[str]:
    """Users with new activity -> batches of UserContext files (one mapped scoring task each)."""
    from empathy import state

    with store.connect(settings) as con:
        user_ids = state.select_users(con, settings, as_of, since=since)
        contexts = state.prepare(con, settings, as_of, user_ids) if user_ids else []
    run_dir = _run_dir(settings, run_id)
    for old in run_dir.glob("contexts-*.jsonl"):  # a retried task starts clean
        old.unlink()
    size = max(1, settings.score_batch_size)
    return [
        _write_jsonl(run_dir / f"contexts-{i // size:05d}.jsonl", (c.model_dump_json() for c in contexts[i:i + size]))
        for i in range(0, len(contexts), size)
    ]


def score_batch(settings: Settings, batch_path: str) -> str:
    """Score one batch with the configured scorer (no database: runs on any worker)."""
    from empathy.scoring import get_scorer

    contexts = [UserContext.model_validate_json(line) for line in _read_jsonl(batch_path)]
    judgements = get_scorer(settings).score_users(contexts)
    out = Path(batch_path).with_name(Path(batch_path).name.replace("contexts-", "judgements-"))
    return _write_jsonl(out, (j.model_dump_json() for j in judgements))


def apply_and_decide(settings: Settings, as_of: datetime, judgement_paths: list[str], run_id: str,
                     simulate: bool) -> dict:
    """Write states and the decisions they cause in ONE transaction (the outbox pattern)."""
    from empathy import policy, state
    from empathy.delivery import relay

    judgements = [UserJudgement.model_validate_json(line) for path in judgement_paths for line in _read_jsonl(path)]
    with store.connect(settings) as con, store.transaction(con):
        state_summary = state.apply(con, settings, as_of, judgements, run_id=run_id)
        user_ids = {j.user_id for j in judgements}
        if not simulate:  # states a dry run or backfill computed still await their real decision
            user_ids |= {u for (u,) in con.execute(
                "SELECT user_id FROM user_state WHERE decided_at IS NULL OR decided_at < updated_at").fetchall()}
        decisions = policy.decide(con, settings, as_of, run_id=run_id, simulate=simulate, user_ids=sorted(user_ids))
        if not simulate and user_ids:
            con.execute("UPDATE user_state SET decided_at = ? WHERE user_id IN (SELECT unnest(?))",
                        [datetime.now(timezone.utc), sorted(user_ids)]).fetchall()
        pending = relay.deliverable_counts(con, settings)
    return {"scored_users": len(judgements), "state": state_summary, "decisions": decisions,
            "pending": pending, "simulate": simulate}


# --- deliver ---------------------------------------------------------------------------------------

def claim_deliveries(settings: Settings, kinds: list[str], run_id: str, force_simulate: bool = False) -> str:
    from empathy.delivery import relay

    with store.connect(settings) as con:
        # A real run also retries earlier runs' failed deliveries; a simulated one touches only its own rows.
        rows = relay.claim(con, settings, kinds=kinds, run_id=run_id if force_simulate else None)
    return _write_jsonl(_run_dir(settings, run_id) / f"claimed-{'-'.join(kinds)}.jsonl", rows)


def send_deliveries(settings: Settings, claimed_path: str, force_simulate: bool) -> str:
    """Send claimed rows (no database: runs on any worker); outcomes go to a file for record_deliveries."""
    from empathy.delivery import relay

    rows = [json.loads(line) for line in _read_jsonl(claimed_path)]
    outcomes = relay.send(rows, settings, force_simulate=force_simulate)
    return _write_jsonl(Path(claimed_path.replace("claimed-", "outcomes-")), outcomes)


def record_deliveries(settings: Settings, outcomes_path: str) -> dict:
    from empathy.delivery import relay

    outcomes = [json.loads(line) for line in _read_jsonl(outcomes_path)]
    with store.connect(settings) as con:
        relay.record(con, outcomes)
    counts: dict = {}
    for outcome in outcomes:
        counts[outcome["status"]] = counts.get(outcome["status"], 0) + 1
    return counts


def deliver_in_process(settings: Settings, kinds: list[str], run_id: str, force_simulate: bool) -> dict:
    """Claim, send and record in one task: for kinds with no network (hold/release)."""
    claimed = claim_deliveries(settings, kinds, run_id, force_simulate)
    return record_deliveries(settings, send_deliveries(settings, claimed, force_simulate))


def clean_run(settings: Settings, run_id: str) -> None:
    """Remove a finished run's hand-off files (batches, claims, outcomes); the delivery journal stays."""
    import shutil

    shutil.rmtree(_run_dir(settings, run_id), ignore_errors=True)


# --- report ----------------------------------------------------------------------------------------

def summary(settings: Settings, run_id: str | None = None, write_snapshot: bool = False) -> dict:
    """What the database holds now, and what this run decided: the figures `make demo` prints.
    ``write_snapshot`` (the DAG's summary task) also refreshes what the Airflow UI's Empathy page shows."""
    with store.connect(settings, read_only=not write_snapshot) as con:
        def rows(query, params=None):
            return con.execute(query, params or []).fetchall()

        files = rows("SELECT count(*), coalesce(sum(lines),0), coalesce(sum(loaded),0), "
                     "coalesce(sum(duplicates),0), coalesce(sum(quarantined),0) FROM ingested_files")[0]
        out = {
            "ingest": dict(zip(["files", "lines", "loaded", "duplicates", "quarantined"], files)),
            "events": rows("SELECT count(*) FROM events")[0][0],
            "users": rows("SELECT count(DISTINCT user_id) FROM events")[0][0],
            "quarantine_reasons": rows(
                "SELECT CASE WHEN reason LIKE 'unparseable timestamp%' THEN 'unparseable timestamp' "
                "WHEN reason LIKE 'unknown type%' THEN 'unknown type' "
                "ELSE regexp_replace(reason, ' \\(.*$', '') END AS r, count(*) FROM quarantine "
                "GROUP BY r ORDER BY 2 DESC, 1"),
            "states": rows("SELECT state, count(*), count(*) FILTER (WHERE on_hold) FROM user_state "
                           "GROUP BY state ORDER BY 2 DESC"),
            "actions": rows("SELECT kind, status, count(*) FROM actions WHERE run_id = ? OR ? IS NULL "
                            "GROUP BY ALL ORDER BY 1, 2", [run_id, run_id]),
            "examples": rows(  # a few of each kind, so every kind of action shows
                "SELECT kind, status, user_id, reason, "
                "coalesce(detail->>'subject', detail->>'channel', ''), coalesce(preview_path, '') "
                "FROM actions WHERE (run_id = ? OR ? IS NULL) AND status <> 'skipped' "
                "QUALIFY row_number() OVER (PARTITION BY kind ORDER BY created_at, action_id) <= 3 "
                "ORDER BY kind, created_at", [run_id, run_id]),
            "generated_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        }
        if write_snapshot:  # the api-server never opens the DuckDB file itself: it reads this snapshot
            from empathy import snapshot

            snapshot.write_snapshot(con, settings, run_id)
    return out


def format_summary(s: dict) -> str:
    ing = s["ingest"]
    lines = [
        "Empathy run summary",
        f"  ingest   {ing['files']} files, {ing['lines']} lines: {ing['loaded']} loaded, "
        f"{ing['duplicates']} duplicates, {ing['quarantined']} quarantined "
        f"({'reconciled' if ing['lines'] == ing['loaded'] + ing['duplicates'] + ing['quarantined'] else 'MISMATCH'})",
        f"  events   {s['events']} events from {s['users']} users",
    ]
    if s["quarantine_reasons"]:
        lines.append("  quarantine reasons: " + ", ".join(f"{r} x{n}" for r, n in s["quarantine_reasons"]))
    lines.append("  states   " + ", ".join(f"{st} {n} ({held} on hold)" for st, n, held in s["states"]))
    if s["actions"]:
        lines.append("  actions  " + ", ".join(f"{kind}/{status} {n}" for kind, status, n in s["actions"]))
    for kind, status, user, reason, what, preview in s["examples"]:
        lines.append(f"    - {kind:<11} {status:<9} {user:<24} {what[:48]:<48} {reason[:70]}")
        if preview:
            lines.append(f"      preview: {preview}")
    return "\n".join(lines)
