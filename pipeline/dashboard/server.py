"""The dashboard web app (aiohttp) and the process that runs it next to a topic reader.

``porte-voix dashboard`` starts a :class:`~pipeline.analytics.feed.TopicFeed` that folds the
topics into an :class:`AnalyticsState` from the beginning, and serves the pages and the JSON
endpoints from that state on 127.0.0.1. Pages render on the server (no JavaScript needed) and
filters are plain links, so they work offline, without a build step, with any browser.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
from collections.abc import Callable
from datetime import timedelta
from typing import Any
from urllib.parse import urlencode

import jinja2
from aiohttp import web
from markupsafe import Markup

from pipeline.analytics.feed import Batch, TopicFeed, analytics_topics
from pipeline.analytics.feedback import digest_html, digest_markdown, export_csv, items
from pipeline.analytics.i18n import label, pick_lang
from pipeline.analytics.state import TOPICS_READ, AnalyticsState
from pipeline.dashboard.charts import bar_list, sentiment_chart
from pipeline.dashboard.templates import CSS, TEMPLATES
from pipeline.dashboard.views import (
    as_of,
    feedback_payload,
    overview_payload,
    status_payload,
)
from pipeline.settings import Settings
from schemas.models import Platform, ProductArea

__all__ = ["DashboardData", "build_app", "run_dashboard", "serve"]

log = logging.getLogger(__name__)

MAX_DAYS = 90.0
_ENV = jinja2.Environment(loader=jinja2.DictLoader(TEMPLATES), autoescape=True,
                          undefined=jinja2.StrictUndefined)


class DashboardData:
    """The state the pages read, and whether the first full read has finished."""

    def __init__(self, state: AnalyticsState | None = None, caught_up: bool = False) -> None:
        self.state = state or AnalyticsState()
        self._caught_up = caught_up
        self.feed: TopicFeed | None = None

    @property
    def caught_up(self) -> bool:
        return self._caught_up or (self.feed is not None and self.feed.caught_up.is_set())


class _Params:
    """Query parameters shared by every page and endpoint, validated once."""

    def __init__(self, request: web.Request, default_days: float) -> None:
        query = request.query
        self.lang = pick_lang(query.get("lang"), request.headers.get("Accept-Language"))
        self.brand = query.get("brand") or None
        try:
            self.days = float(query.get("days") or default_days)
        except ValueError:
            raise web.HTTPBadRequest(text="days must be a number") from None
        if not 0 < self.days <= MAX_DAYS:
            raise web.HTTPBadRequest(text=f"days must be in (0, {MAX_DAYS:g}]")
        self.area = _enum(ProductArea, query.get("area"), "area")
        self.platform = _enum(Platform, query.get("platform"), "platform")
        self._explicit_lang = query.get("lang")

    def query(self, **overrides: object) -> str:
        """This page's query string with some parameters changed (None removes one)."""
        values: dict[str, object] = {"brand": self.brand, "area": self.area.value
                                     if self.area else None,
                                     "platform": self.platform.value if self.platform else None,
                                     "lang": self._explicit_lang}
        values.update(overrides)
        return urlencode({k: v for k, v in values.items() if v not in (None, "")})


def _enum(kind: Any, value: str | None, name: str) -> Any:
    if not value:
        return None
    try:
        return kind(value)
    except ValueError:
        allowed = ", ".join(m.value for m in kind)
        raise web.HTTPBadRequest(text=f"unknown {name} {value!r}; one of: {allowed}") from None


def _minutes(value: float | None) -> str:
    if value is None:
        return "—"
    if value < 90:
        return f"{value:.0f} min"
    return f"{value / 60:.1f} h"


