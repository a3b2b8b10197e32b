"""Ticket sink for HubSpot (CRM v3 objects API, private-app token): one ticket per conversation.

HubSpot is the source of truth. The conversation key lives in the custom ticket property
``porte_voix_external_id``, which should be created with ``hasUniqueValue: true``:

1. search the ticket by that property (``POST /crm/v3/objects/tickets/search``, filter ``EQ``);
   a cached ticket id is read directly instead and verified;
2. none -> create it (``POST /crm/v3/objects/tickets``). Search is eventually consistent (a
   ticket created seconds ago may not be found yet); with a unique property HubSpot refuses the
   second create with 409, and the sink reads the existing ticket by the property
   (``GET /crm/v3/objects/tickets/<value>?idProperty=...``, a consistent read) instead;
3. found -> the message becomes a note associated to the ticket (``POST /crm/v3/objects/notes``
   with the HUBSPOT_DEFINED note-to-ticket association, type 228), unless the ticket's
   description or one of its notes already ends with the command's marker (``unchanged``).
   Notes are listed with the v4 associations API and read in batches of 100.

A follow-up on a ticket in a closed stage moves it back to ``reopen_stage``. Rate limits: HubSpot
answers 429 with ``X-HubSpot-RateLimit-*`` headers and often no Retry-After; the delay is then
the rolling window (``X-HubSpot-RateLimit-Interval-Milliseconds``).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.base import DeliveryError
from connectors.sinks.message import html_to_lines, lines_to_html, render_message
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import RestClient, RestTicketSink
from schemas.models import ErrorKind, TicketCommand, TicketOutcome

__all__ = ["NOTE_TO_TICKET", "HubSpotConfig", "HubSpotSink", "hubspot_priority"]

log = logging.getLogger(__name__)

NOTE_TO_TICKET = 228  # HUBSPOT_DEFINED association type id, note -> ticket
_TEXT_LIMIT = 65_536  # hs_note_body and ticket content are limited to 65,536 characters
_BATCH_READ = 100
_ASSOCIATION_PAGE = 500
_TICKET_PROPERTIES = ("subject", "content", "hs_pipeline", "hs_pipeline_stage")


def hubspot_priority(priority: int) -> str:
    """TicketCommand priority (1 critical .. 5 very low) -> ``hs_ticket_priority``."""
    if priority <= 1:
        return "URGENT"
    if priority == 2:
        return "HIGH"
    if priority == 3:
        return "MEDIUM"
    return "LOW"


def _note_html(cmd: TicketCommand) -> str:
    """The note body as escaped HTML paragraphs, cut so that the HTML fits HubSpot's limit."""
    limit = _TEXT_LIMIT
    body = lines_to_html(render_message(cmd, limit))
    while len(body) > _TEXT_LIMIT:  # escaping grew the text: cut the plain text further
        limit = max(200, limit * _TEXT_LIMIT // len(body) - 64)
        body = lines_to_html(render_message(cmd, limit))
    return body


class HubSpotConfig(BaseSettings):
    """Where HubSpot is and how tickets are filed (env ``PORTE_VOIX_HUBSPOT_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_HUBSPOT_", extra="ignore")

    url: str = Field(default="https://api.hubapi.com", description="API base URL.")
    token: SecretStr = Field(default=SecretStr(""), description="Private-app access token.")
    portal_id: str | None = Field(default=None, description="Account id, for ticket links.")
    app_url: str = Field(default="https://app.hubspot.com", description="Web app base URL.")
    pipeline: str = Field(default="0", description="hs_pipeline of new tickets.")
    pipeline_stage: str = Field(default="1", description="hs_pipeline_stage of new tickets.")
    closed_stages: list[str] = Field(default_factory=lambda: ["4"],
                                     description="Stages a follow-up reopens.")
    reopen_stage: str | None = Field(default="1", description="Stage of a reopened ticket.")
    external_id_property: str = Field(default="porte_voix_external_id", description=(
        "Custom ticket property (hasUniqueValue) holding the conversation key."))
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class _HubSpotApi(RestClient):
    def retry_after(self, response: requests.Response) -> float | None:
        """Retry-After when sent, else the rolling window when its budget is spent."""
        after = super().retry_after(response)
        if after is not None or response.status_code != 429:
            return after
        interval = response.headers.get("X-HubSpot-RateLimit-Interval-Milliseconds", "")
        remaining = response.headers.get("X-HubSpot-RateLimit-Remaining")
        if interval.isdigit() and remaining in (None, "0"):
            return int(interval) / 1000.0
        return None


@register_sink
class HubSpotSink(RestTicketSink[str]):
    """Deliver TicketCommands to HubSpot tickets, notes for follow-ups, each message once."""

    name: ClassVar[str] = "hubspot"
    config_model: ClassVar[type[BaseSettings]] = HubSpotConfig

    def __init__(self, config: HubSpotConfig, session: requests.Session | None = None,
                 *, cache_size: int = 10_000) -> None:
        self.config = config
        super().__init__(_HubSpotApi(
            config.url,
            {"Authorization": f"Bearer {config.token.get_secret_value()}"},
            session, config.timeout_seconds, label="hubspot",
        ), cache_size)

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> HubSpotSink:
        if not isinstance(config, HubSpotConfig):
            raise TypeError(f"HubSpotSink needs a HubSpotConfig, not {type(config).__name__}")
        return cls(config, session)

    def __repr__(self) -> str:
        return f"HubSpotSink(url={self.api.base_url!r})"

    # ------------------------------------------------------------------ reading

    @property
    def _properties(self) -> list[str]:
        return [*_TICKET_PROPERTIES, self.config.external_id_property]

    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        """The oldest ticket whose external id property equals ``external_id`` (search index)."""
        body = {
            "filterGroups": [{"filters": [{
                "propertyName": self.config.external_id_property,
                "operator": "EQ",
                "value": external_id,
            }]}],
            "properties": self._properties,
            "sorts": [{"propertyName": "createdate", "direction": "ASCENDING"}],
            "limit": 10,
        }
        data = self.api.json("POST", "/crm/v3/objects/tickets/search", json=body)
        results = [t for t in data.get("results", [])
                   if t.get("properties", {}).get(self.config.external_id_property)
                   == external_id]
        return results[0] if results else None

    def get_ticket(self, ticket_id: str, *, by_external_id: bool = False) -> dict[str, Any] | None:
        """One ticket read directly (consistent), by id or by the unique external id property."""
        params: dict[str, str] = {"properties": ",".join(self._properties)}
        if by_external_id:
            params["idProperty"] = self.config.external_id_property
        response = self.api.send("GET", f"/crm/v3/objects/tickets/{quote(ticket_id, safe='')}",
                                 params=params, accept=(404,))
        return None if response.status_code == 404 else dict(response.json())

    def note_ids(self, ticket_id: str) -> list[str]:
        """Ids of the notes associated to a ticket (v4 associations, paged)."""
        ids: list[str] = []
        after: str | None = None
        while True:
            params: dict[str, Any] = {"limit": _ASSOCIATION_PAGE}
            if after:
                params["after"] = after
            data = self.api.json("GET", f"/crm/v4/objects/tickets/{ticket_id}/associations/notes",
                                 params=params)
            ids.extend(str(r["toObjectId"]) for r in data.get("results", []))
            after = (data.get("paging") or {}).get("next", {}).get("after")
            if not after:
                return ids

    def note_bodies(self, ticket_id: str) -> list[str]:
        """The ``hs_note_body`` of every note of a ticket."""
        ids = self.note_ids(ticket_id)
        bodies: list[str] = []
        for start in range(0, len(ids), _BATCH_READ):
            data = self.api.json("POST", "/crm/v3/objects/notes/batch/read", json={
                "properties": ["hs_note_body"],
                "inputs": [{"id": i} for i in ids[start:start + _BATCH_READ]],
            })
            bodies.extend(str(r.get("properties", {}).get("hs_note_body") or "")
                          for r in data.get("results", []))
        return bodies

    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        return ticket.get("properties", {}).get(self.config.external_id_property)

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> str:
        return str(ticket["id"])

    def texts(self, ticket: Mapping[str, Any]) -> Iterator[str]:
        """The ticket's content, then its notes as text (read only when the content lacks it)."""
        yield str(ticket.get("properties", {}).get("content") or "")
        for body in self.note_bodies(str(ticket["id"])):
            yield "\n".join(html_to_lines(body))

    # ------------------------------------------------------------------ writing

    def ticket_url(self, ticket_id: str) -> str | None:
        if not self.config.portal_id:
            return None
        app = self.config.app_url.rstrip("/")
        return f"{app}/contacts/{self.config.portal_id}/ticket/{ticket_id}"

    def _create(self, cmd: TicketCommand) -> dict[str, Any] | None:
        """Create the ticket; None when HubSpot says it exists already (409, unique property)."""
        properties = {
            "subject": (cmd.title or cmd.body[:80] or cmd.external_id)[:255],
            "content": render_message(cmd, _TEXT_LIMIT),
            "hs_pipeline": self.config.pipeline,
            "hs_pipeline_stage": self.config.pipeline_stage,
            "hs_ticket_priority": hubspot_priority(cmd.priority),
            self.config.external_id_property: cmd.external_id,
        }
        response = self.api.send("POST", "/crm/v3/objects/tickets",
                                 json={"properties": properties}, accept=(409,))
        if response.status_code == 409:
            return None
        return dict(response.json())

    def create(self, cmd: TicketCommand) -> tuple[str, TicketOutcome]:
        """Create the ticket; when HubSpot says it exists (409), follow it up instead."""
        created = self._create(cmd)
        if created is not None:
            return str(created["id"]), TicketOutcome.created
        # Not in the search index yet, but it exists: read it by the unique property.
        ticket = self.get_ticket(cmd.external_id, by_external_id=True)
        if ticket is None:
            raise DeliveryError(
                ErrorKind.retriable,
                f"hubspot refused a duplicate ticket for {cmd.external_id} but cannot find it",
                status=409,
            )
        return self.follow_up(ticket, cmd)

    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[str, TicketOutcome]:
        """The message as a note associated to the ticket; a closed ticket is reopened."""
        ticket_id = str(ticket["id"])
        self.api.json("POST", "/crm/v3/objects/notes", json={
            "properties": {
                "hs_note_body": _note_html(cmd),
                "hs_timestamp": cmd.created_at.astimezone(UTC).isoformat(
                    timespec="milliseconds").replace("+00:00", "Z"),
            },
            "associations": [{
                "to": {"id": ticket_id},
                "types": [{"associationCategory": "HUBSPOT_DEFINED",
                           "associationTypeId": NOTE_TO_TICKET}],
            }],
        })
        stage = ticket.get("properties", {}).get("hs_pipeline_stage")
        if self.config.reopen_stage and stage in self.config.closed_stages:
            self.api.json("PATCH", f"/crm/v3/objects/tickets/{ticket_id}",
                          json={"properties": {"hs_pipeline_stage": self.config.reopen_stage}})
        return ticket_id, TicketOutcome.followed_up
