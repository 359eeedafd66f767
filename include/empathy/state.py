"""Per-user state: behavioural evidence + text judgement -> user_state and its history.

The score stage in four calls, so the DAG can split it across tasks (DuckDB work in one task at a
time, text scoring anywhere):

    users = select_users(con, settings, as_of, since)       # who has new activity
    contexts = prepare(con, settings, as_of, users)          # detectors -> user_evidence; texts
    judgements = scorer.score_users(contexts)                 # lexicon or LLM, no DuckDB needed
    with store.transaction(con):
        apply(con, settings, as_of, judgements, run_id)       # + the policy's decisions

``score_stage`` does all of it in one process. The rules that turn evidence into a state live in
``decide`` (pure, no I/O) and are documented in docs/states.md.
"""
from __future__ import annotations

import json
import logging
import math
from datetime import UTC, datetime

import duckdb
import pyarrow as pa

from empathy import signals, store
from empathy.config import Settings
from empathy.scoring.base import CustomerText, UserContext, UserJudgement

log = logging.getLogger(__name__)

KNOWN_INTENTS = ("security_review", "billing", "cancellation")
NEGATIVE_TEXT = -0.3      # a customer text at or below this is negative ("angry")
POSITIVE_TEXT = 0.3       # at or above: positive (a recovery signal)
DELIGHTED_TEXT = 0.5      # at or above: clearly positive
TEXT_WEIGHT = 1.5         # a customer's own words weigh more than one behavioural signal
PRIOR_WEIGHT = 0.5        # neutral prior: one faint signal does not make a user +-1
MAX_REASONS = 12


# --- 1. who to score --------------------------------------------------------------------------------
def select_users(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, since=None) -> list[str]:
    """Users with events ingested since their last scoring (or never scored) with ts <= as_of, plus
    users with events in (since, as_of] when ``since`` is given (a backfill window), plus users whose
    state changes with time alone (an unresolved negative ticket turning stale, evidence expiring)."""
    values = {"as_of": signals.as_utc(as_of), "since": signals.as_utc(since) if since is not None else None,
              "ticket_stale_s": float(settings.ticket_stale_h) * 3600.0,
              "lookback_s": float(settings.lookback_days) * 86400.0}
    return [r[0] for r in signals.run_sql(con, "state/select_users.sql", values).fetchall()]


# --- 2. evidence and contexts -----------------------------------------------------------------------
def prepare(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, user_ids: list[str]) -> list[UserContext]:
    """Run the detectors for these users, store their evidence (user_evidence, keyed by as_of) and
    return one UserContext each: latest customer texts, an evidence summary, names to redact, and
    the cached LLM answer when the LLM scorer's cache key matches."""
    as_of = signals.as_utc(as_of)
    prepared_at = datetime.now(UTC)
    if not user_ids:
        return []
    values = signals.compute(con, settings, as_of, user_ids)
    values["prepared_at"] = prepared_at
    signals.run_sql(con, "state/context_rows.sql", values)
    signals.store_evidence(con, as_of)
    by_user = signals.read_evidence(con, "sig_evidence")
    contexts = [_context(uid, as_of, by_user.get(uid, [])) for uid in sorted(set(user_ids))]
    if settings.scorer == "openai":
        _fill_cache(con, settings, contexts)
    return contexts


def _context(user_id: str, as_of: datetime, rows: list[dict]) -> UserContext:
    texts, names, behaviour = [], [], []
    for r in rows:
        if r["signal"] == "customer_text":
            d = r["detail"]
            texts.append((d["idx"], CustomerText(ts=r["last_at"].isoformat(), kind=d["kind"], text=d["text"] or "",
                                                 ticket_id=d.get("ticket_id"))))
        elif r["signal"] == "profile":
            names = [n for n in r["detail"].get("names") or [] if n]
        else:
            behaviour.append(r)
    return UserContext(user_id=user_id, as_of=as_of.isoformat(), texts=[t for _, t in sorted(texts, key=lambda x: x[0])],
                       evidence=signals.summary(behaviour), pii_names=names)


