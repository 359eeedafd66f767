"""The page's read model: Parquet files the pipeline writes at the end of each run and the api-server queries.

DuckDB has one writer, and even a read-only open of ``empathy.duckdb`` fails while the pipeline writes, so
the api-server never opens it. Instead the last database task of every run calls ``write`` with its open
connection, and ``write`` leaves a new *version* beside the old ones:

    $EMPATHY_UI_DIR/                       (default: $EMPATHY_OUTBOX_DIR/.ui: hidden, never served as a preview)
      CURRENT                             the name of the current manifest (replaced atomically)
      manifest-000042.json                which files make each table, their fingerprints, the marks
      data/<table>-<part>-000042.parquet  immutable files; a version reuses every file that did not change

Cost grows with what changed, not with the database: a user is rendered again (evidence in words,
redacted) only when their state row or history changed; users and actions go to a delta file beside a base
file; the decision log is written per week, and a week only when its fingerprint changed; the small tables
only when their sources changed. Readers
open the manifest ``CURRENT`` names, so they see one whole version or the previous one, never half of each.
"""
from __future__ import annotations

import json
import logging
import os
import re
import time
from datetime import UTC, datetime
from pathlib import Path

import msgspec
import pyarrow as pa

from empathy import fanout, store
from empathy.config import Settings
from empathy.ui import words

log = logging.getLogger(__name__)

FORMAT = 1                 # bump when a file's columns change: the next refresh then rebuilds everything
VERSIONS_KEPT = 3          # a reader that opened an older version a moment ago still finds its files
RENDER_BATCH = 2000        # changed users rendered (and held in memory) at a time
HOLDOUT_SALT = "empathy"   # empathy.policy.decide's default
EPOCH = "1970-01-01T00:00:00+00:00"
TABLES = ("users", "accounts", "actions", "decisions", "runs", "trend", "uplift", "problems", "journeys")
_PART = re.compile(r"^[0-9A-Za-z_-]{1,40}$")

COMPACT_SHARE = 0.2       # the users' delta file is merged into the base once it holds this share of them
COMPACT_MIN_ROWS = 5000    # ... and at least this many rows
RENDERED = pa.schema([
    ("user_id", pa.string()), ("account_name", pa.string()), ("name", pa.string()), ("email_hash", pa.string()),
    ("email_domain", pa.string()), ("rule", pa.string()), ("friction", pa.string()), ("evidence", pa.string()),
])


# --- versions -------------------------------------------------------------------------------------------
def current_manifest(root: Path) -> dict | None:
    """The manifest ``CURRENT`` names, or None (nothing written yet, or unreadable: say so, start over)."""
    try:
        name = (root / "CURRENT").read_text(encoding="utf-8").strip()
        if not re.fullmatch(r"manifest-\d{6,}\.json", name):
            return None
        manifest = json.loads((root / name).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return manifest if isinstance(manifest, dict) and manifest.get("format") == FORMAT else None


def _write_atomic(path: Path, text: str) -> None:
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text, encoding="utf-8")
    os.chmod(tmp, 0o644)      # the api-server may run as another user
    os.replace(tmp, path)


def _collect_garbage(root: Path, keep: dict) -> int:
    """Remove manifests older than the last ``VERSIONS_KEPT`` and every data file none of them names."""
    manifests = sorted(root.glob("manifest-*.json"))
    kept, referenced = manifests[-VERSIONS_KEPT:], set()
    for path in kept:
        try:
            doc = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            continue
        referenced |= {f for files in doc.get("files", {}).values() for f in files.values()}
    referenced |= {f for files in keep["files"].values() for f in files.values()}
    removed = 0
    for path in manifests[:-VERSIONS_KEPT]:
        path.unlink(missing_ok=True)
    for path in (root / "data").glob("*.parquet"):
        if path.name not in referenced:
            path.unlink(missing_ok=True)
            removed += 1
    for path in [*root.glob(".*.tmp"), *(root / "data").glob(".*.tmp")]:
        if time.time() - path.stat().st_mtime > 3600:   # left by a writer that died
            path.unlink(missing_ok=True)
    return removed


