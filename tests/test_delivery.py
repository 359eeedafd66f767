"""Delivery: the outbox relay against stand-in Slack and SendGrid servers, with the real SDK clients.

Connections come the Airflow way (AIRFLOW_CONN_* in JSON form), so the code under test is the
code that runs in production: SlackHook's WebClient with slack-sdk's retry handlers, the
SendGrid SDK with tenacity.
"""
from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path

import pytest

from empathy import store
from empathy.delivery import relay
from standins.sendgrid_server import SendGridStandin
from standins.slack_server import SlackStandin

pytestmark = pytest.mark.timeout(120)


# --- helpers -------------------------------------------------------------------------------------
def add_action(con, action_id, kind, detail=None, *, user_id="u1", run_id="run-1", simulate=False,
               status="pending", reason="test decision", scope=None):
    now = datetime.now(UTC)
    scope = scope if scope is not None else ("dry-run" if simulate else "")
    con.execute(
        "INSERT INTO actions (action_id, user_id, account_id, kind, status, reason, detail, created_at, as_of, "
        "run_id, simulate, scope, updated_at) VALUES (?, ?, 'acct-1', ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
        [action_id, user_id, kind, status, reason, json.dumps(detail or {}), now, now, run_id, simulate, scope, now])


def email_detail(n=0, **over):
    d = {"category": "support", "tone": "helpful", "subject": f"Stuck on the API? ({n})",
         "to_email": f"user{n}@example.com", "campaign": "onboarding", "step": 2,
         "html": f"<p>Here is the troubleshooting guide {n}.</p><p><a href='https://x.test/u'>Unsubscribe</a></p>",
         "text": f"Here is the troubleshooting guide {n}.\nUnsubscribe: https://x.test/u"}
    d.update(over)
    return d


def alert_detail(n=0, **over):
    d = {"channel": f"U0MANAGER{n}", "text": f"Acme {n} is frustrated (MRR 4,000)",
         "blocks": [{"type": "section", "text": {"type": "mrkdwn", "text": f"*Acme {n}* is frustrated"}}]}
    d.update(over)
    return d


def deliver(settings, scope: str = "", simulate: bool = False) -> dict:
    """What the DAG does for a run's deliveries: holds applied in bulk (unless SendGrid mirrors them), then
    claim -> send -> record until nothing is left; rows failing now wait for the next run."""
    from empathy.connections import sendgrid_info

    counts: dict = {}

    def merge(part):
        for kind, by_status in part.items():
            for status, n in by_status.items():
                counts.setdefault(kind, {})[status] = counts.get(kind, {}).get(status, 0) + n

    mirrored = bool(settings.sendgrid_hold_group_id and sendgrid_info(settings.sendgrid_conn_id))
    with store.connect(settings) as con:
        merge(relay.apply_holds(con, settings, scope, mirrored=mirrored))
    started = datetime.now(UTC)
    while True:
        with store.connect(settings) as con:
            claimed = relay.claim(con, settings, scope=scope, failed_before=started)
        if not claimed:
            return counts
        outcomes = relay.send(claimed, settings, force_simulate=simulate)
        with store.connect(settings) as con:
            relay.record(con, outcomes)
        merge(relay.summarize(outcomes))


def statuses(con):
    return dict(con.execute("SELECT action_id, status FROM actions").fetchall())


def rows(con):
    cur = con.execute("SELECT * FROM actions ORDER BY action_id")
    names = [c[0] for c in cur.description]
    return {r[0]: dict(zip(names, r)) for r in cur.fetchall()}


def slack_ids(server):
    return server.action_ids()


def sendgrid_ids(server):
    return server.action_ids()


@pytest.fixture
def slack():
    with SlackStandin() as server:
        yield server


@pytest.fixture
def sendgrid():
    with SendGridStandin() as server:
        yield server


@pytest.fixture
def live(monkeypatch, slack, sendgrid):
    """Both connections configured, pointing at the stand-ins."""
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())
    monkeypatch.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", sendgrid.connection(from_name="Empathy Care"))
    return slack, sendgrid


