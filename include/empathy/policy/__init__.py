"""Decisions -> actions: dynamic holds, concierge Slack alerts, and sentiment-aware drip emails.

``decide`` runs inside the caller's transaction right after the state stage, for one window (the run's
as_of) and one *scope*: ``''`` for real runs, else a simulation's (a backfill, the dry runs, a named
scenario). The rules are SQL over every user of the window at once (``policy/sql/*.sql``, in the order
``seen -> due -> users -> holds -> alerts -> drips -> ids -> write``); Python only words the alerts and
emails that go out (``policy.render``). Each decision is a row of ``actions`` (the outbox) with a
deterministic id, so the same decision never gets a second row.

The actions are also the policy's memory: hold state, alert cooldowns, the email cap and drip progress
are read from them. Real runs see every real decision (a newer window decided first: an older one run
later neither re-alerts nor re-sends). A simulation sees the real decisions before its window and its
own scope's; when one of its windows is decided after a later one (backfill windows run in parallel), the
later windows are rewound and decided again in order, so a simulation is what consecutive real runs
would have done, whatever order its windows ran in. Thresholds come from settings (the run's Params);
what a customer wrote changes which evidence is shown, never what is decided.
"""
from __future__ import annotations

import json
import logging
from datetime import UTC, datetime

import pyarrow as pa

from empathy import store
from empathy.config import Settings, load
from empathy.content.campaigns import load_campaigns, steps_table
from empathy.policy import render
from empathy.signals import as_utc

log = logging.getLogger(__name__)


def _quiet(settings: Settings) -> tuple[int | None, int | None]:
    text = (settings.quiet_hours or "").strip()
    if not text:
        return None, None
    start, end = (int(x) % 24 for x in text.split("-"))
    return start, end


def decide(con, settings: Settings, as_of, *, run_id: str | None, users: list[str], scope: str = "",
           simulation: str | None = None, overrides: dict | None = None, holdout_salt: str = "empathy",
           base_url: str | None = None, asm_group_id: int | None = None) -> dict:
    """Decide holds, releases, concierge alerts and due drip emails for the window ending ``as_of``.

    ``users``: whose states were (re)computed in this window; holds and alerts are decided for them (and
    releases for everyone on hold whose time may have come), drip steps for every enrolled user with a due
    step. ``scope`` '' writes real decisions; any other scope writes simulated rows of that scope
    (``simulation`` says why: 'dry run', 'backfill'), which never change a real hold. ``overrides``: the run's
    setting overrides, kept with the window so a rewound window is decided again with its own. Returns a summary."""
    as_of = as_utc(as_of)
    later = []
    if scope:
        later = con.execute("SELECT as_of, run_id, users, params::VARCHAR FROM decision_points "
                            "WHERE scope = ? AND as_of > ? ORDER BY as_of", [scope, as_of]).fetchall()
        if later:
            rewind(con, settings, scope, as_of)
    window = dict(scope=scope, simulation=simulation, holdout_salt=holdout_salt, base_url=base_url,
                  asm_group_id=asm_group_id)
    summary = _decide_window(con, settings=settings, as_of=as_of, run_id=run_id, users=users,
                             overrides=overrides or {}, **window)
    for later_as_of, later_run, later_users, later_params in later:
        params = json.loads(later_params) if later_params else {}
        _decide_window(con, settings=load(params) if params else settings, as_of=as_utc(later_as_of),
                       run_id=later_run, users=list(later_users), overrides=params, **window)
    summary["rewound_windows"] = len(later)
    return summary


def rewind(con, settings: Settings, scope: str, as_of: datetime) -> None:
    """Forget a simulation's decisions after ``as_of`` (never sent: they are previews), so the windows
    after it can be decided again in order."""
    outbox = settings.outbox.resolve()
    for (path,) in con.execute("SELECT preview_path FROM actions WHERE scope = ? AND as_of > ? AND kind IN "
                               "('email', 'slack_alert') AND preview_path IS NOT NULL", [scope, as_of]).fetchall():
        preview = (outbox / path).resolve()   # absolute paths stay themselves
        if outbox in preview.parents and preview.is_file():
            preview.unlink()
    for table in ("actions", "decision_log", "decision_points"):
        con.execute(f"DELETE FROM {table} WHERE scope = ? AND as_of > ?", [scope, as_of]).fetchall()


