"""Every setting in one place: its environment variable, its default, and what it means.

The README's settings table is generated from SETTINGS (``python -m empathy settings``), so the
documentation and the code cannot drift. Per-run overrides (the DAG's Params) go through
``load(overrides)``; nothing else reads ``os.environ`` for Empathy settings.
"""
from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]


def _setting(env: str, default, doc: str):
    return field(default=default, metadata={"env": env, "doc": doc})


@dataclass(frozen=True)
class Settings:
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
        "A landed file modified less than this many seconds ago is still being written: left for the next run.")

    # --- scoring -----------------------------------------------------------------------------
    scorer: str = _setting(
        "EMPATHY_SCORER", "lexicon",
        "`lexicon`: the offline scorer; `openai`: the LLM scorer through connection `openai_default`.")
    openai_conn_id: str = _setting("EMPATHY_OPENAI_CONN_ID", "openai_default", "Airflow connection for the LLM.")
    openai_model: str = _setting(
        "EMPATHY_OPENAI_MODEL", "gpt-4o-mini", "Model used when the connection's extra has no `model`.")
    llm_concurrency: int = _setting("EMPATHY_LLM_CONCURRENCY", 4, "LLM requests in flight at once.")
    llm_timeout_s: float = _setting("EMPATHY_LLM_TIMEOUT_S", 30.0, "Timeout of one LLM request, seconds.")
    llm_max_retries: int = _setting(
        "EMPATHY_LLM_MAX_RETRIES", 3, "Retries of one LLM request on 429/5xx/timeouts (the SDK's own).")
    llm_texts_per_user: int = _setting(
        "EMPATHY_LLM_TEXTS_PER_USER", 5, "How many of a user's latest customer texts the LLM sees.")
    llm_max_text_chars: int = _setting(
        "EMPATHY_LLM_MAX_TEXT_CHARS", 1000, "Each customer text is cut to this many characters before it is sent.")
    llm_batch_api: bool = _setting(
        "EMPATHY_LLM_BATCH_API", False,
        "Score through OpenAI's Batch API (50% cheaper, answers within 24 h) instead of one request per user.")
    llm_batch_poll_s: float = _setting("EMPATHY_LLM_BATCH_POLL_S", 30.0, "Seconds between Batch API status polls.")
    llm_batch_max_wait_s: float = _setting(
        "EMPATHY_LLM_BATCH_MAX_WAIT_S", 3600.0,
        "Longest wait for a Batch API job; then it is cancelled and its users fall back to the lexicon.")
    score_batch_size: int = _setting(
        "EMPATHY_SCORE_BATCH_SIZE", 2000, "Users per scoring batch (one mapped Airflow task each).")

    # --- behavioural detectors (the seed's thresholds) -----------------------------------------
    rage_clicks: int = _setting("EMPATHY_RAGE_CLICKS", 3, "Clicks on the same element that make a rage click.")
    rage_window_s: float = _setting("EMPATHY_RAGE_WINDOW_S", 10.0, "... within this many seconds.")
    api_error_streak: int = _setting(
        "EMPATHY_API_ERROR_STREAK", 3, "Consecutive failed API requests (status >= 400) that make a streak.")
    docs_dwell_s: float = _setting(
        "EMPATHY_DOCS_DWELL_S", 300.0, "Seconds on a /docs/ page, with no command run after it, that mean confused.")
    session_gap_s: float = _setting(
        "EMPATHY_SESSION_GAP_S", 1800.0, "Inactivity that ends a session (Segment/GA convention: 30 min).")
    search_loop: int = _setting(
        "EMPATHY_SEARCH_LOOP", 3, "Searches in one session without a result being used that make a loop.")
    lookback_days: int = _setting(
        "EMPATHY_LOOKBACK_DAYS", 14, "Evidence older than this (before the run's as-of time) no longer counts.")
    half_life_h: float = _setting(
        "EMPATHY_HALF_LIFE_H", 48.0, "Half-life of evidence in the sentiment trend (EWMA over events).")
    ticket_stale_h: float = _setting(
        "EMPATHY_TICKET_STALE_H", 24.0,
        "An unresolved ticket whose customer text is negative is a sign of leaving (at_risk) once it has waited "
        "this many hours, or the customer has chased it, or there are two; before that it is frustration.")

    # --- policy ---------------------------------------------------------------------------------
    high_value_mrr: float = _setting(
        "EMPATHY_HIGH_VALUE_MRR", 1000.0, "Accounts with group trait `mrr` at or above this get concierge alerts.")
    alert_cooldown_h: float = _setting(
        "EMPATHY_ALERT_COOLDOWN_H", 24.0, "One Slack alert per account per this many hours, unless it gets worse.")
    slack_fallback_channel: str = _setting(
        "EMPATHY_SLACK_CHANNEL", "#empathy-alerts", "Where alerts go when the account has no account manager.")
    email_cap_per_day: int = _setting(
        "EMPATHY_EMAIL_CAP_PER_DAY", 1, "Non-transactional emails per user per 24 h.")
    quiet_hours: str = _setting(
        "EMPATHY_QUIET_HOURS", "21-8", "No non-transactional email in these local hours (user's timezone), `start-end`.")
    holdout_pct: float = _setting(
        "EMPATHY_HOLDOUT_PCT", 10.0, "Share of users (0-100) who get the standard drip with no empathy adjustments.")
    release_after_h: float = _setting(
        "EMPATHY_RELEASE_AFTER_H", 24.0,
        "A held user is released after this many hours with no negative signal and some positive evidence.")
    holdout_ignores_holds: bool = _setting(
        "EMPATHY_HOLDOUT_IGNORES_HOLDS", False,
        "true: holdout users' drips ignore holds too (a purer experiment, but held holdout users may then get "
        "promotional mail). false: holdout removes only tone and template adjustments; safety rules stay.")
    drip_max_late_h: float = _setting(
        "EMPATHY_DRIP_MAX_LATE_H", 168.0,
        "A drip step still unsent this many hours after it was due (held, quiet hours, cap) is skipped, not sent late.")
    campaigns_dir: str = _setting(
        "EMPATHY_CAMPAIGNS_DIR", "", "Folder of campaign YAML files and templates; empty = the built-in campaigns.")
    email_rewrite: bool = _setting(
        "EMPATHY_EMAIL_REWRITE", True,
        "With connection `openai_default`, let the LLM rewrite email bodies in the chosen tone (under guardrails).")
    rewrite_max_ratio: float = _setting(
        "EMPATHY_REWRITE_MAX_RATIO", 1.5, "An LLM rewrite longer than this many times the template body is rejected.")

    # --- delivery -------------------------------------------------------------------------------
    slack_conn_id: str = _setting("EMPATHY_SLACK_CONN_ID", "slack_api_default", "Airflow connection for Slack.")
    sendgrid_conn_id: str = _setting(
        "EMPATHY_SENDGRID_CONN_ID", "sendgrid_default", "Airflow connection for SendGrid.")
    sendgrid_sandbox: bool = _setting(
        "EMPATHY_SENDGRID_SANDBOX", False, "Send with SendGrid's sandbox mode (validated, never delivered).")
    unsubscribe_url: str = _setting(
        "EMPATHY_UNSUBSCRIBE_URL", "https://example.com/unsubscribe?u={user_id}",
        "Unsubscribe link in every email footer when no SendGrid `asm_group_id` is set.")
    delivery_max_attempts: int = _setting(
        "EMPATHY_DELIVERY_MAX_ATTEMPTS", 5, "Delivery attempts of one action (across runs) before it stays `failed`.")
    delivery_timeout_s: float = _setting(
        "EMPATHY_DELIVERY_TIMEOUT_S", 10.0, "Timeout of one Slack or SendGrid request, seconds.")
    delivery_concurrency: int = _setting(
        "EMPATHY_DELIVERY_CONCURRENCY", 4, "Slack/SendGrid requests in flight at once in one send step.")
    delivery_retries: int = _setting(
        "EMPATHY_DELIVERY_RETRIES", 3, "Retries of one Slack/SendGrid request within a run on 429/5xx (Retry-After honoured).")
    delivery_max_retry_after_s: float = _setting(
        "EMPATHY_DELIVERY_MAX_RETRY_AFTER_S", 60.0,
        "Longest SendGrid Retry-After waited within a run; a longer one leaves the action `failed` for the next run.")
    delivery_lease_s: float = _setting(
        "EMPATHY_DELIVERY_LEASE_S", 900.0,
        "A claimed action not recorded within this many seconds (its relay crashed) may be claimed again.")
    sendgrid_hold_group_id: int = _setting(
        "EMPATHY_SENDGRID_HOLD_GROUP_ID", 0,
        "SendGrid suppression group that mirrors holds (hold adds the user's email, release removes it); 0 = off.")

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
    def work_dir(self) -> Path:
        """Scratch space for hand-offs between tasks (scoring batches, delivery results)."""
        return Path(self.work) if self.work else self.home / "work"


