"""A local Jira Cloud REST API v3 (create issue, JQL search) enforcing Jira's documented rules.

- Basic auth ``email:api_token``, else 401 ``{"errorMessages": [...], "errors": {}}``.
- ``POST /rest/api/3/issue``: project key and issue type must exist, summary required, one line,
  <= 255 characters, labels without spaces, description a valid Atlassian Document (doc v1, known
  node types, typed nodes, non-empty text nodes, links with an href). Field errors come back as
  400 ``{"errorMessages": [], "errors": {"<field>": "<message>"}}``.
- ``GET/POST /rest/api/3/search/jql``: ``field = "value"`` clauses on project/labels joined by
  AND, optional ``ORDER BY created ASC|DESC`` (else 400 "Error in the JQL Query"), token paging.
  The index is eventually consistent: issues younger than ``search_lag_s`` are missing unless
  their id is in ``reconcileIssues`` (<= 50), as Jira documents.
- After the budget, 429 with Retry-After; ``fail_next`` injects any answer.
"""

from __future__ import annotations

import base64
import itertools
import re
import secrets
import time
from typing import Any

from pydantic import SecretStr

from connectors.sinks.jira import JiraConfig, JiraFeedbackSink
from tests.fakes.base import Answer, FakeApi, Request

BLOCKS = {"paragraph", "heading", "bulletList", "orderedList", "listItem", "blockquote",
          "codeBlock", "rule"}
INLINE = {"text", "hardBreak", "mention", "emoji"}
MARKS = {"em", "strong", "code", "link", "strike", "underline"}
_CLAUSE = re.compile(r'^\s*(?P<field>project|labels)\s*=\s*(?:"(?P<q>(?:[^"\\]|\\.)*)"|'
                     r"(?P<bare>[\w.-]+))\s*$", re.IGNORECASE)
_ORDER = re.compile(r"\s+ORDER\s+BY\s+created(?:\s+(?P<dir>ASC|DESC))?\s*$", re.IGNORECASE)


def adf_errors(node: Any, top: bool = True) -> list[str]:
    """Why Jira would refuse this ADF document (empty when it is valid)."""
    if top:
        if not isinstance(node, dict) or node.get("type") != "doc" or node.get("version") != 1:
            return ["root is not a version 1 doc"]
        children = node.get("content")
        if not isinstance(children, list):
            return ["doc has no content array"]
        return [e for child in children for e in _block_errors(child)]
    return _block_errors(node)


def _block_errors(node: Any) -> list[str]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return ["node without a type"]
    kind = node["type"]
    if kind in INLINE:
        return _inline_errors(node)
    if kind not in BLOCKS:
        return [f"unknown node type {kind!r}"]
    errors: list[str] = []
    for child in node.get("content") or []:
        errors.extend(_inline_errors(child) if kind in {"paragraph", "heading"}
                      else _block_errors(child))
    return errors


def _inline_errors(node: Any) -> list[str]:
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return ["node without a type"]
    if node["type"] not in INLINE:
        return [f"{node['type']!r} is not inline content"]
    errors = []
    if node["type"] == "text" and (not isinstance(node.get("text"), str) or not node["text"]):
        errors.append("text node with empty text")
    for mark in node.get("marks") or []:
        if not isinstance(mark, dict) or mark.get("type") not in MARKS:
            errors.append(f"unknown mark {mark!r}")
        elif mark["type"] == "link" and not (mark.get("attrs") or {}).get("href"):
            errors.append("link mark without href")
    return errors


def _field_error(field: str, message: str) -> Answer:
    return Answer(400, {"errorMessages": [], "errors": {field: message}})


