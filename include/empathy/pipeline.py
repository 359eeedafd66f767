"""The pipeline's stages as plain functions: what each Airflow task of ``empathy_pipeline`` calls.

Stages that touch DuckDB open one short-lived connection (the DAG gives them the one-slot ``duckdb``
pool and queue); stages that talk to the network (LLM scoring, the LLM email rewrite, sending) never open
the database and exchange files under ``settings.work_dir`` instead, so on Celery they run on any worker.
Every stage is idempotent: a retried task or a rerun of the run redoes the same work and writes the same
rows. Each stage's figures go to ``pipeline_runs`` (the run report reads them).
"""
from __future__ import annotations

import json
import re
import shutil
from datetime import UTC, datetime
from pathlib import Path

import msgspec

from empathy import fanout, store
from empathy.config import Settings
from empathy.files import replacing
from empathy.runs import RunInfo


def _run_dir(settings: Settings, run_id: str) -> Path:
    safe = re.sub(r"[^A-Za-z0-9_.-]+", "_", run_id or "adhoc")
    path = settings.work_dir / safe
    path.mkdir(parents=True, exist_ok=True)
    return path


# The hand-off files between tasks (claims with whole emails, outcomes) are JSON lines through msgspec,
# ~3x faster than the standard library on both sides; what JSON cannot say becomes its str(), as before.
_JSONL_ENCODER = msgspec.json.Encoder(enc_hook=str)
_JSONL_DECODER = msgspec.json.Decoder()


def _write_jsonl(path: Path, records) -> str:
    with replacing(path) as tmp, tmp.open("wb") as out:
        for record in records:
            out.write(_JSONL_ENCODER.encode(record))
            out.write(b"\n")
    return str(path)


def _read_jsonl(path: str | Path) -> list[dict]:
    return _JSONL_DECODER.decode_lines(Path(path).read_bytes())


def _stage(con, run: RunInfo, stage: str, figures: dict) -> None:
    """Record what a stage did in ``pipeline_runs`` (one row per run, one key per stage)."""
    store.run(con, "report/stage.sql", {
        "run_id": run.run_id, "run_type": run.run_type, "mode": run.mode, "scope": run.scope, "as_of": run.as_of,
        "window_start": run.since, "params": json.dumps(run.overrides, default=str),
        "stage": json.dumps({stage: figures}, default=str), "now": datetime.now(UTC)}).fetchall()


# --- prepare: everything a window needs that needs no network -----------------------------------------
def prepare(settings: Settings, run: RunInfo) -> dict:
    """New landed files into ``events``; users with new activity (or whose state changes with time) ->
    evidence and the scorer's input. When scoring needs no network (the offline scorer), the window is
    scored and decided right here, in the same task: states, decisions, holds, and a simulation's previews.

    Returns ``batches`` (scoring files for the LLM's tasks; empty when scored here), ``decided`` (True when
    the window was decided here), ``pending`` (what the delivery steps could send) and ``report``."""
    from empathy import state
    from empathy.ingest import ingest_landing
    from empathy.scoring import needs_network

    with store.connect(settings) as con:
        report = ingest_landing(con, settings, run_id=run.run_id).as_dict()
        partly = [f"{f['file_name']}: {f['quarantined']} of its {f['lines']} lines were quarantined. Each line and its "
                  "reason is in the quarantine table; fix the export and land those lines again under a new name"
                  for f in report["files"] if f["quarantined"]]
        _stage(con, run, "ingest", {**report["totals"], "errors": (report["errors"] + partly)[:20]})
        users = state.select_users(con, settings, run.as_of, since=run.since)
        batches = state.prepare(con, settings, run.as_of, users, _run_dir(settings, run.run_id)) if users else []
        unusable = con.execute("SELECT count(*) FROM events WHERE NOT isfinite(ts) OR ts < TIMESTAMPTZ '1900-01-01 00:00:00+00' "
                               "OR ts >= TIMESTAMPTZ '2200-01-01 00:00:00+00'").fetchall()[0][0]
        _stage(con, run, "prepare", {"users": len(users), "batches": len(batches), "unusable_events": unusable})
        if batches and needs_network(settings):
            _look_up_judgements(con, settings, batches)
            return {"batches": batches, "decided": False, "pending": {}, "report": ""}
        judged = list(fanout.imap(score_batch, batches, settings, settings.bulk_processes))
        return {"batches": [], "decided": True, **_decide(con, settings, run, judged)}


def _look_up_judgements(con, settings: Settings, batches: list[str]) -> None:
    """The LLM answers already in the cache for each batch, beside it (the scoring task has no database)."""
    from empathy import state
    from empathy.llm import cache, scoring

    for path in batches:
        found = cache.lookup(con, scoring.cache_keys(state.read_contexts(path), settings), cache.USER_JUDGEMENT)
        Path(path + ".cached.json").write_text(json.dumps(found), encoding="utf-8")


def _cached(path: str) -> dict:
    side = Path(path + ".cached.json")
    return json.loads(side.read_text(encoding="utf-8")) if side.exists() else {}


