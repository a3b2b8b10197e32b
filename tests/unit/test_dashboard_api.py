"""The dashboard's pages and JSON endpoints over a state built from the demo traffic."""

from __future__ import annotations

import asyncio
import csv
import io
from collections.abc import Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

from aiohttp.test_utils import TestClient, TestServer

from pipeline.analytics.runtime import AnalyticsRuntime
from pipeline.dashboard.server import DashboardData, build_app
from tests.unit.analytics_demo import demo_records


def demo_data() -> DashboardData:
    runtime = AnalyticsRuntime()
    read_at = datetime(2026, 11, 22, tzinfo=UTC)
    runtime.ingest(demo_records(), read_at)
    runtime.idle(read_at)
    return DashboardData(runtime.state, caught_up=True)


def call(check: Callable[[TestClient[Any, Any]], Awaitable[None]],
         data: DashboardData | None = None) -> None:
    async def scenario() -> None:
        async with TestClient(TestServer(build_app(data or demo_data()))) as client:
            await check(client)

    asyncio.run(scenario())


def test_overview_api_filters_by_brand_and_reports_kpis_incidents_and_health() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        everyone = await (await client.get("/api/overview")).json()
        croque = await (await client.get("/api/overview", params={"brand": "Croque"})).json()
        assert everyone["brands"] == ["Banque Azur", "Croque", "Kairo", "Nuvia Mobile"]
        assert croque["brand"] == "Croque"
        assert 0 < croque["volume"]["current"] < everyone["volume"]["current"]
        assert sum(croque["share_of_voice"].values()) == 1.0 or abs(
            sum(croque["share_of_voice"].values()) - 1.0) < 1e-3
        assert {i["brand"] for i in croque["incidents"]} == {"Croque"}
        assert {i["status"] for i in croque["incidents"]} == {"closed"}
        assert croque["response_time"]["answered"] >= 1
        assert everyone["dead_letters"]["total"] == 7
        assert {h["status"] for h in everyone["connectors"]} == {"ok", "auth_failed"}
        assert everyone["tickets"]["created"] >= 5
        kairo = await (await client.get("/api/overview", params={"brand": "Kairo"})).json()
        assert kairo["incidents"] == []

    call(check)


def test_feedback_api_export_and_digest() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        view = await (await client.get("/api/feedback", params={"area": "app"})).json()
        assert view["area"] == "app" and view["count"] == view["areas"]["app"] > 0
        assert all(q["text"] for t in view["themes"] for q in t["quotes"])
        response = await client.get("/api/export.csv", params={"area": "app"})
        assert response.headers["Content-Type"].startswith("text/csv")
        assert 'filename="feedback-app.csv"' in response.headers["Content-Disposition"]
        rows = list(csv.DictReader(io.StringIO(await response.text())))
        assert len(rows) == view["count"]
        assert {r["product_area"] for r in rows} == {"app"}
        digest = await client.get("/api/digest.md", params={"lang": "fr"})
        assert digest.headers["Content-Type"].startswith("text/markdown")
        assert (await digest.text()).startswith("# Retours produit de la semaine")
        html = await (await client.get("/api/digest.html")).text()
        assert "<h1>Weekly product feedback" in html

    call(check)


def test_bad_parameters_are_refused_with_a_clear_message() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.get("/api/feedback", params={"area": "teleportation"})
        assert response.status == 400
        assert "unknown area 'teleportation'" in await response.text()
        assert (await client.get("/api/overview", params={"days": "-3"})).status == 400
        assert (await client.get("/api/overview", params={"days": "abc"})).status == 400

    call(check)


def test_overview_page_in_french_from_accept_language_with_chart_and_brand_tabs() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        response = await client.get("/", params={"brand": "Croque"},
                                    headers={"Accept-Language": "fr-FR,fr;q=0.9,en;q=0.5"})
        html = await response.text()
        assert response.status == 200 and response.headers["Content-Language"] == "fr"
        assert '<html lang="fr">' in html
        assert "Sentiment dans le temps" in html and "Incidents de crise" in html
        assert '<svg viewBox' in html and 'role="img"' in html
        assert 'href="?brand=Kairo"' in html
        assert 'aria-current="true"\n    data-brand="Croque"' in html or (
            'data-brand="Croque"\n    aria-current="true"' in html)
        english = await (await client.get("/", params={"lang": "en"})).text()
        assert "Sentiment over time" in english and "lang=en" in english

    call(check)


def test_feedback_page_links_to_exports_and_escapes_quotes() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        html = await (await client.get("/feedback", params={"area": "app"})).text()
        assert 'href="/api/export.csv?area=app"' in html
        assert 'href="/api/digest.md?area=app"' in html
        assert "<script" not in html

    call(check)


def test_an_empty_state_still_renders_while_the_topics_are_read() -> None:
    async def check(client: TestClient[Any, Any]) -> None:
        assert (await client.get("/")).status == 200
        assert (await client.get("/feedback")).status == 200
        status = await (await client.get("/api/status")).json()
        assert status == {"records": {}, "total": 0, "unreadable": {}, "caught_up": False,
                          "events": 0, "latest": None}

    call(check, DashboardData())
