"""Fake of the Zammad REST API v1, with the rules the sink depends on.

Like Zammad: ``Authorization: Token token=<token>`` (401 otherwise); create needs a ``title``, a
``group`` (or ``group_id``) that exists, a customer (``customer_id: "guess:<e-mail>"`` finds or
creates one), known priority names and only declared attributes (422 with ``error`` and
``error_human``); articles need a body and a known type, ``internal`` is kept as sent;
``/api/v1/tickets/search`` reads ``attribute:"phrase"`` terms (backslash escapes) joined by
AND/OR, and ``expand=true`` answers a list of tickets with association names; a ticket is
searchable ``index_delay`` seconds after it was written (background indexing, 0 by default);
``/api/v1/ticket_articles/by_ticket/{id}`` lists a ticket's articles. A spent request budget
answers 429 with Retry-After.
"""

from __future__ import annotations

import re
import time
from datetime import UTC, datetime
from typing import Any

from pydantic import SecretStr

from connectors.sinks.zammad import ZammadSink
from tests.fakes.base import Answer, FakeApi, Request
from tests.fakes.crm import FakeTicket, register_fake

PRIORITIES = {"1 low": 1, "2 normal": 2, "3 high": 3}
ARTICLE_TYPES = {"note", "email", "phone", "web", "sms", "chat", "fax", "twitter status",
                 "facebook feed post"}
TICKET_KEYS = {"title", "group", "group_id", "customer", "customer_id", "priority",
               "priority_id", "state", "state_id", "tags", "article", "owner_id", "note"}


def unprocessable(message: str) -> Answer:
    return Answer(422, {"error": message, "error_human": message})