def _fill_cache(con, settings: Settings, contexts: list[UserContext]) -> None:
    from empathy.scoring import llm  # lazy: only the LLM path needs it

    model = llm.model_for(settings)
    keys = {llm.cache_key(c, settings, model): c for c in contexts}
    if not keys:
        return
    with signals.registered(con, "_cache_keys", pa.table({"context_hash": list(keys)})):
        hits = con.execute("SELECT context_hash, response FROM llm_cache SEMI JOIN _cache_keys USING (context_hash)"
                           ).fetchall()
    for key, response in hits:
        ctx = keys[key]
        try:
            ctx.cached = UserJudgement.model_validate_json(response).model_copy(
                update={"user_id": ctx.user_id, "context_hash": key})
        except ValueError:
            log.warning("llm_cache row %s is not a judgement; ignored", key[:12])


# --- 3. the rules -----------------------------------------------------------------------------------
def decide(rows: list[dict], judgement: UserJudgement | None, as_of, settings: Settings) -> dict:
    """The state of one user from their evidence rows (as stored) and the text judgement.

    Returns state, sentiment, confidence, intents and reasons (a list of {signal, detail, at, data}).
    Pure: same inputs, same answer. The rules are written out in docs/states.md."""
    as_of = signals.as_utc(as_of)
    by: dict[str, list[dict]] = {}
    for r in rows:
        by.setdefault(r["signal"], []).append(r)
    texts = sorted(by.get("customer_text", []), key=lambda r: r["detail"]["idx"])
    scores = list(judgement.text_scores) if judgement else []
    for t in texts:
        i = t["detail"]["idx"]
        t["score"] = scores[i] if i < len(scores) else (judgement.sentiment if judgement else 0.0)

    def latest(rs):
        return max((r["last_at"] for r in rs if r["last_at"]), default=None)

    neg_texts = [t for t in texts if t["score"] <= NEGATIVE_TEXT]
    pos_texts = [t for t in texts if t["score"] >= POSITIVE_TEXT]

    # intents: from behaviour, plus the text judge's (limited to known intents: text cannot invent others)
    intent_sources: dict[str, set] = {}
    for r in by.get("intent", []):
        intent_sources.setdefault(r["detail"]["intent"], set()).add(r["detail"]["source"])
    for i in (judgement.intents if judgement else []):
        if i in KNOWN_INTENTS:
            intent_sources.setdefault(i, set()).add("text")

    # frustration and recovery
    frustration = by.get("rage_clicks", []) + by.get("api_error_streak", [])
    frustrated_at = latest(frustration + neg_texts)
    ongoing = any(r["detail"].get("ongoing") for r in by.get("api_error_streak", []))
    recovery = by.get("recovered_after_errors", []) + by.get("ticket_resolved", []) + by.get("payment_recovered", [])
    recovered_at = latest(recovery + pos_texts)
    recovered = frustrated_at is not None and recovered_at is not None and recovered_at > frustrated_at
    is_frustrated = frustrated_at is not None and not recovered

    # leaving
    payment_failed = by.get("payment_failed", [])
    cancelled = by.get("subscription_cancelled", [])
    open_negative = []
    for t in by.get("open_ticket", []):
        ticket_texts = [x for x in texts if x["detail"].get("ticket_id") == t["key"]]
        if ticket_texts and ticket_texts[0]["score"] <= NEGATIVE_TEXT:  # the customer's latest word on it
            open_negative.append(t)
    # a fresh angry ticket is frustration; left waiting, chased, or one of several, it is a sign of leaving
    stale_s = settings.ticket_stale_h * 3600.0
    if len(open_negative) < 2:
        open_negative = [t for t in open_negative
                         if (t["count"] or 0) >= 2 or (as_of - (t["first_at"] or as_of)).total_seconds() >= stale_s]
    said_cancel = intent_sources.get("cancellation", set()) - {"page"}
    cancel_pages = by.get("cancel_page", [])
    lost_looking_for_billing = bool(cancel_pages) and "billing" in intent_sources and not said_cancel
    cancel_risk = bool(cancel_pages) and (not lost_looking_for_billing or is_frustrated or bool(neg_texts))

    reasons: list[dict] = []
    rule: list[str] = []
    if cancelled:
        rule.append("cancelled the subscription")
    if payment_failed:
        n = sum(r["count"] for r in payment_failed)
        rule.append(f"{n} failed payment{'s' if n != 1 else ''} not followed by a success")
    if open_negative:
        rule.append(f"{len(open_negative)} unresolved ticket{'s' if len(open_negative) != 1 else ''} "
                    "with negative customer text")
    if said_cancel:
        rule.append("asked about cancelling (" + ", ".join(sorted(said_cancel)) + ")")
    if cancel_risk:
        rule.append("visited a cancel page" + (" while frustrated" if is_frustrated or neg_texts else ""))

    confusion = by.get("docs_dwell", []) + by.get("search_loop", [])
    positives = [r for r in rows if r["polarity"] > 0 and r["signal"] != "productive_use"]
    negatives = [r for r in rows if r["polarity"] < 0]
    latest_text = texts[0] if texts else None

    if rule:
        state = "at_risk"
        confidence = 0.45 + 0.15 * len(rule) + (0.1 if neg_texts else 0.0)
        deciding = cancelled + payment_failed + open_negative + (cancel_pages if cancel_risk else [])
    elif is_frustrated:
        state = "frustrated"
        kinds = {r["signal"] for r in frustration} | ({"negative_text"} if neg_texts else set())
        rule.append("frustrated: " + ", ".join(sorted(kinds)) + ("; errors still failing" if ongoing else ""))
        confidence = 0.5 + 0.12 * len(kinds) + (0.1 if ongoing else 0.0)
        deciding = frustration + neg_texts
    elif confusion or lost_looking_for_billing:
        state = "confused"
        kinds = sorted({r["signal"] for r in confusion} | ({"cancel_page while looking for billing"}
                                                            if lost_looking_for_billing else set()))
        rule.append("confused: " + ", ".join(kinds))
        confidence = 0.45 + 0.1 * len(kinds) + 0.05 * min(3, sum(r["count"] for r in confusion))
        deciding = confusion + (cancel_pages if lost_looking_for_billing else [])
    elif ((latest_text and latest_text["score"] >= DELIGHTED_TEXT)
          or (not negatives and sum(r["weight"] * min(r["count"], 3) for r in positives) >= 3.0)):
        state = "delighted"
        rule.append("delighted: " + ("clearly positive message" if latest_text and latest_text["score"] >= DELIGHTED_TEXT
                                     else "strong positive signals, nothing negative"))
        confidence = 0.5 + (0.4 * latest_text["score"] if latest_text else 0.2)
        deciding = ([latest_text] if latest_text else []) + positives
    else:
        state = "exploring"
        if recovered:
            rule.append("exploring: recovered (" + ", ".join(sorted({r["signal"] for r in recovery})) + ")")
        else:
            rule.append("exploring: active, no friction or leaving signals")
        confidence = 0.5 if not negatives else 0.4
        deciding = recovery if recovered else []

    sentiment = trend(rows, texts, as_of, settings.half_life_h)
    if judgement and judgement.confidence and not texts and judgement.scorer.startswith("openai"):
        confidence = 0.8 * confidence + 0.2 * judgement.confidence

    # intents are what the user was seen looking for (User A did open the cancel page); the state
    # carries the judgement of what it means
    intents = [i for i in KNOWN_INTENTS if i in intent_sources]

    reasons.append({"signal": "state", "detail": "; ".join(rule), "at": as_of.isoformat()})
    seen = set()
    for r in deciding + sorted(rows, key=lambda r: r["last_at"] or as_of, reverse=True):
        ident = (r["signal"], r["key"])
        if ident in seen or r["signal"] == "profile":
            continue
        seen.add(ident)
        reasons.append(_reason(r))
    if judgement and judgement.fallback:
        reasons.insert(1, {"signal": "scorer_fallback", "detail": f"{judgement.scorer}: {judgement.fallback}",
                           "at": as_of.isoformat()})
    if judgement and judgement.friction:
        reasons.insert(1, {"signal": "text_judgement", "detail": judgement.friction[:300], "at": as_of.isoformat()})
    return {"state": state, "sentiment": sentiment, "confidence": round(min(max(confidence, 0.0), 1.0), 3),
            "intents": intents, "reasons": reasons[:MAX_REASONS]}


