"""Behavioural detectors: each seed threshold holds on both sides, and each signal says what/where/when."""
from __future__ import annotations

import pytest

from empathy import signals
from eventkit import (
    api,
    at,
    click,
    command,
    insert_events,
    message,
    page,
    payment,
    resolved,
    search,
    ticket,
    track,
)

AS_OF = at(6 * 3600)


def evidence(con, settings, events, as_of=AS_OF, user="u"):
    insert_events(con, events)
    return signals.evidence(con, settings, as_of, [user]).get(user, [])


def of(rows, signal):
    return [r for r in rows if r["signal"] == signal]


# --- rage clicks -------------------------------------------------------------------------------------
@pytest.mark.parametrize("times, rage", [
    ([0, 4, 9.9], True),          # 3 clicks within 10 s
    ([0, 5, 10.0], True),         # exactly 10 s still counts
    ([0, 4, 10.1], False),        # just over the window
    ([0, 9], False),              # 2 clicks
    ([0, 60, 120], False),        # same element over minutes
    ([0, 30, 31, 35], True),      # a burst later in a slow series
])
def test_rage_clicks_same_element_within_window(con, settings, times, rage):
    rows = of(evidence(con, settings, [click("u", "Save", at=t, path="/settings") for t in times]), "rage_clicks")
    assert bool(rows) is rage
    if rage:
        assert rows[0]["detail"]["element"] == "Save" and rows[0]["detail"]["path"] == "/settings"
        assert rows[0]["first_at"] >= at(times[0]) and rows[0]["last_at"] <= at(times[-1])


@pytest.mark.parametrize("times, bursts", [
    ([0.2 * k for k in range(12)], 1),                 # 12 clicks in 2.2 s: one burst, not ten
    ([0, 1, 2, 3], 1),
    ([0, 1, 2, 60, 61, 62], 2),                        # two bursts a minute apart
    ([0, 1, 2, 12.5, 13, 13.5], 2),                    # windows that do not overlap
])
def test_overlapping_windows_are_one_burst(con, settings, times, bursts):
    rows = of(evidence(con, settings, [click("u", "Save", at=t, path="/settings") for t in times]), "rage_clicks")
    assert rows[0]["detail"]["bursts"] == bursts and rows[0]["count"] == bursts


def test_fast_clicks_on_different_elements_are_not_rage(con, settings):
    events = [click("u", el, at=t) for t, el in [(0, "Save"), (1, "Cancel"), (2, "Help"), (3, "Save"), (4, "Cancel")]]
    assert of(evidence(con, settings, events), "rage_clicks") == []


def test_same_element_on_different_pages_is_not_rage(con, settings):
    events = [click("u", "Save", at=t, path=p) for t, p in [(0, "/a"), (1, "/b"), (2, "/c")]]
    assert of(evidence(con, settings, events), "rage_clicks") == []


@pytest.mark.parametrize("event", ["$rageclick", "$mp_rage_click"])
def test_vendor_rage_click_events_count(con, settings, event):
    rows = of(evidence(con, settings, [track("u", event, at=5, **{"$el_text": "Pay now"})]), "rage_clicks")
    assert len(rows) == 1 and rows[0]["detail"]["element"] == "Pay now"


def test_rage_threshold_comes_from_settings(con, settings):
    strict = settings.replace(rage_clicks=4)
    insert_events(con, [click("u", "Save", at=t) for t in (0, 1, 2)])
    assert of(signals.evidence(con, strict, AS_OF, ["u"]).get("u", []), "rage_clicks") == []
    assert of(signals.evidence(con, settings, AS_OF, ["u"]).get("u", []), "rage_clicks")


# --- API error streaks ---------------------------------------------------------------------------------
def test_three_consecutive_errors_are_a_streak_with_evidence(con, settings):
    rows = evidence(con, settings, [
        api("u", 200, at=0), api("u", 500, at=10), api("u", 502, at=20, endpoint="/v1/builds"),
        api("u", 500, at=30, error="upstream timeout"),
    ])
    streak = of(rows, "api_error_streak")
    assert len(streak) == 1
    d = streak[0]["detail"]
    assert d["errors"] == 3 and d["statuses"] == [500, 502] and d["error_message"] == "upstream timeout"
    assert set(d["endpoints"]) == {"/v1/deploy", "/v1/builds"} and d["ongoing"] is True
    assert streak[0]["first_at"] == at(10) and streak[0]["last_at"] == at(30)


