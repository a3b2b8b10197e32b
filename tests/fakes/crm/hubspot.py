"""A local HubSpot CRM API enforcing what the sink depends on, as HubSpot documents it.

- Private-app bearer token, else 401 ``INVALID_AUTHENTICATION``.
- Tickets: ``subject`` and ``hs_pipeline_stage`` required, the stage must belong to the pipeline,
  ``hs_ticket_priority`` in LOW/MEDIUM/HIGH/URGENT, unknown properties refused, texts up to
  65,536 characters (400 ``VALIDATION_ERROR`` with ``errors[].context.propertyName``).
- ``porte_voix_external_id`` has ``hasUniqueValue``: a second ticket with the same value is
  refused with 409 ``CONFLICT`` and the ticket can be read by it (``?idProperty=``).
  ``unique_external_id = False`` models a portal where the property was created without it.
- Search: filterGroups/filters/operators checked, limit <= 200, sorted; tickets created less than
  ``search_lag_s`` ago are not in the index yet (HubSpot's search is eventually consistent).
- Notes: ``hs_timestamp`` required; associations must be HUBSPOT_DEFINED type 228 (note ->
  ticket) to an existing ticket. v4 association listing (paged), notes batch read (<= 100).
- Rate limits: after the budget, 429 ``RATE_LIMIT`` with ``X-HubSpot-RateLimit-*`` headers
  (Retry-After only when asked); ``fail_next`` injects any answer.
"""

from __future__ import annotations

import itertools
import secrets
import time
import uuid
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr

from connectors.sinks.base import TicketSink
from connectors.sinks.hubspot import HubSpotConfig, HubSpotSink
from connectors.sinks.message import html_to_lines
from tests.fakes.base import Answer, FakeApi, Request, bearer
from tests.fakes.crm import FakeTicket, register_fake

TEXT_LIMIT = 65_536
PRIORITIES = {"LOW", "MEDIUM", "HIGH", "URGENT"}
PIPELINES = {"0": {"1", "2", "3", "4"}}
TICKET_PROPERTIES = {"subject", "content", "hs_pipeline", "hs_pipeline_stage",
                     "hs_ticket_priority", "hubspot_owner_id", "source_type",
                     "porte_voix_external_id"}
NOTE_PROPERTIES = {"hs_note_body", "hs_timestamp", "hubspot_owner_id", "hs_attachment_ids"}
OPERATORS = {"EQ", "NEQ", "LT", "LTE", "GT", "GTE", "HAS_PROPERTY", "NOT_HAS_PROPERTY",
             "CONTAINS_TOKEN", "NOT_CONTAINS_TOKEN", "IN", "NOT_IN", "BETWEEN"}
NOTE_TO_TICKET = 228
TICKET_TO_NOTE = 227


def _error(status: int, category: str, message: str, errors: list[dict[str, Any]] | None = None,
           **extra: Any) -> Answer:
    body: dict[str, Any] = {"status": "error", "message": message,
                            "correlationId": str(uuid.uuid4()), "category": category, **extra}
    if errors is not None:
        body["errors"] = errors
    return Answer(status, body)


def _invalid(prop: str, message: str, code: str = "INVALID_OPTION") -> Answer:
    return _error(400, "VALIDATION_ERROR", f"Property values were not valid: {message}",
                  [{"message": message, "code": code, "context": {"propertyName": [prop]}}])


def _now_iso() -> str:
    return time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime())


