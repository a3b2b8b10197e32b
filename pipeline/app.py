"""The faust worker: thin agents around the pure stages in :mod:`pipeline.stages`.

Delivery is at-least-once (the embedded broker cannot do exactly-once, see infra notes): an
agent sends its outputs, faust flushes the producer (acks=all) before it commits the input
offsets, and every sink is idempotent against its target, so a replay after a crash or a
rebalance creates nothing twice.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Iterable
from datetime import UTC, datetime
from typing import Any, TypeVar

import faust
from faust.types import EventT, StreamT

from connectors.sinks.base import DeliveryError, TicketSink
from pipeline.deliver import (
    RETRY_TOPICS,
    RetryPolicy,
    deliver_command,
    deliver_feedback,
    retry_state,
)
from pipeline.enrich import EnrichConfig, Enricher
from pipeline.normalize.brands import BrandDirectory
from pipeline.repeats import RepeatFilter
from pipeline.routing import load_rules
from pipeline.settings import Settings
from pipeline.stages import Origin, Output, enrich_stage, guarded, normalize_stage, route_stage
from schemas.models import ErrorKind, Stage
from schemas.topics import TOPICS

log = logging.getLogger(__name__)

T = TypeVar("T")

ENRICH_BATCH = 256
ENRICH_BATCH_SECONDS = 0.2


def origin_of(event: EventT) -> Origin:
    message = event.message
    return Origin(topic=message.topic, partition=message.partition, offset=message.offset,
                  key=message.key if isinstance(message.key, bytes) else None)


def make_sink(settings: Settings) -> TicketSink:
    """The CRM sink named by the settings (the local helpdesk by default)."""
    from connectors.sinks.registry import make_sink as build

    return build(settings.crm_sink)


def create_app(settings: Settings, sink_factory: Callable[[Settings], TicketSink] = make_sink,
               enricher_factory: Callable[[], Enricher] | None = None) -> faust.App:
    """Build the worker app. Rules and brands are loaded now, so a bad file fails at start-up."""
    brands = BrandDirectory.load(settings.brands_file)
    rules = load_rules(settings.rules_file)
    app = faust.App(
        settings.app_id,
        broker=[f"kafka://{server}" for server in settings.bootstrap_list],
        store="memory://",
        processing_guarantee="at_least_once",
        broker_session_timeout=settings.session_timeout_ms / 1000,
        broker_heartbeat_interval=settings.heartbeat_interval_ms / 1000,
        consumer_auto_offset_reset="earliest",
        producer_acks=-1,
        topic_allow_declare=False,
        topic_disable_leader=True,
        web_enabled=settings.worker_web_enabled,
        web_bind="127.0.0.1",
        web_port=settings.worker_web_port,
        stream_wait_empty=False,
    )
    topics = {
        name: app.topic(name, key_type=bytes, value_type=bytes, key_serializer="raw",
                        value_serializer="raw", partitions=spec.partitions, internal=False)
        for name, spec in TOPICS.items()
    }
    state: dict[str, Any] = {}

    async def send_all(outputs: Iterable[Output]) -> None:
        for out in outputs:
            await topics[out.topic].send(key=out.key, value=out.value, headers=out.headers)

    @app.agent(topics["social.raw"], name="normalize")
    async def normalize_agent(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await send_all(guarded(Stage.normalize, lambda raw: normalize_stage(raw, brands),
                                   event.value, origin_of(event)))

    @app.agent(topics["social.events"], name="enrich")
    async def enrich_agent(stream: StreamT[bytes]) -> None:
        if "enricher" not in state:
            factory = enricher_factory or (lambda: Enricher(EnrichConfig()))
            state["enricher"] = await asyncio.to_thread(factory)
        enricher: Enricher = state["enricher"]
        repeats = RepeatFilter()
        batches = stream.take_events(  # type: ignore[attr-defined]  # not in StreamT yet
            ENRICH_BATCH, within=ENRICH_BATCH_SECONDS)
        async for events in batches:
            await send_all(enrich_stage([e.value for e in events],
                                        [origin_of(e) for e in events], enricher, repeats))

    @app.agent(topics["social.enriched"], name="route")
    async def route_agent(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await send_all(guarded(Stage.route, lambda raw: route_stage(raw, rules),
                                   event.value, origin_of(event)))

    policy = RetryPolicy(
        in_place_attempts=settings.deliver_max_attempts,
        backoff=settings.deliver_backoff_seconds,
        backoff_max=settings.deliver_backoff_max_seconds,
        delays=settings.deliver_retry_delays,
    )

    def sink() -> TicketSink:
        if "sink" not in state:
            state["sink"] = sink_factory(settings)
        return state["sink"]  # type: ignore[no-any-return]

    async def deliver(event: EventT, level: int, prior_attempts: int) -> None:
        try:
            outputs = await deliver_command(event.value, origin_of(event), sink(), _in_thread,
                                            policy, level, prior_attempts)
        except DeliveryError as exc:
            if exc.kind is not ErrorKind.fatal:
                raise
            log.critical("CRM delivery cannot work (%s): stopping without committing", exc)
            await app.crash(exc)
            # Never return: the stream must not move past (and acknowledge) this command.
            await asyncio.get_running_loop().create_future()
        await send_all(outputs)

    async def deliver_agent(stream: StreamT[bytes]) -> None:
        async for event in stream.events():
            await deliver(event, 0, 0)

    def retry_agent(level: int) -> Callable[[StreamT[bytes]], Any]:
        async def agent(stream: StreamT[bytes]) -> None:
            """Waits until each command is due, then tries it again (one level further)."""
            async for event in stream.events():
                attempts, due = retry_state(event.message.headers)
                if due is not None:
                    await asyncio.sleep(max(0.0, (due - datetime.now(UTC)).total_seconds()))
                await deliver(event, level, attempts)

        return agent

    async def feedback_agent(stream: StreamT[bytes]) -> None:
        """Files each feedback item in the product tracker (idempotent by feedback id)."""
        from connectors.sinks.feedback import make_feedback_sink

        tracker = make_feedback_sink(settings.feedback_sink or "")
        async for event in stream.events():
            try:
                outputs = await deliver_feedback(event.value, origin_of(event), tracker,
                                                 _in_thread, RetryPolicy(
                                                     in_place_attempts=policy.in_place_attempts,
                                                     backoff=policy.backoff,
                                                     backoff_max=policy.backoff_max, delays=()))
            except DeliveryError as exc:
                log.critical("feedback tracker cannot work (%s): stopping", exc)
                await app.crash(exc)
                await asyncio.get_running_loop().create_future()
            await send_all(outputs)

    if settings.deliver_enabled:
        app.agent(topics["crm.commands"], name="deliver")(deliver_agent)
        for level, name in enumerate(RETRY_TOPICS[: len(policy.delays)], start=1):
            app.agent(topics[name], name=f"deliver-retry-{level}")(retry_agent(level))
    if settings.feedback_sink:
        feedback_topics = app.topic(*(n for n in TOPICS if n.startswith("feedback.")),
                                    key_type=bytes, value_type=bytes, key_serializer="raw",
                                    value_serializer="raw")
        app.agent(feedback_topics, name="deliver-feedback")(feedback_agent)
    if settings.quality_enabled:
        from pipeline.quality.agent import register_quality_agents

        register_quality_agents(app, topics, settings)
    if settings.analytics_enabled:
        from pipeline.analytics.agents import register_analytics_agents

        register_analytics_agents(app, topics, settings)
    app.conf.porte_voix_settings = settings  # type: ignore[attr-defined]
    return app


async def _in_thread(fn: Callable[[], T]) -> T:
    return await asyncio.to_thread(fn)


def run_worker(settings: Settings, loglevel: str = "info") -> None:
    """Run the worker in the foreground until SIGINT/SIGTERM."""
    app = create_app(settings)
    worker = faust.Worker(app, loglevel=loglevel, quiet=True, redirect_stdouts=False)
    worker.execute_from_commandline()
