"""Fake of the Zendesk Support Ticketing API v2, with the rules the sink depends on.

Like Zendesk: basic auth ``{email}/token:{api_token}`` (401 ``Couldn't authenticate you``);
``comment`` with a body required on create and known priorities and groups (422 RecordInvalid
with ``details``); ``GET /api/v2/tickets.json?external_id=`` filters exactly; ``Idempotency-Key``
on create is kept two hours: a replay with the same body returns the original answer with
``x-idempotency-lookup: hit`` (``miss`` on first use), another body answers 400
IdempotentRequestError; a closed ticket cannot be updated (422), ``safe_update`` with a stale
``updated_stamp`` answers 409 UpdateConflict; comment lists page by ``per_page`` (max 100); every
answer carries ``X-Rate-Limit``/``X-Rate-Limit-Remaining``, and a spent budget answers 429 with
Retry-After.
"""

from __future__ import annotations

import hashlib
import time
from datetime import UTC, datetime, timedelta
from typing import Any

from pydantic import SecretStr

from connectors.sinks.zendesk import ZendeskSink
from tests.fakes.base import Answer, FakeApi, Request, basic_credentials
from tests.fakes.crm import FakeTicket, register_fake

IDEMPOTENCY_TTL = 2 * 3600.0
PRIORITIES = {"urgent", "high", "normal", "low"}
STATUSES = {"new", "open", "pending", "hold", "solved", "closed"}


def _invalid(field: str, description: str, error: str = "InvalidValue") -> Answer:
    return Answer(422, {"error": "RecordInvalid", "description": "Record validation errors",
                        "details": {field: [{"description": description, "error": error}]}})