class _Version:
    """One version being written: its files per table and part, and what they were made from."""

    def __init__(self, con, settings: Settings, run_id: str | None):
        self.con, self.settings = con, settings
        self.root = settings.ui_path
        self.data = self.root / "data"
        self.data.mkdir(parents=True, exist_ok=True)
        self.prev = current_manifest(self.root) or {"version": 0, "files": {}, "fingerprints": {}, "marks": {}}
        on_disk = [int(p.stem.split("-")[1]) for p in self.root.glob("manifest-*.json") if p.stem.split("-")[1].isdigit()]
        # above every version on disk, even when CURRENT was unreadable: a new file never replaces a kept one
        self.number = max([int(self.prev.get("version", 0)), *on_disk]) + 1
        self.manifest = {"format": FORMAT, "version": self.number, "run_id": run_id,
                         "written_at": datetime.now(UTC).isoformat(timespec="seconds"),
                         "files": {}, "fingerprints": {}, "marks": {}, "figures": {}}
        self.written = 0

    def prev_file(self, table: str, part: str = "all") -> Path | None:
        name = self.prev["files"].get(table, {}).get(part)
        return self.data / name if name and (self.data / name).is_file() else None

    def keep(self, table: str, part: str = "all") -> bool:
        """Reuse the previous version's file of ``table``/``part`` when its fingerprint is unchanged."""
        fp = self.manifest["fingerprints"].get(table, {}).get(part)
        if fp is None or self.prev["fingerprints"].get(table, {}).get(part) != fp or not self.prev_file(table, part):
            return False
        self.manifest["files"].setdefault(table, {})[part] = self.prev["files"][table][part]
        return True

    def write(self, table: str, relation, part: str = "all") -> None:
        """Write ``relation`` (a DuckDB relation) as the file of ``table``/``part`` in this version."""
        assert _PART.match(part), part
        name = f"{table}-{part}-{self.number:06d}.parquet"
        tmp = self.data / f".{name}.tmp"
        relation.write_parquet(str(tmp), compression="zstd", row_group_size=8192)
        os.chmod(tmp, 0o644)
        os.replace(tmp, self.data / name)
        self.manifest["files"].setdefault(table, {})[part] = name
        self.written += 1

    def fingerprint(self, table: str, part: str, value) -> None:
        self.manifest["fingerprints"].setdefault(table, {})[part] = str(value)

    def discard(self) -> None:
        """Remove the files this version wrote (it failed before it was published)."""
        for files in self.manifest["files"].values():
            for name in files.values():
                if name.endswith(f"-{self.number:06d}.parquet"):
                    (self.data / name).unlink(missing_ok=True)

    def publish(self) -> None:
        name = f"manifest-{self.number:06d}.json"
        _write_atomic(self.root / name, json.dumps(self.manifest, indent=1, default=str))
        _write_atomic(self.root / "CURRENT", name + "\n")


# --- the tables -----------------------------------------------------------------------------------------
def _rows(con, name: str, params: dict | None = None) -> list[dict]:
    return store.records(store.run(con, name, params))


def _relation(con, name: str, params: dict, relations: dict | None = None):
    """The one SELECT of SQL file ``name`` as a DuckDB relation (what ``_Version.write`` takes)."""
    [statement] = con.extract_statements(store.sql(name))
    for rel_name, rel in (relations or {}).items():
        con.register(rel_name, rel)
    try:
        con.execute(f"CREATE OR REPLACE TEMP TABLE _ui_out AS {statement.query.strip().rstrip(';')}",
                    {k: params[k] for k in statement.named_parameters} or None).fetchall()
    finally:
        for rel_name in relations or {}:
            con.unregister(rel_name)
    return con.table("_ui_out")


def _quoted(path: Path) -> str:
    return "'" + str(path).replace("'", "''") + "'"


KEYS = {"users": "user_id", "actions": "action_id"}   # tables written as a base file and a delta of changed rows


def merged_sql(base: Path, delta: Path | None, key: str) -> str:
    """The rows of a keyed table's version: the delta's rows, and the base's rows the delta does not replace.
    Built as text because views take no parameters; the paths are the read model's own files."""
    if delta is None:
        return f"SELECT * FROM read_parquet({_quoted(base)})"
    return (f"SELECT * FROM read_parquet({_quoted(delta)}) UNION ALL BY NAME "
            f"SELECT b.* FROM read_parquet({_quoted(base)}) AS b "
            f"ANTI JOIN (SELECT {key} FROM read_parquet({_quoted(delta)})) AS d USING ({key})")


def version_sql(data: Path, files: dict, key: str) -> str:
    """``merged_sql`` of a version's files of a keyed table (``{"base": name[, "delta": name]}`` under ``data``)."""
    return merged_sql(data / files["base"], data / files["delta"] if "delta" in files else None, key)


