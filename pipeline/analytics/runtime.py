"""What one analytics process does with the records it reads, without any I/O.

The worker task and the tests drive the same object: batches of (topic, partition, value) go in,
the state is updated, enriched events are put back in time order for the crisis detector, and
the alerts that come out are the ones not published yet (a restart replays the topics and must
not re-alert an incident that is already on ``alerts.crisis``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from datetime import datetime, timedelta

from pydantic import ValidationError

from pipeline.analytics.crisis import CrisisConfig, CrisisDetector, ReorderBuffer
from pipeline.analytics.state import AnalyticsState
from pipeline.settings import Settings
from schemas.models import CrisisAlert, EnrichedEvent, utcnow

__all__ = ["AnalyticsRuntime", "alert_key", "crisis_config"]

log = logging.getLogger(__name__)


def crisis_config(settings: Settings) -> CrisisConfig:
    """The detector's thresholds from the settings."""
    return CrisisConfig(
        window=timedelta(minutes=settings.crisis_window_minutes),
        halflife_hours=settings.crisis_halflife_hours,
        baseline_floor=settings.crisis_baseline_floor,
        z_threshold=settings.crisis_z_threshold,
        ratio_threshold=settings.crisis_ratio_threshold,
        min_messages=settings.crisis_min_messages,
        negative_share_min=settings.crisis_negative_share_min,
        update_growth=settings.crisis_update_growth,
        update_min_messages=settings.crisis_update_min_messages,
        update_min_interval=timedelta(minutes=settings.crisis_update_min_interval_minutes),
        cooldown=timedelta(minutes=settings.crisis_cooldown_minutes),
        warmup=timedelta(hours=settings.crisis_warmup_hours),
    )


def alert_key(alert: CrisisAlert) -> tuple[str, str, int]:
    """Identity of a published alert: an update is new only with a new message count."""
    return (alert.incident_id, alert.status,
            alert.message_count if alert.status == "update" else 0)


class AnalyticsRuntime:
    """State, crisis detector and the set of alerts already published."""

    def __init__(self, config: CrisisConfig | None = None,
                 published: Iterable[CrisisAlert] = (),
                 max_hold: timedelta = timedelta(seconds=30)) -> None:
        self.state = AnalyticsState()
        self.detector = CrisisDetector(config)
        self.buffer = ReorderBuffer(max_hold=max_hold)
        self.published = {alert_key(a) for a in published}
        for alert in published:
            self.state.add_alert(alert)

    def expect(self, topic: str, partitions: Iterable[int]) -> None:
        """The partitions of ``topic`` being read; ``social.enriched`` ones are waited for."""
        if topic == "social.enriched":
            self.buffer.expect(partitions)

    def ingest(self, batch: Iterable[tuple[str, int, bytes]],
               now: datetime | None = None) -> list[CrisisAlert]:
        """Fold a batch read at ``now`` (wall clock) in; returns the new alerts to publish."""
        seen_at = now or utcnow()
        for topic, partition, value in batch:
            self.state.apply(topic, value)
            if topic == "social.enriched":
                try:
                    enriched = EnrichedEvent.model_validate_json(value)
                except ValidationError:
                    continue  # counted as unreadable by the state
                self.buffer.push(partition, enriched, seen_at)
        return self._detect(self.buffer.release(seen_at))

    def idle(self, now: datetime) -> list[CrisisAlert]:
        """Nothing new to read at ``now`` (wall clock): process what was held back too long,
        then close the incidents that stayed quiet for their cool-down."""
        alerts = self._detect(self.buffer.release(now))
        return alerts + self._new(self.detector.expire(now))

    def _detect(self, events: list[tuple[EnrichedEvent, datetime]]) -> list[CrisisAlert]:
        alerts: list[CrisisAlert] = []
        for enriched, seen_at in events:
            alerts.extend(self._new(self.detector.observe(enriched, seen_at)))
        return alerts

    def _new(self, alerts: list[CrisisAlert]) -> list[CrisisAlert]:
        fresh = []
        for alert in alerts:
            key = alert_key(alert)
            if key in self.published:
                continue
            self.published.add(key)
            self.state.add_alert(alert)
            fresh.append(alert)
        return fresh