def _coerce(value, like):
    if isinstance(like, bool):
        if isinstance(value, bool):
            return value
        return str(value).strip().lower() in {"1", "true", "yes", "on"}
    if isinstance(like, Path):
        return Path(value).expanduser()
    if isinstance(like, int):
        return int(value)
    if isinstance(like, float):
        return float(value)
    return str(value)


def load(overrides: dict | None = None, environ: dict | None = None) -> Settings:
    """Settings from defaults, then the environment, then per-run overrides (by field name)."""
    environ = os.environ if environ is None else environ
    defaults = Settings()
    values = {}
    for f in fields(Settings):
        env = f.metadata["env"]
        if env in environ and environ[env] != "":
            values[f.name] = _coerce(environ[env], getattr(defaults, f.name))
    for name, value in (overrides or {}).items():
        if value is None:
            continue
        if name not in {f.name for f in fields(Settings)}:
            raise KeyError(f"unknown setting {name!r}")
        values[name] = _coerce(value, getattr(defaults, name))
    return replace(defaults, **values)


def settings_table() -> str:
    """The README's settings table, in Markdown."""
    rows = ["| variable | default | meaning |", "|---|---|---|"]
    defaults = Settings()
    for f in fields(Settings):
        default = getattr(defaults, f.name)
        if isinstance(default, Path):
            default = "data/ in the repository" if f.name == "home" else default
        rows.append(f"| `{f.metadata['env']}` | `{default}` | {f.metadata['doc']} |")
    return "\n".join(rows)
