"""Decisions -> actions: dynamic holds, concierge Slack alerts, and sentiment-aware drip emails.

``decide`` runs inside the caller's transaction right after the state stage. It writes each decision
as a row of ``actions`` (the outbox) with a deterministic ``action_id`` and ``ON CONFLICT DO NOTHING``:
the same decision never gets a second row, so a rerun writes nothing new. Delivery sends the
``pending`` rows. Every threshold comes from ``settings`` (the DAG overrides them per run); what a
customer wrote can change which evidence is shown, never what is decided. Defaults: docs/policy.md.
"""
from __future__ import annotations

import functools
import hashlib
import json
import logging
import re
from collections import Counter
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import pyarrow as pa

from empathy import content, store

log = logging.getLogger(__name__)

NEGATIVE_STATES = ("frustrated", "at_risk")
SEVERITY = {"frustrated": 1, "at_risk": 2}
GATED_WHEN_HELD = ("promotional", "educational")
MAX_EXAMPLES = 12

_PARAM = re.compile(r"\$([a-z_]+)")

# Which friction to name first, and what to suggest to the account manager for it.
_NEXT_STEP = {
    "payment_failed": "Reach out about the failed payment and help them update the payment method before the account lapses.",
    "subscription_cancelled": "Call them: ask what was missing and whether anything would change their mind.",
    "cancel_page": "Call them before they cancel: ask what is missing and what would make them stay.",
    "open_ticket": "Reply personally to the open ticket today and own it until it is resolved.",
    "api_error_streak": "Check the failing endpoint with engineering, then reach out with a fix or a workaround.",
    "rage_clicks": "Offer a 15-minute screen-share: that element is not doing what they expect.",
    "search_loop": "Send them a direct answer or a short walkthrough: they cannot find what they need.",
    "docs_dwell": "Send them a direct answer or a short walkthrough: they are stuck in the docs.",
}
_FRICTION_ORDER = tuple(_NEXT_STEP)


# --- evidence ---------------------------------------------------------------------------------------
@dataclass
class Evidence:
    signal: str
    polarity: int
    last_at: datetime | None
    detail: dict
    key: str = ""
    count: int = 0


def evidence_items(reasons) -> list[Evidence]:
    """The evidence list inside ``user_state.reasons``, whatever its wrapping.

    Accepts a list of evidence rows (empathy.signals: signal, key, polarity, first_at, last_at, count,
    detail), or a dict holding such a list (``evidence``/``signals``/``items``), or {signal: row(s)}.
    """
    if isinstance(reasons, str):
        try:
            reasons = json.loads(reasons)
        except ValueError:
            return []
    if isinstance(reasons, dict):
        for name in ("evidence", "signals", "items", "behaviour", "behavior"):
            if isinstance(reasons.get(name), list):
                return [e for e in map(_item, reasons[name]) if e] + _text_items(reasons)
        rows = []
        for signal, value in reasons.items():
            for v in value if isinstance(value, list) else [value]:
                if isinstance(v, dict):
                    rows.append(_item({"signal": signal, **v}))
        return [e for e in rows if e]
    if isinstance(reasons, list):
        return [e for e in map(_item, reasons) if e]
    return []


def _text_items(reasons: dict) -> list[Evidence]:
    """Customer texts kept beside the behavioural evidence (their label makes them positive/negative)."""
    out = []
    for name in ("texts", "customer_texts", "text"):
        for t in reasons.get(name) or [] if isinstance(reasons.get(name), list) else []:
            if isinstance(t, dict):
                out.append(_item({"signal": "customer_text", **t}))
    return [e for e in out if e]


# Polarity by signal, for reasons that do not carry one (empathy.state writes {signal, detail, at, data}).
SIGNAL_POLARITY = {
    "rage_clicks": -1, "api_error_streak": -1, "docs_dwell": -1, "search_loop": -1, "payment_failed": -1,
    "open_ticket": -1, "cancel_page": -1, "subscription_cancelled": -1, "negative_text": -1,
    "recovered_after_errors": 1, "payment_recovered": 1, "ticket_resolved": 1, "email_engaged": 1,
    "positive_text": 1,
}
_SCORE_IN_TEXT = re.compile(r"score ([+-]?\d+(?:\.\d+)?)")


