"""Incident clusters: many messages of one brand about the same problem, grouped as they come.

Most messages of an outage or a scandal do not sound like a crisis on their own ("card
declined 3 times", "fixed now, thanks"); what makes them crisis traffic is that many people
write about the same thing at once. Each brand keeps a rolling window of recent messages as
IDF-weighted sets of content words; a new message joins every group it resembles (cosine
of the word sets, single linkage), and a group becomes an incident when it is large enough
and enough of its members read as a crisis on their own (the per-message head, the seeds).

Streaming: a message is judged when it arrives, against the groups that exist by then, so the
first messages of an incident stay unmarked (they were emitted already); the members that
come once the group qualifies are marked. An offline batch can look ahead: after the whole
batch went through the window, every member of a qualifying group is marked.
"""

from __future__ import annotations

import math
import re
import zlib
from collections import deque
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timedelta

from pipeline.enrich.lexicons import CONCEPT_PREFIX, concept_text
from pipeline.enrich.text import for_dedup, strip_accents

# Function words of both languages and words every customer message uses: they link
# unrelated messages and say nothing about an incident.
_STOPWORDS = frozenset("""
the and for are but not you your yours our ours was were been being have has had having
this that these those with from into onto about over under again just than then them they
their there here what which who whom whose when where why how all any both each few more
most other some such only own same very can will would could should shall may might must
its it's i'm im ive dont doesnt didnt cant wont isnt arent wasnt also still even really
get got getting one two now today yesterday tonight week day days hours hour minutes
please thanks thank anyone someone everyone people guys lol via amp
les des une uns est sont etait ete avoir avez avons ont suis sommes etes mais pour par
sur dans avec sans sous chez vous nous ils elles leur leurs votre vos notre nos mon mes moi
toi soi mois ton tes son ses cette ces cet qui que quoi dont quand comme plus moins tres trop bien
fait faire fais toujours encore deja aussi alors donc car puis rien tout tous toute toutes
quelqu quelque personne depuis ete avant apres ici aujourd hui soir matin jour jours
heure heures merci svp bonjour salut non oui ca cela ceci elle lui leur meme autre autres
""".split())
_WORD = re.compile(r"[^\W_]{3,}")
_STEM = 6
_BUCKETS = 1 << 22


def term_key(word: str) -> int:
    """A stable integer key for a stemmed word (crc32 does not change between processes)."""
    return zlib.crc32(word.encode()) % _BUCKETS


_MONEY = re.compile(
    r"(?<![\w.,])(?:[€$£]\s?(\d+)(?:[.,]\d+)?"
    r"|(\d+)(?:[.,]\d+)?\s?(?:€|\$|£|eur\b|euros?\b|dollars?\b|usd\b))")


def _money(match: re.Match[str]) -> str:
    return f" {CONCEPT_PREFIX}money{match.group(1) or match.group(2)} "


def content_words(text: str, brand: re.Pattern[str] | None = None) -> list[str]:
    """Stemmed content words and concepts of a text: no stop words, no brand name, no repeats.

    Words of the concept glossary become their concept ("carte refusée", "card declined" and
    "tarjeta rechazada" all give ``zzcard zzdeclined``), and amounts of money a token of their
    own ("+2€/mois", "€2 more" -> ``zzmoney2``): an incident is the same whatever the
    language people write it in, and the same price rise shows the same amount. The other
    words are stemmed to their first six letters after a plural s or x ("declined",
    "declines" -> "declin"; "trips" -> "trip"). The brand's own name is dropped: every
    message to the brand carries it, and a brand unseen in training would make it look rare
    and link everything; it is cut out of hashtags too ("#CroqueDown" -> "down").
    """
    folded = for_dedup(_MONEY.sub(_money, strip_accents(text.lower())))
    if brand is not None:  # after handles are gone, so "@NuviaMobile" leaves no "mobile"
        folded = brand.sub(" ", folded)
    seen: dict[str, None] = {}
    for word in _WORD.findall(concept_text(folded)):
        if word.startswith(CONCEPT_PREFIX):
            seen.setdefault(word, None)
            continue
        if word in _STOPWORDS or (word.isdigit() and len(word) < 3):
            continue
        if len(word) > 3 and word[-1] in "sx":
            word = word[:-1]
            if word in _STOPWORDS:
                continue
        seen.setdefault(word[:_STEM], None)
    return list(seen)


def document_frequencies(texts: Iterable[Sequence[str]]) -> tuple[dict[int, int], int]:
    """Document frequency of each term key over tokenised texts, and the number of texts."""
    df: dict[int, int] = {}
    n = 0
    for words in texts:
        n += 1
        for key in {term_key(w) for w in words}:
            df[key] = df.get(key, 0) + 1
    return df, n


@dataclass(slots=True)
class _Item:
    item_id: int
    created_at: datetime
    vector: dict[int, float]
    seed: bool


