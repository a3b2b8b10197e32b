"""Cue lexicons (EN/FR): phrase lists compiled once into one regex per family.

They feed the classifiers as features and name the reasons behind an urgency or crisis label,
so a person can see why a message was escalated. ``cues`` scans a text once with every
family joined into one pattern of named groups (one pass instead of one per family); a
phrase listed in two families counts for both.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
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


def _phrases(family: str) -> set[str]:
    lines = (LEXICON_DIR / f"{family}.txt").read_text(encoding="utf-8").splitlines()
    phrases = {strip_accents(line.strip().lower()) for line in lines}
    return {p for p in phrases if p and not p.startswith("#")}


def _alternation(phrases: set[str]) -> str:
    return "|".join(sorted((_phrase_pattern(p) for p in phrases), key=len, reverse=True))


def _load(family: str) -> re.Pattern[str]:
    return re.compile(r"(?<!\w)(?:" + _alternation(_phrases(family)) + r")(?!\w)")


@lru_cache(maxsize=1)
def lexicons() -> dict[str, re.Pattern[str]]:
    """Every family's compiled pattern, loaded once per process."""
    return {family: _load(family) for family in FAMILIES}


def _atoms(phrase: str) -> tuple[str, ...]:
    """A phrase as regex atoms, with the same meaning as ``_phrase_pattern``."""
    atoms: list[str] = []
    for k, word in enumerate(phrase.split()):
        if k:
            atoms.append(r"\s+")
        for ch in word.rstrip("*"):
            if ch == "'":
                atoms.append(r"['’]?\s*")
            elif ch == "?" and atoms:
                atoms[-1] = f"(?:{atoms[-1]})?"
            else:
                atoms.append(re.escape(ch))
        if word.endswith("*"):
            atoms.append(r"\w*")
    return tuple(atoms)


_END = ""


def _trie_regex(node: dict[str, dict]) -> str:  # type: ignore[type-arg]
    """Alternation with shared prefixes factored out, so a scan tries each prefix once."""
    branches = [atom + _trie_regex(child) for atom, child in node.items() if atom != _END]
    if not branches:
        return ""
    body = branches[0] if len(branches) == 1 and len(branches[0]) <= 1 \
        else "(?:" + "|".join(branches) + ")"
    return f"(?:{body})?" if _END in node else body


def _scan_pattern(phrases: Iterable[str]) -> re.Pattern[str]:
    """Whole-word pattern over many phrases, prefix-factored (greedy: longest phrase wins)."""
    root: dict[str, dict] = {}  # type: ignore[type-arg]
    for phrase in phrases:
        node = root
        for atom in _atoms(phrase):
            node = node.setdefault(atom, {})
        node[_END] = {}
    return re.compile(r"(?<!\w)" + _trie_regex(root) + r"(?!\w)")


@lru_cache(maxsize=1)
def _combined() -> re.Pattern[str]:
    """Every family's phrases in one scan pattern."""
    return _scan_pattern(phrase for family in FAMILIES for phrase in _phrases(family))


@lru_cache(maxsize=4096)
def _families_of(matched: str) -> tuple[str, ...]:
    """Families with a phrase that the matched text starts with (a longer phrase shadows
    a shorter one of another family in the scan: "can't log in" still counts "can't")."""
    return tuple(f for f, pattern in lexicons().items() if pattern.match(matched))


def cues(model_text: str) -> dict[str, int]:
    """Hit counts per family on text already passed through ``text.for_model``."""
    found: dict[str, int] = {}
    for matched in _combined().findall(model_text):
        for family in _families_of(matched):
            found[family] = found.get(family, 0) + 1
    return found


def _concept_terms() -> list[tuple[str, list[str]]]:
    """``concepts.txt`` as (concept, terms) in file order."""
    table: list[tuple[str, list[str]]] = []
    for line in (LEXICON_DIR / "concepts.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        name, _, terms = line.partition(":")
        folded = [strip_accents(t.strip().lower()) for t in terms.split(",")]
        table.append((name.strip().replace("_", ""), [t for t in folded if t]))
    return table


@lru_cache(maxsize=1)
def _concept_patterns() -> tuple[re.Pattern[str], tuple[tuple[str, re.Pattern[str]], ...]]:
    """One prefix-factored scan pattern over every term, and each concept's own pattern."""
    table = _concept_terms()
    scan = _scan_pattern(term for _, terms in table for term in terms)
    own = tuple((name, re.compile(r"(?:" + _alternation(set(terms)) + r")"))
                for name, terms in table)
    return scan, own


@lru_cache(maxsize=8192)
def _concept_of(matched: str) -> str:
    for name, pattern in _concept_patterns()[1]:
        if pattern.fullmatch(matched):
            return name
    return ""


CONCEPT_PREFIX = "zz"


def concept_text(folded: str) -> str:
    """Glossary terms replaced by their concept token ("carte refusee" -> "zzcard zzdeclined").

    Works on lower-cased, accent-folded text without punctuation (``text.for_dedup``). The
    tokens start with ``CONCEPT_PREFIX`` so that callers can keep them whole.
    """
    scan = _concept_patterns()[0]

    def token(match: re.Match[str]) -> str:
        name = _concept_of(match.group())
        return f" {CONCEPT_PREFIX}{name} " if name else match.group()

    return scan.sub(token, folded)