def _item(raw) -> Evidence | None:
    if not isinstance(raw, dict):
        return None
    signal = raw.get("signal") or raw.get("kind") or raw.get("type") or raw.get("detector")
    if not signal:
        return None
    detail = raw.get("detail")
    if isinstance(detail, str):
        try:
            detail = json.loads(detail) if detail.startswith("{") else {"summary": detail}
        except ValueError:
            detail = {"summary": detail}
    detail = dict(detail) if isinstance(detail, dict) else {}
    if isinstance(raw.get("data"), dict):  # the structured evidence behind a readable reason
        detail = {**raw["data"], **detail}
    for k, v in raw.items():  # flattened rows: keep their other fields as detail too
        if k not in ("signal", "kind", "type", "detector", "detail", "data", "polarity", "last_at", "first_at"):
            detail.setdefault(k, v)
    return Evidence(str(signal), _polarity(str(signal), raw, detail),
                    _ts(raw.get("last_at") or raw.get("at") or raw.get("ts") or raw.get("first_at")),
                    detail, str(raw.get("key") or ""), int(raw.get("count") or 0))


def _polarity(signal: str, raw: dict, detail: dict) -> int:
    p = raw.get("polarity")
    if isinstance(p, (int, float)) and p != 0:
        return 1 if p > 0 else -1
    if isinstance(p, str) and p.lower() in ("negative", "positive"):
        return -1 if p.lower() == "negative" else 1
    if signal in SIGNAL_POLARITY:
        return SIGNAL_POLARITY[signal]
    label = str(detail.get("label") or "").lower()
    if label in ("negative", "positive"):
        return -1 if label == "negative" else 1
    score = next((detail[k] for k in ("sentiment", "score") if isinstance(detail.get(k), (int, float))), None)
    if score is None and signal == "customer_text":
        m = _SCORE_IN_TEXT.search(str(detail.get("summary") or ""))
        score = float(m.group(1)) if m else None
    if score is not None and abs(score) >= 0.3:
        return 1 if score > 0 else -1
    return 0


def _ts(value) -> datetime | None:
    if isinstance(value, datetime):
        return value if value.tzinfo else value.replace(tzinfo=UTC)
    if isinstance(value, str) and value:
        try:
            return _utc(value)
        except ValueError:
            return None
    return None


def _utc(value) -> datetime:
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00"))
    if value.tzinfo is None:
        value = value.replace(tzinfo=UTC)
    return value.astimezone(UTC)


# --- the run ----------------------------------------------------------------------------------------
@dataclass
class User:
    user_id: str
    account_id: str | None
    state: str | None
    sentiment: float | None
    confidence: float | None
    intents: list
    reasons_raw: str | None
    email: str | None
    name: str | None
    timezone: str | None
    unsubscribed: bool
    account_name: str | None
    mrr: float | None
    manager: str | None
    on_hold: bool
    hold_since: datetime | None
    last_negative_at: datetime | None
    state_as_of: datetime | None = None
    in_scope: bool = False

    @functools.cached_property
    def evidence(self) -> list[Evidence]:
        """Parsed on first use: most users never need it (cost grows with the users acted on)."""
        return evidence_items(self.reasons_raw) if self.reasons_raw else []

    @property
    def negative(self) -> list[Evidence]:
        return [e for e in self.evidence if e.polarity < 0]


@dataclass
class Run:
    con: object
    settings: object
    as_of: datetime
    run_id: str | None
    simulate: bool
    sim_key: str | None
    holdout_salt: str
    rows: list = field(default_factory=list)
    hold_writes: list = field(default_factory=list)
    deferrals: list = field(default_factory=list)
    decided_steps: list = field(default_factory=list)
    notes: Counter = field(default_factory=Counter)

    def action_id(self, *natural_key) -> str:
        """sha256 of the decision's natural key; a simulation's ids also carry its key (run id)."""
        parts = [str(p) for p in natural_key]
        if self.simulate:
            parts += ["sim", str(self.sim_key)]
        return hashlib.sha256("|".join(parts).encode()).hexdigest()[:32]

    def add(self, action_id, user_id, account_id, kind, status, reason, detail):
        self.rows.append({"action_id": action_id, "user_id": user_id, "account_id": account_id, "kind": kind,
                          "status": status, "reason": reason, "detail": detail})


def _sql(con, name: str, values: dict):
    """Run sql/policy/<name>, statement by statement, binding the ``$parameters`` each one names."""
    text = store.sql(f"policy/{name}")
    code = "\n".join(line.split("--", 1)[0] for line in text.splitlines())
    cur = None
    for stmt in (s for s in code.split(";") if s.strip()):
        cur = con.execute(stmt, {k: values[k] for k in set(_PARAM.findall(stmt))})
    return cur


