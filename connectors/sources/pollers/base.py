"""The declarative base of polled sources: a config, a path, a paginator and three hooks.

A poller is mostly class attributes (Singer/Airbyte style)::

    @register
    class TrustpilotPoller(Poller[TrustpilotConfig]):
        name = "trustpilot"                       # = the normalizer's source name
        config_model = TrustpilotConfig           # env PORTE_VOIX_POLL_TRUSTPILOT_*
        path = "/v1/business-units/{account}/reviews"
        page_size_param = "perPage"
        def new_paginator(self): return PageNumberPaginator(...)
        def parse_page(self, response): ...       # -> list of items as the API returns them
        def item_id(self, item): ...
        def item_time(self, item): ...            # the listing's sort key

plus auth (``auth_headers``/``auth_params``). One envelope is one item, serialized compactly
in the API's own key order, so the same item read twice has the same bytes and ``raw_id``.

Errors are sorted once, with the sinks' status table (:func:`error_kind_for_status`): 401/403
are fatal and mark the credential refused; 429, 5xx, timeouts and connection errors are
retriable (urllib3 already retried them with backoff); an answer that cannot be read is bad
input. Every request first takes a token from the source's bucket.
"""

from __future__ import annotations

import json
import logging
import time
from abc import abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Annotated, Any, ClassVar, Generic, TypeVar
from urllib.parse import quote

import jwt
import requests
from pydantic import Field, SecretStr, field_validator
from pydantic_settings import BaseSettings, NoDecode, SettingsConfigDict

from connectors.base import Source
from connectors.http import POLL_RETRY_STATUSES, build_session, retry_statuses
from connectors.sinks.base import error_kind_for_status, parse_retry_after
from connectors.sources.pollers.paging import Paginator
from connectors.sources.pollers.ratelimit import TokenBucket
from pipeline.errors import BadInput, PipelineError
from schemas.models import ErrorKind, RawEnvelope

__all__ = [
    "USER_AGENT",
    "Page",
    "PollError",
    "Poller",
    "PollerConfig",
    "Stream",
    "jwt_expiry",
]

log = logging.getLogger(__name__)

USER_AGENT = "python:porte-voix:1.0 (social-crm connector)"
_BODY_EXCERPT = 300


class PollError(PipelineError):
    """A page could not be fetched or read; ``kind`` says what to do, ``auth`` that the
    credential was refused, ``rate_limited`` that the platform asked us to slow down."""

    def __init__(self, kind: ErrorKind, message: str, *, status: int | None = None,
                 retry_after: float | None = None, auth: bool = False,
                 rate_limited: bool = False, body: bytes = b"") -> None:
        super().__init__(message)
        self.kind = kind
        self.status = status
        self.retry_after = retry_after
        self.auth = auth
        self.rate_limited = rate_limited
        self.body = body


def jwt_expiry(token: str) -> datetime | None:
    """``exp`` of a JWT without verifying it (the platform verifies); None if not a JWT."""
    try:
        claims = jwt.decode(token, options={"verify_signature": False})
    except jwt.PyJWTError:
        return None
    exp = claims.get("exp")
    return datetime.fromtimestamp(float(exp), tz=UTC) if isinstance(exp, int | float) else None