def score_batch(settings: Settings, batch_path: str) -> str:
    """Score one batch with the configured scorer (no database: runs on any worker)."""
    from empathy import state
    from empathy.scoring import get_scorer

    contexts = state.read_contexts(batch_path)
    scorer = get_scorer(settings)
    judgements = scorer.score_users(contexts, _cached(batch_path)) if scorer.name == "openai" \
        else scorer.score_users(contexts)
    return state.write_judgements(judgements, _judgements_path(batch_path))


def _judgements_path(batch_path: str) -> str:
    return str(Path(batch_path).with_name(Path(batch_path).name.replace("contexts-", "judgements-")))


def batch_submit(settings: Settings, batches: list[str]) -> str | None:
    """All batches as one OpenAI Batch API job (half the price, answered within 24 h); its id, or None
    when the cache answers everyone. No database."""
    from empathy import state
    from empathy.llm import batch

    contexts = [c for path in batches for c in state.read_contexts(path)]
    cached = {k: v for path in batches for k, v in _cached(path).items()}
    return batch.submit(settings, contexts, cached)


def batch_collect(settings: Settings, batches: list[str], batch_id: str | None) -> list[str]:
    """The job's answers as judgement files (users without one fall back to the lexicon, saying why)."""
    from empathy import state
    from empathy.llm import batch

    return [state.write_judgements(batch.collect(settings, state.read_contexts(p), batch_id, _cached(p)),
                                   _judgements_path(p)) for p in batches]


# --- decide --------------------------------------------------------------------------------------------
def decide(settings: Settings, run: RunInfo) -> dict:
    """The window's decisions once its users were scored elsewhere (by the LLM's tasks, which left their
    judgement files in the run's folder); the LLM's new answers go to the cache."""
    from empathy import state
    from empathy.llm import cache

    paths = sorted(str(p) for p in _run_dir(settings, run.run_id).glob("judgements-*.parquet"))
    with store.connect(settings) as con:
        cache.store(con, cache.rows_to_store(state.read_judgements(paths)))
        return _decide(con, settings, run, paths)


def _decide(con, settings: Settings, run: RunInfo, judgement_paths: list[str]) -> dict:
    """States and the decisions they cause, in ONE transaction (the outbox pattern). Holds and releases
    take effect here; previews (a simulation's, or a live run's for a channel with no connection) are written
    here too: nothing leaves the machine."""
    from empathy import policy, report, state
    from empathy.connections import airflow_base_url, sendgrid_info
    from empathy.delivery import relay

    sg = sendgrid_info(settings.sendgrid_conn_id)
    with store.transaction(con):
        applied = state.apply(con, settings, run.as_of, judgement_paths, run.run_id)
        users = [u for (u,) in con.execute("SELECT user_id FROM _new_states").fetchall()] if applied["users"] else []
        if not run.simulate:  # states a dry run or a backfill computed still await their real decision
            users = sorted(set(users) | {u for (u,) in con.execute(
                "SELECT user_id FROM user_state WHERE decided_at IS NULL OR decided_at < updated_at").fetchall()})
        elif run.since is not None:  # a window decides every state computed for it, whoever computed it
            users = sorted(set(users) | {u for (u,) in store.run(con, "state/window_users.sql", {
                "as_of": run.as_of, "since": run.since}).fetchall()})
        decided = policy.decide(con, settings, run.as_of, run_id=run.run_id, users=users, scope=run.scope,
                                simulation=run.mode if run.simulate else None, overrides=run.overrides,
                                base_url=airflow_base_url(), asm_group_id=sg.asm_group_id if sg else None)
        if not run.simulate and users:
            con.execute("UPDATE user_state SET decided_at = ? WHERE user_id IN (SELECT unnest(?))",
                        [datetime.now(UTC), users]).fetchall()
        holds = relay.apply_holds(con, settings, run.scope, mirrored=bool(settings.sendgrid_hold_group_id and sg))
    here = _previewed_here(settings, run)
    previews = relay.deliver_previews(con, settings, run.scope, here) if here else {}
    pending = relay.deliverable_counts(con, settings, run.scope)
    _stage(con, run, "decide", {"states": applied, "decided": decided["decided"], "not_done": decided["not_done"],
                                "unchanged": decided.get("unchanged", {}),
                                "holds": holds, "previews": previews,
                                "rewound_windows": decided.get("rewound_windows", 0),
                                "stale_leases": relay.stale_leases(con, settings, run.scope)})
    return {"pending": pending, "report": report.run_report(con, run.run_id)}


def _previewed_here(settings: Settings, run: RunInfo) -> list[str]:
    """The kinds this step previews itself, all of them, so no delivery task waits on them: a simulation's
    (nothing is sent), a live run's with no connection for their channel; emails only where no LLM rewrite
    (a network step) comes first: then the email steps preview them."""
    from empathy.delivery import relay

    kinds = ["slack_alert", "email", "hold", "release"] if run.simulate else relay.unconnected_kinds(settings)
    return [k for k in kinds if k != "email" or not _rewrites(settings)]


