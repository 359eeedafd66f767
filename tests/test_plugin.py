"""The Empathy page in the Airflow UI: the snapshot it reads, the page, preview serving, auth, discovery."""
from __future__ import annotations

import importlib.util
import json
import sys
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest

from eventkit import group, insert_events

ROOT = Path(__file__).resolve().parents[1]
PLUGIN_FILE = ROOT / "plugins" / "empathy_plugin.py"
NOW = datetime(2026, 11, 20, 12, 0, tzinfo=UTC)
EVIL = "<script>alert('pwned')</script>"


def _plugin():
    """The plugin module, loaded from its file (plugins/ is not a package on sys.path)."""
    if "empathy_plugin" not in sys.modules:
        spec = importlib.util.spec_from_file_location("empathy_plugin", PLUGIN_FILE)
        module = importlib.util.module_from_spec(spec)
        sys.modules["empathy_plugin"] = module
        spec.loader.exec_module(module)
    return sys.modules["empathy_plugin"]


def _user(con, user_id, state, sentiment, reasons, account=None, on_hold=False, intents=()):
    con.execute(
        "INSERT INTO user_state (user_id, account_id, state, sentiment, confidence, intents, on_hold, reasons, "
        "scorer, as_of, updated_at) VALUES (?, ?, ?, ?, 0.9, ?, ?, ?::JSON, 'lexicon', ?, ?)",
        [user_id, account, state, sentiment, list(intents), on_hold, json.dumps(reasons), NOW, NOW])


def _action(con, action_id, user_id, kind, status, reason, detail, preview_path, minutes):
    con.execute(
        "INSERT INTO actions (action_id, user_id, kind, status, reason, detail, created_at, preview_path, "
        "updated_at) VALUES (?, ?, ?, ?, ?, ?::JSON, ?, ?, ?)",
        [action_id, user_id, kind, status, reason, json.dumps(detail), NOW + timedelta(minutes=minutes),
         preview_path, NOW])


@pytest.fixture
def populated(con, settings):
    """Three users (one whose ticket excerpt carries a script), two actions with previews, quarantine."""
    insert_events(con, [group("user_b", "acme", at=0, name="Acme Corp", mrr=1500)])
    _user(con, "user_b", "at_risk", -0.8, account="acme", on_hold=True, intents=["billing"], reasons=[
        {"signal": "state", "detail": "3 failed payments not followed by a success", "at": NOW.isoformat()},
        {"signal": "customer_text", "detail": f"ticket T-9: \"cancel this {EVIL}\"", "at": NOW.isoformat()}])
    _user(con, "u_olga", "confused", -0.2, intents=["security_review"],
          reasons=[{"signal": "docs_dwell", "detail": "read /docs/sso for 420 s without running a command"}])
    _user(con, "u_happy", "delighted", 0.7, reasons=[{"signal": "customer_text", "detail": "works now, thanks!"}])
    outbox = settings.outbox
    (outbox / "email").mkdir(parents=True)
    (outbox / "email" / "a2.html").write_text("<html><body>Security resources for you</body></html>")
    _action(con, "a1", "user_b", "slack_alert", "simulated", "concierge: at_risk on a high-value account",
            {"channel": "U0AM", "text": "user_b is at risk"}, None, 1)
    _action(con, "a2", "u_olga", "email", "simulated", "drip welcome/2 in tone security",
            {"subject": "Security resources", "tone": "security", "category": "educational"},
            str(outbox / "email" / "a2.html"), 2)
    con.execute("INSERT INTO quarantine (source_file, line_no, raw, reason, quarantined_at) VALUES "
                "('f.jsonl', 1, 'x', 'not JSON', ?), ('f.jsonl', 2, '{}', 'missing messageId', ?), "
                "('f.jsonl', 3, '[]', 'not JSON', ?)", [NOW, NOW, NOW])
    return con


def test_snapshot_holds_states_users_evidence_actions_and_quarantine(populated, settings):
    from empathy.snapshot import write_snapshot

    path = write_snapshot(populated, settings, run_id="manual__1")
    assert path == settings.outbox / "snapshot.json"
    snap = json.loads(path.read_text())
    assert snap["run_id"] == "manual__1" and snap["generated_at"]
    assert {s["state"]: (s["users"], s["on_hold"]) for s in snap["states"]} == {
        "at_risk": (1, 1), "confused": (1, 0), "delighted": (1, 0)}
    assert [u["user_id"] for u in snap["users"]] == ["user_b", "u_olga", "u_happy"]  # most negative first
    b = snap["users"][0]
    assert (b["account_id"], b["account_name"], b["mrr"], b["on_hold"], b["intents"]) == (
        "acme", "Acme Corp", 1500.0, True, ["billing"])
    assert any(EVIL in r["detail"] for r in b["reasons"])  # the snapshot keeps the text as data
    assert [a["action_id"] for a in snap["actions"]] == ["a2", "a1"]  # newest first
    email = snap["actions"][0]
    assert email["preview_path"] == "email/a2.html"  # relative to the outbox, as the page links it
    assert email["detail"] == {"subject": "Security resources", "tone": "security", "category": "educational"}
    assert snap["actions"][1]["detail"]["channel"] == "U0AM"
    assert snap["quarantine"] == [{"reason": "not JSON", "lines": 2}, {"reason": "missing messageId", "lines": 1}]
    assert not [p for p in settings.outbox.iterdir() if p.name.endswith(".tmp")]


