"""PII detection and redaction: checksums decide, placeholders are typed, nothing leaks."""

from __future__ import annotations

import re

import pytest

from pipeline.enrich.pii import PiiRedactor
from schemas.models import PiiKind


@pytest.fixture(scope="module")
def redactor() -> PiiRedactor:
    return PiiRedactor()


@pytest.mark.parametrize(
    ("text", "kind", "placeholder"),
    [
        ("écrivez-moi à marie.dupont+sav@example.fr svp", PiiKind.email, "[EMAIL]"),
        ("rappelez-moi au 06 12 34 56 78", PiiKind.phone, "[PHONE]"),
        ("mon numéro : +33 6 12 34 56 78", PiiKind.phone, "[PHONE]"),
        ("call me on +44 20 7946 0958 tonight", PiiKind.phone, "[PHONE]"),
        ("appelle-moi au 514-555-0199 stp", PiiKind.phone, "[PHONE]"),
        ("my card 4111 1111 1111 1111 was charged twice", PiiKind.card, "[CARD]"),
        ("IBAN FR76 3000 6000 0112 3456 7890 189 merci", PiiKind.iban, "[IBAN]"),
        ("send it to GB82WEST12345698765432 please", PiiKind.iban, "[IBAN]"),
        ("commande n° 4588123 jamais reçue", PiiKind.order_id, "[ORDER_ID]"),
        ("my order number is CRQ-2024-88123", PiiKind.order_id, "[ORDER_ID]"),
        ("still waiting for order #7781234", PiiKind.order_id, "[ORDER_ID]"),
    ],
)
def test_each_pii_kind_is_found_and_replaced_by_its_typed_placeholder(
    redactor: PiiRedactor, text: str, kind: PiiKind, placeholder: str
) -> None:
    kinds, redacted = redactor.redact(text)
    assert kinds == [kind]
    assert placeholder in redacted


def test_card_number_failing_luhn_is_not_flagged(redactor: PiiRedactor) -> None:
    kinds, redacted = redactor.redact("ma carte 4111 1111 1111 1112 ne passe pas")
    assert PiiKind.card not in kinds
    assert "[CARD]" not in redacted


def test_last_four_digits_of_a_card_alone_are_not_pii(redactor: PiiRedactor) -> None:
    text = "my card ending in 4242 was declined, la carte finissant par 1234 aussi"
    assert redactor.redact(text) == ([], text)


def test_iban_with_a_wrong_checksum_is_not_flagged(redactor: PiiRedactor) -> None:
    kinds, _ = redactor.redact("IBAN FR76 3000 6000 0112 3456 7890 188")
    assert PiiKind.iban not in kinds


def test_prices_dates_and_times_are_not_pii(redactor: PiiRedactor) -> None:
    text = "payé 1 234,56 € le 12/03/2024 à 14:30, 2 x 19,99€, iPhone 15 en 4G+"
    assert redactor.redact(text) == ([], text)


def test_several_kinds_in_one_message_leave_no_digits_or_address_behind(
    redactor: PiiRedactor,
) -> None:
    text = ("Jean, jean.d@mail.com, 07 81 22 33 44, carte 5555 5555 5555 4444, "
            "IBAN DE89 3704 0044 0532 0130 00, commande #A1B2C3D4")
    kinds, redacted = redactor.redact(text)
    assert set(kinds) == set(PiiKind)
    assert "@" not in redacted
    assert not re.search(r"\d{3,}", redacted)
    assert redacted.startswith("Jean, [EMAIL], [PHONE], carte [CARD], IBAN [IBAN]")
