"""The api-server's side of the read model: the current version's Parquet files behind views in an
in-process DuckDB. It never opens empathy.duckdb (the pipeline's one writer may hold it at any moment).

Each request asks for the current version (one small file read); a new version is opened once, by the
first request that sees it, and the previous one is kept for requests still reading it.
"""
from __future__ import annotations

import json
import re
import threading
from pathlib import Path

import duckdb

from empathy import store
from empathy.ui.readmodel import KEYS, TABLES, current_manifest, version_sql

_FILE = re.compile(r"^[a-z_]+-[0-9A-Za-z_-]+-\d{6,}\.parquet$")


class NotReady(Exception):
    """No read model yet (or an unreadable one): the page explains what to do instead."""


class Snapshot:
    """One version of the read model, queryable."""

    def __init__(self, root: Path, manifest: dict, memory_mb: int):
        self.manifest = manifest
        self.version = manifest["version"]
        self.memo: dict = {}   # what a page computes once per version
        self.con = duckdb.connect(":memory:", config={"memory_limit": f"{memory_mb}MB", "threads": 2})
        self.con.execute("SET TimeZone = 'UTC'")
        self.con.execute("SET enable_progress_bar = false")
        self.con.execute("SET parquet_metadata_cache = true")
        store.run(self.con, "ui/page_macros.sql").fetchall()
        for table in TABLES:
            files = (manifest.get("files") or {}).get(table, {})
            if not files or not all(_FILE.match(n) for n in files.values()):
                raise NotReady(f"the read model's manifest has no valid files for {table!r}")
            data = root / "data"
            if table in KEYS and "base" in files:
                sql = version_sql(data, files, KEYS[table])
            else:
                paths = ", ".join("'" + str(data / n).replace("'", "''") + "'" for n in sorted(files.values()))
                sql = f"SELECT * FROM read_parquet([{paths}], union_by_name = true)"
            # our own file names (checked above) inside our own folder: the one statement built as text
            self.con.execute(f"CREATE VIEW {table} AS {sql}")

    def rows(self, name: str, params: dict | None = None) -> list[dict]:
        """The rows of page query ``ui/<name>.sql`` (each request its own cursor: threads never share one)."""
        cur = self.con.cursor()
        try:
            return store.records(store.run(cur, f"ui/{name}.sql", params))
        finally:
            cur.close()

    def one(self, name: str, params: dict | None = None) -> dict | None:
        found = self.rows(name, params)
        return found[0] if found else None

    def close(self) -> None:
        self.con.close()


class ReadModel:
    """The read model under ``root`` as the api-server sees it: ``snapshot()`` is the current version."""

    def __init__(self, root: Path, memory_mb: int = 512):
        self.root = Path(root)
        self.memory_mb = memory_mb
        self._lock = threading.Lock()
        self._open: dict[str, Snapshot] = {}

    def _current_name(self) -> str:
        try:
            return (self.root / "CURRENT").read_text(encoding="utf-8").strip()
        except OSError:
            raise NotReady(f"no read model yet in {self.root}") from None

    def snapshot(self) -> Snapshot:
        name = self._current_name()
        with self._lock:
            if name in self._open:
                return self._open[name]
            manifest = current_manifest(self.root)
            if manifest is None:
                raise NotReady(f"the read model in {self.root} could not be read (it is rewritten by the next run)")
            snap = Snapshot(self.root, manifest, self.memory_mb)
            self._open[name] = snap
            for old in sorted(self._open)[:-2]:   # keep the previous version for requests still reading it
                self._open.pop(old).close()
            return snap


def parse_json(text, default):
    """A JSON column of the read model (evidence, params, stages) as Python, or ``default``."""
    if not text:
        return default
    try:
        return json.loads(text)
    except ValueError:
        return default
