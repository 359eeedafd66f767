"""What a DAG run means to Empathy: its settings (Params over the environment), its time window, whether
it may deliver or only simulate (and in which simulation), and the one-writer pool and queue its DuckDB
tasks take.

Plain Python over Airflow's task context (a dict): the DAG files import this at parse time, so it imports
nothing heavy at module level.
"""
from __future__ import annotations

import os
import re
from dataclasses import asdict, dataclass
from datetime import datetime, timezone

# When empathy_pipeline runs (a data-interval cron: each run covers the interval since the previous one).
PIPELINE_CRON = os.environ.get("EMPATHY_PIPELINE_CRON", "0 * * * *")

DUCKDB_POOL = "duckdb"
# Every task that opens the DuckDB file runs on this Celery queue, served by exactly one worker that owns
# the volume (LocalExecutor ignores queues; the one-slot pool then keeps writers apart).
DUCKDB_QUEUE = os.environ.get("EMPATHY_DUCKDB_QUEUE", "duckdb")
DUCKDB_TASK = {"pool": DUCKDB_POOL, "queue": DUCKDB_QUEUE}
# The Batch API wait is set when the DAG is parsed (its timeout is the operator's, not a task's setting).
OPENAI_CONN_ID = os.environ.get("EMPATHY_OPENAI_CONN_ID", "openai_default")
BATCH_POLL_S = float(os.environ.get("EMPATHY_LLM_BATCH_POLL_S") or 30.0)
BATCH_MAX_WAIT_S = float(os.environ.get("EMPATHY_LLM_BATCH_MAX_WAIT_S") or 3600.0)

# The run configuration a marketer may give (the trigger form; a backfill's dag_run_conf), besides the
# thresholds (empathy.config.run_params): the JSON schema of each, for the DAG's Params.
RUN_OPTIONS = {
    # types include "null" so the form marks nothing required (a switch still shows: its first type wins)
    "dry_run": {"type": ["boolean", "null"], "title": "Dry run",
                "description": "Decide and preview everything, send nothing. Dry runs form one simulated "
                               "timeline (per scenario): cooldowns, caps and holds carry across them as across "
                               "real runs.", "section": "Run"},
    "deliver": {"type": ["boolean", "null"], "title": "Deliver during a backfill",
                "description": "Backfills simulate every action unless this is on (then they send for real).",
                "section": "Run"},
    "scorer": {"type": ["string", "null"], "enum": ["default", "lexicon", "openai", None], "title": "Text scorer",
               "description": "`default` = the deployment's EMPATHY_SCORER; `lexicon` offline; `openai` the LLM.",
               "section": "Run"},
    "scenario": {"type": ["null", "string"], "title": "Scenario",
                 "description": "A name for this simulation (letters, digits, - and _). Dry runs and backfills "
                                "with the same scenario share one simulated timeline; empty = the default one.",
                 "pattern": "^[A-Za-z0-9_-]{0,40}$", "section": "Run"},
}
RUN_DEFAULTS = {"dry_run": False, "deliver": False, "scorer": "default", "scenario": None}
# Keys Empathy itself puts in a run's conf (the landing watch says where a run came from).
SYSTEM_CONF_KEYS = {"source"}


class RunConfError(ValueError):
    """A run configuration that is refused before anything is decided; the message names the key."""


def threshold_names() -> list[str]:
    from empathy.config import run_params

    return list(run_params())


def check_conf(conf: dict | None) -> None:
    """Refuse keys that are not Params (a typo such as ``dryrun`` would otherwise run for real) and values
    out of range, naming the key. Airflow checks Params of a triggered run against their schema; a
    backfill's conf and keys outside the Params reach the run unchecked, so the first task asks here."""
    from empathy.config import SettingsError, load

    conf = dict(conf or {})
    known = set(RUN_OPTIONS) | set(threshold_names()) | SYSTEM_CONF_KEYS
    unknown = sorted(set(conf) - known)
    if unknown:
        hint = {k: _closest(k, known) for k in unknown}
        raise RunConfError("unknown run configuration key(s): " + ", ".join(
            f"{k!r}" + (f" (did you mean {hint[k]!r}?)" if hint[k] else "") for k in unknown)
            + ". Valid keys: " + ", ".join(sorted(known - SYSTEM_CONF_KEYS)))
    for key in ("dry_run", "deliver"):
        if conf.get(key) is not None and not isinstance(conf[key], bool):
            raise RunConfError(f"{key!r} must be true or false, got {conf[key]!r}")
    if conf.get("scorer") not in RUN_OPTIONS["scorer"]["enum"]:
        raise RunConfError(f"'scorer' must be one of default, lexicon, openai; got {conf['scorer']!r}")
    if conf.get("scenario") is not None and not re.fullmatch(RUN_OPTIONS["scenario"]["pattern"], str(conf["scenario"])):
        raise RunConfError(f"'scenario' may hold letters, digits, - and _ only (at most 40), got {conf['scenario']!r}")
    try:
        load({k: conf.get(k) for k in threshold_names()})
    except SettingsError as exc:
        raise RunConfError(str(exc).replace("invalid settings: ", "out of range: ")) from None