@pytest.fixture
def fast(settings):
    """Short timeouts so fault tests stay quick."""
    return settings.replace(delivery_timeout_s=1.0)


# --- exactly once through faults and reruns ----------------------------------------------------------
def test_through_429_and_500_everything_is_delivered_exactly_once(con, fast, live):
    slack, sendgrid = live
    for i in range(3):
        add_action(con, f"alert-{i}", "slack_alert", alert_detail(i))
        add_action(con, f"email-{i}", "email", email_detail(i))
    add_action(con, "hold-1", "hold")
    slack.ratelimit_next(retry_after=1)
    slack.fail_next(500, body={"ok": False, "error": "internal_error"})
    sendgrid.fail_next(429, retry_after=1, body={"errors": [{"message": "too many requests"}]})
    sendgrid.fail_next(500)
    con.close()

    counts = deliver(fast)

    assert counts == {"slack_alert": {"sent": 3}, "email": {"sent": 3}, "hold": {"sent": 1}}
    assert sum(r.faulted for r in slack.requests) == 2 and sum(r.faulted for r in sendgrid.requests) == 2
    assert sorted(slack_ids(slack)) == ["alert-0", "alert-1", "alert-2"]
    assert sorted(sendgrid_ids(sendgrid)) == ["email-0", "email-1", "email-2"]
    with store.connect(fast) as c:
        table = rows(c)
    assert {r["status"] for r in table.values()} == {"sent"}
    posted_ts = {m["ts"] for m in slack.messages}
    assert {table[f"alert-{i}"]["provider_id"] for i in range(3)} == posted_ts
    assert {table[f"email-{i}"]["provider_id"] for i in range(3)} == {m["_message_id"] for m in sendgrid.mails}
    assert all(table[a]["delivered_at"] is not None for a in table)

    before = (len(slack.requests), len(sendgrid.requests))
    assert deliver(fast) == {}
    assert (len(slack.requests), len(sendgrid.requests)) == before


def test_alert_reaches_the_account_manager_with_its_blocks(con, settings, live):
    slack, _ = live
    add_action(con, "alert-am", "slack_alert", alert_detail(7))
    add_action(con, "alert-fallback", "slack_alert", alert_detail(8, channel=None))
    con.close()
    deliver(settings)
    by_id = {m["metadata"]["event_payload"]["action_id"]: m for m in slack.messages}
    assert by_id["alert-am"]["channel"] == "U0MANAGER7"
    assert by_id["alert-am"]["blocks"] == alert_detail(7)["blocks"]
    assert by_id["alert-am"]["text"] == "Acme 7 is frustrated (MRR 4,000)"
    assert by_id["alert-fallback"]["channel"] == settings.slack_fallback_channel
    assert all(r.headers["Authorization"] == f"Bearer {slack.token}" for r in slack.requests)


def test_email_payload_carries_action_id_categories_and_unsubscribe(con, settings, live, monkeypatch):
    _, sendgrid = live
    monkeypatch.setenv("AIRFLOW_CONN_SENDGRID_DEFAULT", sendgrid.connection(asm_group_id=4242))
    add_action(con, "email-asm", "email", email_detail(1, category="educational"))
    con.close()
    deliver(settings.replace(sendgrid_sandbox=True))
    (mail,) = sendgrid.mails
    assert mail["custom_args"]["action_id"] == "email-asm"
    assert mail["custom_args"]["campaign"] == "onboarding" and mail["custom_args"]["step"] == "2"
    assert sorted(mail["categories"]) == ["educational", "email"]
    assert mail["asm"] == {"group_id": 4242}
    assert mail["mail_settings"]["sandbox_mode"]["enable"] is True
    assert mail["personalizations"][0]["to"] == [{"email": "user1@example.com"}]
    assert mail["from"]["email"] == "care@empathy.test"
    assert mail["subject"] == "Stuck on the API? (1)"


