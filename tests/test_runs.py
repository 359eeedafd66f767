"""What a DAG run means: its window and whether it may deliver, with the Task SDK's own run types."""
from __future__ import annotations

from datetime import datetime, timezone
from types import SimpleNamespace

import pytest
from airflow.utils.types import DagRunType

from empathy import runs

START = datetime(2026, 11, 20, 10, tzinfo=timezone.utc)
END = datetime(2026, 11, 20, 11, tzinfo=timezone.utc)


def context(run_type, **params):
    defaults = {"dry_run": False, "deliver": False, "scorer": "default", "scenario": None}
    return {"dag_run": SimpleNamespace(run_type=run_type, run_after=END.replace(minute=7)), "run_id": "r1",
            "params": {**defaults, **params}, "data_interval_start": START, "data_interval_end": END}


@pytest.mark.parametrize("run_type", [DagRunType.BACKFILL_JOB, "backfill"])
def test_backfill_simulates_unless_deliver_is_set(run_type):
    assert runs.is_simulated(context(run_type)) is True
    assert runs.is_simulated(context(run_type, deliver=True)) is False


def test_dry_run_always_simulates_and_a_normal_run_delivers():
    assert runs.is_simulated(context(DagRunType.SCHEDULED, dry_run=True)) is True
    assert runs.is_simulated(context(DagRunType.SCHEDULED)) is False
    assert runs.is_simulated(context(DagRunType.MANUAL)) is False


def test_scheduled_and_backfill_runs_cover_their_data_interval():
    assert runs.run_window(context(DagRunType.SCHEDULED)) == (END, START)
    assert runs.run_window(context(DagRunType.BACKFILL_JOB)) == (END, START)


def test_manual_and_sensor_triggered_runs_look_up_to_their_trigger_time():
    as_of, since = runs.run_window(context(DagRunType.MANUAL))
    assert (as_of, since) == (END.replace(minute=7), None)


def test_params_override_settings():
    ctx = context(DagRunType.MANUAL, high_value_mrr=5000, scorer="lexicon", rage_clicks=None)
    settings = runs.run_settings(ctx)
    assert settings.high_value_mrr == 5000.0 and settings.scorer == "lexicon" and settings.rage_clicks == 3


def test_simulation_scopes_dry_runs_share_one_backfills_another_and_scenarios_their_own():
    assert runs.run_info(context(DagRunType.MANUAL, dry_run=True)).scope == "dry-run"
    assert runs.run_info(context(DagRunType.MANUAL, dry_run=True, scenario="strict")).scope == "dry-run:strict"
    assert runs.run_info(context(DagRunType.BACKFILL_JOB)).scope == "backfill"
    live = runs.run_info(context(DagRunType.SCHEDULED))
    assert (live.mode, live.scope, live.simulate) == ("live", "", False)
    assert runs.RunInfo.from_dict(live.as_dict()) == live


@pytest.mark.parametrize("conf, key", [
    ({"dryrun": True}, "dryrun"),                       # a typo must never run for real
    ({"holdout_pct": 150}, "holdout_pct"),
    ({"rage_clicks": -1}, "rage_clicks"),
    ({"high_value_mrr": -5}, "high_value_mrr"),
    ({"alert_cooldown_h": "soon"}, "alert_cooldown_h"),
    ({"dry_run": "yes"}, "dry_run"),
    ({"scorer": "gpt"}, "scorer"),
    ({"scenario": "../x"}, "scenario"),
])
def test_run_configuration_that_is_not_a_param_or_out_of_range_is_refused_naming_the_key(conf, key):
    with pytest.raises(runs.RunConfError, match=key):
        runs.check_conf(conf)


def test_a_typo_suggests_the_key_meant():
    with pytest.raises(runs.RunConfError, match="did you mean 'dry_run'"):
        runs.check_conf({"dryrun": True})


def test_valid_configurations_pass():
    for conf in ({}, None, {"dry_run": True}, {"deliver": True, "holdout_pct": 0}, {"source": "landing"},
                 {"rage_clicks": 4, "rage_window_s": 5.5, "scorer": "lexicon", "scenario": "strict_1"}):
        runs.check_conf(conf)
