"""The dashboard in a real headless Chromium, fed by a real broker, worker and dashboard process.

Needs Debian's ``chromium`` and ``chromedriver`` (``make chromium`` installs them as root); the
test is skipped with that hint when they are missing. Screenshots are kept under
``artifacts/screenshots/`` (git-ignored) for a person to look at.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, ClassVar

import pytest

from connectors.producer import RawProducer
from connectors.sources.backfill import BackfillConfig, BackfillSource
from infra.broker import EmbeddedBroker
from infra.processes import free_port, stop_process, wait_for_port
from infra.run import DEMO_MALFORMED, DEMO_TRAFFIC
from infra.topics import ensure_topics
from tests.integration.kafka_utils import REPO, WorkerProcess

pytestmark = pytest.mark.integration

try:
    import selenium  # noqa: F401 - the browser driver, pinned in requirements
except ImportError:  # pragma: no cover - depends on the venv
    HAVE_SELENIUM = False
else:
    HAVE_SELENIUM = True

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CHROMEDRIVER = shutil.which("chromedriver")
SCREENSHOTS = REPO / "artifacts" / "screenshots"
CHROME_FLAGS = ("--headless", "--no-sandbox", "--disable-gpu", "--disable-quic",
                "--no-first-run", "--disable-background-networking",
                "--disable-component-update", "--disable-sync", "--window-size=1440,2400")


class _Hook(BaseHTTPRequestHandler):
    """A chat webhook that records what it is sent."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_POST(self) -> None:
        body = self.rfile.read(int(self.headers["Content-Length"]))
        self.received.append(json.loads(body))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture()
def webhook() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    _Hook.received = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Hook)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_port}/hook", _Hook.received
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture()
def pipeline(tmp_path: Path, webhook: tuple[str, list[dict[str, Any]]]
             ) -> Iterator[tuple[EmbeddedBroker, str]]:
    """Broker, worker (analytics on, no CRM) and dashboard process, with the demo backfilled."""
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as broker:
        ensure_topics(broker.bootstrap, partitions_override=3)
        env = {"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
               "PORTE_VOIX_APP_ID": "porte-voix-dashboard-test",
               "PORTE_VOIX_DELIVER_ENABLED": "false", "PORTE_VOIX_QUALITY_ENABLED": "false",
               "PORTE_VOIX_CRISIS_WEBHOOK_URL": webhook[0]}
        worker = WorkerProcess(env, tmp_path / "worker.log").start()
        port = free_port()
        log = (tmp_path / "dashboard.log").open("ab")
        dashboard = subprocess.Popen(
            [sys.executable, "-m", "pipeline.cli", "dashboard", "--port", str(port)],
            env={**os.environ, **env}, stdout=log, stderr=log, cwd=REPO)
        try:
            with RawProducer(broker.bootstrap) as producer:
                for path in (DEMO_TRAFFIC, DEMO_MALFORMED):
                    sum(producer.send_all(BackfillSource(BackfillConfig(path=path)).read()))
            wait_for_port("127.0.0.1", port, timeout=30)
            yield broker, f"http://127.0.0.1:{port}/"
        finally:
            stop_process(dashboard)
            log.close()
            worker.stop()
            print(worker.log_tail(3000))


def _get_json(url: str) -> Any:
    with urllib.request.urlopen(url, timeout=10) as response:
        return json.load(response)


def _wait_for_live_data(base: str, timeout: float = 70.0) -> dict[str, Any]:
    """Until the dashboard has read the enriched demo and the worker's crisis alerts."""
    deadline = time.monotonic() + timeout
    overview: dict[str, Any] = {}
    while time.monotonic() < deadline:
        overview = _get_json(base + "api/overview")
        if (overview["volume"]["current"] >= 80 and overview["incidents"]
                and overview["dead_letters"]["total"]):
            return overview
        time.sleep(1.0)
    shown = {k: overview.get(k) for k in ("volume", "incidents", "dead_letters")}
    raise AssertionError(f"no live data after {timeout}s: {json.dumps(shown)[:900]}")


@pytest.mark.skipif(not (CHROMIUM and CHROMEDRIVER and HAVE_SELENIUM) and not os.environ.get("CI"),
                    reason="needs chromium and chromedriver (`make chromium`, as root) and "
                    "selenium==4.51.0")
def test_dashboard_shows_live_data_and_a_click_filters_by_brand(
        pipeline: tuple[EmbeddedBroker, str],
        webhook: tuple[str, list[dict[str, Any]]]) -> None:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support import expected_conditions as ec
    from selenium.webdriver.support.ui import WebDriverWait

    _, base = pipeline
    live = _wait_for_live_data(base)
    assert {i["brand"] for i in live["incidents"]} == {"Croque"}

    options = webdriver.ChromeOptions()
    options.binary_location = str(CHROMIUM)
    for flag in CHROME_FLAGS:
        options.add_argument(flag)
    profile = tempfile.mkdtemp(prefix="porte-voix-chromium-")
    options.add_argument(f"--user-data-dir={profile}")
    driver = webdriver.Chrome(options=options, service=Service(executable_path=CHROMEDRIVER))
    SCREENSHOTS.mkdir(parents=True, exist_ok=True)
    try:
        driver.get(base + "?lang=en")
        assert driver.find_element(By.TAG_NAME, "h1").text.endswith("Community dashboard")
        total = int(driver.find_element(By.ID, "kpi-volume").text)
        assert total == live["volume"]["current"]
        assert driver.find_element(By.CSS_SELECTOR, "svg.chart").is_displayed()

        driver.find_element(By.CSS_SELECTOR, '#brand-tabs a[data-brand="Croque"]').click()
        WebDriverWait(driver, 10).until(ec.url_contains("brand=Croque"))
        active = driver.find_element(By.CSS_SELECTOR, '#brand-tabs a[aria-current="true"]')
        assert active.text == "Croque"
        croque = int(driver.find_element(By.ID, "kpi-volume").text)
        assert 0 < croque < total
        incidents = driver.find_element(By.ID, "incidents").text
        assert "Croque — App" in incidents
        driver.save_screenshot(str(SCREENSHOTS / "dashboard-overview-croque.png"))

        driver.find_element(By.LINK_TEXT, "Français").click()
        WebDriverWait(driver, 10).until(ec.url_contains("lang=fr"))
        assert "Sentiment dans le temps" in driver.page_source
        assert "brand=Croque" in driver.current_url
        driver.save_screenshot(str(SCREENSHOTS / "dashboard-overview-croque-fr.png"))

        driver.get(base + "feedback?lang=en&area=app")
        themes = driver.find_element(By.ID, "themes").text
        assert "Themes" in themes and "×" in themes
        driver.save_screenshot(str(SCREENSHOTS / "dashboard-feedback-app.png"))
    finally:
        driver.quit()
        shutil.rmtree(profile, ignore_errors=True)
    for name in ("dashboard-overview-croque.png", "dashboard-feedback-app.png"):
        assert (SCREENSHOTS / name).stat().st_size > 20_000
    posted = webhook[1]
    assert posted, "the crisis alerts never reached the webhook"
    assert all(set(p) == {"text", "blocks"} for p in posted)
    assert any(p["text"].startswith("Crisis incident opened: Croque") for p in posted)
    assert len([p for p in posted if "opened" in p["text"]]) == len(live["incidents"])
