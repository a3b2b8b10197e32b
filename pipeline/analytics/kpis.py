"""Community KPIs over enriched events: pure functions of an :class:`AnalyticsState`.

Every KPI is computed for a period ``[start, end)`` and, where a trend is shown, for the period
of the same length just before it. "Community" messages are the ones not written by the brand
(``author.is_brand``); the brand's own replies only serve the response-time and unresolved KPIs.
Time is the data's time (``created_at``), so a replayed week reads the same as a live one.
"""

from __future__ import annotations

import math
import statistics
from collections import Counter, defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from pipeline.analytics.state import AnalyticsState, author_key, author_label
from schemas.models import EnrichedEvent, Intent, Platform, ProductArea, Sentiment

__all__ = [
    "Bucket",
    "Member",
    "Period",
    "ResponseTime",
    "Trend",
    "buckets",
    "community",
    "members",
    "overview",
    "response_time",
    "share_of_voice",
    "unresolved_conversations",
]

AMBASSADOR_SCORE = 0.25
DETRACTOR_SCORE = -0.25


@dataclass(frozen=True)
class Period:
    """A half-open time range, and the filters every KPI of a view shares."""

    start: datetime
    end: datetime
    brand: str | None = None
    platform: Platform | None = None
    area: ProductArea | None = None

    @classmethod
    def ending(cls, end: datetime, days: float, **filters: object) -> Period:
        return cls(end - timedelta(days=days), end, **filters)  # type: ignore[arg-type]

    @property
    def previous(self) -> Period:
        length = self.end - self.start
        return Period(self.start - length, self.start, self.brand, self.platform, self.area)

    def with_brand(self, brand: str | None) -> Period:
        return Period(self.start, self.end, brand, self.platform, self.area)

    def holds(self, enriched: EnrichedEvent, *, any_brand: bool = False) -> bool:
        ev = enriched.event
        return (self.start <= ev.created_at < self.end
                and (any_brand or self.brand is None or ev.brand == self.brand)
                and (self.platform is None or ev.platform is self.platform)
                and (self.area is None or enriched.enrichment.product_area is self.area))


@dataclass(frozen=True)
class Trend:
    """A value now and over the previous period; ``change`` is relative (None from zero)."""

    current: float
    previous: float

    @property
    def change(self) -> float | None:
        if self.previous == 0:
            return None
        return (self.current - self.previous) / abs(self.previous)

    def as_dict(self) -> dict[str, float | None]:
        change = self.change
        return {"current": round(self.current, 3), "previous": round(self.previous, 3),
                "change": None if change is None else round(change, 3)}


@dataclass
class Bucket:
    """One time bucket of a brand's community messages."""

    start: datetime
    volume: int = 0
    sentiment: Counter[str] = field(default_factory=Counter)

    @property
    def net_sentiment(self) -> float | None:
        """(positive - negative) / all, in [-1, 1]; None for an empty bucket."""
        if not self.volume:
            return None
        return (self.sentiment["positive"] - self.sentiment["negative"]) / self.volume


@dataclass(frozen=True)
class ResponseTime:
    """First brand reply minus first community message, over the period's conversations."""

    conversations: int
    answered: int
    median_minutes: float | None
    p90_minutes: float | None


@dataclass
class Member:
    """One community member's activity, reach and tone over the period."""

    key: str
    label: str
    platform: Platform
    messages: int = 0
    followers: int | None = None
    score_sum: float = 0.0
    positive: int = 0
    negative: int = 0
    recent: list[tuple[datetime, str]] = field(default_factory=list)

    @property
    def mean_score(self) -> float:
        return self.score_sum / self.messages if self.messages else 0.0

    @property
    def stance(self) -> str:
        """ambassador, detractor or neutral, from the mean sentiment of their messages."""
        if self.mean_score >= AMBASSADOR_SCORE and self.positive > self.negative:
            return "ambassador"
        if self.mean_score <= DETRACTOR_SCORE and self.negative > self.positive:
            return "detractor"
        return "neutral"

    def as_dict(self, quotes: int = 3) -> dict[str, Any]:
        return {
            "label": self.label, "platform": self.platform.value, "messages": self.messages,
            "followers": self.followers, "mean_sentiment": round(self.mean_score, 3),
            "stance": self.stance,
            "recent": [text for _, text in sorted(self.recent, reverse=True)[:quotes]],
        }


