"""What the JSON REST ticket sinks (Zendesk, Freshdesk, Zammad) share.

Each of them follows the same loop, which is what makes a command land at most once:

1. find the conversation's ticket *in the target* (a cached ticket id is only a shortcut: it is
   read again, and forgotten when it is gone or no longer carries the conversation key);
2. no ticket: create it, the message as its first (private) text;
3. a ticket: read its texts and answer ``unchanged`` when one ends with the command's marker
   ``[porte-voix:<command_id>]``, else append the message as a private note.

Every non-2xx answer goes through :func:`error_kind_for_status`, with the start of the body and
the Retry-After delay on the :class:`DeliveryError`. Credentials only ever travel in request
headers built per call; they are never logged nor put in an error message.
"""

from __future__ import annotations

import logging
from abc import abstractmethod
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from connectors.http import build_session
from connectors.sinks.base import (
    DeliveryError,
    TicketSink,
    error_kind_for_status,
    parse_retry_after,
)
from connectors.sinks.helpdesk import marker
from schemas.models import Action, ErrorKind, TicketCommand, TicketOutcome, TicketResult

__all__ = ["BODY_EXCERPT", "JsonTicketSink", "has_marker", "marker", "render_message"]

log = logging.getLogger(__name__)

BODY_EXCERPT = 500


def has_marker(texts: Iterable[str], mark: str) -> bool:
    """Whether a text ends with the marker (its last line, so a quoted marker does not count)."""
    for text in texts:
        lines = [line.strip() for line in (text or "").strip().splitlines()]
        lines = [line for line in lines if line]
        if lines and lines[-1] == mark:
            return True
    return False


def render_message(cmd: TicketCommand) -> str:
    """The text written for a command: the message, where it comes from, then the marker line."""
    if cmd.action is Action.edited:
        text = f"{cmd.kind.value} edited: {cmd.body}"
    elif cmd.action is Action.deleted:
        text = f"{cmd.kind.value} deleted on {cmd.platform.value}" + (
            f": {cmd.body}" if cmd.body else ""
        )
    else:
        text = cmd.body
    details = [f"Platform: {cmd.platform.value} ({cmd.kind.value}) · Brand: {cmd.brand}"]
    if cmd.author_handle:
        details.append(f"Author: {cmd.author_handle}")
    if cmd.url:
        details.append(f"URL: {cmd.url}")
    if cmd.tags:
        details.append(f"Tags: {', '.join(cmd.tags)}")
    details.append(f"Conversation: {cmd.external_id}")
    return "\n".join([text, "", *details, marker(cmd.command_id)])


