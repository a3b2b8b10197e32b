"""Product-feedback sink for Jira Cloud (REST API v3, basic auth e-mail + API token).

Each FeedbackItem becomes one issue in the product project: a one-line summary, a description in
Atlassian Document Format (the v3 API accepts nothing else), and labels for triage (product area,
brand, language, sentiment, intent) plus ``pv-<feedback_id>``, the idempotency key.

Before creating, the sink searches ``labels = "pv-<feedback_id>"`` (``POST
/rest/api/3/search/jql``). That search is eventually consistent: an issue created seconds ago may
be missing from it. The ids of issues this sink created are kept in a small cache and passed as
``reconcileIssues`` (Jira's read-after-write option, up to 50 ids), so the search itself confirms
them; the cache never answers alone. A fresh sink (after a restart) within the index delay can
still file a duplicate: Jira has no unique field to refuse it.

A 400 that only blames ``project`` or ``issuetype`` is a configuration error (every item would
fail the same way), so it is fatal rather than bad input.
"""

from __future__ import annotations

import base64
import json as jsonlib
import logging
import re
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.base import DeliveryError
from connectors.sinks.feedback import FeedbackSink, register_feedback_sink
from connectors.sinks.rest import BODY_EXCERPT, LookupCache, RestClient
from schemas.models import ErrorKind, FeedbackItem, TicketOutcome, TicketResult

__all__ = ["JiraConfig", "JiraFeedbackSink", "adf_document", "adf_problems", "feedback_label",
           "labels_for", "summary_for"]

log = logging.getLogger(__name__)

_SUMMARY_LIMIT = 255
_RECONCILE_LIMIT = 50
_CONFIG_FIELDS = frozenset({"project", "issuetype"})
_LABEL_UNSAFE = re.compile(r"\s+")


def feedback_label(feedback_id: str) -> str:
    """The label that makes an item's issue findable again."""
    return f"pv-{feedback_id}"


def _label(value: str) -> str:
    """Jira labels cannot contain spaces; keep them short and lower-case."""
    return _LABEL_UNSAFE.sub("-", value.strip()).lower()[:255] or "unknown"


def labels_for(item: FeedbackItem) -> list[str]:
    """Triage labels: area, brand, language, sentiment, intent, origin and the idempotency key."""
    values = [item.product_area.value, _label(item.brand), item.lang.value,
              item.sentiment.value, item.intent.value, "porte-voix",
              feedback_label(item.feedback_id)]
    return list(dict.fromkeys(values))


def summary_for(item: FeedbackItem) -> str:
    """One line (Jira refuses line breaks in a summary), at most 255 characters."""
    text = " ".join(item.redacted_text.split()) or "(no text)"
    head = f"[{item.product_area.value}] {item.brand} · {item.platform.value}: "
    summary = head + text
    if len(summary) > _SUMMARY_LIMIT:
        summary = summary[: _SUMMARY_LIMIT - 1] + "…"
    return summary


def _text(value: str, marks: list[dict[str, Any]] | None = None) -> dict[str, Any]:
    node: dict[str, Any] = {"type": "text", "text": value}
    if marks:
        node["marks"] = marks
    return node


def _paragraph(lines: list[str]) -> dict[str, Any] | None:
    """A paragraph of non-empty lines joined by hard breaks; None when there is no text."""
    content: list[dict[str, Any]] = []
    for line in (line.rstrip() for line in lines):
        if not line.strip():
            continue
        if content:
            content.append({"type": "hardBreak"})
        content.append(_text(line))
    return {"type": "paragraph", "content": content} if content else None


def adf_document(item: FeedbackItem) -> dict[str, Any]:
    """The issue description in ADF: the redacted text, then where it came from."""
    content: list[dict[str, Any]] = []
    text = item.redacted_text.replace("\r\n", "\n").replace("\r", "\n")
    for block in re.split(r"\n\s*\n", text):
        paragraph = _paragraph(block.split("\n"))
        if paragraph is not None:
            content.append(paragraph)
    if not content:
        content.append({"type": "paragraph", "content": [_text("(no text)")]})
    details = (f"Platform: {item.platform.value} · Brand: {item.brand} · Area: "
               f"{item.product_area.value} · Intent: {item.intent.value} · Sentiment: "
               f"{item.sentiment.value} · Language: {item.lang.value}")
    if item.rating is not None:
        details += f" · Rating: {item.rating}/5"
    content.append({"type": "paragraph", "content": [_text(details, [{"type": "em"}])]})
    if item.url:
        content.append({"type": "paragraph", "content": [
            _text("Source: "),
            _text(item.url, [{"type": "link", "attrs": {"href": item.url}}]),
        ]})
    content.append({"type": "paragraph", "content": [
        _text(f"Feedback {item.feedback_id} · event {item.event_id}")]})
    return {"type": "doc", "version": 1, "content": content}


