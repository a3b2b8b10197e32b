"""Turn a routing decision into the records the route agent produces, keyed for their topics.

Pure and deterministic: replaying the same enriched event gives byte-identical commands with the
same ids, so CRM sinks and topic consumers can deduplicate. Only CRM tickets carry the original
text (support needs the order number); every other output carries the PII-redacted text.
"""

from __future__ import annotations

import hashlib

from pydantic import BaseModel, ConfigDict

from schemas.models import (
    Action,
    CrisisSignal,
    EnrichedEvent,
    FeedbackItem,
    ModerationItem,
    Route,
    TicketCommand,
    Urgency,
    stable_id,
)
from schemas.topics import feedback_topic, topic

from .rules import Decision, TicketSpec

__all__ = [
    "TITLE_MAX",
    "URGENCY_PRIORITY",
    "RoutedOutputs",
    "command_id",
    "outputs_for_topics",
    "plan",
    "priority_for",
]

TITLE_MAX = 200
# Priority of a ticket whose rules set none: 1 = critical .. 5 = very low. Critical (1) is left
# to rules, which know more (an influencer, a safety issue) than the urgency label alone.
URGENCY_PRIORITY: dict[Urgency, int] = {Urgency.high: 2, Urgency.medium: 3, Urgency.low: 4}


class RoutedOutputs(BaseModel):
    """Everything one enriched event produces; ``None`` where its decision has no such route."""

    model_config = ConfigDict(frozen=True)

    event_id: str
    ticket: TicketCommand | None = None
    feedback: FeedbackItem | None = None
    moderation: ModerationItem | None = None
    crisis: CrisisSignal | None = None


def priority_for(urgency: Urgency) -> int:
    return URGENCY_PRIORITY[urgency]


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def command_id(enriched: EnrichedEvent) -> str:
    """Idempotency key of the ticket command: same event, action and text give the same id.

    The text digest is the edit marker: a second edit of the same item is a new command, a
    replay of the same edit is not.
    """
    event = enriched.event
    return stable_id("ticket", event.event_id, event.action.value, _digest(event.text))


def _tag(text: str) -> str:
    return "-".join(text.lower().split())


def _title(enriched: EnrichedEvent) -> str:
    event, enr = enriched.event, enriched.enrichment
    head = (f"[{event.brand}] {event.platform.value} {event.kind.value} · "
            f"{enr.intent.value} · {enr.product_area.value}")
    snippet = " ".join(enr.redacted_text.split())
    title = f"{head}: {snippet}" if snippet else head
    return title if len(title) <= TITLE_MAX else title[: TITLE_MAX - 1].rstrip() + "…"


def _body(enriched: EnrichedEvent) -> str:
    event, enr = enriched.event, enriched.enrichment
    author = event.author
    who = author.handle or author.name or author.id or "unknown"
    if author.handle and author.name:
        who = f"{author.handle} ({author.name})"
    facts = [
        ("Author", f"{who}, tier {enr.author_tier.value}"
         + (f", {author.followers} followers" if author.followers is not None else "")),
        ("Platform", f"{event.platform.value} {event.kind.value}"
         + ("" if event.action is Action.created else f" ({event.action.value})")),
        ("URL", event.url),
        ("Rating", f"{event.rating}/5" if event.rating is not None else None),
        ("Language", enr.lang.value),
        ("Sentiment", f"{enr.sentiment.value} ({enr.sentiment_score:+.2f})"),
        ("Intent", f"{enr.intent.value}, area {enr.product_area.value}"),
        ("Urgency", enr.urgency.value
         + (f" ({'; '.join(enr.urgency_reasons)})" if enr.urgency_reasons else "")),
        ("Duplicate of", enr.dup_of),
        ("Posted", event.created_at.isoformat()),
    ]
    lines = [f"{name}: {value}" for name, value in facts if value]
    return f"{event.text}\n\n---\n" + "\n".join(lines)


def _ticket(enriched: EnrichedEvent, spec: TicketSpec, decision: Decision) -> TicketCommand:
    event, enr = enriched.event, enriched.enrichment
    tags = [*spec.tags,
            f"intent-{enr.intent.value}", f"area-{enr.product_area.value}",
            f"lang-{enr.lang.value}", f"platform-{event.platform.value}",
            f"urgency-{enr.urgency.value}"]
    if Route.crisis_watch in decision.routes:
        tags.append("crisis")
    if decision.review:
        tags.append("needs-review")
    return TicketCommand(
        command_id=command_id(enriched),
        external_id=event.conversation_key,
        event_id=event.event_id,
        action=event.action,
        brand=event.brand,
        platform=event.platform,
        kind=event.kind,
        title=_title(enriched),
        body=_body(enriched),
        queue=spec.queue,
        priority=spec.priority if spec.priority is not None else priority_for(enr.urgency),
        tags=list(dict.fromkeys(_tag(t) for t in tags)),
        assignee_group=spec.assignee_group,
        author_handle=event.author.handle,
        url=event.url,
        created_at=event.created_at,
    )


def plan(enriched: EnrichedEvent, decision: Decision) -> RoutedOutputs:
    """The records a decision asks for; a dropped event produces none."""
    event, enr = enriched.event, enriched.enrichment
    if decision.dropped:
        return RoutedOutputs(event_id=event.event_id)
    routes = set(decision.routes)
    ticket = None
    if Route.crm_ticket in routes:
        ticket = _ticket(enriched, decision.ticket or TicketSpec(), decision)
    feedback = None
    if Route.product_feedback in routes:
        feedback = FeedbackItem(
            feedback_id=stable_id("feedback", event.event_id, event.action.value,
                                  _digest(enr.redacted_text)),
            event_id=event.event_id, brand=event.brand, platform=event.platform,
            product_area=enr.product_area, intent=enr.intent, sentiment=enr.sentiment,
            lang=enr.lang, redacted_text=enr.redacted_text, rating=event.rating, url=event.url,
            created_at=event.created_at,
        )
    moderation = None
    if Route.moderation in routes:
        moderation = ModerationItem(
            event_id=event.event_id, brand=event.brand, platform=event.platform,
            intent=enr.intent, urgency=enr.urgency, redacted_text=enr.redacted_text,
            author_handle=event.author.handle, url=event.url, created_at=event.created_at,
        )
    crisis = None
    if Route.crisis_watch in routes:
        crisis = CrisisSignal(
            event_id=event.event_id, brand=event.brand, platform=event.platform,
            product_area=enr.product_area, lang=enr.lang, sentiment=enr.sentiment,
            redacted_text=enr.redacted_text, created_at=event.created_at,
        )
    return RoutedOutputs(event_id=event.event_id, ticket=ticket, feedback=feedback,
                         moderation=moderation, crisis=crisis)


def outputs_for_topics(routed: RoutedOutputs) -> list[tuple[str, str, BaseModel]]:
    """(topic, key, value) triples to produce, keys read as each topic declares them."""
    pending: list[tuple[str, BaseModel | None]] = [
        ("crm.commands", routed.ticket),
        (feedback_topic(routed.feedback.product_area) if routed.feedback else "", routed.feedback),
        ("moderation.queue", routed.moderation),
        ("crisis.signals", routed.crisis),
    ]
    out: list[tuple[str, str, BaseModel]] = []
    for name, value in pending:
        if value is None:
            continue
        spec = topic(name)
        if not isinstance(value, spec.value_model):
            raise TypeError(f"{type(value).__name__} does not belong on {name}")
        out.append((name, str(getattr(value, spec.key)), value))
    return out
