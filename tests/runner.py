"""Run empathy_pipeline's stages in the DAG's order, in this process, with the pipeline functions the
DAG's tasks call (no Airflow): for tests that need many runs quickly. The DAG itself is tested by
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
    else:  # the LLM's path: scoring tasks (or one Batch API job), then decide
        batches = out["prepare"]["batches"]
        if settings.llm_batch_api:
            pipeline.batch_collect(settings, batches, pipeline.batch_submit(settings, batches))
        else:
            for batch in batches:
                pipeline.score_batch(settings, batch)
        out["decide"] = pipeline.decide(settings, run)
    out["deliveries"] = {}
    if deliver and any(out["decide"]["pending"].values()):
        for group, kinds in CHANNELS.items():
            claimed = pipeline.claim(settings, run, kinds)
            ready = pipeline.rewrite(settings, claimed) if "email" in kinds else claimed
            out["deliveries"][group] = pipeline.record(settings, run, pipeline.send(settings, ready, run))
    out["report"] = pipeline.report(settings, run)
    out["page"] = pipeline.finish(settings, run.run_id)   # the Empathy page's refresh figures
    return out


def now() -> datetime:
    return datetime.now(UTC)
