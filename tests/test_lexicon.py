"""The offline scorer: out-of-sample figures, support language, one neutral band, users, batches."""
from __future__ import annotations

import json

import numpy as np
import pytest
from sentiment_data import LABELS, macro_recall, shared_data, support_messages, training_script

from empathy.scoring import get_scorer, score_text_lines
from empathy.scoring.base import NEUTRAL_BAND, CustomerText, UserContext, label_for
from empathy.scoring.lexicon import BlendParams, LexiconScorer, score_from_proba


@pytest.fixture(scope="module")
def scorer() -> LexiconScorer:
    return LexiconScorer()


def label(scorer, text):
    return scorer.score_texts([text])[0].label


def score(scorer, text):
    return scorer.score_texts([text])[0].score


def test_cross_validated_tweeteval_beats_vader():
    """Out of fold: the shipped recipe (features, hyperparameters) retrained on 4/5 of the public sets,
    judged on the fifth it never saw; the TweetEval validation tweets' figure must clearly beat VADER."""
    train = training_script()
    c = train.corpus(shared_data())
    shipped = json.loads(train.OUT.read_text(encoding="utf-8"))["hyperparameters"]
    hp = {k: shipped[k] for k in train.DEFAULT_HP}
    pred, _, _ = train.out_of_fold(c, train.kfold(c, 5), fixed=hp)
    tweets = c.source == "tweeteval"
    ours = train.macro_recall(pred[tweets], c.y[tweets])
    vader = train.macro_recall(train.vader_labels([t for t, m in zip(c.texts, tweets) if m]), c.y[tweets])
    assert ours >= 0.62 and ours > vader + 0.02, (ours, vader)


def test_right_on_nine_in_ten_support_messages(scorer):
    texts, gold = support_messages()
    assert len(texts) >= 120 and set(gold) == set(LABELS)
    pred = [r.label for r in scorer.score_texts(texts)]
    wrong = [(g, p, t) for g, p, t in zip(gold, pred, texts) if g != p]
    assert 1 - len(wrong) / len(gold) >= 0.90, wrong
    assert macro_recall(pred, gold) >= 0.90


@pytest.mark.parametrize("text, expected", [
    ("The export is good.", "positive"),
    ("The export is not good.", "negative"),
    ("It isn't working.", "negative"),
    ("Support never answered.", "negative"),
    ("Still broken.", "negative"),
    ("Still not working after the update", "negative"),
    ("Nobody answered my ticket", "negative"),
    ("No one got back to me", "negative"),
    ("Thanks for nothing.", "negative"),
    ("What a waste of time", "negative"),
    ("You charged me twice", "negative"),
    ("I want to cancel my subscription", "negative"),
    ("Been waiting all week", "negative"),
    ("This is the third time I ask", "negative"),
    ("Great, another outage.", "negative"),
    ("Works now!", "positive"),
    ("You fixed it", "positive"),
    ("That did the trick", "positive"),
    ("Problem solved", "positive"),
    ("How do I export invoices?", "neutral"),
    ("", "neutral"),
    # complaints without an emotive word
    ("still no bag", "negative"),
    ("I can't queue songs anymore", "negative"),
    ("My refund still hasn't arrived", "negative"),
    ("On hold for two hours now", "negative"),
    # politeness inside a complaint is manners, not praise
    ("once again my bag is lost!!!! Please do something", "negative"),
    ("The app crashes on login, please fix it. Thanks", "negative"),
    ("Thank you, the new export works great!", "positive"),
    # sarcasm
    ("Thanks for cancelling my flight #fail", "negative"),
    ("Love how my order never arrived", "negative"),
    # customer service to a company's account: handles and links are no words, time lost is a complaint
    ("@united still no bag", "negative"),
    ("Thanks @united for cancelling my flight #fail", "negative"),
    ("2 hours on hold and nobody picks up", "negative"),
    ("Flight delayed 3 hours, no information at the gate", "negative"),
    ("Never flying with you again", "negative"),
    ("I HATE this update http://t.co/x1y2z3", "negative"),
    ("@JetBlue you guys rock!", "positive"),
    ("Landed on time, thanks for a smooth flight", "positive"),
    ("@united can I bring a stroller on board?", "neutral"),
    ("I didn't get my refund", "negative"),
    # short praise
    ("super", "positive"),
    ("cool", "positive"),
    ("Nice app", "positive"),
    # complaints without an emotive word, and sarcasm (issue 10 part 2)
    ("please help, my bag didn't make it", "negative"),
    ("I've been transferred 4 times", "negative"),
    ("been trying to reach someone for 2 days", "negative"),
    ("nobody can tell me anything", "negative"),
    ("not even an apology", "negative"),
    ("how is this acceptable", "negative"),
    ("hello?? anyone there?", "negative"),
    ("love being on hold for an hour", "negative"),
    ("nothing like waiting 2 hours at the gate", "negative"),
    ("you lost a loyal customer", "negative"),
    # expected and not delivered, logged out, data gone, a person wanted, praise as sarcasm (round 3)
    ("my package was supposed to arrive on Monday", "negative"),
    ("the app keeps logging me out", "negative"),
    ("your update deleted all my notes", "negative"),
    ("I need to talk to a real person", "negative"),
    ("still sitting at the gate", "negative"),
    ("Flight cancelled again. Rebooked for tomorrow night. Great.", "negative"),
])
def test_support_language(scorer, text, expected):
    assert label(scorer, text) == expected, scorer.explain(text)


