"""empathy.content: every template in every tone, the unsubscribe footer, customer values that can only be
data (email and Slack), and Block Kit within Slack's limits (the LLM rewrite: test_llm_rewrite)."""
from __future__ import annotations

import json

import pytest

from empathy.content import campaigns, emails, slack


def _templates(campaign):
    names = set()
    for s in campaign.steps:
        names.add(s.template)
        if s.at_risk:
            names.add(s.at_risk["template"])
    return sorted(names)


FRICTIONS = (None,
             {"signal": "api_error_streak", "label": "the exports API", "link": "https://docs.example.com/troubleshooting/api-errors", "looking": False},
             {"signal": "looking:billing", "label": "your invoices", "link": "https://app.example.com/settings/billing/invoices", "looking": True})


def test_every_template_renders_in_every_tone_with_the_unsubscribe_footer(settings):
    loaded = campaigns.load_campaigns(settings)
    assert any(set(c.enrol_on) >= {"Signed Up", "Trial Started"} for c in loaded)
    for c in loaded:
        assert {s.category for s in c.steps} <= set(campaigns.CATEGORIES)
        for tpl in _templates(c):
            for tone in campaigns.TONES:
                for fr in FRICTIONS:
                    d = emails.render(c, tpl, tone, "<script>alert(1)</script>", fr)
                    mail = emails.finish(d, c.product, emails.unsubscribe_url(settings, "u 1", None))
                    html = emails.html_page(mail["subject"], mail["text"], c.our_links() | {mail["unsubscribe_url"]})
                    assert mail["subject"] and "[[" not in mail["text"] + mail["subject"] and "{{" not in mail["text"]
                    assert "https://example.com/unsubscribe?u=u%201" in mail["text"]
                    assert 'href="https://example.com/unsubscribe?u=u%201"' in html
                    assert "script" not in mail["text"] and "<script>" not in html and "Hi there" in mail["text"]


def test_supportive_tone_names_the_friction_and_a_human(settings):
    c = campaigns.load_campaigns(settings)[0]
    fr = {"signal": "rage_clicks", "label": emails.friction_label("rage_clicks", {"element": "Export CSV", "path": "/reports"}),
          "link": "https://help.example.com/articles/something-not-responding", "looking": False}
    mail = emails.finish(emails.render(c, "feature_tips", "supportive", "Ada", fr), c.product, "https://u")
    assert "the \u201cExport CSV\u201d button on the Reports page" in mail["text"]
    assert fr["link"] in mail["text"] and "help@example.com" in mail["text"] and mail["text"].startswith("Hi Ada,")
    assert f'<a href="{fr["link"]}">' in emails.html_page(mail["subject"], mail["text"], c.our_links())


def test_a_user_lost_looking_for_invoices_gets_the_direct_link_not_a_retention_offer(settings):
    c = campaigns.load_campaigns(settings)[0]
    fr = emails.friction_for([{"signal": "rage_clicks", "polarity": -1, "data": {"element": "Invoices"}}], ["billing"],
                             "frustrated", c)
    assert fr["looking"] and fr["link"] == c.links["looking"]["billing"]
    for template in ("welcome", "feature_tips", "support_checkin"):
        text = emails.finish(emails.render(c, template, "supportive", "Ada", fr), c.product, "https://u")["text"]
        assert c.links["looking"]["billing"] in text and "invoices" in text
        assert "WELCOME20" not in text and "%" not in text


def test_sendgrid_unsubscribe_group_replaces_the_link(settings):
    assert emails.unsubscribe_url(settings, "u1", 4242) == emails.ASM_UNSUBSCRIBE_URL
    assert emails.unsubscribe_url(settings, "u1", None).startswith("https://example.com/unsubscribe")


# --- customer values are data ----------------------------------------------------------------------------
HOSTILE = ["https://evil.example/login", "evil.example/login", "www.evil.example", "me@evil.example",
           "<a href='https://evil.example'>x</a>", "<@U999>", "<!channel>", "<https://evil|Click here>",
           "javascript:alert(1)", "Save\u202e", "x" * 300, "../../etc/passwd", "\\\\server\\share"]