# ---------------------------------------------------------------------------------- basics


def community(state: AnalyticsState, period: Period) -> list[EnrichedEvent]:
    """The period's community messages, oldest first."""
    found = [e for e in state.events.values()
             if not e.event.author.is_brand and period.holds(e)]
    return sorted(found, key=lambda e: e.event.created_at)


def buckets(messages: Iterable[EnrichedEvent], period: Period,
            size: timedelta) -> list[Bucket]:
    """Volume and sentiment per bucket, empty buckets included (a chart needs the gaps)."""
    start = _floor(period.start, size)
    out: list[Bucket] = []
    at = start
    while at < period.end:
        out.append(Bucket(at))
        at += size
    for e in messages:
        index = int((e.event.created_at - start) / size)
        if 0 <= index < len(out):
            out[index].volume += 1
            out[index].sentiment[e.enrichment.sentiment.value] += 1
    return out


def _net(messages: list[EnrichedEvent]) -> float:
    if not messages:
        return 0.0
    counts = Counter(e.enrichment.sentiment for e in messages)
    return (counts[Sentiment.positive] - counts[Sentiment.negative]) / len(messages)


def _authors(messages: Iterable[EnrichedEvent]) -> set[str]:
    return {k for k in (author_key(e) for e in messages) if k}


# ------------------------------------------------------------------------- conversations


def _conversations(state: AnalyticsState, period: Period) -> dict[str, list[EnrichedEvent]]:
    """Conversations whose first community message is in the period, all their messages."""
    by_key: dict[str, list[EnrichedEvent]] = defaultdict(list)
    for e in state.events.values():
        if period.brand is None or e.event.brand == period.brand:
            by_key[e.event.conversation_key].append(e)
    chosen: dict[str, list[EnrichedEvent]] = {}
    for key, messages in by_key.items():
        messages.sort(key=lambda e: e.event.created_at)
        first = next((e for e in messages if not e.event.author.is_brand), None)
        if first is not None and period.holds(first):
            chosen[key] = messages
    return chosen


def _first_reply_minutes(messages: list[EnrichedEvent]) -> float | None:
    first = next((e for e in messages if not e.event.author.is_brand), None)
    if first is None:
        return None
    opened = first.event.created_at
    reply = next((e for e in messages
                  if e.event.author.is_brand and e.event.created_at >= opened), None)
    return None if reply is None else (reply.event.created_at - opened).total_seconds() / 60


def response_time(state: AnalyticsState, period: Period) -> ResponseTime:
    """Minutes from the first community message of a conversation to the brand's first reply."""
    conversations = _conversations(state, period)
    delays = sorted(d for d in (_first_reply_minutes(m) for m in conversations.values())
                    if d is not None)
    return ResponseTime(
        conversations=len(conversations), answered=len(delays),
        median_minutes=round(statistics.median(delays), 1) if delays else None,
        p90_minutes=round(_quantile(delays, 0.9), 1) if delays else None,
    )


def unresolved_conversations(state: AnalyticsState, period: Period) -> list[str]:
    """Conversations that got a CRM ticket and no brand reply after their first message yet."""
    out = []
    for key, messages in _conversations(state, period).items():
        if key in state.tickets and _first_reply_minutes(messages) is None:
            out.append(key)
    return sorted(out)


# ---------------------------------------------------------------------------- comparisons


def share_of_voice(state: AnalyticsState, period: Period) -> dict[str, float]:
    """Each brand's share of the community messages of the period (filters but the brand)."""
    volumes = Counter(e.event.brand for e in state.events.values()
                      if not e.event.author.is_brand and period.holds(e, any_brand=True))
    total = sum(volumes.values())
    return {b: round(n / total, 4) for b, n in volumes.most_common()} if total else {}


