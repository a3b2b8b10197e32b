"""What the JSON CRM fakes share: the pollers' FakeApi serving every method with a JSON body.

On top of :class:`tests.fakes.base.FakeApi` (request log, injected answers, request budget) this
adds request bodies, POST/PUT/DELETE, a per-API throttled answer and headers sent on every
answer (rate-limit counters), and the ``fail_next`` of the FakeCRM protocol.
"""

from __future__ import annotations

import base64
import json
import re
import threading
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.fakes.base import Answer, FakeApi, Request


@dataclass
class JsonRequest(Request):
    body: bytes = b""
    multi: dict[str, list[str]] | None = None

    def json(self) -> Any:
        """The decoded body; ValueError (answered 400 by the base) when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


def basic_credentials(request: Request) -> tuple[str, str] | None:
    """(user, password) of ``Authorization: Basic``, None when absent or malformed."""
    scheme, _, value = request.headers.get("authorization", "").partition(" ")
    if scheme.lower() != "basic":
        return None
    try:
        user, sep, password = base64.b64decode(value.strip()).decode("utf-8").partition(":")
    except (ValueError, UnicodeDecodeError):
        return None
    return (user, password) if sep else None


class Route:
    """``METHOD /path/{id}`` -> handler, matched in order."""

    def __init__(self, method: str, pattern: str, handler: Any) -> None:
        self.method = method
        self.regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self.handler = handler


class JsonFakeApi(FakeApi):
    """A fake REST API: subclasses declare ``routes`` and the shapes of their answers."""

    routes: list[Route]

    def __init__(self) -> None:
        super().__init__()
        self.routes = []

    # ---------------------------------------------------------- subclass hooks

    def throttled(self) -> Answer:
        """The API's 429 answer once the request budget is spent."""
        return Answer(429, {"error": "rate limited"}, {"Retry-After": self._retry_after})

    def not_found(self) -> Answer:
        return Answer(404, {"error": "not found"})

    def common_headers(self) -> dict[str, str]:
        """Headers of every answer (the API's rate-limit counters)."""
        return {}

    # ------------------------------------------------------------------ rules

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        """The next ``count`` requests answer ``status``; ``count=0`` clears the queue."""
        with self._lock:
            self.injected.clear()
        if count > 0:
            self.inject(status, count, headers, raw=body.encode() if body else None)

    def handle(self, request: Request) -> Answer:
        for route in self.routes:
            if route.method != request.method:
                continue
            match = route.regex.match(request.path)
            if match:
                answer: Answer = route.handler(request, **match.groupdict())
                return answer
        return self.not_found()

    def _decide(self, request: Request) -> Answer:
        with self._lock:
            self.requests.append(request)
            if self.injected:
                return self.injected.popleft()
            if self._budget is not None:
                if self._budget <= 0 and self._throttled > 0:
                    self._throttled -= 1
                    return self.throttled()
                self._budget -= 1
        if self.auth_enabled and not self.authorized(request):
            return self.unauthorized()
        try:
            with self._lock:  # one request at a time changes the store, as a database would
                return self.handle(request)
        except (KeyError, ValueError, TypeError, AttributeError) as exc:
            return self.malformed(exc)

    def malformed(self, exc: Exception) -> Answer:
        return Answer(400, {"error": f"malformed request: {exc}"})

    # ----------------------------------------------------------------- serving

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # keep-alive answers without the 40 ms ACK delay

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                multi = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = JsonRequest(
                    self.command, parts.path, {k: v[-1] for k, v in multi.items()},
                    {k.lower(): v for k, v in self.headers.items()}, body, multi,
                )
                answer = fake._answer(request)
                payload = answer.encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json; charset=utf-8",
                           **fake.common_headers(), **answer.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # a short poll makes stop() quick
        return self
