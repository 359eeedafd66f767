"""PII never leaves (LLM, Slack) and is never shown (the UI): what `empathy.redact` removes, and what it leaves alone."""
from __future__ import annotations

import re
from pathlib import Path

import pytest

from empathy.redact import name_parts, names_from_traits, redact, redact_data


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


@pytest.mark.parametrize("phone", [
    "020 7946 0958", "(020) 7946 0958", "07700 900123", "0161 496 0000",      # GB
    "06 12 34 56 78", "01.23.45.67.89",                                      # FR
    "030 1234567", "030/1234567", "0151 12345678",                           # DE
    "098765 43210", "+91 98765 43210",                                       # IN
    "91 123 45 67", "612 345 678",                                           # ES
])
def test_national_phone_formats_are_replaced(phone):
    assert redact(f"my number is {phone}, thanks") == "my number is [PHONE], thanks"


@pytest.mark.parametrize("phone", ["020 7946 0958", "07700 900123", "06 12 34 56 78", "(415) 555-2671"])
def test_a_grouped_phone_number_needs_no_cue_word(phone):
    assert redact(f"Regards, Ada ({phone})") == "Regards, Ada ([PHONE])"


@pytest.mark.parametrize("text", [
    "order 4155552671 shipped", "order id: 12345678", "invoice INV-20240115 paid", "ticket #4821375",
    "T-1234567 is still open", "since 2024-01-15 it fails", "on 15.01.2024 at 10:30", "12/03/2024",
    "host 192.168.1.100", "sdk v1.2.3 and v10.20.30", "took 1234567 ms", "charged $1,500,000.00",
    "amount 1 500 000 EUR", "epoch 1733100000", "error code 5551234", "GET /v1/orders/4155552671",
    "build 20240115.3", "PR 1234567 merged", "user ID 12345",
])
def test_ids_dates_amounts_and_versions_are_not_phone_numbers(text):
    assert redact(text) == text


@pytest.mark.parametrize("card", [
    "4111 1111 1111 1111", "4111-1111-1111-1111", "4111111111111111", "5500 0000 0000 0004",
    "4111.1111.1111.1111", "4111  1111  1111  1111", "4111_1111_1111_1111", "3782-822463-10005",
    "3782 822463 10005", "6011000990139424", "4222222222222",  # 13 digits
    "1234 5678 9012 3456",  # printed like a card: redacted even though Luhn fails
])
def test_card_numbers_are_replaced(card):
    out = redact(f"my card {card} was charged twice")
    assert out == "my card [CARD] was charged twice"


def test_digit_runs_that_are_not_cards_stay():
    # Luhn-invalid bare digit runs are order numbers, not cards.
    assert redact("order 4111111111111112 shipped") == "order 4111111111111112 shipped"


@pytest.mark.parametrize("iban", ["DE89 3704 0044 0532 0130 00", "GB82WEST12345698765432", "FR14 2004 1010 0505 0001 3M02 606",
                                  "de89 3704 0044 0532 0130 00", "gb82west12345698765432", "De89-3704-0044-0532-0130-00"])
def test_ibans_are_replaced_in_any_case(iban):
    assert redact(f"refund to {iban} please") == "refund to [IBAN] please"


def test_lower_case_iban_shapes_need_their_check_digits():
    text = "ref ab12cdefghijklmnop and de00370400440532013000"  # check digits wrong: not an IBAN
    assert redact(text) == text


@pytest.mark.parametrize("ssn", ["123-45-6789", "123 45 6789", "123  45  6789", "123 - 45 - 6789"])
def test_ssns_in_any_spacing_are_replaced(ssn):
    assert redact(f"my SSN is {ssn}.") == "my SSN is [SSN]."


@pytest.mark.parametrize("not_ssn", ["000-12-3456", "666-12-3456", "900-12-3456", "123-00-4567", "123-45-0000"])
def test_numbers_that_cannot_be_ssns_are_not(not_ssn):
    assert "[SSN]" not in redact(f"code {not_ssn}")


