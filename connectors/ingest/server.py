"""The webhook ingest server: platforms push signed deliveries, we store them on ``social.raw``.

A thin aiohttp shell over the registered push connectors (:mod:`.push`: signature check,
handshake and body splitting, all pure): one route ``/webhooks/<platform>`` per connector, served
when its config is complete. Every delivery goes through the same steps, and the first that
fails decides the answer:

1. platform configured?            no  -> 404 ``not_configured`` (never accept unsigned bodies)
2. body within ``max_body_bytes``? no  -> 413 ``body_too_large`` (Content-Length is checked
   before reading; a chunked body is read only up to the limit; the connection is then closed)
3. signature valid on the raw bytes? no -> 401 ``signature_missing|malformed|invalid``
4. body readable as the platform's JSON? no -> 400 ``malformed_body`` with the reason
5. broker acknowledged every envelope (acks=all) within ``ack_timeout_seconds``?
                                   no  -> 503 ``broker_timeout|broker_error``
6. 200 ``{"stored": n}``

401 rather than 403 for signatures: the request failed to authenticate, and all three platforms
treat any non-2xx alike (they retry), so the code is for the operator reading a delivery log; 403
is kept for Meta's verification handshake with a wrong ``hub.verify_token``, as Meta's own
examples answer it, so the two failures stay apart in Meta's dashboard.

Producing: the shared kafka-python :class:`~connectors.producer.RawProducer` (acks=all), as every
connector uses, rather than aiokafka: ``send()`` runs in a worker thread (it can block on metadata
while the broker is away) and its futures are bridged to asyncio through callbacks, so waiting
for acknowledgements holds no thread and a batch is sent in one go. (aiokafka's idempotent
producer also fails against the embedded broker.) A timeout answers 503 while the record may still
land later; the platform's retry then carries the same bytes, hence the same ``raw_id``, and
downstream collapses it (at-least-once).
"""

from __future__ import annotations

import asyncio
import logging
import signal
import time
from collections.abc import Awaitable, Callable, Iterable, Mapping, Sequence
from typing import Any

from aiohttp import web
from aiohttp.abc import AbstractAccessLogger
from kafka.errors import KafkaError
from kafka.producer.future import FutureRecordMetadata
from pydantic import BaseModel, ValidationError

from connectors.base import PushSource, push_sources
from connectors.ingest import push  # noqa: F401  (registers the push connectors)
from connectors.ingest.metrics import IngestMetrics
from connectors.ingest.settings import IngestSettings
from connectors.producer import RawProducer
from pipeline.errors import BadInput, Fatal
from schemas.models import RawEnvelope, utcnow

__all__ = [
    "app_metrics",
    "build_producer",
    "connectors_from_env",
    "create_app",
    "log_configuration",
    "publish",
    "read_limited",
    "record_limit",
    "required_env",
    "run_ingest",
    "start_site",
    "webhook_path",
]

log = logging.getLogger("connectors.ingest")

_METRICS = web.AppKey("ingest_metrics", IngestMetrics)


def webhook_path(cls: type[PushSource[Any]]) -> str:
    return f"/webhooks/{cls.platform}"


def required_env(config_model: type[BaseModel]) -> list[str]:
    """The variables that must be set for a push connector's config to be valid."""
    prefix = str(config_model.model_config.get("env_prefix", ""))
    return [f"{prefix}{name}".upper() for name, field in config_model.model_fields.items()
            if field.is_required()]


def _platforms() -> dict[str, type[PushSource[Any]]]:
    """Registered push connectors by platform (their route and metrics label)."""
    return {cls.platform: cls for cls in push_sources().values()}


def connectors_from_env() -> list[PushSource[Any]]:
    """Every registered push connector whose config the environment completes."""
    found: list[PushSource[Any]] = []
    for cls in push_sources().values():
        try:
            config = cls.config_model()
        except ValidationError:
            continue  # disabled; log_configuration names the variables to set
        found.append(cls(config))
    return found


# ----------------------------------------------------------------------------- broker


