"""The one module that knows Airflow exists: credentials from Airflow connections, clients from provider hooks.

Everything else in ``empathy`` asks here for a connection or a client and gets ``None`` when none
is configured, which means *simulate*: decisions are recorded and previewed, nothing leaves the
machine. Connections resolve the Airflow way (secrets backends, ``AIRFLOW_CONN_<ID>`` environment
variables, the metadata database), inside a task and from the CLI alike.
"""
from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field

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
        from airflow.sdk.exceptions import AirflowRuntimeError
    except ImportError:  # Airflow not installed: the package still works, in simulate mode
        return None
    try:
        conn = BaseHook.get_connection(conn_id)
    except (AirflowRuntimeError, Exception) as exc:  # AirflowNotFoundException and friends
        log.info("connection %s not configured (%s): simulating", conn_id, type(exc).__name__)
        return None
    extra = conn.extra_dejson if hasattr(conn, "extra_dejson") else json.loads(conn.extra or "{}")
    return ConnectionInfo(conn_id, conn.conn_type, conn.host, conn.login, conn.password, extra or {})
