"""The near-real-time path: the landing watcher (an AssetWatcher's trigger, run by Airflow's triggerer)
fires when files land, names each file once, and is wired into empathy_pipeline's schedule.

The trigger is driven here the way the triggerer drives it (its async generator), on a real landing
folder and a real ingest; the live triggerer + scheduler path runs in tests/test_backfill.py.
"""
from __future__ import annotations

import asyncio
import json
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
EVENT_WAIT_S = 60  # a ceiling for a busy machine, not a speed expectation: the poll is 1 s


def land(settings, name: str, message_id: str) -> None:
    event = {"type": "track", "messageId": message_id, "userId": "u1", "event": "Command Executed",
             "timestamp": "2026-11-26T10:00:00Z", "properties": {"command": "deploy"}}
    (settings.landing / name).write_text(json.dumps(event) + "\n")


@pytest.fixture
def watcher(settings, monkeypatch):
    """The trigger's event stream, polling every second; closed at the end like the triggerer does."""
    from empathy.connections import LandingFilesTrigger

    monkeypatch.setenv("EMPATHY_LANDING_POLL_S", "1")
    loop = asyncio.new_event_loop()
    events = LandingFilesTrigger().run()

    def next_event() -> dict:
        return loop.run_until_complete(asyncio.wait_for(anext(events), EVENT_WAIT_S)).payload

    yield next_event
    loop.run_until_complete(events.aclose())
    loop.close()


def test_fires_for_new_files_and_names_each_file_once(settings, watcher):
    from empathy import store
    from empathy.ingest import ingest_landing

    land(settings, "a.jsonl", "w-1")
    first = watcher()
    assert first["files"] == ["a.jsonl"] and first["count"] == 1

    # a second file: the next event names it alone, although a.jsonl is still not ingested
    land(settings, "b.jsonl", "w-2")
    assert watcher()["files"] == ["b.jsonl"]

    # once ingested, files are no longer pending; a third file is announced alone
    with store.connect(settings) as con:
        totals = ingest_landing(con, settings, run_id="test").totals()
    assert totals["loaded"] == 2
    land(settings, "c.jsonl", "w-3")
    assert watcher()["files"] == ["c.jsonl"]


def test_a_failing_look_does_not_stop_the_watch(settings, monkeypatch, caplog):
    """A look that fails (here: a setting refused by validation) is logged; the watch goes on and fires
    once the landing folder can be read again."""
    from empathy.connections import LandingFilesTrigger

    monkeypatch.setenv("EMPATHY_LANDING_POLL_S", "1")
    loop = asyncio.new_event_loop()
    events = LandingFilesTrigger().run()
    pending = loop.create_task(anext(events))
    loop.run_until_complete(asyncio.sleep(0))  # the first look: nothing landed yet
    monkeypatch.setenv("EMPATHY_LANDING_POLL_S", "not-a-number")
    for _ in range(EVENT_WAIT_S * 5):
        if "cannot look at the landing folder" in caplog.text:
            break
        loop.run_until_complete(asyncio.sleep(0.2))
    assert "cannot look at the landing folder" in caplog.text
    assert not pending.done()  # no event, and no exception out of the generator
    monkeypatch.setenv("EMPATHY_LANDING_POLL_S", "1")
    land(settings, "late.jsonl", "w-9")
    event = loop.run_until_complete(asyncio.wait_for(pending, EVENT_WAIT_S)).payload
    assert event["files"] == ["late.jsonl"]
    loop.run_until_complete(events.aclose())
    loop.close()


def test_trigger_keeps_one_identity_whatever_the_settings():
    """The watcher's trigger is identified by its class and kwargs: no kwargs, so changing a setting
    never makes Airflow register a second watcher on the same asset."""
    from empathy.connections import LandingFilesTrigger

    assert LandingFilesTrigger().serialize() == ("empathy.connections.LandingFilesTrigger", {})


def test_pipeline_schedule_is_hourly_or_the_landing_asset_with_its_watcher(airflow_db):
    from airflow.dag_processing.dagbag import DagBag

    from empathy.connections import LANDING_ASSET, LandingFilesTrigger

    dag = DagBag(dag_folder=str(ROOT / "dags")).dags["empathy_pipeline"]
    assets = list(dag.timetable.asset_condition.objects)
    assert [a.name for a in assets] == [LANDING_ASSET]
    (asset,) = assets
    assert [type(w.trigger) for w in asset.watchers] == [LandingFilesTrigger]
