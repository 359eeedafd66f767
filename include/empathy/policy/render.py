"""The words of the decisions that go out: concierge alerts (Block Kit) and drip emails, for the rows the
policy's SQL decided (``_pol_alerts``, ``_pol_drips``). One pass over those rows only: cost grows with
what is sent, not with the users looked at. A bulk load's first run words ~60,000 emails: batches of
``WORD_BATCH`` rows go to ``bulk_processes`` child processes (``empathy.fanout``), as scoring does."""
from __future__ import annotations

import json
import logging
from collections import defaultdict

import pyarrow as pa

from empathy import fanout, store
from empathy.content import emails as mail
from empathy.content import slack
from empathy.content.campaigns import Campaign

log = logging.getLogger(__name__)
WORD_BATCH = 2000   # alerts or emails worded (and held in memory) per batch

RENDERED_SCHEMA = pa.schema([("action_id", pa.string()), ("user_id", pa.string()), ("account_id", pa.string()),
                             ("kind", pa.string()), ("status", pa.string()), ("reason", pa.string()),
                             ("detail", pa.string())])


def table(rows: list[dict]) -> pa.Table:
    return pa.Table.from_pylist(rows, schema=RENDERED_SCHEMA)


def _evidence(con, user_ids: list[str]) -> tuple[dict[str, list[dict]], dict[str, list[str]]]:
    """Each user's typed evidence in friction order, and what they were looking for (from the state's rule)."""
    if not user_ids:
        return {}, {}
    rows = con.execute(
        "SELECT user_id, signal, polarity, data::VARCHAR FROM _pol_ev WHERE user_id IN (SELECT unnest(?)) "
        "ORDER BY user_id, signal = 'state' DESC, friction_rank NULLS LAST, seen_at DESC NULLS LAST", [user_ids]).fetchall()
    evidence: dict[str, list[dict]] = defaultdict(list)
    looking: dict[str, list[str]] = {}
    for user_id, signal, polarity, data in rows:
        data = json.loads(data) if data else {}
        if signal == "state":
            looking[user_id] = list((data or {}).get("looking_for") or [])
        else:
            evidence[user_id].append({"signal": signal, "polarity": polarity or 0, "data": data or {}})
    return evidence, looking


def _links(campaigns: list[Campaign]) -> dict:
    links: dict = {}
    for c in campaigns:
        for key, value in (c.links or {}).items():
            links.setdefault(key, value)
    return links


def alerts(con, settings, as_of, simulation, base_url) -> list[dict]:
    from empathy.content.campaigns import load_campaigns

    todo = store.records(con.execute(
        "SELECT a.action_id, a.user_id, a.account_id, a.state, a.confidence, a.severity, a.members, a.kinds, "
        "a.account_name, a.mrr, a.manager, a.reason, p.name, p.email, p.first_name, p.last_name "
        "FROM _pol_alerts a LEFT JOIN user_profiles p USING (user_id) WHERE a.outcome = 'decided' ORDER BY a.account_id"))
    if not todo:
        return []
    evidence, looking = _evidence(con, [r["user_id"] for r in todo])
    links = _links(load_campaigns(settings))
    return _worded(word_alerts, todo, evidence, looking, (settings, as_of, simulation, base_url, links), settings)


def _worded(func, todo: list[dict], evidence: dict, looking: dict, context, settings) -> list[dict]:
    """``func(context, (rows, their evidence, what they looked for))`` over batches of ``todo``, in order."""
    def batches():
        for i in range(0, len(todo), WORD_BATCH):
            rows = todo[i:i + WORD_BATCH]
            users = {r["user_id"] for r in rows}
            yield (rows, {u: evidence[u] for u in users if u in evidence},
                   {u: looking[u] for u in users if u in looking})
    return [row for part in fanout.imap(func, batches(), context, settings.bulk_processes) for row in part]


def word_alerts(context, batch) -> list[dict]:
    """One batch of alerts worded (no database: a child process may do it)."""
    settings, as_of, simulation, base_url, links = context
    todo, evidence, looking = batch
    out = []
    for r in todo:
        try:
            out.append(_alert(r, settings, evidence, looking, links, base_url, as_of, simulation))
        except Exception as exc:  # noqa: BLE001 - one account's data must not stop the run: say why, visibly
            log.exception("alert for account %s could not be worded", r["account_id"])
            out.append(_unworded(r, "slack_alert", exc))
    return out


def _unworded(r: dict, kind: str, exc: Exception) -> dict:
    return {"action_id": r["action_id"], "user_id": r["user_id"], "account_id": r["account_id"], "kind": kind,
            "status": "skipped", "reason": f"skipped: could not be worded ({type(exc).__name__}: {str(exc)[:200]})",
            "detail": json.dumps({"error": type(exc).__name__})}


