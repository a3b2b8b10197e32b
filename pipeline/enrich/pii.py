"""Personal data: find emails, phones, cards, IBANs and order numbers, and mask them by type.

Regexes only propose candidates; checksums decide (Luhn for cards via python-stdnum, ISO 7064
mod 97 for IBANs, libphonenumber for phones), so an invalid card number or a price is left
alone. A card's last four digits alone identify nobody and are kept. Spans are claimed in
priority order (email, IBAN, card, anchored order number, phone, bare order code) so one
string is never masked twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import phonenumbers
from stdnum import iban as std_iban
from stdnum import luhn

from schemas.models import PiiKind

PLACEHOLDERS: dict[PiiKind, str] = {
    PiiKind.email: "[EMAIL]",
    PiiKind.phone: "[PHONE]",
    PiiKind.card: "[CARD]",
    PiiKind.iban: "[IBAN]",
    PiiKind.order_id: "[ORDER_ID]",
}

_EMAIL = re.compile(
    r"(?<![\w.+-])[\w.+-]+(?:@|\s?\[at\]\s?|\s\(at\)\s)[\w-]+(?:\.[\w-]+)*\.[a-z]{2,}\b",
    re.IGNORECASE,
)
_IBAN = re.compile(r"\b[A-Z]{2}\d{2}(?:[ \-]?[A-Z0-9]){10,30}\b", re.IGNORECASE)
_TRAILING_GROUP = re.compile(r"[ \-]?[A-Z0-9]+$", re.IGNORECASE)
_CARD = re.compile(r"(?<![\w+])\d(?:[ \-]?\d){12,18}(?!\w)")
_ORDER_ANCHORED = re.compile(
    r"(?:\b(?:order|orders|commande|cmd|cde|colis|parcel|package|tracking|suivi|booking|"
    r"r[ée]servation|r[ée]f[ée]rence|ref|dossier|case|ticket|invoice|facture|transaction|"
    r"return|retour|rma)\b"
    r"(?:\s+(?:id|number|num[ée]ro|no|nr|n°|nº|#|code|ref))?\.?"
    r"(?:\s+(?:is|est|was|etait|était|=))?\s*(?:n°|nº|#|:|-)?\s*"
    r"|#\s?)"
    r"(?P<id>(?=[A-Z0-9\-_/]*\d)[A-Z0-9](?:[A-Z0-9\-_/]*[A-Z0-9])?)",
    re.IGNORECASE,
)
_ORDER_CODE = re.compile(r"\b[A-Z]{2,5}-?\d{2,4}(?:-?[A-Z0-9]{2,})*-?\d{3,}\b|\b[A-Z]{2,4}\d{6,}\b")
_PHONE = re.compile(
    r"(?<![\w+])(?:"
    r"(?:\+|00)\d{1,3}[\s.\-]?(?:\(0\)[\s.\-]?)?\(?\d{1,4}\)?(?:[\s.\-]?\d{2,4}){2,4}"
    r"|0\d(?:[\s.\-]?\d){8}"
    r"|\(?\d{3}\)?[\s.\-]\d{3}[\s.\-]\d{4}"
    r")(?!\w)"
)


@dataclass(frozen=True, slots=True)
class PiiSpan:
    start: int
    end: int
    kind: PiiKind


def _is_card(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    return 13 <= len(digits) <= 19 and luhn.is_valid(digits)


def _is_iban(candidate: str) -> bool:
    compact = re.sub(r"[\s\-]", "", candidate).upper()
    if not 15 <= len(compact) <= 34:
        return False
    try:
        std_iban.validate(compact, check_country=False)
    except Exception:  # stdnum raises several ValidationError subclasses
        return False
    return True


def _is_phone(candidate: str) -> bool:
    digits = re.sub(r"\D", "", candidate)
    if not 9 <= len(digits) <= 15:
        return False
    regions = (None,) if candidate.lstrip().startswith(("+", "00")) else ("FR", "CA")
    text = "+" + candidate.lstrip()[2:] if candidate.lstrip().startswith("00") else candidate
    for region in regions:
        try:
            number = phonenumbers.parse(text, region)
        except phonenumbers.NumberParseException:
            continue
        if phonenumbers.is_possible_number(number):
            return True
    return False


def _order_id_plausible(value: str) -> bool:
    digits = sum(ch.isdigit() for ch in value)
    return digits >= 4 and len(value) >= 5


class PiiRedactor:
    """Finds typed PII spans and returns (kinds found, redacted text)."""

    def find(self, text: str) -> list[PiiSpan]:
        spans: list[PiiSpan] = []
        taken: list[tuple[int, int]] = []

        def claim(start: int, end: int, kind: PiiKind) -> None:
            if any(start < e and s < end for s, e in taken):
                return
            taken.append((start, end))
            spans.append(PiiSpan(start, end, kind))

        if "@" in text or "at" in text:
            for m in _EMAIL.finditer(text):
                claim(m.start(), m.end(), PiiKind.email)
        for m in _IBAN.finditer(text):
            candidate = m.group()
            for _ in range(4):  # the pattern may have swallowed a word after the IBAN
                if _is_iban(candidate):
                    claim(m.start(), m.start() + len(candidate), PiiKind.iban)
                    break
                candidate = _TRAILING_GROUP.sub("", candidate)
        for m in _CARD.finditer(text):
            if _is_card(m.group()):
                claim(m.start(), m.end(), PiiKind.card)
        for m in _ORDER_ANCHORED.finditer(text):
            value = m.group("id")
            if _order_id_plausible(value) and not _PHONE.fullmatch(value):
                claim(m.start("id"), m.end("id"), PiiKind.order_id)
        for m in _PHONE.finditer(text):
            if _is_phone(m.group()):
                claim(m.start(), m.end(), PiiKind.phone)
        for m in _ORDER_CODE.finditer(text):
            if _order_id_plausible(m.group()):
                claim(m.start(), m.end(), PiiKind.order_id)
        spans.sort(key=lambda s: s.start)
        return spans

    def redact(self, text: str) -> tuple[list[PiiKind], str]:
        spans = self.find(text)
        if not spans:
            return [], text
        parts: list[str] = []
        last = 0
        for span in spans:
            parts.append(text[last:span.start])
            parts.append(PLACEHOLDERS[span.kind])
            last = span.end
        parts.append(text[last:])
        kinds = sorted({s.kind for s in spans}, key=list(PiiKind).index)
        return kinds, "".join(parts)
