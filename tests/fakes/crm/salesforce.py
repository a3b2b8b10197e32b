"""A local Salesforce REST API (Cases, CaseComments, SOQL) with Salesforce's rules and errors.

- OAuth bearer token, else 401 ``[{"message": "Session expired or invalid", "errorCode":
  "INVALID_SESSION_ID"}]``; errors are always a JSON array of ``{message, errorCode[, fields]}``.
- Only ``/services/data/v<api_version>`` exists; other paths are 404 ``NOT_FOUND``.
- ``sobjects/Case/describe`` declares the fields, with ``externalId``/``unique`` on the
  external id field (``external_id_field=None`` models an org where it was never created: the
  external-id resources answer 404 ``NOT_FOUND`` "Provided external ID field does not exist").
- Rows by external id: GET/PATCH answer 300 with the matching records' URLs when several Cases
  share the value (:meth:`add_case` can plant such duplicates), 404 when none (GET) or create
  (PATCH, 201 ``created: true``) / update (PATCH, 200 ``created: false``).
- Picklists (Status, Priority, Origin) are restricted, Subject <= 255, Description <= 32,000,
  CommentBody <= 4,000 (``STRING_TOO_LONG``), unknown fields ``INVALID_FIELD``; a CaseComment
  needs an existing ParentId.
- SOQL: ``SELECT <fields> FROM CaseComment WHERE ParentId = '<id>' [ORDER BY CreatedDate]``
  only (else ``MALFORMED_QUERY``), ``query_batch`` records per page with ``nextRecordsUrl``.
- API limit: after the budget, 403 ``REQUEST_LIMIT_EXCEEDED`` (Salesforce's rate limit answer),
  ``Sforce-Limit-Info`` on every answer; ``fail_next`` injects any answer.
"""

from __future__ import annotations

import itertools
import re
import secrets
from typing import Any
from urllib.parse import unquote

from pydantic import SecretStr

from connectors.sinks.base import TicketSink
from connectors.sinks.salesforce import SalesforceConfig, SalesforceSink
from tests.fakes.base import Answer, FakeApi, Request, bearer
from tests.fakes.crm import FakeTicket, register_fake

API_VERSION = "60.0"
PICKLISTS = {
    "Status": ["New", "Working", "Escalated", "Closed"],
    "Priority": ["High", "Medium", "Low"],
    "Origin": ["Phone", "Email", "Web"],
}
LENGTHS = {"Subject": 255, "Description": 32_000, "SuppliedEmail": 80}
COMMENT_LIMIT = 4_000
_SOQL = re.compile(
    r"^\s*SELECT\s+(?P<fields>[\w\s,]+?)\s+FROM\s+CaseComment\s+WHERE\s+ParentId\s*=\s*"
    r"'(?P<parent>[A-Za-z0-9]{15,18})'(?:\s+ORDER\s+BY\s+CreatedDate(?:\s+(?:ASC|DESC))?)?\s*$",
    re.IGNORECASE,
)
COMMENT_FIELDS = {"Id", "ParentId", "CommentBody", "IsPublished", "CreatedDate"}


def _errors(status: int, code: str, message: str, fields: list[str] | None = None) -> Answer:
    error: dict[str, Any] = {"message": message, "errorCode": code}
    if fields is not None:
        error["fields"] = fields
    return Answer(status, [error])


