"""``outbox/snapshot.json``: what the Empathy page in the Airflow UI shows, written by the pipeline.

Why a file and not a query: DuckDB allows one process per database file, and even a read-only open
fails while the pipeline writes. The Airflow api-server must therefore never open empathy.duckdb; the
pipeline's ``summary`` task (which holds the one DuckDB slot anyway) writes this snapshot after each
run, and the page reads it. It lives in the outbox because the api-server already needs the outbox
to serve previews, and the outbox is the one folder every process that shows or sends things shares.
"""
from __future__ import annotations

import json
import os
import tempfile
from datetime import UTC, datetime
from pathlib import Path

from empathy import store
from empathy.config import Settings

SNAPSHOT_NAME = "snapshot.json"
SNAPSHOT_VERSION = 1
MAX_USERS = 2000     # most negative first: the ones a person should look at
MAX_ACTIONS = 500    # newest first


def _rows(con, name: str, params: dict | None = None) -> list[dict]:
    cur = con.execute(store.sql(f"snapshot/{name}"), params or None)
    cols = [c[0] for c in cur.description]
    return [dict(zip(cols, r)) for r in cur.fetchall()]


def _iso(value):
    return value.isoformat() if isinstance(value, datetime) else value


def _relative_preview(path: str | None, outbox: Path) -> str | None:
    """The preview's path inside the outbox (what the page links to), or None when it lies elsewhere."""
    if not path:
        return None
    p = Path(path)
    try:
        rel = p.resolve().relative_to(outbox.resolve()) if p.is_absolute() else p
    except ValueError:
        return None
    return rel.as_posix()


def _reasons(text: str | None) -> list:
    try:
        value = json.loads(text) if text else []
    except ValueError:
        return [{"signal": "reasons", "detail": text}]
    return value if isinstance(value, list) else [value]


def build(con, settings: Settings, run_id: str | None = None,
          max_users: int = MAX_USERS, max_actions: int = MAX_ACTIONS) -> dict:
    """The snapshot as a dict (JSON-ready); ``write_snapshot`` writes it."""
    outbox = settings.outbox
    totals = con.execute("SELECT (SELECT count(*) FROM user_state), (SELECT count(*) FROM actions), "
                         "(SELECT count(*) FROM quarantine)").fetchone()
    users = []
    for r in _rows(con, "users.sql", {"limit": max_users}):
        users.append({
            "user_id": r["user_id"], "account_id": r["account_id"], "account_name": r["account_name"],
            "mrr": r["mrr"], "state": r["state"], "sentiment": round(float(r["sentiment"]), 3),
            "confidence": round(float(r["confidence"]), 3), "intents": list(r["intents"] or []),
            "on_hold": bool(r["on_hold"]), "reasons": _reasons(r["reasons"]), "scorer": r["scorer"],
            "as_of": _iso(r["as_of"]), "updated_at": _iso(r["updated_at"]),
        })
    actions = []
    for r in _rows(con, "actions.sql", {"limit": max_actions}):
        actions.append({
            "action_id": r["action_id"], "user_id": r["user_id"], "account_id": r["account_id"],
            "kind": r["kind"], "status": r["status"], "reason": r["reason"],
            "detail": {k: r[k] for k in ("subject", "channel", "tone", "category") if r[k] is not None},
            "simulate": bool(r["simulate"]), "attempts": r["attempts"], "last_error": r["last_error"],
            "preview_path": _relative_preview(r["preview_path"], outbox), "run_id": r["run_id"],
            "created_at": _iso(r["created_at"]), "delivered_at": _iso(r["delivered_at"]),
        })
    return {
        "version": SNAPSHOT_VERSION,
        "generated_at": datetime.now(UTC).isoformat(timespec="seconds"),
        "run_id": run_id,
        "states": _rows(con, "states.sql"),
        "totals": {"users": totals[0], "actions": totals[1], "quarantined": totals[2]},
        "users": users,
        "actions": actions,
        "quarantine": _rows(con, "quarantine.sql"),
    }


def write_snapshot(con, settings: Settings, run_id: str | None = None) -> Path:
    """Write ``settings.outbox / "snapshot.json"`` atomically (temp file + rename): a reader never sees half."""
    doc = build(con, settings, run_id)
    outbox = settings.outbox
    outbox.mkdir(parents=True, exist_ok=True)
    path = outbox / SNAPSHOT_NAME
    fd, tmp = tempfile.mkstemp(dir=outbox, prefix=".snapshot-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            json.dump(doc, fh, ensure_ascii=False, default=str)
        os.chmod(tmp, 0o644)  # the api-server may run as another user
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path
