"""Ticket sink for Salesforce Cases (REST API, OAuth bearer token): one Case per conversation.

Salesforce is the source of truth. The conversation key lives in the Case's External ID field
``PorteVoix_External_Id__c`` (Text, External ID, Unique):

1. once per sink, ``describe`` checks the field exists and is an External ID (otherwise every
   command would fail the same way: fatal, with the reason);
2. the Case is read by the field (``GET /sobjects/Case/<field>/<value>``), or by a cached Id,
   verified;
3. none -> upsert by the field (``PATCH /sobjects/Case/<field>/<value>``): 201 created. A 200
   means another writer created it between our read and our write; the upsert then updated that
   Case with this message, which is reported as ``updated``. The Case is never upserted when it
   is known to exist, because an upsert overwrites Subject, Description and Priority an agent may
   have changed;
4. found -> the message becomes a private CaseComment (``IsPublished: false``: it comes from the
   community member, not from an agent), unless the Case's Description or one of its comments
   (read with SOQL, every page) already ends with the command's marker (``unchanged``).

Two Cases with the same external id (300 Multiple Choices) are ``bad_input``, not fatal: the data
of *one* conversation is inconsistent in the CRM (the field is not marked Unique, or Cases were
imported twice). Stopping the worker would block every other conversation for it; the dead
letter keeps the command to replay once an administrator merged the Cases.

Salesforce answers 403 ``REQUEST_LIMIT_EXCEEDED`` when the org's API limit (rolling 24 h) or its
concurrent request limit is spent. The shared status table maps 403 to fatal (a permission
problem); :meth:`_SalesforceApi.error_kind` overrides it for that error code only, as retriable
after ``limit_retry_seconds`` (Salesforce sends no Retry-After).
"""

from __future__ import annotations

import json as jsonlib
import logging
import re
from collections.abc import Iterator, Mapping
from typing import Any, ClassVar
from urllib.parse import quote

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.base import DeliveryError
from connectors.sinks.message import render_message
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import BODY_EXCERPT, RestClient, RestTicketSink
from schemas.models import ErrorKind, TicketCommand, TicketOutcome, TicketResult

__all__ = [
    "SalesforceConfig",
    "SalesforceSink",
    "error_codes",
    "salesforce_priority",
]

log = logging.getLogger(__name__)

_COMMENT_LIMIT = 4_000  # CaseComment.CommentBody
_DESCRIPTION_LIMIT = 32_000  # Case.Description (long text area)
_ID = re.compile(r"^[a-zA-Z0-9]{15}(?:[a-zA-Z0-9]{3})?$")
_LIMIT_CODES = frozenset({"REQUEST_LIMIT_EXCEEDED"})


def salesforce_priority(priority: int) -> str:
    """TicketCommand priority (1 critical .. 5 very low) -> the default Case Priority picklist."""
    if priority <= 2:
        return "High"
    if priority == 3:
        return "Medium"
    return "Low"


def error_codes(body: str) -> list[str]:
    """The ``errorCode`` values of a Salesforce error answer (a JSON array of errors)."""
    try:
        data = jsonlib.loads(body)
    except ValueError:
        return []
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        return []
    return [str(e["errorCode"]) for e in data if isinstance(e, dict) and "errorCode" in e]