def decide(con, settings, as_of, run_id=None, simulate=False, user_ids=None, holdout_salt="empathy",
           sim_key=None) -> dict:
    """Decide holds, releases, concierge alerts and due drip emails as of ``as_of``; write them as actions.

    Runs inside the caller's transaction. ``user_ids``: users whose state was (re)computed (None = all);
    holds and alerts are decided for them (and releases for everyone on hold), drip steps for every
    enrolled user with a due step (time alone makes a step due). ``simulate`` (dry runs, backfills):
    rows get ``simulate=true`` and ids keyed by ``sim_key`` (default: run_id), and neither holds nor
    campaign progress change. Returns a summary (counts and "would send" examples).
    """
    as_of = _utc(as_of)
    run = Run(con, settings, as_of, run_id, bool(simulate), (sim_key or run_id or "simulation") if simulate else None,
              holdout_salt)
    campaigns = content.load_campaigns(settings)
    due = []
    for c in campaigns:
        cur = _sql(con, "due_steps.sql", {
            "as_of": as_of, "campaign": c.name, "enrol_on": list(c.enrol_on), "sim_key": run.sim_key,
            "step_ids": [s.id for s in c.steps], "delays_h": [float(s.delay_h) for s in c.steps]})
        due += [(c, user_id, enrolled_at, step, due_at) for user_id, enrolled_at, step, due_at in cur.fetchall()]

    ids = sorted(set(user_ids or []) | {d[1] for d in due})
    users = _load_users(con, as_of, user_ids, ids)

    _decide_holds(run, users)
    _decide_alerts(run, users)
    _decide_emails(run, users, due)
    written = _write(run)
    if not run.simulate:
        _persist_holds(run)
        _persist_deferrals(run)
    return _summary(run, written, users)


def _load_users(con, as_of, user_ids, ids) -> dict[str, User]:
    cur = _sql(con, "users.sql", {"as_of": as_of, "all_users": user_ids is None, "user_ids": ids})
    cols = [d[0] for d in cur.description]
    scope = None if user_ids is None else set(user_ids)
    out = {}
    for row in cur.fetchall():
        r = dict(zip(cols, row))
        u = User(r["user_id"], r["account_id"], r["state"], r["sentiment"], r["confidence"], list(r["intents"] or []),
                 r["reasons"], r["email"], r["name"], r["timezone"],
                 bool(r["unsubscribed"]), r["account_name"], r["mrr"], r["account_manager_slack_id"],
                 bool(r["on_hold"]), _ts(r["hold_since"]), _ts(r["last_negative_at"]), _ts(r["state_as_of"]))
        u.in_scope = r["state"] is not None and (scope is None or u.user_id in scope or u.on_hold)
        out[u.user_id] = u
    return out


# --- holds ------------------------------------------------------------------------------------------
def negative_reason(u: User) -> str | None:
    """Why the user is trending negative now, or None: a negative state or an ongoing API error streak."""
    if u.state in NEGATIVE_STATES:
        return f"state {u.state} (confidence {u.confidence or 0:.2f})"
    if "api_error_streak" not in (u.reasons_raw or ""):
        return None
    for e in u.evidence:
        if e.signal == "api_error_streak" and e.detail.get("ongoing", True) is not False:
            where = ", ".join(map(str, e.detail.get("endpoints") or [])) or "the API"
            return f"ongoing API error streak ({e.detail.get('errors') or e.count} errors on {where})"
    return None


def release_check(u: User, as_of: datetime, release_after_h: float) -> tuple[bool, str]:
    """Hysteresis: release only when nothing is negative now, no negative evidence for release_after_h,
    and positive evidence newer than the last negative one (or the state is delighted)."""
    if negative_reason(u):
        return False, "still negative"
    last_neg = max(filter(None, [u.last_negative_at, u.hold_since]
                          + [e.last_at for e in u.negative if e.last_at and e.last_at <= as_of]), default=None)
    if last_neg and as_of - last_neg < timedelta(hours=release_after_h):
        return False, f"negative evidence {_hours(as_of - last_neg)} h ago (< {release_after_h:g} h)"
    positive = [e for e in u.evidence if e.polarity > 0 and (e.last_at is None or last_neg is None or e.last_at > last_neg)]
    if not positive and u.state != "delighted":
        return False, "no positive evidence yet"
    what = ", ".join(sorted({e.signal for e in positive})) or "state delighted"
    return True, f"no negative evidence for {_hours(as_of - last_neg) if last_neg else 'n/a'} h and positive evidence ({what})"


def _hours(delta: timedelta) -> str:
    return f"{delta.total_seconds() / 3600:.0f}"