@pytest.mark.parametrize("value", HOSTILE)
def test_customer_values_never_become_links_or_markup_in_an_email(settings, value):
    c = campaigns.load_campaigns(settings)[0]
    for signal, data in (("rage_clicks", {"element": value, "path": value}), ("api_error_streak", {"endpoints": [value]}),
                         ("docs_dwell", {"path": value})):
        label = emails.friction_label(signal, data)
        fr = {"signal": signal, "label": label, "link": c.links["troubleshooting"][signal], "looking": False}
        mail = emails.finish(emails.render(c, "welcome", "supportive", value, fr), c.product, "https://u.example.com/x")
        html = emails.html_page(mail["subject"], mail["text"], c.our_links() | {"https://u.example.com/x"})
        assert "evil" not in mail["text"] + html and "@U999" not in mail["text"] and "channel>" not in mail["text"]
        assert "javascript" not in mail["text"] and "etc/passwd" not in mail["text"] and "x" * 50 not in mail["text"]
        assert all(href in c.our_links() | {"https://u.example.com/x"}
                   for href in __import__("re").findall(r'href="([^"]+)"', html))


def test_friendly_names_instead_of_raw_paths():
    assert emails.page_name("/docs/cli/authentication") == "CLI authentication"
    assert emails.page_name("https://app.example.com/settings/integrations?tab=2") == "Integrations"
    assert emails.page_name("/projects/8f3a9c1e5b7d/settings") == "Projects"
    assert emails.page_name("www.evil.example") is None and emails.page_name("/x/evil.example/login") is None
    assert emails.api_name(["/v1/exports"]) == "the Exports API"
    assert emails.element_name("Save integration") == "\u201cSave integration\u201d"
    for bad in ("https://evil.example", "me@x.io", "evil.example", "", None, "a" * 80):
        assert emails.element_name(bad) is None and emails.first_name(bad) is None
    assert emails.first_name("Inès Moreau") == "Inès" and emails.first_name("O'Brien") == "O'Brien"


def _alert(**over):
    base = dict(account_id="acct_1", account_name="Acme", mrr=5000.0, user_id="u1", state="frustrated", confidence=0.8,
                evidence=[{"signal": "rage_clicks", "polarity": -1, "data": {"element": "Save", "path": "/settings", "bursts": 2}}],
                user_url="https://airflow.example.com/empathy/users/u1", as_of="2026-03-01 10:00")
    return slack.Alert(**{**base, **over})


@pytest.mark.parametrize("value", HOSTILE + ["@channel", "@here hello", "*bold* _it_ `code`", "A" * 20000])
def test_slack_alert_carries_customer_values_as_escaped_data_within_limits(value):
    evidence = [{"signal": "rage_clicks", "polarity": -1, "data": {"element": value, "path": value, "bursts": 3}},
                {"signal": "api_error_streak", "polarity": -1, "data": {"errors": 4, "endpoints": [value], "error_message": value, "ongoing": True}},
                {"signal": "open_ticket", "polarity": -1, "data": {"ticket_id": value, "subject": value, "latest_customer_text": value}}]
    text, blocks = slack.build(_alert(account_name=value, account_id=value, user_id=value, evidence=evidence, members=[value]))
    everything = text + json.dumps(blocks)
    everything = text + json.dumps(blocks, ensure_ascii=False)
    for forbidden in ("<", "https://evil", "evil.example", "@channel", "@here", "`code`"):
        assert forbidden not in everything, forbidden
    assert blocks[0]["type"] == "header" and len(blocks[0]["text"]["text"]) <= 150
    for b in blocks:
        if b["type"] == "section":
            assert len(b.get("text", {}).get("text", "")) <= 3000
            assert all(len(f["text"]) <= 2000 for f in b.get("fields", []))
    assert len(text) <= 3000
    assert any(b["type"] == "actions" and b["elements"][0]["url"] == "https://airflow.example.com/empathy/users/u1"
               for b in blocks)


def test_alert_for_a_user_lost_looking_for_invoices_says_so_and_gives_the_direct_link():
    links = {"looking": {"billing": "https://app.example.com/settings/billing/invoices"}}
    text, blocks = slack.build(_alert(looking_for=["billing"], links=links))
    shown = text + json.dumps(blocks)
    assert "Lost looking for invoices" in shown and "https://app.example.com/settings/billing/invoices" in shown
    assert "cancel" not in shown.lower() and "stay" not in shown.lower()


def test_alerts_go_to_a_slack_user_id_never_a_channel_a_customer_typed():
    assert slack.channel_for("U0AM12345", "#fallback") == ("U0AM12345", None)
    for typed in ("#general", "<#C123>", "@everyone", "C0123456789", "U0AM12345 #general", "u0am12345"):
        channel, why = slack.channel_for(typed, "#fallback")
        assert channel == "#fallback" and "not a Slack user id" in why
    assert slack.channel_for(None, "#fallback") == ("#fallback", "the account has no account manager")