def adf_problems(node: Any, path: str = "doc") -> list[str]:
    """What makes an ADF tree invalid for Jira: untyped nodes, empty text, a wrong root."""
    problems: list[str] = []
    if path == "doc" and (not isinstance(node, dict) or node.get("type") != "doc"
                          or node.get("version") != 1):
        problems.append("root must be {'type': 'doc', 'version': 1}")
    if not isinstance(node, dict) or not isinstance(node.get("type"), str):
        return [*problems, f"{path}: node without a type"]
    if node["type"] == "text" and not node.get("text"):
        problems.append(f"{path}: empty text node")
    for i, child in enumerate(node.get("content") or []):
        problems.extend(adf_problems(child, f"{path}.content[{i}]"))
    for i, mark in enumerate(node.get("marks") or []):
        if not isinstance(mark, dict) or not isinstance(mark.get("type"), str):
            problems.append(f"{path}.marks[{i}]: mark without a type")
    return problems


class JiraConfig(BaseSettings):
    """Which Jira site and project receive feedback (env ``PORTE_VOIX_JIRA_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_JIRA_", extra="ignore")

    url: str = Field(default="https://your-site.atlassian.net", description="Jira site URL.")
    email: str = Field(default="", description="Account e-mail of the API token.")
    api_token: SecretStr = Field(default=SecretStr(""), description="Atlassian API token.")
    project_key: str = Field(default="PV", description="Project that receives feedback.")
    issue_type: str = Field(default="Task", description="Issue type name.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


class _JiraApi(RestClient):
    def error_kind(self, response: requests.Response) -> ErrorKind:
        """A 400 about the project or the issue type is the configuration's fault: fatal."""
        if response.status_code == 400:
            try:
                errors = jsonlib.loads(response.text[:BODY_EXCERPT * 8]).get("errors") or {}
            except (ValueError, AttributeError):
                errors = {}
            if errors and set(errors) <= _CONFIG_FIELDS:
                return ErrorKind.fatal
        return super().error_kind(response)


@register_feedback_sink
class JiraFeedbackSink(FeedbackSink):
    """File FeedbackItems as Jira issues, once each (label ``pv-<feedback_id>``)."""

    name: ClassVar[str] = "jira"
    config_model: ClassVar[type[BaseSettings]] = JiraConfig

    def __init__(self, config: JiraConfig, session: requests.Session | None = None,
                 *, cache_size: int = 1_000) -> None:
        self.config = config
        self.api = _JiraApi(
            config.url,
            {"Authorization": _basic_auth(config.email, config.api_token)},
            session, config.timeout_seconds, label="jira",
        )
        self.cache: LookupCache[str] = LookupCache(cache_size)

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> JiraFeedbackSink:
        if not isinstance(config, JiraConfig):
            raise TypeError(f"JiraFeedbackSink needs a JiraConfig, not {type(config).__name__}")
        return cls(config, session)

    def __repr__(self) -> str:
        return f"JiraFeedbackSink(url={self.api.base_url!r}, project={self.config.project_key!r})"

    def browse_url(self, key: str) -> str:
        return f"{self.api.base_url}/browse/{key}"

    def find_issue(self, feedback_id: str) -> dict[str, Any] | None:
        """The issue labelled for this item, if the search (reconciled with our ids) has it."""
        label = feedback_label(feedback_id)
        jql = (f'project = "{_jql_string(self.config.project_key)}" AND '
               f'labels = "{_jql_string(label)}" ORDER BY created ASC')
        body: dict[str, Any] = {"jql": jql, "fields": ["summary", "labels"], "maxResults": 10}
        recent = [int(i) for i in self.cache.values() if i.isdigit()][:_RECONCILE_LIMIT]
        if recent:
            body["reconcileIssues"] = recent
        data = self.api.json("POST", "/rest/api/3/search/jql", json=body)
        issues = [i for i in data.get("issues", [])
                  if label in (i.get("fields") or {}).get("labels", [label])]
        return issues[0] if issues else None

    def _result(self, item: FeedbackItem, outcome: TicketOutcome, key: str) -> TicketResult:
        return TicketResult(
            command_id=item.feedback_id, external_id=feedback_label(item.feedback_id),
            event_id=item.event_id, target=self.name, outcome=outcome, ticket_id=key,
            ticket_url=self.browse_url(key),
        )

    def deliver(self, item: FeedbackItem) -> TicketResult:
        """Create the item's issue unless the tracker already has it."""
        existing = self.find_issue(item.feedback_id)
        if existing is not None:
            self.cache.put(item.feedback_id, str(existing.get("id", "")))
            return self._result(item, TicketOutcome.unchanged, str(existing["key"]))
        description = adf_document(item)
        problems = adf_problems(description)
        if problems:  # never send a document Jira would refuse with an opaque 400
            raise DeliveryError(ErrorKind.bad_input, f"invalid ADF: {'; '.join(problems[:3])}")
        created = self.api.json("POST", "/rest/api/3/issue", json={"fields": {
            "project": {"key": self.config.project_key},
            "issuetype": {"name": self.config.issue_type},
            "summary": summary_for(item),
            "description": description,
            "labels": labels_for(item),
        }})
        self.cache.put(item.feedback_id, str(created["id"]))
        log.info("created jira issue %s for feedback %s", created["key"], item.feedback_id)
        return self._result(item, TicketOutcome.created, str(created["key"]))

    def close(self) -> None:
        self.api.close()


def _basic_auth(email: str, token: SecretStr) -> str:
    pair = f"{email}:{token.get_secret_value()}".encode()
    return "Basic " + base64.b64encode(pair).decode("ascii")


def _jql_string(value: str) -> str:
    """Escape a value for a double-quoted JQL string."""
    return value.replace("\\", "\\\\").replace('"', '\\"')
