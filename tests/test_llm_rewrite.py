"""The email rewrite, DB-free, with the real SDK against the stand-in: a rewrite in tone is kept only when
it keeps the rules; anything else keeps the template and says why; answers are cached; no customer data
is ever in the request (the drafts hold tokens, not values).
"""
from __future__ import annotations

import json

import pytest

from empathy.llm import cache
from empathy.llm.rewrite import EmailDraft, check_rewrite, counts, rewrite_drafts, rewrite_keys

ORIGINAL = ("Hi [[FIRST_NAME]],\n\nUpgrade in the next 7 days with the code WELCOME20 and get 20% off.\n\n"
            "Upgrade here: https://app.example.com/billing/upgrade\n\nThe team")
HELP = ("Hi [[FIRST_NAME]],\n\nIt looks like [[FRICTION]] gave you trouble. This guide walks through it: "
        "https://help.example.com/articles/exports\n\nReply to this email and a person will help.")


@pytest.mark.parametrize("rewrite, broken", [
    ("Hello [[FIRST_NAME]]!\n\nFor the next 7 days, the code WELCOME20 takes 20% off when you upgrade: "
     "https://app.example.com/billing/upgrade", None),
    (ORIGINAL.replace("https://app.example.com/billing/upgrade", "https://evil.example.net/pay"), "link"),
    (ORIGINAL.replace("7 days", "30 days"), "number"),
    (ORIGINAL.replace("20% off", "50% off"), "number"),
    (ORIGINAL.replace("The team", "Plus a free month!"), "offer"),
    (ORIGINAL.replace("The team", "Plus two months on us."), "number"),
    (ORIGINAL.replace("[[FIRST_NAME]]", "friend"), "placeholders"),
    (ORIGINAL + "\n<a href='x'>click</a>", "markup"),
    (ORIGINAL * 3, "too long"),
    ("Hi.", "too short"),
    ("", "empty"),
])
def test_rewrite_guardrails(rewrite, broken):
    problem = check_rewrite(ORIGINAL, rewrite, 1.5)
    if broken is None:
        assert problem is None
    else:
        assert problem and broken in problem


def test_a_rewrite_cannot_add_an_offer_to_a_mail_without_one():
    for sneaky in ("Get a discount today.", "Use promo code HELLO.", "Save big now.", "Start a trial of Pro."):
        assert check_rewrite(HELP, HELP.replace("Reply to this email and a person will help.", sneaky), 2.0)


@pytest.fixture
def llm_settings(settings, openai_server, monkeypatch):
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT", openai_server.connection(model="gpt-test"))
    return settings.replace(llm_timeout_s=5.0, llm_max_retries=1)


def warm(body):
    draft = json.loads(body["messages"][-1]["content"])["draft"]
    return {"body": draft.replace("Hi [[FIRST_NAME]],", "Hello [[FIRST_NAME]], and thanks for bearing with us.")}


def test_a_rewrite_in_tone_is_used_and_identical_drafts_are_asked_once(llm_settings, openai_server):
    openai_server.responder = warm
    drafts = [EmailDraft(body=HELP, tone="supportive"), EmailDraft(body=HELP, tone="supportive"),
              EmailDraft(body=ORIGINAL, tone="standard")]
    results = rewrite_drafts(drafts, llm_settings)
    assert [r.source for r in results] == ["llm", "llm", "llm"]
    assert results[0].body.startswith("Hello [[FIRST_NAME]], and thanks for bearing with us.")
    assert "[[FRICTION]]" in results[0].body and results[0].note == "rewritten by gpt-test"
    bodies = openai_server.chat_bodies()
    assert len(bodies) == 2 and counts(results) == {"llm": 3, "template": 0, "asked": 2}
    sent = json.loads(bodies[0]["messages"][-1]["content"])
    assert sent["tone"] in ("supportive", "standard") and "[[FIRST_NAME]]" in sent["draft"]
    assert all(b["response_format"]["json_schema"]["strict"] for b in bodies)