def test_marketing_email_without_a_footer_gets_the_unsubscribe_link(con, settings, live):
    _, sendgrid = live
    add_action(con, "promo", "email", email_detail(2, category="promotional", html="<p>New feature!</p>",
                                                   text="New feature!"), user_id="user 2")
    add_action(con, "receipt", "email", email_detail(3, category="transactional", html="<p>Receipt</p>",
                                                     text="Receipt"))
    con.close()
    deliver(settings)
    mails = {m["custom_args"]["action_id"]: m for m in sendgrid.mails}
    promo = {c["type"]: c["value"] for c in mails["promo"]["content"]}
    assert "asm" not in mails["promo"]
    assert settings.unsubscribe_url.format(user_id="user%202") in promo["text/html"]
    assert "Unsubscribe" in promo["text/plain"]
    receipt = {c["type"]: c["value"] for c in mails["receipt"]["content"]}
    assert "unsubscribe" not in receipt["text/html"].lower()
    assert mails["promo"]["mail_settings"]["sandbox_mode"]["enable"] is False


# --- failures stay visible and are retried ---------------------------------------------------------
def test_garbage_and_timeouts_fail_then_the_next_run_delivers_once(con, fast, live):
    slack, sendgrid = live
    add_action(con, "alert-g", "slack_alert", alert_detail(1))
    add_action(con, "alert-t", "slack_alert", alert_detail(2))
    add_action(con, "email-g", "email", email_detail(1))
    add_action(con, "email-t", "email", email_detail(2))
    slack.garbage_next()
    slack.hang_next(3)
    sendgrid.garbage_next()
    sendgrid.hang_next(3)
    con.close()

    first = deliver(fast)
    assert first == {"slack_alert": {"failed": 2}, "email": {"failed": 2}}
    with store.connect(fast) as c:
        table = rows(c)
    assert all(r["status"] == "failed" and r["attempts"] == 1 and r["last_error"] for r in table.values())
    assert not slack.served("chat.postMessage") and not sendgrid.served("mail/send")

    second = deliver(fast)
    assert second == {"slack_alert": {"sent": 2}, "email": {"sent": 2}}
    assert sorted(slack_ids(slack)) == ["alert-g", "alert-t"]
    assert sorted(sendgrid_ids(sendgrid)) == ["email-g", "email-t"]
    with store.connect(fast) as c:
        assert set(statuses(c).values()) == {"sent"}
        assert {r["last_error"] for r in rows(c).values()} == {None}
    assert deliver(fast) == {}


def test_a_rejected_payload_fails_with_sendgrids_reason_and_gives_up_after_max_attempts(con, settings, live):
    _, sendgrid = live
    add_action(con, "bad-to", "email", email_detail(1, to_email="someone@localhost"))
    con.close()
    s = settings.replace(delivery_max_attempts=2)
    assert deliver(s) == {"email": {"failed": 1}}
    assert deliver(s) == {"email": {"failed": 1}}
    assert deliver(s) == {}  # no attempts left: it stays failed, visibly
    with store.connect(s) as c:
        row = rows(c)["bad-to"]
    assert row["status"] == "failed" and row["attempts"] == 2
    assert "HTTP 400" in row["last_error"] and "personalizations.0.to.0.email" in row["last_error"]
    assert len(sendgrid.requests) == 2 and not sendgrid.mails


# --- crash between send and record ----------------------------------------------------------------
def test_a_crash_after_sending_does_not_send_again(con, settings, live):
    slack, sendgrid = live
    add_action(con, "alert-c", "slack_alert", alert_detail(1))
    add_action(con, "email-c", "email", email_detail(1))
    claimed = relay.claim(con, settings)
    relay.send(claimed, settings)  # ... and the worker dies before record()
    assert relay.claim(con, settings) == []  # the lease keeps another relay off these rows
    con.close()

    after_lease = settings.replace(delivery_lease_s=0.0)
    assert deliver(after_lease) == {"slack_alert": {"sent": 1}, "email": {"sent": 1}}
    assert slack_ids(slack) == ["alert-c"] and sendgrid_ids(sendgrid) == ["email-c"]
    with store.connect(settings) as c:
        table = rows(c)
    assert table["alert-c"]["provider_id"] == slack.messages[0]["ts"]
    assert table["email-c"]["provider_id"] == sendgrid.mails[0]["_message_id"]
    assert not list((settings.work_dir / "delivery-journal").glob("*.json"))  # journal cleared once recorded