def _alert(r, settings, evidence, looking, links, base_url, as_of, simulation) -> dict:
    channel, why_fallback = slack.channel_for(r["manager"], settings.slack_fallback_channel)
    alert = slack.Alert(
        account_id=r["account_id"], account_name=r["account_name"], mrr=r["mrr"], user_id=r["user_id"],
        state=r["state"], confidence=r["confidence"], evidence=evidence.get(r["user_id"], []),
        looking_for=looking.get(r["user_id"], []), members=list(r["members"] or []),
        pii_names=[n for n in (r["name"], r["first_name"], r["last_name"]) if n], links=links,
        user_url=slack.user_url(base_url, r["user_id"]), as_of=f"{as_of:%Y-%m-%d %H:%M}", simulation=simulation)
    text, blocks = slack.build(alert)
    detail = {"channel": channel, "text": text, "blocks": blocks, "severity": r["severity"],
              "evidence_kinds": list(r["kinds"] or []), "state": r["state"], "confidence": r["confidence"],
              "account_name": r["account_name"], "mrr": r["mrr"], "users": list(r["members"] or []),
              "fallback_channel": why_fallback is not None, "channel_reason": why_fallback,
              "user_url": alert.user_url, "looking_for": alert.looking_for}
    return {"action_id": r["action_id"], "user_id": r["user_id"], "account_id": r["account_id"],
            "kind": "slack_alert", "status": "pending", "reason": r["reason"], "detail": json.dumps(detail, default=str)}


def tone_for(state: str | None, intents) -> str:
    """supportive for the stuck, security for security reviewers, celebratory for the delighted."""
    if state in ("confused", "frustrated", "at_risk"):
        return "supportive"
    if "security_review" in (intents or []):
        return "security"
    if state == "delighted":
        return "celebratory"
    return "standard"


def emails(con, settings, campaigns: list[Campaign], asm_group_id) -> list[dict]:
    todo = store.records(con.execute(
        "SELECT d.action_id, d.user_id, d.account_id, d.campaign, d.step, d.category, d.use_category, d.template, "
        "d.use_template, d.swap, d.holdout, d.due_at, d.state, d.intents, d.email, d.name "
        "FROM _pol_drips d WHERE d.outcome = 'send' ORDER BY d.user_id, d.campaign"))
    if not todo:
        return []
    supportive = [r["user_id"] for r in todo if not r["holdout"] and tone_for(r["state"], r["intents"]) == "supportive"]
    evidence, looking = _evidence(con, supportive)
    return _worded(word_emails, todo, evidence, looking, (settings, campaigns, asm_group_id), settings)


def word_emails(context, batch) -> list[dict]:
    """One batch of emails worded (no database: a child process may do it)."""
    settings, campaigns, asm_group_id = context
    todo, evidence, looking = batch
    by_name = {c.name: c for c in campaigns}
    out = []
    for r in todo:
        try:
            out.append(_email(r, settings, by_name[r["campaign"]], evidence, looking, asm_group_id))
        except Exception as exc:  # noqa: BLE001 - one user's data must not stop the run: say why, visibly
            log.exception("email for user %s could not be worded", r["user_id"])
            out.append(_unworded(r, "email", exc))
    return out


def _email(r, settings, campaign, evidence, looking, asm_group_id) -> dict:
    tone = "standard" if r["holdout"] else tone_for(r["state"], r["intents"])
    friction = mail.friction_for(evidence.get(r["user_id"], []), looking.get(r["user_id"], []), r["state"],
                                 campaign) if tone == "supportive" else None
    draft = mail.render(campaign, r["use_template"], tone, r["name"], friction)
    unsubscribe = mail.unsubscribe_url(settings, r["user_id"], asm_group_id)
    finished = mail.finish(draft, campaign.product, unsubscribe)
    reason = f"{campaign.name}/{r['step']} due {r['due_at']:%Y-%m-%d %H:%M} UTC; tone {draft.tone}"
    if r["holdout"]:
        reason += " (holdout: no empathy adjustments)"
    elif r["swap"]:
        reason += f"; may be leaving: {r['template']} ({r['category']}) replaced by {r['use_template']}"
    offer = str((campaign.offer or {}).get("code") or "")
    if r["state"] == "at_risk" and offer and offer in finished["text"]:  # the last line of defence
        return {"action_id": r["action_id"], "user_id": r["user_id"], "account_id": r["account_id"],
                "kind": "email", "status": "skipped", "reason": "skipped: no discount to a user who may be leaving",
                "detail": json.dumps({"campaign": campaign.name, "step": r["step"], "category": r["use_category"],
                                      "subject": None})}
    detail = {"campaign": campaign.name, "step": r["step"], "category": r["use_category"],
              "template": r["use_template"], "tone": draft.tone, "holdout": r["holdout"],
              "due_at": r["due_at"].isoformat(), "state": r["state"], "to_email": r["email"],
              "friction": friction["signal"] if friction else None, "asm_group_id": asm_group_id,
              "subject": finished["subject"], "text": finished["text"],
              "unsubscribe_url": finished["unsubscribe_url"], "links": sorted(u for u in campaign.our_links() if u in finished["text"]),
              "rewrite": draft.rewrite, "rewrite_note": draft.rewrite_note,
              "tokens": finished["tokens"]}   # what the rewrite step needs to finish the email again
    if r["swap"]:
        detail["swapped"] = {"from_template": r["template"], "from_category": r["category"]}
    return {"action_id": r["action_id"], "user_id": r["user_id"], "account_id": r["account_id"],
            "kind": "email", "status": "pending", "reason": reason, "detail": json.dumps(detail, default=str)}
