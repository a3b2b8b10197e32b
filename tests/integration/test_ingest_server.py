"""The webhook ingest server for real: aiohttp on a free port, the embedded broker behind it.

Every stored delivery is read back from ``social.raw`` with kafka-python and normalized; every
refusal is checked on the wire (status, reason), on the topic (nothing stored) and on /metrics.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

import pytest
import requests
from aiohttp import web
from kafka import KafkaConsumer
from prometheus_client.parser import text_string_to_metric_families
from pydantic import SecretStr

from connectors.base import PushSource
from connectors.ingest import IngestSettings, build_producer, create_app
from connectors.ingest.push import DiscourseWebhook, MetaWebhook, XAccountActivity
from connectors.ingest.server import start_site
from connectors.ingest.settings import DiscourseWebhookConfig, MetaWebhookConfig, XWebhookConfig
from connectors.ingest.signatures import DISCOURSE, META, X, sign
from connectors.producer import RawProducer
from infra.broker import EmbeddedBroker, free_port, wait_for_port
from infra.topics import ensure_topics
from pipeline.normalize import normalize
from schemas.models import Kind, Platform, RawEnvelope
from schemas.topics import topic
from tests.integration.kafka_utils import REPO
from tests.unit.test_ingest_split import (
    BRANDS,
    FORUM,
    X_ACCOUNT,
    entry,
    feed_change,
    meta_body,
    three_entry_batch,
)

pytestmark = pytest.mark.integration

META_SECRET = "meta-app-secret-4f1c"
VERIFY_TOKEN = "verify-token-9a7e"
X_SECRET = "DDD"  # the consumer secret of X's published CRC example
DISCOURSE_SECRET = "my_lovely_secret_for_web_hook"  # the one of Discourse's published example
LIMIT = 64 * 1024


class Served:
    """An app from ``create_app`` served on 127.0.0.1:0 by its own event loop in a thread."""

    def __init__(self, app: web.Application) -> None:
        self.app = app
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.runner: web.AppRunner | None = None
        self.url = ""

    def __enter__(self) -> Served:
        self.thread.start()
        future = asyncio.run_coroutine_threadsafe(
            start_site(self.app, "127.0.0.1", 0, shutdown_timeout=2.0), self.loop)
        self.runner, self.url = future.result(30)
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        if self.runner is not None:
            asyncio.run_coroutine_threadsafe(self.runner.cleanup(), self.loop).result(30)
        asyncio.run_coroutine_threadsafe(self._cancel_leftovers(), self.loop).result(10)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(10)
        self.loop.close()

    @staticmethod
    async def _cancel_leftovers() -> None:
        """Connection tasks of clients that left without closing, so the loop closes clean."""
        current = asyncio.current_task()
        leftovers = [t for t in asyncio.all_tasks() if t is not current]
        for task in leftovers:
            task.cancel()
        await asyncio.gather(*leftovers, return_exceptions=True)

    @property
    def port(self) -> int:
        return int(self.url.rsplit(":", 1)[1])


def settings(**overrides: Any) -> IngestSettings:
    values: dict[str, Any] = {"max_body_bytes": LIMIT, "ack_timeout_seconds": 5.0}
    values.update(overrides)
    return IngestSettings(**values)


def connectors() -> list[PushSource[Any]]:
    """The three push connectors, configured with the secrets the tests sign with."""
    return [
        MetaWebhook(MetaWebhookConfig(app_secret=SecretStr(META_SECRET),
                                      verify_token=SecretStr(VERIFY_TOKEN))),
        XAccountActivity(XWebhookConfig(consumer_secret=SecretStr(X_SECRET))),
        DiscourseWebhook(DiscourseWebhookConfig(secret=SecretStr(DISCOURSE_SECRET))),
    ]


def app(config: IngestSettings, producer: RawProducer,
        served: list[PushSource[Any]] | None = None) -> web.Application:
    return create_app(config, producer, connectors() if served is None else served)


@pytest.fixture(scope="module")
def producer(broker: EmbeddedBroker) -> Iterator[RawProducer]:
    with build_producer(settings(), broker.bootstrap) as p:
        yield p


@pytest.fixture(scope="module")
def server(producer: RawProducer) -> Iterator[Served]:
    with Served(app(settings(), producer)) as served:
        yield served


def stored(bootstrap: str, mark: str, until: str | None = None,
           timeout: float = 60.0) -> list[RawEnvelope]:
    """Envelopes on social.raw whose payload contains ``mark`` (the topic is session-wide).

    Reads from the start until an envelope containing ``until`` (default ``mark``) was seen and
    then a quiet second passed, so a check that nothing was stored has read past a later write.
    """
    wanted = (until or mark).encode()
    consumer = KafkaConsumer("social.raw", bootstrap_servers=bootstrap,
                             group_id=f"test-ingest-{uuid.uuid4().hex[:8]}",
                             auto_offset_reset="earliest", enable_auto_commit=False,
                             session_timeout_ms=6000, heartbeat_interval_ms=2000)
    envelopes: list[RawEnvelope] = []
    seen_at: float | None = None
    last_new = time.monotonic()
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            batch = consumer.poll(timeout_ms=300)
            got = [RawEnvelope.model_validate_json(r.value)
                   for records in batch.values() for r in records]
            if got:
                envelopes.extend(got)
                last_new = time.monotonic()
                if seen_at is None and any(wanted in e.payload for e in got):
                    seen_at = last_new
            elif seen_at is not None and time.monotonic() - last_new > 1.0:
                break
    finally:
        consumer.close()
    assert seen_at is not None, f"{wanted!r} never reached social.raw"
    return [e for e in envelopes if mark.encode() in e.payload]


def marker() -> str:
    return f"mk{uuid.uuid4().hex[:12]}"


def post(url: str, body: bytes, headers: dict[str, str]) -> requests.Response:
    return requests.post(url, data=body, headers={"Content-Type": "application/json", **headers},
                         timeout=30)


def metric(url: str, name: str, **labels: str) -> float:
    """One sample of /metrics (0 when the series does not exist yet)."""
    text = requests.get(f"{url}/metrics", timeout=10).text
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return float(sample.value)
    return 0.0


def discourse_post(mark: str, number: int = 2) -> bytes:
    return json.dumps({"post": {
        "id": 9000 + number, "topic_id": 321, "username": "alex", "name": "Alex",
        "created_at": "2026-03-01T10:00:00.000Z", "post_number": number,
        "raw": f"L'appli plante au paiement {mark}", "topic_title": "Paiement"}}).encode()


def x_body(mark: str) -> bytes:
    return json.dumps({"for_user_id": X_ACCOUNT, "tweet_create_events": [{
        "id_str": f"1{int(mark[2:], 16) % 10**12}", "created_at": "Sun Mar 01 10:00:00 +0000 2026",
        "text": f"@NuviaMobile toujours pas de réseau {mark}",
        "user": {"id_str": "4242", "screen_name": "lea_b", "followers_count": 120}}]}).encode()


# ----------------------------------------------------------------------------- Meta


def test_signed_meta_batch_of_three_entries_becomes_three_envelopes_that_normalize(
        server: Served, broker: EmbeddedBroker) -> None:
    mark = marker()
    body = three_entry_batch(mark)
    response = post(f"{server.url}/webhooks/meta", body,
                    {"X-Hub-Signature-256": sign(META, META_SECRET, body)})
    assert response.status_code == 200, response.text
    assert response.json() == {"stored": 3}

    envelopes = sorted(stored(broker.bootstrap, mark), key=lambda e: e.headers["batch_index"])
    assert len(envelopes) == 3
    digest = hashlib.sha256(body).hexdigest()
    assert all(e.source == "meta_webhook" and e.signature_verified for e in envelopes)
    assert [e.headers["batch_index"] for e in envelopes] == ["0", "1", "2"]
    assert {(e.headers["batch_sha256"], e.headers["batch_size"]) for e in envelopes} == {
        (digest, "3")}
    events = [normalize(e, BRANDS) for e in envelopes]
    assert [len(found) for found in events] == [1, 1, 1]
    first, second, third = (found[0] for found in events)
    assert first.platform is Platform.facebook and first.kind is Kind.comment
    assert first.text == f"Très déçu du réseau {mark}"
    assert second.kind is Kind.dm and second.text == f"Where is my order? {mark}"
    assert third.brand == "Croque"
    assert [ev.raw_id for ev in (first, second, third)] == [e.raw_id for e in envelopes]


def test_forged_or_missing_meta_signature_is_401_and_nothing_is_stored(
        server: Served, broker: EmbeddedBroker, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    mark = marker()
    body = meta_body(entry(changes=[feed_change(f"555_{mark}", f"faux {mark}")]))
    forged = sign(META, "not-the-app-secret", body)
    url = f"{server.url}/webhooks/meta"
    cases = {"signature_invalid": {"X-Hub-Signature-256": forged},
             "signature_missing": {},
             "signature_malformed": {"X-Hub-Signature-256": forged.removeprefix("sha256=")}}
    for reason, headers in cases.items():
        response = post(url, body, headers)
        assert response.status_code == 401
        assert response.json()["error"] == reason
    sentinel = marker()  # a later, valid delivery: reading past it proves nothing came before
    valid = meta_body(entry(changes=[feed_change(f"555_{sentinel}", sentinel)]))
    assert post(url, valid, {"X-Hub-Signature-256": sign(META, META_SECRET, valid)}).ok
    assert stored(broker.bootstrap, mark, until=sentinel) == []
    logged = caplog.text
    assert "meta webhook refused: 401 signature_invalid" in logged
    assert forged.removeprefix("sha256=") not in logged
    assert META_SECRET not in logged and mark not in logged


def test_meta_verification_handshake(server: Served, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    url = f"{server.url}/webhooks/meta"
    ok = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": VERIFY_TOKEN,
                                   "hub.challenge": "1158201444"}, timeout=10)
    assert ok.status_code == 200 and ok.text == "1158201444"
    assert ok.headers["Content-Type"].startswith("text/plain")
    wrong = requests.get(url, params={"hub.mode": "subscribe", "hub.verify_token": "guess",
                                      "hub.challenge": "1"}, timeout=10)
    assert wrong.status_code == 403
    mode = requests.get(url, params={"hub.mode": "unsubscribe", "hub.verify_token": VERIFY_TOKEN,
                                     "hub.challenge": "1"}, timeout=10)
    assert mode.status_code == 403
    no_challenge = requests.get(url, params={"hub.mode": "subscribe",
                                             "hub.verify_token": VERIFY_TOKEN}, timeout=10)
    assert no_challenge.status_code == 400
    assert VERIFY_TOKEN not in caplog.text  # the access log leaves query strings out
    assert "/webhooks/meta 200" in caplog.text


# -------------------------------------------------------------------------------- X


def test_x_crc_answers_the_published_vector_and_refuses_body_shaped_tokens(
        server: Served) -> None:
    url = f"{server.url}/webhooks/x"
    crc = requests.get(url, params={"crc_token": "some_random"}, timeout=10)
    assert crc.status_code == 200
    assert crc.json() == {"response_token": "sha256=VE19eUk6krbdSqWPdvH71xtFhApBAU81uPW3UT65vOs="}
    body = x_body(marker())
    sneaky = requests.get(url, params={"crc_token": body.decode()}, timeout=10)
    assert sneaky.status_code == 400 and sneaky.json()["error"] == "crc_token_invalid"
    assert requests.get(url, timeout=10).status_code == 400


def test_signed_x_delivery_is_stored_untouched_and_normalizes(
        server: Served, broker: EmbeddedBroker) -> None:
    mark = marker()
    body = x_body(mark)
    response = post(f"{server.url}/webhooks/x", body,
                    {"x-twitter-webhooks-signature": sign(X, X_SECRET, body)})
    assert response.status_code == 200 and response.json() == {"stored": 1}
    [envelope] = stored(broker.bootstrap, mark)
    assert envelope.payload == body
    assert envelope.source == "x_account_activity" and envelope.account == X_ACCOUNT
    [event] = normalize(envelope, BRANDS)
    assert event.platform is Platform.x and event.text.endswith(mark)
    forged = post(f"{server.url}/webhooks/x", body,
                  {"x-twitter-webhooks-signature": sign(X, "other", body)})
    assert forged.status_code == 401


# ------------------------------------------------------------------------ Discourse


def test_discourse_published_ping_is_acknowledged_without_storing(server: Served) -> None:
    before = metric(server.url, "porte_voix_ingest_pings_total", platform="discourse")
    stored_before = metric(server.url, "porte_voix_ingest_envelopes_total", platform="discourse")
    response = post(f"{server.url}/webhooks/discourse", b'{"ping":"OK"}', {
        "X-Discourse-Event": "ping", "X-Discourse-Event-Type": "ping",
        "X-Discourse-Event-Signature":
            "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"})
    assert response.status_code == 200 and response.json() == {"stored": 0, "ping": True}
    assert metric(server.url, "porte_voix_ingest_pings_total", platform="discourse") == before + 1
    assert metric(server.url, "porte_voix_ingest_envelopes_total",
                  platform="discourse") == stored_before


def test_signed_discourse_post_is_stored_with_its_headers_and_normalizes(
        server: Served, broker: EmbeddedBroker) -> None:
    mark = marker()
    body = discourse_post(mark)
    headers = {"X-Discourse-Event": "post_created", "X-Discourse-Event-Type": "post",
               "X-Discourse-Instance": f"https://{FORUM}", "X-Discourse-Event-Id": "4711"}
    url = f"{server.url}/webhooks/discourse"
    bad = post(url, body, {**headers, "X-Discourse-Event-Signature": sign(DISCOURSE, "x", body)})
    assert bad.status_code == 401
    response = post(url, body, {**headers,
                                "X-Discourse-Event-Signature": sign(DISCOURSE, DISCOURSE_SECRET,
                                                                    body)})
    assert response.status_code == 200, response.text
    [envelope] = stored(broker.bootstrap, mark)
    assert envelope.payload == body and envelope.signature_verified
    assert {k: envelope.headers[k] for k in headers} == headers
    assert "X-Discourse-Event-Signature" not in envelope.headers
    [event] = normalize(envelope, BRANDS)
    assert event.platform is Platform.forum and event.conversation_id == f"{FORUM}:321"


# -------------------------------------------------------------------- refusals, limits


def _raw_exchange(port: int, head: bytes, body_part: bytes) -> bytes:
    """Send a request head and only part of a body; return what the server answers."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        sock.sendall(head + body_part)
        received = b""
        while b"\r\n\r\n" not in received:
            chunk = sock.recv(4096)
            if not chunk:
                break
            received += chunk
        return received


