"""The one way to open the DuckDB database, and its schema.

DuckDB allows one read-write process per file (even a read-only open fails while a writer holds
it), so every stage opens a short-lived connection here and closes it when done. Airflow keeps
the stages apart with a one-slot pool (and, on Celery, one queue served by one worker); the short
retry below only smooths over a CLI command run beside Airflow.
"""
from __future__ import annotations

import contextlib
import re
import time
from importlib import resources
from pathlib import Path

import duckdb

from empathy.config import Settings, load

LOCK_RETRY_S = 30.0


def sql(name: str) -> str:
    """Text of include/empathy/sql/<name> (e.g. ``"signals/rage_clicks.sql"``)."""
    return resources.files("empathy").joinpath("sql", name).read_text(encoding="utf-8")


def statements(text: str) -> list[str]:
    """Split a .sql file into statements (on a `;` that ends a line; our SQL files keep to that)."""
    out = []
    for stmt in re.split(r";[ \t]*(?:--[^\n]*)?\n", text + "\n"):
        code = "\n".join(line for line in stmt.splitlines() if not line.strip().startswith("--")).strip()
        if code:
            out.append(code)
    return out


def run_script(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> None:
    """Run every statement of sql/<name>, each with the named parameters ($name) it uses."""
    params = params or {}
    for stmt in statements(sql(name)):
        used = {k: v for k, v in params.items() if re.search(rf"\${k}\b", stmt)}
        con.execute(stmt, used or None).fetchall()  # DuckDB 2 wants every result consumed


def _schema_files() -> list[str]:
    folder = resources.files("empathy").joinpath("sql", "schema")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade every table. Schema files are idempotent (IF NOT EXISTS) and run in name order."""
    for name in _schema_files():
        run_script(con, f"schema/{name}")


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + LOCK_RETRY_S
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")  # timestamps print and bucket in UTC whatever the host says
            return con
        except duckdb.IOException as exc:  # another process holds the file lock
            if "lock" not in str(exc).lower() or time.monotonic() > deadline:
                raise
            time.sleep(delay)
            delay = min(delay * 2, 2.0)


@contextlib.contextmanager
def connect(settings: Settings | None = None, read_only: bool = False):
    """A short-lived connection to ``$EMPATHY_HOME/empathy.duckdb``, migrated, closed on exit."""
    settings = settings or load()
    settings.home.mkdir(parents=True, exist_ok=True)
    con = _open(settings.db_path, read_only)
    try:
        if not read_only:
            migrate(con)
        yield con
    finally:
        con.close()


@contextlib.contextmanager
def transaction(con: duckdb.DuckDBPyConnection):
    """BEGIN ... COMMIT, or ROLLBACK on any error."""
    con.execute("BEGIN TRANSACTION")
    try:
        yield con
    except BaseException:
        con.execute("ROLLBACK")
        raise
    con.execute("COMMIT")
