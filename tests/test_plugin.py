"""The Empathy page: its read model (written by ``empathy.ui.refresh``, read without the DuckDB file), every
page for any user, search, charts, Slack previews, the run view, the uplift, redaction, preview serving,
Airflow's login, and discovery by Airflow."""
from __future__ import annotations

import importlib.util
import json
import re
import subprocess
import sys
import textwrap
from pathlib import Path
from urllib.parse import quote

import pytest
from ui_data import BASE_URL, EVIL, HOSTILE_USER, RAW_PII

pytest_plugins = ["ui_fixtures"]   # the fixtures ui_home, ui_settings

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILE = ROOT / "plugins" / "empathy_plugin.py"


def _plugin():
    """The plugin module, loaded from its file (plugins/ is not a package on sys.path)."""
    if "empathy_plugin" not in sys.modules:
        spec = importlib.util.spec_from_file_location("empathy_plugin", PLUGIN_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["empathy_plugin"] = module
        spec.loader.exec_module(module)
    return sys.modules["empathy_plugin"]


@pytest.fixture
def client(ui_settings):
    from fastapi.testclient import TestClient

    return TestClient(_plugin().create_app(ui_settings, auth=False), root_path="/empathy")


def _text(html: str) -> str:
    """What a person reads on the page (no markup, entities decoded)."""
    from html import unescape

    html = re.sub(r"<(style|title)>.*?</\1>", " ", html, flags=re.S)
    return " ".join(unescape(re.sub(r"<[^>]+>", " ", html)).split())


def _far_user(settings) -> str:
    """A generated background user on the overview's last page (worst first), far from the snapshot's old top 200."""
    from empathy.ui.reader import ReadModel

    snap = ReadModel(settings.ui_path).snapshot()
    rows = snap.rows("page_users", {"q": "", "email_hash": "", "state": "", "account_id": "", "sort": "risk",
                                    "sign": -1, "limit": 500, "offset": 0})
    return next(r["user_id"] for r in rows if r["user_id"].startswith("bg-"))


# --- every route, for the seed's User B and for anyone ------------------------------------------------
def test_every_page_answers_for_user_b_and_for_a_user_far_down_the_list(client, ui_settings):
    far = _far_user(ui_settings)
    assert far.startswith("bg-")   # a generated background user, not a persona
    pages = ["/", "/users/user_b", f"/users/{quote(far, safe='')}", "/accounts/acct_umbrella", "/runs",
             "/runs/live__now", "/uplift", "/?q=user_b", "/?state=at_risk&sort=sentiment&dir=desc&page=2"]
    for path in pages:
        answer = client.get(path)
        assert answer.status_code == 200, path
        assert "no-store" in answer.headers["cache-control"]
        assert "script-src" not in answer.headers["content-security-policy"]  # default-src 'none': no scripts at all
    assert far in client.get(f"/users/{quote(far, safe='')}").text
    assert client.get("/users/nobody-like-this").status_code == 404
    assert client.get("/accounts/acct_none").status_code == 404
    assert client.get("/runs/never").status_code == 404


def test_overview_shows_states_their_trend_mrr_at_risk_runs_and_what_needs_a_person(client):
    html = client.get("/").text
    text = _text(html)
    assert re.search(r"at_risk \d+ about to leave", text)
    assert "MRR at risk" in text and "account(s) with a user at_risk" in text
    assert html.count("<svg") == 1 and "Users per state over" in html          # the trend chart
    assert re.search(r'<rect [^>]*fill="#b3261e"><title>[^<]*at_risk</title>', html)
    for run_id in ("live__now", "dry__check", "backfill__past"):
        assert f'href="/empathy/runs/{run_id}"' in html
    assert "quarantined" in text and "demo-20260510T1200-s7-quarantine-demo.jsonl" in text  # the bad file, named


@pytest.mark.parametrize("query", ["ben.okafor@umbrella.example", "  Ben.Okafor@Umbrella.EXAMPLE ", "okafor",
                                   "umbrella", "user_b"])
def test_search_finds_user_b_by_email_name_account_or_id(client, query):
    html = client.get("/", params={"q": query}).text
    assert 'href="/empathy/users/user_b"' in html, query


def test_search_by_a_part_of_an_email_does_not_match_on_the_hidden_address(client):
    # the address is kept only as a hash: a part of it finds nobody by email (the name still finds people)
    assert 'href="/empathy/users/user_b"' not in client.get("/", params={"q": "okafor@umbrella"}).text


def test_users_are_paged_and_sorted_on_the_server(client, ui_settings):
    size = ui_settings.ui_page_size
    first = client.get("/", params={"sort": "sentiment", "dir": "asc"}).text
    rows = re.findall(r'<td class="num">([+-]\d\.\d\d)</td>', first)
    assert len(rows) == size and [float(x) for x in rows] == sorted(float(x) for x in rows)
    total = int(re.search(r"([\d,]+) match", _text(first)).group(1).replace(",", ""))
    last_page = -(-total // size)
    last = client.get("/", params={"sort": "sentiment", "dir": "asc", "page": last_page}).text
    assert len(re.findall(r'<td class="num">[+-]\d\.\d\d</td>', last)) == total - size * (last_page - 1)
    assert float(re.findall(r'<td class="num">([+-]\d\.\d\d)</td>', last)[-1]) >= float(rows[-1])
    assert f"page {last_page} of {last_page}" in _text(last)


# --- a user's timeline ------------------------------------------------------------------------------
def test_user_page_has_the_sentiment_chart_evidence_in_words_actions_and_the_account(client):
    html = client.get("/users/user_b").text
    text = _text(html)
    chart = re.search(r'<div data-testid="sentiment-chart">(.*?)</div>', html, re.S).group(1)
    points = re.findall(r"<circle [^>]*><title>([^<]*)</title>", chart)
    assert len(points) >= 2 and all("sentiment" in p for p in points)   # state and sentiment over time
    assert "at_risk" in points[-1]
    assert "failed payment" in text and "ticket T-2001" in text          # evidence in words
    assert 'href="/empathy/accounts/acct_umbrella"' in html and "Umbrella Health" in text
    assert "Held and released" in text and "hold: at_risk since" in text
    assert "Slack alerts" in text and "simulated" in text and "no connection" in text


def test_user_page_renders_the_slack_alert_as_slack_shows_it_with_its_link_back(client):
    html = client.get("/users/user_b").text
    preview = html[html.index('data-testid="slack-preview"'):]
    assert '<div class="sk-header">Umbrella Health needs a human touch</div>' in preview
    assert '<div class="sk-fields">' in preview and "<b>User</b>" in preview      # fields, mrkdwn bold
    assert re.search(r'<a class="button" href="http://airflow\.example:8080/empathy/users/user_b"[^>]*>Open in Empathy</a>',
                     preview)
    assert '<div class="sk-context">' in preview and "{&#34;" not in preview     # rendered, not raw JSON


def test_slack_preview_page_shows_the_rendering_beside_the_raw_json(client, ui_settings):
    preview = next(p for p in (ui_settings.outbox / "slack").iterdir())
    html = client.get(f"/outbox/slack/{preview.name}").text
    assert '<div class="slack"' in html and "Block Kit JSON" in html and '&#34;blocks&#34;' in html
    assert f"{BASE_URL}/empathy/users/" in html                               # the alert's link back, listed
    raw = client.get(f"/outbox/slack/{preview.name}", params={"format": "json"}).json()
    assert raw["blocks"][0]["type"] == "header"


def test_email_preview_is_served_as_html_redacted_and_sandboxed(client, ui_settings):
    path = next(p for p in (ui_settings.outbox / "email").iterdir())
    answer = client.get(f"/outbox/email/{path.name}")
    assert answer.status_code == 200 and answer.headers["content-type"].startswith("text/html")
    assert "sandbox" in answer.headers["content-security-policy"]
    raw = path.read_text()
    to = re.search(r"<td>To</td><td>([^<]+)</td>", raw).group(1)
    assert "@" in to and to not in answer.text and "[EMAIL]" in answer.text   # the recipient is not shown


# --- accounts and runs -----------------------------------------------------------------------------
def test_account_page_has_its_users_worst_state_mrr_and_trend(client):
    html = client.get("/accounts/acct_umbrella").text
    text = _text(html)
    assert "Umbrella Health" in text and "1,500" in text
    assert 'class="state at_risk"' in html[:html.index("<h2>Trend</h2>")]          # the worst state
    assert 'href="/empathy/users/user_b"' in html
    chart = re.search(r'<div data-testid="account-chart">(.*?)</div>', html, re.S).group(1)
    assert "mean sentiment" in chart


def test_run_view_tells_live_dry_run_and_backfill_apart_with_reasons_in_words(client):
    live = _text(client.get("/runs/live__now").text)
    dry = _text(client.get("/runs/dry__check").text)
    backfill = _text(client.get("/runs/backfill__past").text)
    assert "live run" in live and "nothing sent" not in live and "no connection: no credentials" in live
    assert "dry run: decided and previewed, nothing sent" in dry and "dry run: a person asked" in dry
    assert "backfill: recomputed a past window" in backfill and "backfill: a past window recomputed" in backfill
    assert "no connection" not in dry and "no connection" not in backfill
    assert "concierge:" in live                                     # why, in words
    before = _text(client.get("/runs/live__before").text)
    assert re.search(r"(waiting|not sent|kept) ×\d+: ", before)      # what was considered and not done


def test_run_actions_filter_by_kind_and_status(client):
    html = client.get("/runs/live__now", params={"kind": "slack_alert", "status": "simulated"}).text
    table = html[html.index("<h2>Actions"):]
    kinds = set(re.findall(r"<td>(Slack alerts|emails|holds|releases)</td>", table))
    assert kinds == {"Slack alerts"}


# --- what needs a person -------------------------------------------------------------------------------
def test_stale_leases_and_refused_files_show_on_the_overview(settings):
    from fastapi.testclient import TestClient

    from empathy import store, ui

    with store.connect(settings) as con:
        con.execute("INSERT INTO pipeline_runs (run_id, run_type, mode, scope, stages, started_at, updated_at) VALUES "
                    "('crashed__1', 'scheduled', 'live', '', '{\"decide\": {\"stale_leases\": 3}}', now(), now())")
        con.execute("INSERT INTO ingest_errors (file_name, size_bytes, mtime_ns, kind, error, action, seen_at) VALUES "
                    "('export-0001.jsonl', 10, 1, 'changed', 'content changed under a name already ingested', "
                    "'land the new content under a new name', now())")
        assert "error" not in ui.refresh(con, settings, "crashed__1")
    client = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy")
    text = _text(client.get("/").text)
    assert "3 action(s) left leased by a crash in run crashed__1" in text
    assert re.search(r"Landed file export-0001\.jsonl ?: content changed under a name already ingested", text)
    assert "3 left leased by a crash" in _text(client.get("/runs").text)
    assert "claimed by a sending step that crashed" in _text(client.get("/runs/crashed__1").text)


# --- uplift ---------------------------------------------------------------------------------------------
def test_uplift_shows_both_groups_with_intervals_and_a_plain_verdict(client):
    html = client.get("/uplift").text
    text = _text(html)
    verdict = re.search(r'data-testid="verdict">([^<]+)<', html).group(1)
    assert verdict.startswith(("Not distinguishable from noise yet", "Distinguishable from noise"))
    table = html[html.index("All weeks of enrolment"):html.index("Per week of enrolment")]
    shares = re.findall(r'<td class="num">(\d+\.\d%) <span class="muted">\((\d+)/(\d+)\)</span></td>'
                        r'<td class="muted">(\d+\.\d%) to (\d+\.\d%)</td>', table)
    assert len(shares) == 10                     # five outcomes x two groups, each with its interval
    for share, k, n, low, high in shares:
        assert float(low[:-1]) <= float(share[:-1]) <= float(high[:-1]) and int(k) <= int(n)
    assert "Week of 2026-05-04" in text
    chart = re.search(r'data-testid="uplift-chart">(.*?)</div>', html, re.S).group(1)
    assert chart.count("<title>treatment:") == 5 and chart.count("<title>holdout:") == 5


def test_uplift_verdict_follows_the_evidence():
    from empathy.ui import uplift

    def rows(treated_clicks: int, held_clicks: int, n: int = 400) -> list[dict]:
        base = {"cohort": "2026-05-04", "troubled": n // 10, "recovered": n // 20, "cancelled": n // 40,
                "paid": n // 4, "replied": n // 12}
        return [{**base, "holdout": False, "users": n, "clicked": treated_clicks},
                {**base, "holdout": True, "users": n, "clicked": held_clicks}]

    same = uplift.report(rows(100, 100))
    assert same["verdict"].startswith("Not distinguishable from noise yet")
    clear = uplift.report(rows(200, 100))
    assert clear["verdict"].startswith("Distinguishable from noise: the empathy adjustments do better for clicked")
    worse = uplift.report(rows(50, 150))
    assert "worse for clicked" in worse["verdict"]
    clicked = next(i for i in clear["overall"] if i["outcome"] == "clicked")
    assert clicked["diff_low"] < 0.25 < clicked["diff_high"]              # the true difference is inside
    assert uplift.report(rows(5, 3, n=6))["verdict"].startswith("Too few users to compare yet")


# --- redaction and hostile text ----------------------------------------------------------------------
def test_no_page_shows_raw_cards_phones_or_private_emails_and_markup_stays_text(client, ui_settings):
    from empathy.ui.reader import ReadModel

    snap = ReadModel(ui_settings.ui_path).snapshot()
    run_ids = [r["run_id"] for r in snap.rows("page_runs", {"limit": 50, "offset": 0})]
    previews = [f"/outbox/{p.relative_to(ui_settings.outbox).as_posix()}" for p in ui_settings.outbox.rglob("*")
                if p.is_file() and not any(part.startswith(".") for part in p.relative_to(ui_settings.outbox).parts)]
    paths = ["/", f"/users/{HOSTILE_USER}", "/users/u_sam", "/users/user_b", "/accounts/acct_evil",
             "/?q=mallory", "/uplift", "/runs", *[f"/runs/{r}" for r in run_ids], *previews]
    assert any(p.startswith("/outbox/slack/") for p in paths) and any(p.startswith("/outbox/email/") for p in paths)
    for path in paths:
        body = client.get(path).text
        for raw in RAW_PII:
            assert raw not in body, (path, raw)
        assert EVIL not in body, path
    mallory = client.get(f"/users/{HOSTILE_USER}").text
    assert "&lt;script&gt;alert(" in mallory and "[CARD]" in mallory and "[PHONE]" in mallory


def test_the_read_model_itself_holds_customer_text_redacted(ui_settings):
    import duckdb

    files = sorted((ui_settings.ui_path / "data").glob("*.parquet"))
    con = duckdb.connect()
    for path in files:   # every table of every kept version
        dump = json.dumps(con.execute("SELECT * FROM read_parquet($f)", {"f": str(path)}).fetchall(), default=str)
        for raw in RAW_PII:
            assert raw not in dump, (path.name, raw)
    users = duckdb.connect().execute("SELECT evidence FROM read_parquet($f) WHERE user_id = 'u_mallory'",
                                     {"f": [str(p) for p in files if p.name.startswith("users-")]}).fetchall()
    assert users and "[CARD]" in users[0][0] and "[PHONE]" in users[0][0]


@pytest.mark.parametrize("bad", ["%00", "x%00.html", "..%2Fempathy.duckdb", "slack/..%2F..%2Fempathy.duckdb",
                                 "%2Fetc%2Fpasswd", ".ui/CURRENT", "slack/.hidden.json", "email", "missing.html",
                                 "email/%2e%2e/%2e%2e/empathy.duckdb", "holds.jsonl%00", "a\\b.html"])
def test_bad_preview_paths_answer_404_never_500(client, bad):
    answer = client.get(f"/outbox/{bad}")
    assert answer.status_code == 404, bad


def test_a_symlink_out_of_the_outbox_is_refused(tmp_path, settings):
    from fastapi.testclient import TestClient

    from empathy import store, ui

    secret = settings.home / "secret.html"
    secret.write_text("<p>database password</p>")
    (settings.outbox / "email").mkdir(parents=True)
    (settings.outbox / "email" / "link.html").symlink_to(secret)
    with store.connect(settings) as con:
        ui.refresh(con, settings)
    client = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy")
    assert client.get("/outbox/email/link.html").status_code == 404


# --- the read model: never the DuckDB file, swapped whole, incremental, never failing a run --------------
def test_pages_answer_while_another_process_holds_the_database(client, ui_settings):
    """The pipeline's one writer holds empathy.duckdb (even a read-only open would fail): the page does not care."""
    holder = subprocess.Popen([sys.executable, "-c", textwrap.dedent(f"""
        import duckdb, sys, time
        con = duckdb.connect({str(ui_settings.db_path)!r})
        con.execute("BEGIN TRANSACTION"); con.execute("CREATE TEMP TABLE held AS SELECT 1")
        print("held", flush=True)
        sys.stdin.read()
        """)], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "held"
        import duckdb

        with pytest.raises(duckdb.IOException):
            duckdb.connect(str(ui_settings.db_path), read_only=True)   # what the page would meet
        for path in ("/", "/users/user_b", "/?q=ben.okafor@umbrella.example", "/uplift", "/runs/live__now"):
            assert client.get(path).status_code == 200, path
    finally:
        holder.stdin.close()
        holder.wait(timeout=60)


def test_refresh_renders_only_who_changed_and_the_page_follows(settings):
    from datetime import timedelta

    from fastapi.testclient import TestClient
    from runner import run_window

    from empathy import store, ui
    from eventkit import api, at, identify, insert_events

    with store.connect(settings) as con:
        insert_events(con, [identify(f"u{i}", at=0, email=f"u{i}@corp.example", name=f"Person {i}") for i in range(30)]
                      + [api(f"u{i}", 200, at=60 + i) for i in range(30)])
    first = run_window(settings, at(3600))["page"]   # a run's last task refreshes the page
    with store.connect(settings) as con:
        again = ui.refresh(con, settings, "two")
    assert first["users_rendered"] == 30 and again["users_rendered"] == 0 and again["files_written"] == 0
    client = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy")
    assert "exploring" in _text(client.get("/users/u7").text)
    with store.connect(settings) as con:   # u7's API calls start failing: only u7 is rescored
        insert_events(con, [api("u7", 500, at=4000 + s, error="boom") for s in range(5)])
    third = run_window(settings, at(3600) + timedelta(hours=1), since=at(3600), run_type="scheduled")["page"]
    assert third["users_rendered"] == 1 and not third["users_compacted"]
    page = _text(client.get("/users/u7").text)
    assert "frustrated" in page and "failed API requests in a row" in page
    assert "exploring" in _text(client.get("/users/u8").text)             # from the base file, untouched
    assert 'href="/empathy/users/u8"' in client.get("/", params={"q": "person 8"}).text


def test_refresh_writes_the_actions_that_changed_and_the_page_shows_exactly_the_table(settings):
    from datetime import UTC, datetime, timedelta

    from empathy import store, ui
    from empathy.ui.reader import ReadModel

    def add(con, n):
        now = datetime.now(UTC)
        con.executemany(
            "INSERT INTO actions (action_id, user_id, kind, status, reason, detail, created_at, as_of, scope, updated_at) "
            "VALUES (?, ?, 'email', 'pending', 'test', '{\"subject\": \"Hi\"}', ?, ?, '', ?)",
            [[f"a{i}", f"u{i % 7}", now, now, now] for i in n])

    def page_and_table(con):
        snap = ReadModel(settings.ui_path).snapshot()
        shown = sorted(snap.con.execute("SELECT action_id, status, attempts, last_error FROM actions").fetchall())
        return shown, sorted(con.execute("SELECT action_id, status, attempts, last_error FROM actions").fetchall())

    with store.connect(settings) as con:
        add(con, range(300))
        assert ui.refresh(con, settings, "one")["actions_written"] == 300
        # a delivery batch and a new decision: only those rows are written, the rest stays in the base file
        con.execute("UPDATE actions SET status = 'sent', attempts = 1, updated_at = now() WHERE action_id IN ('a1', 'a2')")
        add(con, [300])
        assert ui.refresh(con, settings, "two")["actions_written"] == 3
        shown, table = page_and_table(con)
        assert shown == table and ("a1", "sent", 1, None) in shown
        assert ui.refresh(con, settings, "three")["actions_written"] == 0   # nothing changed, nothing written
        con.execute("UPDATE actions SET last_error = 'boom', updated_at = now() WHERE action_id = 'a3'")
        assert ui.refresh(con, settings, "four")["actions_written"] == 4    # the delta: a1, a2, a300 and a3
        assert page_and_table(con)[0] == page_and_table(con)[1]
        # a change stamped before the last refresh (a clock stepped back): the files disagree, all written again
        con.execute("UPDATE actions SET status = 'failed', updated_at = ? WHERE action_id = 'a4'",
                    [datetime.now(UTC) - timedelta(days=1)])
        assert ui.refresh(con, settings, "five")["actions_written"] == 301
        shown, table = page_and_table(con)
        assert shown == table and ("a4", "failed", 0, None) in shown


def test_a_reader_keeps_its_version_while_newer_ones_are_published(ui_settings, tmp_path):
    import shutil

    from empathy import config, store, ui
    from empathy.ui.reader import ReadModel

    home = tmp_path / "copy"
    shutil.copytree(ui_settings.home, home, symlinks=True)
    settings = config.load().replace(home=home)
    model = ReadModel(settings.ui_path)
    old = model.snapshot()
    before = old.one("page_user", {"user_id": "user_b"})["state"]
    with store.connect(settings) as con:
        for i in range(2):
            con.execute("UPDATE user_state SET sentiment = 0.5, updated_at = now() WHERE user_id = 'user_b'")
            assert "error" not in ui.refresh(con, settings, f"later{i}")
    assert old.one("page_user", {"user_id": "user_b"})["state"] == before       # its files are still there
    assert model.snapshot().one("page_user", {"user_id": "user_b"})["sentiment"] == 0.5
    with store.connect(settings) as con:
        for i in range(3):
            con.execute("UPDATE user_state SET updated_at = now() WHERE user_id = 'user_b'")
            ui.refresh(con, settings, f"much later{i}")
    assert len(list(settings.ui_path.glob("manifest-*.json"))) == 3              # older versions collected


def test_refresh_never_fails_a_run_and_the_page_keeps_the_last_good_version(ui_settings, tmp_path, monkeypatch):
    import shutil

    from fastapi.testclient import TestClient

    from empathy import config, store, ui
    from empathy.ui import readmodel

    home = tmp_path / "copy"
    shutil.copytree(ui_settings.home, home, symlinks=True)
    settings = config.load().replace(home=home)
    current = (settings.ui_path / "CURRENT").read_text()
    files = sorted(p.name for p in (settings.ui_path / "data").iterdir())
    written = []

    def write_then_fail(self, table, relation, part="all"):   # the disk fills up after the first file
        if written:
            raise OSError(28, "No space left on device")
        written.append(table)
        return real_write(self, table, relation, part)

    real_write = readmodel._Version.write
    monkeypatch.setattr(readmodel._Version, "write", write_then_fail)
    with store.connect(settings) as con:
        con.execute("UPDATE user_state SET sentiment = 0.9, updated_at = now() WHERE user_id = 'user_b'")
        figures = ui.refresh(con, settings, "broken")
        assert "No space left on device" in figures["error"]
        assert con.execute("SELECT count(*) FROM user_state").fetchall()[0][0] > 0   # the run's connection is fine
        assert not con.execute("SELECT table_name FROM duckdb_tables() WHERE temporary").fetchall()
    assert (settings.ui_path / "CURRENT").read_text() == current                     # the last good version stays
    assert sorted(p.name for p in (settings.ui_path / "data").iterdir()) == files    # and no half of the new one
    client = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy")
    assert client.get("/users/user_b").status_code == 200


def test_before_the_first_run_the_page_says_what_to_do(settings):
    from fastapi.testclient import TestClient

    answer = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy").get("/users/user_b")
    assert answer.status_code == 200
    assert "Nothing to show yet" in answer.text and "empathy_pipeline" in answer.text


def test_an_unreadable_read_model_is_explained_and_the_next_refresh_mends_it(ui_settings, tmp_path):
    import shutil

    from fastapi.testclient import TestClient

    from empathy import config, store, ui

    home = tmp_path / "copy"
    shutil.copytree(ui_settings.home, home, symlinks=True)
    settings = config.load().replace(home=home)
    (settings.ui_path / "CURRENT").write_text("manifest-999999.json\n")   # names a manifest that is not there
    client = TestClient(_plugin().create_app(settings, auth=False), root_path="/empathy")
    answer = client.get("/users/user_b")
    assert answer.status_code == 200 and "could not be read" in answer.text and "next run" in answer.text
    with store.connect(settings) as con:
        figures = ui.refresh(con, settings, "mend")
    assert "error" not in figures and figures["users_rendered"] == figures["users"]   # rebuilt from the database
    assert "Umbrella Health" in client.get("/users/user_b").text


# --- Slack's mrkdwn -----------------------------------------------------------------------------------
def test_mrkdwn_renders_slack_formatting_and_keeps_markup_and_bad_links_as_text():
    from empathy.ui.slack_html import mrkdwn

    html = str(mrkdwn("*Bold* _it_ ~gone~ `code` <https://ok.example/a?b=1&amp;c=2|docs> <javascript:alert(1)|x> "
                      "<@U123> &lt;script&gt; snake_case_name\n> quoted\n```*raw*```"))
    assert "<b>Bold</b>" in html and "<i>it</i>" in html and "<s>gone</s>" in html and "<code>code</code>" in html
    assert '<a href="https://ok.example/a?b=1&amp;c=2" target="_blank" rel="noopener noreferrer">docs</a>' in html
    assert "javascript:" not in html and "<script" not in html and "&lt;script&gt;" in html
    assert '<span class="mention">@U123</span>' in html and "snake_case_name" in html
    assert "<blockquote>quoted</blockquote>" in html and "<pre>*raw*</pre>" in html


# --- Airflow: discovery and login -------------------------------------------------------------------------
def test_plugin_is_discovered_by_airflow_with_a_nav_entry_and_the_app():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert not [e for name, e in errors.items() if "empathy" in name], errors
    assert [p for p in plugins if p.name == "empathy"], [p.name for p in plugins]
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "Empathy"] == ["/empathy"]
    views, _ = plugins_manager._get_ui_plugins()
    assert [(v["name"], v["href"], v["destination"]) for v in views if v["name"] == "Empathy"] == [
        ("Empathy", "/empathy/", "nav")]


def test_mounted_in_airflow_api_server_and_requires_an_airflow_login(airflow_db, ui_settings, monkeypatch):
    """Through Airflow's own api-server app: no token is refused, a garbage token is refused, and a JWT
    issued by Airflow's auth manager sees every page (settings from the environment, as in production)."""
    from fastapi.testclient import TestClient

    monkeypatch.setenv("EMPATHY_HOME", str(ui_settings.home))
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    client = TestClient(create_app("core"))
    preview = next((ui_settings.outbox / "slack").iterdir()).name
    for path in ("/empathy/", "/empathy/users/user_b", "/empathy/uplift", f"/empathy/outbox/slack/{preview}"):
        anonymous = client.get(path)
        assert anonymous.status_code == 401 and "Umbrella" not in anonymous.text, path
    forged = client.get("/empathy/", headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code in (401, 403) and "Umbrella" not in forged.text

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    page = client.get("/empathy/users/user_b", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "Umbrella Health" in page.text
    client.cookies.set("_token", token)  # what the browser sends inside the Airflow UI
    assert client.get(f"/empathy/outbox/slack/{preview}").status_code == 200
