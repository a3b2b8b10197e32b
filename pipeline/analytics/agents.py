"""Thin faust shell around :class:`AnalyticsRuntime`: a task that reads the topics from the
beginning, publishes new crisis alerts on ``alerts.crisis`` and hands them to the webhook.

A task with its own partition assignment rather than a group agent: crisis detection needs all
of a brand's messages (``social.enriched`` is keyed by conversation, so a group would split a
brand across workers), and the state is rebuilt from the topics at every start rather than
restored from a changelog. Alerts already on ``alerts.crisis`` are read first, so the replay that
rebuilds the baselines does not publish them again.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping
from datetime import timedelta
from typing import Any

import faust
from aiokafka import TopicPartition

from pipeline.analytics.feed import Batch, TopicFeed, analytics_topics
from pipeline.analytics.kpis import Period, overview
from pipeline.analytics.runtime import AnalyticsRuntime, crisis_config
from pipeline.analytics.state import TOPICS_READ
from pipeline.analytics.webhook import AlertPoster
from pipeline.records import Output
from pipeline.settings import Settings
from schemas.models import CrisisAlert, utcnow

__all__ = ["published_alerts", "register_analytics_agents"]

log = logging.getLogger(__name__)

ALERTS_TOPIC = "alerts.crisis"


async def published_alerts(bootstrap: list[str]) -> list[CrisisAlert]:
    """Every alert on ``alerts.crisis`` so far (read until the topic goes quiet)."""
    found: list[CrisisAlert] = []
    stop = asyncio.Event()

    async def on_batch(batch: Batch) -> None:
        found.extend(CrisisAlert.model_validate_json(value) for _, _, value in batch)

    async def on_idle() -> None:
        stop.set()

    await TopicFeed(bootstrap, [ALERTS_TOPIC], on_batch, on_idle).run(stop)
    return found


def register_analytics_agents(app: faust.App, topics: Mapping[str, Any],
                              settings: Settings) -> None:
    """Add the analytics task (and, with the worker's web server, a JSON overview page)."""
    holder: dict[str, AnalyticsRuntime] = {}

    async def publish(alerts: list[CrisisAlert], poster: AlertPoster | None) -> None:
        for alert in alerts:
            out = Output.of(ALERTS_TOPIC, alert.incident_id, alert,
                            event_time=alert.updated_at.isoformat())
            await topics[ALERTS_TOPIC].send(key=out.key, value=out.value, headers=out.headers)
            log.warning("crisis %s: %s / %s, %d messages (x%s baseline)", alert.status,
                        alert.brand, alert.theme.value, alert.message_count, alert.growth)
            if poster is not None:
                poster.submit(alert)

    @app.task
    async def analytics() -> None:
        poster = None
        background: list[asyncio.Task[None]] = []
        if settings.crisis_webhook_url:
            poster = AlertPoster(settings.crisis_webhook_url, lang=settings.crisis_webhook_lang,
                                 attempts=settings.crisis_webhook_attempts)
            background.append(asyncio.create_task(poster.run()))
        try:
            known = await published_alerts(settings.bootstrap_list)
            runtime = holder["runtime"] = AnalyticsRuntime(crisis_config(settings), known)
            log.info("analytics: %d alert(s) already published; rebuilding from the topics",
                     len(known))

            async def on_batch(batch: Batch) -> None:
                await publish(runtime.ingest(batch), poster)

            async def on_idle() -> None:
                await publish(runtime.idle(utcnow()), poster)

            def on_assign(partitions: list[TopicPartition]) -> None:
                for tp in partitions:
                    runtime.expect(tp.topic, [tp.partition])

            feed = TopicFeed(settings.bootstrap_list, analytics_topics(*TOPICS_READ),
                             on_batch, on_idle, on_assign=on_assign)
            await feed.run(asyncio.Event())
        finally:
            for task in background:
                task.cancel()

    if settings.worker_web_enabled:
        @app.page("/analytics/overview/")
        async def overview_page(view: Any, request: Any) -> Any:
            runtime = holder.get("runtime")
            latest = runtime.state.latest_time() if runtime else None
            if runtime is None or latest is None:
                return view.json({"ready": False})
            period = Period.ending(latest + timedelta(seconds=1), settings.dashboard_days,
                                   brand=request.query.get("brand") or None)
            return view.json(overview(runtime.state, period, timedelta(hours=1)))
