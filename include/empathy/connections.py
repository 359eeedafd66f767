"""The one module that knows Airflow exists: credentials from Airflow connections, clients from provider hooks,
and the watcher that starts ``empathy_pipeline`` when files land.

Everything else in ``empathy`` asks here for a connection or a client and gets ``None`` when none
is configured, which means *simulate*: decisions are recorded and previewed, nothing leaves the
machine. Connections resolve the Airflow way (secrets backends, ``AIRFLOW_CONN_<ID>`` environment
variables, the metadata database), inside a task and from the CLI alike.
"""
from __future__ import annotations

import asyncio
import functools
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
    """The ``openai.OpenAI`` client of the provider's ``OpenAIHook`` for ``conn_id``, or None when not configured.

    The hook reads the connection: password = API key (else the SDK's ``OPENAI_API_KEY``), host = base
    URL (``extra.openai_client_kwargs.base_url`` wins; other ``openai_client_kwargs`` pass through),
    ``extra.auth_type: workload_identity`` for keyless auth. Timeout and retries are Empathy's settings;
    the SDK's own retries honour Retry-After on 429 and retry 5xx and timeouts. A connection that
    cannot make a client (no key anywhere) raises ValueError naming it.
    """
    if get_connection(conn_id) is None:
        return None
    import openai
    from airflow.providers.openai.hooks.openai import OpenAIHook

    try:
        client = OpenAIHook(conn_id=conn_id).get_conn()
    except (openai.OpenAIError, ValueError) as exc:
        raise ValueError(f"connection {conn_id!r} cannot make an OpenAI client: {exc}. Set its password "
                         "(the API key; any value for a local server that takes none).") from None
    return client.with_options(timeout=timeout_s, max_retries=max_retries)


def __getattr__(name: str):
    """``OpenAIBatchWaitOperator`` is built on first use: importing Airflow's operator base takes seconds,
    and most callers of this module only want a connection."""
    if name == "OpenAIBatchWaitOperator":
        return _batch_wait_operator()
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


@functools.cache
def _batch_wait_operator():
    from airflow.sdk import BaseOperator

    class OpenAIBatchWaitOperator(BaseOperator):
        """Waits for an OpenAI Batch API job without holding a worker: deferred to the provider's
        ``OpenAIBatchTrigger`` in the triggerer. It never fails for the job's outcome: it returns
        ``{"batch_id", "status", "reason"}`` and the collect step falls back per user for any user
        without an answer. A job still running at ``timeout`` is cancelled (its finished lines are kept).

        :param batch_id: the job, as ``empathy.llm.batch.submit`` returned it (templated; None = nothing to wait for).
        :param conn_id: the OpenAI connection (the one the job was submitted with).
        :param poll_interval: seconds between status polls (``EMPATHY_LLM_BATCH_POLL_S``).
        :param timeout: seconds to wait before cancelling (``EMPATHY_LLM_BATCH_MAX_WAIT_S``).
        """

        template_fields = ("batch_id",)

        def __init__(self, *, batch_id, conn_id: str = "openai_default", poll_interval: float = 30.0,
                     timeout: float = 3600.0, **kwargs):
            super().__init__(**kwargs)
            self.batch_id = batch_id
            self.conn_id = conn_id
            self.poll_interval = poll_interval
            self.timeout = timeout

        def execute(self, context):
            if not self.batch_id or self.batch_id == "None":
                return {"batch_id": None, "status": "success", "reason": "nothing to ask"}
            from airflow.providers.openai.triggers.openai import OpenAIBatchTrigger

            self.defer(trigger=OpenAIBatchTrigger(conn_id=self.conn_id, batch_id=self.batch_id,
                                                  poll_interval=self.poll_interval, timeout=self.timeout),
                       method_name="execute_complete")

        def execute_complete(self, context, event=None):
            event = event if isinstance(event, dict) else {}
            why = event.get("termination_reason")  # an enum in process, its value once serialised
            status, why = str(event.get("status") or "error"), str(getattr(why, "value", why) or "")
            if why == "timeout":
                try:
                    openai_client(self.conn_id).batches.cancel(self.batch_id)
                except Exception as exc:  # noqa: BLE001 - collect still falls back; the job expires by itself
                    self.log.warning("could not cancel batch %s: %s", self.batch_id, exc)
            reason = "completed" if status == "success" else (why or str(event.get("message") or status))
            return {"batch_id": self.batch_id, "status": status, "reason": reason[:200]}

    OpenAIBatchWaitOperator.__module__ = __name__
    OpenAIBatchWaitOperator.__qualname__ = "OpenAIBatchWaitOperator"
    return OpenAIBatchWaitOperator


def airflow_base_url() -> str | None:
    """Airflow's configured ``[api] base_url`` (where the Empathy page lives), or None outside Airflow."""
    try:
        from airflow.configuration import conf
    except ImportError:  # Airflow not installed: no page to link to
        return None
    return conf.get("api", "base_url", fallback=None) or None


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