def members(messages: Iterable[EnrichedEvent]) -> list[Member]:
    """Authors ranked by activity, then reach; each with tone and recent redacted messages."""
    by_key: dict[str, Member] = {}
    for e in messages:
        key = author_key(e)
        if key is None:
            continue
        member = by_key.get(key)
        if member is None:
            member = by_key[key] = Member(key, author_label(e), e.event.platform)
        member.messages += 1
        followers = e.event.author.followers
        if followers is not None:
            member.followers = max(member.followers or 0, followers)
        member.score_sum += e.enrichment.sentiment_score
        member.positive += e.enrichment.sentiment is Sentiment.positive
        member.negative += e.enrichment.sentiment is Sentiment.negative
        if e.enrichment.redacted_text:
            member.recent.append((e.event.created_at, e.enrichment.redacted_text))
    return sorted(by_key.values(), key=lambda m: (-m.messages, -(m.followers or 0), m.label))


# ------------------------------------------------------------------------------ overview


def overview(state: AnalyticsState, period: Period, bucket: timedelta,
             top: int = 5) -> dict[str, Any]:
    """Every KPI of one brand (or all brands) for the dashboard's overview, JSON-ready."""
    now = community(state, period)
    before = community(state, period.previous)
    authors_now, authors_before = _authors(now), _authors(before)
    earlier = _authors(e for e in state.events.values() if not e.event.author.is_brand
                       and e.event.created_at < period.start
                       and (period.brand is None or e.event.brand == period.brand))
    sentiment = Counter(e.enrichment.sentiment.value for e in now)
    intents = Counter(e.enrichment.intent.value for e in now)
    areas_now = Counter(e.enrichment.product_area for e in now)
    areas_before = Counter(e.enrichment.product_area for e in before)
    negative_by_area = Counter(e.enrichment.product_area for e in now
                               if e.enrichment.sentiment is Sentiment.negative)
    ranked = members(now)
    rt, rt_before = response_time(state, period), response_time(state, period.previous)
    brand_of = {e.event.conversation_key: e.event.brand for e in state.events.values()}
    ticket_outcomes = Counter(r.outcome.value for r in state.ticket_results.values()
                              if period.brand is None
                              or brand_of.get(r.external_id) == period.brand)
    return {
        "brand": period.brand,
        "period": {"start": period.start.isoformat(), "end": period.end.isoformat(),
                   "bucket_minutes": int(bucket.total_seconds() // 60)},
        "volume": Trend(len(now), len(before)).as_dict(),
        "sentiment": {
            "mix": {s.value: sentiment[s.value] for s in Sentiment},
            "net": Trend(_net(now), _net(before)).as_dict(),
        },
        "intents": {i.value: intents[i.value] for i in Intent if intents[i.value]},
        "community": {
            "authors": Trend(len(authors_now), len(authors_before)).as_dict(),
            "new_authors": len(authors_now - earlier),
        },
        "response_time": {
            "conversations": rt.conversations, "answered": rt.answered,
            "median_minutes": rt.median_minutes, "p90_minutes": rt.p90_minutes,
            "previous_median_minutes": rt_before.median_minutes,
        },
        "unresolved": unresolved_conversations(state, period),
        "share_of_voice": share_of_voice(state, period),
        "platforms": dict(Counter(e.event.platform.value for e in now).most_common()),
        "themes": [
            {"theme": area.value, "count": n, "previous": areas_before[area],
             "negative_share": round(negative_by_area[area] / n, 3)}
            for area, n in areas_now.most_common(top * 2)
        ],
        "timeline": [
            {"start": b.start.isoformat(), "volume": b.volume,
             **{s.value: b.sentiment[s.value] for s in Sentiment},
             "net": None if b.net_sentiment is None else round(b.net_sentiment, 3)}
            for b in buckets(now, period, bucket)
        ],
        "members": {
            "active": [m.as_dict() for m in ranked[:top]],
            "prescribers": [m.as_dict() for m in sorted(
                (m for m in ranked if m.followers), key=lambda m: -(m.followers or 0))[:top]],
            "ambassadors": [m.as_dict() for m in ranked if m.stance == "ambassador"][:top],
            "detractors": [m.as_dict() for m in ranked if m.stance == "detractor"][:top],
        },
        "tickets": dict(ticket_outcomes),
    }


def _quantile(values: list[float], q: float) -> float:
    """Nearest-rank quantile of sorted values (no interpolation: an actual delay)."""
    index = max(0, min(len(values) - 1, math.ceil(q * len(values)) - 1))
    return values[index]


def _floor(at: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=at.tzinfo)
    return epoch + ((at - epoch) // size) * size
