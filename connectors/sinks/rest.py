"""What the REST ticket sinks share: one call path, one error sorting, one cache, one loop.

Every API call goes through :meth:`RestClient.send`: transport failures are retriable, a non-2xx
answer is sorted by :func:`error_kind_for_status` and carries the start of the body and the delay
the API asked for. An API that uses a status its own way (Salesforce answers 403 when the org's
API limit is spent) overrides :meth:`RestClient.error_kind` / :meth:`RestClient.retry_after`
instead of bending the shared table.

:class:`RestTicketSink` is the delivery loop that makes a command land at most once:

1. find the conversation's ticket *in the target* (a cached ticket id is only a shortcut: it is
   read again, and forgotten when it is gone or no longer carries the conversation key);
2. no ticket: create it, the message as its first (private) text;
3. a ticket: read its texts and answer ``unchanged`` when one ends with the command's marker
   ``[porte-voix:<command_id>]`` (:mod:`connectors.sinks.message`), else append the message.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Generic, TypeVar

import requests

from connectors.http import build_session
from connectors.sinks.base import (
    DeliveryError,
    TicketSink,
    error_kind_for_status,
    parse_retry_after,
)
from connectors.sinks.message import has_marker, marker
from schemas.models import ErrorKind, TicketCommand, TicketOutcome, TicketResult

__all__ = ["BODY_EXCERPT", "LookupCache", "RestClient", "RestTicketSink"]

log = logging.getLogger(__name__)

BODY_EXCERPT = 500

Headers = Mapping[str, str] | Callable[[], Mapping[str, str]]
V = TypeVar("V")
TicketId = TypeVar("TicketId", int, str)


class RestClient:
    """JSON over HTTP with the pipeline's error sorting; the sink owns the session unless given.

    ``headers`` are sent on every call and may hold credentials: they never appear in an error
    message or a log line (only the method and the path do). Given as a function, they are
    built per call and never stored. Redirects are refused (fatal: the URL is not the API's)
    unless ``follow_redirects``.
    """

    def __init__(
        self,
        base_url: str,
        headers: Headers,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        *,
        label: str = "api",
        follow_redirects: bool = False,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers: Headers = headers if callable(headers) else dict(headers)
        self._own_session = session is None
        self.session = session if session is not None else build_session()
        self.timeout = timeout
        self.label = label
        self.follow_redirects = follow_redirects

    # ------------------------------------------------------------- override hooks

    def error_kind(self, response: requests.Response) -> ErrorKind:
        """How a non-2xx answer is handled; the shared table unless the API says otherwise."""
        return error_kind_for_status(response.status_code)

    def retry_after(self, response: requests.Response) -> float | None:
        """Seconds the API asked us to wait (Retry-After), if it said."""
        return parse_retry_after(response.headers.get("Retry-After"))

    # ----------------------------------------------------------------------- calls

    def url(self, path: str) -> str:
        return path if path.startswith(("http://", "https://")) else f"{self.base_url}{path}"

    def send(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Any = None,
        data: bytes | None = None,
        headers: Mapping[str, str] | None = None,
        accept: Iterable[int] = (),
    ) -> requests.Response:
        """One call; returns a 2xx answer (or one whose status is in ``accept``) or raises."""
        fixed = self._headers() if callable(self._headers) else self._headers
        merged = {"Accept": "application/json", **fixed, **(headers or {})}
        where = f"{self.label} {method} {path.split('?')[0]}"
        try:
            response = self.session.request(
                method, self.url(path), params=params, json=json, data=data, headers=merged,
                timeout=self.timeout, allow_redirects=self.follow_redirects,
            )
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.RetryError) as exc:
            raise DeliveryError(ErrorKind.retriable, f"{where}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:  # invalid URL or scheme: configuration
            raise DeliveryError(ErrorKind.fatal, f"{where}: {type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300 or response.status_code in set(accept):
            return response
        log.warning("%s answered %s", where, response.status_code)
        raise self.failure(response, where)

    def failure(self, response: requests.Response, where: str) -> DeliveryError:
        """The DeliveryError of a non-2xx answer: kind, status, body excerpt, Retry-After."""
        body = response.text[:BODY_EXCERPT]
        if 300 <= response.status_code < 400:
            kind = ErrorKind.fatal  # a redirect means the configured URL is not the API's
        else:
            kind = self.error_kind(response)
        return DeliveryError(
            kind,
            f"{where} answered {response.status_code}: {body[:200]}",
            status=response.status_code,
            body=body,
            retry_after=self.retry_after(response),
        )

    def json(self, method: str, path: str, *, allow_404: bool = False, **kwargs: Any) -> Any:
        """:meth:`send` and :meth:`decode`; None for a 404 when ``allow_404`` (a missing ticket)."""
        accept = (*kwargs.pop("accept", ()), 404) if allow_404 else kwargs.pop("accept", ())
        response = self.send(method, path, accept=accept, **kwargs)
        if allow_404 and response.status_code == 404:
            return None
        return self.decode(response, method, path)

    def decode(self, response: requests.Response, method: str, path: str) -> Any:
        """The JSON of an answer; a 2xx answer that is not JSON means a wrong base URL."""
        if response.status_code == 204 or not response.content:
            return None
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                ErrorKind.fatal,
                f"{self.label} {method} {path.split('?')[0]} answered {response.status_code} "
                f"without JSON: is {self.base_url} the {self.label} API?",
                status=response.status_code,
                body=response.text[:BODY_EXCERPT],
            ) from exc

    def close(self) -> None:
        if self._own_session:
            self.session.close()


class LookupCache(Generic[V]):
    """Bounded LRU of conversation key -> ticket id: it spares a search, it never decides.

    A sink verifies a cached id against the target system (and forgets it when the ticket is
    gone) before it appends to that ticket.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._items: OrderedDict[str, V] = OrderedDict()
        self.maxsize = maxsize

    def get(self, key: str) -> V | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: V) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def values(self) -> list[V]:
        """Newest first."""
        return list(reversed(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


class RestTicketSink(TicketSink, Generic[TicketId]):
    """The delivery loop over a REST API; subclasses say how their CRM reads and writes tickets.

    ``TicketId`` is how the CRM names a ticket (an int for Zendesk, a string for Salesforce).
    """

    def __init__(self, api: RestClient, cache_size: int = 10_000) -> None:
        self.api = api
        self.cache: LookupCache[TicketId] = LookupCache(cache_size)

    @property
    def base_url(self) -> str:
        return self.api.base_url

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # ------------------------------------------------------------ target hooks

    @abstractmethod
    def ticket_url(self, ticket_id: TicketId) -> str | None:
        """The agents' page of a ticket."""

    @abstractmethod
    def get_ticket(self, ticket_id: TicketId) -> dict[str, Any] | None:
        """One ticket as the API shows it, None when it does not exist (404)."""

    @abstractmethod
    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The conversation's ticket looked up in the target (never in the cache)."""

    @abstractmethod
    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        """The conversation key a ticket carries (as stored: see :meth:`stored_key`)."""

    @abstractmethod
    def ticket_id_of(self, ticket: Mapping[str, Any]) -> TicketId:
        """The id of a ticket as the API shows it."""

    def stored_key(self, external_id: str) -> str:
        """How a conversation key is stored in the target; the key itself unless overridden."""
        return external_id

    @abstractmethod
    def texts(self, ticket: Mapping[str, Any]) -> Iterable[str]:
        """Every text of the ticket (first message and notes), oldest first, as plain text.

        May be lazy: the marker check stops reading at the first text that has it.
        """

    @abstractmethod
    def create(self, cmd: TicketCommand) -> tuple[TicketId, TicketOutcome]:
        """Open the conversation's ticket with the command's message; its id and outcome."""

    @abstractmethod
    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand
               ) -> tuple[TicketId, TicketOutcome]:
        """Add the message to the ticket as a private note; the ticket id and outcome."""

    # ---------------------------------------------------------------- the loop

    def ticket_for(self, external_id: str) -> dict[str, Any] | None:
        """The conversation's ticket: the cached one when it still carries the key, else found."""
        cached = self.cache.get(external_id)
        if cached is not None:
            ticket = self.get_ticket(cached)
            if ticket is not None and self.external_id_of(ticket) == self.stored_key(external_id):
                return ticket
            log.info("%s: cached ticket %s of %s is gone; looking it up again",
                     self.name, cached, external_id)
            self.cache.forget(external_id)
        return self.find_ticket(external_id)

    def follow_up(self, ticket: Mapping[str, Any], cmd: TicketCommand
                  ) -> tuple[TicketId, TicketOutcome]:
        """``unchanged`` when a text of the ticket ends with the marker, else :meth:`append`."""
        if has_marker(self.texts(ticket), marker(cmd.command_id)):
            return self.ticket_id_of(ticket), TicketOutcome.unchanged
        return self.append(ticket, cmd)

    def result(self, cmd: TicketCommand, outcome: TicketOutcome, ticket_id: TicketId
               ) -> TicketResult:
        return TicketResult(
            command_id=cmd.command_id, external_id=cmd.external_id, event_id=cmd.event_id,
            target=self.name, outcome=outcome, ticket_id=str(ticket_id),
            ticket_url=self.ticket_url(ticket_id),
        )

    def deliver(self, cmd: TicketCommand) -> TicketResult:
        """Create the conversation's ticket or append the message to it, at most once."""
        ticket = self.ticket_for(cmd.external_id)
        if ticket is None:
            ticket_id, outcome = self.create(cmd)
        else:
            ticket_id, outcome = self.follow_up(ticket, cmd)
        self.cache.put(cmd.external_id, ticket_id)
        log.info("%s: %s ticket %s for %s", self.name, outcome.value, ticket_id, cmd.external_id)
        return self.result(cmd, outcome, ticket_id)

    def close(self) -> None:
        self.api.close()