def trend(rows: list[dict], texts: list[dict], as_of: datetime, half_life_h: float) -> float:
    """Sentiment as an exponentially weighted average: each piece of evidence (+-1, or a text's
    score) weighs ``weight * 0.5 ** (age / half_life)``, with a small neutral prior at as_of."""
    num, den = 0.0, PRIOR_WEIGHT
    for r in rows:
        if r["polarity"] == 0 or r["last_at"] is None:
            continue
        decay = _decay(r["last_at"], as_of, half_life_h)
        w = r["weight"] * min(r["count"] or 1, 3) * decay
        num += w * r["polarity"]
        den += w
    for t in texts:
        decay = _decay(t["last_at"], as_of, half_life_h)
        num += TEXT_WEIGHT * decay * t["score"]
        den += TEXT_WEIGHT * decay
    return round(max(-1.0, min(1.0, num / den)), 4)


def _decay(at: datetime, as_of: datetime, half_life_h: float) -> float:
    age_h = max(0.0, (as_of - at).total_seconds() / 3600.0)
    return math.pow(0.5, age_h / max(half_life_h, 1e-6))


def _reason(r: dict) -> dict:
    d = r["detail"]
    s = r["signal"]
    n = r["count"]
    if s == "rage_clicks":
        text = f"clicked '{d.get('element')}' on {d.get('path') or '?'} rapidly ({d.get('bursts')} burst(s))"
    elif s == "api_error_streak":
        text = (f"{d.get('errors')} failed API requests in a row on {', '.join(d.get('endpoints') or ['?'])} "
                f"(status {', '.join(map(str, d.get('statuses') or []))})"
                + (f": {d['error_message']}" if d.get("error_message") else "")
                + ("; still failing" if d.get("ongoing") else ""))
    elif s == "recovered_after_errors":
        text = f"recovered after {d.get('after_errors')} errors: {d.get('by')}"
    elif s == "docs_dwell":
        text = f"read {d.get('path')} for {int(d.get('longest_s') or 0)} s without running a command"
    elif s == "search_loop":
        text = f"searched {d.get('searches')} times without using a result: " + ", ".join(
            repr(q) for q in (d.get("queries") or []))
    elif s == "payment_failed":
        text = (f"{d.get('failures')} failed payment(s) not followed by a success"
                + (f" ({d.get('reason')})" if d.get("reason") else ""))
    elif s == "payment_recovered":
        text = f"payment succeeded after {d.get('failures_settled')} failure(s)"
    elif s == "open_ticket":
        text = f"ticket {d.get('ticket_id')} unresolved" + (
            f": \"{d['latest_customer_text']}\"" if d.get("latest_customer_text") else "")
    elif s == "ticket_resolved":
        text = f"ticket {d.get('ticket_id')} resolved"
    elif s == "cancel_page":
        text = f"visited {d.get('path')} ({d.get('visits')}x)"
    elif s == "subscription_cancelled":
        text = "cancelled the subscription" + (f": {d.get('reason')}" if d.get("reason") else "")
    elif s == "productive_use":
        text = (f"{d.get('commands')} commands and {d.get('api_ok')} successful API calls "
                f"on {d.get('active_days')} day(s)")
    elif s == "email_engaged":
        text = f"{d.get('event')} {d.get('times')}x"
    elif s == "intent":
        text = f"{d.get('intent')} intent from {d.get('source')}: " + ", ".join(
            repr(x) for x in (d.get("examples") or []))
    elif s == "customer_text":
        score = r.get("score")
        text = (f"customer wrote ({d.get('kind')}" + (f", score {score:+.2f}" if score is not None else "")
                + f"): \"{(d.get('text') or '')[:200]}\"")
    else:
        text = f"{s} x{n}"
    at = r["last_at"].isoformat() if r["last_at"] else None
    data = {k: v for k, v in d.items() if k not in ("idx",)}
    return {"signal": s, "detail": text, "at": at, "data": data}


