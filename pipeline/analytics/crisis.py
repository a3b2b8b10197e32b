"""Crisis detection: volume and negativity spikes against a rolling baseline per brand x theme.

Pure and event-time driven: the detector's clock is the newest ``created_at`` it has seen (or a
time handed to :meth:`CrisisDetector.tick`), so replaying a topic gives the same incidents and
the same alerts as the live run did. The wall clock only closes an incident of a live stream
gone quiet (:meth:`CrisisDetector.expire`), and dates the close in event time all the same.
That is what lets the shells rebuild the state from the topics at start and skip the alerts
already published.

Per (brand, theme) the detector keeps an EWMA of hourly counts (all community messages, and the
negative ones), floored so that a theme with no history does not alert on its first two messages.
The EWMA is bias-corrected and no incident opens before ``warmup`` of history. The last
``window`` of messages is compared with that baseline (Poisson z-score and ratio); a
spike opens ONE incident, which is updated only when it has grown materially (and not more often
than ``update_min_interval``) and closed once nothing new arrived for ``cooldown``. While an
incident is open its hours are kept out of the baseline, so a long outage does not become normal.
"""

from __future__ import annotations

import heapq
import math
from collections import deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

from schemas.models import (
    Action,
    CrisisAlert,
    EnrichedEvent,
    Intent,
    Lang,
    Platform,
    ProductArea,
    Sentiment,
    stable_id,
)

__all__ = ["CrisisConfig", "CrisisDetector", "Incident", "KeyState", "ReorderBuffer",
           "counts_for_crisis", "is_signal"]

Key = tuple[str, ProductArea]


@dataclass(frozen=True)
class CrisisConfig:
    """Thresholds of the detector; every one is a setting (see ``Settings.crisis_*``)."""

    window: timedelta = timedelta(minutes=60)
    bucket: timedelta = timedelta(hours=1)
    halflife_hours: float = 24.0
    baseline_floor: float = 0.5
    z_threshold: float = 3.0
    ratio_threshold: float = 3.0
    min_messages: int = 3
    negative_share_min: float = 0.5
    update_growth: float = 1.0
    update_min_messages: int = 3
    update_min_interval: timedelta = timedelta(minutes=30)
    cooldown: timedelta = timedelta(minutes=120)
    first_messages: int = 5
    dedup_horizon: timedelta = timedelta(days=3)
    warmup: timedelta = timedelta(hours=6)

    @property
    def alpha(self) -> float:
        """EWMA weight of one bucket, from the half-life."""
        buckets = self.halflife_hours / (self.bucket.total_seconds() / 3600)
        return 1.0 - 0.5 ** (1.0 / max(buckets, 1e-9))


@dataclass(frozen=True)
class _Msg:
    at: datetime
    negative: bool
    platform: Platform
    lang: Lang
    text: str


@dataclass
class Incident:
    """One open incident of a brand x theme, with what its alerts report."""

    incident_id: str
    started_at: datetime
    last_signal_at: datetime
    baseline_per_hour: float
    count: int = 0
    platforms: list[Platform] = field(default_factory=list)
    languages: list[Lang] = field(default_factory=list)
    first_messages: list[str] = field(default_factory=list)
    alerted_count: int = 0
    alerted_at: datetime | None = None
    seen_at: datetime = field(default_factory=lambda: datetime.min.replace(tzinfo=UTC))


@dataclass
class KeyState:
    """Rolling baseline and recent window of one brand x theme."""

    ewma_total: float = 0.0
    ewma_negative: float = 0.0
    bucket_start: datetime | None = None
    bucket_total: int = 0
    bucket_negative: int = 0
    window: deque[_Msg] = field(default_factory=deque)
    incident: Incident | None = None
    latest: datetime | None = None


@dataclass(frozen=True)
class _Rates:
    total: int
    negative: int
    expected_total: float
    expected_negative: float

    def spike(self, config: CrisisConfig) -> bool:
        return _is_spike(self.negative, self.expected_negative, config) or (
            _is_spike(self.total, self.expected_total, config)
            and self.negative >= config.negative_share_min * self.total)

    @property
    def growth(self) -> float:
        return self.negative / self.expected_negative if self.expected_negative else 0.0