def test_two_errors_are_not_a_streak(con, settings):
    assert of(evidence(con, settings, [api("u", 500, at=0), api("u", 500, at=10)]), "api_error_streak") == []


def test_errors_spread_between_successes_are_not_a_streak(con, settings):
    events = [api("u", s, at=i * 10) for i, s in enumerate([500, 200, 503, 200, 500, 200, 404])]
    assert of(evidence(con, settings, events), "api_error_streak") == []


def test_success_after_streak_is_recovery(con, settings):
    rows = evidence(con, settings, [api("u", 500, at=t) for t in (0, 10, 20)] + [api("u", 200, at=60)])
    assert of(rows, "api_error_streak")[0]["detail"]["ongoing"] is False
    rec = of(rows, "recovered_after_errors")
    assert len(rec) == 1 and rec[0]["polarity"] == 1 and rec[0]["last_at"] == at(60)


# --- docs dwell ---------------------------------------------------------------------------------------
@pytest.mark.parametrize("dwell, confused", [(300, True), (299, False), (1200, True)])
def test_docs_dwell_threshold(con, settings, dwell, confused):
    rows = of(evidence(con, settings, [page("u", "/docs/auth", at=0), page("u", "/pricing", at=dwell)]), "docs_dwell")
    assert bool(rows) is confused
    if confused:
        assert rows[0]["detail"]["path"] == "/docs/auth" and rows[0]["detail"]["longest_s"] == dwell


def test_reader_who_runs_the_command_after_six_minutes_is_not_confused(con, settings):
    rows = evidence(con, settings, [page("u", "/docs/cli", at=0), command("u", at=360)])
    assert of(rows, "docs_dwell") == []


def test_command_in_a_later_session_does_not_clear_dwell(con, settings):
    rows = evidence(con, settings, [page("u", "/docs/cli", at=0), page("u", "/app", at=400),
                                    command("u", at=400 + 3 * 3600)])
    assert len(of(rows, "docs_dwell")) == 1


def test_dwell_ends_with_the_session(con, settings):
    # next event after the session gap: the reader left, no measured dwell
    rows = evidence(con, settings, [page("u", "/docs/cli", at=0), page("u", "/app", at=settings.session_gap_s + 1)])
    assert of(rows, "docs_dwell") == []


def test_docs_path_from_context_page(con, settings):
    ev = page("u", "ignored", at=0)
    ev["properties"] = {}
    ev["context"] = {"page": {"path": "/docs/sdk"}}
    rows = of(evidence(con, settings, [ev, page("u", "/app", at=400)]), "docs_dwell")
    assert rows and rows[0]["detail"]["path"] == "/docs/sdk"


def test_server_side_events_do_not_end_a_dwell(con, settings):
    rows = evidence(con, settings, [page("u", "/docs/cli", at=0), track("u", "Email Opened", at=30),
                                    page("u", "/app", at=320)])
    assert of(rows, "docs_dwell")[0]["detail"]["longest_s"] == 320


# --- search loops -------------------------------------------------------------------------------------
def test_repeated_searches_without_using_a_result_are_a_loop(con, settings):
    rows = of(evidence(con, settings, [search("u", q, at=i * 20) for i, q in
                                       enumerate(["invoice", "invoices", "billing history"])]), "search_loop")
    assert len(rows) == 1 and rows[0]["detail"]["queries"] == ["invoice", "invoices", "billing history"]


@pytest.mark.parametrize("between", [
    lambda: click("u", "Result 1", at=25),
    lambda: page("u", "/docs/result", at=25),
    lambda: command("u", at=25),
])
def test_searches_with_a_result_used_between_are_not_a_loop(con, settings, between):
    events = [search("u", "a", at=0), search("u", "b", at=20), between(), search("u", "c", at=40)]
    assert of(evidence(con, settings, events), "search_loop") == []


def test_two_searches_or_searches_in_different_sessions_are_not_a_loop(con, settings):
    gap = settings.session_gap_s + 60
    events = [search("u", "a", at=0), search("u", "b", at=20), search("u", "c", at=20 + gap)]
    assert of(evidence(con, settings, events), "search_loop") == []


# --- billing, tickets, cancel pages, engagement -----------------------------------------------------------
def test_failed_payments_not_followed_by_success(con, settings):
    rows = evidence(con, settings, [payment("u", False, at=t, reason="card_declined") for t in (0, 3600, 7200)])
    failed = of(rows, "payment_failed")
    assert failed[0]["count"] == 3 and failed[0]["detail"]["reason"] == "card_declined"


