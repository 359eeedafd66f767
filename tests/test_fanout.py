"""empathy.fanout: a bulk run's per-row work in child processes gives what the run's own process gives, in
order, with a few batches in memory, and a child that fails costs nothing but time."""
from __future__ import annotations

import os

import pytest

from empathy import fanout


def squares_and_pid(context, batch):
    """The work a child does here: arithmetic on the batch, and which process did it."""
    if context.get("fail_on") in batch:
        raise ValueError(f"cannot do {context['fail_on']}")
    return [x * x + context["plus"] for x in batch], os.getpid()


def test_children_give_the_same_results_in_order_and_share_the_work():
    batches = [list(range(i, i + 5)) for i in range(0, 60, 5)]
    here = [r for r, _ in fanout.imap(squares_and_pid, batches, {"plus": 1}, processes=0)]
    pooled = list(fanout.imap(squares_and_pid, iter(batches), {"plus": 1}, processes=2))
    assert [r for r, _ in pooled] == here == [[x * x + 1 for x in b] for b in batches]
    pids = {pid for _, pid in pooled}
    assert os.getpid() not in pids and len(pids) == 2   # two children, and the caller did none of it


def test_one_batch_is_done_here_without_starting_a_child(monkeypatch):
    monkeypatch.setattr(fanout, "Child", None)   # starting one would fail
    assert list(fanout.imap(squares_and_pid, [[3]], {"plus": 0}, processes=2)) == [([9], os.getpid())]
    assert list(fanout.imap(squares_and_pid, [], {"plus": 0}, processes=2)) == []


def test_at_most_one_batch_per_child_is_taken_and_not_yet_answered():
    taken, answered = [], []

    def batches():
        for i in range(20):
            assert len(taken) - len(answered) <= 2, "more batches in memory than children"
            taken.append(i)
            yield [i]

    for result, _ in fanout.imap(squares_and_pid, batches(), {"plus": 0}, processes=2):
        answered.append(result)
    assert answered == [[i * i] for i in range(20)]


def test_a_child_killed_with_a_batch_in_flight_is_replaced_by_the_caller(monkeypatch):
    started: list[fanout.Child] = []
    real_init = fanout.Child.__init__

    def spy(self, func, context):
        real_init(self, func, context)
        started.append(self)

    monkeypatch.setattr(fanout.Child, "__init__", spy)
    results = fanout.imap(squares_and_pid, ([i] for i in range(10)), {"plus": 0}, processes=2)
    first = next(results)
    started[0].proc.kill()   # idle now, about to be given the next batch
    started[0].proc.wait()
    rest = list(results)
    assert [r for r, _ in [first, *rest]] == [[i * i] for i in range(10)]
    assert any(pid == os.getpid() for _, pid in rest)   # its batch was done here


def test_a_child_that_cannot_take_a_batch_says_so():
    child = fanout.Child(squares_and_pid, {"plus": 0})
    child.proc.kill()
    child.proc.wait()
    assert child.submit([1]) is False
    child.close()


def test_an_error_in_the_work_is_raised_in_the_caller_as_without_children():
    with pytest.raises(ValueError, match="cannot do 7"):
        list(fanout.imap(squares_and_pid, ([i] for i in range(10)), {"plus": 0, "fail_on": 7}, processes=2))


def test_a_run_shared_with_child_processes_judges_decides_and_shows_what_one_done_here_does(tmp_path, monkeypatch):
    """The demo in many small batches, scored, worded, previewed and rendered for the page by two children, against
    the demo in one batch of each, all in this process."""
    import json
    from datetime import datetime, timezone

    from runner import run_window

    from empathy import config, demo, store
    from empathy.policy import render
    from empathy.ui import readmodel
    from empathy.ui.reader import ReadModel

    start = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)

    def run(name: str, processes: int, batch: int) -> dict:
        monkeypatch.setenv("EMPATHY_HOME", str(tmp_path / name))
        monkeypatch.setenv("EMPATHY_LANDING_SETTLE_S", "0")
        monkeypatch.setattr(readmodel, "RENDER_BATCH", batch)
        monkeypatch.setattr(render, "WORD_BATCH", batch)
        settings = config.load().replace(bulk_processes=processes, score_batch_size=batch, delivery_batch=batch,
                                         holdout_pct=0.0)
        settings.landing.mkdir(parents=True)
        demo.generate(settings.landing, seed=7, start=start)
        run_window(settings, start)
        with store.connect(settings, read_only=True) as con:
            states = con.execute("SELECT user_id, state, sentiment, confidence, intents, scorer, context_hash "
                                 "FROM user_state ORDER BY user_id").fetchall()
            actions = con.execute("SELECT action_id, kind, status, reason, CAST(detail AS VARCHAR), "
                                  "preview_path IS NOT NULL FROM actions "
                                  "ORDER BY action_id").fetchall()
        snap = ReadModel(settings.ui_path).snapshot()
        try:
            page = snap.con.execute("SELECT user_id, name, email_hash, rule, friction, evidence FROM users "
                                    "ORDER BY user_id").fetchall()
        finally:
            snap.close()
        untimed = [(*row[:-1], [{k: v for k, v in e.items() if k != "at"} for e in json.loads(row[-1])])
                   for row in page]   # the state's own evidence is stamped with the run's clock
        return {"states": states, "actions": actions, "page": untimed}

    here = run("here", processes=0, batch=100_000)
    children: list[str] = []

    class Spy(fanout.Child):
        def __init__(self, func, context):
            super().__init__(func, context)
            children.append(func.__name__)

    monkeypatch.setattr(fanout, "Child", Spy)
    shared = run("shared", processes=2, batch=4)
    assert sorted(set(children)) == ["preview_file", "render_users", "score_batch", "word_emails"] and len(children) == 8
    assert len(here["states"]) > 8 and len(here["page"]) == len(here["states"])   # several batches of 4
    assert shared == here