def _closest(key: str, known: set[str]) -> str | None:
    import difflib

    match = difflib.get_close_matches(key, sorted(known), n=1, cutoff=0.6)
    return match[0] if match else None


def run_type(context) -> str:
    """The run's type as its plain value ("scheduled", "backfill", "manual", ...). In tasks the Task SDK's
    DagRunType is a plain (str, Enum), whose str() is "DagRunType.BACKFILL": compare values, never str()."""
    value = getattr(context["dag_run"], "run_type", "") or ""
    return str(getattr(value, "value", value))


def overrides(context) -> dict:
    """The run's threshold Params that are set (None = the deployment's setting)."""
    params = context["params"]
    out = {name: params.get(name) for name in threshold_names() if params.get(name) is not None}
    if params.get("scorer") not in (None, "", "default"):
        out["scorer"] = params["scorer"]
    return out


def run_settings(context):
    """Settings for this run: the environment's, overridden by the run's Params."""
    from empathy import config

    return config.load(overrides(context))


def run_window(context) -> tuple[datetime, datetime | None]:
    """(as_of, since): scheduled and backfill runs cover their data interval; manual and
    sensor-triggered runs look at everything up to the moment they were triggered."""
    dag_run = context["dag_run"]
    start, end = context.get("data_interval_start"), context.get("data_interval_end")
    if run_type(context) in ("scheduled", "backfill") and end is not None:
        return end, start
    moment = getattr(dag_run, "run_after", None) or context.get("logical_date") or datetime.now(timezone.utc)
    return moment, None


@dataclass(frozen=True)
class RunInfo:
    """One pipeline run as the stages see it."""
    run_id: str
    run_type: str
    as_of: datetime
    since: datetime | None
    mode: str                  # "live" | "dry run" | "backfill"
    scope: str                 # '' for live runs; else the simulation scope its decisions belong to
    overrides: dict
    base_url: str | None = None

    @property
    def simulate(self) -> bool:
        return self.mode != "live"

    @classmethod
    def from_dict(cls, d: dict) -> RunInfo:
        """The RunInfo ``as_dict`` made (it travels between tasks as XCom)."""
        return cls(**{**d, "as_of": datetime.fromisoformat(d["as_of"]),
                      "since": datetime.fromisoformat(d["since"]) if d.get("since") else None})

    def as_dict(self) -> dict:
        d = asdict(self)
        d["as_of"] = self.as_of.isoformat()
        d["since"] = self.since.isoformat() if self.since else None
        return d


def run_info(context, base_url: str | None = None) -> RunInfo:
    """What this run is: dry runs simulate in the dry-run scope (or their scenario's); backfills simulate
    in the backfill scope unless `deliver` is true; everything else is live."""
    params = context["params"]
    kind = run_type(context)
    as_of, since = run_window(context)
    scenario = params.get("scenario") or ""
    if params.get("dry_run"):
        mode, scope = "dry run", "dry-run" + (f":{scenario}" if scenario else "")
    elif kind == "backfill" and not params.get("deliver"):
        mode, scope = "backfill", "backfill" + (f":{scenario}" if scenario else "")
    else:
        mode, scope = "live", ""
    return RunInfo(context["run_id"], kind, as_of, since, mode, scope, overrides(context), base_url)


def is_simulated(context) -> bool:
    """Dry runs simulate; backfills simulate unless `deliver` is explicitly true."""
    return run_info(context).simulate