def test_snapshot_caps_users_most_negative_first(con, settings):
    from empathy import snapshot

    for i in range(5):
        _user(con, f"u{i}", "exploring", -0.1 * i, reasons=[])
    snap = snapshot.build(con, settings, max_users=2)
    assert [u["user_id"] for u in snap["users"]] == ["u4", "u3"]
    assert snap["totals"]["users"] == 5


@pytest.fixture
def client(populated, settings):
    from fastapi.testclient import TestClient

    from empathy.snapshot import write_snapshot

    write_snapshot(populated, settings)
    return TestClient(_plugin().create_app(outbox=settings.outbox, auth=False), root_path="/empathy")


def test_page_shows_states_evidence_and_preview_links_with_customer_text_escaped(client):
    html = client.get("/").text
    assert "at_risk" in html and "Acme Corp" in html and "on hold" in html
    assert "3 failed payments not followed by a success" in html
    assert "read /docs/sso for 420 s" in html
    assert "&lt;script&gt;alert(" in html and EVIL not in html
    assert 'href="/empathy/outbox/email/a2.html"' in html
    assert "Security resources" in html and "not JSON" in html


def test_page_filters_by_state_and_user(client):
    html = client.get("/", params={"state": "delighted"}).text
    assert "works now, thanks!" in html and "read /docs/sso" not in html
    html = client.get("/", params={"user": "u_olga"}).text
    assert "read /docs/sso" in html and "3 failed payments" not in html and "concierge" not in html


def test_outbox_serves_previews_and_refuses_traversal(client, settings):
    (settings.home / "secret.txt").write_text("database password")
    ok = client.get("/outbox/email/a2.html")
    assert ok.status_code == 200 and "Security resources for you" in ok.text
    assert "sandbox" in ok.headers["content-security-policy"]
    for bad in ("/outbox/../secret.txt", "/outbox/..%2Fsecret.txt", "/outbox/email/..%2F..%2Fsecret.txt",
                "/outbox/%2Fetc%2Fpasswd", "/outbox/email/missing.html", "/outbox/email"):
        r = client.get(bad)
        assert r.status_code == 404, bad
        assert "database password" not in r.text


def test_outbox_refuses_symlink_out_of_the_outbox(client, settings):
    (settings.home / "secret.txt").write_text("database password")
    (settings.outbox / "email" / "link.html").symlink_to(settings.home / "secret.txt")
    assert client.get("/outbox/email/link.html").status_code == 404


def test_missing_snapshot_gives_an_explanatory_page(settings):
    from fastapi.testclient import TestClient

    r = TestClient(_plugin().create_app(outbox=settings.outbox, auth=False)).get("/")
    assert r.status_code == 200
    assert "No snapshot yet" in r.text and "empathy_pipeline" in r.text


def test_corrupt_snapshot_gives_an_explanatory_page(settings):
    from fastapi.testclient import TestClient

    settings.outbox.mkdir(parents=True)
    (settings.outbox / "snapshot.json").write_text("{half a")
    r = TestClient(_plugin().create_app(outbox=settings.outbox, auth=False)).get("/")
    assert r.status_code == 200 and "could not be read" in r.text


def test_plugin_is_discovered_by_airflow_with_a_nav_entry_and_the_app():
    from airflow import plugins_manager

    plugins, errors = plugins_manager._get_plugins()
    assert not [e for name, e in errors.items() if "empathy" in name], errors
    ours = [p for p in plugins if p.name == "empathy"]
    assert ours, [p.name for p in plugins]
    apps, _ = plugins_manager.get_fastapi_plugins()
    assert [a["url_prefix"] for a in apps if a["name"] == "Empathy"] == ["/empathy"]
    views, _ = plugins_manager._get_ui_plugins()
    assert [(v["name"], v["href"], v["destination"]) for v in views if v["name"] == "Empathy"] == [
        ("Empathy", "/empathy/", "nav")]


def test_mounted_in_airflow_api_server_and_requires_an_airflow_login(airflow_db, populated, settings, monkeypatch):
    """Through Airflow's own api-server app: no token is refused, a garbage token is refused, and a JWT
    issued by Airflow's auth manager sees the page (outbox from the environment, as in production)."""
    from fastapi.testclient import TestClient

    from empathy.snapshot import write_snapshot

    write_snapshot(populated, settings)
    monkeypatch.setenv("EMPATHY_HOME", str(settings.home))
    from airflow.api_fastapi.app import create_app, get_auth_manager
    from airflow.api_fastapi.auth.managers.simple.user import SimpleAuthManagerUser

    client = TestClient(create_app("core"))
    anonymous = client.get("/empathy/")
    assert anonymous.status_code == 401 and "at_risk" not in anonymous.text
    assert client.get("/empathy/outbox/email/a2.html").status_code == 401
    forged = client.get("/empathy/", headers={"Authorization": "Bearer not-a-jwt"})
    assert forged.status_code in (401, 403) and "Acme Corp" not in forged.text

    token = get_auth_manager().generate_jwt(SimpleAuthManagerUser(username="viewer", role="viewer"))
    page = client.get("/empathy/", headers={"Authorization": f"Bearer {token}"})
    assert page.status_code == 200 and "Acme Corp" in page.text
    client.cookies.set("_token", token)  # what the browser sends inside the Airflow UI
    assert client.get("/empathy/outbox/email/a2.html").status_code == 200