def _decide_window(con, *, settings: Settings, as_of: datetime, run_id, users, overrides, scope, simulation,
                   holdout_salt, base_url, asm_group_id) -> dict:
    now = datetime.now(UTC)
    quiet_start, quiet_end = _quiet(settings)
    run_users = pa.table({"user_id": pa.array(sorted(set(users)), pa.string())})
    campaigns = load_campaigns(settings)
    common = {"as_of": as_of, "scope": scope}
    store.run(con, "policy/seen.sql", common).fetchall()
    limits = {"release_after_h": float(settings.release_after_h), "alert_cooldown_h": float(settings.alert_cooldown_h),
              "high_value_mrr": float(settings.high_value_mrr), "drip_max_late_h": float(settings.drip_max_late_h),
              "quiet_start": quiet_start, "quiet_end": quiet_end}
    rules = {**common, **limits}   # store.run passes each statement only the parameters it names
    store.run(con, "policy/due.sql", rules, relations={"_steps": steps_table(campaigns), "_run_users": run_users}).fetchall()
    store.run(con, "policy/users.sql", rules, relations={"_run_users": run_users}).fetchall()
    store.run(con, "policy/holds.sql", rules).fetchall()
    store.run(con, "policy/alerts.sql", rules).fetchall()
    store.run(con, "policy/drips.sql", {
        **rules, "holdout_pct": float(settings.holdout_pct), "holdout_salt": holdout_salt,
        "holdout_ignores_holds": bool(settings.holdout_ignores_holds),
        "email_cap_per_day": int(settings.email_cap_per_day)}).fetchall()
    store.run(con, "policy/ids.sql", common).fetchall()
    rendered = render.alerts(con, settings, as_of, simulation, base_url) \
        + render.emails(con, settings, campaigns, asm_group_id)
    store.run(con, "policy/write.sql", {
        **common, "simulate": bool(scope), "simulation": simulation if scope else None, "run_id": run_id, "now": now, "users": sorted(set(users)),
        "params": json.dumps(overrides, default=str)},
        relations={"_rendered": render.table(rendered)}).fetchall()
    unchanged = _unchanged(con)
    return {**_summary(con, as_of, run_id, scope, now), "unchanged": unchanged}


def _unchanged(con) -> dict:
    """What this window did not look at again because nothing about it could have changed (real runs)."""
    steps, held = con.execute(
        "SELECT (SELECT count(DISTINCT (user_id, campaign)) FROM _due WHERE unchanged), "
        "(SELECT count(*) FROM _holds WHERE on_hold AND user_id NOT IN (SELECT user_id FROM _pol_users))").fetchall()[0]
    return {"drip_steps_waiting": steps, "held_users": held}


def _summary(con, as_of, run_id, scope, now) -> dict:
    decided = con.execute(
        "SELECT kind, status, count(*) FROM actions WHERE scope = ? AND as_of = ? AND run_id IS NOT DISTINCT FROM ? "
        "GROUP BY ALL ORDER BY ALL", [scope, as_of, run_id]).fetchall()
    written = con.execute(  # the rows this decision added (a rerun of the same window adds none)
        "SELECT kind, CASE WHEN status = 'pending' THEN coalesce(detail->>'category', '') ELSE '' END, count(*) "
        "FROM actions WHERE scope = ? AND as_of = ? AND created_at = ? GROUP BY ALL", [scope, as_of, now]).fetchall()
    notes = con.execute(
        "SELECT kind, outcome, regexp_replace(reason, ' \\(.*$', '') AS why, count(*) FROM decision_log "
        "WHERE scope = ? AND as_of = ? AND run_id IS NOT DISTINCT FROM ? GROUP BY ALL ORDER BY 4 DESC, 1, 3",
        [scope, as_of, run_id]).fetchall()
    by_kind: dict[str, int] = {}
    for kind, _, n in written:
        by_kind[kind] = by_kind.get(kind, 0) + n
    return {"as_of": as_of.isoformat(), "run_id": run_id, "scope": scope, "simulate": bool(scope),
            "written": sum(by_kind.values()), "by_kind": by_kind,
            "email_by_category": {c: n for k, c, n in written if k == "email" and c},  # pending ones
            "decided": {f"{k}:{s}": n for k, s, n in decided},
            "not_done": {f"{k} {o}: {w}": n for k, o, w, n in notes}}
