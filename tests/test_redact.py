"""PII never leaves for the LLM: what `empathy.redact` removes, and what it leaves alone."""
from __future__ import annotations

import pytest

from empathy.redact import name_parts, redact, redact_data


@pytest.mark.parametrize("email", [
    "jane.doe@acme.io", "j.o'neil+billing@mail.example.co.uk", "ops_team-2@sub.domain.dev", "UPPER@CASE.COM",
])
def test_emails_are_replaced(email):
    out = redact(f"reach me at {email}, thanks")
    assert email not in out and out == "reach me at [EMAIL], thanks"


@pytest.mark.parametrize("phone", [
    "+44 20 7946 0958", "+1 (415) 555-2671", "+49 30 1234567", "+4915112345678", "0044 20 7946 0958",
    "(415) 555-2671", "415-555-2671", "415.555.2671", "415 555 2671", "1-800-555-0199", "555-0199",
    "+33 6 12 34 56 78", "+91-98765-43210",
])
def test_phone_numbers_international_and_us_are_replaced(phone):
    out = redact(f"call {phone} after 5pm")
    assert out == "call [PHONE] after 5pm"


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004",
    "3782 822463 10005", "6011000990139424", "4222222222222",  # 13 digits
    "1234 5678 9012 3456",  # printed like a card: redacted even though Luhn fails
])
def test_card_numbers_are_replaced(card):
    out = redact(f"my card {card} was charged twice")
    assert out == "my card [CARD] was charged twice"


def test_digit_runs_that_are_not_cards_stay():
    # Luhn-invalid bare digit runs are order numbers, not cards.
    assert redact("order 4111111111111112 shipped") == "order 4111111111111112 shipped"


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606"])
def test_ibans_are_replaced(iban):
    assert redact(f"refund to {iban} please") == "refund to [IBAN] please"


def test_names_full_and_parts_case_insensitive_with_word_boundaries():
    names = ["Jane Doe", "Al Smith-Jones"]
    out = redact("Hi, Jane Doe here. JANE again; doe too. Janet and Doetown are other words. "
                 "Smith and Jones and smith-jones; Al is too short to redact.", names)
    assert out == ("Hi, [NAME] here. [NAME] again; [NAME] too. Janet and Doetown are other words. "
                   "[NAME] and [NAME] and [NAME]; Al is too short to redact.")


def test_name_parts_longest_first_and_short_parts_dropped():
    assert name_parts(["Jane  Doe", "Bo", None, ""]) == ("Jane Doe", "Jane", "Doe")
    assert "Brien" in name_parts(["Pat O'Brien"])


def test_ordinary_support_text_is_untouched():
    text = ("Since 2024-01-15 the API returns 500 on /v1/exports (request took 123.4567 ms, "
            "host 192.168.1.100, sdk v1.2.3, plan $49.00/mo, 3 seats, ticket #48213).")
    assert redact(text) == text


def test_redact_data_walks_nested_evidence():
    evidence = {"tickets": [{"excerpt": "I am jane.doe@acme.io, call +1 415 555 2671"}], "count": 2,
                "by": "Jane Doe"}
    out = redact_data(evidence, ["Jane Doe"])
    assert out == {"tickets": [{"excerpt": "I am [EMAIL], call [PHONE]"}], "count": 2, "by": "[NAME]"}


def test_several_kinds_in_one_text():
    text = "Jane (jane@x.io, +1 415 555 2671) paid with 4111 1111 1111 1111 from DE89370400440532013000."
    assert redact(text, ["Jane Doe"]) == "[NAME] ([EMAIL], [PHONE]) paid with [CARD] from [IBAN]."
