"""Every setting in one place: its environment variable, its default, its range and what it means.

Settings are a pydantic-settings model: each field reads one ``EMPATHY_*`` environment variable, is
validated (a typo such as ``EMPATHY_EMAIL_REWRITE=flase`` or a negative threshold is refused with the
variable's name, never coerced), and documents itself. The README's settings table and the DAG's
trigger form (titles, help text, ranges, sections) are generated from these fields, so documentation,
validation and the form cannot drift. Per-run overrides (the DAG's Params) go through
``load(overrides)``; nothing else reads ``os.environ`` for Empathy settings.
"""
from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated, Any

from pydantic import AfterValidator, Field, ValidationError
from pydantic_settings import BaseSettings, SettingsConfigDict

REPO_ROOT = Path(__file__).resolve().parents[2]

# A moment in time; one written without a zone (`2000-01-01`) means UTC.
UtcDatetime = Annotated[datetime, AfterValidator(lambda d: d if d.tzinfo else d.replace(tzinfo=timezone.utc))]


def _setting(env: str, default, doc: str, *, title: str | None = None, section: str | None = None,
             param: bool = False, **constraints):
    """One setting: environment variable ``env``, default, documentation and (for the trigger form) a title,
    a section, and whether a run may override it (``param``). ``constraints`` are pydantic's (ge, le, ...)."""
    extra = {"env": env, "param": param}
    if title:
        extra["title"] = title
    if section:
        extra["section"] = section
    return Field(default=default, validation_alias=env, description=doc, json_schema_extra=extra, **constraints)