@pytest.mark.parametrize("address", [
    "221b Baker Street", "1600 Pennsylvania Avenue NW", "42 Wallaby Way", "10 Downing St.", "350 5th Ave, Suite 21",
    "Hauptstraße 5", "Berliner Straße 12a", "Kerkstraat 12", "12 rue de la Paix", "5 bis avenue Foch",
    "Via Roma 12", "Calle Mayor 5", "PO Box 1234", "Springfield, IL 62704", "London SW1A 1AA",
])
def test_street_addresses_are_replaced(address):
    out = redact(f"Ship it to {address}. Thanks")
    assert "[ADDRESS]" in out and address not in out and out.endswith(". Thanks")


def test_the_postcode_and_town_after_an_address_go_with_it():
    assert redact("Hauptstraße 5, 10115 Berlin") == "[ADDRESS]"
    assert redact("Via Roma 12, 00184 Roma") == "[ADDRESS]"


@pytest.mark.parametrize("text", [
    "I tried 3 times on the main road", "It took 2 different ways", "Via Slack 2 times a day", "a M2 4GB machine",
    "the 8 PM CT call", "3 seats on the Pro plan", "page 3 of 10", "MD968LL/A", "5 main things",
])
def test_ordinary_phrases_with_numbers_are_not_addresses(text):
    assert redact(text) == text


def test_names_from_identify_traits():
    traits = {"firstName": "Jane", "lastName": "Okonkwo-Doe", "email": "jane.okonkwo@acme.io", "plan": "pro",
              "name": "Jane Okonkwo-Doe", "first_name": None, "age": 41}
    names = names_from_traits(traits)
    assert names == ["Jane Okonkwo-Doe", "Jane", "Okonkwo-Doe", "jane.okonkwo@acme.io"]
    assert redact("jane here (jane.okonkwo) for OKONKWO and doe", names) == "[NAME] here ([NAME]) for [NAME] and [NAME]"
    assert names_from_traits(None) == [] and names_from_traits({"name": "  "}) == []


def test_a_role_mailbox_is_not_a_name():
    assert redact("the billing page fails", names_from_traits({"email": "billing@acme.io"})) == "the billing page fails"


def test_names_that_are_everyday_words_are_redacted_only_as_names():
    names = names_from_traits({"firstName": "Will", "lastName": "Page"})
    assert redact("Will here. I will check the page. PAGE too", names) == "[NAME] here. I will check the page. [NAME] too"


def test_ordinary_customer_text_is_left_alone():
    """The shared datasets (tweets to support accounts, app reviews) and the hand-written support messages:
    customer text with no PII to speak of. Fewer than 1 in 500 texts may change (bench/redact.py prints them:
    the few that change hold real phone numbers and addresses)."""
    root = Path(__file__).resolve().parents[1]
    texts = [line.split("\t", 1)[1] for line in (root / "tests" / "data" / "support_messages.tsv").read_text().splitlines()
             if line and not line.startswith("#") and "\t" in line]
    base = root.parent / "shared" / "data"  # the shared datasets beside the repository, when present
    for name in ("apple-twitter-sentiment/texts.txt", "chatgpt-app-reviews/texts.txt",
                 "tweeteval-sentiment-val/val_text.txt"):
        if (base / name).exists():
            texts += (base / name).read_text(encoding="utf-8").splitlines()
    changed = [t for t in texts if redact(t) != t]
    assert len(changed) <= max(1, len(texts) // 500), changed[:10]


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


def test_a_page_of_digits_costs_a_bounded_number_of_library_calls(monkeypatch):
    """A hostile 32 KB text of digit groups: the phone library looks at no more than MAX_PHONE_WINDOWS runs,
    and every run it did not look at that could be a phone number is still redacted."""
    from empathy import redact as module

    calls = []
    real = module.PhoneNumberMatcher
    monkeypatch.setattr(module, "PhoneNumberMatcher", lambda *a, **k: calls.append(a) or real(*a, **k))
    soup = " ".join(f"call 0{n:03d} {n:03d} {n:04d}" for n in range(1000))[:32_000]
    out = redact(soup)
    assert len(calls) <= module.MAX_PHONE_WINDOWS * len(module.PHONE_REGIONS)
    assert "[PHONE]" in out[-200:] and not re.search(r"\d{3} \d{4}", out)