def _rewrites(settings: Settings) -> bool:
    """Whether emails go through the LLM rewrite (a network step) before they are sent or previewed."""
    from empathy.connections import get_connection

    return bool(settings.email_rewrite and get_connection(settings.openai_conn_id))


# --- deliver -------------------------------------------------------------------------------------------
def claim(settings: Settings, run: RunInfo, kinds: list[str]) -> str:
    from empathy.delivery import relay

    with store.connect(settings) as con:
        # A live run also retries earlier runs' failed deliveries; a simulation touches only its own scope.
        rows = relay.claim(con, settings, kinds=kinds, scope=run.scope)
        path = _write_jsonl(_run_dir(settings, run.run_id) / f"claimed-{'-'.join(kinds)}.jsonl", rows)
        drafts = _drafts(rows)
        if drafts and _rewrites(settings):
            from empathy.llm import cache
            from empathy.llm.rewrite import rewrite_keys

            found = cache.lookup(con, rewrite_keys([d for _, d in drafts], settings), cache.EMAIL_REWRITE)
            Path(path + ".cached.json").write_text(json.dumps(found), encoding="utf-8")
    return path


def _drafts(rows: list[dict]) -> list[tuple[dict, object]]:
    """(row, draft) for the claimed emails whose body a rewrite may change (template bodies with tokens)."""
    from empathy.llm.rewrite import EmailDraft

    return [(r, EmailDraft(body=r["detail"]["tokens"]["body"], tone=r["detail"].get("tone") or "standard"))
            for r in rows if r["kind"] == "email" and (r["detail"].get("tokens") or {}).get("body")
            and r["detail"].get("rewrite") != "llm"]


REWRITTEN = ("text", "rewrite", "rewrite_note")   # the fields of an email's detail the rewrite step may change


def rewrite(settings: Settings, claimed_path: str) -> str:
    """The LLM rewrite of the claimed emails, in their tone and under the guardrails (no database: the
    network call never holds the one-writer pool). Without a connection (or with ``email_rewrite`` off)
    every template stands as decided ("no rewrite configured") and no row changes."""
    from empathy.content.emails import finished_text
    from empathy.llm.rewrite import rewrite_drafts

    rows = _read_jsonl(claimed_path)
    drafts = _drafts(rows) if _rewrites(settings) else []
    results = rewrite_drafts([d for _, d in drafts], settings, _cached(claimed_path)) if drafts else []
    for (row, _), result in zip(drafts, results):
        d = row["detail"]
        before = {k: d.get(k) for k in REWRITTEN}
        d["rewrite"], d["rewrite_note"] = result.source, result.note
        if result.body is not None:
            d["text"] = finished_text(result.body, d["tokens"]["values"], d["tokens"]["footer"])
        # what this step changed, for `record` to keep with the row (nothing else of a sent email changes;
        # a row it did not change is not written again: its detail holds the whole email)
        patch = {k: d[k] for k in REWRITTEN if k in d and d[k] != before[k]}
        if patch:
            row["detail_patch"] = patch
    out = Path(claimed_path.replace("claimed-", "rewritten-"))
    _write_jsonl(Path(str(out) + ".cache.jsonl"), [r.cache_row() for r in results if r.cache_row()])
    return _write_jsonl(out, rows)


def send(settings: Settings, claimed_path: str, run: RunInfo) -> str:
    """Send claimed rows (no database: runs on any worker); outcomes go to a file for ``record``."""
    from empathy.delivery import relay

    outcomes = relay.send(_read_jsonl(claimed_path), settings, force_simulate=run.simulate)
    name = Path(claimed_path).name.replace("claimed-", "outcomes-").replace("rewritten-", "outcomes-")
    return _write_jsonl(Path(claimed_path).with_name(name), outcomes)


def record(settings: Settings, run: RunInfo, outcomes_path: str) -> dict:
    from empathy.delivery import relay

    outcomes = _read_jsonl(outcomes_path)
    rewrites = Path(outcomes_path.replace("outcomes-", "rewritten-") + ".cache.jsonl")
    with store.connect(settings) as con:
        relay.record(con, outcomes)
        if rewrites.exists():
            from empathy.llm import cache

            cache.store(con, _read_jsonl(rewrites))
        counts = relay.summarize(outcomes)
        _stage(con, run, "deliver:" + Path(outcomes_path).stem.removeprefix("outcomes-"), counts)
    return counts


def finish(settings: Settings, run_id: str) -> dict:
    """The end of a run's last database task: the Empathy page's read model catches up with what the run
    decided and sent (``empathy.ui.refresh``, which never fails a run), then the run's hand-off files
    (batches, claims, outcomes) go; the delivery journal stays. Returns the refresh's figures."""
    from empathy import ui

    with store.connect(settings) as con:
        figures = ui.refresh(con, settings, run_id)
    shutil.rmtree(_run_dir(settings, run_id), ignore_errors=True)
    return figures


# --- report ----------------------------------------------------------------------------------------------
def report(settings: Settings, run: RunInfo) -> str:
    """What the run did, in words a marketer reads (``empathy.report``), after its deliveries."""
    from empathy import report as reporting

    with store.connect(settings, read_only=True) as con:
        return reporting.run_report(con, run.run_id)