# --- 4. write ---------------------------------------------------------------------------------------
_NEW_STATE_SCHEMA = pa.schema([
    ("user_id", pa.string()), ("account_id", pa.string()), ("state", pa.string()), ("sentiment", pa.float64()),
    ("confidence", pa.float64()), ("intents", pa.list_(pa.string())), ("reasons", pa.string()),
    ("scorer", pa.string()), ("context_hash", pa.string()), ("as_of", pa.timestamp("us", tz="UTC")),
    ("last_event_at", pa.timestamp("us", tz="UTC")), ("updated_at", pa.timestamp("us", tz="UTC")),
    ("run_id", pa.string()),
])


def apply(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, judgements: list[UserJudgement],
          run_id: str | None = None) -> dict:
    """Write user_state (never regressing a newer state), user_state_history (one row per change, and
    the recomputed row of a backfilled as_of; idempotent on (user_id, as_of)) and llm_cache.

    Reads the evidence ``prepare`` stored for this as_of. Opens no transaction: the caller wraps
    apply and the policy's decisions in one. Returns counts per state and the number of changes."""
    as_of = signals.as_utc(as_of)
    judged = {j.user_id: j for j in judgements}
    if not judged:
        return {"users": 0, "states": {}, "changed": 0, "history": 0, "backfilled": 0}
    with signals.registered(con, "_apply_users", pa.table({"user_id": pa.array(sorted(judged), pa.string())})):
        rows = signals.read_evidence(con, "user_evidence", "WHERE as_of = ? AND user_id IN (SELECT user_id FROM _apply_users)",
                                     [as_of])
        current = {u: (a, st) for u, a, st in con.execute(
            "SELECT user_id, as_of, state FROM user_state WHERE user_id IN (SELECT user_id FROM _apply_users)").fetchall()}
        before = dict(con.execute(
            "SELECT user_id, arg_max(state, as_of) FROM user_state_history "
            "WHERE as_of < ? AND user_id IN (SELECT user_id FROM _apply_users) GROUP BY user_id", [as_of]).fetchall())
        at_as_of = {u for (u,) in con.execute(
            "SELECT user_id FROM user_state_history WHERE as_of = ? AND user_id IN (SELECT user_id FROM _apply_users)",
            [as_of]).fetchall()}

    now = datetime.now(UTC)
    new_rows, history_rows, counts = [], [], {}
    changed = backfilled = 0
    for uid, j in judged.items():
        user_rows = rows.get(uid, [])
        profile = next((r["detail"] for r in user_rows if r["signal"] == "profile"), {})
        out = decide(user_rows, j, as_of, settings)
        counts[out["state"]] = counts.get(out["state"], 0) + 1
        prepared_at = profile.get("prepared_at")
        row = {
            "user_id": uid, "account_id": profile.get("account_id"), "state": out["state"],
            "sentiment": out["sentiment"], "confidence": out["confidence"], "intents": out["intents"],
            "reasons": json.dumps(out["reasons"], default=str), "scorer": j.scorer, "context_hash": j.context_hash,
            "as_of": as_of, "last_event_at": _ts(profile.get("last_event_at")),
            "updated_at": _ts(prepared_at) or now, "run_id": run_id,
        }
        is_backfill = uid in current and current[uid][0] > as_of
        previous = before.get(uid, current[uid][1] if uid in current and not is_backfill else None)
        if is_backfill:
            backfilled += 1
        else:
            new_rows.append(row)
        if out["state"] != previous or is_backfill or uid in at_as_of:
            history_rows.append({**row, "previous_state": previous})
            changed += out["state"] != previous
    _write(con, new_rows, history_rows, now)
    _cache(con, judgements, now)
    con.execute("""
        DELETE FROM user_evidence e WHERE e.user_id IN (SELECT user_id FROM _written)
          AND e.as_of < (SELECT s.as_of FROM user_state s WHERE s.user_id = e.user_id)""")
    return {"users": len(judged), "states": counts, "changed": changed, "history": len(history_rows),
            "backfilled": backfilled}


