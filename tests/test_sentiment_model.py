"""The trained layer over the lexicon: ships as package data, lifts tweets, leaves support language alone."""
from __future__ import annotations

import json
from pathlib import Path

import pytest
from sentiment_data import LABELS

from empathy.scoring import model
from empathy.scoring.lexicon import LexiconParams, LexiconScorer

ROOT = Path(__file__).resolve().parents[1]


@pytest.fixture(scope="module")
def scorer() -> LexiconScorer:
    return LexiconScorer()






def test_weights_load_from_the_package_without_shared_data(monkeypatch, tmp_path):
    """The scorer needs only the committed weights: no ../shared, no working-directory files."""
    monkeypatch.chdir(tmp_path)
    model.load_weights.cache_clear()
    w = model.load_weights()
    assert w["classes"] == list(LABELS) and w["dense_names"] == list(model.DENSE)
    assert len(w["tokens"]) > 1000 and "made_by" in w
    path = ROOT / "include/empathy/scoring/data" / model.WEIGHTS_FILE
    assert path.stat().st_size < 3 * 1024 * 1024
    assert "shared" not in Path(model.__file__).read_text().replace("shared machine", "")
    p = model.SentimentModel().proba("I love this so much!")
    assert abs(sum(p) - 1.0) < 1e-9 and p[2] == max(p)


def test_weights_made_for_other_features_are_refused(monkeypatch):
    real = json.loads((ROOT / "include/empathy/scoring/data" / model.WEIGHTS_FILE).read_text())
    real["dense_names"] = real["dense_names"][:-1]
    monkeypatch.setattr(model.resources, "files", lambda _pkg: _Fake(json.dumps(real)))
    model.load_weights.cache_clear()
    try:
        with pytest.raises(ValueError, match="train_sentiment"):
            model.load_weights()
    finally:
        model.load_weights.cache_clear()


class _Fake:
    def __init__(self, text):
        self.text = text

    def joinpath(self, *_):
        return self

    def read_text(self, encoding=None):
        return self.text



def _support():
    rows = [line.split("\t", 1) for line in
            (ROOT / "tests/data/support_messages.tsv").read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [t for _, t in rows], [g for g, _ in rows]


def test_support_messages_stay_right_nine_in_ten(scorer):
    texts, gold = _support()
    pred = [r.label for r in scorer.score_texts(texts)]
    wrong = [(g, p, t) for g, p, t in zip(gold, pred, texts) if g != p]
    assert 1 - len(wrong) / len(gold) >= 0.9, wrong


def test_support_phrases_decide_over_the_model(scorer):
    """Where support phrases speak clearly, the result is the lexicon's own (label and score)."""
    plain = LexiconScorer(LexiconParams(use_model=False))
    for text in ("Still broken, nobody answered my ticket.", "Works now, thanks for the quick help!",
                 "Thanks for nothing.", "You charged me twice"):
        assert scorer.score_texts([text]) == plain.score_texts([text])


def test_model_reads_tweets_the_lexicon_misses(scorer):
    """Texts without support phrases get the model's class and P(pos) - P(neg) as score."""
    for text in ("Can't wait to see you guys tomorrow night at the show!", "so excited for friday"):
        r = scorer.score_texts([text])[0]
        assert r.label == "positive" and 0 < r.score <= 1
    r = scorer.score_texts(["Apple to announce quarterly results on Tuesday"])[0]
    assert r.label == "neutral"
    r = scorer.score_texts(["worst day ever, I hate mondays"])[0]
    assert r.label == "negative" and r.score < 0


def test_scores_and_labels_agree_in_sign(scorer):
    texts, _ = _support()
    for r in scorer.score_texts(texts + ["", "ok", "hmm", "@user see you at the game"]):
        assert -1.0 <= r.score <= 1.0
        if r.label == "positive":
            assert r.score > 0
        if r.label == "negative":
            assert r.score < 0
