"""The one module that knows Airflow exists: credentials from Airflow connections, clients from provider hooks,
and the watcher that starts ``empathy_pipeline`` when files land.

Everything else in ``empathy`` asks here for a connection or a client and gets ``None`` when none
is configured, which means *simulate*: decisions are recorded and previewed, nothing leaves the
machine. Connections resolve the Airflow way (secrets backends, ``AIRFLOW_CONN_<ID>`` environment
variables, the metadata database), inside a task and from the CLI alike.
"""
from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from dataclasses import dataclass, field

from airflow.triggers.base import BaseEventTrigger, TriggerEvent

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ConnectionInfo:
    conn_id: str
    conn_type: str | None
    host: str | None
    login: str | None
    password: str | None = field(repr=False)
    extra: dict

    def __repr__(self) -> str:  # never print a secret
        return f"ConnectionInfo(conn_id={self.conn_id!r}, conn_type={self.conn_type!r}, host={self.host!r})"


def get_connection(conn_id: str) -> ConnectionInfo | None:
    """The Airflow connection ``conn_id``, or None when it is not configured."""
    try:
        from airflow.sdk import BaseHook
    except ImportError:  # Airflow not installed: the package still works, in simulate mode
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except Exception as exc:  # AirflowNotFoundException, or a secrets backend that cannot answer
        log.info("connection %s not configured (%s): simulating", conn_id, type(exc).__name__)
        return None
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else json.loads(conn.extra or "{}")
    return ConnectionInfo(conn_id, conn.conn_type, conn.host, conn.login, conn.password, extra or {})


def slack_client(conn_id: str = "slack_api_default", timeout_s: float = 10.0, retries: int = 3):
    """A slack_sdk WebClient from the provider's SlackHook (token, extra ``base_url``), or None when not configured.

    Retries live in the client: slack-sdk's RateLimitErrorRetryHandler waits out ``Retry-After`` on
    429, ServerErrorRetryHandler retries 500/503. Connection resets and timeouts are *not* retried
    here: the request may have been posted, so the action is left ``failed`` for the next run.
    """
    if get_connection(conn_id) is None:
        return None
    from airflow.providers.slack.hooks.slack import SlackHook
    from slack_sdk.http_retry.builtin_handlers import RateLimitErrorRetryHandler, ServerErrorRetryHandler

    handlers = [RateLimitErrorRetryHandler(max_retry_count=retries), ServerErrorRetryHandler(max_retry_count=retries)]
    hook = SlackHook(slack_conn_id=conn_id, timeout=max(1, round(timeout_s)), retry_handlers=handlers)
    return hook.client


SENDGRID_HOST = "https://api.sendgrid.com"


@dataclass(frozen=True)
class SendGridInfo:
    """What the SendGrid sender needs from connection ``sendgrid_default`` (conn type email)."""

    api_key: str = field(repr=False)
    host: str
    from_email: str | None
    from_name: str | None
    asm_group_id: int | None


def sendgrid_info(conn_id: str = "sendgrid_default") -> SendGridInfo | None:
    """API key (password), API host (host, default api.sendgrid.com), extra ``from_email``/``from_name``/``asm_group_id``.

    None when the connection is absent or has no API key: simulate.
    """
    conn = get_connection(conn_id)
    if conn is None or not conn.password:
        return None
    host = (conn.host or SENDGRID_HOST).rstrip("/")
    if "://" not in host:
        host = "https://" + host
    group = conn.extra.get("asm_group_id")
    return SendGridInfo(conn.password, host, conn.extra.get("from_email"), conn.extra.get("from_name"),
                        int(group) if group not in (None, "") else None)


def openai_client(conn_id: str = "openai_default", timeout_s: float = 30.0, max_retries: int = 3):
    """An ``openai.OpenAI`` client for connection ``conn_id``, or None when it is not configured.

    Reads the connection the way the provider's OpenAIHook does: password = API key, host = base URL
    (``extra.openai_client_kwargs.base_url`` wins), other ``openai_client_kwargs`` passed through,
    ``auth_type: workload_identity`` built by the hook itself. Timeout and retries come from Empathy's
    settings; the SDK's own retries honour Retry-After on 429/5xx.
    """
    conn = get_connection(conn_id)
    if conn is None:
        return None
    import os

    import openai

    if conn.extra.get("auth_type", "api_key") != "api_key":
        from airflow.providers.openai.hooks.openai import OpenAIHook

        return OpenAIHook(conn_id=conn_id).get_conn().with_options(timeout=timeout_s, max_retries=max_retries)
    kwargs = dict(conn.extra.get("openai_client_kwargs") or {})
    base_url = kwargs.pop("base_url", None) or conn.host or None
    if base_url and "://" not in base_url:
        base_url = "https://" + base_url
    # As the hook: no key in the connection -> the SDK's OPENAI_API_KEY; local servers often take none.
    api_key = kwargs.pop("api_key", None) or conn.password or os.environ.get("OPENAI_API_KEY") or "unused"
    kwargs.update(timeout=timeout_s, max_retries=max_retries)
    return openai.OpenAI(api_key=api_key, base_url=base_url, **kwargs)