class ZammadFake(FakeApi):
    def __init__(self, token: str = "zm-token-42", groups: dict[str, int] | None = None,
                 attribute: str = "porte_voix_external_id", index_delay: float = 0.0) -> None:
        super().__init__()
        self.token = token
        self.groups = dict(groups or {"Users": 1, "Support": 2, "Social": 3})
        self.attribute = attribute
        self.index_delay = index_delay
        self.clock = time.monotonic
        self.customers: dict[str, int] = {}
        self.tickets: dict[int, dict[str, Any]] = {}
        self.indexed_at: dict[int, float] = {}
        self.articles: dict[int, list[dict[str, Any]]] = {}
        self.queries: list[str] = []
        self._next_ticket = 1
        self._next_article = 1
        self.route("GET", "/api/v1/tickets/search", self.search)
        self.route("POST", "/api/v1/tickets", self.create_ticket)
        self.route("GET", "/api/v1/tickets/{tid}", self.show_ticket)
        self.route("POST", "/api/v1/ticket_articles", self.create_article)
        self.route("GET", "/api/v1/ticket_articles/by_ticket/{tid}", self.list_articles)

    # ------------------------------------------------------------------ rules

    def authorized(self, request: Request) -> bool:
        return request.headers.get("authorization", "") == f"Token token={self.token}"

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": "Authentication required",
                            "error_human": "Authentication required"})

    def not_found(self, request: Request | None = None) -> Answer:
        return Answer(404, {"error": "Couldn't find the record",
                            "error_human": "Couldn't find the record"})

    def throttled(self) -> Answer:
        return Answer(429, {"error": "Too many requests", "error_human": "Too many requests"},
                      {"Retry-After": self._retry_after})

    def malformed(self, exc: Exception) -> Answer:
        return unprocessable(f"Invalid request: {exc}")

    @staticmethod
    def _stamp() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")

    # -------------------------------------------------------------- endpoints

    TERM = re.compile(r'\s*(?:(?P<op>AND|OR)\b|(?P<field>[\w.]+):(?:"(?P<phrase>(?:[^"\\]|\\.)*)"'
                      r'|(?P<word>[^\s"()]+)))')

    def _terms(self, query: str) -> list[tuple[str | None, str, str]]:
        """(operator before, field, value) of each term; ValueError on anything else."""
        terms: list[tuple[str | None, str, str]] = []
        pos, op = 0, None
        while pos < len(query.rstrip()):
            match = self.TERM.match(query, pos)
            if not match:
                raise ValueError(f"cannot parse query at {pos}")
            pos = match.end()
            if match.group("op"):
                op = match.group("op")
                continue
            raw = match.group("phrase")
            value = re.sub(r"\\(.)", r"\1", raw) if raw is not None else match.group("word")
            terms.append((op, match.group("field"), value))
            op = None
        return terms

    def search(self, request: Request) -> Answer:
        query = request.query.get("query", "")
        self.queries.append(query)
        try:
            terms = self._terms(query)
        except ValueError as exc:
            return unprocessable(f"Unable to process search query: {exc}")
        limit = int(request.query.get("limit", "50"))
        if not 1 <= limit <= 200:
            return unprocessable("limit must be between 1 and 200")
        now = self.clock()
        hits = []
        for tid, ticket in sorted(self.tickets.items()):
            if now - self.indexed_at[tid] < self.index_delay:
                continue
            result: bool | None = None
            for op, field, value in terms:
                found = str(ticket.get(field)) == value
                result = found if result is None else (
                    result or found if op == "OR" else result and found)
            if result:
                hits.append(ticket)
        hits = hits[:limit]
        if request.query.get("expand") == "true":
            return Answer(200, [self._expanded(t) for t in hits])
        return Answer(200, {"tickets": [t["id"] for t in hits], "tickets_count": len(hits),
                            "assets": {"Ticket": {str(t["id"]): t for t in hits}}})

    def _expanded(self, ticket: dict[str, Any]) -> dict[str, Any]:
        group = next(n for n, i in self.groups.items() if i == ticket["group_id"])
        priority = next(n for n, i in PRIORITIES.items() if i == ticket["priority_id"])
        return {**ticket, "group": group, "priority": priority, "state": ticket["state"]}

    def show_ticket(self, request: Request, tid: str) -> Answer:
        ticket = self.tickets.get(int(tid))
        return Answer(200, ticket) if ticket else self.not_found()

    def list_articles(self, request: Request, tid: str) -> Answer:
        if int(tid) not in self.tickets:
            return self.not_found()
        return Answer(200, self.articles[int(tid)])

    def create_ticket(self, request: Request) -> Answer:
        body = request.json()
        unknown = set(body) - TICKET_KEYS - {self.attribute}
        if unknown:
            return unprocessable(f"unknown attribute '{sorted(unknown)[0]}' for Ticket.")
        if not str(body.get("title") or "").strip():
            return unprocessable("Title can't be blank")
        group_id = body.get("group_id") or self.groups.get(str(body.get("group")))
        if group_id not in self.groups.values():
            return unprocessable(f"No lookup value found for 'group': {body.get('group')!r}")
        priority = body.get("priority", "2 normal")
        if priority not in PRIORITIES:
            return unprocessable(f"No lookup value found for 'priority': {priority!r}")
        customer = body.get("customer_id") or body.get("customer")
        if not customer:
            return unprocessable("Customer can't be blank")
        email = str(customer).removeprefix("guess:")
        if "@" not in email:
            return unprocessable(f"Invalid email '{email}' of customer")
        customer_id = self.customers.setdefault(email.lower(), 100 + len(self.customers))
        article = body.get("article")
        if article is not None:
            error = self._article_error(article)
            if error:
                return error
        tid, self._next_ticket = self._next_ticket, self._next_ticket + 1
        stamp = self._stamp()
        self.tickets[tid] = {
            "id": tid, "number": str(31000 + tid), "title": body["title"], "group_id": group_id,
            "priority_id": PRIORITIES[priority], "state_id": 1, "state": "new",
            "customer_id": customer_id, self.attribute: body.get(self.attribute),
            "tags": [t for t in str(body.get("tags") or "").split(",") if t],
            "created_at": stamp, "updated_at": stamp, "article_count": 0,
        }
        self.articles[tid] = []
        if article is not None:
            self._add_article(tid, article)
        self.indexed_at[tid] = self.clock()
        return Answer(201, self.tickets[tid])

    def _article_error(self, article: Any) -> Answer | None:
        if not isinstance(article, dict) or not str(article.get("body") or "").strip():
            return unprocessable("Need at least article: body")
        if article.get("type", "note") not in ARTICLE_TYPES:
            return unprocessable(f"No lookup value found for 'type': {article.get('type')!r}")
        if not isinstance(article.get("internal", False), bool):
            return unprocessable("internal must be true or false")
        return None

    def _add_article(self, tid: int, article: dict[str, Any]) -> dict[str, Any]:
        aid, self._next_article = self._next_article, self._next_article + 1
        stored = {"id": aid, "ticket_id": tid, "subject": article.get("subject"),
                  "body": article["body"], "type": article.get("type", "note"),
                  "internal": article.get("internal", False),
                  "content_type": article.get("content_type", "text/html"),
                  "sender": "Agent", "created_at": self._stamp()}
        self.articles[tid].append(stored)
        self.tickets[tid]["article_count"] = len(self.articles[tid])
        self.tickets[tid]["updated_at"] = stored["created_at"]
        return stored

    def create_article(self, request: Request) -> Answer:
        body = request.json()
        tid = body.get("ticket_id")
        if tid not in self.tickets:
            return self.not_found()
        error = self._article_error(body)
        if error:
            return error
        return Answer(201, self._add_article(int(tid), body))


@register_fake("zammad")
class FakeZammad:
    """FakeCRM over :class:`ZammadFake`."""

    name = "zammad"
    supports_fault_injection = True

    def __init__(self, index_delay: float = 0.0) -> None:
        self.api = ZammadFake(index_delay=index_delay)

    def start(self) -> None:
        self.api.start()

    def stop(self) -> None:
        self.api.stop()

    def sink(self, **kwargs: Any) -> ZammadSink:
        kwargs.setdefault("groups", {"support": "Support", "social": "Social"})
        return ZammadSink(self.api.url, SecretStr(self.api.token), **kwargs)

    def sink_with_bad_credentials(self) -> ZammadSink:
        return ZammadSink(self.api.url, SecretStr("not-the-token"))

    def tickets(self) -> list[FakeTicket]:
        with self.api._lock:
            return [FakeTicket(t[self.api.attribute] or "",
                               [a["body"] for a in self.api.articles[tid]])
                    for tid, t in sorted(self.api.tickets.items())]

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        self.api.fail_next(count, status, headers, body)
