"""A reverse proxy that makes a real HTTP service unreliable, for at-least-once tests.

For a window of time it fails a share of requests in the two ways that matter: *before* the
service sees the request (503/429, nothing written) and *after* it (the service wrote, the client
gets a 502 and will retry: only idempotency saves us from duplicates).
"""

from __future__ import annotations

import random
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import requests

from infra.processes import free_port


class _QuietServer(ThreadingHTTPServer):
    daemon_threads = True

    def handle_error(self, request: object, client_address: object) -> None:
        """A client that gave up mid-answer (its timeout) is expected here, not an error."""
        import sys

        if not isinstance(sys.exc_info()[1], ConnectionError):
            super().handle_error(request, client_address)  # type: ignore[arg-type]


class FaultyProxy:
    def __init__(self, target: str, failure_rate: float = 0.3, window_seconds: float = 30.0,
                 seed: int = 7) -> None:
        self.target = target.rstrip("/")
        self.failure_rate = failure_rate
        self.window_seconds = window_seconds
        self.random = random.Random(seed)
        self.port = free_port()
        self.started_at = 0.0
        self.counts = {"forwarded": 0, "failed_before": 0, "failed_after": 0}
        self._lock = threading.Lock()
        self._server = _QuietServer(("127.0.0.1", self.port), self._handler())

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def _decide(self) -> str:
        with self._lock:
            failing = time.monotonic() - self.started_at < self.window_seconds
            roll = self.random.random()
        if failing and roll < self.failure_rate / 2:
            return "before"
        if failing and roll < self.failure_rate:
            return "after"
        return "ok"

    def _handler(self) -> type[BaseHTTPRequestHandler]:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, format: str, *args: object) -> None:
                pass

            def _relay(self) -> None:
                body = self.rfile.read(int(self.headers.get("Content-Length") or 0))
                decision = proxy._decide()
                if decision == "before":
                    proxy.counts["failed_before"] += 1
                    self.send_response(503 if proxy.random.random() < 0.5 else 429)
                    self.send_header("Retry-After", "1")
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                headers = {k: v for k, v in self.headers.items()
                           if k.lower() not in {"host", "content-length", "connection"}}
                upstream = requests.request(self.command, proxy.target + self.path,
                                            headers=headers, data=body, timeout=30)
                if decision == "after":
                    proxy.counts["failed_after"] += 1
                    self.send_response(502)
                    self.send_header("Content-Length", "0")
                    self.end_headers()
                    return
                proxy.counts["forwarded"] += 1
                self.send_response(upstream.status_code)
                for key, value in upstream.headers.items():
                    if key.lower() not in {"content-length", "transfer-encoding", "connection",
                                           "content-encoding"}:
                        self.send_header(key, value)
                self.send_header("Content-Length", str(len(upstream.content)))
                self.end_headers()
                self.wfile.write(upstream.content)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = do_OPTIONS = _relay

        return Handler

    def start(self) -> FaultyProxy:
        self.started_at = time.monotonic()
        threading.Thread(target=self._server.serve_forever, daemon=True).start()
        return self

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
