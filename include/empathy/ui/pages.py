"""What each page shows, as plain data for its template: the read model's rows, paged and sorted on the
server, with charts drawn and words chosen. No HTTP here (``empathy.ui.app`` serves these)."""
from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

from empathy.report import KIND_WORDS, MODE_WORDS, STATUS_WORDS, delivered_by_kind
from empathy.ui import charts, slack_html, uplift
from empathy.ui.reader import Snapshot, parse_json
from empathy.ui.words import email_key

STATES = ("at_risk", "frustrated", "confused", "exploring", "delighted")
STATE_MEANING = {"at_risk": "about to leave", "frustrated": "something is broken for them, now",
                 "confused": "stuck, not leaving", "exploring": "normal, active", "delighted": "happy"}
SORTS = {"risk": "worst first", "sentiment": "sentiment", "mrr": "MRR", "updated": "latest window", "user": "user id"}
SIMULATION_WORDS = {
    "dry run": "dry run: a person asked to decide and preview only",
    "backfill": "backfill: a past window recomputed, its decisions simulated",
    "no connection": "no connection: no credentials for this channel, so previewed instead of sent",
}
OUTCOME_WORDS = {"deferred": "waiting", "not sent": "not sent", "kept": "kept"}
MAX_INLINE_SLACK = 10   # Slack alerts rendered inline on one page of a user's actions


@dataclass(frozen=True)
class Paging:
    page: int
    size: int

    @property
    def offset(self) -> int:
        return (self.page - 1) * self.size

    def pages(self, total: int) -> int:
        return max(1, math.ceil(total / self.size))


def _total(rows: list[dict]) -> int:
    return int(rows[0]["total"]) if rows else 0


def search_params(q: str) -> dict:
    """A search box's text as the users query takes it: a part of an id, name or account; a whole email by hash."""
    q = " ".join(str(q or "").split())[:200]
    return {"q": q.lower(), "email_hash": email_key(q) if "@" in q else ""}


def overview(snap: Snapshot, q: str, state: str, sort: str, sign: int, paging: Paging) -> dict:
    states = snap.rows("page_states")
    users = snap.rows("page_users", {**search_params(q), "state": state if state in STATES else "",
                                     "account_id": "", "sort": sort if sort in SORTS else "risk", "sign": sign,
                                     "limit": paging.size, "offset": paging.offset})
    accounts = snap.rows("page_accounts", {"q": search_params(q)["q"], "limit": 10}) if q else []
    runs = snap.rows("page_runs", {"limit": 8, "offset": 0})
    attention = snap.rows("page_attention")
    mrr_at_risk = sum(float(s["mrr"] or 0) for s in states if s["state"] == "at_risk")
    accounts_at_risk = sum(int(s["accounts"] or 0) for s in states if s["state"] == "at_risk")
    mrr_frustrated = sum(float(s["mrr"] or 0) for s in states if s["state"] == "frustrated")
    return {"states": states, "total_users": sum(int(s["users"]) for s in states), "users": users,
            "matched": _total(users), "pages": paging.pages(_total(users)), "accounts": accounts, "runs": runs,
            "runs_total": _total(runs), "attention": attention, "mrr_at_risk": mrr_at_risk,
            "accounts_at_risk": accounts_at_risk, "mrr_frustrated": mrr_frustrated,
            "trend": charts.states_per_day(snap.rows("page_trend"))}


def _slack_preview(outbox: Path, rel: str | None, redact) -> dict | None:
    """An alert's preview file, rendered as Slack shows it (None when it is not there)."""
    from empathy.ui.previews import safe_file

    path = safe_file(outbox, rel) if rel else None
    if path is None or path.suffix != ".json":
        return None
    doc = load_slack(path, redact)
    return doc and {"html": slack_html.blocks_html(doc.get("blocks")), "text": doc.get("text"),
                    "channel": doc.get("channel"), "links": slack_html.links(doc.get("blocks"))}


def load_slack(path: Path, redact) -> dict | None:
    """A Slack preview file, every string in it redacted (the page's rule for customer text)."""
    from empathy.ui.previews import read_bounded

    try:
        doc = json.loads(read_bounded(path))
    except (OSError, ValueError):
        return None
    return redact(doc) if isinstance(doc, dict) else None