def _decide_holds(run: Run, users: dict[str, User]) -> None:
    for u in users.values():
        if not u.in_scope:
            continue
        why = negative_reason(u)
        if why and not u.on_hold:
            detail = {"state": u.state, "confidence": u.confidence, "evidence": _evidence_digest(u.negative),
                      "hold_since": run.as_of.isoformat()}
            run.add(run.action_id("hold", u.user_id, run.as_of.isoformat()), u.user_id, u.account_id, "hold",
                    "pending", f"hold: {why}", detail)
            u.on_hold, u.hold_since, u.last_negative_at = True, run.as_of, u.state_as_of or run.as_of
            run.hold_writes.append(("hold", u, why))
        elif why and u.on_hold:  # negative as of the state's own time (it may not have been recomputed since)
            latest = max(filter(None, [u.last_negative_at, u.state_as_of or run.as_of]))
            if latest != u.last_negative_at:
                u.last_negative_at = latest
                run.hold_writes.append(("touch", u, why))
        elif u.on_hold:
            ok, why_not = release_check(u, run.as_of, run.settings.release_after_h)
            if ok:
                since = (u.hold_since or run.as_of).isoformat()
                run.add(run.action_id("release", u.user_id, since), u.user_id, u.account_id, "release", "pending",
                        f"release: {why_not}", {"state": u.state, "hold_since": since,
                                                "evidence": _evidence_digest([e for e in u.evidence if e.polarity > 0])})
                u.on_hold = False
                run.hold_writes.append(("release", u, why_not))
            else:
                run.notes[f"hold kept: {why_not.split(' (')[0].split(' ago')[0]}"] += 1


def _persist_holds(run: Run) -> None:
    """Holds, touches and releases as three set-based statements, then user_state.on_hold mirrors them."""
    if run.hold_writes:
        table = pa.table({
            "what": pa.array([w for w, _, _ in run.hold_writes], pa.string()),
            "user_id": pa.array([u.user_id for _, u, _ in run.hold_writes], pa.string()),
            "reason": pa.array([why for _, _, why in run.hold_writes], pa.string()),
            "last_negative_at": pa.array([u.last_negative_at or run.as_of for _, u, _ in run.hold_writes],
                                         pa.timestamp("us", tz="UTC")),
        })
        run.con.register("_policy_holds_in", table)
        try:
            _sql(run.con, "persist_holds.sql", {"as_of": run.as_of, "now": datetime.now(UTC)})
        finally:
            run.con.unregister("_policy_holds_in")
    _sql(run.con, "sync_on_hold.sql", {})


# --- concierge alerts -------------------------------------------------------------------------------
def _decide_alerts(run: Run, users: dict[str, User]) -> None:
    s = run.settings
    by_account: dict[str, list[User]] = {}
    for u in users.values():
        if u.in_scope and u.state in NEGATIVE_STATES and u.account_id:
            if u.mrr is None or u.mrr < s.high_value_mrr:
                run.notes["alert not sent: low-value account"] += 1
                continue
            by_account.setdefault(u.account_id, []).append(u)
    if not by_account:
        return
    since = run.as_of - timedelta(hours=s.alert_cooldown_h)
    prior = {}
    for account_id, severity, kinds_json in _sql(run.con, "recent_alerts.sql",
                                                 {"since": since, "as_of": run.as_of, "sim_key": run.sim_key}).fetchall():
        kinds = set()
        for k in kinds_json or []:
            kinds |= set(json.loads(k) if k else [])
        prior[account_id] = (severity or 0, kinds)
    for account_id, members in sorted(by_account.items()):
        members.sort(key=lambda u: (-SEVERITY[u.state], -(u.confidence or 0), u.user_id))
        worst = members[0]
        severity = SEVERITY[worst.state]
        kinds = sorted({e.signal for m in members for e in m.negative})
        if account_id in prior:
            p_sev, p_kinds = prior[account_id]
            if severity > p_sev:
                reason = f"concierge: worse, {worst.state} (was {'frustrated' if p_sev == 1 else 'lower'}) within cooldown"
            elif set(kinds) - p_kinds:
                reason = f"concierge: worse, new evidence ({', '.join(sorted(set(kinds) - p_kinds))}) within cooldown"
            else:
                run.notes["alert not sent: cooldown"] += 1
                continue
        else:
            reason = f"concierge: {worst.state} on a high-value account (mrr {worst.mrr:g} >= {s.high_value_mrr:g})"
        channel = worst.manager or s.slack_fallback_channel
        text, blocks = alert_message(worst, members, run)
        detail = {"channel": channel, "text": text, "blocks": blocks, "severity": severity, "evidence_kinds": kinds,
                  "state": worst.state, "confidence": worst.confidence, "account_name": worst.account_name,
                  "mrr": worst.mrr, "users": [m.user_id for m in members],
                  "fallback_channel": worst.manager is None}
        run.add(run.action_id("slack_alert", account_id, run.as_of.isoformat()), worst.user_id, account_id,
                "slack_alert", "pending", reason, detail)


def _redactor():
    try:
        from empathy.redact import redact
        return redact
    except ImportError:  # the shared redactor is not there: a conservative stand-in
        return _redact_basic


