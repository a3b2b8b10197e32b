"""Fake of the Freshdesk API v2, with the rules the sink depends on.

Like Freshdesk: basic auth with the API key as user (401 ``invalid_credentials``); create needs
a requester identity, ``subject``, ``description``, a valid ``status`` and ``priority``, known
``group_id`` and declared ``cf_`` fields (400 ``Validation failed`` with an ``errors`` array);
``/api/v2/search/tickets`` takes a query enclosed in double quotes, at most 512 characters,
terms ``field:value`` with strings in single quotes joined by AND/OR and parentheses, answers
30 results a page over at most 10 pages, and sees a ticket only ``index_delay`` seconds after
it was written (the documented indexing lag); the ticket list filters on ``updated_since`` and
pages with a ``Link: <...>; rel="next"`` header (``per_page`` at most 100); notes default to
private. Every answer carries ``X-RateLimit-Total``/``-Remaining``/``-Used-CurrentRequest``; a
spent budget answers 429 with Retry-After.
"""

from __future__ import annotations

import html
import re
import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any
from urllib.parse import urlencode

from pydantic import SecretStr

from connectors.sinks.freshdesk import FreshdeskSink
from tests.fakes.base import Answer, FakeApi, Request, basic_credentials
from tests.fakes.crm import FakeTicket, register_fake

REQUESTER_FIELDS = ("requester_id", "email", "phone", "twitter_id", "facebook_id",
                    "unique_external_id")
SEARCH_PAGE = 30
SEARCH_MAX_PAGES = 10
QUERY_MAX = 512


class QueryError(ValueError):
    pass


def invalid(*errors: tuple[str, str, str]) -> Answer:
    return Answer(400, {"description": "Validation failed", "errors": [
        {"field": f, "message": m, "code": c} for f, m, c in errors]})


def text_of(body_html: str) -> str:
    return html.unescape(re.sub(r"<br\s*/?>", "\n", body_html).replace("</p>", "\n")
                         .replace("<p>", "")).strip()


Matcher = Callable[[dict[str, Any]], bool]


class _Query:
    """Recursive descent over Freshdesk's filter syntax (AND binds tighter than OR)."""

    TOKEN = re.compile(r"\s*(?:(?P<paren>[()])|(?P<op>AND|OR)\b|"
                       r"(?P<field>\w+):(?P<value>'[^']*'|-?\d+|null|true|false))")

    def __init__(self, text: str, fields: set[str]) -> None:
        self.tokens: list[re.Match[str]] = []
        pos = 0
        while pos < len(text.rstrip()):
            match = self.TOKEN.match(text, pos)
            if not match:
                raise QueryError(f"unexpected input at {pos}: {text[pos:pos + 20]!r}")
            self.tokens.append(match)
            pos = match.end()
        self.fields = fields
        self.pos = 0

    def parse(self) -> Matcher:
        matcher = self._or()
        if self.pos != len(self.tokens):
            raise QueryError("unbalanced query")
        return matcher

    def _peek(self, group: str, value: str | None = None) -> bool:
        if self.pos >= len(self.tokens):
            return False
        token = self.tokens[self.pos].group(group)
        return token is not None and (value is None or token == value)

    def _or(self) -> Matcher:
        parts = [self._and()]
        while self._peek("op", "OR"):
            self.pos += 1
            parts.append(self._and())
        return lambda t: any(p(t) for p in parts)

    def _and(self) -> Matcher:
        parts = [self._term()]
        while self._peek("op", "AND"):
            self.pos += 1
            parts.append(self._term())
        return lambda t: all(p(t) for p in parts)

    def _term(self) -> Matcher:
        if self._peek("paren", "("):
            self.pos += 1
            inner = self._or()
            if not self._peek("paren", ")"):
                raise QueryError("missing )")
            self.pos += 1
            return inner
        if not self._peek("field"):
            raise QueryError("expected field:value")
        token = self.tokens[self.pos]
        self.pos += 1
        field, raw = token.group("field"), token.group("value")
        if field not in self.fields:
            raise QueryError(f"unknown field {field}")
        value: Any = None if raw == "null" else raw[1:-1] if raw.startswith("'") else (
            raw == "true" if raw in ("true", "false") else int(raw))

        def match(ticket: dict[str, Any]) -> bool:
            if field.startswith("cf_"):
                return bool(ticket["custom_fields"].get(field) == value)
            if field == "tag":
                return value in ticket["tags"] if value is not None else not ticket["tags"]
            return bool(ticket.get(field) == value)

        return match