def test_oversized_body_is_413_without_being_read(server: Served) -> None:
    before = metric(server.url, "porte_voix_ingest_rejections_total", platform="meta",
                    reason="body_too_large")
    # Announces 10 MiB and sends 1 KiB: an answer can only come from the header check.
    head = (b"POST /webhooks/meta HTTP/1.1\r\nHost: 127.0.0.1\r\n"
            b"Content-Type: application/json\r\nContent-Length: 10485760\r\n"
            b"X-Hub-Signature-256: sha256=00\r\n\r\n")
    started = time.monotonic()
    answer = _raw_exchange(server.port, head, b"{" * 1024)
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert time.monotonic() - started < 5
    assert b"Connection: close" in answer
    # Chunked, no length announced: read only up to the limit.
    chunked = (b"POST /webhooks/x HTTP/1.1\r\nHost: 127.0.0.1\r\n"
               b"Transfer-Encoding: chunked\r\n\r\n")
    chunk = b"a" * 8192
    chunks = b"".join(b"%x\r\n%s\r\n" % (len(chunk), chunk) for _ in range(LIMIT // 8192 + 1))
    assert _raw_exchange(server.port, chunked, chunks).startswith(b"HTTP/1.1 413")
    assert metric(server.url, "porte_voix_ingest_rejections_total", platform="meta",
                  reason="body_too_large") == before + 1
    assert metric(server.url, "porte_voix_ingest_rejections_total", platform="x",
                  reason="body_too_large") >= 1


def test_signed_but_malformed_bodies_are_400_with_a_reason(server: Served) -> None:
    cases = [("meta", b"not json", "X-Hub-Signature-256", META, META_SECRET, "not valid JSON"),
             ("meta", b'{"object":"page","entry":[]}', "X-Hub-Signature-256", META, META_SECRET,
              "'entry' must be a non-empty array"),
             ("x", b"[]", "x-twitter-webhooks-signature", X, X_SECRET,
              "must be a JSON object, got an array"),
             ("discourse", b"<html/>", "X-Discourse-Event-Signature", DISCOURSE,
              DISCOURSE_SECRET, "not valid JSON")]
    for platform, body, header, scheme, secret, reason in cases:
        response = post(f"{server.url}/webhooks/{platform}", body,
                        {header: sign(scheme, secret, body)})
        assert response.status_code == 400, (platform, response.text)
        assert response.json()["error"] == "malformed_body"
        assert reason in response.json()["detail"]


def test_wrong_method_is_405_and_counted(server: Served) -> None:
    before = metric(server.url, "porte_voix_ingest_rejections_total", platform="discourse",
                    reason="method_not_allowed")
    assert requests.get(f"{server.url}/webhooks/discourse", timeout=10).status_code == 405
    assert requests.put(f"{server.url}/webhooks/meta", data=b"{}", timeout=10).status_code == 405
    assert requests.delete(f"{server.url}/webhooks/x", timeout=10).status_code == 405
    assert metric(server.url, "porte_voix_ingest_rejections_total", platform="discourse",
                  reason="method_not_allowed") == before + 1
    assert metric(server.url, "porte_voix_ingest_rejections_total", platform="meta",
                  reason="method_not_allowed") >= 1


def test_metrics_count_rejections_per_platform_and_reason_and_healthz_answers(
        server: Served) -> None:
    def rejected(platform: str, reason: str) -> float:
        return metric(server.url, "porte_voix_ingest_rejections_total", platform=platform,
                      reason=reason)

    keys = [("x", "signature_invalid"), ("discourse", "signature_missing"),
            ("meta", "malformed_body")]
    before = {key: rejected(*key) for key in keys}
    post(f"{server.url}/webhooks/x", b"{}", {"x-twitter-webhooks-signature": "sha256=AAAA"})
    post(f"{server.url}/webhooks/discourse", b"{}", {})
    post(f"{server.url}/webhooks/discourse", b"{}", {})
    post(f"{server.url}/webhooks/meta", b"[]", {"X-Hub-Signature-256": sign(META, META_SECRET,
                                                                            b"[]")})
    assert {key: rejected(*key) - before[key] for key in keys} == {
        ("x", "signature_invalid"): 1, ("discourse", "signature_missing"): 2,
        ("meta", "malformed_body"): 1}
    page = requests.get(f"{server.url}/metrics", timeout=10)
    assert page.headers["Content-Type"].startswith("text/plain; version=0.0.4")
    assert "porte_voix_ingest_broker_ack_seconds_bucket" in page.text
    open_metrics = requests.get(f"{server.url}/metrics", timeout=10,
                                headers={"Accept": "application/openmetrics-text; version=1.0.0"})
    assert open_metrics.headers["Content-Type"].startswith("application/openmetrics-text")
    assert open_metrics.text.rstrip().endswith("# EOF")
    health = requests.get(f"{server.url}/healthz", timeout=10).json()
    assert health["status"] == "ok"
    assert health["platforms"] == {"meta": True, "x": True, "discourse": True}


def test_a_body_at_the_default_one_mib_limit_is_stored(
        producer: RawProducer, broker: EmbeddedBroker) -> None:
    """A full-size body makes a ~1.4 MB record (base64): the producer must allow it."""
    defaults = settings(max_body_bytes=1024 * 1024)
    mark = marker()
    body = discourse_post(mark)
    padding = 1024 * 1024 - len(body) - len(',"pad":""')
    body = body[:-1] + b',"pad":"' + b"p" * padding + b'"}'
    assert len(body) == 1024 * 1024
    with build_producer(defaults, broker.bootstrap) as big, Served(
            app(defaults, big)) as served:
        response = post(f"{served.url}/webhooks/discourse", body, {
            "X-Discourse-Event-Signature": sign(DISCOURSE, DISCOURSE_SECRET, body),
            "X-Discourse-Instance": FORUM})
        assert response.status_code == 200, response.text
    [envelope] = stored(broker.bootstrap, mark)
    assert envelope.payload == body


# ----------------------------------------------------------------- broker, configuration


def test_broker_down_is_503_never_200(tmp_path: Path) -> None:
    fast = settings(ack_timeout_seconds=1.0)
    with EmbeddedBroker(log_path=tmp_path / "tansu.log") as own:
        ensure_topics(own.bootstrap, specs=[topic("social.raw")])
        own_producer = build_producer(fast, own.bootstrap)
        try:
            with Served(app(fast, own_producer)) as served:
                url = f"{served.url}/webhooks/discourse"

                def deliver(mark: str) -> requests.Response:
                    body = discourse_post(mark)
                    return post(url, body, {
                        "X-Discourse-Event-Signature": sign(DISCOURSE, DISCOURSE_SECRET, body),
                        "X-Discourse-Instance": FORUM})

                assert deliver(marker()).status_code == 200
                own.stop()
                started = time.monotonic()
                down = deliver(marker())
                elapsed = time.monotonic() - started
                assert down.status_code == 503, down.text
                assert down.json()["error"] in {"broker_timeout", "broker_error"}
                assert elapsed < 1.0 + 2.0
                refused = sum(metric(served.url, "porte_voix_ingest_rejections_total",
                                     platform="discourse", reason=reason)
                              for reason in ("broker_timeout", "broker_error"))
                assert refused == 1
        finally:
            started = time.monotonic()
            own_producer.close()  # bounded by the delivery timeout, even with records pending
            assert time.monotonic() - started < 10


def test_unconfigured_platforms_answer_404_and_are_named_at_start_up(
        producer: RawProducer, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO)
    only_discourse = [c for c in connectors() if c.platform == "discourse"]
    with Served(app(settings(), producer, only_discourse)) as served:
        assert "meta webhooks disabled: PORTE_VOIX_INGEST_META_APP_SECRET and " \
               "PORTE_VOIX_INGEST_META_VERIFY_TOKEN not set" in caplog.text
        assert "x webhooks disabled: PORTE_VOIX_INGEST_X_CONSUMER_SECRET not set" in caplog.text
        assert "discourse webhooks enabled at /webhooks/discourse" in caplog.text
        body = meta_body(entry(changes=[feed_change("1", "x")]))
        meta = post(f"{served.url}/webhooks/meta", body,
                    {"X-Hub-Signature-256": sign(META, META_SECRET, body)})
        assert meta.status_code == 404 and meta.json()["error"] == "not_configured"
        hub = requests.get(f"{served.url}/webhooks/meta",
                           params={"hub.mode": "subscribe", "hub.verify_token": "",
                                   "hub.challenge": "1"}, timeout=10)
        assert hub.status_code == 404
        crc = requests.get(f"{served.url}/webhooks/x", params={"crc_token": "abc"}, timeout=10)
        assert crc.status_code == 404
        health = requests.get(f"{served.url}/healthz", timeout=10).json()
        assert health["platforms"] == {"meta": False, "x": False, "discourse": True}


def test_python_m_connectors_ingest_serves_from_the_environment(
        broker: EmbeddedBroker, tmp_path: Path) -> None:
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PORTE_VOIX_INGEST_")}
    env.update({"KAFKA_BOOTSTRAP_SERVERS": broker.bootstrap,
                "PORTE_VOIX_INGEST_PORT": str(port),
                "PORTE_VOIX_INGEST_DISCOURSE_SECRET": DISCOURSE_SECRET,
                # incomplete or empty secrets disable their platform, never serve it unsigned
                "PORTE_VOIX_INGEST_META_APP_SECRET": META_SECRET,
                "PORTE_VOIX_INGEST_X_CONSUMER_SECRET": ""})
    log_path = tmp_path / "ingest.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen([sys.executable, "-m", "connectors.ingest"], cwd=REPO,
                                   env=env, stdout=log, stderr=log)
    try:
        wait_for_port("127.0.0.1", port, timeout=60)
        mark = marker()
        body = discourse_post(mark, number=1)
        response = post(f"http://127.0.0.1:{port}/webhooks/discourse", body, {
            "X-Discourse-Event-Signature": sign(DISCOURSE, DISCOURSE_SECRET, body),
            "X-Discourse-Event": "post_created", "X-Discourse-Instance": FORUM})
        assert response.status_code == 200, response.text
    finally:
        process.send_signal(signal.SIGTERM)
        code = process.wait(20)
    assert code == 0
    logged = log_path.read_text()
    assert "meta webhooks disabled" in logged and "x webhooks disabled" in logged
    assert f"ingest server listening on http://127.0.0.1:{port}" in logged
    assert DISCOURSE_SECRET not in logged
    [envelope] = stored(broker.bootstrap, mark)
    [event] = normalize(envelope, BRANDS)
    assert event.kind is Kind.comment and event.text.startswith("Paiement\n")