def _redact_basic(text: str, names=()) -> str:
    text = re.sub(r"[\w.+-]+@[\w-]+(?:\.[\w-]+)+", "[EMAIL]", text or "")
    text = re.sub(r"(?:\d[ -]?){13,19}", "[CARD]", text)
    text = re.sub(r"\+?\d[\d ().-]{7,}\d", "[PHONE]", text)
    for n in names or ():
        if n and len(n) > 1:
            text = re.sub(re.escape(n), "[NAME]", text, flags=re.IGNORECASE)
    return text


def _mrkdwn(text) -> str:
    """Untrusted text shown in Slack: escaped so it cannot mention, link or format."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace("`", "'")


def friction_lines(u: User, limit: int = 4) -> list[str]:
    """The friction point in words a person reads in Slack; customer text redacted and quoted."""
    redact = _redactor()
    names = [n for n in [u.name, *(u.name or "").split()] if n]
    lines = []
    for e in sorted(u.negative, key=_friction_rank):
        d = e.detail
        if e.signal == "rage_clicks":
            lines.append(f"Rage clicks on `{_mrkdwn(d.get('element') or '?')}` at `{_mrkdwn(d.get('path') or '?')}`"
                         f" ({d.get('bursts') or e.count or 1} bursts)")
        elif e.signal == "api_error_streak":
            eps = ", ".join(f"`{_mrkdwn(x)}`" for x in (d.get("endpoints") or [])[:3]) or "the API"
            statuses = "/".join(map(str, d.get("statuses") or []))
            err = d.get("error_message")
            lines.append(f"{d.get('errors') or e.count} failed API calls in a row on {eps}"
                         + (f" (HTTP {statuses})" if statuses else "")
                         + (f": _{_mrkdwn(redact(str(err), names)[:160])}_" if err else "")
                         + (" - still failing" if d.get("ongoing") else ""))
        elif e.signal == "open_ticket":
            excerpt = d.get("latest_customer_text") or d.get("text") or ""
            subject = d.get("subject")
            lines.append(f"Open ticket {_mrkdwn(d.get('ticket_id') or e.key)}"
                         + (f" \"{_mrkdwn(redact(str(subject), names)[:80])}\"" if subject else "")
                         + (f": > {_mrkdwn(redact(str(excerpt), names)[:200])}" if excerpt else ""))
        elif e.signal == "payment_failed":
            lines.append(f"{d.get('failures') or e.count} failed payment(s) not settled")
        elif e.signal in ("cancel_page", "subscription_cancelled"):
            lines.append(f"Visited the cancel page `{_mrkdwn(d.get('path') or e.key)}`" if e.signal == "cancel_page"
                         else "Cancelled the subscription")
        elif e.signal == "docs_dwell":
            lines.append(f"Stuck reading `{_mrkdwn(d.get('path') or e.key)}` ({d.get('longest_s') or '?'} s, no command after)")
        elif e.signal == "search_loop":
            lines.append(f"{d.get('searches') or e.count} searches without using a result")
        elif e.signal == "customer_text":
            text = d.get("text") or d.get("excerpt") or ""
            if text:
                lines.append(f"Wrote: > {_mrkdwn(redact(str(text), names)[:200])}")
        else:
            lines.append(_mrkdwn(e.signal.replace("_", " ")))
        if len(lines) >= limit:
            break
    return lines or ["No single friction point in the evidence; the overall trend is negative."]


def _friction_rank(e: Evidence):
    order = _FRICTION_ORDER.index(e.signal) if e.signal in _FRICTION_ORDER else len(_FRICTION_ORDER)
    return (order, -(e.last_at.timestamp() if e.last_at else 0))


def next_step(u: User) -> str:
    for e in sorted(u.negative, key=_friction_rank):
        if e.signal in _NEXT_STEP:
            return _NEXT_STEP[e.signal]
    if "cancellation" in u.intents:
        return _NEXT_STEP["cancel_page"]
    return "Reach out personally: ask how it is going and what would help."


def alert_message(u: User, members: list[User], run: Run) -> tuple[str, list[dict]]:
    """Slack fallback text and Block Kit blocks for a concierge alert."""
    account = _mrkdwn(u.account_name or u.account_id)
    who = _mrkdwn(u.name or u.user_id) + (f" <mailto:{_mrkdwn(u.email)}|{_mrkdwn(u.email)}>" if u.email else "")
    mrr = f"{u.mrr:,.0f}/month" if u.mrr is not None else "unknown"
    friction = friction_lines(u)
    step = next_step(u)
    text = (f"{u.account_name or u.account_id} (MRR {mrr}): {u.name or u.user_id} is {u.state} "
            f"(confidence {u.confidence or 0:.2f}). Next step: {step}")
    others = [m.user_id for m in members[1:]]
    blocks = [
        {"type": "header", "text": {"type": "plain_text", "text": f"{(u.account_name or u.account_id)[:100]} needs a human touch"}},
        {"type": "section", "fields": [
            {"type": "mrkdwn", "text": f"*User*\n{who} (`{_mrkdwn(u.user_id)}`)"},
            {"type": "mrkdwn", "text": f"*Account*\n{account} (`{_mrkdwn(u.account_id)}`)"},
            {"type": "mrkdwn", "text": f"*Value*\nMRR {mrr}"},
            {"type": "mrkdwn", "text": f"*State*\n{u.state} (confidence {u.confidence or 0:.2f})"},
        ]},
        {"type": "section", "text": {"type": "mrkdwn", "text": "*Friction point*\n" + "\n".join(f"• {x}" for x in friction)}},
        {"type": "section", "text": {"type": "mrkdwn", "text": f"*Suggested next step*\n{step}"}},
        {"type": "context", "elements": [{"type": "mrkdwn", "text":
            f"Empathy · as of {run.as_of:%Y-%m-%d %H:%M} UTC"
            + (f" · also affected: {', '.join(_mrkdwn(o) for o in others[:5])}" if others else "")
            + (" · SIMULATION" if run.simulate else "")}]},
    ]
    return text, blocks


# --- drip emails ------------------------------------------------------------------------------------
def in_holdout(user_id: str, salt: str, pct: float) -> bool:
    """Deterministic: the same user and salt are always in (or out of) the holdout."""
    h = int.from_bytes(hashlib.sha256(f"{salt}|{user_id}".encode()).digest()[:8], "big")
    return h / 2**64 * 100.0 < float(pct)


def tone_for(u: User | None) -> str:
    """supportive for the stuck, security for security reviewers, celebratory for the delighted."""
    if u is None or u.state is None:
        return "standard"
    if u.state in ("confused", "frustrated", "at_risk"):
        return "supportive"
    if "security_review" in u.intents:
        return "security"
    if u.state == "delighted":
        return "celebratory"
    return "standard"


def quiet_now(tz_name: str | None, quiet_hours: str, as_of: datetime) -> tuple[bool, str]:
    """Whether ``as_of`` falls in the quiet hours ("21-8") of the user's timezone (unknown: UTC)."""
    from zoneinfo import ZoneInfo

    m = re.fullmatch(r"\s*(\d{1,2})\s*-\s*(\d{1,2})\s*", quiet_hours or "")
    if not m:
        return False, ""
    start, end = int(m.group(1)) % 24, int(m.group(2)) % 24
    try:
        tz = ZoneInfo(tz_name) if tz_name else UTC
    except Exception:  # unknown zone name
        tz, tz_name = UTC, f"UTC (unknown zone {tz_name!r})"
    hour = as_of.astimezone(tz).hour
    quiet = (start <= hour < end) if start <= end else (hour >= start or hour < end)
    return quiet, f"{hour:02d}h in {tz_name or 'UTC'}"