class Settings(BaseSettings):
    # The environment is read by pydantic-settings (EMPATHY_* by each field's alias; empty = unset);
    # per-run overrides come in by field name.
    model_config = SettingsConfigDict(frozen=True, populate_by_name=True, extra="forbid", validate_default=True,
                                      env_ignore_empty=True, case_sensitive=True)

    # --- where things live -------------------------------------------------------------------
    home: Path = _setting(
        "EMPATHY_HOME", REPO_ROOT / "data",
        "Holds landing/ (input), empathy.duckdb (state) and outbox/ (previews of what was or would be sent).")
    work: str = _setting(
        "EMPATHY_WORK_DIR", "",
        "Hand-off files between tasks (scoring batches, claimed deliveries); empty = `$EMPATHY_HOME/work`. "
        "On Celery, a folder every worker can read.")
    outbox_dir: str = _setting(
        "EMPATHY_OUTBOX_DIR", "",
        "Previews of what was or would be sent; empty = `$EMPATHY_HOME/outbox`. On Celery, a folder the "
        "default-queue workers that send can write (they do not see EMPATHY_HOME).")
    landing_settle_s: float = _setting(
        "EMPATHY_LANDING_SETTLE_S", 2.0,
        "A landed file modified less than this many seconds ago is still being written: left for the next run.",
        ge=0)
    landing_poll_s: float = _setting(
        "EMPATHY_LANDING_POLL_S", 10.0,
        "Seconds between two looks at the landing folder by the pipeline's watcher (in Airflow's triggerer): "
        "new files start a run within this time.",
        ge=1, le=3600)

    # --- ingest: what one line, one file and one run may cost (docs/ingest.md) -------------------
    ingest_max_line_bytes: int = _setting(
        "EMPATHY_INGEST_MAX_LINE_BYTES", 32768,
        "A line (one event) longer than this many bytes is quarantined without being held in memory whole "
        "(Segment's own limit is 32 KB).", ge=1024, le=1 << 20)
    ingest_chunk_bytes: int = _setting(
        "EMPATHY_INGEST_CHUNK_BYTES", 8 << 20,
        "Bytes of a landed file (after decompression) read and handed to DuckDB at a time: with the line limit, "
        "what reading costs in memory, whatever the size of the file.", ge=1 << 20, le=256 << 20)
    quarantine_raw_bytes: int = _setting(
        "EMPATHY_QUARANTINE_RAW_BYTES", 8192,
        "How much of a rejected line `quarantine.raw` keeps; its full length and SHA-256 are kept beside it.",
        ge=256, le=65536)
    ingest_max_file_bytes: int = _setting(
        "EMPATHY_INGEST_MAX_FILE_BYTES", 10_000_000_000,
        "A landed file whose content (after decompression) is larger than this is refused whole, with a reason.",
        ge=1 << 20)
    ingest_max_gzip_ratio: float = _setting(
        "EMPATHY_INGEST_MAX_GZIP_RATIO", 100.0,
        "A `.gz` file that expands to more than this many times its compressed size (past its first MiB) is "
        "refused as a gzip bomb; event data compresses 5-20x.", ge=2, le=100000)
    ingest_ts_min: UtcDatetime = _setting(
        "EMPATHY_INGEST_TS_MIN", datetime(2000, 1, 1, tzinfo=timezone.utc),
        "Events timestamped before this (a BC date, `-infinity`, a device clock at 1970) are quarantined.")
    ingest_ts_max_future_h: float = _setting(
        "EMPATHY_INGEST_TS_MAX_FUTURE_H", 168.0,
        "Events timestamped more than this many hours after the ingest (a device clock in the future, "
        "`infinity`) are quarantined.", ge=0, le=24 * 3650)
    ingest_memory_limit: str = _setting(
        "EMPATHY_INGEST_MEMORY_LIMIT", "1GB",
        "DuckDB's `memory_limit` while ingesting (beyond it DuckDB spills to disk); empty = DuckDB's default "
        "(80% of RAM).", pattern=r"^\s*$|^\s*\d+(\.\d+)?\s*(KB|MB|GB|TB|KiB|MiB|GiB|TiB)\s*$")
    ingest_threads: int = _setting(
        "EMPATHY_INGEST_THREADS", 0, "DuckDB threads while ingesting; 0 = DuckDB's default (one per core).",
        ge=0, le=256)

    # --- scoring -----------------------------------------------------------------------------
    scorer: str = _setting(
        "EMPATHY_SCORER", "lexicon",
        "`lexicon`: the offline scorer; `openai`: the LLM scorer through connection `openai_default`.",
        pattern="^(lexicon|openai)$")
    openai_conn_id: str = _setting("EMPATHY_OPENAI_CONN_ID", "openai_default", "Airflow connection for the LLM.")
    openai_model: str = _setting(
        "EMPATHY_OPENAI_MODEL", "gpt-4o-mini", "Model used when the connection's extra has no `model`.")
    llm_concurrency: int = _setting("EMPATHY_LLM_CONCURRENCY", 4, "LLM requests in flight at once.", ge=1, le=64)
    llm_timeout_s: float = _setting("EMPATHY_LLM_TIMEOUT_S", 30.0, "Timeout of one LLM request, seconds.", gt=0)
    llm_max_retries: int = _setting(
        "EMPATHY_LLM_MAX_RETRIES", 3, "Retries of one LLM request on 429/5xx/timeouts (the SDK's own).", ge=0, le=10)
    llm_texts_per_user: int = _setting(
        "EMPATHY_LLM_TEXTS_PER_USER", 5, "How many of a user's latest customer texts the LLM sees.", ge=0, le=50)
    llm_max_text_chars: int = _setting(
        "EMPATHY_LLM_MAX_TEXT_CHARS", 1000, "Each customer text is cut to this many characters before it is sent.",
        ge=1)
    llm_batch_api: bool = _setting(
        "EMPATHY_LLM_BATCH_API", False,
        "Score through OpenAI's Batch API (50% cheaper, answers within 24 h) instead of one request per user.")
    llm_batch_poll_s: float = _setting(
        "EMPATHY_LLM_BATCH_POLL_S", 30.0, "Seconds between Batch API status polls.", gt=0)
    llm_batch_max_wait_s: float = _setting(
        "EMPATHY_LLM_BATCH_MAX_WAIT_S", 3600.0,
        "Longest wait for a Batch API job; then it is cancelled and its users fall back to the lexicon.", gt=0)
    score_batch_size: int = _setting(
        "EMPATHY_SCORE_BATCH_SIZE", 2000, "Users per scoring batch (one mapped Airflow task each).", ge=1)

    # --- behavioural detectors (the seed's thresholds) -----------------------------------------
    rage_clicks: int = _setting(
        "EMPATHY_RAGE_CLICKS", 3, "Clicks on the same element within the rage window that make a rage click.",
        title="Rage clicks", section="Detectors", param=True, ge=2, le=50)
    rage_window_s: float = _setting(
        "EMPATHY_RAGE_WINDOW_S", 10.0, "... within this many seconds.",
        title="Rage-click window (seconds)", section="Detectors", param=True, gt=0, le=600)
    api_error_streak: int = _setting(
        "EMPATHY_API_ERROR_STREAK", 3, "Consecutive failed API requests (status >= 400) that make a streak.",
        title="API error streak", section="Detectors", param=True, ge=2, le=100)
    docs_dwell_s: float = _setting(
        "EMPATHY_DOCS_DWELL_S", 300.0, "Seconds on a /docs/ page, with no command run after it, that mean confused.",
        title="Docs dwell (seconds)", section="Detectors", param=True, ge=10, le=86400)
    session_gap_s: float = _setting(
        "EMPATHY_SESSION_GAP_S", 1800.0, "Inactivity that ends a session (Segment/GA convention: 30 min).",
        ge=60, le=86400)
    search_loop: int = _setting(
        "EMPATHY_SEARCH_LOOP", 3, "Searches in one session without a result being used that make a loop.",
        ge=2, le=100)
    lookback_days: int = _setting(
        "EMPATHY_LOOKBACK_DAYS", 14, "Evidence older than this (before the run's as-of time) no longer counts.",
        ge=1, le=3650)
    half_life_h: float = _setting(
        "EMPATHY_HALF_LIFE_H", 48.0, "Half-life of evidence in the sentiment trend (EWMA over events).", gt=0)
    ticket_stale_h: float = _setting(
        "EMPATHY_TICKET_STALE_H", 24.0,
        "An unresolved ticket whose customer text is negative is a sign of leaving (at_risk) once it has waited "
        "this many hours, or the customer has chased it, or there are two; before that it is frustration.", ge=0)

    # --- policy ---------------------------------------------------------------------------------
    high_value_mrr: float = _setting(
        "EMPATHY_HIGH_VALUE_MRR", 1000.0, "Accounts with group trait `mrr` at or above this get concierge alerts.",
        title="High-value MRR", section="Concierge alerts", param=True, ge=0)
    alert_cooldown_h: float = _setting(
        "EMPATHY_ALERT_COOLDOWN_H", 24.0, "One Slack alert per account per this many hours, unless it gets worse.",
        title="Alert cooldown (hours)", section="Concierge alerts", param=True, ge=0, le=24 * 90)
    slack_fallback_channel: str = _setting(
        "EMPATHY_SLACK_CHANNEL", "#empathy-alerts", "Where alerts go when the account has no account manager.",
        pattern=r"^(#[a-z0-9][a-z0-9_-]{0,79}|[CG][A-Z0-9]{8,})$")
    email_cap_per_day: int = _setting(
        "EMPATHY_EMAIL_CAP_PER_DAY", 1, "Non-transactional emails per user per 24 h.",
        title="Emails per user per day", section="Emails", param=True, ge=0, le=50)
    quiet_hours: str = _setting(
        "EMPATHY_QUIET_HOURS", "21-8", "No non-transactional email in these local hours (user's timezone), `start-end`.",
        pattern=r"^\s*$|^\s*([01]?\d|2[0-3])\s*-\s*([01]?\d|2[0-3])\s*$")
    holdout_pct: float = _setting(
        "EMPATHY_HOLDOUT_PCT", 10.0, "Share of users (0-100) who get the standard drip with no empathy adjustments.",
        title="Holdout share (%)", section="Emails", param=True, ge=0, le=100)
    release_after_h: float = _setting(
        "EMPATHY_RELEASE_AFTER_H", 24.0,
        "A held user is released after this many hours with no negative signal and some positive evidence.", ge=0)
    holdout_ignores_holds: bool = _setting(
        "EMPATHY_HOLDOUT_IGNORES_HOLDS", False,
        "true: holdout users' drips ignore holds too (a purer experiment, but held holdout users may then get "
        "promotional mail). false: holdout removes only tone and template adjustments; safety rules stay.")
    drip_max_late_h: float = _setting(
        "EMPATHY_DRIP_MAX_LATE_H", 168.0,
        "A drip step still unsent this many hours after it was due (held, quiet hours, cap) is skipped, not sent late.",
        ge=0)
    campaigns_dir: str = _setting(
        "EMPATHY_CAMPAIGNS_DIR", "", "Folder of campaign YAML files and templates; empty = the built-in campaigns.")
    email_rewrite: bool = _setting(
        "EMPATHY_EMAIL_REWRITE", True,
        "With connection `openai_default`, let the LLM rewrite email bodies in the chosen tone (under guardrails).")
    rewrite_max_ratio: float = _setting(
        "EMPATHY_REWRITE_MAX_RATIO", 1.5, "An LLM rewrite longer than this many times the template body is rejected.",
        ge=1.0, le=5.0)

    # --- delivery -------------------------------------------------------------------------------
    slack_conn_id: str = _setting("EMPATHY_SLACK_CONN_ID", "slack_api_default", "Airflow connection for Slack.")
    sendgrid_conn_id: str = _setting(
        "EMPATHY_SENDGRID_CONN_ID", "sendgrid_default", "Airflow connection for SendGrid.")
    sendgrid_sandbox: bool = _setting(
        "EMPATHY_SENDGRID_SANDBOX", False, "Send with SendGrid's sandbox mode (validated, never delivered).")
    unsubscribe_url: str = _setting(
        "EMPATHY_UNSUBSCRIBE_URL", "https://example.com/unsubscribe?u={user_id}",
        "Unsubscribe link in every email footer when no SendGrid `asm_group_id` is set.", pattern=r"^https?://")
    delivery_max_attempts: int = _setting(
        "EMPATHY_DELIVERY_MAX_ATTEMPTS", 5, "Delivery attempts of one action (across runs) before it stays `failed`.",
        ge=1, le=100)
    delivery_timeout_s: float = _setting(
        "EMPATHY_DELIVERY_TIMEOUT_S", 10.0, "Timeout of one Slack or SendGrid request, seconds.", gt=0)
    delivery_concurrency: int = _setting(
        "EMPATHY_DELIVERY_CONCURRENCY", 4, "Slack/SendGrid requests in flight at once in one send step.", ge=1, le=64)
    delivery_retries: int = _setting(
        "EMPATHY_DELIVERY_RETRIES", 3,
        "Retries of one Slack/SendGrid request within a run on 429/5xx (Retry-After honoured).", ge=0, le=10)
    delivery_max_retry_after_s: float = _setting(
        "EMPATHY_DELIVERY_MAX_RETRY_AFTER_S", 60.0,
        "Longest SendGrid Retry-After waited within a run; a longer one leaves the action `failed` for the next run.",
        ge=0)
    delivery_batch: int = _setting(
        "EMPATHY_DELIVERY_BATCH", 2000,
        "Alerts and emails one run sends per kind at most; the rest go with the next runs, oldest first (Slack "
        "takes about one message a second per channel). Previews (a simulation, or a channel with no connection) "
        "have no cap: the decide step writes them all, this many rows in memory at a time. Holds have no cap.",
        ge=1)
    bulk_processes: int = _setting(
        "EMPATHY_BULK_PROCESSES", 2,
        "Child processes that share a run's per-row Python work (scoring, previews, the page's users) when it "
        "holds more than one batch (a bulk load); each holds one batch at a time. 0 = all in the run's own process.",
        ge=0, le=64)
    delivery_lease_s: float = _setting(
        "EMPATHY_DELIVERY_LEASE_S", 900.0,
        "A claimed action not recorded within this many seconds (its relay crashed) may be claimed again.", ge=0)
    sendgrid_hold_group_id: int = _setting(
        "EMPATHY_SENDGRID_HOLD_GROUP_ID", 0,
        "SendGrid suppression group that mirrors holds (hold adds the user's email, release removes it); 0 = off.",
        ge=0)

    # --- the Empathy page (empathy.ui) ----------------------------------------------------------
    ui_dir: str = _setting(
        "EMPATHY_UI_DIR", "",
        "The page's read model (Parquet files the pipeline swaps in at the end of each run; the api-server "
        "queries them and never opens empathy.duckdb); empty = `$EMPATHY_OUTBOX_DIR/.ui`.")
    ui_history_points: int = _setting(
        "EMPATHY_UI_HISTORY_POINTS", 400,
        "State changes per user kept for the user's chart (the latest ones).", ge=2, le=10000)
    ui_trend_days: int = _setting(
        "EMPATHY_UI_TREND_DAYS", 60, "Days shown in the state-per-day and account trend charts.", ge=2, le=3650)
    ui_page_size: int = _setting("EMPATHY_UI_PAGE_SIZE", 50, "Rows per page in the page's tables.", ge=5, le=1000)
    ui_memory_mb: int = _setting(
        "EMPATHY_UI_MEMORY_MB", 512, "Memory the api-server's in-process DuckDB may use for the page's queries.",
        ge=64)
    ui_redact_cache: int = _setting(
        "EMPATHY_UI_REDACT_CACHE", 50000,
        "Distinct customer texts whose redaction a refresh remembers (texts repeat across users and runs).",
        ge=0, le=10_000_000)

    def replace(self, **changes) -> Settings:
        """A copy with some settings changed, validated like the rest (tests and benchmarks use it)."""
        return Settings.model_validate({**self.model_dump(), **changes})

    @property
    def landing(self) -> Path:
        return self.home / "landing"

    @property
    def db_path(self) -> Path:
        return self.home / "empathy.duckdb"

    @property
    def outbox(self) -> Path:
        return Path(self.outbox_dir) if self.outbox_dir else self.home / "outbox"

    @property
    def ui_path(self) -> Path:
        """The page's read model (hidden inside the outbox: the api-server mounts the outbox already)."""
        return Path(self.ui_dir) if self.ui_dir else self.outbox / ".ui"

    @property
    def work_dir(self) -> Path:
        """Scratch space for hand-offs between tasks (scoring batches, delivery results)."""
        return Path(self.work) if self.work else self.home / "work"


