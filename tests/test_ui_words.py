"""The page's evidence in words: the catalogue's sentence, customer values redacted as they are put in, and the
memory that lets a refresh of 100k users fill each distinct sentence once stays exact and bounded."""
from __future__ import annotations

from empathy.ui import words


def reason(signal, at, **data):
    return {"signal": signal, "key": "k", "family": "confusion", "polarity": -1, "at": at, "deciding": True, "data": data}


def test_users_whose_evidence_differs_only_in_what_the_sentence_does_not_say_share_one_sentence():
    redactor = words.Redactor(100)
    first = words.evidence([reason("docs_dwell", "2026-11-01T10:00:00Z", path="/docs/cli", longest_s=320, reads=1)],
                           (), redactor)
    second = words.evidence([reason("docs_dwell", "2026-11-02T11:30:00Z", path="/docs/cli", longest_s=320, reads=7)],
                            (), redactor)
    other = words.evidence([reason("docs_dwell", "2026-11-02T11:30:00Z", path="/docs/api", longest_s=320)],
                           (), redactor)
    assert first[0]["words"] == second[0]["words"] == "read /docs/cli for 320 s without running a command"
    assert other[0]["words"] == "read /docs/api for 320 s without running a command"
    assert (first[0]["at"], second[0]["at"]) == ("2026-11-01T10:00:00Z", "2026-11-02T11:30:00Z")
    assert len(redactor._words) == 2


def test_remembered_sentences_are_the_ones_a_fresh_redactor_writes_and_memory_stays_bounded():
    remembered = words.Redactor(8)
    cases = [[reason("rage_clicks", f"2026-11-01T10:{n % 60:02d}:00Z", element=f"Save {n % 12}",
                     path="/settings/billing", bursts=n % 3 + 1)] for n in range(200)]
    cases.append([reason("search_loop", "2026-11-01T10:00:00Z", searches=4,
                         queries=["invoice", "mail me at jane.doe@example.org", "pdf"])])
    for case in cases + cases[:50]:
        assert words.evidence(case, (), remembered) == words.evidence(case, (), words.Redactor(8))
        assert len(remembered._words) <= 8
    text = words.evidence(cases[-1], (), remembered)[0]["words"]
    assert "jane.doe@example.org" not in text and text.startswith("searched 4 times without using a result")


def test_values_equal_in_python_but_written_differently_get_their_own_sentence():
    redactor = words.Redactor(100)
    said = [words.evidence([reason("docs_dwell", "2026-11-01T10:00:00Z", path="/docs/cli", longest_s=value)],
                           (), redactor)[0]["words"] for value in (320, 320.0, 320.5, "320")]
    fresh = [words.evidence([reason("docs_dwell", "2026-11-01T10:00:00Z", path="/docs/cli", longest_s=value)],
                            (), words.Redactor(100))[0]["words"] for value in (320, 320.0, 320.5, "320")]
    assert said == fresh and len(redactor._words) == 4
