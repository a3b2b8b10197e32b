"""Text normalisation shared by training and inference, so both see exactly the same input."""

from __future__ import annotations

import re
import unicodedata

_URL = re.compile(r"(?:https?://|www\.)\S+", re.IGNORECASE)
_MENTION = re.compile(r"(?<![\w@])@[\w.]+")
_HASHTAG = re.compile(r"#(\w+)")
_DIGITS = re.compile(r"\d")
_REPEAT = re.compile(r"(\w)\1{2,}")
_SPACES = re.compile(r"\s+")
_LETTER = re.compile(r"[^\W\d_]")
_PUNCT = re.compile(r"[^\w\s]")
_ELISION = re.compile(r"\b([cdjlmnst]|qu|jusqu|lorsqu|puisqu)['’]", re.IGNORECASE)


def _fold_table() -> dict[int, str]:
    table: dict[int, str] = {}
    for code in range(0xC0, 0x250):
        ch = chr(code)
        decomposed = unicodedata.normalize("NFKD", ch)
        folded = "".join(c for c in decomposed if not unicodedata.combining(c))
        if folded != ch and folded:
            table[code] = folded
    return table


_FOLD = _fold_table()


def strip_accents(text: str) -> str:
    """Fold Latin accents: people type French on phones with or without them.

    A translation table keeps this at C speed; other scripts and emoji pass unchanged.
    """
    if text.isascii():
        return text
    return text.translate(_FOLD)


def has_letters(text: str) -> bool:
    """True when the text holds at least one letter of any script (not only emoji or '??')."""
    return _LETTER.search(text) is not None


def for_language(text: str) -> str:
    """Text stripped of what carries no language: links, @handles, hashtag signs, newlines."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = _HASHTAG.sub(r"\1", text)
    return _SPACES.sub(" ", text).strip()


def for_model(text: str) -> str:
    """Lower-cased, accent-folded text with links, handles and digits made generic.

    Repeated letters are squeezed ('trooop' -> 'troop') and French elisions split off
    ("j'ai" -> "j' ai") so word features match across spellings.
    """
    text = _URL.sub(" xurlx ", text)
    text = _MENTION.sub(" xuserx ", text)
    text = text.replace("’", "'")
    text = _ELISION.sub(r"\1' ", text)
    text = strip_accents(text.lower())
    text = _DIGITS.sub("0", text)
    text = _REPEAT.sub(r"\1\1", text)
    return _SPACES.sub(" ", text).strip()


def for_dedup(text: str) -> str:
    """Key text for near-duplicate search: no handles, links, case, accents or punctuation."""
    text = _URL.sub(" ", text)
    text = _MENTION.sub(" ", text)
    text = strip_accents(text.lower())
    text = _PUNCT.sub(" ", text)
    return _SPACES.sub(" ", text).strip()
