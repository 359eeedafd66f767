"""Every SQL file the product runs says what it produces, reads, writes and takes, and the header tells
the truth about its parameters (DuckDB's statement API says which each statement uses)."""
from __future__ import annotations

from importlib import resources

import duckdb
import pytest

from empathy import store

ROOT = resources.files("empathy")


def sql_files() -> list[str]:
    """Every `<room>/<file>.sql` name, rooms' own `sql/` folders and the shared schema."""
    names = []
    for room in sorted(p.name for p in ROOT.iterdir() if p.is_dir()):
        folder = ROOT.joinpath(room, "sql")
        if folder.is_dir():
            names += [f"{room}/{f.name}" for f in sorted(folder.iterdir(), key=lambda f: f.name) if f.name.endswith(".sql")]
    names += [f"schema/{n}" for n in store._schema_files()]
    return names


@pytest.mark.parametrize("name", [n for n in sql_files() if not n.startswith("schema/")])
def test_header_names_what_the_file_reads_writes_and_takes(name):
    text = store.sql(name)
    assert text.startswith("--") and not text.splitlines()[0].startswith(("-- reads", "-- takes")), name
    head = store.header(name)
    for key in ("reads", "writes", "takes"):
        assert any(line.startswith(f"-- {key}:") for line in text.splitlines()), f"{name}: no '-- {key}:' line"
    used = set()
    for stmt in duckdb.connect().extract_statements(text):
        used |= stmt.named_parameters
    declared = {p for p in head["takes"] if p != "nothing"}
    assert declared == used, f"{name}: header takes {sorted(declared)}, statements use {sorted(used)}"


def test_the_runner_refuses_a_statement_without_its_parameter():
    con = duckdb.connect()
    store.migrate(con)
    with pytest.raises(KeyError, match="as_of"):
        store.run(con, "state/select_users.sql", {"since": None})