@dataclass(slots=True)
class _BrandWindow:
    """One brand's recent messages, their inverted index and their groups."""

    items: deque[_Item] = field(default_factory=deque)
    postings: dict[int, dict[int, float]] = field(default_factory=dict)
    seed_postings: dict[int, dict[int, float]] = field(default_factory=dict)
    label_of: dict[int, int] = field(default_factory=dict)
    members: dict[int, set[int]] = field(default_factory=dict)
    seeds: dict[int, int] = field(default_factory=dict)
    is_seed: dict[int, bool] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class IncidentSettings:
    """How alike messages must be, and how large and crisis-like a group must be."""

    similarity: float = 0.2
    min_size: int = 4
    min_seeds: int = 2
    window_items: int = 400
    window_hours: float = 48.0
    min_idf: float = 0.0
    strong_similarity: float = 1.01


class IncidentTracker:
    """Groups each brand's recent messages by shared content words; finds incident groups.

    Term weights are inverse document frequencies learnt from the training data (a word
    never seen there, like the name of a new error code, weighs the most).
    """

    def __init__(self, idf: dict[int, float], default_idf: float,
                 settings: IncidentSettings | None = None) -> None:
        self._idf = idf
        self._default_idf = default_idf
        self.settings = settings or IncidentSettings()
        self._window = timedelta(hours=self.settings.window_hours)
        self._brands: dict[str, _BrandWindow] = {}
        self._next_id = 0

    def vector(self, words: Sequence[str]) -> dict[int, float]:
        """Unit-length IDF weights of a message's content words (common words left out)."""
        weights: dict[int, float] = {}
        for word in words:
            key = term_key(word)
            weight = self._idf.get(key, self._default_idf)
            if weight >= self.settings.min_idf:
                weights[key] = weight
        norm = math.sqrt(sum(w * w for w in weights.values()))
        return {k: w / norm for k, w in weights.items()} if norm else {}

    def add(self, brand: str, created_at: datetime, words: Sequence[str],
            seed: bool) -> int:
        """Put a message in its brand's window; returns its id (see ``is_incident``)."""
        window = self._brands.get(brand)
        if window is None:
            window = self._brands[brand] = _BrandWindow()
        self._evict(window, created_at)
        item = _Item(self._next_id, created_at, self.vector(words), seed)
        self._next_id += 1
        strong = self.settings.strong_similarity
        # A link needs a seed at one end (below), so a message that is no seed is scored
        # against the seeds only: the same groups, without walking every posting list.
        index = window.postings if seed or strong <= 1.0 else window.seed_postings
        scores: dict[int, float] = {}
        for key, weight in item.vector.items():
            posting = index.get(key)
            if posting:
                for other, other_weight in posting.items():
                    scores[other] = scores.get(other, 0.0) + weight * other_weight
        label = item.item_id
        window.label_of[label] = label
        window.members[label] = {label}
        window.seeds[label] = int(seed)
        window.is_seed[label] = seed
        threshold = self.settings.similarity
        is_seed = window.is_seed
        for other, score in scores.items():
            # Only links that touch a seed count: two ordinary messages about the app do
            # not make an incident, and chains of them would swallow the whole brand.
            if (score >= threshold and (seed or is_seed[other])) or score >= strong:
                label = self._merge(window, label, window.label_of[other])
        for key, weight in item.vector.items():
            window.postings.setdefault(key, {})[item.item_id] = weight
            if seed:
                window.seed_postings.setdefault(key, {})[item.item_id] = weight
        window.items.append(item)
        return item.item_id

    def _qualifies(self, window: _BrandWindow, label: int) -> bool:
        return (len(window.members[label]) >= self.settings.min_size
                and window.seeds[label] >= self.settings.min_seeds)

    def is_incident(self, brand: str, item_id: int) -> bool:
        """True when the message's group (as it stands now) is an incident."""
        window = self._brands.get(brand)
        if window is None or item_id not in window.label_of:
            return False
        return self._qualifies(window, window.label_of[item_id])

    def group_size(self, brand: str, item_id: int) -> int:
        window = self._brands.get(brand)
        if window is None or item_id not in window.label_of:
            return 0
        return len(window.members[window.label_of[item_id]])

    @staticmethod
    def _merge(window: _BrandWindow, a: int, b: int) -> int:
        """Join two groups; the smaller one is relabelled, so merging stays cheap."""
        if a == b:
            return a
        if len(window.members[a]) < len(window.members[b]):
            a, b = b, a
        moved = window.members.pop(b)
        for item_id in moved:
            window.label_of[item_id] = a
        window.members[a] |= moved
        window.seeds[a] += window.seeds.pop(b)
        return a

    def _evict(self, window: _BrandWindow, now: datetime) -> None:
        limit = self.settings.window_items
        oldest = now - self._window
        items = window.items
        while items and (len(items) >= limit or items[0].created_at < oldest):
            item = items.popleft()
            for index in (window.postings, window.seed_postings) if item.seed \
                    else (window.postings,):
                for key in item.vector:
                    posting = index.get(key)
                    if posting is not None:
                        posting.pop(item.item_id, None)
                        if not posting:
                            del index[key]
            label = window.label_of.pop(item.item_id)
            del window.is_seed[item.item_id]
            group = window.members[label]
            group.discard(item.item_id)
            window.seeds[label] -= int(item.seed)
            if not group:
                del window.members[label]
                del window.seeds[label]