def _friction_for_email(u: User, campaign) -> dict | None:
    links = (campaign.links or {}).get("troubleshooting") or {}
    for e in sorted(u.negative, key=_friction_rank):
        link = links.get(e.signal)
        if not link:
            continue
        d = e.detail
        label = {
            "api_error_streak": "your requests to " + ", ".join(map(str, (d.get("endpoints") or ["the API"])[:2])),
            "rage_clicks": f"the {d.get('element') or 'button'} on {d.get('path') or 'that page'}",
            "docs_dwell": f"the page {d.get('path') or 'in our docs'}",
            "search_loop": "finding what you were searching for",
            "payment_failed": "your payment",
            "open_ticket": "your support request",
            "cancel_page": "your plan",
        }.get(e.signal, "something")
        return {"signal": e.signal, "label": label, "link": link}
    return None


def gate(run: Run, u: User | None, step, due_at: datetime, holdout: bool, counts: dict) -> tuple:
    """The rules for one due step, in order: ("skip", reason, category) | ("defer", reason) |
    ("send", category, template, swapped). Sending counts towards the frequency cap."""
    s = run.settings
    late = run.as_of - due_at
    if late > timedelta(hours=s.drip_max_late_h):
        return "skip", f"too late: due {_hours(late)} h ago (drip_max_late_h {s.drip_max_late_h:g})", step.category
    category, template, swapped = step.category, step.template, None
    if u is not None and u.state == "at_risk" and category == "promotional":
        if holdout or not step.at_risk:
            return "skip", "no promotion to an at_risk user", category
        swapped = {"from_template": template, "from_category": category}
        template, category = step.at_risk["template"], step.at_risk.get("category", "support")
    if u is not None and u.unsubscribed and category != "transactional":
        return "skip", f"unsubscribed: transactional mail only (this step is {category})", category
    gate_holds = not (holdout and s.holdout_ignores_holds)
    if u is not None and u.on_hold and gate_holds and category in GATED_WHEN_HELD:
        return "defer", f"on hold: no {category} email until released"
    if not (u and u.email):
        return "defer", "no email address yet"
    if category != "transactional":
        quiet, local = quiet_now(u.timezone, s.quiet_hours, run.as_of)
        if quiet:
            return "defer", f"quiet hours ({s.quiet_hours} local; now {local})"
        if counts.get(u.user_id, 0) >= s.email_cap_per_day:
            return "defer", f"frequency cap ({s.email_cap_per_day} non-transactional per 24 h)"
        counts[u.user_id] = counts.get(u.user_id, 0) + 1
    return "send", category, template, swapped


