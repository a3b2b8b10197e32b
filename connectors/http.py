"""The one HTTP client of every connector: a ``requests`` session retrying through urllib3.

Retries are urllib3's ``Retry`` (exponential backoff with jitter, Retry-After honoured on 429
and 503) rather than loops of our own, so sinks and pollers behave the same way. A Retry-After
longer than ``max_retry_after`` is not slept inside a request: :class:`CappedRetry` stops
retrying and, as sessions are built with ``raise_on_status=False``, the 429/503 answer comes back
at once with its Retry-After for the caller to honour (a sink schedules a retry, a poller ends
its run and comes back no sooner).

:func:`retry_statuses` reads what urllib3 went through before the final answer, which is how a
poller learns it was rate limited even when the retry succeeded.
"""

from __future__ import annotations

import email.utils
import time
from collections.abc import Collection
from datetime import UTC
from typing import Any, Self

import requests
from requests.adapters import HTTPAdapter
from urllib3.connectionpool import ConnectionPool
from urllib3.exceptions import MaxRetryError, ResponseError
from urllib3.response import BaseHTTPResponse
from urllib3.util.retry import Retry


def parse_retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds to wait from a Retry-After header (delta-seconds or HTTP-date), never negative."""
    if value is None or not value.strip():
        return None
    value = value.strip()
    if value.isdigit():
        return float(value)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:  # "-0000" means UTC with an unknown source zone
        when = when.replace(tzinfo=UTC)
    current = time.time() if now is None else now
    return max(0.0, when.timestamp() - current)


__all__ = [
    "POLL_RETRY_STATUSES",
    "CappedRetry",
    "build_session",
    "retry_statuses",
]

# Statuses a read-only GET may be re-sent on: rate limited, or the server briefly unwell.
POLL_RETRY_STATUSES: tuple[int, ...] = (429, 500, 502, 503, 504)


class CappedRetry(Retry):
    """urllib3 Retry that waits out a short Retry-After but hands a long one back to the caller.

    Sleeping an hour inside one request would stall the worker; with a longer Retry-After the
    answer itself is returned and the caller decides when to come back.
    """

    def __init__(self, *args: Any, max_retry_after: float = 10.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.max_retry_after = max_retry_after

    def new(self, **kw: Any) -> Self:
        kw.setdefault("max_retry_after", self.max_retry_after)
        return super().new(**kw)

    def increment(
        self,
        method: str | None = None,
        url: str | None = None,
        response: BaseHTTPResponse | None = None,
        error: Exception | None = None,
        _pool: ConnectionPool | None = None,
        _stacktrace: Any = None,
    ) -> Self:
        if response is not None:
            delay = parse_retry_after(response.headers.get("Retry-After"))
            if delay is not None and delay > self.max_retry_after:
                raise MaxRetryError(
                    _pool,  # type: ignore[arg-type]
                    url or "",
                    ResponseError(f"Retry-After {delay:.0f} s exceeds {self.max_retry_after} s"),
                )
        return super().increment(method, url, response, error, _pool, _stacktrace)


def build_session(
    retries: int = 3,
    backoff_factor: float = 0.2,
    max_retry_after: float = 10.0,
    *,
    status_forcelist: Collection[int] = (502, 503, 504),
    backoff_jitter: float = 0.0,
    backoff_max: float = 30.0,
    user_agent: str | None = None,
) -> requests.Session:
    """A session that retries connect/read errors and ``status_forcelist`` on idempotent methods.

    POST is never re-sent after the request went out (a lost answer to a create would otherwise
    make a second ticket). Sinks keep the default statuses; pollers, which only GET, pass
    :data:`POLL_RETRY_STATUSES` and a jitter so that many pollers do not retry in step.
    """
    retry = CappedRetry(
        total=retries,
        connect=retries,
        read=retries,
        status=retries,
        status_forcelist=tuple(status_forcelist),
        allowed_methods=Retry.DEFAULT_ALLOWED_METHODS,
        backoff_factor=backoff_factor,
        backoff_jitter=backoff_jitter,
        backoff_max=backoff_max,
        respect_retry_after_header=True,
        raise_on_status=False,
        max_retry_after=max_retry_after,
    )
    session = requests.Session()
    adapter = HTTPAdapter(max_retries=retry)
    session.mount("http://", adapter)
    session.mount("https://", adapter)
    if user_agent:
        session.headers["User-Agent"] = user_agent
    return session


def retry_statuses(response: requests.Response) -> list[int]:
    """HTTP statuses urllib3 retried on before this response (e.g. ``[429]``), oldest first."""
    retries = getattr(response.raw, "retries", None)
    history = getattr(retries, "history", ()) or ()
    return [entry.status for entry in history if entry.status is not None]