def notify_failure(context) -> None:
    """Failure alert through Airflow's SlackNotifier when Slack is configured; otherwise the log says it."""
    from empathy.config import load

    settings = load()
    ti = context.get("task_instance") or context.get("ti")
    if get_connection(settings.slack_conn_id) is None:
        print(f"empathy: task {getattr(ti, 'task_id', '?')} failed (no Slack connection for a failure alert)")
        return
    from airflow.providers.slack.notifications.slack import SlackNotifier

    SlackNotifier(
        slack_conn_id=settings.slack_conn_id,
        channel=settings.slack_fallback_channel,
        text=(":red_circle: Empathy task `{{ ti.task_id }}` failed in `{{ dag.dag_id }}` "
              "run `{{ run_id }}` (try {{ ti.try_number }}). {{ ti.log_url }}"),
    )(context)  # calling the notifier renders its templates against the context, then sends


# --- near-real-time: a watcher on the landing folder ------------------------------------------------

LANDING_ASSET = "empathy_landing"


class LandingFilesTrigger(BaseEventTrigger):
    """Fires when settled files in ``$EMPATHY_HOME/landing/`` are not ingested yet: an asset event that
    starts an ``empathy_pipeline`` run within ``EMPATHY_LANDING_POLL_S`` seconds, and no run at all
    while nothing lands.

    It runs in the triggerer (no worker slot, no DAG run per look) and reads the folder and the small
    manifest the ingest stage writes, never the DuckDB file. Each file is announced once: an event
    names only files the previous events did not. Why not Airflow's own FileTrigger: it deletes the
    file it fires on, and landed files are immutable evidence we keep. Takes no arguments, so its
    identity (and the watcher's) stays the same whatever the settings; they are read when it starts.
    """

    def serialize(self) -> tuple[str, dict]:
        return f"{type(self).__module__}.{type(self).__qualname__}", {}

    @staticmethod
    def _look() -> tuple[list[str], float]:
        from empathy import config
        from empathy.ingest import pending_files

        settings = config.load()
        if not settings.landing.is_dir():
            raise FileNotFoundError(f"{settings.landing} does not exist (yet), or this triggerer cannot see it")
        return pending_files(settings), settings.landing_poll_s

    async def run(self):
        announced: set[str] = set()
        poll_s, problem = 10.0, None
        while True:
            try:
                pending, poll_s = await asyncio.to_thread(self._look)
                problem = None
            except Exception as exc:  # noqa: BLE001 - an unreadable folder or setting must not stop the watch
                if str(exc) != problem:  # said once, not at every look
                    log.warning("landing watch: cannot look at the landing folder (%s: %s); looking again "
                                "every %ss", type(exc).__name__, exc, poll_s)
                problem = str(exc)
                pending = sorted(announced)
            new = [name for name in pending if name not in announced]
            if new:
                fingerprint = hashlib.sha256("\n".join(new).encode()).hexdigest()[:16]
                yield TriggerEvent({"files": new[:20], "count": len(new), "fingerprint": fingerprint})
            announced = (announced | set(new)) & set(pending)  # ingested files leave the set
            await asyncio.sleep(poll_s)


def landing_or_cron_schedule(cron: str):
    """``empathy_pipeline``'s schedule: every ``cron`` data interval (backfillable) OR when files land.

    An ``AssetOrTimeSchedule`` keeps the cron's data intervals, so backfills work as before; the asset
    ``empathy_landing`` gets its events from ``LandingFilesTrigger`` (an ``AssetWatcher``).
    """
    from airflow.sdk import Asset, AssetOrTimeSchedule, AssetWatcher, CronDataIntervalTimetable

    watcher = AssetWatcher(name="empathy_new_landing_files", trigger=LandingFilesTrigger())
    return AssetOrTimeSchedule(timetable=CronDataIntervalTimetable(cron, timezone="UTC"),
                               assets=[Asset(LANDING_ASSET, watchers=[watcher])])
