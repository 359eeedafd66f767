"""What a DAG run means to Empathy: its settings (Params over the environment), its time window,
whether it may deliver, and the one-writer pool and queue its DuckDB tasks take.

Plain Python over Airflow's task context (a dict): the DAG files import this at parse time, so it
imports nothing heavy at module level.
"""
from __future__ import annotations

import os
from datetime import datetime, timezone

# When empathy_pipeline runs (a data-interval cron: each run covers the interval since the previous one).
PIPELINE_CRON = os.environ.get("EMPATHY_PIPELINE_CRON", "0 * * * *")

DUCKDB_POOL = "duckdb"
# Every task that opens the DuckDB file runs on this Celery queue, served by exactly one worker that owns
# the volume (LocalExecutor ignores queues; the one-slot pool then keeps writers apart).
DUCKDB_QUEUE = os.environ.get("EMPATHY_DUCKDB_QUEUE", "duckdb")
DUCKDB_TASK = {"pool": DUCKDB_POOL, "queue": DUCKDB_QUEUE}

# Params a marketer may set in the trigger form; None means "the deployment's setting" (environment).
THRESHOLD_PARAMS = {
    "rage_clicks": ("integer", "Clicks on one element within the rage window that make a rage click (default 3)."),
    "rage_window_s": ("number", "Rage-click window in seconds (default 10)."),
    "api_error_streak": ("integer", "Consecutive failed API requests that make a streak (default 3)."),
    "docs_dwell_s": ("number", "Seconds on a docs page without running a command that mean confused (default 300)."),
    "high_value_mrr": ("number", "MRR at or above which an account gets concierge Slack alerts (default 1000)."),
    "alert_cooldown_h": ("number", "Hours between two alerts for one account, unless it gets worse (default 24)."),
    "email_cap_per_day": ("integer", "Non-transactional emails per user per 24 h (default 1)."),
    "holdout_pct": ("number", "Share of users (0-100) kept on the standard drip, to measure uplift (default 10)."),
}


def run_type(context) -> str:
    """The run's type as its plain value ("scheduled", "backfill", "manual", ...). In tasks the Task SDK's
    DagRunType is a plain (str, Enum), whose str() is "DagRunType.BACKFILL": compare values, never str()."""
    value = getattr(context["dag_run"], "run_type", "") or ""
    return str(getattr(value, "value", value))


def run_settings(context):
    """Settings for this run: the environment's, overridden by the run's Params."""
    from empathy import config

    params = context["params"]
    overrides = {name: params.get(name) for name in THRESHOLD_PARAMS}
    if params.get("scorer") not in (None, "", "default"):
        overrides["scorer"] = params["scorer"]
    return config.load(overrides)


def run_window(context) -> tuple[datetime, datetime | None]:
    """(as_of, since): scheduled and backfill runs cover their data interval; manual and
    sensor-triggered runs look at everything up to the moment they were triggered."""
    dag_run = context["dag_run"]
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if run_type(context) in ("scheduled", "backfill") and end is not None:
        return end, start
    moment = getattr(dag_run, "run_after", None) or context.get("logical_date") or datetime.now(timezone.utc)
    return moment, None


def is_simulated(context) -> bool:
    """Dry runs simulate; backfills simulate unless `deliver` is explicitly true."""
    params = context["params"]
    if params.get("dry_run"):
        return True
    return run_type(context) == "backfill" and not params.get("deliver")
