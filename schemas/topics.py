"""The one declaration of every topic: name, key, value model, partitions, cleanup policy.

Everything else (topic creation, faust topics, JSON Schema export, the catalog) reads this
table, so a topic cannot exist in one place and be missing or different in another.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from pydantic import BaseModel

from schemas.models import (
    ConnectorHealth,
    CrisisAlert,
    CrisisSignal,
    CursorState,
    DeadLetter,
    EnrichedEvent,
    FeedbackItem,
    ModerationItem,
    ProductArea,
    QualityResult,
    QuarantineRecord,
    RawEnvelope,
    SocialEvent,
    TicketCommand,
    TicketResult,
)

DAY_MS = 24 * 3600 * 1000


@dataclass(frozen=True)
class TopicSpec:
    """How one topic is shaped and why it exists."""

    name: str
    value_model: type[BaseModel]
    key: str
    purpose: str
    partitions: int = 6
    cleanup_policy: str = "delete"
    retention_ms: int = 7 * DAY_MS
    producers: tuple[str, ...] = ()
    consumers: tuple[str, ...] = ()
    extra_config: dict[str, str] = field(default_factory=dict)

    @property
    def config(self) -> dict[str, str]:
        """Broker-side topic configs, as Kafka names them."""
        return {
            "cleanup.policy": self.cleanup_policy,
            "retention.ms": str(self.retention_ms),
            **self.extra_config,
        }


def feedback_topic(area: ProductArea | str) -> str:
    return f"feedback.{ProductArea(area).value}"


_TOPICS: tuple[TopicSpec, ...] = (
    TopicSpec(
        "social.raw", RawEnvelope, key="raw_id",
        purpose="Every platform payload exactly as received; replay source for everything.",
        retention_ms=30 * DAY_MS,
        producers=("connectors: ingest, pollers, backfill",), consumers=("normalize",),
    ),
    TopicSpec(
        "social.events", SocialEvent, key="conversation_key",
        purpose="Canonical SocialEvent, one per platform item (edits keep the event_id).",
        producers=("normalize",), consumers=("enrich",),
    ),
    TopicSpec(
        "social.enriched", EnrichedEvent, key="conversation_key",
        purpose="SocialEvent plus language, sentiment, intent, area, urgency, PII, duplicates.",
        producers=("enrich",), consumers=("route", "analytics", "quality"),
    ),
    TopicSpec(
        "social.deadletter", DeadLetter, key="source key",
        purpose="Records that could not be normalized, enriched or routed, with the reason.",
        partitions=1, retention_ms=30 * DAY_MS,
        producers=("normalize", "enrich", "route"), consumers=("operators", "dlq replay"),
    ),
    TopicSpec(
        "crm.commands", TicketCommand, key="external_id",
        purpose="One message to put into the CRM ticket of its conversation.",
        producers=("route",), consumers=("deliver",),
    ),
    TopicSpec(
        "crm.results", TicketResult, key="external_id",
        purpose="What the CRM did with each command: ticket id and URL, or the failure.",
        producers=("deliver",), consumers=("analytics", "dashboard"),
    ),
    *(
        TopicSpec(
            f"crm.retry.{level}", TicketCommand, key="external_id",
            purpose=f"Ticket commands whose CRM kept failing, retried later (level {level}; "
            "headers pv-attempts and pv-due-at).",
            partitions=3, producers=("deliver",), consumers=("deliver",),
        )
        for level in (1, 2, 3)
    ),
    TopicSpec(
        "crm.deadletter", DeadLetter, key="external_id",
        purpose="Ticket commands that failed for good; replay after a fix.",
        partitions=1, retention_ms=30 * DAY_MS,
        producers=("deliver",), consumers=("operators", "dlq replay"),
    ),
    *(
        TopicSpec(
            feedback_topic(area), FeedbackItem, key="event_id",
            purpose=f"Product feedback about {area.value.replace('_', ' ')} (PII-redacted).",
            partitions=3, retention_ms=90 * DAY_MS,
            producers=("route",), consumers=("product teams", "dashboard"),
        )
        for area in ProductArea
    ),
    TopicSpec(
        "moderation.queue", ModerationItem, key="event_id",
        purpose="Spam, scams and insults for moderators.",
        partitions=3, producers=("route",), consumers=("moderators",),
    ),
    TopicSpec(
        "crisis.signals", CrisisSignal, key="brand",
        purpose="Events that may belong to an outage or scandal; input of crisis detection.",
        partitions=3, producers=("route",), consumers=("analytics",),
    ),
    TopicSpec(
        "alerts.crisis", CrisisAlert, key="incident_id",
        purpose="One alert per incident, updated while it grows, closed when it cools down.",
        partitions=1, retention_ms=90 * DAY_MS,
        producers=("analytics",), consumers=("dashboard", "webhook"),
    ),
    TopicSpec(
        "connectors.health", ConnectorHealth, key="connector/account",
        purpose="Connector status: auth failures, expiring tokens, last success.",
        partitions=1, cleanup_policy="compact",
        producers=("connectors",), consumers=("dashboard",),
    ),
    TopicSpec(
        "connectors.cursors", CursorState, key="connector/account/stream",
        purpose="Poller positions per (account, stream); the latest value is the resume point.",
        partitions=1, cleanup_policy="compact",
        producers=("pollers",), consumers=("pollers",),
    ),
    TopicSpec(
        "quality.quarantine", QuarantineRecord, key="source key",
        purpose="Records that failed a data-quality suite, with the failed expectations.",
        partitions=1, retention_ms=30 * DAY_MS,
        producers=("quality",), consumers=("data teams", "operators"),
    ),
    TopicSpec(
        "quality.results", QualityResult, key="source_topic",
        purpose="One validation result per micro-batch and suite.",
        partitions=1, producers=("quality",), consumers=("dashboard", "data teams"),
    ),
)

TOPICS: dict[str, TopicSpec] = {spec.name: spec for spec in _TOPICS}


def topic(name: str) -> TopicSpec:
    """Look a topic up by name, with a clear error for a typo."""
    try:
        return TOPICS[name]
    except KeyError:
        raise KeyError(f"unknown topic {name!r}; declared: {', '.join(sorted(TOPICS))}") from None