def test_intensity_rules_move_the_rules_score():
    rules = LexiconScorer(blend=BlendParams(use_model=False)).rules
    assert rules.score("The new dashboard is very good") > rules.score("The new dashboard is good")
    assert rules.score("The new dashboard is good") > rules.score("The new dashboard is kind of good")
    assert rules.score("The new dashboard is GOOD") > rules.score("The new dashboard is good")
    assert rules.score("The new dashboard is good!!!") > rules.score("The new dashboard is good")
    assert rules.score("The sync is broken") < rules.score("The sync is slightly broken")


def test_handles_and_links_are_not_words():
    """"@united" is an address, not VADER's "united" (+1.8); a link's letters are no words either."""
    rules = LexiconScorer(blend=BlendParams(use_model=False)).rules
    assert rules.explain("@united @best see https://great.example/love") == []
    assert rules.explain("waited 40 minutes") == [("waited 40 minutes", -2.2)]   # any number: "<num>"


def test_names_initials_and_entities_are_not_feelings():
    """Words VADER rates inside a name or a headline where nobody speaks ("Pride Parade", "Is Now Beating")
    are set aside (``Evidence.names``); a customer writing in capitals, a greeting and a reaction are not.
    A letter alone is an initial ("L.A.", not VADER's *l*) and "&gt;" is ">" (not VADER's *gt*)."""
    rules = LexiconScorer(blend=BlendParams(use_model=False)).rules
    assert rules.explain("March in Cleveland's Pride Parade tomorrow") == []
    assert rules.evidence("March in Cleveland's Pride Parade tomorrow").names > 0
    assert rules.explain("Google Is Now Beating Apple In This One Key Sector") == []
    assert rules.explain("You Have The Worst Customer Service") == [("worst", -3.1)]
    assert rules.explain("Worst Customer Service Ever") == [("worst", -3.1)]
    assert rules.explain("This is Terrible Service at the gate") == [("terrible", -2.1)]   # a verdict on a service
    assert rules.explain("Apple Service Outage Hits Millions")[0][0] == "outage"
    assert dict(rules.explain("Wishing you a Happy Birthday John"))["happy"] > 0
    assert rules.explain("we flew to L.A. for the fair") == [("fair", 1.3)]
    assert rules.explain("Hillary &lt;p&gt;Hillary &amp; co") == []


def test_a_negator_inside_a_phrase_negates_nothing_else():
    rules = LexiconScorer(blend=BlendParams(use_model=False)).rules
    assert rules.explain("I didn't get my refund") == [("didn't get my", -1.6), ("refund", -0.6)]
    assert dict(rules.explain("no response and no refund"))["no refund"] < 0


def test_contrast_emoji_and_sarcasm_need_a_complaint(scorer):
    assert label(scorer, "The docs are great but the export is still broken") == "negative"
    assert label(scorer, "It was broken for a day but it works perfectly now") == "positive"
    assert label(scorer, "Invoice received, thank you :)") == "positive"
    assert label(scorer, "Invoice received 👎") == "negative"
    assert label(scorer, "Oh great, the report is empty again.") == "negative"
    assert label(scorer, "Oh great, it works!") == "positive"
    # praise as a sentence of its own: sarcasm after a complaint, praise otherwise
    rules = scorer.rules
    assert dict(rules.explain("The export failed again. Perfect."))["perfect"] < 0
    assert dict(rules.explain("It syncs now. Perfect."))["perfect"] > 0
    assert dict(rules.explain("Great. The export failed again"))["great"] > 0   # the text's first word: not after anything
    assert label(scorer, "It syncs now. Perfect.") == "positive"