def _decide_emails(run: Run, users: dict[str, User], due: list) -> None:
    s = run.settings
    if not due:
        return
    counts = dict(_sql(run.con, "email_counts.sql", {
        "as_of": run.as_of, "sim_key": run.sim_key, "user_ids": sorted({d[1] for d in due})}).fetchall())
    asm = content.asm_group_id(s)
    pending = []
    latest = {(c.name, user_id): step_id for c, user_id, _, step_id, _ in due}  # due rows are in step order
    for campaign, user_id, _enrolled_at, step_id, due_at in due:
        u = users.get(user_id)
        step = campaign.step(step_id)
        due_at = _utc(due_at)
        holdout = in_holdout(user_id, run.holdout_salt, s.holdout_pct)
        aid = run.action_id("email", user_id, campaign.name, step.id)
        base = {"campaign": campaign.name, "step": step.id, "category": step.category, "template": step.template,
                "tone": "standard" if holdout else tone_for(u), "holdout": holdout, "due_at": due_at.isoformat(),
                "state": u.state if u else None}
        newer = latest[(campaign.name, user_id)]
        if newer != step.id:  # several steps due at once (first run, catch-up): only the latest goes out
            outcome = ("skip", f"superseded: {newer} is due too", step.category)
        else:
            outcome = gate(run, u, step, due_at, holdout, counts)
        if outcome[0] == "skip":
            run.add(aid, user_id, u.account_id if u else None, "email", "skipped", outcome[1],
                    {**base, "category": outcome[2], "subject": None})
            run.decided_steps.append((user_id, campaign.name, step.id))
            continue
        if outcome[0] == "defer":
            run.deferrals.append((user_id, campaign.name, step.id, due_at, outcome[1]))
            run.notes[f"email deferred: {outcome[1].split(' (')[0]}"] += 1
            continue
        _, category, template, swapped = outcome
        tone = "standard" if holdout else tone_for(u)
        friction = _friction_for_email(u, campaign) if tone == "supportive" else None
        first_name = (u.name or "").split()[0] if u.name else None
        draft = content.render(campaign, template, tone, first_name=first_name, friction=friction)
        reason = f"{campaign.name}/{step.id} due {due_at:%Y-%m-%d %H:%M} UTC; tone {draft.tone}"
        if holdout:
            reason += " (holdout: no empathy adjustments)"
        elif swapped:
            reason += f"; at_risk: {swapped['from_template']} ({swapped['from_category']}) replaced by {template}"
        detail = {**base, "category": category, "template": template, "tone": draft.tone, "to_email": u.email,
                  "to_name": u.name, "friction": friction["signal"] if friction else None,
                  "asm_group_id": asm}
        if swapped:
            detail["swapped"] = swapped
        pending.append((aid, u, campaign, draft, reason, detail))
        run.decided_steps.append((user_id, campaign.name, step.id))

    run.notes.update({f"rewrite {k}": v for k, v in
                      content.rewrite_all([p[3] for p in pending], s, run.con).items() if v})
    for aid, u, campaign, draft, reason, detail in pending:
        mail = content.finish(draft, campaign.product, content.unsubscribe_url(s, u.user_id, detail["asm_group_id"]))
        offer_code = str((campaign.offer or {}).get("code") or "")
        if u.state == "at_risk" and offer_code and offer_code in mail["text"]:  # last line of defence
            run.add(aid, u.user_id, u.account_id, "email", "skipped", "no discount to an at_risk user",
                    {**detail, "subject": None})
            continue
        detail.update(mail, rewrite=draft.rewrite, rewrite_note=draft.rewrite_note)
        run.add(aid, u.user_id, u.account_id, "email", "pending", reason, detail)