def test_failed_payment_settled_by_a_later_success(con, settings):
    rows = evidence(con, settings, [payment("u", False, at=0), payment("u", True, at=600)])
    assert of(rows, "payment_failed") == [] and of(rows, "payment_recovered")[0]["polarity"] == 1


def test_open_ticket_keeps_customers_latest_text_not_the_agents(con, settings):
    rows = evidence(con, settings, [
        ticket("u", "t1", "Deploys fail", at=0), message("u", "t1", "Still broken, nobody answered", at=600),
        message("u", "t1", "We are looking into it", at=900, author="agent"),
        ticket("u", "t2", "Question", at=0), resolved("u", "t2", at=300),
    ])
    open_ = of(rows, "open_ticket")
    assert [r["key"] for r in open_] == ["t1"]
    assert open_[0]["detail"]["latest_customer_text"] == "Still broken, nobody answered"
    assert [r["key"] for r in of(rows, "ticket_resolved")] == ["t2"]


@pytest.mark.parametrize("path, name, hit", [
    ("/cancel", None, True), ("/account/cancel", None, True), ("/settings/subscription", "Cancel subscription", True),
    ("/billing/cancel-subscription", None, True), ("/docs/cancel-a-job", None, False), ("/pricing", None, False),
])
def test_cancel_page_visits(con, settings, path, name, hit):
    rows = of(evidence(con, settings, [page("u", path, at=0, name=name)]), "cancel_page")
    assert bool(rows) is hit


def test_email_engagement_is_positive(con, settings):
    rows = of(evidence(con, settings, [track("u", "Email Opened", at=0, email_id="e1"),
                                       track("u", "Email Link Clicked", at=10, email_id="e1")]), "email_engaged")
    assert {r["key"] for r in rows} == {"Email Opened", "Email Link Clicked"} and all(r["polarity"] == 1 for r in rows)


# --- intents ------------------------------------------------------------------------------------------
@pytest.mark.parametrize("ev, intent", [
    (lambda: search("u", "SOC 2 report", at=0), "security_review"),
    (lambda: search("u", "soc2 type ii", at=0), "security_review"),
    (lambda: search("u", "security whitepaper", at=0), "security_review"),
    (lambda: page("u", "/trust-center", at=0), "security_review"),
    (lambda: ticket("u", "t", "Can you sign our DPA? GDPR question", at=0), "security_review"),
    (lambda: search("u", "pen test results", at=0), "security_review"),
    (lambda: search("u", "download invoice", at=0), "billing"),
    (lambda: page("u", "/settings/billing", at=0), "billing"),
    (lambda: ticket("u", "t", "I want to cancel our subscription", at=0), "cancellation"),
    (lambda: page("u", "/account/cancel", at=0), "cancellation"),
])
def test_intents(con, settings, ev, intent):
    rows = of(evidence(con, settings, [ev()]), "intent")
    assert intent in {r["detail"]["intent"] for r in rows}


def test_no_intent_from_ordinary_activity(con, settings):
    rows = evidence(con, settings, [search("u", "python sdk retries", at=0), page("u", "/docs/quickstart", at=10)])
    assert of(rows, "intent") == []


# --- the window -----------------------------------------------------------------------------------------
def test_only_events_in_the_lookback_window_count(con, settings):
    old = [click("u", "Save", at=-(settings.lookback_days * 86400) + t) for t in (-5, -3, -1)]  # before the window
    future = [click("u", "Save", at=7 * 3600 + t) for t in (0, 1, 2)]                           # after as_of
    assert of(evidence(con, settings, old + future), "rage_clicks") == []
    later = signals.evidence(con, settings, at(8 * 3600), ["u"])["u"]
    assert len(of(later, "rage_clicks")) == 1  # a later as_of sees the later burst


def test_detectors_only_touch_the_users_asked_for(con, settings):
    insert_events(con, [click(u, "Save", at=t) for u in ("a", "b") for t in (0, 1, 2)])
    assert set(signals.evidence(con, settings, AS_OF, ["a"])) == {"a"}


def test_stored_evidence_is_replaced_not_duplicated(con, settings):
    insert_events(con, [click("u", "Save", at=t) for t in (0, 1, 2)])
    for _ in range(2):
        signals.detect(con, settings, AS_OF, ["u"])
        signals.store_evidence(con, AS_OF, AS_OF)
    assert con.execute("SELECT count(*) FROM user_evidence WHERE signal = 'rage_clicks'").fetchone()[0] == 1
