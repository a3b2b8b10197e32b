"""The analytics state: what the topics say, folded into memory, deduplicated.

Both the worker's analytics agents and the dashboard rebuild this from the topics at start (the
embedded broker cannot be trusted to restore table state, and replays give duplicates), so
every ``add_*`` is idempotent: an event counts once per ``event_id`` and an edit replaces the
earlier version, a removal takes the message out, the latest alert of an incident wins.
"""

from __future__ import annotations

import hashlib
import logging
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime

from pydantic import ValidationError

from schemas.models import (
    Action,
    ConnectorHealth,
    CrisisAlert,
    DeadLetter,
    EnrichedEvent,
    FeedbackItem,
    TicketOutcome,
    TicketResult,
)

__all__ = ["TOPICS_READ", "AnalyticsState", "author_key", "author_label"]

log = logging.getLogger(__name__)

TOPICS_READ = ("social.enriched", "alerts.crisis", "crm.results", "connectors.health",
               "social.deadletter")
"""Topics the analytics state is built from, besides every ``feedback.<area>``."""


def author_key(enriched: EnrichedEvent) -> str | None:
    """One key per person per platform (ids first: handles and names can change)."""
    ev = enriched.event
    who = ev.author.id or ev.author.handle or ev.author.name
    return f"{ev.platform.value}:{who}" if who else None


def author_label(enriched: EnrichedEvent) -> str:
    """What a community manager recognises: the public handle, else the display name."""
    author = enriched.event.author
    if author.handle:
        return author.handle if author.handle.startswith("@") else f"@{author.handle}"
    return author.name or ""


@dataclass
class AnalyticsState:
    """Everything the KPIs, crisis view and feedback browser read, keyed for idempotence."""

    events: dict[str, EnrichedEvent] = field(default_factory=dict)
    removed: set[str] = field(default_factory=set)
    tickets: dict[str, TicketResult] = field(default_factory=dict)
    ticket_results: dict[str, TicketResult] = field(default_factory=dict)
    health: dict[str, ConnectorHealth] = field(default_factory=dict)
    dead_letters: dict[tuple[str | None, int | None, int | None, str], DeadLetter] = field(
        default_factory=dict)
    alerts: dict[str, CrisisAlert] = field(default_factory=dict)
    feedback: dict[str, FeedbackItem] = field(default_factory=dict)
    records: Counter[str] = field(default_factory=Counter)
    unreadable: Counter[str] = field(default_factory=Counter)

    # ------------------------------------------------------------------------------ input

    def apply(self, topic: str, value: bytes) -> None:
        """Fold one record of ``topic`` in; a record that does not parse is counted, not fatal."""
        self.records[topic] += 1
        try:
            if topic == "social.enriched":
                self.add_enriched(EnrichedEvent.model_validate_json(value))
            elif topic == "alerts.crisis":
                self.add_alert(CrisisAlert.model_validate_json(value))
            elif topic == "crm.results":
                self.add_ticket_result(TicketResult.model_validate_json(value))
            elif topic == "connectors.health":
                self.add_health(ConnectorHealth.model_validate_json(value))
            elif topic == "social.deadletter":
                self.add_dead_letter(DeadLetter.model_validate_json(value))
            elif topic.startswith("feedback."):
                self.add_feedback(FeedbackItem.model_validate_json(value))
        except ValidationError as exc:
            self.unreadable[topic] += 1
            log.warning("unreadable record on %s: %s", topic, exc.errors()[0]["msg"])

    def add_enriched(self, enriched: EnrichedEvent) -> None:
        ev = enriched.event
        if ev.event_id in self.removed:
            return
        if ev.action is Action.deleted:
            self.removed.add(ev.event_id)
            self.events.pop(ev.event_id, None)
            return
        earlier = self.events.get(ev.event_id)
        if earlier is None or ev.received_at >= earlier.event.received_at:
            self.events[ev.event_id] = enriched

    def add_ticket_result(self, result: TicketResult) -> None:
        self.ticket_results[result.command_id] = result
        if result.outcome is not TicketOutcome.failed:
            known = self.tickets.get(result.external_id)
            if known is None or result.at < known.at:
                self.tickets[result.external_id] = result

    def add_health(self, health: ConnectorHealth) -> None:
        key = f"{health.connector}/{health.account or '-'}"
        known = self.health.get(key)
        if known is None or health.at >= known.at:
            self.health[key] = health

    def add_dead_letter(self, letter: DeadLetter) -> None:
        key = (letter.source_topic, letter.partition, letter.offset,
               f"{letter.stage.value}:{hashlib.sha256(letter.raw).hexdigest()[:16]}")
        self.dead_letters[key] = letter

    def add_alert(self, alert: CrisisAlert) -> None:
        known = self.alerts.get(alert.incident_id)
        if known is None or _alert_order(alert) >= _alert_order(known):
            self.alerts[alert.incident_id] = alert

    def add_feedback(self, item: FeedbackItem) -> None:
        self.feedback[item.feedback_id] = item

    # ---------------------------------------------------------------------------- queries

    def brands(self) -> list[str]:
        return sorted({e.event.brand for e in self.events.values()})

    def latest_time(self) -> datetime | None:
        """The newest message time: "now" for the data, which may be a replayed past."""
        times = [e.event.created_at for e in self.events.values()]
        times.extend(f.created_at for f in self.feedback.values())
        return max(times) if times else None

    @property
    def total_records(self) -> int:
        return sum(self.records.values())


def _alert_order(alert: CrisisAlert) -> tuple[datetime, int, int]:
    rank = {"open": 0, "update": 1, "closed": 2}[alert.status]
    return (alert.updated_at, rank, alert.message_count)