def _persist_deferrals(run: Run) -> None:
    now = run.as_of
    for user_id, campaign, step, due_at, reason in run.deferrals:
        run.con.execute(
            "INSERT INTO drip_deferrals VALUES (?, ?, ?, ?, ?, ?, ?) ON CONFLICT (user_id, campaign, step) "
            "DO UPDATE SET reason = excluded.reason, last_deferred_at = excluded.last_deferred_at",
            [user_id, campaign, step, due_at, reason, now, now])
    if run.decided_steps:
        run.con.register("_policy_decided", pa.table({k: pa.array(v, pa.string()) for k, v in zip(
            ("user_id", "campaign", "step"), zip(*run.decided_steps))}))
        try:
            run.con.execute("DELETE FROM drip_deferrals WHERE (user_id, campaign, step) IN "
                            "(SELECT (user_id, campaign, step) FROM _policy_decided)")
        finally:
            run.con.unregister("_policy_decided")


# --- writing and summary ----------------------------------------------------------------------------
def _write(run: Run) -> list[dict]:
    """Insert the rows that are new (ON CONFLICT DO NOTHING); returns those that were written."""
    if not run.rows:
        return []
    ids = [r["action_id"] for r in run.rows]
    existing = {r[0] for r in run.con.execute(
        "SELECT action_id FROM actions WHERE list_contains(?, action_id)", [ids]).fetchall()}
    new, seen = [], set()
    for r in run.rows:
        if r["action_id"] not in existing and r["action_id"] not in seen:
            seen.add(r["action_id"])
            new.append(r)
    if not new:
        return []
    now = datetime.now(UTC)
    table = pa.table({
        "action_id": [r["action_id"] for r in new], "user_id": [r["user_id"] for r in new],
        "account_id": pa.array([r["account_id"] for r in new], pa.string()), "kind": [r["kind"] for r in new],
        "status": [r["status"] for r in new], "reason": [r["reason"] for r in new],
        "detail": [json.dumps({**r["detail"], "run_id": run.run_id}, default=str) for r in new],
    })
    run.con.register("_policy_new", table)
    try:
        run.con.execute(
            "INSERT INTO actions (action_id, user_id, account_id, kind, status, reason, detail, created_at, as_of, "
            "run_id, simulate, sim_key, updated_at) "
            "SELECT action_id, user_id, account_id, kind, status, reason, detail::JSON, ?, ?, ?, ?, ?, ? "
            "FROM _policy_new ON CONFLICT (action_id) DO NOTHING",
            [now, run.as_of, run.run_id, run.simulate, run.sim_key, now])
    finally:
        run.con.unregister("_policy_new")
    return new


def _summary(run: Run, written: list[dict], users: dict[str, User]) -> dict:
    by_kind = Counter(r["kind"] for r in written)
    by_status = Counter(f"{r['kind']}:{r['status']}" for r in written)
    emails = [r for r in written if r["kind"] == "email" and r["status"] == "pending"]
    verb = "would " if run.simulate else ""
    examples = []
    for r in written:
        d = r["detail"]
        if r["kind"] == "email" and r["status"] == "pending":
            line = (f"{verb}email {d['to_email']}: \"{d['subject']}\" ({d['category']}, tone {d['tone']}"
                    f"{', holdout' if d.get('holdout') else ''})")
        elif r["kind"] == "email":
            line = f"{verb}skip {d['campaign']}/{d['step']} for {r['user_id']}: {r['reason']}"
        elif r["kind"] == "slack_alert":
            line = f"{verb}alert {d['channel']} about {d.get('account_name') or r['account_id']}: {r['reason']}"
        else:
            line = f"{verb}{r['kind']} {r['user_id']}: {r['reason']}"
        examples.append(line)
    return {
        "as_of": run.as_of.isoformat(), "run_id": run.run_id, "simulate": run.simulate, "sim_key": run.sim_key,
        "users_considered": len(users), "written": len(written),
        "by_kind": dict(by_kind), "by_status": dict(by_status),
        "email_by_category": dict(Counter(r["detail"]["category"] for r in emails)),
        "email_by_tone": dict(Counter(r["detail"]["tone"] for r in emails)),
        "holdout_emails": sum(1 for r in emails if r["detail"].get("holdout")),
        "notes": dict(run.notes),
        "examples": examples[:MAX_EXAMPLES],
    }


def _evidence_digest(items: list[Evidence], limit: int = 5) -> list[dict]:
    """Which evidence caused a hold or release (signal, key, when): no customer text."""
    return [{"signal": e.signal, "key": e.key, "last_at": e.last_at.isoformat() if e.last_at else None}
            for e in items[:limit]]