def _compact(changed: int, total: int) -> bool:
    """Whether a delta of ``changed`` rows is merged into a new base (a refresh writes what changed, and
    now and then everything)."""
    return changed > max(COMPACT_MIN_ROWS, total * COMPACT_SHARE)


def _view(con, name: str, sql: str) -> None:
    con.execute(f"CREATE OR REPLACE TEMP VIEW {name} AS {sql}")


def _users(v: _Version) -> dict:
    """Users: render only who changed. The changed rows go to a small delta file beside the base file the
    previous version had; once the delta holds more than a share of the users, both are merged into a new
    base (so a refresh writes what changed, and now and then everything)."""
    con, settings = v.con, v.settings
    fingerprint, total, history_mark = _rows(con, "ui/users_fingerprint.sql")[0].values()
    mark = v.prev["marks"].get("history", EPOCH)
    v.manifest["marks"]["history"] = history_mark or mark
    v.fingerprint("users", "all", f"{fingerprint}/{history_mark}")
    base, delta = v.prev_file("users", "base"), v.prev_file("users", "delta")
    if base and v.prev["fingerprints"].get("users", {}).get("all") == v.manifest["fingerprints"]["users"]["all"]:
        v.manifest["files"]["users"] = dict(v.prev["files"]["users"])
        _view(con, "_ui_users", merged_sql(base, delta, "user_id"))
        return {"users": total, "rendered": 0, "changed": False}
    _view(con, "_ui_prev_users", merged_sql(base, delta, "user_id") if base else
          "SELECT NULL::VARCHAR AS user_id, NULL::UBIGINT AS fp WHERE false")
    store.run(con, "ui/users_changed_ids.sql", {"history_mark": mark}).fetchall()
    result = store.run(con, "ui/users_changed.sql", {"history_points": settings.ui_history_points})
    columns = [d[0] for d in result.description]

    def chunks():
        while rows := result.fetchmany(RENDER_BATCH):
            yield columns, rows

    batches = list(fanout.imap(render_users, chunks(), settings.ui_redact_cache, settings.bulk_processes))
    changed = sum(b.num_rows for b in batches)
    rendered = pa.concat_tables(batches) if batches else RENDERED.empty_table()
    in_delta = changed + (con.execute(f"SELECT count(*) FROM read_parquet({_quoted(delta)}) ANTI JOIN _ui_changed "
                                      "USING (user_id)").fetchall()[0][0] if delta else 0)
    compact = base is None or _compact(in_delta, total)
    if compact:   # everything into a new base
        _view(con, "_ui_keep", "SELECT * FROM _ui_prev_users" if base else "SELECT * FROM _ui_new WHERE false")
    else:         # the changed users (and the delta's others) into a new delta; the base stays
        v.manifest["files"]["users"] = {"base": v.prev["files"]["users"]["base"]}
        _view(con, "_ui_keep", f"SELECT * FROM read_parquet({_quoted(delta)})" if delta else
              "SELECT * FROM _ui_new WHERE false")
    v.write("users", _relation(con, "ui/users_final.sql", {}, {"_ui_rendered": rendered}),
            "base" if compact else "delta")
    _view(con, "_ui_users", version_sql(v.data, v.manifest["files"]["users"], "user_id"))
    return {"users": total, "rendered": changed, "changed": True, "compacted": compact}


_DECODE = msgspec.json.Decoder().decode            # a changed user's names, and their evidence in words:
_ENCODE = msgspec.json.Encoder(enc_hook=str).encode   # ~2x the standard library's json at 100k users


def render_users(redact_cache: int, chunk: tuple[list[str], list[tuple]]) -> pa.Table:
    """A chunk of changed users' rows (column names, rows) as the page shows them (no database: a bulk
    refresh renders its chunks in child processes, ``empathy.fanout``)."""
    columns, rows = chunk
    redactor = words.redactor(redact_cache)
    return pa.Table.from_pylist([_render(dict(zip(columns, row)), redactor) for row in rows], schema=RENDERED)


def _render(row: dict, redactor: words.Redactor) -> dict:
    """One changed user as the page shows them: name and evidence redacted, the email only as a hash and domain."""
    reasons = row.get("reasons") or "[]"
    pii = _DECODE(row.get("pii_names") or "[]")
    pii = tuple(str(x) for x in pii if isinstance(x, str)) if isinstance(pii, list) else ()
    email = next((x for x in pii if "@" in x), None)
    name = next((x for x in pii if "@" not in x), None)
    names = words.names_in(pii, reasons)
    evidence = words.evidence(reasons, names, redactor)
    rule = next((e["words"] for e in evidence if e["signal"] == "state"), None)
    friction = next((e["words"] for e in evidence if e.get("deciding") and (e.get("polarity") or 0) < 0), None)
    return {"user_id": row["user_id"], "account_name": redactor.text(row.get("account_name"), (), 120),
            "name": redactor.text(name, (), 120), "email_hash": words.email_key(email),
            "email_domain": words.email_domain(email), "rule": rule, "friction": friction,
            "evidence": _ENCODE(evidence).decode()}