class PollerConfig(BaseSettings):
    """Settings every poller has; each source adds its secrets and sets its env prefix."""

    model_config = SettingsConfigDict(extra="ignore", frozen=True)

    base_url: str = Field(description="API root; overridden in tests to point at a fake.")
    accounts: Annotated[list[str], NoDecode] = Field(
        min_length=1, description="Brand accounts to poll, comma-separated.")
    page_size: int = Field(default=50, ge=1, description="Items asked per page.")
    rate_per_second: float = Field(default=1.0, gt=0, description="Request budget per second.")
    burst: int = Field(default=5, ge=1, description="Requests allowed at once before pacing.")
    timeout: float = Field(default=20.0, gt=0, description="Seconds per HTTP request.")
    retries: int = Field(default=4, ge=0, description="urllib3 retries per request.")
    backoff_factor: float = Field(default=0.5, ge=0, description="Exponential backoff base (s).")
    max_retry_after: float = Field(
        default=60.0, ge=0,
        description="Longest Retry-After slept in a request; a longer one ends the run.")
    max_pages: int = Field(default=50, ge=1, description="Pages per stream and run.")
    failing_after: int = Field(default=3, ge=1, description="Consecutive errors -> failing.")
    token_expires_at: datetime | None = Field(
        default=None, description="When the access token expires, if the platform told you.")
    token_warning_hours: float = Field(
        default=24.0, ge=0, description="Health turns token_expiring this long before expiry.")

    @field_validator("accounts", mode="before")
    @classmethod
    def _split(cls, value: object) -> object:
        if isinstance(value, str):
            return [part.strip() for part in value.split(",") if part.strip()]
        return value

    @field_validator("base_url")
    @classmethod
    def _no_slash(cls, value: str) -> str:
        return value.rstrip("/")


C = TypeVar("C", bound=PollerConfig)


@dataclass(frozen=True)
class Stream:
    """One listing of one account: its cursor key is ``connector/account/name``."""

    account: str
    name: str
    path: str
    params: dict[str, str] = field(default_factory=dict)


@dataclass
class Page:
    """One decoded answer: its items, where the next page is, and what the transport saw."""

    items: list[Any]
    next_position: str | None
    status: int = 200
    rate_limited: str | None = None
    body: bytes = b""


