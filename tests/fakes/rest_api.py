"""A fake REST API server: every method (PATCH too) with a body, in the FakeCRM protocol's shape.

It keeps what :class:`tests.fakes.base.FakeApi` has (request log, answered statuses, injected
answers, a request budget after which the API throttles) with the same ``Answer``/``Request``
types, and adds request bodies, routing by ``METHOD /path/{param}``, the API's own throttled
answer, headers sent on every answer (rate-limit counters) and ``fail_next``. ``start`` returns
None as the FakeCRM protocol asks (FakeApi's returns the server, hence no subclassing). Handlers
run one at a time under the lock, as a database would serialise writes.
"""

from __future__ import annotations

import json
import re
import threading
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit

from tests.fakes.base import Answer, Request

Handler = Callable[..., Answer]


@dataclass
class BodyRequest(Request):
    body: bytes = b""

    def json(self) -> Any:
        """The decoded body; ValueError (answered by ``malformed``) when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


class RestFakeApi:
    """Subclasses call :meth:`route` for each endpoint and shape answers as their API does."""

    supports_fault_injection = True

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: list[int] = []  # what was answered, in order
        self.injected: deque[Answer] = deque()
        self.auth_enabled = True
        self._budget: int | None = None
        self._throttled = 0
        self._retry_after = "1"
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method, regex, handler))

    # ------------------------------------------------------------ subclass hooks

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": "missing or invalid credentials"})

    def throttled(self) -> Answer:
        """The API's answer once the request budget is spent."""
        return Answer(429, {"error": "rate limited"}, {"Retry-After": self._retry_after})

    def not_found(self, request: BodyRequest) -> Answer:
        return Answer(404, {"error": f"no route {request.method} {request.path}"})

    def malformed(self, exc: Exception) -> Answer:
        return Answer(400, {"error": f"malformed request: {exc}"})

    def common_headers(self) -> dict[str, str]:
        return {}

    # --------------------------------------------------------------------- rules

    def rate_limit(self, after: int, times: int = 1, retry_after: str = "1") -> None:
        """After ``after`` more requests, answer :meth:`throttled` ``times`` times."""
        with self._lock:
            self._budget = after
            self._throttled = times
            self._retry_after = retry_after

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        """The next ``count`` requests answer ``status``; ``count=0`` clears the queue."""
        with self._lock:
            self.injected.clear()
            for _ in range(count):
                self.injected.append(Answer(status, None, dict(headers or {}),
                                            body.encode() if body else b""))

    def handle(self, request: Request) -> Answer:
        assert isinstance(request, BodyRequest)
        for method, regex, handler in self._routes:
            match = regex.match(request.path) if method == request.method else None
            if match:
                return handler(request, **match.groupdict())
        return self.not_found(request)

    def _answer(self, request: Request) -> Answer:
        answer = self._decide(request)
        with self._lock:
            self.statuses.append(answer.status)
        return answer

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
                return self.handle(request)
            except (KeyError, ValueError, TypeError, AttributeError) as exc:
                return self.malformed(exc)

    # ------------------------------------------------------------------- serving

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> None:
        fake = self

        class Server(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # headers and body leave at once (no 40 ms stalls)

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query,
                                                       keep_blank_values=True).items()}
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = BodyRequest(self.command, parts.path, query,
                                      {k.lower(): v for k, v in self.headers.items()}, body)
                answer = fake._answer(request)
                payload = answer.encode()
                self.send_response(answer.status)
                headers = {"Content-Type": "application/json;charset=utf-8",
                           **fake.common_headers(), **answer.headers}
                for key, value in headers.items():
                    self.send_header(key, value)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                self.wfile.write(payload)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        self.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()
