"""Near-duplicate detection within a sliding per-brand time window.

Copy-pasted complaints, retweeted scams and a user re-posting with a typo fixed should all point
at the first message of the chain. Candidates come from an inverted index of word bigrams (so the
check stays fast with thousands of texts in the window), and rapidfuzz's normalised Indel ratio
on the normalised text decides. The window is bounded in both time and item count.
"""

from __future__ import annotations

from collections import Counter, deque
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import pairwise

from rapidfuzz.distance import Indel

from pipeline.enrich.text import for_dedup

_MAX_CANDIDATES = 24
_COMMON_POSTING = 400  # bigrams this frequent ('je suis') select nothing useful


@dataclass(slots=True)
class _Entry:
    event_id: str
    root_id: str
    created_at: datetime
    key: str
    shingles: frozenset[str]


@dataclass(slots=True)
class _BrandWindow:
    entries: deque[_Entry] = field(default_factory=deque)
    index: dict[str, deque[_Entry]] = field(default_factory=dict)
    first_by_key: dict[str, _Entry] = field(default_factory=dict)


def _shingles(key: str) -> frozenset[str]:
    words = key.split()
    if len(words) < 3:
        return frozenset(words)
    return frozenset(f"{a} {b}" for a, b in pairwise(words))


class NearDuplicateIndex:
    """Remembers recent texts per brand and finds the first near-duplicate of a new one."""

    def __init__(self, window: timedelta, threshold: float, min_chars: int,
                 max_items_per_brand: int) -> None:
        self._window = window
        self._cutoff = threshold / 100.0
        self._min_chars = min_chars
        self._max_items = max_items_per_brand
        self._brands: dict[str, _BrandWindow] = {}
        self._seen_ids: dict[str, str | None] = {}

    def check_and_add(self, brand: str, event_id: str, text: str,
                      created_at: datetime) -> str | None:
        """Return the event_id of the first near-duplicate in the window, then remember text.

        A second look at the same event_id (a replay or an edit) gives the same answer and is
        not stored twice.
        """
        known = self._seen_ids.get(event_id, "")
        if known != "":
            return known
        key = for_dedup(text)
        if len(key) < self._min_chars:
            return None
        window = self._brands.setdefault(brand, _BrandWindow())
        self._evict(window, created_at)
        shingles = _shingles(key)
        match = self._best_match(window, key, shingles, created_at)
        root = match.root_id if match is not None else event_id
        entry = _Entry(event_id, root, created_at, key, shingles)
        window.entries.append(entry)
        window.first_by_key.setdefault(key, entry)
        index = window.index
        for shingle in shingles:
            posting = index.get(shingle)
            if posting is None:
                index[shingle] = posting = deque()
            posting.append(entry)
        dup_of = None if match is None else match.root_id
        self._seen_ids[event_id] = dup_of
        return dup_of

    def _best_match(self, window: _BrandWindow, key: str, shingles: frozenset[str],
                    created_at: datetime) -> _Entry | None:
        exact = window.first_by_key.get(key)
        if exact is not None and abs(created_at - exact.created_at) <= self._window:
            return exact  # a verbatim repost (copy-paste spam): no need to score candidates
        votes: Counter[int] = Counter()
        by_id: dict[int, _Entry] = {}
        many = len(shingles) >= 4
        for shingle in shingles:
            posting = window.index.get(shingle)
            if posting is None or (many and len(posting) > _COMMON_POSTING):
                continue
            for entry in posting:
                votes[id(entry)] += 1
                by_id[id(entry)] = entry
        best: _Entry | None = None
        best_score = self._cutoff
        for entry_id, _ in votes.most_common(_MAX_CANDIDATES):
            entry = by_id[entry_id]
            if abs(created_at - entry.created_at) > self._window:
                continue
            score = Indel.normalized_similarity(key, entry.key, score_cutoff=best_score)
            if score >= best_score and (best is None or score > best_score
                                        or entry.created_at < best.created_at):
                best, best_score = entry, score
        return best

    def _evict(self, window: _BrandWindow, now: datetime) -> None:
        entries = window.entries
        while entries and (len(entries) >= self._max_items
                           or now - entries[0].created_at > self._window):
            old = entries.popleft()
            self._seen_ids.pop(old.event_id, None)
            if window.first_by_key.get(old.key) is old:
                del window.first_by_key[old.key]
            for shingle in old.shingles:
                posting = window.index.get(shingle)
                if posting is None:
                    continue
                if posting[0] is old:  # entries leave in arrival order
                    posting.popleft()
                else:
                    posting.remove(old)
                if not posting:
                    del window.index[shingle]
