"""What every fake API shares: a real HTTP server on a free port, a request log, rules.

Rules every platform has: a credential is required (401 without it), page tokens are valid only
as issued (400 for any other), page sizes are bounded (400 above the limit), a request budget
after which the server answers 429 with Retry-After, and injected 5xx answers. Subclasses
route requests and shape pages exactly as their platform documents them.
"""

from __future__ import annotations

import json
import secrets
import threading
from collections import deque
from collections.abc import Iterator
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


class FakeApi:
    """Base of the fakes; ``handle`` is the platform's routing, called under the rules."""

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
        self.auth_enabled = True

    # --------------------------------------------------------------------- rules

    def inject(self, status: int, times: int = 1, headers: dict[str, str] | None = None,
               body: Any = None, raw: bytes | None = None) -> None:
        """The next ``times`` requests get this answer (5xx, a broken page...)."""
        for _ in range(times):
            self.injected.append(Answer(status, body or {"error": f"injected {status}"},
                                        headers or {}, raw))

    def rate_limit(self, after: int, times: int = 1, retry_after: str = "1") -> None:
        """After ``after`` more requests, answer 429 with Retry-After ``times`` times."""
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

    def handle(self, request: Request) -> Answer:
        raise NotImplementedError

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
                    return Answer(429, {"error": "rate limited"},
                                  {"Retry-After": self._retry_after})
                self._budget -= 1
        if self.auth_enabled and not self.authorized(request):
            return self.unauthorized()
        try:
            return self.handle(request)
        except (KeyError, ValueError) as exc:  # forged token, size out of bounds, bad enum
            return Answer(400, {"error": {"code": 400, "message": f"invalid argument: {exc}"}})

    @property
    def url(self) -> str:
        assert self._server is not None
        host, port = self._server.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> Self:
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:
                parts = urlsplit(self.path)
                query = {k: v[-1] for k, v in parse_qs(parts.query).items()}
                answer = fake._answer(Request("GET", parts.path, query,
                                              {k.lower(): v for k, v in self.headers.items()}))
                body = answer.encode()
                self.send_response(answer.status)
                self.send_header("Content-Type", "application/json; charset=UTF-8")
                self.send_header("Content-Length", str(len(body)))
                for key, value in answer.headers.items():
                    self.send_header(key, value)
                self.end_headers()
                self.wfile.write(body)

            def log_message(self, format: str, *args: Any) -> None:
                pass

        self._server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._server.daemon_threads = True
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
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
