"""Crisis alerts to a Slack-style webhook: payload shape, retries, never blocking the stream."""

from __future__ import annotations

import asyncio
import time
from datetime import UTC, datetime
from typing import Any

from aiohttp import web
from aiohttp.test_utils import TestServer

from pipeline.analytics.webhook import AlertPoster, slack_payload
from schemas.models import CrisisAlert, Lang, Platform, ProductArea

ALERT = CrisisAlert(
    incident_id="inc1", brand="Croque", theme=ProductArea.app, status="open",
    started_at=datetime(2026, 11, 14, 20, 41, tzinfo=UTC),
    updated_at=datetime(2026, 11, 14, 20, 52, tzinfo=UTC), message_count=3,
    baseline_per_hour=0.5, growth=6.0, platforms=[Platform.x, Platform.facebook],
    languages=[Lang.fr, Lang.en], first_messages=["l'appli plante", "app is down"])


def test_slack_payload_has_a_text_fallback_and_blocks_in_the_chosen_language() -> None:
    fr = slack_payload(ALERT, "fr", dashboard_url="http://127.0.0.1:1/")
    assert fr["text"] == "Incident de crise ouvert: Croque — Application (3 messages)"
    kinds = [b["type"] for b in fr["blocks"]]
    assert kinds == ["header", "section", "context", "section", "actions"]
    assert "> l'appli plante" in fr["blocks"][3]["text"]["text"]
    closed = slack_payload(ALERT.model_copy(update={"status": "closed"}), "en")
    assert closed["text"].startswith("Crisis incident closed: Croque — App")
    assert "first" not in str(closed["blocks"]).lower()


async def _serve(statuses: list[int]) -> tuple[TestServer, list[dict[str, Any]]]:
    received: list[dict[str, Any]] = []

    async def hook(request: web.Request) -> web.Response:
        received.append(await request.json())
        return web.Response(status=statuses.pop(0) if statuses else 200)

    app = web.Application()
    app.router.add_post("/hook", hook)
    server = TestServer(app, host="127.0.0.1")
    await server.start_server()
    return server, received


def test_failures_are_retried_until_the_webhook_accepts() -> None:
    async def scenario() -> tuple[bool, int]:
        server, received = await _serve([503, 500])
        try:
            poster = AlertPoster(str(server.make_url("/hook")), backoff=0.01)
            ok = await poster.deliver(ALERT)
        finally:
            await server.close()
        return ok, len(received)

    assert asyncio.run(scenario()) == (True, 3)


def test_a_refused_alert_is_not_retried_and_the_poster_gives_up_after_its_attempts() -> None:
    async def scenario() -> tuple[bool, bool, int]:
        server, received = await _serve([400, 503, 503, 503])
        try:
            poster = AlertPoster(str(server.make_url("/hook")), backoff=0.01, attempts=3)
            refused = await poster.deliver(ALERT)
            unavailable = await poster.deliver(ALERT)
        finally:
            await server.close()
        return refused, unavailable, len(received)

    assert asyncio.run(scenario()) == (False, False, 4)


def test_submitting_never_waits_for_the_webhook() -> None:
    async def scenario() -> tuple[float, int]:
        poster = AlertPoster("http://127.0.0.1:9/unreachable", queue_size=2)
        started = time.monotonic()
        for _ in range(5):
            poster.submit(ALERT)
        return time.monotonic() - started, poster.queue.qsize()

    elapsed, queued = asyncio.run(scenario())
    assert elapsed < 0.1
    assert queued == 2  # the oldest were dropped, the newest kept