class JsonTicketSink(TicketSink):
    """Base of the JSON REST sinks: one request helper, the lookup cache, the delivery loop."""

    def __init__(
        self,
        base_url: str,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        cache_size: int = 10_000,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._own_session = session is None
        self.session = session if session is not None else build_session()
        self.timeout = timeout
        self._cache: OrderedDict[str, int] = OrderedDict()
        self._cache_size = cache_size

    def __repr__(self) -> str:
        return f"{type(self).__name__}(base_url={self.base_url!r})"

    # ------------------------------------------------------------------ HTTP

    @abstractmethod
    def _auth_headers(self) -> dict[str, str]:
        """The credential headers of one request (built per call, never stored or logged)."""

    def _request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json: Mapping[str, Any] | None = None,
        headers: Mapping[str, str] | None = None,
        allow_404: bool = False,
    ) -> requests.Response | None:
        """One API call: the response when 2xx, None for an allowed 404, else DeliveryError."""
        all_headers = {"Accept": "application/json", **self._auth_headers(), **(headers or {})}
        try:
            response = self.session.request(
                method, f"{self.base_url}{path}", params=params, json=json,
                headers=all_headers, timeout=self.timeout,
            )
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError) as exc:
            raise DeliveryError(
                ErrorKind.retriable, f"{method} {path}: {type(exc).__name__}"
            ) from exc
        except requests.RequestException as exc:  # invalid URL or scheme: configuration
            raise DeliveryError(ErrorKind.fatal, f"{method} {path}: {type(exc).__name__}") from exc
        if response.status_code == 404 and allow_404:
            return None
        if response.status_code >= 400:
            body = response.text[:BODY_EXCERPT]
            log.warning("%s %s answered %s", method, path, response.status_code)
            raise DeliveryError(
                error_kind_for_status(response.status_code),
                f"{self.name}: {method} {path} answered {response.status_code}: {body[:200]}",
                status=response.status_code,
                body=body,
                retry_after=parse_retry_after(response.headers.get("Retry-After")),
            )
        return response

    def _json(self, response: requests.Response, what: str) -> Any:
        """The decoded body; a 2xx that is not JSON means the URL is not this API."""
        try:
            return response.json()
        except ValueError as exc:
            raise DeliveryError(
                ErrorKind.fatal,
                f"{self.name}: {what} answered {response.status_code} without JSON: is "
                f"{self.base_url} a {self.name} API?",
                status=response.status_code,
                body=response.text[:BODY_EXCERPT],
            ) from exc

    def _call(self, method: str, path: str, **kwargs: Any) -> Any:
        """``_request`` then ``_json``; None for an allowed 404."""
        response = self._request(method, path, **kwargs)
        return None if response is None else self._json(response, f"{method} {path}")

    # ------------------------------------------------------------ target hooks

    @abstractmethod
    def ticket_url(self, ticket_id: int | str) -> str:
        """The agents' page of a ticket."""

    @abstractmethod
    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        """One ticket as the API shows it, None when it does not exist (404)."""

    @abstractmethod
    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The conversation's ticket looked up in the target (never in the cache)."""

    @abstractmethod
    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        """The conversation key a ticket carries (as stored: see :meth:`stored_key`)."""

    def stored_key(self, external_id: str) -> str:
        """How a conversation key is stored in the target; the key itself unless overridden."""
        return external_id

    @abstractmethod
    def texts(self, ticket: Mapping[str, Any]) -> list[str]:
        """Every text of the ticket (first message and notes), oldest first, as plain text."""

    @abstractmethod
    def create(self, cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        """Open the conversation's ticket with the command's message; its id and outcome."""

    @abstractmethod
    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        """Add the message to the ticket as a private note; the ticket id and outcome."""

    # ----------------------------------------------------------------- lookup

    def _ticket_for(self, external_id: str) -> dict[str, Any] | None:
        cached = self._cache.get(external_id)
        if cached is not None:
            ticket = self.get_ticket(cached)
            if ticket is not None and self.external_id_of(ticket) == self.stored_key(external_id):
                self._cache.move_to_end(external_id)
                return ticket
            log.info("%s: cached ticket %s of %s is gone; looking it up again",
                     self.name, cached, external_id)
            self._cache.pop(external_id, None)
        return self.find_ticket(external_id)

    def _remember(self, external_id: str, ticket_id: int) -> None:
        self._cache[external_id] = ticket_id
        self._cache.move_to_end(external_id)
        while len(self._cache) > self._cache_size:
            self._cache.popitem(last=False)

    # --------------------------------------------------------------- delivery

    def _result(self, cmd: TicketCommand, outcome: TicketOutcome, ticket_id: int) -> TicketResult:
        return TicketResult(
            command_id=cmd.command_id, external_id=cmd.external_id, event_id=cmd.event_id,
            target=self.name, outcome=outcome, ticket_id=str(ticket_id),
            ticket_url=self.ticket_url(ticket_id),
        )

    def deliver(self, cmd: TicketCommand) -> TicketResult:
        """Create the conversation's ticket or append the message to it, at most once."""
        ticket = self._ticket_for(cmd.external_id)
        if ticket is None:
            ticket_id, outcome = self.create(cmd)
        elif has_marker(self.texts(ticket), marker(cmd.command_id)):
            ticket_id, outcome = int(ticket["id"]), TicketOutcome.unchanged
        else:
            ticket_id, outcome = self.append(ticket, cmd)
        self._remember(cmd.external_id, ticket_id)
        log.info("%s: %s ticket %s for %s", self.name, outcome.value, ticket_id, cmd.external_id)
        return self._result(cmd, outcome, ticket_id)

    def close(self) -> None:
        if self._own_session:
            self.session.close()
