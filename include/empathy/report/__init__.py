"""What a run did, in words a marketer reads in one screen: the summary task's log, `make demo`'s output,
and (from the same tables) the Empathy page's run view.

A run reports its kind (live, dry run, backfill: which of them sent nothing, and why), its window, what
ingest made of the landing folder (with the files it refused and what to do about them), the states it
computed, what it decided by kind and status with the reasons, and what it considered and did not do
("waiting: quiet hours (23:00 in Europe/London)", "no alert: alerted 3 h ago").
"""
from __future__ import annotations

import json

from empathy import store

MODE_WORDS = {
    "live": "live run",
    "dry run": "dry run: decided and previewed, nothing sent",
    "backfill": "backfill: recomputed a past window and simulated its decisions, nothing sent",
}
STATUS_WORDS = {"sent": "sent", "simulated": "simulated (preview only)", "pending": "waiting to be sent",
                "failed": "failed (retried next run)", "skipped": "skipped"}
KIND_WORDS = {"hold": "holds", "release": "releases", "slack_alert": "Slack alerts", "email": "emails"}


def delivered_by_kind(stages: dict) -> dict[str, dict[str, int]]:
    """Every delivery group's outcomes, and the previews the decide step wrote, folded by kind and status
    (which step delivered what is plumbing)."""
    delivered: dict[str, dict[str, int]] = {}
    groups = [counts for key, counts in stages.items() if key.startswith("deliver:")]
    for counts in groups + [(stages.get("decide") or {}).get("previews")]:
        if counts:
            for kind, by in counts.items():
                for status, n in by.items():
                    delivered.setdefault(kind, {}).setdefault(status, 0)
                    delivered[kind][status] += n
    return delivered


def _row(con, run_id: str) -> dict | None:
    found = store.records(store.run(con, "report/run.sql", {"run_id": run_id}))
    return found[0] if found else None


def run_facts(con, run_id: str) -> dict | None:
    """The run's row with its stages parsed (what the page's run view shows)."""
    row = _row(con, run_id)
    if row is None:
        return None
    row["stages"] = json.loads(row["stages"] or "{}")
    row["params"] = json.loads(row["params"] or "{}")
    return row


def run_report(con, run_id: str) -> str:
    """The run's report as text (at most a screen)."""
    r = run_facts(con, run_id)
    if r is None:
        return f"Empathy: no record of run {run_id} (it decided nothing yet)."
    st = r["stages"]
    window = (f"{r['window_start']:%Y-%m-%d %H:%M} to " if r["window_start"] else "up to ") + f"{r['as_of']:%Y-%m-%d %H:%M} UTC"
    lines = [f"Empathy run {r['run_id']}", f"  kind     {MODE_WORDS.get(r['mode'], r['mode'])}; window {window}"]
    if r["params"]:
        lines.append("  settings " + ", ".join(f"{k}={v}" for k, v in sorted(r["params"].items())))
    ing = st.get("ingest")
    if ing:
        lines.append(f"  ingest   {ing.get('files', 0)} new file(s), {ing.get('lines', 0)} lines: {ing.get('loaded', 0)} loaded, "
                     f"{ing.get('duplicates', 0)} duplicates, {ing.get('quarantined', 0)} quarantined"
                     + (f"; {ing.get('skipped_unchanged')} already ingested" if ing.get("skipped_unchanged") else ""))
        problems = ing.get("errors") or []
        for problem in problems[:8]:
            lines.append(f"    ! {problem[:300]}")
        if len(problems) > 8:
            lines.append(f"    ! and {len(problems) - 8} more: `python -m empathy summary` lists the landing folder's problems")
    unusable = (st.get("prepare") or {}).get("unusable_events")
    if unusable:
        lines.append(f"    ! {unusable} stored event(s) have an impossible timestamp (infinite, BC, centuries away) and "
                     "were skipped by every stage; delete them from `events` when convenient")
    dec = st.get("decide") or {}
    states = (dec.get("states") or {}).get("states") or {}
    if states:
        lines.append("  states   " + ", ".join(f"{s} {n}" for s, n in sorted(states.items(), key=lambda x: -x[1]))
                     + f" ({(dec.get('states') or {}).get('changed', 0)} changed)")
    elif "decide" in st:
        lines.append("  states   nobody had new activity in this window")
    if r["actions"]:
        by_kind: dict[str, list[str]] = {}
        for a in r["actions"]:
            by_kind.setdefault(a["kind"], []).append(f"{a['n']} {STATUS_WORDS.get(a['status'], a['status'])}")
        lines.append("  decided  " + "; ".join(f"{KIND_WORDS.get(k, k)}: {', '.join(v)}" for k, v in by_kind.items()))
        for reason in (r["reasons"] or [])[:6]:
            lines.append(f"    - {KIND_WORDS.get(reason['kind'], reason['kind'])} x{reason['n']}: {reason['reason']}")
    elif "decide" in st:
        lines.append("  decided  nothing new")
    if r["not_done"]:
        lines.append("  not done")
        for n in r["not_done"][:6]:
            lines.append(f"    - {KIND_WORDS.get(n['kind'], n['kind'])} x{n['n']}: {n['reason']}")
    same = dec.get("unchanged") or {}
    if same.get("drip_steps_waiting") or same.get("held_users"):
        lines.append(f"  as before {same.get('drip_steps_waiting', 0)} drip step(s) still waiting and "
                     f"{same.get('held_users', 0)} user(s) still on hold, not looked at again: nothing they wait for "
                     "changed (the earlier reason stands: drip_deferrals, policy_holds)")
    if dec.get("rewound_windows"):
        lines.append(f"  note     {dec['rewound_windows']} later window(s) of this simulation were decided again "
                     "in order (backfill windows ran out of order)")
    if dec.get("stale_leases"):
        lines.append(f"  ! {dec['stale_leases']} action(s) had been claimed by a sending step that crashed before it "
                     "recorded: claimed again now, sent at most once more (the delivery journal is checked first)")
    delivered = delivered_by_kind(st)
    if delivered:
        lines.append("  delivery " + "; ".join(
            f"{KIND_WORDS.get(kind, kind)}: " + ", ".join(f"{n} {STATUS_WORDS.get(s, s)}" for s, n in by.items())
            for kind, by in delivered.items()))
    for a in (r["examples"] or [])[:6]:
        lines.append(f"    {a['kind']:<11} {a['status']:<9} {a['user_id'][:24]:<24} {(a['what'] or '')[:40]:<40} "
                     f"{a['reason'][:60]}")
        if a["preview"]:
            lines.append(f"      preview: {a['preview']}")
    return "\n".join(lines)


def database_summary(con) -> dict:
    """What the whole database holds: ingest reconciliation, quarantine reasons, states, actions."""
    def rows(query, params=None):
        return con.execute(query, params or []).fetchall()

    files = rows("SELECT count(*), coalesce(sum(lines),0), coalesce(sum(loaded),0), coalesce(sum(duplicates),0), "
                 "coalesce(sum(quarantined),0) FROM ingested_files")[0]
    return {
        "ingest": dict(zip(["files", "lines", "loaded", "duplicates", "quarantined"], files)),
        "events": rows("SELECT count(*) FROM events")[0][0],
        "users": rows("SELECT count(DISTINCT user_id) FROM events")[0][0],
        "states": rows("SELECT state, count(*), count(*) FILTER (WHERE on_hold) FROM user_state GROUP BY state "
                       "ORDER BY 2 DESC"),
        "actions": rows("SELECT kind, status, count(*) FROM actions WHERE NOT simulate GROUP BY ALL ORDER BY 1, 2"),
    }