class Poller(Source[C], Generic[C]):
    """A polled API listing, newest first, one raw envelope per item."""

    path: ClassVar[str]
    stream_name: ClassVar[str] = "default"
    page_size_param: ClassVar[str | None] = None
    max_page_size: ClassVar[int] = 100
    default_params: ClassVar[dict[str, str]] = {}
    retention: ClassVar[timedelta | None] = None  # how far back the API lists at all

    def __init__(self, config: C, session: requests.Session | None = None,
                 bucket: TokenBucket | None = None) -> None:
        super().__init__(config)
        self.config: C = config
        self.session = session or build_session(
            retries=config.retries, backoff_factor=config.backoff_factor,
            max_retry_after=config.max_retry_after, status_forcelist=POLL_RETRY_STATUSES,
            backoff_jitter=config.backoff_factor, user_agent=USER_AGENT)
        self.bucket = bucket or TokenBucket(config.rate_per_second, config.burst)
        self.sleep = time.sleep
        self.paginator = self.new_paginator()

    # ---------------------------------------------------------------- declarative hooks

    @abstractmethod
    def new_paginator(self) -> Paginator:
        """The paging strategy of this API."""

    @abstractmethod
    def parse_page(self, response: requests.Response) -> list[Any]:
        """The items of a decoded page, each as the API returned it."""

    @abstractmethod
    def item_id(self, item: Any) -> str:
        """The platform's id of an item (stable across edits)."""

    @abstractmethod
    def item_time(self, item: Any) -> datetime:
        """The listing's sort key (creation or update time), timezone-aware."""

    def auth_headers(self) -> dict[str, str]:
        """Headers carrying the credential (bearer token by default: none)."""
        return {}

    def auth_params(self) -> dict[str, str]:
        """Query parameters carrying the credential (API keys)."""
        return {}

    def token_expires_at(self) -> datetime | None:
        """When the credential stops working, from config or the token itself."""
        return self.config.token_expires_at

    def streams(self) -> list[Stream]:
        """One stream per configured account by default."""
        return [Stream(account, self.stream_name,
                       self.path.format(account=quote(account, safe="/")),
                       dict(self.default_params))
                for account in self.config.accounts]

    def refused(self, response: requests.Response) -> PollError | None:
        """A platform-specific reading of an error answer, None to use the status table."""
        return None

    def wait_hint(self, response: requests.Response) -> float | None:
        """Seconds to pause before the next request, from rate headers of a good answer."""
        return None

    def envelope_headers(self, stream: Stream) -> dict[str, str]:
        return {"origin": "poll", "stream": stream.name}

    # ---------------------------------------------------------------------- fetching

    @property
    def page_size(self) -> int:
        return min(self.config.page_size, self.max_page_size)

    def fetch(self, stream: Stream, position: str | None) -> Page:
        """GET one page of a stream; raises PollError sorted by kind."""
        url = f"{self.config.base_url}{stream.path}"
        params = dict(stream.params)
        if self.page_size_param:
            params[self.page_size_param] = str(self.page_size)
        url, params = self.paginator.request(url, params, position)
        if url.startswith(self.config.base_url):  # never send a key to another host
            params.update(self.auth_params())
        self.bucket.acquire()
        try:
            response = self.session.get(url, params=params, headers=self.auth_headers(),
                                        timeout=self.config.timeout)
        except requests.exceptions.RetryError as exc:
            raise PollError(ErrorKind.retriable,
                            f"{self.name}: gave up retrying: {exc}") from exc
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise PollError(ErrorKind.retriable,
                            f"{self.name}: {type(exc).__name__}: {exc}") from exc
        except requests.RequestException as exc:
            raise PollError(ErrorKind.fatal, f"{self.name}: bad request: {exc}") from exc
        retried = retry_statuses(response)
        rate_limited = (f"{len(retried)} retried answer(s) {sorted(set(retried))}"
                        if any(s in (429, 503) for s in retried) else None)
        if response.status_code >= 400:
            raise self.refused(response) or self._error(response)
        try:
            items = self.parse_page(response)
        except (ValueError, KeyError, TypeError, BadInput) as exc:
            raise PollError(ErrorKind.bad_input, f"{self.name}: unreadable page: {exc}",
                            status=response.status_code, body=response.content) from exc
        hint = self.wait_hint(response)
        if hint:
            if hint > self.config.max_retry_after:
                raise PollError(ErrorKind.retriable,
                                f"{self.name}: rate budget spent for {hint:.0f}s",
                                retry_after=hint, rate_limited=True)
            log.info("%s: rate budget low, pausing %.1fs", self.name, hint)
            self.sleep(hint)
            rate_limited = rate_limited or f"paused {hint:.1f}s on rate headers"
        try:
            body = response.json()
        except ValueError:
            body = None
        return Page(items, self.paginator.next_position(body, items, position),
                    response.status_code, rate_limited, response.content)

    def _error(self, response: requests.Response) -> PollError:
        status = response.status_code
        kind = error_kind_for_status(status)
        auth = status in (401, 403)
        excerpt = response.text[:_BODY_EXCERPT].replace("\n", " ")
        return PollError(kind, f"{self.name}: HTTP {status}: {excerpt}", status=status,
                         retry_after=parse_retry_after(response.headers.get("Retry-After")),
                         auth=auth, rate_limited=status in (429, 503), body=response.content)

    @staticmethod
    def json_body(response: requests.Response) -> Any:
        """The decoded JSON answer; a non-JSON answer is bad input of this page."""
        try:
            return response.json()
        except ValueError as exc:
            raise BadInput(f"answer is not JSON ({response.headers.get('Content-Type')})"
                           ) from exc

    # -------------------------------------------------------------------- envelopes

    @staticmethod
    def item_bytes(item: Any) -> bytes:
        """One item as compact JSON in the API's key order: same item, same bytes."""
        return json.dumps(item, ensure_ascii=False, separators=(",", ":")).encode("utf-8")

    def envelope(self, stream: Stream, item: Any) -> RawEnvelope:
        return RawEnvelope.wrap(self.name, self.item_bytes(item), account=stream.account,
                                headers=self.envelope_headers(stream))

    def read(self) -> Iterator[RawEnvelope]:
        """Every item of every stream, all pages, without a cursor (a full re-read)."""
        for stream in self.streams():
            position: str | None = None
            for _ in range(self.config.max_pages):
                page = self.fetch(stream, position)
                for item in page.items:
                    yield self.envelope(stream, item)
                position = page.next_position
                if position is None:
                    break


def secret(value: SecretStr) -> str:
    """The secret's text (kept in one place so it is easy to audit where secrets leave)."""
    return value.get_secret_value()
