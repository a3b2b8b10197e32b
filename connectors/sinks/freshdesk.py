"""Ticket sink for Freshdesk (API v2, API key as the basic-auth user).

Lookup: the conversation key lives in a custom text field (``cf_external_id`` by default),
searched with ``GET /api/v2/search/tickets?query="cf_external_id:'<key>'"``: the whole query in
double quotes, string values in single quotes, at most 512 characters. Freshdesk documents no way
to escape a quote inside a value, so a key made of anything but ``[A-Za-z0-9:_.@/-]`` is stored
as ``pv-<sha256 prefix>`` (:func:`stored_key`; the readable key stays in the ticket text).
Matches are checked exactly on the client, as the search may tokenize text.

The search index lags "a few minutes" behind writes, so a miss is confirmed on the list of
tickets updated within ``index_lag_seconds`` (``GET /api/v2/tickets?updated_since=``, read from
the database, newest first): a conversation's second message a minute after its first, or a
command redelivered after a restart, still finds the fresh ticket.

Create: ``POST /api/v2/tickets`` with the requester e-mail (Freshdesk needs one requester
identity), subject, HTML description, ``status`` 2 (open), ``priority``, ``source`` and the key in
``custom_fields``. Follow-up: ``POST /api/v2/tickets/{id}/notes`` with ``private: true``; the
marker is looked for in ``description_text`` and in the ``body_text`` of
``GET /api/v2/tickets/{id}/conversations``.

Field mapping: ``priority`` 1 -> 4 urgent, 2 -> 3 high, 3 -> 2 medium, 4-5 -> 1 low;
``assignee_group`` (else ``queue``) -> ``group_id`` through ``groups`` (unknown: no group, the
account's assignment rules apply); tags: the command's tags plus ``porte-voix``,
``queue:<queue>`` and ``platform:<platform>``.
"""

from __future__ import annotations

import base64
import hashlib
import html
import logging
import re
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.message import render_message
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import RestClient, RestTicketSink
from schemas.models import TicketCommand, TicketOutcome

__all__ = [
    "PRIORITIES",
    "FreshdeskConfig",
    "FreshdeskSink",
    "search_query",
    "stored_key",
    "to_html",
]

log = logging.getLogger(__name__)

PRIORITIES: dict[int, int] = {1: 4, 2: 3, 3: 2, 4: 1, 5: 1}
OPEN = 2
PORTAL = 2
_SAFE_KEY = re.compile(r"[A-Za-z0-9:_.@/-]{1,200}")
_PER_PAGE = 100
_MAX_PAGES = 20
_SEARCH_PAGES = 10  # Freshdesk serves at most 10 pages of 30 results


def stored_key(external_id: str) -> str:
    """The key as stored in the custom field: verbatim when safe inside a quoted query value."""
    if _SAFE_KEY.fullmatch(external_id):
        return external_id
    return "pv-" + hashlib.sha256(external_id.encode()).hexdigest()[:40]


def search_query(field: str, key: str) -> str:
    """The ``query`` parameter finding a stored key (requests URL-encodes it)."""
    if not _SAFE_KEY.fullmatch(key) and not key.startswith("pv-"):
        raise ValueError(f"{key!r} cannot be quoted in a Freshdesk query; use stored_key()")
    return f"\"{field}:'{key}'\""


def to_html(text: str) -> str:
    """Plain text as the HTML Freshdesk expects in descriptions and notes (escaped, <br>)."""
    return html.escape(text).replace("\n", "<br>")