def test_a_rewrite_that_breaks_a_guardrail_keeps_the_template(llm_settings, openai_server):
    openai_server.responder = lambda body: {"body": json.loads(body["messages"][-1]["content"])["draft"]
                                     + "\n\nAs a thank you, here is a 90% discount: https://evil.example.net/deal"}
    [r] = rewrite_drafts([EmailDraft(body=HELP, tone="supportive")], llm_settings)
    assert r.source == "template" and r.body is None
    assert r.note.startswith("rewrite rejected: link not in template: https://evil.example.net/deal")
    assert r.cache_row() is not None  # the answer is kept: the same draft is not asked again


@pytest.mark.parametrize("script, note", [
    (lambda s: s.content_next("this is not json"), "llm error: openai: garbage answer (not JSON)"),
    (lambda s: s.fail_next(500, times=2), "llm error: openai: HTTP 500 (retries exhausted)"),
    (lambda s: s.refuse_next(), "llm error: openai: refused to answer"),
    (lambda s: s.garbage_next(), "llm error: openai: garbage answer"),
])
def test_errors_keep_the_template_and_say_why(llm_settings, openai_server, script, note):
    script(openai_server)
    [r] = rewrite_drafts([EmailDraft(body=HELP, tone="supportive")], llm_settings)
    assert r.source == "template" and r.note.startswith(note) and r.cache_row() is None


def test_cached_answers_are_not_asked_again(llm_settings, openai_server, con):
    openai_server.responder = warm
    drafts = [EmailDraft(body=HELP, tone="supportive")]
    first = rewrite_drafts(drafts, llm_settings, cache.lookup(con, rewrite_keys(drafts, llm_settings)))
    assert cache.store(con, cache.rows_to_store(first)) == 1
    again = rewrite_drafts(drafts, llm_settings, cache.lookup(con, rewrite_keys(drafts, llm_settings),
                                                              cache.EMAIL_REWRITE))
    assert len(openai_server.chat_bodies()) == 1
    assert again[0].body == first[0].body and again[0].answer is None
    assert cache.lookup(con, rewrite_keys(drafts, llm_settings), cache.USER_JUDGEMENT) == {}  # kinds kept apart


def test_without_a_connection_or_with_rewrites_off_the_template_stands(settings, llm_settings, openai_server, monkeypatch):
    draft = EmailDraft(body=HELP, tone="supportive")
    assert rewrite_drafts([draft], llm_settings.replace(email_rewrite=False))[0].note == \
        "rewrite disabled (email_rewrite=false)"
    monkeypatch.delenv("AIRFLOW_CONN_OPENAI_DEFAULT")
    assert rewrite_drafts([draft], settings)[0].note == "no openai connection"
    assert not openai_server.requests


def test_without_a_connection_or_with_rewrites_off_the_rewrite_step_changes_no_email(settings, llm_settings,
                                                                                        openai_server, monkeypatch,
                                                                                        tmp_path):
    """The pipeline's rewrite step (claimed file in, file for the send step out): with nothing to rewrite
    with, every claimed email goes on exactly as decided, with nothing for ``record`` to write back."""
    from empathy import pipeline

    emails = [{"action_id": f"a{n}", "kind": "email", "status": "pending",
               "detail": {"tone": "supportive", "text": "Hi Ann, ...", "rewrite": "template",
                          "rewrite_note": "no rewrite configured",
                          "tokens": {"body": HELP, "values": {"FIRST_NAME": "Ann"}, "footer": ""}}} for n in range(3)]
    claimed = pipeline._write_jsonl(tmp_path / "claimed-email.jsonl", emails)
    assert pipeline._read_jsonl(pipeline.rewrite(llm_settings.replace(email_rewrite=False), claimed)) == emails
    monkeypatch.delenv("AIRFLOW_CONN_OPENAI_DEFAULT")
    assert pipeline._read_jsonl(pipeline.rewrite(settings, claimed)) == emails
    assert not openai_server.requests
    # with a connection the same step does rewrite, and says what it changed
    monkeypatch.setenv("AIRFLOW_CONN_OPENAI_DEFAULT", openai_server.connection())
    rewritten = pipeline._read_jsonl(pipeline.rewrite(llm_settings, claimed))
    assert openai_server.requests and all(set(r.get("detail_patch", {})) >= {"rewrite", "rewrite_note"}
                                          for r in rewritten)
