"""Ticket sink for Zendesk Support (Ticketing API v2, API-token basic auth).

Lookup: the conversation key is the ticket's ``external_id``, which the list endpoint filters on
exactly and from the database (``GET /api/v2/tickets.json?external_id=``), so a ticket is
findable the moment it exists (the Search API lags by minutes). External ids are not unique in
Zendesk: of several tickets the newest not closed one is used.

Create: ``POST /api/v2/tickets.json`` with an ``Idempotency-Key`` derived from the command id.
Zendesk keeps a key two hours: the same key and body answer the original ticket with
``x-idempotency-lookup: hit`` (reported as ``unchanged``), the same key with another body answers
400 ``IdempotentRequestError``; the sink then looks the conversation up again rather than
dead-lettering a command whose ticket exists.

Follow-up: ``PUT /api/v2/tickets/{id}.json`` with a private ``comment`` and ``safe_update`` on the
``updated_at`` just read. urllib3 re-sends a PUT whose answer was lost; the second copy then
meets a newer ``updated_at`` and gets 409 UpdateConflict (retriable) instead of adding the comment
twice, and the redelivered command finds its marker. A solved ticket is reopened; a closed one
cannot be updated, so a follow-up ticket (``via_followup_source_id``) continues the conversation.

The requester is the API user (social authors have no e-mail); the author's handle, the platform
and the post URL are lines of the comment.

Field mapping: ``priority`` 1 -> urgent, 2 -> high, 3 -> normal, 4-5 -> low; ``assignee_group``
(else ``queue``) -> ``group_id`` through ``groups`` (unknown: the account's default group);
tags are lower-cased with spaces as ``_`` (Zendesk splits tags on spaces) plus ``porte_voix``,
``queue_<queue>`` and ``platform_<platform>`` so triggers and views can route on them.
"""

from __future__ import annotations

import base64
import logging
import re
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.base import DeliveryError
from connectors.sinks.message import render_message
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import RestClient, RestTicketSink
from schemas.models import ErrorKind, TicketCommand, TicketOutcome

__all__ = ["PRIORITIES", "ZendeskConfig", "ZendeskSink", "idempotency_key", "zendesk_tags"]

log = logging.getLogger(__name__)

PRIORITIES: dict[int, str] = {1: "urgent", 2: "high", 3: "normal", 4: "low", 5: "low"}
_PER_PAGE = 100
_MAX_PAGES = 50
_TAG_CHARS = re.compile(r"[^\w:/.-]+")


def idempotency_key(command_id: str) -> str:
    """The Idempotency-Key of a command's create (Zendesk accepts up to 255 characters)."""
    return f"porte-voix-{command_id}"[:255]


def zendesk_tags(cmd: TicketCommand) -> list[str]:
    """Command tags as Zendesk stores them, plus routing tags for the queue and the platform."""
    tags = [*cmd.tags, "porte_voix", f"queue_{cmd.queue}", f"platform_{cmd.platform.value}"]
    out: list[str] = []
    for tag in tags:
        clean = _TAG_CHARS.sub("_", tag.strip().lower()).strip("_")
        if clean and clean not in out:
            out.append(clean)
    return out