def _actions(v: _Version, outbox: str) -> dict:
    """Actions as the page shows them: a base file and a delta of the rows inserted or updated since the
    previous version (every write of an action stamps ``updated_at``), so a run that delivered a batch
    writes that batch, not every action. The files are checked against the table by one fingerprint of
    the delivery fields; if they ever disagree (a clock stepped back), everything is written again."""
    con = v.con
    fp, total, mark = _rows(con, "ui/actions_fingerprint.sql")[0].values()
    v.fingerprint("actions", "all", f"{fp}/{total}")
    base, delta = v.prev_file("actions", "base"), v.prev_file("actions", "delta")
    since = v.prev["marks"].get("actions")
    v.manifest["marks"]["actions"] = mark or since or EPOCH
    params = {"outbox": outbox}
    if base and v.prev["fingerprints"].get("actions", {}).get("all") == f"{fp}/{total}":
        v.manifest["files"]["actions"] = dict(v.prev["files"]["actions"])
        return {"actions": total, "written": 0}
    if base and since:
        _relation(con, "ui/actions.sql", {**params, "since": since})   # the changed rows, in _ui_out
        kept = (f"SELECT p.* FROM read_parquet({_quoted(delta)}) AS p ANTI JOIN _ui_out USING (action_id)"
                if delta else "SELECT * FROM _ui_out WHERE false")
        _view(con, "_ui_delta_actions", f"SELECT * FROM _ui_out UNION ALL BY NAME {kept}")
        _view(con, "_ui_actions_merged", f"SELECT * FROM _ui_delta_actions UNION ALL BY NAME SELECT b.* FROM "
                                         f"read_parquet({_quoted(base)}) AS b ANTI JOIN _ui_delta_actions USING (action_id)")
        in_delta = con.execute("SELECT count(*) FROM _ui_delta_actions").fetchall()[0][0]
        check = tuple(_rows(con, "ui/actions_check.sql")[0].values())
        if not _compact(in_delta, total) and check == (fp, total):
            v.manifest["files"]["actions"] = {"base": v.prev["files"]["actions"]["base"]}
            v.write("actions", con.table("_ui_delta_actions"), "delta")
            return {"actions": total, "written": in_delta}
        if check != (fp, total):
            log.warning("the page's actions files disagree with the actions table: writing them all again")
    v.manifest["files"]["actions"] = {}
    v.write("actions", _relation(con, "ui/actions.sql", {**params, "since": EPOCH}), "base")
    return {"actions": total, "written": total}


def _partitioned(v: _Version, table: str, parts_sql: str, rows_sql: str, params: dict) -> int:
    """A table written per week: only weeks whose fingerprint changed are written again."""
    parts = _rows(v.con, parts_sql)
    for p in parts:
        v.fingerprint(table, p["part"], f"{p['fp']}/{p['n']}")
        if not v.keep(table, p["part"]):
            v.write(table, _relation(v.con, rows_sql, {**params, "part": p["part"]}), p["part"])
    if not parts:   # an empty table still has its columns
        v.fingerprint(table, "empty", "0")
        if not v.keep(table, "empty"):
            v.write(table, _relation(v.con, rows_sql, {**params, "part": "none"}), "empty")
    return len(parts)


def _problems(v: _Version) -> None:
    """Files the ingest refused or read in part, and quarantined lines per reason."""
    from empathy.ingest import landing_problems

    rows = [{"what": "file", "name": p["file_name"], "detail": " ".join(x for x in (p["error"], p["action"]) if x),
             "n": p["quarantined"], "seen_at": p["seen_at"]} for p in landing_problems(v.con, limit=200)]
    rows += _rows(v.con, "ui/problems.sql")
    schema = pa.schema([("what", pa.string()), ("name", pa.string()), ("detail", pa.string()), ("n", pa.int64()),
                        ("seen_at", pa.timestamp("us", tz="UTC"))])
    v.write("problems", v.con.from_arrow(pa.Table.from_pylist(rows, schema=schema)))


