"""The Empathy page: the read model the pipeline writes for it, and the page itself (``empathy.ui.app``).

The pipeline calls ``refresh`` once at the end of every run's last database task; the api-server reads
what it wrote (``empathy.ui.reader``) and never opens empathy.duckdb.
"""
from __future__ import annotations

import logging

from empathy.config import Settings

log = logging.getLogger(__name__)


def refresh(con, settings: Settings, run_id: str | None = None) -> dict:
    """Write the page's read model from the open write connection (no transaction open) and swap it in.

    Returns its figures (users, users rendered, files written, seconds, ...). Never raises: a problem is
    logged and returned as ``{"error": ...}``, and the page keeps showing the previous version."""
    from empathy.ui import readmodel

    try:
        return readmodel.write(con, settings, run_id)
    except Exception as exc:  # noqa: BLE001 - the page must never fail a run
        log.exception("empathy page: read model not refreshed")
        return {"error": f"{type(exc).__name__}: {exc}"[:500]}


__all__ = ["refresh"]
