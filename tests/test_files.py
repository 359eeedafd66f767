"""Hand-off files and previews are replaced whole: a reader sees the old file or the new one, never half."""
from __future__ import annotations

import pytest

from empathy.files import replacing, write_atomic


def test_write_atomic_makes_the_folders_and_replaces_the_whole_file(tmp_path):
    target = tmp_path / "outbox" / "email" / "a.html"
    assert write_atomic(str(target), "first") == target
    write_atomic(target, "second, longer than the first")
    assert target.read_text() == "second, longer than the first"
    assert [p.name for p in target.parent.iterdir()] == ["a.html"]   # no temporary file left behind


def test_a_failed_write_keeps_the_old_file_and_leaves_no_temporary(tmp_path):
    target = tmp_path / "claimed.jsonl"
    write_atomic(target, "old")
    with pytest.raises(TypeError):
        write_atomic(target, 42)   # not text or bytes: fails while writing
    with pytest.raises(RuntimeError), replacing(target) as tmp:
        tmp.write_text("half")
        raise RuntimeError("the writer crashed")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["claimed.jsonl"]


def test_a_durable_write_is_complete_before_it_appears(tmp_path):
    target = tmp_path / "journal" / "x.json"
    with replacing(target, fsync=True) as tmp:
        tmp.write_text('{"status": "sent"}')
        assert not target.exists()
    assert target.read_text() == '{"status": "sent"}'
