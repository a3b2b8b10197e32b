"""Paginator strategies, one per paging style the polled APIs use (Singer/dlt style).

A paginator turns "where we are" (an opaque position string, None for the first page) into the
request to send, and reads the position of the next page from a decoded answer. Positions are
plain strings so they can be stored in a cursor and resumed after a restart.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

__all__ = [
    "AfterFullnamePaginator",
    "LinksNextPaginator",
    "PageNumberPaginator",
    "PageTokenPaginator",
    "Paginator",
    "dig",
]


def dig(data: Any, path: Sequence[str]) -> Any:
    """``data[path[0]][path[1]]...``, None as soon as a step is missing."""
    for step in path:
        if not isinstance(data, Mapping):
            return None
        data = data.get(step)
    return data


class Paginator(ABC):
    """Builds the request of a page and finds the next position in the answer."""

    @abstractmethod
    def request(self, url: str, params: dict[str, str], position: str | None,
                ) -> tuple[str, dict[str, str]]:
        """URL and query parameters of the page at ``position``."""

    @abstractmethod
    def next_position(self, body: Any, items: list[Any], position: str | None) -> str | None:
        """Position of the page after this one, None on the last page."""


class PageTokenPaginator(Paginator):
    """Opaque server tokens: ``?pageToken=`` in, ``nextPageToken`` out (Google APIs)."""

    def __init__(self, param: str = "pageToken", next_path: Sequence[str] = ("nextPageToken",),
                 ) -> None:
        self.param = param
        self.next_path = tuple(next_path)

    def request(self, url: str, params: dict[str, str], position: str | None,
                ) -> tuple[str, dict[str, str]]:
        return url, {**params, self.param: position} if position else dict(params)

    def next_position(self, body: Any, items: list[Any], position: str | None) -> str | None:
        token = dig(body, self.next_path)
        return str(token) if token else None


class LinksNextPaginator(Paginator):
    """JSON:API ``links.next``: the full URL of the next page, query included (App Store)."""

    def __init__(self, next_path: Sequence[str] = ("links", "next")) -> None:
        self.next_path = tuple(next_path)

    def request(self, url: str, params: dict[str, str], position: str | None,
                ) -> tuple[str, dict[str, str]]:
        return (position, {}) if position else (url, dict(params))

    def next_position(self, body: Any, items: list[Any], position: str | None) -> str | None:
        link = dig(body, self.next_path)
        return str(link) if link else None


class PageNumberPaginator(Paginator):
    """``?page=N`` from ``start``; a next page exists when the API links one (Trustpilot's
    ``links[rel=next-page]``) or, for an API without links, until a page comes back empty."""

    def __init__(self, param: str = "page", size_param: str = "perPage", start: int = 1,
                 links_path: Sequence[str] = ("links",), next_rel: str = "next-page") -> None:
        self.param = param
        self.size_param = size_param
        self.start = start
        self.links_path = tuple(links_path)
        self.next_rel = next_rel

    def request(self, url: str, params: dict[str, str], position: str | None,
                ) -> tuple[str, dict[str, str]]:
        return url, {**params, self.param: position or str(self.start)}

    def next_position(self, body: Any, items: list[Any], position: str | None) -> str | None:
        page = int(position or self.start)
        links = dig(body, self.links_path)
        if isinstance(links, list):
            has_next = any(isinstance(link, Mapping) and link.get("rel") == self.next_rel
                           for link in links)
        else:
            has_next = bool(items)
        return str(page + 1) if has_next and items else None


class AfterFullnamePaginator(Paginator):
    """Reddit listings: ``?after=<fullname>`` in, ``data.after`` out (None at the end)."""

    def __init__(self, param: str = "after", next_path: Sequence[str] = ("data", "after"),
                 ) -> None:
        self.param = param
        self.next_path = tuple(next_path)

    def request(self, url: str, params: dict[str, str], position: str | None,
                ) -> tuple[str, dict[str, str]]:
        return url, {**params, self.param: position} if position else dict(params)

    def next_position(self, body: Any, items: list[Any], position: str | None) -> str | None:
        after = dig(body, self.next_path)
        return str(after) if after else None