def test_a_crash_before_the_journal_resends_at_most_once(con, settings, live):
    slack, _ = live
    add_action(con, "alert-w", "slack_alert", alert_detail(1))
    relay.send(relay.claim(con, settings), settings)
    for entry in (settings.work_dir / "delivery-journal").glob("*.json"):  # the window: journal never written
        entry.unlink()
    con.close()
    after_lease = settings.replace(delivery_lease_s=0.0)
    deliver(after_lease)
    deliver(after_lease)
    assert slack_ids(slack) == ["alert-w", "alert-w"]  # the documented at-most-once-more
    with store.connect(settings) as c:
        assert statuses(c) == {"alert-w": "sent"}


def test_a_sent_row_is_never_changed_back(con, settings):
    add_action(con, "done", "email", email_detail(1), status="sent")
    assert relay.claim(con, settings) == []
    changed = relay.record(con, [{"action_id": "done", "kind": "email", "status": "failed", "error": "late"}])
    assert changed == 0
    assert statuses(con) == {"done": "sent"}


# --- simulate --------------------------------------------------------------------------------------
def test_without_connections_everything_is_simulated_with_previews(con, settings):
    add_action(con, "email-s", "email", email_detail(1))
    add_action(con, "alert-s", "slack_alert", alert_detail(1))
    add_action(con, "release-s", "release")
    con.close()
    assert deliver(settings) == {"email": {"simulated": 1}, "slack_alert": {"simulated": 1},
                                       "release": {"sent": 1}}
    with store.connect(settings) as c:
        table = rows(c)
    page = Path(table["email-s"]["preview_path"]).read_text(encoding="utf-8")
    assert "Stuck on the API? (1)" in page and "user1@example.com" in page and "troubleshooting guide 1" in page
    assert "Simulated" in page
    alert = json.loads(Path(table["alert-s"]["preview_path"]).read_text(encoding="utf-8"))
    assert alert["blocks"] == alert_detail(1)["blocks"] and alert["channel"] == "U0MANAGER1"
    holds = [json.loads(x) for x in Path(table["release-s"]["preview_path"]).read_text(encoding="utf-8").splitlines()]
    assert [h["action_id"] for h in holds] == ["release-s"]
    index = (settings.outbox / "index.html").read_text(encoding="utf-8")
    assert "email/email-s.html" in index and "slack/alert-s.json" in index


def test_a_simulation_sends_nothing_and_leaves_real_decisions_alone(con, settings, live):
    slack, sendgrid = live
    add_action(con, "bf-email", "email", email_detail(1), run_id="backfill__2024-01-01", simulate=True, scope="backfill")
    add_action(con, "bf-alert", "slack_alert", alert_detail(1), run_id="backfill__2024-01-01", simulate=True,
               scope="backfill")
    add_action(con, "live-email", "email", email_detail(2), run_id="scheduled__2024-01-05")
    con.close()
    counts = deliver(settings, scope="backfill", simulate=True)
    assert counts == {"email": {"simulated": 1}, "slack_alert": {"simulated": 1}}
    assert slack.requests == [] and sendgrid.requests == []
    with store.connect(settings) as c:
        assert statuses(c) == {"bf-email": "simulated", "bf-alert": "simulated", "live-email": "pending"}
    assert (settings.outbox / "email" / "bf-email.html").exists()


def test_rows_marked_simulate_never_leave_the_machine(con, settings, live):
    slack, sendgrid = live
    add_action(con, "dry-email", "email", email_detail(1), simulate=True)
    add_action(con, "dry-alert", "slack_alert", alert_detail(1), simulate=True)
    con.close()
    assert deliver(settings, scope="dry-run") == {"email": {"simulated": 1}, "slack_alert": {"simulated": 1}}
    assert slack.requests == [] and sendgrid.requests == []


