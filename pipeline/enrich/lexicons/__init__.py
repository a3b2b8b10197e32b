"""Cue lexicons (EN/FR): phrase lists compiled once into one regex per family.

They feed the classifiers as features and name the reasons behind an urgency or crisis label,
so a person can see why a message was escalated.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from pipeline.enrich.text import strip_accents

LEXICON_DIR = Path(__file__).parent
URGENCY_FAMILIES = ("outage", "safety", "fraud", "legal", "data_leak", "churn", "angry")
FAMILIES = (*URGENCY_FAMILIES, "toxic", "spam", "positive", "negative")


def _phrase_pattern(phrase: str) -> str:
    parts = []
    for word in phrase.split():
        star = word.endswith("*")
        core = re.escape(word.rstrip("*")).replace("'", r"['’]?\s*").replace(r"\?", "?")
        parts.append(core + (r"\w*" if star else ""))
    return r"\s+".join(parts)


def _load(family: str) -> re.Pattern[str]:
    lines = (LEXICON_DIR / f"{family}.txt").read_text(encoding="utf-8").splitlines()
    phrases = {strip_accents(line.strip().lower()) for line in lines}
    phrases = {p for p in phrases if p and not p.startswith("#")}
    alternatives = sorted((_phrase_pattern(p) for p in phrases), key=len, reverse=True)
    return re.compile(r"(?<!\w)(?:" + "|".join(alternatives) + r")(?!\w)")


@lru_cache(maxsize=1)
def lexicons() -> dict[str, re.Pattern[str]]:
    """Every family's compiled pattern, loaded once per process."""
    return {family: _load(family) for family in FAMILIES}


def cues(model_text: str) -> dict[str, int]:
    """Hit counts per family on text already passed through ``text.for_model``."""
    found: dict[str, int] = {}
    for family, pattern in lexicons().items():
        hits = len(pattern.findall(model_text))
        if hits:
            found[family] = hits
    return found
