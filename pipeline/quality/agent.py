"""The quality gate in the worker: thin faust agents around :func:`validate_batch`.

faust's conductor hands every record of a topic to *every* agent subscribed to it (the record's
refcount is the number of subscribers), so these agents see all of ``social.enriched``,
``feedback.*`` and ``crm.commands`` next to the route and deliver agents, in the app's one
consumer group. What that costs the other agents:

- an offset is committed once every subscriber acked it, so commits of those topics trail by up
  to one quality batch (``quality_batch_seconds``); a crash replays that much, which the
  idempotent sinks absorb;
- a subscriber whose buffer is full makes the conductor wait, so a quality gate slower than the
  topic would slow its neighbours: validation runs in a worker thread (the event loop stays
  free) and costs a few ms per hundred records.

The gate observes, it does not filter: quarantined records still flow to their consumers. A
validation that raises is logged and reported as a failed batch, never a crashed agent (that
would stop the commits of the other agents on the same topics).
"""

from __future__ import annotations

import asyncio
import logging
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

import faust
from faust.types import EventT, StreamT

from pipeline.records import Origin, Output
from pipeline.settings import Settings
from schemas.models import QualityResult
from schemas.topics import feedback_topic

log = logging.getLogger(__name__)

FEEDBACK = "feedback"


def quality_groups(topics: Iterable[str]) -> dict[str, list[str]]:
    """Agent name -> the topics it validates (one agent per suite family)."""
    names = list(topics)
    feedback = sorted(n for n in names if n.startswith(f"{FEEDBACK}."))
    groups = {"quality-enriched": [n for n in names if n == "social.enriched"],
              "quality-feedback": feedback,
              "quality-commands": [n for n in names if n == "crm.commands"]}
    return {name: group for name, group in groups.items() if group}


def _origin(event: EventT) -> Origin:
    message = event.message
    return Origin(topic=message.topic, partition=message.partition, offset=message.offset,
                  key=message.key if isinstance(message.key, bytes) else None)


def warm_up() -> None:
    """Import great-expectations and build its context; blocking, so run in a thread."""
    from pipeline.quality.validate import warm_up as build

    build()


def check_batch(events: Sequence[EventT]) -> list[Output]:
    """Validate a batch of events (grouped by topic) and return what to produce; blocking."""
    from pipeline.quality.validate import batch_id_of, quality_outputs, validate_batch

    by_topic: dict[str, list[EventT]] = defaultdict(list)
    for event in events:
        by_topic[event.message.topic].append(event)
    outputs: list[Output] = []
    for topic, group in by_topic.items():
        origins = [_origin(e) for e in group]
        try:
            result, quarantined = validate_batch(topic, [e.value for e in group],
                                                 origins=origins)
        except Exception as exc:
            log.exception("quality validation of %d %s records raised", len(group), topic)
            result, quarantined = QualityResult(
                batch_id=batch_id_of(topic, origins), source_topic=topic, suite=topic,
                records=len(group), failed_records=0, success=False,
                expectations={f"validation raised {type(exc).__name__}": False},
                duration_ms=0.0), []
        if quarantined or not result.success:
            log.warning("quality %s: %d/%d records quarantined, batch %s", topic,
                        result.failed_records, result.records,
                        "passed" if result.success else "failed")
        outputs.extend(quality_outputs(result, quarantined))
    return outputs


def register_quality_agents(app: faust.App, topics: Mapping[str, Any],
                            settings: Settings) -> None:
    """Add the quality agents to ``app``; ``topics`` are the app's raw topics by name."""
    from schemas.models import ProductArea

    wanted = ["social.enriched", *(feedback_topic(a) for a in ProductArea), "crm.commands"]

    async def send_all(outputs: Iterable[Output]) -> None:
        for out in outputs:
            await topics[out.topic].send(key=out.key, value=out.value, headers=out.headers)

    def make_agent(name: str) -> Any:
        async def quality_agent(stream: StreamT[bytes]) -> None:
            try:
                await asyncio.to_thread(warm_up)
            except Exception:  # keep consuming: each batch then reports the failure
                log.exception("the quality gate could not start great-expectations")
            batches = stream.take_events(  # type: ignore[attr-defined]  # not in StreamT yet
                settings.quality_batch_size, within=settings.quality_batch_seconds)
            async for events in batches:
                await send_all(await asyncio.to_thread(check_batch, events))

        quality_agent.__qualname__ = quality_agent.__name__ = name.replace("-", "_")
        return quality_agent

    for name, names in quality_groups(n for n in wanted if n in topics).items():
        channel = topics[names[0]] if len(names) == 1 else app.topic(
            *names, key_type=bytes, value_type=bytes, key_serializer="raw",
            value_serializer="raw", internal=False)
        app.agent(channel, name=name)(make_agent(name))