class FakeJira(FakeApi):
    name = "jira"

    def __init__(self, *, search_lag_s: float = 0.0) -> None:
        super().__init__()
        self.email = "bot@porte-voix.invalid"
        self.api_token = "ATATT" + secrets.token_urlsafe(16)
        self.projects: dict[str, set[str]] = {"PV": {"Task", "Story", "Bug"}}
        self.search_lag_s = search_lag_s
        self.issues: dict[str, dict[str, Any]] = {}  # id -> issue
        self._ids = itertools.count(10001)
        self._numbers: dict[str, itertools.count[int]] = {}
        self._pages: dict[str, list[dict[str, Any]]] = {}
        self.route("POST", "/rest/api/3/issue", self._create)
        self.route("GET", "/rest/api/3/issue/{key}", self._get)
        self.route("GET", "/rest/api/3/search/jql", self._search_get)
        self.route("POST", "/rest/api/3/search/jql", self._search_post)

    def config(self, **overrides: Any) -> JiraConfig:
        values: dict[str, Any] = {"url": self.url, "email": self.email,
                                  "api_token": SecretStr(self.api_token), **overrides}
        return JiraConfig(**values)

    def sink(self, **overrides: Any) -> JiraFeedbackSink:
        return JiraFeedbackSink(self.config(**overrides))

    def sink_with_bad_credentials(self) -> JiraFeedbackSink:
        return JiraFeedbackSink(self.config(api_token=SecretStr("revoked")))

    def issues_labelled(self, label: str) -> list[dict[str, Any]]:
        with self._lock:
            return [i for i in self.issues.values() if label in i["fields"]["labels"]]

    # ------------------------------------------------------------------- rules

    def authorized(self, request: Request) -> bool:
        expected = base64.b64encode(f"{self.email}:{self.api_token}".encode()).decode()
        return request.headers.get("authorization", "") == f"Basic {expected}"

    def unauthorized(self) -> Answer:
        return Answer(401, {"errorMessages": ["You are not authenticated. Authentication "
                                              "required to perform this operation."],
                            "errors": {}})

    def throttled(self) -> Answer:
        return Answer(429, {"errorMessages": ["Rate limit exceeded."], "errors": {}},
                      {"Retry-After": self._retry_after, "X-RateLimit-Limit": "100",
                       "X-RateLimit-Remaining": "0", "RateLimit-Reason": "jira-burst-based"})

    def not_found(self, request: Request | None = None) -> Answer:
        return Answer(404, {"errorMessages": ["Issue does not exist or you do not have "
                                              "permission to see it."], "errors": {}})

    def malformed(self, exc: Exception) -> Answer:
        return Answer(400, {"errorMessages": [f"Unexpected input: {exc}"], "errors": {}})

    # --------------------------------------------------------------- endpoints

    def _create(self, request: Request) -> Answer:
        fields = (request.json() or {}).get("fields") or {}
        project = (fields.get("project") or {}).get("key")
        if project not in self.projects:
            return _field_error("project", "Specify a valid project ID or key")
        issue_type = (fields.get("issuetype") or {}).get("name")
        if issue_type not in self.projects[project]:
            return _field_error("issuetype", "Specify a valid issue type")
        summary = fields.get("summary")
        if not isinstance(summary, str) or not summary.strip():
            return _field_error("summary", "You must specify a summary of the issue.")
        if "\n" in summary or "\r" in summary:
            return _field_error("summary", "The summary is invalid because it contains "
                                           "newline characters.")
        if len(summary) > 255:
            return _field_error("summary", "Summary must be less than 255 characters.")
        labels = fields.get("labels") or []
        for label in labels:
            if not isinstance(label, str) or not label or re.search(r"\s", label):
                return _field_error("labels", f"The label '{label}' contains spaces which is "
                                              "invalid.")
            if len(label) > 255:
                return _field_error("labels", "The label is longer than 255 characters.")
        if "description" in fields and adf_errors(fields["description"]):
            return _field_error("description", "Operation value must be an Atlassian Document "
                                               "(see the Atlassian Document Format)")
        issue_id = str(next(self._ids))
        number = next(self._numbers.setdefault(project, itertools.count(1)))
        key = f"{project}-{number}"
        self.issues[issue_id] = {
            "id": issue_id, "key": key, "self": f"{self.url}/rest/api/3/issue/{issue_id}",
            "created_at": time.monotonic(), "order": len(self.issues),
            "fields": {**fields, "labels": list(labels)},
        }
        return Answer(201, {"id": issue_id, "key": key,
                            "self": f"{self.url}/rest/api/3/issue/{issue_id}"})

    def _get(self, request: Request, key: str) -> Answer:
        for issue in self.issues.values():
            if key in (issue["key"], issue["id"]):
                return Answer(200, self._shown(issue, None))
        return self.not_found(request)

    def _shown(self, issue: dict[str, Any], fields: list[str] | None) -> dict[str, Any]:
        shown = {k: v for k, v in issue["fields"].items() if fields is None or k in fields}
        return {"id": issue["id"], "key": issue["key"], "self": issue["self"], "fields": shown}

    def _search_get(self, request: Request) -> Answer:
        fields = request.query.get("fields")
        return self._search({"jql": request.query.get("jql", ""),
                             "fields": fields.split(",") if fields else None,
                             "maxResults": int(request.query.get("maxResults", 50)),
                             "nextPageToken": request.query.get("nextPageToken"),
                             "reconcileIssues": [int(i) for i in request.query.get(
                                 "reconcileIssues", "").split(",") if i]})

    def _search_post(self, request: Request) -> Answer:
        return self._search(request.json() or {})

    def _search(self, body: dict[str, Any]) -> Answer:
        token = body.get("nextPageToken")
        if token:
            if token not in self._pages:
                return Answer(400, {"errorMessages": ["Invalid nextPageToken."], "errors": {}})
            found = self._pages.pop(token)
        else:
            reconcile = body.get("reconcileIssues") or []
            if len(reconcile) > 50:
                return Answer(400, {"errorMessages": ["reconcileIssues accepts at most 50 ids."],
                                    "errors": {}})
            clauses = self._parse(str(body.get("jql") or ""))
            if isinstance(clauses, Answer):
                return clauses
            conditions, descending = clauses
            visible = [i for i in self.issues.values()
                       if time.monotonic() - i["created_at"] >= self.search_lag_s
                       or int(i["id"]) in {int(r) for r in reconcile}]
            found = [i for i in visible if all(self._holds(i, f, v) for f, v in conditions)]
            found.sort(key=lambda i: i["order"], reverse=descending)
        size = int(body.get("maxResults") or 50)
        if not 0 < size <= 5000:
            return Answer(400, {"errorMessages": ["maxResults must be 1..5000"], "errors": {}})
        page: dict[str, Any] = {"issues": [self._shown(i, body.get("fields"))
                                           for i in found[:size]], "isLast": len(found) <= size}
        if len(found) > size:
            next_token = secrets.token_urlsafe(8)
            self._pages[next_token] = found[size:]
            page["nextPageToken"] = next_token
        return Answer(200, page)

    def _parse(self, jql: str) -> tuple[list[tuple[str, str]], bool] | Answer:
        descending = False
        order = _ORDER.search(jql)
        if order:
            descending = (order["dir"] or "ASC").upper() == "DESC"
            jql = jql[: order.start()]
        conditions = []
        for clause in re.split(r"\s+AND\s+", jql.strip(), flags=re.IGNORECASE):
            match = _CLAUSE.match(clause)
            if not match:
                return Answer(400, {"errorMessages": [
                    f"Error in the JQL Query: cannot parse {clause!r}."], "errors": {}})
            value = match["q"] if match["q"] is not None else match["bare"]
            value = re.sub(r"\\(.)", r"\1", value)
            conditions.append((match["field"].lower(), value))
        return conditions, descending

    @staticmethod
    def _holds(issue: dict[str, Any], field: str, value: str) -> bool:
        if field == "project":
            return bool(issue["fields"]["project"]["key"] == value)
        return value in issue["fields"]["labels"]