# The small tables: (table, SQL file, the sources their fingerprint is made of).
SMALL = (
    ("accounts", "ui/accounts.sql", ("users",)),
    ("runs", "ui/runs.sql", ("runs",)),
    ("trend", "ui/trend.sql", ("users", "trend_days")),
    ("uplift", "ui/uplift.sql", ("users", "journeys", "actions", "holdout")),
)


def _journeys(v: _Version) -> None:
    """Each enrolled user's journey (the uplift's input), from the events ingested since the last refresh."""
    con = v.con
    mark = v.prev["marks"].get("events", EPOCH)
    latest = con.execute("SELECT max(ingested_at)::VARCHAR FROM events").fetchall()[0][0] or mark
    v.manifest["marks"]["events"] = latest
    v.fingerprint("journeys", "all", latest)
    prev = v.prev_file("journeys")
    if not v.keep("journeys"):
        _view(con, "_ui_prev_journeys", f"SELECT * FROM read_parquet({_quoted(prev)})" if prev else
              "SELECT NULL::VARCHAR AS user_id, NULL::TIMESTAMPTZ AS enrolled_at, NULL::TIMESTAMPTZ AS cancelled_at, "
              "NULL::TIMESTAMPTZ AS paid_at, NULL::TIMESTAMPTZ AS replied_at, NULL::TIMESTAMPTZ AS clicked_at WHERE false")
        v.write("journeys", _relation(con, "ui/journeys.sql", {"events_mark": mark if prev else EPOCH}))
    _view(con, "_ui_journeys", f"SELECT * FROM read_parquet({_quoted(v.data / v.manifest['files']['journeys']['all'])})")
    _view(con, "_ui_actions", version_sql(v.data, v.manifest["files"]["actions"], "action_id"))


def write(con, settings: Settings, run_id: str | None = None) -> dict:
    """Write a new version of the read model from the open connection and make it current; its figures
    (users, users rendered, files written, seconds, and seconds per step)."""
    started = time.perf_counter()
    steps: dict[str, float] = {}

    def step(name: str, since: float) -> float:
        now = time.perf_counter()
        steps[name] = round(now - since, 3)
        return now

    v = _Version(con, settings, run_id)
    figures = {"version": v.number}
    try:
        users = _users(v)
        figures.update(users=users["users"], users_rendered=users["rendered"], users_compacted=users.get("compacted", False))
        t = step("users", started)
        outbox = str(settings.outbox).rstrip("/")
        figures["actions_written"] = _actions(v, outbox)["written"]
        figures["decision_weeks"] = _partitioned(v, "decisions", "ui/decisions_parts.sql", "ui/decisions.sql", {})
        t = step("actions and decisions", t)
        _journeys(v)
        t = step("journeys", t)
        sources = {**_rows(con, "ui/fingerprints.sql")[0], "users": v.manifest["fingerprints"]["users"]["all"],
                   "trend_days": settings.ui_trend_days, "holdout": settings.holdout_pct,
                   "journeys": v.manifest["fingerprints"]["journeys"]["all"],
                   "actions": v.manifest["fingerprints"]["actions"]["all"]}
        params = {"days": settings.ui_trend_days, "holdout_salt": HOLDOUT_SALT, "holdout_pct": float(settings.holdout_pct)}
        for table, sql_name, made_of in SMALL:
            v.fingerprint(table, "all", "|".join(str(sources[k]) for k in made_of))
            if not v.keep(table):
                v.write(table, _relation(con, sql_name, params))
            t = step(table, t)
        v.fingerprint("problems", "all", sources["problems"])
        if not v.keep("problems"):
            _problems(v)
        v.manifest["figures"] = figures
        v.publish()
        figures["files_removed"] = _collect_garbage(v.root, v.manifest)
        step("problems and publish", t)
    except BaseException:
        v.discard()
        raise
    finally:
        for name in ("_ui_users", "_ui_keep", "_ui_prev_users", "_ui_prev_journeys", "_ui_journeys", "_ui_actions",
                     "_ui_actions_merged", "_ui_delta_actions"):
            con.execute(f"DROP VIEW IF EXISTS {name}")
        for name in ("_ui_accounts", "_ui_changed", "_ui_history", "_ui_new", "_ui_out"):
            con.execute(f"DROP TABLE IF EXISTS {name}")
        con.execute("DROP MACRO IF EXISTS _ui_fp")
    figures.update(files_written=v.written, seconds=round(time.perf_counter() - started, 3), steps=steps)
    return figures
