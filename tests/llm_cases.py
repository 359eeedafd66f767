"""What the LLM tests share: a user context builder, and every PII format that must never reach a model."""
from __future__ import annotations

import json
import re

from empathy.scoring.base import CustomerText, UserContext

MODEL = "gpt-4o-mini-test"


def ctx(user_id: str, *texts: str, evidence: dict | None = None, names=(), as_of="2025-03-01T12:00:00Z") -> UserContext:
    return UserContext(
        user_id=user_id, as_of=as_of, evidence=evidence or {}, pii_names=list(names),
        texts=[CustomerText(ts=f"2025-03-01T11:{50 - i:02d}:00Z", kind="Support Message Sent", text=t,
                            ticket_id="T-1") for i, t in enumerate(texts)])


PII = {
    "phone, international": "+44 20 7946 0958",
    "phone, GB national": "020 7946 0958",
    "phone, GB mobile": "07700 900123",
    "phone, FR national": "06 12 34 56 78",
    "phone, DE national": "030 1234567",
    "phone, US": "(415) 555-2671",
    "card, dots": "4111.1111.1111.1111",
    "card, double spaces": "5500  0000  0000  0004",
    "card, underscores": "4111_1111_1111_1111",
    "IBAN, lower case": "de89 3704 0044 0532 0130 00",
    "SSN, spaces": "123 45 6789",
    "email": "jane.doe@acme.io",
    "street address": "221b Baker Street",
}
TRAITS = {"firstName": "Jane", "lastName": "Okonkwo-Doe", "email": "jdoe.billing@acme.io", "name": "Jane Okonkwo-Doe"}


def assert_no_pii(raw_bodies: list[str], names: bool = True) -> None:
    for raw in raw_bodies:
        decoded = json.dumps(json.loads(raw), ensure_ascii=False)  # undo JSON escaping too
        for kind, value in PII.items():
            assert value.lower() not in raw.lower() and value.lower() not in decoded.lower(), kind
        digits = re.sub(r"\D", "", decoded)
        for kind, value in PII.items():
            if sum(c.isdigit() for c in value) >= 9:
                assert re.sub(r"\D", "", value) not in digits, f"{kind}: its digits"
        assert not names or not re.search(r"(?i)\b(jane|okonkwo|jdoe\.billing)\b", decoded)