def _ts(value):
    if value is None or isinstance(value, datetime):
        return value
    return signals.as_utc(str(value))


def _write(con, new_rows: list[dict], history_rows: list[dict], now: datetime) -> None:
    hist_schema = _NEW_STATE_SCHEMA.append(pa.field("previous_state", pa.string()))
    with (signals.registered(con, "_new_states", pa.Table.from_pylist(new_rows, schema=_NEW_STATE_SCHEMA)),
          signals.registered(con, "_new_history", pa.Table.from_pylist(history_rows, schema=hist_schema))):
        con.execute("""
            INSERT INTO user_state (user_id, account_id, state, sentiment, confidence, intents, on_hold, reasons,
                                    scorer, context_hash, as_of, last_event_at, updated_at, run_id)
            SELECT user_id, account_id, state, sentiment, confidence, intents, false, reasons::JSON,
                   scorer, context_hash, as_of, last_event_at, updated_at, run_id
            FROM _new_states
            ON CONFLICT (user_id) DO UPDATE SET
                account_id = excluded.account_id, state = excluded.state, sentiment = excluded.sentiment,
                confidence = excluded.confidence, intents = excluded.intents, reasons = excluded.reasons,
                scorer = excluded.scorer, context_hash = excluded.context_hash, as_of = excluded.as_of,
                last_event_at = excluded.last_event_at, updated_at = excluded.updated_at, run_id = excluded.run_id
            WHERE user_state.as_of <= excluded.as_of""")
        con.execute("""
            INSERT OR REPLACE INTO user_state_history (user_id, as_of, account_id, state, sentiment, confidence,
                    intents, on_hold, reasons, scorer, previous_state, recorded_at, run_id, context_hash)
            SELECT h.user_id, h.as_of, h.account_id, h.state, h.sentiment, h.confidence, h.intents,
                   coalesce(s.on_hold AND s.as_of = h.as_of, false), h.reasons::JSON, h.scorer, h.previous_state,
                   ?, h.run_id, h.context_hash
            FROM _new_history h LEFT JOIN user_state s USING (user_id)""", [now])
        con.execute("CREATE OR REPLACE TEMP TABLE _written AS SELECT user_id FROM _new_states "
                    "UNION SELECT user_id FROM _new_history")


