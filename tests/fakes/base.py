"""The one base of every fake API: a real HTTP server on a free port, a request log, rules.

Rules every platform has: a credential is required (401 without it), page tokens are valid only
as issued (400 for any other), page sizes are bounded (400 above the limit), a request budget
after which the server answers the API's own throttled answer (429 with Retry-After unless the
API says otherwise), and injected answers (:meth:`FakeApi.inject`, :meth:`FakeApi.fail_next`).
It serves GET/POST/PUT/PATCH/DELETE with their bodies; subclasses declare routes
(``METHOD /path/{param}``) or override ``handle``, and shape answers as their platform documents.
Requests are handled one at a time under the lock, as a database would serialise writes.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Self
from urllib.parse import parse_qs, urlsplit


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes = b""
    multi: dict[str, list[str]] = field(default_factory=dict)  # every value of each parameter

    def json(self) -> Any:
        """The decoded body; ValueError (answered by ``malformed``) when it is not JSON."""
        return json.loads(self.body.decode("utf-8")) if self.body else None


@dataclass
class Answer:
    status: int
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None

    def encode(self) -> bytes:
        if self.raw is not None:
            return self.raw
        return b"" if self.body is None else json.dumps(self.body).encode()


Handler = Callable[..., Answer]


class FakeApi:
    """Base of the fakes; ``handle`` (routes by default) is the platform, called under the rules."""

    supports_fault_injection = True

    def __init__(self) -> None:
        self.requests: list[Request] = []
        self.statuses: list[int] = []  # what was answered, in order
        self.injected: deque[Answer] = deque()
        self._budget: int | None = None
        self._throttled = 0
        self._retry_after = "1"
        self._tokens: dict[str, Any] = {}
        self._lock = threading.Lock()
        self._server: ThreadingHTTPServer | None = None
        self._routes: list[tuple[str, re.Pattern[str], Handler]] = []
        self.auth_enabled = True

    def route(self, method: str, pattern: str, handler: Handler) -> None:
        """Serve ``METHOD pattern`` (``{name}`` matches one path segment, passed by name)."""
        regex = re.compile("^" + re.sub(r"\{(\w+)\}", r"(?P<\1>[^/]+)", pattern) + "$")
        self._routes.append((method, regex, handler))

    # --------------------------------------------------------------------- rules

    def inject(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
               body: Any = None, raw: bytes | None = None) -> None:
        """The next ``times`` requests get this answer (5xx, a broken page...)."""
        with self._lock:
            for _ in range(times):
                self.injected.append(Answer(status, body or {"error": f"injected {status}"},
                                            dict(headers or {}), raw))

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        """The next ``count`` requests answer ``status``; ``count=0`` clears the queue."""
        with self._lock:
            self.injected.clear()
        if count > 0:
            self.inject(status, count, headers, raw=body.encode() if body else None)

    def rate_limit(self, after: int, times: int = 1, retry_after: str = "1") -> None:
        """After ``after`` more requests, answer :meth:`throttled` ``times`` times."""
        with self._lock:
            self._budget = after
            self._throttled = times
            self._retry_after = retry_after

    def issue(self, state: Any) -> str:
        """A page token only this server knows; forged ones are refused."""
        token = secrets.token_urlsafe(12)
        self._tokens[token] = state
        return token

    def redeem(self, token: str) -> Any:
        """The state behind an issued token; KeyError for a forged one."""
        return self._tokens[token]

    # ------------------------------------------------------------- subclass hooks

    def authorized(self, request: Request) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": {"code": 401, "message": "Request is missing or has "
                                                               "invalid credentials."}})

    def throttled(self) -> Answer:
        """The API's answer once the request budget is spent."""
        return Answer(429, {"error": "rate limited"}, {"Retry-After": self._retry_after})

    def not_found(self, request: Request | None = None) -> Answer:
        return Answer(404, {"error": "not found"})

    def malformed(self, exc: Exception) -> Answer:
        """A handler failed on the request (forged token, size out of bounds, bad JSON...)."""
        return Answer(400, {"error": {"code": 400, "message": f"invalid argument: {exc}"}})

    def common_headers(self) -> dict[str, str]:
        """Headers of every answer (the API's rate-limit counters)."""
        return {}

    def handle(self, request: Request) -> Answer:
        for method, regex, handler in self._routes:
            match = regex.match(request.path) if method == request.method else None
            if match:
                answer: Answer = handler(request, **match.groupdict())
                return answer
        return self.not_found(request)

    # --------------------------------------------------------------------- serving

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

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        fake = self

        class Server(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"
            disable_nagle_algorithm = True  # keep-alive answers without the 40 ms ACK delay

            def _serve(self) -> None:
                parts = urlsplit(self.path)
                multi = parse_qs(parts.query, keep_blank_values=True)
                length = int(self.headers.get("Content-Length") or 0)
                body = self.rfile.read(length) if length else b""
                request = Request(self.command, parts.path, {k: v[-1] for k, v in multi.items()},
                                  {k.lower(): v for k, v in self.headers.items()}, body, multi)
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

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _serve

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Server)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, kwargs={"poll_interval": 0.05},
                         daemon=True).start()  # a short poll makes stop() quick
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
            self._server = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


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


def bearer(request: Request) -> str | None:
    """The token of ``Authorization: Bearer <token>`` (scheme case-insensitive)."""
    value = request.headers.get("authorization", "")
    scheme, _, token = value.partition(" ")
    return token.strip() if scheme.lower() == "bearer" and token.strip() else None


def size(request: Request, name: str, default: int, maximum: int) -> int:
    """A page-size parameter within the platform's bounds (ValueError -> 400 by the caller)."""
    value = int(request.query.get(name, default))
    if not 1 <= value <= maximum:
        raise ValueError(f"{name} must be between 1 and {maximum}")
    return value


def window(items: list[Any], start: int, count: int) -> Iterator[Any]:
    yield from items[start:start + count]