class FakeHubSpot(FakeApi):
    name = "hubspot"

    def __init__(self, *, unique_external_id: bool = True, search_lag_s: float = 0.0) -> None:
        super().__init__()
        self.token = f"pat-na1-{uuid.uuid4()}"
        self.portal_id = "4242"
        self.unique_external_id = unique_external_id
        self.search_lag_s = search_lag_s
        self.tickets_by_id: dict[str, dict[str, Any]] = {}
        self.notes_by_id: dict[str, dict[str, Any]] = {}
        self.note_links: list[tuple[str, str]] = []  # (note id, ticket id), in creation order
        self._ids = itertools.count(1001)
        self._created_at: dict[str, float] = {}
        self.route("POST", "/crm/v3/objects/tickets/search", self._search)
        self.route("POST", "/crm/v3/objects/tickets", self._create_ticket)
        self.route("GET", "/crm/v3/objects/tickets/{ticket_id}", self._get_ticket)
        self.route("PATCH", "/crm/v3/objects/tickets/{ticket_id}", self._patch_ticket)
        self.route("POST", "/crm/v3/objects/notes", self._create_note)
        self.route("POST", "/crm/v3/objects/notes/batch/read", self._read_notes)
        self.route("GET", "/crm/v4/objects/tickets/{ticket_id}/associations/notes",
                   self._ticket_notes)

    # ---------------------------------------------------------------- protocol

    def sink(self) -> TicketSink:
        return HubSpotSink(HubSpotConfig(url=self.url, token=SecretStr(self.token),
                                         portal_id=self.portal_id))

    def sink_with_bad_credentials(self) -> TicketSink:
        return HubSpotSink(HubSpotConfig(url=self.url, token=SecretStr("pat-na1-revoked")))

    def tickets(self) -> list[FakeTicket]:
        with self._lock:
            out = []
            for ticket_id, ticket in self.tickets_by_id.items():
                notes = [self.notes_by_id[n] for n, t in self.note_links if t == ticket_id]
                messages = [ticket["properties"].get("content") or ""] + [
                    "\n".join(html_to_lines(n["properties"].get("hs_note_body") or ""))
                    for n in notes]
                out.append(FakeTicket(ticket["properties"].get("porte_voix_external_id") or "",
                                      messages))
            return out

    # ------------------------------------------------------------------- rules

    def authorized(self, request: Request) -> bool:
        return bearer(request) == self.token

    def unauthorized(self) -> Answer:
        return _error(401, "INVALID_AUTHENTICATION",
                      "Authentication credentials not found. This API supports OAuth 2.0 "
                      "authentication and you can find more details at "
                      "https://developers.hubspot.com/docs/methods/auth/oauth-overview")

    def throttled(self) -> Answer:
        answer = _error(429, "RATE_LIMITS", "You have reached your ten_secondly_rolling limit.",
                        errorType="RATE_LIMIT", policyName="TEN_SECONDLY_ROLLING")
        answer.headers = {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                          "X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "0"}
        if self._retry_after:
            answer.headers["Retry-After"] = self._retry_after
        return answer

    def not_found(self, request: Request | None = None) -> Answer:
        return _error(404, "OBJECT_NOT_FOUND", "resource not found")

    def malformed(self, exc: Exception) -> Answer:
        return _error(400, "VALIDATION_ERROR", f"Invalid input JSON on line 1: {exc}")

    def common_headers(self) -> dict[str, str]:
        return {"X-HubSpot-RateLimit-Interval-Milliseconds": "10000",
                "X-HubSpot-RateLimit-Max": "100", "X-HubSpot-RateLimit-Remaining": "99"}

    # ----------------------------------------------------------------- helpers

    def _object(self, object_id: str, properties: dict[str, Any],
                wanted: list[str] | None) -> dict[str, Any]:
        shown = {k: v for k, v in properties.items() if wanted is None or k in wanted}
        shown["hs_object_id"] = object_id
        return {"id": object_id, "properties": shown, "createdAt": properties["createdate"],
                "updatedAt": properties["hs_lastmodifieddate"], "archived": False}

    def _check_properties(self, properties: Any, allowed: set[str]) -> Answer | None:
        if not isinstance(properties, dict):
            return _error(400, "VALIDATION_ERROR", "Invalid input JSON: properties")
        for name, value in properties.items():
            if name not in allowed:
                return _invalid(name, f'Property "{name}" does not exist', "PROPERTY_DOESNT_EXIST")
            if not isinstance(value, str | int | float | bool) and value is not None:
                return _invalid(name, f"{name} must be a string", "INVALID_STRING")
            if isinstance(value, str) and len(value) > TEXT_LIMIT:
                return _invalid(name, f"{name} is longer than {TEXT_LIMIT} characters",
                                "INVALID_LENGTH")
        return None

    def add_ticket(self, external_id: str | None, subject: str = "planted") -> str:
        """Put a ticket in the portal directly (duplicates when the property is not unique)."""
        with self._lock:
            return self._store_ticket({"subject": subject, "hs_pipeline": "0",
                                       "hs_pipeline_stage": "1",
                                       "porte_voix_external_id": external_id})

    def _store_ticket(self, properties: dict[str, Any]) -> str:
        ticket_id = str(next(self._ids))
        now = _now_iso()
        self.tickets_by_id[ticket_id] = {"properties": {
            **{k: (str(v) if v is not None else None) for k, v in properties.items()},
            "createdate": now, "hs_lastmodifieddate": now}}
        self._created_at[ticket_id] = time.monotonic()
        return ticket_id

    def _indexed(self, ticket_id: str) -> bool:
        return time.monotonic() - self._created_at[ticket_id] >= self.search_lag_s

    # --------------------------------------------------------------- endpoints

    def _search(self, request: Request) -> Answer:
        body = request.json() or {}
        groups = body.get("filterGroups") or []
        if len(groups) > 5 or any(len(g.get("filters", [])) > 6 for g in groups):
            return _error(400, "VALIDATION_ERROR", "too many filterGroups or filters")
        limit = int(body.get("limit", 10))
        if not 0 < limit <= 200:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 200")
        for group in groups:
            for f in group.get("filters", []):
                if f.get("operator") not in OPERATORS:
                    return _error(400, "VALIDATION_ERROR",
                                  f"Unsupported operator {f.get('operator')!r}")
                if f.get("propertyName") not in TICKET_PROPERTIES | {"hs_object_id"}:
                    return _error(400, "VALIDATION_ERROR",
                                  f"There was a problem with the request. Property "
                                  f"{f.get('propertyName')!r} does not exist")
                if f["operator"] != "EQ":
                    return _error(400, "VALIDATION_ERROR", "this fake serves EQ filters only")

        def matches(ticket_id: str, props: dict[str, Any]) -> bool:
            if not groups:
                return True
            return any(all(str({**props, "hs_object_id": ticket_id}.get(f["propertyName"]))
                           == str(f.get("value")) for f in g.get("filters", []))
                       for g in groups)

        found = [(i, t) for i, t in self.tickets_by_id.items()
                 if self._indexed(i) and matches(i, t["properties"])]
        for sort in reversed(body.get("sorts") or []):
            prop = str(sort["propertyName"])

            def key(entry: tuple[str, dict[str, Any]], prop: str = prop) -> tuple[str, int]:
                return str(entry[1]["properties"].get(prop)), int(entry[0])

            found.sort(key=key, reverse=sort.get("direction") == "DESCENDING")
        wanted = body.get("properties") or ["subject", "content", "hs_pipeline",
                                            "hs_pipeline_stage", "createdate"]
        results = [self._object(i, t["properties"], wanted) for i, t in found[:limit]]
        page: dict[str, Any] = {"total": len(found), "results": results}
        if len(found) > limit:
            page["paging"] = {"next": {"after": str(limit)}}
        return Answer(200, page)

    def _create_ticket(self, request: Request) -> Answer:
        properties = (request.json() or {}).get("properties")
        problem = self._check_properties(properties, TICKET_PROPERTIES)
        if problem:
            return problem
        assert isinstance(properties, dict)
        for required in ("subject", "hs_pipeline_stage"):
            if not properties.get(required):
                return _invalid(required, f"{required} is required", "REQUIRED_FIELD")
        pipeline = str(properties.setdefault("hs_pipeline", "0"))
        if pipeline not in PIPELINES:
            return _invalid("hs_pipeline", f"{pipeline} is not a valid pipeline")
        if str(properties["hs_pipeline_stage"]) not in PIPELINES[pipeline]:
            return _invalid("hs_pipeline_stage",
                            f"{properties['hs_pipeline_stage']} is not a valid stage of {pipeline}")
        priority = properties.get("hs_ticket_priority")
        if priority is not None and priority not in PRIORITIES:
            return _invalid("hs_ticket_priority",
                            f"{priority} was not one of the allowed options: {sorted(PRIORITIES)}")
        external = properties.get("porte_voix_external_id")
        if self.unique_external_id and external:
            for ticket_id, ticket in self.tickets_by_id.items():
                if ticket["properties"].get("porte_voix_external_id") == external:
                    return _error(409, "CONFLICT",
                                  f"A ticket with porte_voix_external_id={external} already "
                                  f"exists. Existing ID: {ticket_id}")
        ticket_id = self._store_ticket(properties)
        return Answer(201, self._object(ticket_id, self.tickets_by_id[ticket_id]["properties"],
                                        None))

    def _find(self, ticket_id: str, request: Request) -> str | None:
        ticket_id = unquote(ticket_id)
        prop = request.query.get("idProperty")
        if not prop:
            return ticket_id if ticket_id in self.tickets_by_id else None
        if prop != "porte_voix_external_id" or not self.unique_external_id:
            raise ValueError(f"{prop} is not a unique identifier property")
        for object_id, ticket in self.tickets_by_id.items():
            if ticket["properties"].get(prop) == ticket_id:
                return object_id
        return None

    def _get_ticket(self, request: Request, ticket_id: str) -> Answer:
        found = self._find(ticket_id, request)
        if found is None:
            return self.not_found(request)
        wanted = request.query.get("properties")
        return Answer(200, self._object(found, self.tickets_by_id[found]["properties"],
                                        wanted.split(",") if wanted else None))

    def _patch_ticket(self, request: Request, ticket_id: str) -> Answer:
        found = self._find(ticket_id, request)
        if found is None:
            return self.not_found(request)
        properties = (request.json() or {}).get("properties")
        problem = self._check_properties(properties, TICKET_PROPERTIES)
        if problem:
            return problem
        assert isinstance(properties, dict)
        stored = self.tickets_by_id[found]["properties"]
        if "hs_pipeline_stage" in properties and str(properties["hs_pipeline_stage"]) not in \
                PIPELINES[stored.get("hs_pipeline") or "0"]:
            return _invalid("hs_pipeline_stage", "not a valid stage")
        stored.update({k: str(v) for k, v in properties.items()})
        stored["hs_lastmodifieddate"] = _now_iso()
        return Answer(200, self._object(found, stored, None))

    def _create_note(self, request: Request) -> Answer:
        body = request.json() or {}
        properties = body.get("properties")
        problem = self._check_properties(properties, NOTE_PROPERTIES)
        if problem:
            return problem
        assert isinstance(properties, dict)
        if not properties.get("hs_timestamp"):
            return _invalid("hs_timestamp", "hs_timestamp is required", "REQUIRED_FIELD")
        links: list[str] = []
        for association in body.get("associations") or []:
            target = str(association["to"]["id"])
            types = association.get("types") or []
            if not types or any(t.get("associationCategory") != "HUBSPOT_DEFINED"
                                or t.get("associationTypeId") != NOTE_TO_TICKET for t in types):
                return _error(400, "VALIDATION_ERROR",
                              f"association types {types} are not note-to-ticket "
                              f"({NOTE_TO_TICKET})")
            if target not in self.tickets_by_id:
                return _error(400, "VALIDATION_ERROR", f"No ticket with ID {target} exists")
            links.append(target)
        note_id = str(next(self._ids))
        now = _now_iso()
        self.notes_by_id[note_id] = {"properties": {**properties, "createdate": now,
                                                    "hs_lastmodifieddate": now}}
        self.note_links.extend((note_id, t) for t in links)
        return Answer(201, self._object(note_id, self.notes_by_id[note_id]["properties"], None))

    def _read_notes(self, request: Request) -> Answer:
        body = request.json() or {}
        inputs = body.get("inputs") or []
        if len(inputs) > 100:
            return _error(400, "VALIDATION_ERROR", "at most 100 inputs per batch")
        wanted = body.get("properties") or ["hs_note_body"]
        results = [self._object(str(i["id"]), self.notes_by_id[str(i["id"])]["properties"],
                                wanted) for i in inputs if str(i["id"]) in self.notes_by_id]
        return Answer(200, {"status": "COMPLETE", "results": results,
                            "startedAt": _now_iso(), "completedAt": _now_iso()})

    def _ticket_notes(self, request: Request, ticket_id: str) -> Answer:
        if ticket_id not in self.tickets_by_id:
            return self.not_found(request)
        limit = int(request.query.get("limit", 500))
        if not 0 < limit <= 500:
            return _error(400, "VALIDATION_ERROR", "limit must be between 1 and 500")
        start = int(request.query.get("after", 0))
        notes = [n for n, t in self.note_links if t == ticket_id]
        page: dict[str, Any] = {"results": [
            {"toObjectId": int(n), "associationTypes": [
                {"category": "HUBSPOT_DEFINED", "typeId": TICKET_TO_NOTE, "label": None}]}
            for n in notes[start:start + limit]]}
        if start + limit < len(notes):
            page["paging"] = {"next": {"after": str(start + limit),
                                       "link": secrets.token_hex(4)}}
        return Answer(200, page)


register_fake("hubspot")(FakeHubSpot)
