"""The one way to open the DuckDB database, and its schema.

DuckDB allows one read-write process per file (even a read-only open fails while a writer holds
it), so every stage opens a short-lived connection here and closes it when done. Airflow keeps
the stages apart with a one-slot pool (and, on Celery, one queue served by one worker); the short
retry below only smooths over a CLI command run beside Airflow.
"""
from __future__ import annotations

import contextlib
import functools
import time
from importlib import resources
from pathlib import Path

import duckdb

from empathy.config import Settings, load

LOCK_RETRY_S = 30.0


# --- SQL files ------------------------------------------------------------------------------------
# Every SQL statement the product runs lives in a file beside the room that owns it:
# include/empathy/<room>/sql/<file>.sql, named in code as "<room>/<file>.sql". Each file starts with a
# header saying what it produces, then `-- reads:`, `-- writes:` and `-- takes:` lines; the runner binds
# each statement's own named parameters (DuckDB's statement API says which), and a test holds every
# header to the parameters its statements really use.

def sql_path(name: str):
    """The file behind ``"<room>/<file>.sql"``."""
    room, _, file = name.partition("/")
    root = resources.files("empathy")
    path = root.joinpath(room, "sql", file)
    if not path.is_file():  # rooms not yet moved keep their SQL in empathy/sql/<room>/
        path = root.joinpath("sql", room, file)
    return path


@functools.lru_cache(maxsize=256)
def sql(name: str) -> str:
    """Text of the SQL file ``"<room>/<file>.sql"``."""
    return sql_path(name).read_text(encoding="utf-8")


def header(name: str) -> dict[str, list[str]]:
    """The ``reads`` / ``writes`` / ``takes`` lines of a SQL file's header, as lists of names (a line
    indented under one of them continues it)."""
    out: dict[str, list[str]] = {"reads": [], "writes": [], "takes": []}
    current = None
    for line in sql(name).splitlines():
        if not line.startswith("--"):
            break
        body = line[2:]
        key, sep, rest = body.strip().partition(":")
        if sep and key in out:
            current = key
        elif current and body.startswith("    "):
            rest = body
        else:
            current = None
            continue
        out[current] += [w.strip().lstrip("$") for w in rest.replace(" and ", ",").split(",") if w.strip()]
    return out


def run(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None, relations: dict | None = None):
    """Run every statement of SQL file ``name`` in order, each with the named parameters it uses.

    ``relations`` ({name: Arrow table or DataFrame}) are visible to the SQL under those names while it
    runs (and, when the last statement is a query, until its result is read: they stay registered on the
    short-lived connection). Returns the connection holding the last statement's result (fetch from it)."""
    params = params or {}
    statements = con.extract_statements(sql(name))
    for rel_name, rel in (relations or {}).items():
        con.register(rel_name, rel)
    query_last = bool(statements) and statements[-1].type == duckdb.StatementType.SELECT
    try:
        for i, stmt in enumerate(statements):
            missing = stmt.named_parameters - params.keys()
            if missing:
                raise KeyError(f"{name}: statement {i + 1} needs parameter(s) {sorted(missing)}")
            con.execute(stmt, {k: params[k] for k in stmt.named_parameters} or None)
            if i < len(statements) - 1:
                con.fetchall()  # DuckDB wants each result consumed before the next statement
        return con
    finally:
        if not query_last:
            for rel_name in relations or {}:
                con.unregister(rel_name)


def records(result) -> list[dict]:
    """Every row of a query's result as a dict keyed by column name (for rooms that read rows by name)."""
    names = [d[0] for d in result.description]
    return [dict(zip(names, row)) for row in result.fetchall()]


def insert(con: duckdb.DuckDBPyConnection, table: str, name: str, params: dict | None = None) -> None:
    """Insert the rows of SQL file ``name`` (one SELECT) into ``table``, matching columns by name."""
    params = params or {}
    [stmt] = con.extract_statements(sql(name))
    missing = stmt.named_parameters - params.keys()
    if missing:
        raise KeyError(f"{name}: needs parameter(s) {sorted(missing)}")
    con.execute(f"INSERT INTO {table} BY NAME ({stmt.query.strip().rstrip(';')})",
                {k: params[k] for k in stmt.named_parameters} or None).fetchall()


def run_script(con: duckdb.DuckDBPyConnection, name: str, params: dict | None = None) -> None:
    """Run a SQL file for its effects (legacy spelling of ``run``)."""
    run(con, name, params).fetchall()


def _schema_files() -> list[str]:
    folder = resources.files("empathy").joinpath("sql", "schema")
    return sorted(p.name for p in folder.iterdir() if p.name.endswith(".sql"))


def migrate(con: duckdb.DuckDBPyConnection) -> None:
    """Create or upgrade every table. Schema files are idempotent (IF NOT EXISTS) and run in name order;
    then the table ``signal_catalog`` is brought in line with ``empathy.signals.catalog``. A database
    already migrated by this very schema and catalogue (their hash in ``empathy_meta``) is left as it is:
    every task connects, and running the files again cost each one ~0.07 s."""
    version = _schema_version()
    with contextlib.suppress(duckdb.CatalogException):  # a new database has no empathy_meta yet
        if con.execute("SELECT value FROM empathy_meta WHERE key = 'schema'").fetchall() == [(version,)]:
            return
    for name in _schema_files():
        run_script(con, f"schema/{name}")
    _sync_catalog(con)
    con.execute("INSERT OR REPLACE INTO empathy_meta VALUES ('schema', ?)", [version]).fetchall()


@functools.cache
def _schema_version() -> str:
    """A hash of the schema files and the signal catalogue: what ``migrate`` would make of a database."""
    import hashlib
    import json

    from empathy.signals.catalog import catalog_rows

    digest = hashlib.sha256(json.dumps(catalog_rows(), sort_keys=True).encode())
    for name in _schema_files():
        digest.update(name.encode() + b"\0" + sql(f"schema/{name}").encode() + b"\0")
    return digest.hexdigest()[:16]


def _sync_catalog(con: duckdb.DuckDBPyConnection) -> None:
    import hashlib
    import json

    import pyarrow as pa

    from empathy.signals.catalog import catalog_rows

    rows = catalog_rows()
    version = hashlib.sha256(json.dumps(rows, sort_keys=True).encode()).hexdigest()[:16]
    if con.execute("SELECT value FROM empathy_meta WHERE key = 'signal_catalog'").fetchall() == [(version,)]:
        return
    con.execute("DELETE FROM signal_catalog").fetchall()
    con.register("_catalog_in", pa.Table.from_pylist(rows))
    try:
        con.execute("INSERT INTO signal_catalog BY NAME SELECT * FROM _catalog_in").fetchall()
    finally:
        con.unregister("_catalog_in")
    con.execute("INSERT OR REPLACE INTO empathy_meta VALUES ('signal_catalog', ?)", [version]).fetchall()


def _open(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    deadline = time.monotonic() + LOCK_RETRY_S
    delay = 0.1
    while True:
        try:
            con = duckdb.connect(str(path), read_only=read_only)
            con.execute("SET TimeZone = 'UTC'")  # timestamps print and bucket in UTC whatever the host says
            con.execute("SET enable_progress_bar = false")  # task logs are for people, not progress bars
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