class SalesforceConfig(BaseSettings):
    """Which org and how Cases are filed (env ``PORTE_VOIX_SALESFORCE_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_SALESFORCE_", extra="ignore")

    instance_url: str = Field(default="https://example.my.salesforce.com",
                              description="The org's My Domain URL (OAuth instance_url).")
    access_token: SecretStr = Field(default=SecretStr(""), description="OAuth access token.")
    api_version: str = Field(default="60.0", pattern=r"^\d+\.\d$",
                             description="REST API version (vXX.X).")
    external_id_field: str = Field(default="PorteVoix_External_Id__c", description=(
        "Case field (Text, External ID, Unique) holding the conversation key."))
    origin: str = Field(default="Web", description="Case Origin picklist value.")
    status: str = Field(default="New", description="Status of a new Case.")
    reopen_status: str | None = Field(default="New", description="Status a follow-up reopens to.")
    limit_retry_seconds: float = Field(default=60.0, ge=0,
                                       description="Wait after REQUEST_LIMIT_EXCEEDED.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class _SalesforceApi(RestClient):
    """Salesforce's answers, sorted: 403 REQUEST_LIMIT_EXCEEDED is a rate limit, not a refusal."""

    def __init__(self, *args: Any, limit_retry_seconds: float, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.limit_retry_seconds = limit_retry_seconds

    def _is_limit(self, response: requests.Response) -> bool:
        return response.status_code == 403 and bool(
            _LIMIT_CODES & set(error_codes(response.text[:BODY_EXCERPT * 4])))

    def error_kind(self, response: requests.Response) -> ErrorKind:
        if self._is_limit(response):
            return ErrorKind.retriable  # the shared table says fatal for 403: see module doc
        return super().error_kind(response)

    def retry_after(self, response: requests.Response) -> float | None:
        after = super().retry_after(response)
        if after is None and self._is_limit(response):
            return self.limit_retry_seconds
        return after


@register_sink
class SalesforceSink(RestTicketSink[str]):
    """Deliver TicketCommands to Salesforce Cases, CaseComments for follow-ups, each once."""

    name: ClassVar[str] = "salesforce"
    config_model: ClassVar[type[BaseSettings]] = SalesforceConfig

    def __init__(self, config: SalesforceConfig, session: requests.Session | None = None,
                 *, cache_size: int = 10_000) -> None:
        self.config = config
        super().__init__(_SalesforceApi(
            config.instance_url,
            {"Authorization": f"Bearer {config.access_token.get_secret_value()}"},
            session, config.timeout_seconds, label="salesforce",
            limit_retry_seconds=config.limit_retry_seconds,
        ), cache_size)
        self._field_checked = False

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> SalesforceSink:
        if not isinstance(config, SalesforceConfig):
            raise TypeError(
                f"SalesforceSink needs a SalesforceConfig, not {type(config).__name__}")
        return cls(config, session)

    def __repr__(self) -> str:
        return f"SalesforceSink(instance_url={self.api.base_url!r})"

    @property
    def _data(self) -> str:
        return f"/services/data/v{self.config.api_version}"

    @property
    def _fields(self) -> str:
        return f"Id,CaseNumber,Description,IsClosed,Status,{self.config.external_id_field}"

    def _by_external_id(self, external_id: str) -> str:
        return (f"{self._data}/sobjects/Case/{self.config.external_id_field}/"
                f"{quote(external_id, safe='')}")

    # ------------------------------------------------------------------ reading

    def check_field(self) -> None:
        """Fail fatally, once, when the external id field is missing or not an External ID."""
        if self._field_checked:
            return
        data = self.api.json("GET", f"{self._data}/sobjects/Case/describe")
        fields = {f.get("name"): f for f in data.get("fields", [])}
        field = fields.get(self.config.external_id_field)
        if field is None or not field.get("externalId"):
            raise DeliveryError(
                ErrorKind.fatal,
                f"Case has no External ID field {self.config.external_id_field!r}: create it "
                "(Text, External ID, Unique) or set PORTE_VOIX_SALESFORCE_EXTERNAL_ID_FIELD",
            )
        if not field.get("unique"):
            log.warning("%s is not Unique: two Cases of one conversation become possible",
                        self.config.external_id_field)
        self._field_checked = True

    def _ambiguous(self, response: requests.Response, external_id: str) -> DeliveryError:
        try:
            matches = [str(u).rsplit("/", 1)[-1] for u in response.json()]
        except (ValueError, TypeError):
            matches = []
        return DeliveryError(
            ErrorKind.bad_input,
            f"{len(matches) or 'several'} Cases share {self.config.external_id_field}="
            f"{external_id!r} ({', '.join(matches)}): merge them, then replay this command",
            status=300, body=response.text[:BODY_EXCERPT],
        )

    def find_case(self, external_id: str) -> dict[str, Any] | None:
        """The Case of a conversation by its external id; raises bad_input when ambiguous."""
        response = self.api.send("GET", self._by_external_id(external_id),
                                 params={"fields": self._fields}, accept=(300, 404))
        if response.status_code == 404:
            return None
        if response.status_code == 300:
            raise self._ambiguous(response, external_id)
        return dict(response.json())

    def get_ticket(self, case_id: str) -> dict[str, Any] | None:
        response = self.api.send("GET", f"{self._data}/sobjects/Case/{case_id}",
                                 params={"fields": self._fields}, accept=(404,))
        return None if response.status_code == 404 else dict(response.json())

    def comments(self, case_id: str) -> list[str]:
        """Every CommentBody of a Case, oldest first, following ``nextRecordsUrl`` pages."""
        if not _ID.match(case_id):
            raise DeliveryError(ErrorKind.fatal, f"not a Salesforce Id: {case_id!r}")
        soql = (f"SELECT Id, CommentBody FROM CaseComment WHERE ParentId = '{case_id}' "
                "ORDER BY CreatedDate")
        data = self.api.json("GET", f"{self._data}/query", params={"q": soql})
        bodies: list[str] = []
        while True:
            bodies.extend(str(r.get("CommentBody") or "") for r in data.get("records", []))
            next_url = data.get("nextRecordsUrl")
            if data.get("done", True) or not next_url:
                return bodies
            data = self.api.json("GET", str(next_url))

    def find_ticket(self, external_id: str) -> dict[str, Any] | None:
        return self.find_case(external_id)

    def external_id_of(self, ticket: Mapping[str, Any]) -> str | None:
        return ticket.get(self.config.external_id_field)

    def ticket_id_of(self, ticket: Mapping[str, Any]) -> str:
        return str(ticket["Id"])

    def texts(self, ticket: Mapping[str, Any]) -> Iterator[str]:
        """The Case's Description, then its comments (read only when the Description lacks it)."""
        yield str(ticket.get("Description") or "")
        yield from self.comments(str(ticket["Id"]))

    # ------------------------------------------------------------------ writing

    def ticket_url(self, case_id: str) -> str:
        return f"{self.api.base_url}/lightning/r/Case/{case_id}/view"

    def _upsert(self, cmd: TicketCommand) -> tuple[str, bool]:
        """Create the Case by its external id; (Id, created) where created is False on 200."""
        response = self.api.send("PATCH", self._by_external_id(cmd.external_id), json={
            "Subject": (cmd.title or cmd.body[:80] or cmd.external_id)[:255],
            "Description": render_message(cmd, _DESCRIPTION_LIMIT),
            "Origin": self.config.origin,
            "Status": self.config.status,
            "Priority": salesforce_priority(cmd.priority),
        }, accept=(300,))
        if response.status_code == 300:
            raise self._ambiguous(response, cmd.external_id)
        data = response.json()
        return str(data["id"]), response.status_code == 201

    def create(self, cmd: TicketCommand) -> tuple[str, TicketOutcome]:
        case_id, created = self._upsert(cmd)
        return case_id, TicketOutcome.created if created else TicketOutcome.updated

    def append(self, ticket: Mapping[str, Any], cmd: TicketCommand) -> tuple[str, TicketOutcome]:
        """The message as a private CaseComment; a closed Case is reopened."""
        case_id = str(ticket["Id"])
        self.api.json("POST", f"{self._data}/sobjects/CaseComment", json={
            "ParentId": case_id,
            "CommentBody": render_message(cmd, _COMMENT_LIMIT),
            "IsPublished": False,
        })
        if ticket.get("IsClosed") and self.config.reopen_status:
            self.api.send("PATCH", f"{self._data}/sobjects/Case/{case_id}",
                          json={"Status": self.config.reopen_status})
        return case_id, TicketOutcome.followed_up

    def deliver(self, cmd: TicketCommand) -> TicketResult:
        """Check the external id field once, then create the Case or comment on it, once."""
        self.check_field()
        return super().deliver(cmd)