def record_limit(max_body_bytes: int) -> int:
    """Largest record an envelope of a ``max_body_bytes`` body makes (base64 + fields)."""
    return 4 * -(-max_body_bytes // 3) + 64 * 1024


def build_producer(settings: IngestSettings, bootstrap: str | list[str]) -> RawProducer:
    """The raw producer with every wait bounded by the ack timeout (and records big enough).

    ``max_block_ms`` bounds ``send()`` when metadata is missing, the request and delivery
    timeouts bound how long an unacknowledged record lingers (and so how long closing takes).
    """
    ack_ms = max(1000, int(settings.ack_timeout_seconds * 1000))
    return RawProducer(
        bootstrap,
        max_block_ms=ack_ms,
        request_timeout_ms=ack_ms,
        delivery_timeout_ms=2 * ack_ms + 100,
        max_request_size=max(1024 * 1024, record_limit(settings.max_body_bytes)),
    )


def _settle(done: asyncio.Future[None], error: BaseException | None) -> None:
    if done.done():  # already timed out and cancelled
        return
    if error is None:
        done.set_result(None)
    else:
        done.set_exception(error)


def _acknowledged(future: FutureRecordMetadata,
                  loop: asyncio.AbstractEventLoop) -> asyncio.Future[None]:
    """An asyncio future resolved from the producer's I/O thread when the broker answers."""
    done: asyncio.Future[None] = loop.create_future()

    def call(error: BaseException | None) -> None:
        try:
            loop.call_soon_threadsafe(_settle, done, error)
        except RuntimeError:  # the loop closed while the record was in flight
            pass

    future.add_callback(lambda _metadata: call(None))
    future.add_errback(call)
    return done


def _send_all(producer: RawProducer,
              envelopes: Sequence[RawEnvelope]) -> list[FutureRecordMetadata]:
    return [producer.send(envelope) for envelope in envelopes]


async def publish(producer: RawProducer, envelopes: Sequence[RawEnvelope],
                  timeout: float) -> None:
    """Send every envelope and return once the broker acknowledged them all.

    Raises TimeoutError past ``timeout`` and the producer's KafkaError when it refuses one.
    """
    loop = asyncio.get_running_loop()
    async with asyncio.timeout(timeout):
        futures = await asyncio.to_thread(_send_all, producer, envelopes)
        await asyncio.gather(*(_acknowledged(f, loop) for f in futures))


# ------------------------------------------------------------------------------- HTTP


async def read_limited(request: web.Request, limit: int) -> bytes | None:
    """The whole body, or None as soon as it is known to exceed ``limit`` bytes."""
    if request.content_length is not None and request.content_length > limit:
        return None
    chunks: list[bytes] = []
    size = 0
    async for chunk in request.content.iter_any():
        size += len(chunk)
        if size > limit:
            return None
        chunks.append(chunk)
    return b"".join(chunks)


class PathAccessLogger(AbstractAccessLogger):
    """Access log without query strings: Meta's ``hub.verify_token`` travels in the query."""

    def log(self, request: Any, response: Any, time: float) -> None:
        self.logger.info("%s %s %s %s %.1fms", request.remote, request.method, request.path,
                         response.status, time * 1000)


class _Ingest:
    """The handlers, bound to the served connectors, one producer and one metrics registry."""

    def __init__(self, settings: IngestSettings, producer: RawProducer, metrics: IngestMetrics,
                 connectors: Mapping[str, PushSource[Any] | None]) -> None:
        self.settings = settings
        self.producer = producer
        self.metrics = metrics
        self.connectors = connectors  # by platform; None: not configured
        self.last_ack_at: float | None = None

    # -- answers

    def reject(self, request: web.Request, platform: str, status: int, reason: str,
               detail: str) -> web.Response:
        """Count, log (no secret, no signature, no body) and answer a refusal."""
        self.metrics.reject(platform, reason)
        log.warning("%s webhook refused: %d %s (%s); %s %s, %s body bytes, from %s",
                    platform, status, reason, detail, request.method, request.path,
                    request.content_length if request.content_length is not None else "?",
                    request.remote)
        headers = {"Retry-After": "5"} if status == 503 else None
        return web.json_response({"error": reason, "detail": detail}, status=status,
                                 headers=headers)

    def not_configured(self, request: web.Request, platform: str) -> web.Response:
        return self.reject(request, platform, 404, "not_configured",
                           f"{platform} webhooks are not configured on this server")

    # -- deliveries

    async def deliver(self, request: web.Request, platform: str) -> web.Response:
        connector = self.connectors[platform]
        if connector is None:
            return self.not_configured(request, platform)
        limit = self.settings.max_body_bytes
        body = await read_limited(request, limit)
        if body is None:
            response = self.reject(request, platform, 413, "body_too_large",
                                   f"body over {limit} bytes")
            response.force_close()  # do not drain the rest of an oversized body
            return response
        refusal = connector.check_signature(request.headers, body)
        if refusal is not None:
            return self.reject(request, platform, 401, refusal,
                               f"{connector.signature_header} does not sign this body")
        try:
            envelopes = connector.envelopes(request.headers, body, utcnow())
        except BadInput as exc:
            return self.reject(request, platform, 400, "malformed_body", exc.message)
        if not envelopes:
            self.metrics.pings.labels(platform).inc()
            return web.json_response({"stored": 0, "ping": True})
        started = time.monotonic()
        try:
            await publish(self.producer, envelopes, self.settings.ack_timeout_seconds)
        except TimeoutError:
            return self.reject(request, platform, 503, "broker_timeout",
                               f"no acknowledgement within {self.settings.ack_timeout_seconds}s")
        except KafkaError as exc:
            return self.reject(request, platform, 503, "broker_error", type(exc).__name__)
        self.metrics.ack_seconds.labels(platform).observe(time.monotonic() - started)
        self.metrics.deliveries.labels(platform).inc()
        self.metrics.envelopes.labels(platform).inc(len(envelopes))
        self.last_ack_at = time.time()
        return web.json_response({"stored": len(envelopes)})

    async def handshake(self, request: web.Request, platform: str) -> web.Response:
        """The platform's subscription check (Meta hub challenge, X CRC)."""
        connector = self.connectors[platform]
        if connector is None:
            return self.not_configured(request, platform)
        answer = connector.handshake(request.query)
        if answer.refusal is not None:
            return self.reject(request, platform, answer.status, answer.refusal, answer.body)
        self.metrics.handshakes.labels(platform).inc()
        return web.Response(text=answer.body, content_type=answer.content_type,
                            status=answer.status)

    def post_handler(self, platform: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self.deliver(request, platform)
        return handle

    def get_handler(self, platform: str) -> Callable[[web.Request], Awaitable[web.Response]]:
        async def handle(request: web.Request) -> web.Response:
            return await self.handshake(request, platform)
        return handle

    # -- operations

    async def metrics_page(self, request: web.Request) -> web.Response:
        page, content_type = self.metrics.render(request.headers.get("Accept", ""))
        return web.Response(body=page, headers={"Content-Type": content_type})

    async def healthz(self, request: web.Request) -> web.Response:
        return web.json_response({
            "status": "ok",
            "platforms": {name: c is not None for name, c in self.connectors.items()},
            "last_ack_at": self.last_ack_at,
        })


def _count_router_refusals(metrics: IngestMetrics, platform_of: Mapping[str, str]
                           ) -> Callable[..., Awaitable[web.StreamResponse]]:
    """Middleware: the router's own 405s on webhook paths are counted and logged too."""

    @web.middleware
    async def middleware(request: web.Request,
                         handler: Callable[[web.Request], Awaitable[web.StreamResponse]]
                         ) -> web.StreamResponse:
        try:
            return await handler(request)
        except web.HTTPMethodNotAllowed:
            platform = platform_of.get(request.path)
            if platform is not None:
                metrics.reject(platform, "method_not_allowed")
                log.warning("%s webhook refused: 405 method_not_allowed (%s %s) from %s",
                            platform, request.method, request.path, request.remote)
            raise

    return middleware


def _served(connectors: Iterable[PushSource[Any]] | None) -> dict[str, PushSource[Any] | None]:
    """Every registered platform, with its connector when it is served."""
    given = {c.platform: c for c in (connectors_from_env() if connectors is None
                                     else connectors)}
    return {platform: given.get(platform) for platform in _platforms()}


def log_configuration(connectors: Mapping[str, PushSource[Any] | None]) -> list[str]:
    """Say at start-up which platforms are served and why the others are not; returns them."""
    enabled = []
    classes = _platforms()
    for platform, connector in connectors.items():
        cls = classes[platform]
        if connector is not None:
            enabled.append(platform)
            log.info("%s webhooks enabled at %s (source %s)", platform, webhook_path(cls),
                     cls.name)
        else:
            log.warning("%s webhooks disabled: %s not set; %s answers 404", platform,
                        " and ".join(required_env(cls.config_model)), webhook_path(cls))
    if not enabled:
        log.warning("no platform is configured: every webhook route answers 404")
    return enabled


def create_app(settings: IngestSettings, producer: RawProducer,
               connectors: Iterable[PushSource[Any]] | None = None) -> web.Application:
    """The aiohttp application serving every registered push connector.

    ``connectors`` are the configured ones (default: those the environment configures); the
    other registered platforms answer 404. The caller owns (and closes) ``producer``.
    """
    served = _served(connectors)
    metrics = IngestMetrics(tuple(served))
    ingest = _Ingest(settings, producer, metrics, served)
    classes = _platforms()
    paths = {webhook_path(cls): platform for platform, cls in classes.items()}
    app = web.Application(client_max_size=settings.max_body_bytes,
                          middlewares=[_count_router_refusals(metrics, paths)])
    app[_METRICS] = metrics
    for path, platform in paths.items():
        if classes[platform].has_handshake:
            app.router.add_get(path, ingest.get_handler(platform), allow_head=False)
        app.router.add_post(path, ingest.post_handler(platform))
    app.router.add_get("/metrics", ingest.metrics_page)
    app.router.add_get("/healthz", ingest.healthz)
    log_configuration(served)
    return app


def app_metrics(app: web.Application) -> IngestMetrics:
    """The metrics registry of an application made by :func:`create_app`."""
    return app[_METRICS]


async def start_site(app: web.Application, host: str, port: int,
                     shutdown_timeout: float = 10.0) -> tuple[web.AppRunner, str]:
    """Serve ``app`` on host:port (0: a free port); returns the runner and the base URL."""
    runner = web.AppRunner(app, access_log_class=PathAccessLogger,
                           access_log=logging.getLogger("connectors.ingest.access"),
                           shutdown_timeout=shutdown_timeout)
    await runner.setup()
    site = web.TCPSite(runner, host, port)
    await site.start()
    bound_host, bound_port = runner.addresses[0][:2]
    shown = f"[{bound_host}]" if ":" in bound_host else bound_host
    return runner, f"http://{shown}:{bound_port}"


async def _serve_until_signal(settings: IngestSettings, producer: RawProducer) -> None:
    runner, url = await start_site(create_app(settings, producer), settings.host, settings.port,
                                   shutdown_timeout=settings.ack_timeout_seconds + 1.0)
    log.info("ingest server listening on %s (webhooks under /webhooks/, /metrics, /healthz)",
             url)
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    try:
        await stop.wait()
    finally:
        log.info("ingest server stopping: finishing in-flight deliveries")
        await runner.cleanup()


def run_ingest(settings: IngestSettings | None = None,
               bootstrap: str | list[str] | None = None) -> None:
    """Run the ingest server until SIGINT/SIGTERM (``porte-voix ingest``).

    ``settings`` defaults to the ``PORTE_VOIX_INGEST_*`` environment, ``bootstrap`` to the
    pipeline's ``KAFKA_BOOTSTRAP_SERVERS``. Raises Fatal at start-up when no broker answers.
    """
    if settings is None:
        settings = IngestSettings()
    if bootstrap is None:
        from pipeline.settings import get_settings

        bootstrap = get_settings().bootstrap_list
    try:
        producer = build_producer(settings, bootstrap)
    except KafkaError as exc:
        raise Fatal(f"ingest: no broker reachable at {bootstrap}: {exc}") from exc
    try:
        asyncio.run(_serve_until_signal(settings, producer))
    finally:
        producer.close()