class ZendeskConfig(BaseSettings):
    """Where the Zendesk account is and how to reach it (env ``PORTE_VOIX_ZENDESK_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_ZENDESK_", extra="ignore")

    subdomain: str = Field(default="", description="Account subdomain: <subdomain>.zendesk.com.")
    url: str | None = Field(default=None, description="Full base URL; overrides the subdomain.")
    email: str = Field(default="", description="Agent e-mail the API token belongs to.")
    api_token: SecretStr = Field(default=SecretStr(""), description="Zendesk API token.")
    groups: dict[str, int] = Field(
        default_factory=dict, description="Queue or group slug -> Zendesk group id (JSON)."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")

    @property
    def base_url(self) -> str:
        if self.url:
            return self.url
        if not self.subdomain:
            raise ValueError("set PORTE_VOIX_ZENDESK_SUBDOMAIN or PORTE_VOIX_ZENDESK_URL")
        return f"https://{self.subdomain}.zendesk.com"


@register_sink
class ZendeskSink(RestTicketSink[int]):
    """Deliver TicketCommands to Zendesk Support; every comment written is private."""

    name: ClassVar[str] = "zendesk"
    config_model: ClassVar[type[BaseSettings]] = ZendeskConfig

    def __init__(
        self,
        base_url: str,
        email: str,
        api_token: SecretStr,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        *,
        groups: Mapping[str, int] | None = None,
        cache_size: int = 10_000,
    ) -> None:
        super().__init__(RestClient(base_url, self._auth_headers, session, timeout,
                                    label=self.name, follow_redirects=True), cache_size)
        self._email = email
        self._token = api_token
        self.groups: dict[str, int] = dict(groups or {})

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> ZendeskSink:
        if not isinstance(config, ZendeskConfig):
            raise TypeError(f"ZendeskSink needs a ZendeskConfig, not {type(config).__name__}")
        return cls(config.base_url, config.email, config.api_token, session=session,
                   timeout=config.timeout_seconds, groups=config.groups)

    def _auth_headers(self) -> dict[str, str]:
        pair = f"{self._email}/token:{self._token.get_secret_value()}".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    # --------------------------------------------------------------- reading

    def ticket_url(self, ticket_id: int | str) -> str:
        return f"{self.base_url}/agent/tickets/{ticket_id}"

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> int:
        return int(ticket["id"])

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        data = self.api.json("GET", f"/api/v2/tickets/{ticket_id}.json", allow_404=True)
        return None if data is None else dict(data["ticket"])

    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        return ticket.get("external_id")

    def tickets_with_external_id(self, external_id: str) -> list[dict[str, Any]]:
        """Every ticket carrying the key (Zendesk does not make external ids unique)."""
        found: list[dict[str, Any]] = []
        params: dict[str, Any] = {"external_id": external_id, "per_page": _PER_PAGE, "page": 1}
        for page in range(1, _MAX_PAGES + 1):
            params["page"] = page
            data = self.api.json("GET", "/api/v2/tickets.json", params=params)
            found.extend(t for t in data.get("tickets", []) if t.get("external_id") == external_id)
            if not data.get("next_page"):
                break
        return found

    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The newest ticket of the conversation that is not closed, else the newest one."""
        tickets = sorted(self.tickets_with_external_id(external_id), key=lambda t: int(t["id"]))
        if not tickets:
            return None
        live = [t for t in tickets if t.get("status") != "closed"]
        return (live or tickets)[-1]

    def comments(self, ticket_id: int) -> list[dict[str, Any]]:
        """The ticket's comments, oldest first (the first one is the description)."""
        out: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            data = self.api.json(
                "GET", f"/api/v2/tickets/{ticket_id}/comments.json",
                params={"page": page, "per_page": _PER_PAGE},
            )
            out.extend(data.get("comments", []))
            if not data.get("next_page"):
                break
        return out

    def texts(self, ticket: Mapping[str, Any]) -> list[str]:
        return [str(c.get("plain_body") or c.get("body") or "")
                for c in self.comments(int(ticket["id"]))]

    # --------------------------------------------------------------- writing

    def _group_id(self, cmd: TicketCommand) -> int | None:
        for slug in (cmd.assignee_group, cmd.queue):
            if slug and slug in self.groups:
                return self.groups[slug]
        return None

    def ticket_payload(self, cmd: TicketCommand, followup_of: int | None = None
                       ) -> dict[str, Any]:
        """The create body; it depends on the command only, so a retry sends the same bytes."""
        ticket: dict[str, Any] = {
            "subject": cmd.title or cmd.body[:80] or cmd.external_id,
            "comment": {"body": render_message(cmd, conversation=True), "public": False},
            "external_id": cmd.external_id,
            "priority": PRIORITIES[cmd.priority],
            "tags": zendesk_tags(cmd),
        }
        group_id = self._group_id(cmd)
        if group_id is not None:
            ticket["group_id"] = group_id
        if followup_of is not None:
            ticket["via_followup_source_id"] = followup_of
        return {"ticket": ticket}

    def create(self, cmd: TicketCommand, followup_of: int | None = None
               ) -> tuple[int, TicketOutcome]:
        try:
            response = self.api.send(
                "POST", "/api/v2/tickets.json", json=self.ticket_payload(cmd, followup_of),
                headers={"Idempotency-Key": idempotency_key(cmd.command_id)},
            )
        except DeliveryError as exc:
            if exc.status == 400 and "IdempotentRequestError" in (exc.body or ""):
                return self._already_created(cmd, exc)
            raise
        ticket = self.api.decode(response, "POST", "/api/v2/tickets.json")["ticket"]
        replayed = response.headers.get("x-idempotency-lookup", "").lower() == "hit"
        return int(ticket["id"]), TicketOutcome.unchanged if replayed else TicketOutcome.created

    def _already_created(self, cmd: TicketCommand, exc: DeliveryError
                         ) -> tuple[int, TicketOutcome]:
        """The key was used with another body (settings changed since): the ticket exists."""
        ticket = self.find_ticket(cmd.external_id)
        if ticket is None:
            raise DeliveryError(
                ErrorKind.bad_input,
                f"zendesk: command {cmd.command_id} was already sent with another body and its "
                f"ticket is not found by external_id {cmd.external_id!r}",
                status=exc.status, body=exc.body,
            ) from exc
        log.info("zendesk: idempotency key of %s already used; ticket %s exists",
                 cmd.command_id, ticket["id"])
        return int(ticket["id"]), TicketOutcome.unchanged

    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        ticket_id = int(ticket["id"])
        if ticket.get("status") == "closed":
            # A stale cache may point at a closed ticket whose follow-up ticket already exists.
            current = self.find_ticket(cmd.external_id)
            if current is not None and current.get("status") != "closed" \
                    and int(current["id"]) != ticket_id:
                return self.follow_up(current, cmd)
            return self.create(cmd, followup_of=ticket_id)
        update: dict[str, Any] = {
            "comment": {"body": render_message(cmd, conversation=True), "public": False},
            "safe_update": True,
            "updated_stamp": ticket.get("updated_at"),
        }
        if ticket.get("status") == "solved":
            update["status"] = "open"  # a new message needs an agent again
        self.api.json("PUT", f"/api/v2/tickets/{ticket_id}.json", json={"ticket": update})
        return ticket_id, TicketOutcome.followed_up
