"""The pipeline's stages as pure functions from record bytes to output records.

Each stage takes the value bytes read from its input topic and returns the records to produce
(topic, key, value, headers). Faust agents, the offline CLI and the benchmark all call these, so
the logic is tested once without Kafka. Bad input never escapes a stage as an exception: it comes
back as a :class:`schemas.models.DeadLetter` record for the stage's dead-letter topic. Retriable
and fatal errors are raised for the caller to handle.
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import ValidationError

from pipeline.enrich import Enricher
from pipeline.errors import BadInput
from pipeline.normalize import normalize
from pipeline.normalize.brands import BrandDirectory
from pipeline.records import Origin, Output, dead_letter, describe, guarded
from pipeline.repeats import RepeatFilter
from pipeline.routing import RuleSet, plan
from pipeline.routing.plan import outputs_for_topics
from schemas.models import EnrichedEvent, RawEnvelope, SocialEvent, Stage

__all__ = ["Origin", "Output", "dead_letter", "enrich_stage", "guarded", "normalize_stage",
           "parse_event", "route_stage"]

# ------------------------------------------------------------------------------ normalize


def normalize_stage(raw: bytes, brands: BrandDirectory) -> list[Output]:
    """social.raw -> social.events, keyed by conversation so a conversation stays in order."""
    try:
        envelope = RawEnvelope.model_validate_json(raw)
    except ValidationError as exc:
        raise BadInput(f"not a RawEnvelope: {describe(exc)}") from exc
    events = normalize(envelope, brands)
    return [
        Output.of("social.events", ev.conversation_key, ev, trace_id=envelope.raw_id,
                  event_time=ev.created_at.isoformat())
        for ev in events
    ]


# --------------------------------------------------------------------------------- enrich


def parse_event(raw: bytes) -> SocialEvent:
    try:
        return SocialEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise BadInput(f"not a SocialEvent: {describe(exc)}") from exc


def enrich_stage(raws: Sequence[bytes], origins: Sequence[Origin], enricher: Enricher,
                 repeats: RepeatFilter | None = None) -> list[Output]:
    """social.events -> social.enriched, a batch at a time (the enricher is faster in batches).

    Records that do not parse become dead letters; exact re-deliveries of an item are dropped
    (``repeats``); the others are enriched together, in order.
    """
    outputs: list[Output] = []
    good: list[SocialEvent] = []
    for raw, origin in zip(raws, origins, strict=True):
        try:
            event = parse_event(raw)
        except BadInput as exc:
            outputs.append(dead_letter(Stage.enrich, exc, raw, origin))
            continue
        if repeats is None or not repeats.is_repeat(event):
            good.append(event)
    for event, enrichment in zip(good, enricher.enrich_many(good), strict=True):
        enriched = EnrichedEvent(event=event, enrichment=enrichment)
        outputs.append(Output.of("social.enriched", event.conversation_key, enriched,
                                 trace_id=event.raw_id, event_time=event.created_at.isoformat()))
    return outputs


# ---------------------------------------------------------------------------------- route


def route_stage(raw: bytes, rules: RuleSet) -> list[Output]:
    """social.enriched -> crm.commands, feedback.<area>, moderation.queue, crisis.signals."""
    try:
        enriched = EnrichedEvent.model_validate_json(raw)
    except ValidationError as exc:
        raise BadInput(f"not an EnrichedEvent: {describe(exc)}") from exc
    routed = plan(enriched, rules.decide(enriched))
    event = enriched.event
    return [
        Output.of(topic, key, model, trace_id=event.raw_id, event_time=event.created_at.isoformat())
        for topic, key, model in outputs_for_topics(routed)
    ]
