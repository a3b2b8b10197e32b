"""Ticket sink for Zammad (REST API v1, ``Authorization: Token token=...``).

The conversation key is a custom ticket attribute (object manager attribute, default
``porte_voix_external_id``, type text, created once by an admin). Lookup:
``GET /api/v1/tickets/search?query=<attribute>:"<key>"&expand=true``; the key is an
Elasticsearch phrase, so ``\\`` and ``"`` are escaped (:func:`search_query`) and matches are
checked exactly on the client. Zammad indexes a new ticket in a background job, usually within
seconds: within one sink the lookup cache covers that gap.

Create: ``POST /api/v1/tickets`` with ``title``, ``group`` (by name), ``customer_id``
``guess:<e-mail>`` (Zammad finds or creates that customer), ``priority`` by name, ``tags``
(comma-separated), the key attribute and a first ``article`` of type ``note`` with
``internal: true``. Follow-up: ``POST /api/v1/ticket_articles`` with the same type and flag, so
nothing is ever e-mailed to a customer; the marker is looked for in
``GET /api/v1/ticket_articles/by_ticket/{id}``.

Field mapping: ``priority`` 1-2 -> "3 high", 3 -> "2 normal", 4-5 -> "1 low" (Zammad's default
priorities); ``assignee_group`` (else ``queue``) -> group name through ``groups``, else
``default_group``; tags: the command's tags plus ``porte-voix``, ``queue:<queue>`` and
``platform:<platform>`` (commas removed, Zammad splits on them).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.message import render_message
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import RestClient, RestTicketSink
from schemas.models import TicketCommand, TicketOutcome

__all__ = ["PRIORITIES", "ZammadConfig", "ZammadSink", "search_query", "zammad_tags"]

log = logging.getLogger(__name__)

PRIORITIES: dict[int, str] = {1: "3 high", 2: "3 high", 3: "2 normal", 4: "1 low", 5: "1 low"}
_SEARCH_LIMIT = 50


def search_query(attribute: str, key: str) -> str:
    """An exact-phrase Elasticsearch query on the attribute, backslashes and quotes escaped."""
    escaped = key.replace("\\", "\\\\").replace('"', '\\"')
    return f'{attribute}:"{escaped}"'


def zammad_tags(cmd: TicketCommand) -> str:
    """Tags as the comma-separated string the ticket create endpoint splits."""
    tags = [*cmd.tags, "porte-voix", f"queue:{cmd.queue}", f"platform:{cmd.platform.value}"]
    clean = [t.replace(",", " ").strip() for t in tags]
    return ",".join(dict.fromkeys(t for t in clean if t))


class ZammadConfig(BaseSettings):
    """Where the Zammad instance is and how to reach it (env ``PORTE_VOIX_ZAMMAD_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_ZAMMAD_", extra="ignore")

    url: str = Field(default="http://127.0.0.1:3000", description="Zammad base URL.")
    token: SecretStr = Field(default=SecretStr(""), description="Agent access token.")
    groups: dict[str, str] = Field(
        default_factory=dict, description="Queue or group slug -> Zammad group name (JSON)."
    )
    default_group: str = Field(default="Users", description="Group of unmapped queues.")
    customer_email: str = Field(
        default="community@porte-voix.invalid",
        description="Customer of the tickets (social authors have no e-mail).",
    )
    external_id_attribute: str = Field(
        default="porte_voix_external_id",
        description="Ticket object attribute holding the conversation key.",
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


@register_sink
class ZammadSink(RestTicketSink[int]):
    """Deliver TicketCommands to Zammad; every article written is an internal note."""

    name: ClassVar[str] = "zammad"
    config_model: ClassVar[type[BaseSettings]] = ZammadConfig

    def __init__(
        self,
        base_url: str,
        token: SecretStr,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        *,
        groups: Mapping[str, str] | None = None,
        default_group: str = "Users",
        customer_email: str = "community@porte-voix.invalid",
        external_id_attribute: str = "porte_voix_external_id",
        cache_size: int = 10_000,
    ) -> None:
        super().__init__(RestClient(base_url, self._auth_headers, session, timeout,
                                    label=self.name, follow_redirects=True), cache_size)
        self._token = token
        self.groups: dict[str, str] = dict(groups or {})
        self.default_group = default_group
        self.customer_email = customer_email
        self.attribute = external_id_attribute

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> ZammadSink:
        if not isinstance(config, ZammadConfig):
            raise TypeError(f"ZammadSink needs a ZammadConfig, not {type(config).__name__}")
        return cls(config.url, config.token, session=session, timeout=config.timeout_seconds,
                   groups=config.groups, default_group=config.default_group,
                   customer_email=config.customer_email,
                   external_id_attribute=config.external_id_attribute)

    def _auth_headers(self) -> dict[str, str]:
        return {"Authorization": f"Token token={self._token.get_secret_value()}"}

    # --------------------------------------------------------------- reading

    def ticket_url(self, ticket_id: int | str) -> str:
        return f"{self.base_url}/#ticket/zoom/{ticket_id}"

    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        return ticket.get(self.attribute)

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> int:
        return int(ticket["id"])

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        data = self.api.json("GET", f"/api/v1/tickets/{ticket_id}", allow_404=True)
        return None if data is None else dict(data)

    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The conversation's oldest ticket that is not merged away, from the search index."""
        found = self.api.json("GET", "/api/v1/tickets/search", params={
            "query": search_query(self.attribute, external_id), "expand": "true",
            "limit": _SEARCH_LIMIT, "sort_by": "id", "order_by": "asc",
        })
        tickets = [t for t in found or [] if self.external_id_of(t) == external_id]
        live = [t for t in tickets if t.get("state") != "merged"]
        candidates = live or tickets
        return min(candidates, key=lambda t: int(t["id"])) if candidates else None

    def articles(self, ticket_id: int) -> list[dict[str, Any]]:
        """Every article of a ticket, oldest first."""
        return list(self.api.json("GET", f"/api/v1/ticket_articles/by_ticket/{ticket_id}") or [])

    def texts(self, ticket: Mapping[str, Any]) -> list[str]:
        return [str(a.get("body") or "") for a in self.articles(int(ticket["id"]))]

    # --------------------------------------------------------------- writing

    def _group(self, cmd: TicketCommand) -> str:
        for slug in (cmd.assignee_group, cmd.queue):
            if slug and slug in self.groups:
                return self.groups[slug]
        return self.default_group

    def _note(self, cmd: TicketCommand) -> dict[str, Any]:
        return {"subject": cmd.title or cmd.external_id,
                "body": render_message(cmd, conversation=True),
                "type": "note", "internal": True, "content_type": "text/plain"}

    def ticket_payload(self, cmd: TicketCommand) -> dict[str, Any]:
        """The create body: the ticket, its key attribute and its first internal note."""
        return {
            "title": cmd.title or cmd.body[:80] or cmd.external_id,
            "group": self._group(cmd),
            "customer_id": f"guess:{self.customer_email}",
            "priority": PRIORITIES[cmd.priority],
            "tags": zammad_tags(cmd),
            self.attribute: cmd.external_id,
            "article": self._note(cmd),
        }

    def create(self, cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        ticket = self.api.json("POST", "/api/v1/tickets", json=self.ticket_payload(cmd))
        return int(ticket["id"]), TicketOutcome.created

    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        ticket_id = int(ticket["id"])
        self.api.json("POST", "/api/v1/ticket_articles",
                   json={"ticket_id": ticket_id, **self._note(cmd)})
        return ticket_id, TicketOutcome.followed_up
