"""What the REST sinks share: one call path, one error sorting, one message layout, one cache.

Every API call goes through :meth:`RestClient.send`: transport failures are retriable, a non-2xx
answer is sorted by :func:`error_kind_for_status` and carries the start of the body and the delay
the API asked for. An API that uses a status its own way (Salesforce answers 403 when the org's
API limit is spent) overrides :meth:`RestClient.error_kind` / :meth:`RestClient.retry_after`
instead of bending the shared table.

Messages written to a CRM end with the line ``[porte-voix:<command_id>]`` (the marker of the
helpdesk sink), so a sink recognises a command it already wrote by reading the target system.
"""

from __future__ import annotations

import html
import logging
import re
from collections import OrderedDict
from collections.abc import Iterable, Mapping
from typing import Any

import requests

from connectors.http import build_session
from connectors.sinks.base import DeliveryError, error_kind_for_status, parse_retry_after
from connectors.sinks.helpdesk import marker
from schemas.models import Action, ErrorKind, TicketCommand

__all__ = [
    "BODY_EXCERPT",
    "LookupCache",
    "RestClient",
    "has_marker",
    "html_to_lines",
    "lines_to_html",
    "marker",
    "message_lines",
    "render_message",
]

log = logging.getLogger(__name__)

BODY_EXCERPT = 500
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*br\s*/?\s*>|</\s*(p|div|li|h[1-6])\s*>", re.IGNORECASE)


class RestClient:
    """JSON over HTTP with the pipeline's error sorting; the sink owns the session unless given.

    ``headers`` are sent on every call and may hold credentials: they never appear in an error
    message or a log line (only the method and the path do).
    """

    def __init__(
        self,
        base_url: str,
        headers: Mapping[str, str],
        session: requests.Session | None = None,
        timeout: float = 10.0,
        *,
        label: str = "api",
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self._headers = dict(headers)
        self._own_session = session is None
        self.session = session if session is not None else build_session()
        self.timeout = timeout
        self.label = label

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
        merged = {"Accept": "application/json", **self._headers, **(headers or {})}
        where = f"{self.label} {method} {path.split('?')[0]}"
        try:
            response = self.session.request(
                method, self.url(path), params=params, json=json, data=data, headers=merged,
                timeout=self.timeout, allow_redirects=False,
            )
        except (requests.ConnectionError, requests.Timeout,
                requests.exceptions.ChunkedEncodingError,
                requests.exceptions.RetryError) as exc:
            raise DeliveryError(ErrorKind.retriable, f"{where}: {type(exc).__name__}") from exc
        except requests.RequestException as exc:  # invalid URL or scheme: configuration
            raise DeliveryError(ErrorKind.fatal, f"{where}: {type(exc).__name__}: {exc}") from exc
        if 200 <= response.status_code < 300 or response.status_code in set(accept):
            return response
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

    def json(self, method: str, path: str, **kwargs: Any) -> Any:
        """:meth:`send` and decode; a 2xx answer that is not JSON means a wrong base URL."""
        response = self.send(method, path, **kwargs)
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


class LookupCache:
    """Bounded LRU of conversation key -> ticket id: it spares a search, it never decides.

    A sink verifies a cached id against the target system (and forgets it when the ticket is
    gone) before it appends to that ticket.
    """

    def __init__(self, maxsize: int = 10_000) -> None:
        self._items: OrderedDict[str, str] = OrderedDict()
        self.maxsize = maxsize

    def get(self, key: str) -> str | None:
        value = self._items.get(key)
        if value is not None:
            self._items.move_to_end(key)
        return value

    def put(self, key: str, value: str) -> None:
        self._items[key] = value
        self._items.move_to_end(key)
        while len(self._items) > self.maxsize:
            self._items.popitem(last=False)

    def forget(self, key: str) -> None:
        self._items.pop(key, None)

    def values(self) -> list[str]:
        """Newest first."""
        return list(reversed(self._items.values()))

    def __len__(self) -> int:
        return len(self._items)


def message_lines(cmd: TicketCommand) -> tuple[str, list[str]]:
    """The message text and its detail lines (platform, author, URL, tags)."""
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
    return text, details


def render_message(cmd: TicketCommand, limit: int | None = None) -> str:
    """Plain-text message ending with its marker; the text is cut so the whole fits ``limit``."""
    text, details = message_lines(cmd)
    tail = "\n".join(["", "", *details, marker(cmd.command_id)])
    if limit is not None and len(text) + len(tail) > limit:
        keep = max(0, limit - len(tail) - 1)
        text = text[:keep] + "…"
        if len(text) + len(tail) > limit:  # details alone too long: keep the marker at least
            tail = "\n" + marker(cmd.command_id)
            text = text[: max(0, limit - len(tail) - 1)] + "…"
    return text + tail


def lines_to_html(text: str) -> str:
    """Escaped HTML paragraphs, one per line: community text can never inject markup."""
    return "".join(f"<p>{html.escape(line)}</p>" if line else "<p></p>" for line in
                   text.split("\n"))


def html_to_lines(body: str) -> list[str]:
    """The text lines of an HTML body (paragraphs and breaks become line ends)."""
    text = _BREAK.sub("\n", body)
    text = html.unescape(_TAG.sub("", text))
    return text.splitlines()


def has_marker(texts: Iterable[str], mark: str, *, is_html: bool = False) -> bool:
    """Whether a text ends with the marker (its last line: a quoted marker does not count)."""
    for text in texts:
        lines = html_to_lines(text) if is_html else text.splitlines()
        lines = [line.strip() for line in lines if line.strip()]
        if lines and lines[-1] == mark:
            return True
    return False