def test_one_symmetric_band_separates_the_labels(scorer):
    """label == label_for(score) for every text, with the band the other rooms import."""
    texts, _ = support_messages()
    texts += ["", "ok", "hmm", "@user see you at the game", "AWFUL AWFUL AWFUL!!!! worst ever 😡😡😡",
              "best best best!!!! love it 😍😍"]
    results = scorer.score_texts(texts)
    for r in results:
        assert -1.0 <= r.score <= 1.0 and r.label == label_for(r.score)
    assert label_for(-NEUTRAL_BAND) == "negative" and label_for(NEUTRAL_BAND) == "positive"
    assert results[-2].label == "negative" and results[-1].label == "positive"
    neutral = [r.score for r in results if r.label == "neutral"]
    assert neutral and max(abs(s) for s in neutral) < NEUTRAL_BAND


def test_score_from_proba_keeps_the_most_probable_class_and_grows_with_certainty():
    p = np.array([[0.5, 0.3, 0.2], [0.9, 0.05, 0.05], [0.2, 0.7, 0.1], [0.1, 0.2, 0.7], [0.34, 0.33, 0.33]])
    s = score_from_proba(p)
    assert [label_for(v) for v in s] == ["negative", "negative", "neutral", "positive", "negative"]
    assert s[1] < s[0] < s[4] <= -NEUTRAL_BAND and abs(s[2]) < NEUTRAL_BAND
    torn = np.array([[0.47, 0.05, 0.48], [0.2, 0.1, 0.7]])
    assert [label_for(v) for v in score_from_proba(torn, mixed_margin=0.1)] == ["neutral", "positive"]
    assert label_for(score_from_proba(torn)[0]) == "positive"


def test_distinct_texts_are_read_once_per_batch(scorer, monkeypatch):
    seen = []
    real = scorer.rules.evidence
    monkeypatch.setattr(scorer.rules, "evidence", lambda t: seen.append(t) or real(t))
    out = scorer.score_texts(["still broken"] * 500 + ["works now, thanks!"] * 500 + ["still broken"])
    assert sorted(seen) == ["still broken", "works now, thanks!"]
    assert len(out) == 1001 and out[0] == out[-1] and out[0].label == "negative" and out[500].label == "positive"


def _ctx(user_id, *texts):
    return UserContext(user_id=user_id, as_of="2025-01-10T00:00:00Z", texts=[
        CustomerText(ts=f"2025-01-0{9 - k}T00:00:00Z", kind="Support Message Sent", text=t)
        for k, t in enumerate(texts)])


def test_score_users_latest_text_counts_most(scorer):
    recovered, relapsed = scorer.score_users([
        _ctx("u1", "It works now, thank you!", "Still broken, nobody answered."),
        _ctx("u2", "Still broken, nobody answered.", "It works now, thank you!"),
    ])
    assert recovered.sentiment > 0 > relapsed.sentiment
    assert recovered.scorer == relapsed.scorer == "lexicon"
    assert recovered.intents == [] and recovered.emotion is None
    assert len(recovered.text_scores) == 2 and recovered.text_scores[0] > 0 > recovered.text_scores[1]
    assert "nobody answered" in relapsed.friction


def test_score_users_confidence_grows_with_evidence_and_empty_user_is_unsure(scorer):
    empty, one, many, mild = scorer.score_users([
        _ctx("none"),
        _ctx("one", "Still broken!"),
        _ctx("many", "Still broken!", "Nobody answered my ticket.", "This is unacceptable."),
        _ctx("mild", "How do I export invoices?"),
    ])
    assert empty.sentiment == 0.0 and empty.confidence <= 0.1 and empty.text_scores == []
    assert many.confidence > one.confidence > mild.confidence
    assert many.sentiment < 0 and one.sentiment < 0


def test_score_text_lines_keeps_alignment_with_blank_lines(scorer):
    lines = ["Works now, thanks!\n", "\n", "   \n", "still broken\n", "How do I export invoices?"]
    out = [json.loads(x) for x in score_text_lines(lines, scorer, batch_size=2)]
    assert [o["label"] for o in out] == ["positive", "neutral", "neutral", "negative", "neutral"]
    assert out[1]["score"] == 0.0 and out[3]["score"] <= -NEUTRAL_BAND


def test_score_text_lines_scores_in_batches(scorer):
    calls = []

    class Counting(LexiconScorer):
        def score_texts(self, texts):
            calls.append(len(texts))
            return super().score_texts(texts)

    lines = [f"ticket {i} is still broken" for i in range(5000)]
    out = list(score_text_lines(lines, Counting(), batch_size=2000))
    assert len(out) == 5000 and calls == [2000, 2000, 1000]
    assert all(json.loads(o)["label"] == "negative" for o in out)


def test_get_scorer_by_name(settings):
    assert get_scorer(settings).name == "lexicon"
    with pytest.raises(ValueError, match="lexicon"):
        get_scorer(settings.replace(scorer="nonsense"))
