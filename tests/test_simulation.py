"""A simulation is what real runs would have done: cooldowns, caps, supersession and holds carry across the
windows of one backfill (and consecutive dry runs), whatever order the windows run in; and a real window
older than one already decided neither re-alerts nor re-sends."""
from __future__ import annotations

import random
from datetime import UTC, datetime, timedelta

import pytest
from runner import run_window

START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
WINDOW = timedelta(hours=6)
WINDOWS = [START - timedelta(days=2) + WINDOW * (i + 1) for i in range(8)]   # two days, ends at START


@pytest.fixture
def demo_home(settings):
    from empathy import demo

    demo.generate(settings.landing, seed=7, start=START)
    return settings.replace(holdout_pct=0.0)


def backfill(settings, ends, scope="backfill"):
    for as_of in ends:
        run_window(settings, as_of, run_id=f"backfill__{as_of:%Y%m%dT%H}", mode="backfill", scope=scope,
                   since=as_of - WINDOW, run_type="backfill")


def decisions(settings, scope):
    from empathy import store

    with store.connect(settings, read_only=True) as con:
        return sorted(con.execute(
            "SELECT kind, user_id, coalesce(account_id, ''), as_of, status, reason, action_id FROM actions "
            "WHERE scope = ? ORDER BY ALL", [scope]).fetchall())


def test_a_backfill_respects_the_alert_cooldown_across_its_windows(demo_home):
    backfill(demo_home, WINDOWS)
    alerts = [d for d in decisions(demo_home, "backfill") if d[0] == "slack_alert"]
    assert alerts, "the demo's high-value negative accounts are alerted in a simulation"
    by_account: dict[str, list] = {}
    for _kind, _user, account, as_of, status, reason, _ in alerts:
        assert status == "simulated"
        by_account.setdefault(account, []).append((as_of, reason))
    for account, seen in by_account.items():
        for (a, _), (b, why) in zip(seen, seen[1:]):   # inside 24 h only when it got worse, and saying so
            assert b - a >= timedelta(hours=24) or "worse" in why, (account, seen)
        assert len(seen) <= 3, (account, seen)   # about one a day over two days (the issue saw 48)
    holds = [d for d in decisions(demo_home, "backfill") if d[0] == "hold"]
    assert len({h[1] for h in holds}) == len(holds)   # held once, not once per window


def test_the_windows_of_a_backfill_give_the_same_decisions_in_any_order(demo_home):
    """Out of order (a REST backfill runs ten windows at once), and over windows an earlier backfill of the
    same range already computed: the same decisions as one backfill in order."""
    backfill(demo_home, WINDOWS, scope="backfill:ordered")
    shuffled = WINDOWS[:]
    random.Random(3).shuffle(shuffled)
    backfill(demo_home, shuffled, scope="backfill:shuffled")

    def comparable(scope):   # the same decisions; ids differ only by their scope
        return [d[:6] for d in decisions(demo_home, scope)]

    ordered = comparable("backfill:ordered")
    assert ordered and comparable("backfill:shuffled") == ordered


def test_consecutive_dry_runs_carry_the_cooldown_like_real_runs(demo_home):
    first = run_window(demo_home, START, run_id="dry-1", mode="dry run")
    assert first["decide"]["report"] and decisions(demo_home, "dry-run")
    alerted = {d[2] for d in decisions(demo_home, "dry-run") if d[0] == "slack_alert"}
    run_window(demo_home, START + timedelta(hours=3), run_id="dry-2", mode="dry run")
    again = [d for d in decisions(demo_home, "dry-run") if d[0] == "slack_alert" and d[3] > START]
    assert alerted and not again
    assert not decisions(demo_home, "")   # nothing real was decided


def test_a_real_window_older_than_one_already_decided_neither_re_alerts_nor_re_sends(demo_home):
    from empathy import store

    run_window(demo_home, START, run_id="now")                       # `make demo`: decided as of now
    run_window(demo_home, START - timedelta(minutes=30), run_id="older", since=START - timedelta(hours=1),
               run_type="scheduled")                                # the scheduler's window that ended before
    with store.connect(demo_home, read_only=True) as con:
        older = con.execute("SELECT kind, count(*) FROM actions WHERE run_id = 'older' AND kind IN "
                            "('slack_alert', 'email', 'hold') AND status <> 'skipped' GROUP BY kind").fetchall()
        alerts = con.execute("SELECT account_id, count(*) FROM actions WHERE kind = 'slack_alert' GROUP BY 1 "
                             "HAVING count(*) > 1").fetchall()
    assert older == [] and alerts == []