def _cache(con, judgements: list[UserJudgement], now: datetime) -> None:
    """Store real LLM answers by the hash of what was sent, so an unchanged context is not re-sent."""
    try:
        from empathy.scoring.llm import cacheable
    except ImportError:  # the LLM scorer is optional
        def cacheable(j):
            return j.fallback is None and j.scorer.startswith("openai")
    rows = [{"context_hash": j.context_hash, "model": j.scorer.split(":", 1)[-1], "response": j.model_dump_json()}
            for j in judgements if j.context_hash and j.scorer.startswith("openai") and cacheable(j)]
    if not rows:
        return
    with signals.registered(con, "_new_cache", pa.Table.from_pylist(rows)):
        con.execute("INSERT OR REPLACE INTO llm_cache (context_hash, model, response, created_at) "
                    "SELECT context_hash, model, response::JSON, ? FROM _new_cache", [now])


# --- all of it --------------------------------------------------------------------------------------
def score_stage(con: duckdb.DuckDBPyConnection, settings: Settings, as_of, since=None, scorer=None,
                run_id: str | None = None, batch_size: int | None = None) -> dict:
    """select -> prepare -> score -> apply (one transaction per batch), in one process (CLI, tests, bench)."""
    if scorer is None:
        from empathy.scoring import get_scorer
        scorer = get_scorer(settings)
    users = select_users(con, settings, as_of, since)
    size = max(1, batch_size or settings.score_batch_size)
    total = {"users": 0, "states": {}, "changed": 0, "history": 0, "backfilled": 0, "selected": len(users)}
    for start in range(0, len(users), size):
        contexts = prepare(con, settings, as_of, users[start:start + size])
        judgements = scorer.score_users(contexts)
        with store.transaction(con):
            counts = apply(con, settings, as_of, judgements, run_id=run_id)
        for k in ("users", "changed", "history", "backfilled"):
            total[k] += counts[k]
        for s, n in counts["states"].items():
            total["states"][s] = total["states"].get(s, 0) + n
    log.info("scored %d users as of %s: %s", total["users"], signals.as_utc(as_of).isoformat(), total["states"])
    return total