class FreshdeskConfig(BaseSettings):
    """Where the Freshdesk account is and how to reach it (env ``PORTE_VOIX_FRESHDESK_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_FRESHDESK_", extra="ignore")

    domain: str = Field(default="", description="Account domain: <domain>.freshdesk.com.")
    url: str | None = Field(default=None, description="Full base URL; overrides the domain.")
    api_key: SecretStr = Field(default=SecretStr(""), description="Agent API key.")
    groups: dict[str, int] = Field(
        default_factory=dict, description="Queue or group slug -> Freshdesk group id (JSON)."
    )
    requester_email: str = Field(
        default="community@porte-voix.invalid",
        description="Requester of the tickets (social authors have no e-mail).",
    )
    external_id_field: str = Field(
        default="cf_external_id", description="Custom text field holding the conversation key."
    )
    source: int = Field(default=PORTAL, description="Ticket source (2 = portal).")
    index_lag_seconds: float = Field(
        default=900.0, gt=0, description="How far back recent tickets cover the search lag."
    )
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")

    @property
    def base_url(self) -> str:
        if self.url:
            return self.url
        if not self.domain:
            raise ValueError("set PORTE_VOIX_FRESHDESK_DOMAIN or PORTE_VOIX_FRESHDESK_URL")
        return f"https://{self.domain}.freshdesk.com"


@register_sink
class FreshdeskSink(RestTicketSink[int]):
    """Deliver TicketCommands to Freshdesk; follow-ups are private notes."""

    name: ClassVar[str] = "freshdesk"
    config_model: ClassVar[type[BaseSettings]] = FreshdeskConfig

    def __init__(
        self,
        base_url: str,
        api_key: SecretStr,
        session: requests.Session | None = None,
        timeout: float = 10.0,
        *,
        groups: Mapping[str, int] | None = None,
        requester_email: str = "community@porte-voix.invalid",
        external_id_field: str = "cf_external_id",
        source: int = PORTAL,
        index_lag_seconds: float = 900.0,
        cache_size: int = 10_000,
    ) -> None:
        super().__init__(RestClient(base_url, self._auth_headers, session, timeout,
                                    label=self.name, follow_redirects=True), cache_size)
        self._api_key = api_key
        self.groups: dict[str, int] = dict(groups or {})
        self.requester_email = requester_email
        self.field = external_id_field
        self.source = source
        self.index_lag = timedelta(seconds=index_lag_seconds)

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> FreshdeskSink:
        if not isinstance(config, FreshdeskConfig):
            raise TypeError(f"FreshdeskSink needs a FreshdeskConfig, not {type(config).__name__}")
        return cls(config.base_url, config.api_key, session=session,
                   timeout=config.timeout_seconds, groups=config.groups,
                   requester_email=config.requester_email,
                   external_id_field=config.external_id_field, source=config.source,
                   index_lag_seconds=config.index_lag_seconds)

    def _auth_headers(self) -> dict[str, str]:
        pair = f"{self._api_key.get_secret_value()}:X".encode()
        return {"Authorization": "Basic " + base64.b64encode(pair).decode("ascii")}

    # --------------------------------------------------------------- reading

    def ticket_url(self, ticket_id: int | str) -> str:
        return f"{self.base_url}/a/tickets/{ticket_id}"

    def stored_key(self, external_id: str) -> str:
        return stored_key(external_id)

    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        return (ticket.get("custom_fields") or {}).get(self.field)

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> int:
        return int(ticket["id"])

    def get_ticket(self, ticket_id: int) -> dict[str, Any] | None:
        data = self.api.json("GET", f"/api/v2/tickets/{ticket_id}", allow_404=True)
        return None if data is None else dict(data)

    def search(self, key: str) -> list[dict[str, Any]]:
        """Tickets the search index has with this stored key (exact match checked here)."""
        found: list[dict[str, Any]] = []
        for page in range(1, _SEARCH_PAGES + 1):
            data = self.api.json("GET", "/api/v2/search/tickets",
                              params={"query": search_query(self.field, key), "page": page})
            results = data.get("results", [])
            found.extend(t for t in results if self.external_id_of(t) == key)
            if len(results) < 30 or len(found) >= data.get("total", 0):
                break
        return found

    def recent(self, key: str) -> list[dict[str, Any]]:
        """Tickets updated within the index lag carrying the key (the list reads the database)."""
        since = (datetime.now(UTC) - self.index_lag).strftime("%Y-%m-%dT%H:%M:%SZ")
        params: dict[str, Any] = {"updated_since": since, "order_by": "created_at",
                                  "order_type": "desc", "per_page": _PER_PAGE}
        found: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            params["page"] = page
            response = self.api.send("GET", "/api/v2/tickets", params=params)
            tickets = self.api.decode(response, "GET", "/api/v2/tickets")
            found.extend(t for t in tickets if self.external_id_of(t) == key)
            if "next" not in response.links:
                break
        return found

    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The conversation's first ticket: from the search index, else from recent tickets."""
        key = self.stored_key(external_id)
        matches = self.search(key) or self.recent(key)
        if not matches:
            return None
        first = min(matches, key=lambda t: int(t["id"]))
        return self.get_ticket(int(first["id"])) or first

    def conversations(self, ticket_id: int) -> list[dict[str, Any]]:
        """Replies and notes of a ticket, oldest first."""
        out: list[dict[str, Any]] = []
        for page in range(1, _MAX_PAGES + 1):
            path = f"/api/v2/tickets/{ticket_id}/conversations"
            response = self.api.send("GET", path, params={"page": page, "per_page": _PER_PAGE})
            out.extend(self.api.decode(response, "GET", path))
            if "next" not in response.links:
                break
        return out

    def texts(self, ticket: Mapping[str, Any]) -> list[str]:
        notes = self.conversations(int(ticket["id"]))
        return [str(ticket.get("description_text") or ""),
                *(str(n.get("body_text") or "") for n in notes)]

    # --------------------------------------------------------------- writing

    def _group_id(self, cmd: TicketCommand) -> int | None:
        for slug in (cmd.assignee_group, cmd.queue):
            if slug and slug in self.groups:
                return self.groups[slug]
        return None

    def ticket_payload(self, cmd: TicketCommand) -> dict[str, Any]:
        """The create body (Freshdesk's required fields plus the conversation key)."""
        tags = [*cmd.tags, "porte-voix", f"queue:{cmd.queue}", f"platform:{cmd.platform.value}"]
        payload: dict[str, Any] = {
            "email": self.requester_email,
            "subject": cmd.title or cmd.body[:80] or cmd.external_id,
            "description": to_html(render_message(cmd, conversation=True)),
            "status": OPEN,
            "priority": PRIORITIES[cmd.priority],
            "source": self.source,
            "tags": list(dict.fromkeys(tags)),
            "custom_fields": {self.field: self.stored_key(cmd.external_id)},
        }
        group_id = self._group_id(cmd)
        if group_id is not None:
            payload["group_id"] = group_id
        return payload

    def create(self, cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        ticket = self.api.json("POST", "/api/v2/tickets", json=self.ticket_payload(cmd))
        return int(ticket["id"]), TicketOutcome.created

    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[int, TicketOutcome]:
        ticket_id = int(ticket["id"])
        self.api.json("POST", f"/api/v2/tickets/{ticket_id}/notes",
                      json={"body": to_html(render_message(cmd, conversation=True)),
                            "private": True})
        return ticket_id, TicketOutcome.followed_up