def build_app(data: DashboardData, default_days: float = 7.0) -> web.Application:
    """The aiohttp application over ``data`` (tests hand it a state built from fixtures)."""
    app = web.Application()

    def render(request: web.Request, template: str, page: str, params: _Params,
               payload: dict[str, Any], **extra: Any) -> web.Response:
        def t(key: str) -> str:
            return label(key, params.lang)

        html = _ENV.get_template(template).render(
            lang=params.lang, t=t, q=params.query, page=page, page_title=t(page),
            brand=params.brand, area=params.area.value if params.area else None,
            brands=payload.get("brands", []), d=payload, minutes=_minutes,
            status=status_payload(data.state, data.caught_up), **extra)
        return web.Response(text=html, content_type="text/html", charset="utf-8",
                            headers={"Content-Language": params.lang})

    def names(prefix: str, lang: str) -> Callable[[dict[str, int]], dict[str, float]]:
        return lambda counts: {label(f"{prefix}{k}", lang): float(v) for k, v in counts.items()}

    async def overview_page(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        payload = overview_payload(data.state, params.brand, params.days, params.platform,
                                   params.area)
        lang = params.lang
        chart = sentiment_chart(
            payload["timeline"], label("sentiment_over_time", lang), label("chart_desc", lang),
            {k: label(f"sentiment_{k}", lang) for k in ("negative", "neutral", "positive")})
        sov = {b: 100 * v for b, v in payload["share_of_voice"].items()}
        return render(request, "overview.html", "overview", params, payload,
                      chart=Markup(chart),
                      platforms=Markup(bar_list(
                          {k: float(v) for k, v in payload["platforms"].items()})),
                      sov=Markup(bar_list(sov, "{:.0f}%", "#5b3a8c")),
                      intents=Markup(bar_list(names("intent_", lang)(payload["intents"]),
                                              color="#8a4b00")))

    async def feedback_page(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        payload = feedback_payload(data.state, params.area, params.brand, params.days)
        return render(request, "feedback.html", "feedback", params, payload,
                      intents=Markup(bar_list(names("intent_", params.lang)(
                          payload["intents"]), color="#8a4b00")))

    async def api_overview(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        return web.json_response(overview_payload(data.state, params.brand, params.days,
                                                  params.platform, params.area))

    async def api_feedback(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        return web.json_response(feedback_payload(data.state, params.area, params.brand,
                                                  params.days))

    async def api_export(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        end = as_of(data.state)
        rows = items(data.state, params.area, params.brand, end - timedelta(days=params.days),
                     end)
        name = f"feedback-{params.area.value if params.area else 'all'}.csv"
        return web.Response(text=export_csv(rows), content_type="text/csv", charset="utf-8",
                            headers={"Content-Disposition": f'attachment; filename="{name}"'})

    async def api_digest_md(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        text = digest_markdown(data.state, params.brand, as_of(data.state), params.lang)
        return web.Response(text=text, content_type="text/markdown", charset="utf-8")

    async def api_digest_html(request: web.Request) -> web.Response:
        params = _Params(request, default_days)
        text = digest_html(data.state, params.brand, as_of(data.state), params.lang)
        return web.Response(text=text, content_type="text/html", charset="utf-8")

    async def api_status(request: web.Request) -> web.Response:
        return web.json_response(status_payload(data.state, data.caught_up))

    async def stylesheet(request: web.Request) -> web.Response:
        return web.Response(text=CSS, content_type="text/css",
                            headers={"Cache-Control": "max-age=300"})

    app.router.add_get("/", overview_page)
    app.router.add_get("/feedback", feedback_page)
    app.router.add_get("/api/overview", api_overview)
    app.router.add_get("/api/feedback", api_feedback)
    app.router.add_get("/api/export.csv", api_export)
    app.router.add_get("/api/digest.md", api_digest_md)
    app.router.add_get("/api/digest.html", api_digest_html)
    app.router.add_get("/api/status", api_status)
    app.router.add_get("/static/style.css", stylesheet)
    return app


async def serve(settings: Settings, port: int | None = None,
                ready: Callable[[str], None] | None = None) -> None:
    """Read the topics into a fresh state and serve the dashboard until SIGTERM/SIGINT."""
    data = DashboardData()

    async def on_batch(batch: Batch) -> None:
        for topic, _, value in batch:
            data.state.apply(topic, value)

    stop = asyncio.Event()
    data.feed = TopicFeed(settings.bootstrap_list, analytics_topics(*TOPICS_READ), on_batch)
    reader = asyncio.create_task(data.feed.run(stop))
    runner = web.AppRunner(build_app(data, settings.dashboard_days), access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", settings.dashboard_port if port is None else port)
    await site.start()
    host, bound = runner.addresses[0][:2]
    url = f"http://{host}:{bound}/"
    (ready or (lambda u: print(json.dumps({"dashboard_url": u}), flush=True)))(url)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        reader.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await reader
        await runner.cleanup()


def run_dashboard(settings: Settings, port: int | None = None) -> None:
    """Foreground entry point of ``porte-voix dashboard``."""
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    asyncio.run(serve(settings, port))