def test_a_batch_mixing_previews_and_requests_keeps_its_order_and_sends_only_the_live_rows(settings, live):
    """Previews are made in the sending thread, requests in the pool: one outcome per row, in the rows' order."""
    slack, sendgrid = live
    rows = [{"action_id": f"mix-{n}", "kind": kind, "user_id": f"u{n}", "account_id": "acct-1", "reason": "test",
             "simulate": n % 2 == 1, "detail": email_detail(n) if kind == "email" else alert_detail(n)}
            for n, kind in enumerate(["email", "email", "slack_alert", "slack_alert", "email", "email"])]
    outcomes = relay.send(rows, settings)
    assert [(o["action_id"], o["status"]) for o in outcomes] == [
        (r["action_id"], "simulated" if r["simulate"] else "sent") for r in rows]
    assert sorted(sendgrid_ids(sendgrid)) == ["mix-0", "mix-4"] and slack_ids(slack) == ["mix-2"]
    index = [json.loads(x)["action_id"] for x in (settings.outbox / "previews.jsonl").read_text().splitlines()]
    assert sorted(index) == sorted(r["action_id"] for r in rows)   # every row has its preview line, once


def test_email_without_an_address_is_skipped_with_a_reason(con, settings, live):
    _, sendgrid = live
    add_action(con, "no-addr", "email", email_detail(1, to_email=None))
    con.close()
    assert deliver(settings) == {"email": {"skipped": 1}}
    with store.connect(settings) as c:
        row = rows(c)["no-addr"]
    assert row["status"] == "skipped" and "no email address" in row["last_error"]
    assert sendgrid.requests == []


# --- hold mirroring ----------------------------------------------------------------------------------
def test_holds_mirror_to_a_suppression_group_when_configured(con, settings, live):
    _, sendgrid = live
    add_action(con, "hold-m", "hold", {"to_email": "held@example.com"}, user_id="held")
    con.close()
    s = settings.replace(sendgrid_hold_group_id=77)
    assert deliver(s) == {"hold": {"sent": 1}}
    assert sendgrid.suppressions == {77: {"held@example.com"}}
    with store.connect(s) as c:
        add_action(c, "release-m", "release", {"to_email": "held@example.com"}, user_id="held")
    assert deliver(s) == {"release": {"sent": 1}}
    assert sendgrid.suppressions == {77: set()}


def test_holds_are_not_mirrored_by_default(con, settings, live):
    _, sendgrid = live
    add_action(con, "hold-d", "hold", {"to_email": "held@example.com"})
    con.close()
    assert deliver(settings) == {"hold": {"sent": 1}}
    assert sendgrid.requests == []


def test_slack_standin_accepts_every_body_the_sdk_sends(slack):
    """JSON (chat_postMessage), form-urlencoded (params=) and multipart (data=) all post the same message."""
    from slack_sdk import WebClient
    from slack_sdk.errors import SlackApiError

    client = WebClient(token=slack.token, base_url=slack.api_url, retry_handlers=[])
    client.chat_postMessage(channel="#empathy-alerts", text="json body")
    client.api_call("chat.postMessage", params={"channel": "#empathy-alerts", "text": "form body"})
    client.api_call("chat.postMessage", data={"channel": "#empathy-alerts", "text": "multipart body"})
    assert [(m["channel"], m["text"]) for m in slack.messages] == [
        ("#empathy-alerts", "json body"), ("#empathy-alerts", "form body"), ("#empathy-alerts", "multipart body")]
    bad = WebClient(token="xoxb-wrong", base_url=slack.api_url, retry_handlers=[])
    with pytest.raises(SlackApiError, match="invalid_auth"):
        bad.chat_postMessage(channel="#empathy-alerts", text="x")


# --- previews have no cap; requests do ------------------------------------------------------------
DEMO_START = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def _demo_run(settings, batch: int) -> tuple[dict, dict]:
    """One live run of the pipeline's stages over the demo with EMPATHY_DELIVERY_BATCH = ``batch``:
    (its stages' results, the real actions' (kind, status, simulation) counts)."""
    from runner import run_window

    from empathy import demo

    demo.generate(settings.landing, seed=7, start=DEMO_START)
    out = run_window(settings.replace(delivery_batch=batch, holdout_pct=0.0), DEMO_START)
    with store.connect(settings, read_only=True) as c:
        counts = {(k, s, m): n for k, s, m, n in c.execute(
            "SELECT kind, status, coalesce(simulation, ''), count(*) FROM actions WHERE NOT simulate "
            "AND kind IN ('slack_alert', 'email') GROUP BY ALL").fetchall()}
    return out, counts