def _is_spike(count: int, expected: float, config: CrisisConfig) -> bool:
    if count < config.min_messages:
        return False
    z = (count - expected) / math.sqrt(expected)
    return z >= config.z_threshold and count / expected >= config.ratio_threshold


def is_signal(enriched: EnrichedEvent) -> bool:
    """Negative messages and outage language count towards an incident."""
    enr = enriched.enrichment
    return enr.sentiment is Sentiment.negative or enr.crisis_signal


def counts_for_crisis(enriched: EnrichedEvent) -> bool:
    """Community messages only: not the brand itself, not spam, not an edit or a removal."""
    ev = enriched.event
    return (not ev.author.is_brand and ev.action is Action.created
            and enriched.enrichment.intent is not Intent.spam)


class CrisisDetector:
    """Feeds on enriched events in (roughly) time order and returns the alerts to publish."""

    def __init__(self, config: CrisisConfig | None = None) -> None:
        self.config = config or CrisisConfig()
        self.keys: dict[Key, KeyState] = {}
        self.watermark: datetime | None = None
        self._seen: dict[str, datetime] = {}
        self._last_prune: datetime | None = None
        self.first_seen: datetime | None = None

    # ------------------------------------------------------------------------------ input

    def observe(self, enriched: EnrichedEvent,
                seen_at: datetime | None = None) -> list[CrisisAlert]:
        """Account for one event; returns the alerts it causes (often none).

        ``seen_at`` is when it was read (wall clock); :meth:`expire` closes an incident on
        that clock, so a backfill of old messages read in seconds never closes one early.
        """
        if not counts_for_crisis(enriched):
            return []
        ev = enriched.event
        if ev.event_id in self._seen:
            return []
        self._seen[ev.event_id] = ev.created_at
        if self.first_seen is None or ev.created_at < self.first_seen:
            self.first_seen = ev.created_at
        alerts = self.tick(ev.created_at)
        key: Key = (ev.brand, enriched.enrichment.product_area)
        state = self.keys.setdefault(key, KeyState())
        # The window ends at this theme's newest message: other partitions running ahead in a
        # replay must not push its messages out of their own window.
        state.latest = max(state.latest or ev.created_at, ev.created_at)
        now = state.latest
        self._roll_buckets(state, ev.created_at)
        signal = is_signal(enriched)
        msg = _Msg(ev.created_at, signal, ev.platform, enriched.enrichment.lang,
                   enriched.enrichment.redacted_text)
        if ev.created_at >= now - self.config.window:
            state.window.append(msg)
        state.bucket_total += 1
        state.bucket_negative += int(signal)
        rates = self._rates(state, now)
        incident = state.incident
        if incident is not None:
            if signal:
                self._add(incident, msg)
                incident.seen_at = max(incident.seen_at, seen_at or ev.created_at)
                if self._grew(incident, now):
                    alerts.append(self._alert(key, incident, "update", now, rates))
        elif rates.spike(self.config) and self._warm(now):
            alerts.append(self._open(key, state, now, rates))
            state.incident.seen_at = seen_at or ev.created_at  # type: ignore[union-attr]
        return alerts

    def expire(self, wall_now: datetime) -> list[CrisisAlert]:
        """Close the incidents that got no message for ``cooldown`` of wall-clock time (a live
        stream gone quiet: no newer event will move event time). The close is dated in event
        time, ``cooldown`` after the last message, as :meth:`tick` would date it."""
        alerts: list[CrisisAlert] = []
        for key, state in sorted(self.keys.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            incident = state.incident
            if incident is not None and wall_now - incident.seen_at >= self.config.cooldown:
                closes_at = incident.last_signal_at + self.config.cooldown
                alerts.append(self._alert(key, incident, "closed", closes_at,
                                          self._rates(state, closes_at)))
                state.incident = None
        return alerts

    def tick(self, now: datetime) -> list[CrisisAlert]:
        """Let event time pass to ``now``: closes the incidents whose cool-down is over."""
        if self.watermark is not None and now <= self.watermark:
            return []
        self.watermark = now
        alerts: list[CrisisAlert] = []
        for key, state in sorted(self.keys.items(), key=lambda kv: (kv[0][0], kv[0][1].value)):
            incident = state.incident
            if incident is None:
                continue
            closes_at = incident.last_signal_at + self.config.cooldown
            if now >= closes_at:
                rates = self._rates(state, closes_at)
                alerts.append(self._alert(key, incident, "closed", closes_at, rates))
                state.incident = None
        self._prune_seen(now)
        return alerts

    # ---------------------------------------------------------------------------- queries

    def open_incidents(self) -> dict[Key, Incident]:
        return {k: s.incident for k, s in self.keys.items() if s.incident is not None}

    def baseline(self, brand: str, theme: ProductArea) -> float:
        """Negative messages per hour the detector expects for this brand x theme now."""
        state = self.keys.get((brand, theme))
        if state is None:
            return self.config.baseline_floor
        return max(state.ewma_negative / self._debias(state), self.config.baseline_floor)

    # -------------------------------------------------------------------------- internals

    def _roll_buckets(self, state: KeyState, at: datetime) -> None:
        """Close the buckets before ``at`` into the EWMA; empty hours decay it."""
        size = self.config.bucket
        start = _floor(at, size)
        if state.bucket_start is None:
            state.bucket_start = start
            return
        if start <= state.bucket_start:
            return
        alpha = self.config.alpha
        if state.incident is None:
            state.ewma_total += alpha * (state.bucket_total - state.ewma_total)
            state.ewma_negative += alpha * (state.bucket_negative - state.ewma_negative)
            empty = int((start - state.bucket_start) / size) - 1
            decay = (1.0 - alpha) ** max(empty, 0)
            state.ewma_total *= decay
            state.ewma_negative *= decay
        state.bucket_start, state.bucket_total, state.bucket_negative = start, 0, 0

    def _warm(self, now: datetime) -> bool:
        """No incident before ``warmup`` of history: a cold baseline would alert on anything."""
        return self.first_seen is not None and now - self.first_seen >= self.config.warmup

    def _debias(self, state: KeyState) -> float:
        """EWMA bias correction: the average starts at zero, so divide by the weight seen.

        History counts from the detector's first event (a theme that stayed silent had zero
        messages an hour), so a busy theme has its real baseline after a few hours.
        """
        if self.first_seen is None or state.bucket_start is None:
            return 1.0
        buckets = (state.bucket_start - _floor(self.first_seen, self.config.bucket)) / (
            self.config.bucket)
        weight = 1.0 - (1.0 - self.config.alpha) ** max(buckets, 0)
        return weight if weight > 1e-9 else 1.0

    def _rates(self, state: KeyState, now: datetime) -> _Rates:
        cutoff = now - self.config.window
        while state.window and state.window[0].at < cutoff:
            state.window.popleft()
        recent = [m for m in state.window if m.at <= now]
        hours = self.config.window.total_seconds() / 3600
        floor = self.config.baseline_floor
        weight = self._debias(state)
        return _Rates(
            total=len(recent),
            negative=sum(m.negative for m in recent),
            expected_total=max(state.ewma_total / weight, floor) * hours,
            expected_negative=max(state.ewma_negative / weight, floor) * hours,
        )

    def _open(self, key: Key, state: KeyState, now: datetime, rates: _Rates) -> CrisisAlert:
        signals = sorted((m for m in state.window if m.negative), key=lambda m: m.at)
        started = signals[0].at if signals else now
        incident = Incident(
            incident_id=stable_id("crisis", key[0], key[1].value, started.isoformat()),
            started_at=started, last_signal_at=started,
            baseline_per_hour=max(state.ewma_negative / self._debias(state),
                                  self.config.baseline_floor),
        )
        for msg in signals:
            self._add(incident, msg)
        state.incident = incident
        return self._alert(key, incident, "open", now, rates)

    def _add(self, incident: Incident, msg: _Msg) -> None:
        incident.count += 1
        incident.last_signal_at = max(incident.last_signal_at, msg.at)
        if msg.platform not in incident.platforms:
            incident.platforms.append(msg.platform)
        if msg.lang not in incident.languages:
            incident.languages.append(msg.lang)
        if len(incident.first_messages) < self.config.first_messages and msg.text:
            incident.first_messages.append(msg.text)

    def _grew(self, incident: Incident, now: datetime) -> bool:
        """Material growth only: a share and an absolute number more, and not too often."""
        cfg = self.config
        more = incident.count - incident.alerted_count
        recent = incident.alerted_at is not None and now - incident.alerted_at < (
            cfg.update_min_interval)
        return (not recent and more >= cfg.update_min_messages
                and incident.count >= incident.alerted_count * (1 + cfg.update_growth))

    def _alert(self, key: Key, incident: Incident, status: str, at: datetime,
               rates: _Rates) -> CrisisAlert:
        incident.alerted_count = incident.count
        incident.alerted_at = at
        return CrisisAlert(
            incident_id=incident.incident_id, brand=key[0], theme=key[1],
            status=status,  # type: ignore[arg-type]  # one of the three literals
            started_at=incident.started_at, updated_at=at, message_count=incident.count,
            baseline_per_hour=round(incident.baseline_per_hour, 3),
            growth=round(rates.growth, 2), platforms=list(incident.platforms),
            languages=list(incident.languages), first_messages=list(incident.first_messages),
        )

    def _prune_seen(self, now: datetime) -> None:
        """Forget event ids older than the horizon (re-deliveries come soon after)."""
        horizon = self.config.dedup_horizon
        if self._last_prune is not None and now - self._last_prune < horizon / 4:
            return
        self._last_prune = now
        self._seen = {k: v for k, v in self._seen.items() if now - v < horizon}


def _floor(at: datetime, size: timedelta) -> datetime:
    epoch = datetime(1970, 1, 1, tzinfo=at.tzinfo)
    return epoch + ((at - epoch) // size) * size


class ReorderBuffer:
    """Puts events from several partitions back into time order before the detector sees them.

    Each partition is in order on its own, but a replay can read one partition days ahead of
    another. An event is released once every partition that has delivered has moved past its
    time (the partition watermark), or once it has been held ``max_hold`` of wall-clock time (a
    silent partition must not stall live alerts for longer), or on ``flush``.
    """

    def __init__(self, max_hold: timedelta = timedelta(seconds=30)) -> None:
        self.max_hold = max_hold
        self._heap: list[tuple[datetime, int, datetime, EnrichedEvent]] = []
        self._latest: dict[int, datetime] = {}
        self._silent: set[int] = set()
        self._seq = 0

    def __len__(self) -> int:
        return len(self._heap)

    def expect(self, partitions: Iterable[int]) -> None:
        """Partitions that will deliver: nothing is released (but for ``max_hold``) before
        each has delivered once, so a partition read late cannot find its events overtaken."""
        self._silent.update(p for p in partitions if p not in self._latest)

    def push(self, partition: int, enriched: EnrichedEvent, seen_at: datetime) -> None:
        """Hold an event read from ``partition`` at ``seen_at`` (wall clock)."""
        at = enriched.event.created_at
        self._latest[partition] = max(self._latest.get(partition, at), at)
        self._silent.discard(partition)
        self._seq += 1
        heapq.heappush(self._heap, (at, self._seq, seen_at, enriched))

    def release(self, now: datetime | None = None,
                flush: bool = False) -> list[tuple[EnrichedEvent, datetime]]:
        """The events safe to process at ``now`` (wall clock), oldest first, each with the
        time it was read."""
        if not self._heap:
            return []
        threshold = min(self._latest.values()) if not self._silent else self._heap[0][0] - (
            timedelta(microseconds=1))
        if now is not None:
            overdue = [item[0] for item in self._heap if item[2] <= now - self.max_hold]
            if overdue:
                threshold = max(threshold, max(overdue))
        out = []
        while self._heap and (flush or self._heap[0][0] <= threshold):
            item = heapq.heappop(self._heap)
            out.append((item[3], item[2]))
        return out