class SettingsError(ValueError):
    """A setting (environment variable or run override) that is not valid; the message names it."""


FIELDS = Settings.model_fields


def env_name(name: str) -> str:
    return FIELDS[name].json_schema_extra["env"]


def load(overrides: dict | None = None) -> Settings:
    """Settings from defaults, then the environment, then per-run overrides (by field name; None = unset).

    Raises SettingsError naming the variable (or the override key) when a value is not valid."""
    values: dict[str, Any] = {}
    for name, value in (overrides or {}).items():
        if name not in FIELDS:
            raise SettingsError(f"unknown setting {name!r}")
        if value is not None:
            values[name] = value
    try:
        return Settings(**values)
    except ValidationError as exc:
        problems = []
        for err in exc.errors():
            key = str(err["loc"][0]) if err["loc"] else "?"
            where = key if key in values else (env_name(key) if key in FIELDS else key)
            problems.append(f"{where}: {err['msg']} (got {err.get('input')!r})")
        raise SettingsError("invalid settings: " + "; ".join(problems)) from None


def run_params() -> dict[str, dict]:
    """The settings a run may override (the DAG's trigger form), each as a JSON-schema fragment:
    title, description, type, minimum/maximum, section. Generated here so form and validation agree."""
    out = {}
    for name, field in FIELDS.items():
        extra = field.json_schema_extra
        if not extra.get("param"):
            continue
        kind = {int: "integer", float: "number", bool: "boolean", str: "string"}[field.annotation]
        schema: dict[str, Any] = {"type": ["null", kind], "title": extra.get("title", name),
                                  "description": f"{field.description} Empty: the deployment's setting "
                                                 f"({extra['env']}, default {field.default}).",
                                  "section": extra.get("section", "Thresholds")}
        for meta in field.metadata:
            for attr, key in (("ge", "minimum"), ("le", "maximum"), ("gt", "exclusiveMinimum"),
                              ("lt", "exclusiveMaximum")):
                if getattr(meta, attr, None) is not None:
                    schema[key] = getattr(meta, attr)
        out[name] = schema
    return out


def settings_table() -> str:
    """The README's settings table, in Markdown."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    for name, field in FIELDS.items():
        default = field.default
        if isinstance(default, Path):
            default = "data/ in the repository" if name == "home" else default
        rows.append(f"| `{field.json_schema_extra['env']}` | `{default}` | {field.description} |")
    return "\n".join(rows)