class ZendeskFake(FakeApi):
    def __init__(self, email: str = "agent@croque.example", api_token: str = "zd-token-42",
                 groups: dict[str, int] | None = None, rate_limit: int = 700) -> None:
        super().__init__()
        self.email = email
        self.api_token = api_token
        self.groups = dict(groups or {"support": 360001, "social": 360002})
        self.rate_limit_total = rate_limit
        self.tickets: dict[int, dict[str, Any]] = {}
        self.comments: dict[int, list[dict[str, Any]]] = {}
        self.idempotency: dict[str, tuple[str, float, Answer]] = {}
        self.clock = time.monotonic
        self._next_ticket = 1
        self._next_comment = 1
        self._stamp = datetime(2026, 11, 14, 20, 0, tzinfo=UTC)
        self.route("GET", "/api/v2/tickets.json", self.list_tickets)
        self.route("POST", "/api/v2/tickets.json", self.create_ticket)
        self.route("GET", "/api/v2/tickets/{tid}.json", self.show_ticket)
        self.route("PUT", "/api/v2/tickets/{tid}.json", self.update_ticket)
        self.route("GET", "/api/v2/tickets/{tid}/comments.json", self.list_comments)

    # ------------------------------------------------------------------ rules

    def authorized(self, request: Request) -> bool:
        return basic_credentials(request) == (f"{self.email}/token", self.api_token)

    def unauthorized(self) -> Answer:
        return Answer(401, {"error": "Couldn't authenticate you"})

    def not_found(self, request: Request | None = None) -> Answer:
        return Answer(404, {"error": "RecordNotFound", "description": "Not found"})

    def throttled(self) -> Answer:
        return Answer(429, {"error": "APIRateLimitExceeded",
                            "description": "Number of allowed API requests per minute exceeded"},
                      {"Retry-After": self._retry_after})

    def malformed(self, exc: Exception) -> Answer:
        return Answer(400, {"error": "InvalidEndpoint", "description": f"Bad request: {exc}"})

    def common_headers(self) -> dict[str, str]:
        remaining = self._budget if self._budget is not None else self.rate_limit_total
        return {"X-Rate-Limit": str(self.rate_limit_total),
                "X-Rate-Limit-Remaining": str(max(remaining, 0))}

    def _now(self) -> str:
        """Stamps one second apart per write, so every update changes ``updated_at``."""
        self._stamp += timedelta(seconds=1)
        return self._stamp.strftime("%Y-%m-%dT%H:%M:%SZ")

    # -------------------------------------------------------------- endpoints

    def _page(self, request: Request, items: list[Any], key: str, path: str) -> Answer:
        per_page = int(request.query.get("per_page", "100"))
        page = int(request.query.get("page", "1"))
        if not 1 <= per_page <= 100 or page < 1:
            raise ValueError("per_page must be between 1 and 100")
        chunk = items[(page - 1) * per_page: page * per_page]
        more = page * per_page < len(items)
        return Answer(200, {key: chunk, "count": len(items),
                            "next_page": f"{self.url}{path}?page={page + 1}" if more else None,
                            "previous_page": None})

    def list_tickets(self, request: Request) -> Answer:
        tickets = sorted(self.tickets.values(), key=lambda t: t["id"])
        if "external_id" in request.query:
            tickets = [t for t in tickets if t["external_id"] == request.query["external_id"]]
        return self._page(request, tickets, "tickets", "/api/v2/tickets.json")

    def show_ticket(self, request: Request, tid: str) -> Answer:
        ticket = self.tickets.get(int(tid))
        return Answer(200, {"ticket": ticket}) if ticket else self.not_found()

    def list_comments(self, request: Request, tid: str) -> Answer:
        if int(tid) not in self.tickets:
            return self.not_found()
        return self._page(request, self.comments[int(tid)], "comments",
                          f"/api/v2/tickets/{tid}/comments.json")

    def create_ticket(self, request: Request) -> Answer:
        key = request.headers.get("idempotency-key")
        digest = hashlib.sha256(request.body).hexdigest()
        if key is not None:
            if len(key) > 255:
                raise ValueError("Idempotency-Key is longer than 255 characters")
            known = self.idempotency.get(key)
            if known and self.clock() - known[1] < IDEMPOTENCY_TTL:
                if known[0] != digest:
                    return Answer(400, {"error": "IdempotentRequestError", "description":
                                        "Request parameters don't match the given idempotency "
                                        "key"})
                original = known[2]
                return Answer(original.status, original.body,
                              {**original.headers, "x-idempotency-lookup": "hit"})
        answer = self._create(request.json())
        if key is not None and answer.status < 500:
            answer.headers["x-idempotency-lookup"] = "miss"
            self.idempotency[key] = (digest, self.clock(), answer)
        return answer

    def _create(self, body: Any) -> Answer:
        ticket = body["ticket"]
        comment = ticket.get("comment") or {}
        text = str(comment.get("body") or comment.get("html_body") or "").strip()
        if not text:
            return _invalid("base", "Description: cannot be blank", "BlankValue")
        if ticket.get("priority") not in PRIORITIES | {None}:
            return _invalid("priority", f"Priority: {ticket['priority']} is not valid")
        if "group_id" in ticket and ticket["group_id"] not in self.groups.values():
            return _invalid("group_id", "Group: is invalid")
        tags = ticket.get("tags", [])
        if not isinstance(tags, list) or not all(isinstance(t, str) for t in tags):
            return _invalid("tags", "Tags: must be a list of strings")
        source = ticket.get("via_followup_source_id")
        if source is not None and self.tickets.get(source, {}).get("status") != "closed":
            source = None  # only a closed ticket can be followed up
        tid, self._next_ticket = self._next_ticket, self._next_ticket + 1
        stamp = self._now()
        self.tickets[tid] = {
            "id": tid, "url": f"{self.url}/api/v2/tickets/{tid}.json",
            "subject": ticket.get("subject") or text[:80], "description": text,
            "external_id": ticket.get("external_id"), "status": "new",
            "priority": ticket.get("priority"), "group_id": ticket.get("group_id"),
            "tags": [t.replace(" ", "_") for t in tags], "via_followup_source_id": source,
            "created_at": stamp, "updated_at": stamp,
        }
        self.comments[tid] = []
        self._add_comment(tid, text, bool(comment.get("public", True)), stamp)
        return Answer(201, {"ticket": self.tickets[tid]},
                      {"Location": f"{self.url}/api/v2/tickets/{tid}.json"})

    def _add_comment(self, tid: int, text: str, public: bool, stamp: str) -> None:
        cid, self._next_comment = self._next_comment, self._next_comment + 1
        self.comments[tid].append({"id": cid, "type": "Comment", "body": text,
                                   "plain_body": text, "html_body": f"<p>{text}</p>",
                                   "public": public, "created_at": stamp})

    def update_ticket(self, request: Request, tid: str) -> Answer:
        ticket = self.tickets.get(int(tid))
        if ticket is None:
            return self.not_found()
        update = request.json()["ticket"]
        if update.get("safe_update") and update.get("updated_stamp") != ticket["updated_at"]:
            return Answer(409, {"error": "UpdateConflict", "description": "Safe Update prevented"
                                " the update due to outdated ticket data. Please fetch the "
                                "latest ticket data and try again."})
        if ticket["status"] == "closed":
            return _invalid("status", "Status: closed prevents ticket update")
        if "status" in update and update["status"] not in STATUSES:
            return _invalid("status", f"Status: {update['status']} is not valid")
        stamp = self._now()
        comment = update.get("comment")
        if comment is not None:
            text = str(comment.get("body") or "").strip()
            if not text:
                return _invalid("base", "Comment: cannot be blank", "BlankValue")
            self._add_comment(int(tid), text, bool(comment.get("public", True)), stamp)
        if "status" in update:
            ticket["status"] = update["status"]
        elif ticket["status"] == "new":
            ticket["status"] = "open"
        ticket["updated_at"] = stamp
        return Answer(200, {"ticket": ticket, "audit": {"ticket_id": int(tid)}})

    # ----------------------------------------------------------- test helpers

    def set_status(self, tid: int, status: str) -> None:
        with self._lock:
            self.tickets[tid]["status"] = status
            self.tickets[tid]["updated_at"] = self._now()


@register_fake("zendesk")
class FakeZendesk:
    """FakeCRM over :class:`ZendeskFake`."""

    name = "zendesk"
    supports_fault_injection = True

    def __init__(self) -> None:
        self.api = ZendeskFake()

    def start(self) -> None:
        self.api.start()

    def stop(self) -> None:
        self.api.stop()

    def sink(self, **kwargs: Any) -> ZendeskSink:
        return ZendeskSink(self.api.url, self.api.email, SecretStr(self.api.api_token),
                           groups=self.api.groups, **kwargs)

    def sink_with_bad_credentials(self) -> ZendeskSink:
        return ZendeskSink(self.api.url, self.api.email, SecretStr("not-the-token"),
                           groups=self.api.groups)

    def tickets(self) -> list[FakeTicket]:
        with self.api._lock:
            return [FakeTicket(t["external_id"] or "",
                               [c["body"] for c in self.api.comments[t["id"]]])
                    for t in sorted(self.api.tickets.values(), key=lambda t: t["id"])]

    def fail_next(self, count: int, status: int, headers: dict[str, str] | None = None,
                  body: str = "") -> None:
        self.api.fail_next(count, status, headers, body)

