"""Run empathy_pipeline's stages in the DAG's order, in this process, with the pipeline functions the
DAG tasks call (no Airflow): for tests that need many runs quickly. The DAG itself is tested by
running it (test_pipeline_dag, test_backfill)."""
from __future__ import annotations

from datetime import UTC, datetime

from empathy import pipeline
from empathy.runs import RunInfo

CHANNELS = {"slack_alerts": ["slack_alert"], "emails": ["email", "hold", "release"]}


def run_window(settings, as_of: datetime, *, run_id: str | None = None, mode: str = "live", scope: str | None = None,
               since: datetime | None = None, overrides: dict | None = None, run_type: str = "manual",
               deliver: bool = True) -> dict:
    """One pipeline run over the window ending ``as_of``; returns each stage's result."""
    as_of = as_of if as_of.tzinfo else as_of.replace(tzinfo=UTC)
    scope = scope if scope is not None else {"live": "", "dry run": "dry-run", "backfill": "backfill"}[mode]
    run = RunInfo(run_id or f"test__{as_of.isoformat()}", run_type, as_of, since, mode, scope, overrides or {})
    out = {"run": run, "prepare": pipeline.prepare(settings, run)}
    if out["prepare"]["decided"]:
        out["decide"] = out["prepare"]
    else:  # the LLM's path: scoring tasks, then decide
        judged = [pipeline.score_batch(settings, b) for b in out["prepare"]["batches"]]
        out["decide"] = pipeline.decide(settings, run, judged)
    out["deliveries"] = {}
    if deliver:
        for group, kinds in CHANNELS.items():
            if any(out["decide"]["pending"].get(k) for k in kinds):
                claimed = pipeline.claim(settings, run, kinds)
                out["deliveries"][group] = pipeline.record(settings, run, pipeline.send(settings, claimed, run))
    out["report"] = pipeline.report(settings, run)
    pipeline.clean_run(settings, run.run_id)
    return out


def now() -> datetime:
    return datetime.now(UTC)