class FakeSalesforce(FakeApi):
    name = "salesforce"

    def __init__(self, *, external_id_field: str | None = "PorteVoix_External_Id__c",
                 unique: bool = True, query_batch: int = 2000) -> None:
        super().__init__()
        self.token = "00D000000000001!AQ" + secrets.token_urlsafe(24)
        self.field = external_id_field
        self.unique = unique
        self.query_batch = query_batch
        self.cases: dict[str, dict[str, Any]] = {}
        self.comments: dict[str, dict[str, Any]] = {}
        self._locators: dict[str, list[dict[str, Any]]] = {}
        self._seq = itertools.count(1)
        self.api_calls = 0
        base = f"/services/data/v{API_VERSION}"
        self.route("GET", f"{base}/sobjects/Case/describe", self._describe)
        self.route("GET", f"{base}/sobjects/Case/{{field}}/{{value}}", self._get_by_field)
        self.route("PATCH", f"{base}/sobjects/Case/{{field}}/{{value}}", self._upsert)
        self.route("GET", f"{base}/sobjects/Case/{{case_id}}", self._get_case)
        self.route("PATCH", f"{base}/sobjects/Case/{{case_id}}", self._update_case)
        self.route("POST", f"{base}/sobjects/CaseComment", self._add_comment)
        self.route("GET", f"{base}/query", self._query)
        self.route("GET", f"{base}/query/{{locator}}", self._query_more)
        self.base = base

    # ---------------------------------------------------------------- protocol

    def config(self, **overrides: Any) -> SalesforceConfig:
        values: dict[str, Any] = {"instance_url": self.url,
                                  "access_token": SecretStr(self.token),
                                  "api_version": API_VERSION, **overrides}
        return SalesforceConfig(**values)

    def sink(self) -> TicketSink:
        return SalesforceSink(self.config())

    def sink_with_bad_credentials(self) -> TicketSink:
        return SalesforceSink(self.config(access_token=SecretStr("00Dexpired!session")))

    def tickets(self) -> list[FakeTicket]:
        with self._lock:
            return [FakeTicket(str(case.get(self.field or "") or ""),
                               [case.get("Description") or ""] + [
                                   c["CommentBody"] for c in self.comments.values()
                                   if c["ParentId"] == case_id])
                    for case_id, case in self.cases.items()]

    def add_case(self, external_id: str, **fields: Any) -> str:
        """Put a Case in the org directly: two calls with one value make an ambiguous id."""
        with self._lock:
            return self._store_case({"Subject": "planted", "Status": "New",
                                     **({self.field: external_id} if self.field else {}),
                                     **fields})

    # ------------------------------------------------------------------- rules

    def authorized(self, request: Request) -> bool:
        return bearer(request) == self.token

    def unauthorized(self) -> Answer:
        return _errors(401, "INVALID_SESSION_ID", "Session expired or invalid")

    def throttled(self) -> Answer:
        return _errors(403, "REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.")

    def not_found(self, request: Request | None = None) -> Answer:
        return _errors(404, "NOT_FOUND", "The requested resource does not exist")

    def malformed(self, exc: Exception) -> Answer:
        return _errors(400, "JSON_PARSER_ERROR", f"Unexpected input: {exc}")

    def common_headers(self) -> dict[str, str]:
        return {"Sforce-Limit-Info": f"api-usage={len(self.requests)}/15000"}

    # ----------------------------------------------------------------- helpers

    def _new_id(self, prefix: str) -> str:
        return f"{prefix}{next(self._seq):012d}AAA"

    def _store_case(self, fields: dict[str, Any]) -> str:
        case_id = self._new_id("500")
        self.cases[case_id] = {"Id": case_id, "CaseNumber": f"{len(self.cases) + 1:08d}",
                               "Status": "New", **fields}
        return case_id

    def _record(self, case_id: str, fields: str | None) -> dict[str, Any]:
        case = self.cases[case_id]
        case = {**case, "IsClosed": case.get("Status") == "Closed"}
        wanted = [f.strip() for f in fields.split(",")] if fields else list(case)
        record: dict[str, Any] = {"attributes": {"type": "Case",
                                                 "url": f"{self.base}/sobjects/Case/{case_id}"}}
        for name in wanted:
            if name not in self._field_names():
                raise LookupError(name)
            record[name] = case.get(name)
        return record

    def _field_names(self) -> set[str]:
        names = {"Id", "CaseNumber", "Subject", "Description", "IsClosed", "SuppliedEmail",
                 *PICKLISTS}
        return names | ({self.field} if self.field else set())

    def _check_fields(self, body: Any) -> Answer | None:
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        writable = self._field_names() - {"Id", "CaseNumber", "IsClosed"}
        for name, value in body.items():
            if name not in writable:
                return _errors(400, "INVALID_FIELD", f"No such column '{name}' on sobject of "
                               "type Case")
            if name in PICKLISTS and value not in PICKLISTS[name]:
                return _errors(400, "INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST",
                               f"{name}: bad value for restricted picklist field: {value}", [name])
            if name in LENGTHS and isinstance(value, str) and len(value) > LENGTHS[name]:
                return _errors(400, "STRING_TOO_LONG", f"{name}: data value too large: "
                               f"{value[:20]}... (max length={LENGTHS[name]})", [name])
        return None

    def _matching(self, field: str, value: str) -> list[str] | Answer:
        if field != self.field:
            return _errors(404, "NOT_FOUND",
                           f"Provided external ID field does not exist or is not accessible: "
                           f"{field}")
        return [i for i, c in self.cases.items() if c.get(field) == value]

    def _multiple(self, ids: list[str]) -> Answer:
        return Answer(300, [f"{self.base}/sobjects/Case/{i}" for i in ids])

    # --------------------------------------------------------------- endpoints

    def _describe(self, request: Request) -> Answer:
        fields: list[dict[str, Any]] = [
            {"name": name, "type": "picklist" if name in PICKLISTS else "string",
             "externalId": False, "unique": False, "length": LENGTHS.get(name, 0)}
            for name in sorted(self._field_names() - {self.field})]
        if self.field:
            fields.append({"name": self.field, "type": "string", "externalId": True,
                           "unique": self.unique, "length": 255})
        return Answer(200, {"name": "Case", "label": "Case", "fields": fields})

    def _get_by_field(self, request: Request, field: str, value: str) -> Answer:
        ids = self._matching(field, unquote(value))
        if isinstance(ids, Answer):
            return ids
        if not ids:
            return self.not_found(request)
        if len(ids) > 1:
            return self._multiple(ids)
        try:
            return Answer(200, self._record(ids[0], request.query.get("fields")))
        except LookupError as exc:
            return _errors(400, "INVALID_FIELD", f"No such column '{exc}' on entity 'Case'")

    def _upsert(self, request: Request, field: str, value: str) -> Answer:
        value = unquote(value)
        ids = self._matching(field, value)
        if isinstance(ids, Answer):
            return ids
        if len(ids) > 1:
            return self._multiple(ids)
        body = request.json()
        problem = self._check_fields(body)
        if problem:
            return problem
        if ids:
            self.cases[ids[0]].update(body)
            return Answer(200, {"id": ids[0], "success": True, "errors": [], "created": False})
        case_id = self._store_case({**body, field: value})
        return Answer(201, {"id": case_id, "success": True, "errors": [], "created": True})

    def _get_case(self, request: Request, case_id: str) -> Answer:
        if case_id not in self.cases:
            return self.not_found(request)
        try:
            return Answer(200, self._record(case_id, request.query.get("fields")))
        except LookupError as exc:
            return _errors(400, "INVALID_FIELD", f"No such column '{exc}' on entity 'Case'")

    def _update_case(self, request: Request, case_id: str) -> Answer:
        if case_id not in self.cases:
            return self.not_found(request)
        body = request.json()
        problem = self._check_fields(body)
        if problem:
            return problem
        self.cases[case_id].update(body)
        return Answer(204)

    def _add_comment(self, request: Request) -> Answer:
        body = request.json()
        if not isinstance(body, dict):
            return _errors(400, "JSON_PARSER_ERROR", "The request body must be a JSON object")
        for name in body:
            if name not in COMMENT_FIELDS - {"Id", "CreatedDate"}:
                return _errors(400, "INVALID_FIELD",
                               f"No such column '{name}' on sobject of type CaseComment")
        parent = body.get("ParentId")
        if not parent:
            return _errors(400, "REQUIRED_FIELD_MISSING",
                           "Required fields are missing: [ParentId]", ["ParentId"])
        if parent not in self.cases:
            return _errors(400, "FIELD_INTEGRITY_EXCEPTION",
                           f"Parent ID: id value of incorrect type: {parent}", ["ParentId"])
        text = body.get("CommentBody") or ""
        if len(text) > COMMENT_LIMIT:
            return _errors(400, "STRING_TOO_LONG", f"Body: data value too large: {text[:20]}... "
                           f"(max length={COMMENT_LIMIT})", ["CommentBody"])
        if not isinstance(body.get("IsPublished", False), bool):
            return _errors(400, "JSON_PARSER_ERROR", "IsPublished must be a boolean")
        comment_id = self._new_id("00a")
        self.comments[comment_id] = {"Id": comment_id, "ParentId": parent, "CommentBody": text,
                                     "IsPublished": body.get("IsPublished", False),
                                     "CreatedDate": f"2026-01-01T00:00:{len(self.comments):02d}"
                                                    ".000+0000"}
        return Answer(201, {"id": comment_id, "success": True, "errors": []})

    def _page(self, records: list[dict[str, Any]]) -> Answer:
        page = records[: self.query_batch]
        rest = records[self.query_batch:]
        body: dict[str, Any] = {"totalSize": len(records), "done": not rest, "records": page}
        if rest:
            locator = f"01g{secrets.token_hex(6)}-{len(page)}"
            self._locators[locator] = rest
            body["nextRecordsUrl"] = f"{self.base}/query/{locator}"
        return Answer(200, body)

    def _query(self, request: Request) -> Answer:
        soql = request.query.get("q", "")
        match = _SOQL.match(soql)
        if not match:
            return _errors(400, "MALFORMED_QUERY", f"unexpected token in: {soql[:80]}")
        fields = [f.strip() for f in match["fields"].split(",")]
        unknown = [f for f in fields if f not in COMMENT_FIELDS]
        if unknown:
            return _errors(400, "INVALID_FIELD", f"No such column '{unknown[0]}' on entity "
                           "'CaseComment'")
        records = [{"attributes": {"type": "CaseComment",
                                   "url": f"{self.base}/sobjects/CaseComment/{c['Id']}"},
                    **{f: c.get(f) for f in fields}}
                   for c in self.comments.values() if c["ParentId"] == match["parent"]]
        return self._page(records)

    def _query_more(self, request: Request, locator: str) -> Answer:
        if locator not in self._locators:
            return _errors(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return self._page(self._locators.pop(locator))


register_fake("salesforce")(FakeSalesforce)