def user(snap: Snapshot, user_id: str, paging: Paging, outbox: Path, redact) -> dict | None:
    row = snap.one("page_user", {"user_id": user_id})
    if row is None:
        return None
    history = list(row.get("history") or [])
    points = [*history, {"as_of": row["as_of"], "state": row["state"], "sentiment": row["sentiment"]}]
    seen, unique = set(), []
    for p in sorted(points, key=lambda p: p["as_of"]):
        if p["as_of"] not in seen:
            seen.add(p["as_of"])
            unique.append(p)
    actions = snap.rows("page_user_actions", {"user_id": user_id, "limit": paging.size, "offset": paging.offset})
    inline = 0
    for a in actions:
        a["slack"], a["slack_open"] = None, False
        if a["kind"] == "slack_alert" and inline < MAX_INLINE_SLACK:
            a["slack"] = _slack_preview(outbox, a["preview"], redact)
            a["slack_open"] = inline == 0 and a["slack"] is not None   # the newest shown open, the rest folded
            inline += 1 if a["slack"] else 0
    decisions = snap.rows("page_user_decisions", {"user_id": user_id, "limit": 50})
    holds = [a for a in actions if a["kind"] in ("hold", "release")]
    return {"user": row, "evidence": parse_json(row.get("evidence"), []), "chart": charts.sentiment(unique),
            "changes": sorted(history, key=lambda p: p["as_of"], reverse=True), "actions": actions,
            "actions_total": _total(actions), "pages": paging.pages(_total(actions)), "decisions": decisions,
            "decisions_total": _total(decisions), "holds": holds}


def account(snap: Snapshot, account_id: str, sort: str, sign: int, paging: Paging, days: int) -> dict | None:
    row = snap.one("page_account", {"account_id": account_id})
    if row is None:
        return None
    users = snap.rows("page_users", {"q": "", "email_hash": "", "state": "", "account_id": account_id,
                                     "sort": sort if sort in SORTS else "risk", "sign": sign,
                                     "limit": paging.size, "offset": paging.offset})
    trend = snap.rows("page_account_trend", {"account_id": account_id, "days": days})
    return {"account": row, "users": users, "matched": _total(users), "pages": paging.pages(_total(users)),
            "chart": charts.account_trend(trend), "trend": trend}


def run(snap: Snapshot, run_id: str, kind: str, status: str, paging: Paging) -> dict | None:
    row = snap.one("page_run", {"run_id": run_id})
    if row is None:
        return None
    stages = parse_json(row.get("stages"), {})
    actions = snap.rows("page_run_actions", {"run_id": run_id, "kind": kind, "status": status,
                                             "limit": paging.size, "offset": paging.offset})
    deliveries = delivered_by_kind(stages)
    simulations = sorted({d["simulation"] for d in row.get("decided") or [] if d.get("simulation")})
    return {"run": row, "stages": stages, "params": parse_json(row.get("params"), {}), "actions": actions,
            "actions_total": _total(actions), "pages": paging.pages(_total(actions)), "deliveries": deliveries,
            "simulations": simulations, "mode_words": MODE_WORDS.get(row["mode"], row["mode"])}


def runs(snap: Snapshot, paging: Paging) -> dict:
    rows = snap.rows("page_runs", {"limit": paging.size, "offset": paging.offset})
    return {"runs": rows, "total": _total(rows), "pages": paging.pages(_total(rows))}


def uplift_page(snap: Snapshot) -> dict:
    """Computed once per version of the read model (its counts change only with a new one)."""
    if "uplift" not in snap.memo:
        result = uplift.report(snap.rows("page_uplift"))
        result["chart"] = charts.intervals(result["overall"])
        snap.memo["uplift"] = result
    return snap.memo["uplift"]


WORDS = {"kind": KIND_WORDS, "status": STATUS_WORDS, "mode": MODE_WORDS, "simulation": SIMULATION_WORDS,
         "state": STATE_MEANING, "outcome": OUTCOME_WORDS, "sorts": SORTS}