def test_without_connections_a_run_previews_every_alert_and_email_whatever_the_batch(settings):
    out, counts = _demo_run(settings, batch=1)
    alerts = counts.get(("slack_alert", "simulated", "no connection"), 0)
    emails = counts.get(("email", "simulated", "no connection"), 0)
    assert alerts > 1 and emails > 1                         # more than one batch of each, all previewed
    assert {s for _, s, _ in counts} <= {"simulated", "skipped"}   # no backlog left for the next run
    assert not any(out["decide"]["pending"].values()) and out["deliveries"] == {}   # no delivery step ran
    assert f"Slack alerts: {alerts} simulated (preview only)" in out["report"]
    with store.connect(settings, read_only=True) as c:
        paths = [p for (p,) in c.execute("SELECT preview_path FROM actions WHERE kind = 'email' "
                                         "AND status = 'simulated'").fetchall()]
    assert len(paths) == emails and all(Path(p).exists() for p in paths)


def _preview_files(settings) -> dict[str, bytes]:
    """Every email and Slack preview in the outbox, by its path inside it."""
    return {str(p.relative_to(settings.outbox)): p.read_bytes()
            for kind in ("email", "slack") for p in (settings.outbox / kind).glob("*") if p.is_file()}


def test_a_backlog_previewed_by_several_processes_is_what_one_batch_here_previews(settings, tmp_path, monkeypatch):
    """More than one batch of previews goes to a pool of processes (a bulk run's first run): the same
    statuses, the same files byte for byte, and the outbox's manifest with one whole line per preview."""
    from empathy import config

    _, here = _demo_run(settings, batch=100_000)         # one batch: previewed in this process
    monkeypatch.setenv("EMPATHY_HOME", str(tmp_path / "pooled"))
    pooled_settings = config.load()
    pooled_settings.landing.mkdir(parents=True, exist_ok=True)
    _, pooled = _demo_run(pooled_settings, batch=3)       # dozens of batches, two processes at once
    assert pooled == here and here.get(("email", "simulated", "no connection"), 0) > 6
    files = _preview_files(settings)
    assert files and _preview_files(pooled_settings) == files
    manifest = [json.loads(line) for line in (pooled_settings.outbox / "previews.jsonl").read_text().splitlines()]
    assert sorted(e["path"] for e in manifest) == sorted(files)


def test_a_batch_whose_preview_process_died_is_previewed_here(settings):
    from collections import deque

    from empathy import fanout

    row = {"action_id": "email:u1:welcome", "kind": "email", "user_id": "u1", "reason": "welcome",
           "detail": {"to_email": "u1@example.com", "subject": "Hi", "text": "Hello\n\n--\nfooter\n"}}
    child = fanout.Child(relay.preview_batch, settings)
    assert child.submit([row])
    child.proc.kill()   # killed with the batch in flight
    child.proc.wait()
    free: deque = deque()
    [outcome] = fanout._answer(relay.preview_batch, settings, [row], child, free)
    assert outcome["status"] == "simulated" and Path(outcome["preview_path"]).exists()
    assert not free   # a child that failed is not given another batch


def test_with_a_connection_the_batch_still_paces_requests(settings, slack, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_SLACK_API_DEFAULT", slack.connection())   # Slack only: emails preview
    out, counts = _demo_run(settings, batch=1)
    assert counts.get(("slack_alert", "sent", ""), 0) == 1 and len(slack.action_ids()) == 1   # one per run
    assert counts.get(("slack_alert", "pending", ""), 0) >= 1                                  # the rest next run
    assert counts.get(("email", "simulated", "no connection"), 0) > 1
    assert out["decide"]["pending"] == {"slack_alert": counts[("slack_alert", "pending", "")] + 1}