class FreshdeskFake(FakeApi):
    def __init__(self, api_key: str = "fd-key-42", groups: dict[str, int] | None = None,
                 index_delay: float = 120.0, rate_limit: int = 3000) -> None:
        super().__init__()
        self.api_key = api_key
        self.groups = dict(groups or {"support": 5001, "social": 5002})
        self.custom_fields = {"cf_external_id"}
        self.index_delay = index_delay
        self.rate_limit_total = rate_limit
        self.clock = time.monotonic
        self.tickets: dict[int, dict[str, Any]] = {}
        self.indexed_at: dict[int, float] = {}
        self.conversations: dict[int, list[dict[str, Any]]] = {}
        self.queries: list[str] = []
        self._next_ticket = 1
        self._next_note = 1
        self.route("GET", "/api/v2/search/tickets", self.search)
        self.route("GET", "/api/v2/tickets", self.list_tickets)
        self.route("POST", "/api/v2/tickets", self.create_ticket)
        self.route("GET", "/api/v2/tickets/{tid}", self.show_ticket)
        self.route("GET", "/api/v2/tickets/{tid}/conversations", self.list_conversations)
        self.route("POST", "/api/v2/tickets/{tid}/notes", self.create_note)

    # ------------------------------------------------------------------ rules

    def authorized(self, request: Request) -> bool:
        credentials = basic_credentials(request)
        return credentials is not None and credentials[0] == self.api_key

    def unauthorized(self) -> Answer:
        return Answer(401, {"code": "invalid_credentials",
                            "message": "You have to be logged in to perform this action."})

    def not_found(self, request: Request | None = None) -> Answer:
        return Answer(404, None)

    def throttled(self) -> Answer:
        return Answer(429, {"message": "You have exceeded the limit of requests per minute"},
                      {"Retry-After": self._retry_after})

    def malformed(self, exc: Exception) -> Answer:
        return invalid(("request", f"Invalid request: {exc}", "invalid_value"))

    def common_headers(self) -> dict[str, str]:
        remaining = self._budget if self._budget is not None else self.rate_limit_total
        return {"X-RateLimit-Total": str(self.rate_limit_total),
                "X-RateLimit-Remaining": str(max(remaining, 0)),
                "X-RateLimit-Used-CurrentRequest": "1"}

    @staticmethod
    def _stamp() -> str:
        return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")

    # -------------------------------------------------------------- endpoints

    def _paged(self, request: Request, items: list[Any], path: str) -> Answer:
        per_page = int(request.query.get("per_page", "30"))
        page = int(request.query.get("page", "1"))
        if not 1 <= per_page <= 100 or page < 1:
            return invalid(("per_page", "Has to be a number between 1 and 100", "invalid_value"))
        chunk = items[(page - 1) * per_page: page * per_page]
        headers = {}
        if page * per_page < len(items):
            query = {**request.query, "page": str(page + 1)}
            headers["Link"] = f'<{self.url}{path}?{urlencode(query)}>; rel="next"'
        return Answer(200, chunk, headers)

    def search(self, request: Request) -> Answer:
        raw = request.query.get("query")
        if raw is None:
            return invalid(("query", "Mandatory attribute missing", "missing_field"))
        self.queries.append(raw)
        if len(raw) < 2 or not (raw.startswith('"') and raw.endswith('"')):
            return invalid(("query", "Query should be enclosed in double quotes",
                            "invalid_value"))
        if len(raw[1:-1]) > QUERY_MAX:
            return invalid(("query", f"Has {len(raw[1:-1])} characters, it can have maximum of"
                            f" {QUERY_MAX} characters", "invalid_value"))
        try:
            matcher = _Query(raw[1:-1], {"status", "priority", "group_id", "tag",
                                         *self.custom_fields}).parse()
        except QueryError as exc:
            return invalid(("query", f"Given query is invalid: {exc}", "invalid_value"))
        page = int(request.query.get("page", "1"))
        if not 1 <= page <= SEARCH_MAX_PAGES:
            return invalid(("page", f"Has to be between 1 and {SEARCH_MAX_PAGES}",
                            "invalid_value"))
        now = self.clock()
        hits = [t for tid, t in sorted(self.tickets.items())
                if now - self.indexed_at[tid] >= self.index_delay and matcher(t)]
        return Answer(200, {"results": hits[(page - 1) * SEARCH_PAGE: page * SEARCH_PAGE],
                            "total": len(hits)})

    def list_tickets(self, request: Request) -> Answer:
        tickets = list(self.tickets.values())
        since = request.query.get("updated_since")
        if since is not None:
            when = datetime.fromisoformat(since.replace("Z", "+00:00"))
            tickets = [t for t in tickets
                       if datetime.fromisoformat(t["updated_at"].replace("Z", "+00:00")) >= when]
        order_by = request.query.get("order_by", "created_at")
        order_type = request.query.get("order_type", "desc")
        if order_by not in ("created_at", "due_by", "updated_at", "status") or \
                order_type not in ("asc", "desc"):
            return invalid(("order_by", "It should be one of these values: 'created_at,due_by,"
                            "updated_at,status'", "invalid_value"))
        tickets.sort(key=lambda t: (t[order_by] if order_by != "due_by" else t["created_at"],
                                    t["id"]), reverse=order_type == "desc")
        return self._paged(request, tickets, "/api/v2/tickets")

    def show_ticket(self, request: Request, tid: str) -> Answer:
        ticket = self.tickets.get(int(tid))
        return Answer(200, ticket) if ticket else self.not_found()

    def list_conversations(self, request: Request, tid: str) -> Answer:
        if int(tid) not in self.tickets:
            return self.not_found()
        return self._paged(request, self.conversations[int(tid)],
                           f"/api/v2/tickets/{tid}/conversations")

    def create_ticket(self, request: Request) -> Answer:
        body = request.json()
        if not isinstance(body, dict):
            return invalid(("request", "Request body should be a JSON object", "invalid_value"))
        errors: list[tuple[str, str, str]] = []
        if not any(body.get(f) for f in REQUESTER_FIELDS):
            errors.append(("requester_id", "Please fill at least 1 of email, mobile, phone, "
                           "requester_id, twitter_id, facebook_id, unique_external_id fields",
                           "missing_field"))
        for name in ("subject", "description"):
            if not isinstance(body.get(name), str) or not body[name].strip():
                errors.append((name, "It should be a/an String", "missing_field"))
        if body.get("status") not in (2, 3, 4, 5):
            errors.append(("status", "It should be one of these values: '2,3,4,5'",
                           "invalid_value"))
        if body.get("priority") not in (1, 2, 3, 4):
            errors.append(("priority", "It should be one of these values: '1,2,3,4'",
                           "invalid_value"))
        if "group_id" in body and body["group_id"] not in self.groups.values():
            errors.append(("group_id", "There is no group matching the given group_id",
                           "invalid_value"))
        tags = body.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) and len(t) <= 255
                                                 for t in tags):
            errors.append(("tags", "It should be a/an Array of String", "datatype_mismatch"))
        custom = body.get("custom_fields", {})
        for name, value in custom.items():
            if name not in self.custom_fields:
                errors.append((name, "Unexpected/invalid field in request", "invalid_field"))
            elif not isinstance(value, str) or len(value) > 255:
                errors.append((name, "It should be a/an String of at most 255 characters",
                               "invalid_value"))
        if errors:
            return invalid(*errors)
        tid, self._next_ticket = self._next_ticket, self._next_ticket + 1
        stamp = self._stamp()
        self.tickets[tid] = {
            "id": tid, "subject": body["subject"], "description": body["description"],
            "description_text": text_of(body["description"]), "status": body["status"],
            "priority": body["priority"], "source": body.get("source", 2),
            "requester_id": 7000, "email": body.get("email"), "group_id": body.get("group_id"),
            "tags": tags, "custom_fields": {f: custom.get(f) for f in self.custom_fields},
            "created_at": stamp, "updated_at": stamp,
        }
        self.indexed_at[tid] = self.clock()
        self.conversations[tid] = []
        return Answer(201, self.tickets[tid],
                      {"Location": f"{self.url}/api/v2/tickets/{tid}"})

    def create_note(self, request: Request, tid: str) -> Answer:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return self.not_found()
        body = request.json()
        if not isinstance(body.get("body"), str) or not body["body"].strip():
            return invalid(("body", "It should be a/an String", "missing_field"))
        private = body.get("private", True)
        if not isinstance(private, bool):
            return invalid(("private", "It should be a/an Boolean", "datatype_mismatch"))
        nid, self._next_note = self._next_note, self._next_note + 1
        note = {"id": nid, "ticket_id": int(tid), "body": body["body"],
                "body_text": text_of(body["body"]), "private": private, "incoming": False,
                "source": 2, "created_at": self._stamp()}
        self.conversations[int(tid)].append(note)
        ticket["updated_at"] = note["created_at"]
        return Answer(201, note)


@register_fake("freshdesk")
class FakeFreshdesk:
    """FakeCRM over :class:`FreshdeskFake` (search index lagging by two minutes by default)."""

    name = "freshdesk"
    supports_fault_injection = True

    def __init__(self, index_delay: float = 120.0) -> None:
        self.api = FreshdeskFake(index_delay=index_delay)

    def start(self) -> None:
        self.api.start()

    def stop(self) -> None:
        self.api.stop()

    def sink(self, **kwargs: Any) -> FreshdeskSink:
        return FreshdeskSink(self.api.url, SecretStr(self.api.api_key), groups=self.api.groups,
                             **kwargs)

    def sink_with_bad_credentials(self) -> FreshdeskSink:
        return FreshdeskSink(self.api.url, SecretStr("not-the-key"), groups=self.api.groups)

    def tickets(self) -> list[FakeTicket]:
        with self.api._lock:
            return [FakeTicket(
                t["custom_fields"].get("cf_external_id") or "",
                [t["description_text"], *(n["body_text"] for n in self.api.conversations[tid])])
                for tid, t in sorted(self.api.tickets.items())]

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        self.api.fail_next(count, status, headers, body)
