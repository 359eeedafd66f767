"""Behavioural detectors: what users do that shows friction, leaving, recovery or intent.

Each detector is one SQL file in ``sql/signals/`` (dbt-style: one concern, window functions over a
staged, sessionised slice of ``events``). All of them return the same long shape, the *evidence*:
``(user_id, signal, key, polarity, weight, first_at, last_at, count, detail)`` so that the state
machine, the Slack alert and a person reading the table see the same what / where / when.

Only events with ``as_of - lookback_days < ts <= as_of`` count, so a backfill recomputes what was
known at a past instant. Work is limited to the users passed in (the temp table ``_scope_users``):
cost grows with the users who have new activity, not with the history.
"""
from __future__ import annotations

import contextlib
import json
import re
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from empathy import store
from empathy.config import Settings

# Detector files, in the order their evidence is listed. One concern each.
DETECTORS = (
    "rage_clicks",    # same element clicked n times within the window; $rageclick / $mp_rage_click
    "api_errors",     # consecutive failed API requests (and the recovery after them)
    "docs_dwell",     # long reads of /docs/ pages with no command run after them
    "search_loops",   # repeated searches with no result used
    "billing",        # failed payments not settled by a later success (and settled ones)
    "tickets",        # open tickets with the customer's latest text; resolved tickets
    "cancellation",   # cancel-page visits, Subscription Cancelled
    "engagement",     # opened / clicked emails
    "intents",        # security_review, billing, cancellation
)

EVIDENCE_COLUMNS = ("user_id", "signal", "key", "polarity", "weight", "first_at", "last_at", "count", "detail")

_PARAM = re.compile(r"\$([a-z_]+)")


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


def run_sql(con: duckdb.DuckDBPyConnection, name: str, values: dict):
    """Execute ``sql/<name>`` statement by statement, binding only the ``$parameters`` each names.

    Returns the cursor of the last statement."""
    cur = con
    for statement in re.split(r";[ \t]*(?:\n|$)", store.sql(name)):
        if not _strip_comments(statement).strip():
            continue
        used = {k: values[k] for k in set(_PARAM.findall(_strip_comments(statement)))}
        cur = con.execute(statement, used)
    return cur


def _strip_comments(text: str) -> str:
    """The SQL without comments and string literals (where a ``$`` is not a parameter)."""
    text = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    return re.sub(r"'[^']*'", "''", text)


@contextlib.contextmanager
def registered(con: duckdb.DuckDBPyConnection, name: str, table: pa.Table):
    """Expose an Arrow table to SQL as ``name`` for the block. Finishes a caller's unread result first:
    DuckDB refuses register() while a result of execute() is still open on the connection."""
    finish = getattr(con, "complete", None)
    if finish is not None:
        finish()
    con.register(name, table)
    try:
        yield name
    finally:
        con.unregister(name)


def scope(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> dict:
    """Stage the users' events in the lookback window as the temp table ``sig_events``."""
    values = params(settings, as_of)
    con.execute("CREATE OR REPLACE TEMP TABLE _scope_users (user_id VARCHAR PRIMARY KEY)")
    if user_ids:
        with registered(con, "_scope_users_in", pa.table({"user_id": pa.array(sorted(set(user_ids)), pa.string())})):
            con.execute("INSERT INTO _scope_users SELECT user_id FROM _scope_users_in")
    run_sql(con, "signals/00_scope.sql", values)
    return values


def detect(con: duckdb.DuckDBPyConnection, values: dict) -> None:
    """Run every detector over ``sig_events`` into the temp table ``sig_evidence``."""
    cols = ", ".join(EVIDENCE_COLUMNS)
    con.execute(
        "CREATE OR REPLACE TEMP TABLE sig_evidence (user_id VARCHAR, signal VARCHAR, key VARCHAR, "
        "polarity INTEGER, weight DOUBLE, first_at TIMESTAMPTZ, last_at TIMESTAMPTZ, count BIGINT, detail JSON)")
    for name in DETECTORS:
        text = store.sql(f"signals/{name}.sql").rstrip().rstrip(";")
        used = {k: values[k] for k in set(_PARAM.findall(_strip_comments(text)))}
        con.execute(f"INSERT INTO sig_evidence ({cols}) SELECT {cols} FROM ({text})", used)


def compute(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> dict:
    """Stage and detect: afterwards ``sig_events`` and ``sig_evidence`` hold these users' slice."""
    values = scope(con, settings, as_of, user_ids)
    detect(con, values)
    return values


def store_evidence(con: duckdb.DuckDBPyConnection, as_of) -> int:
    """Replace the scoped users' stored evidence for this as_of with ``sig_evidence`` (idempotent)."""
    as_of = as_utc(as_of)
    con.execute("DELETE FROM user_evidence WHERE as_of = ? AND user_id IN (SELECT user_id FROM _scope_users)",
                [as_of])
    con.execute(
        "INSERT INTO user_evidence (user_id, as_of, signal, key, polarity, weight, first_at, last_at, count, detail) "
        "SELECT user_id, ?, signal, key, polarity, weight, first_at, last_at, count, detail FROM sig_evidence",
        [as_of])
    return con.execute("SELECT count(*) FROM sig_evidence").fetchall()[0][0]


def evidence(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> dict[str, list[dict]]:
    """Compute (without storing) each user's evidence as of ``as_of``: {user_id: [evidence row, ...]}."""
    compute(con, settings, as_of, user_ids)
    return read_evidence(con, "sig_evidence")


def read_evidence(con: duckdb.DuckDBPyConnection, table: str, where: str = "", args: list | None = None
                  ) -> dict[str, list[dict]]:
    """Evidence rows grouped by user, details parsed, newest first."""
    cur = con.execute(
        f"SELECT {', '.join(EVIDENCE_COLUMNS)} FROM {table} {where} ORDER BY user_id, last_at DESC NULLS LAST, signal, key",
        args or [])
    out: dict[str, list[dict]] = {}
    for row in cur.fetchall():
        item = dict(zip(EVIDENCE_COLUMNS, row))
        item["detail"] = json.loads(item["detail"]) if isinstance(item["detail"], str) else (item["detail"] or {})
        out.setdefault(item["user_id"], []).append(item)
    return out


def summary(rows: list[dict]) -> dict:
    """A compact, JSON-friendly digest of one user's evidence (what the LLM and a log line see)."""
    out: dict = {}
    for r in rows:
        if r["signal"] == "intent":
            d = r["detail"]
            entry = out.setdefault("intents", {}).setdefault(d.get("intent"), {"sources": [], "examples": []})
            entry["sources"].append(d.get("source"))
            entry["examples"] = (entry["examples"] + list(d.get("examples") or []))[:3]
            continue
        s = out.setdefault(r["signal"], {"count": 0, "last_at": None, "examples": []})
        s["count"] += int(r["count"] or 0)
        last = r["last_at"].isoformat() if r["last_at"] else None
        s["last_at"] = max(filter(None, [s["last_at"], last]), default=None)
        if len(s["examples"]) < 2:
            s["examples"].append(_short(r["detail"]))
    return out


def _short(detail: dict) -> dict:
    return {k: v for k, v in detail.items() if v not in (None, [], "")}
