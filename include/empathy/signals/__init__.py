"""Behavioural detectors: what users do that shows friction, leaving, recovery or intent.

Each detector is one SQL file in ``signals/sql/`` (dbt-style: one concern, window functions over a
staged, sessionised slice of ``events``). All return the same long shape, the *evidence*:
``(user_id, signal, key, first_at, last_at, count, detail)``; the catalogue (``signals.catalog``,
the table ``signal_catalog``) adds each signal's family, polarity and weight, so the state rules, the
Slack alert and a person reading the table see the same what / where / when.

Only events with ``as_of - lookback_days < ts <= as_of`` count, so a backfill recomputes what was
known at a past instant. Work is limited to the users passed in (the temp table ``_scope_users``):
cost grows with the users who have new activity, not with the history.
"""
from __future__ import annotations

from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from empathy import store
from empathy.config import Settings
from empathy.signals.catalog import DETECTORS


def as_utc(as_of) -> datetime:
    """An aware UTC datetime from a datetime (naive = UTC) or an ISO-8601 string."""
    if isinstance(as_of, str):
        as_of = datetime.fromisoformat(as_of)  # 3.11 reads a trailing Z
    if as_of.tzinfo is None:
        as_of = as_of.replace(tzinfo=UTC)
    return as_of.astimezone(UTC)


def params(settings: Settings, as_of) -> dict:
    """Every detector parameter, from Settings (the SQL files name them as ``$name``)."""
    return {
        "as_of": as_utc(as_of),
        "lookback_s": float(settings.lookback_days) * 86400.0,
        "session_gap_s": float(settings.session_gap_s),
        "rage_clicks": int(settings.rage_clicks),
        "rage_window_s": float(settings.rage_window_s),
        "api_error_streak": int(settings.api_error_streak),
        "docs_dwell_s": float(settings.docs_dwell_s),
        "search_loop": int(settings.search_loop),
        "texts_per_user": int(settings.llm_texts_per_user),
    }


def detect(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> dict:
    """Stage these users' events and run every detector. Afterwards the temp tables hold their slice:
    ``sig_events`` (staged events), ``sig_evidence`` (evidence rows with the catalogue's family, polarity
    and weight), ``sig_texts`` (latest customer texts) and ``sig_profile`` (account, names, activity)."""
    values = params(settings, as_of)
    users = pa.table({"user_id": pa.array(sorted(set(user_ids)), pa.string())})
    store.run(con, "signals/scope.sql", values, relations={"_scope_users_in": users}).fetchall()
    con.execute("CREATE OR REPLACE TEMP TABLE sig_found (user_id VARCHAR, signal VARCHAR, key VARCHAR, "
                "first_at TIMESTAMPTZ, last_at TIMESTAMPTZ, count BIGINT, detail JSON)")
    for name in DETECTORS:
        store.insert(con, "sig_found", f"signals/{name}.sql", values)
    store.run(con, "signals/evidence.sql").fetchall()
    store.run(con, "signals/context_rows.sql", values).fetchall()
    return values


def store_evidence(con: duckdb.DuckDBPyConnection, as_of, prepared_at: datetime) -> int:
    """Replace the scoped users' stored evidence for this as_of with the detected slice (idempotent):
    behavioural rows, the customer texts the scorer saw, and the profile."""
    store.run(con, "signals/store.sql", {"as_of": as_utc(as_of), "prepared_at": prepared_at}).fetchall()
    return con.execute("SELECT count(*) FROM sig_evidence").fetchall()[0][0]


def evidence(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> dict[str, list[dict]]:
    """Detect (without storing) each user's evidence as of ``as_of``: {user_id: [row, ...]}, newest first,
    ``detail`` parsed. What the page and tests read; the pipeline keeps the rows in DuckDB."""
    import json

    detect(con, settings, as_of, user_ids)
    cur = con.execute("SELECT user_id, signal, key, family, polarity, weight, first_at, last_at, count, detail "
                      "FROM sig_evidence ORDER BY user_id, last_at DESC NULLS LAST, signal, key")
    names = [d[0] for d in cur.description]
    out: dict[str, list[dict]] = {}
    for row in cur.fetchall():
        item = dict(zip(names, row))
        item["detail"] = json.loads(item["detail"]) if item["detail"] else {}
        out.setdefault(item["user_id"], []).append(item)
    return out
