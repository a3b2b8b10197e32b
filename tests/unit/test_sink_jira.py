"""Jira feedback sink: valid ADF, labels and summary, idempotent lookup, the fake's auth, errors."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime
from typing import Any, ClassVar

import pytest
import requests
from pydantic_settings import BaseSettings

from connectors.sinks.base import DeliveryError
from connectors.sinks.feedback import (
    FEEDBACK_SINKS,
    FeedbackSink,
    make_feedback_sink,
    register_feedback_sink,
)
from connectors.sinks.jira import (
    JiraFeedbackSink,
    adf_document,
    adf_problems,
    feedback_label,
    summary_for,
)
from schemas.models import (
    ErrorKind,
    FeedbackItem,
    Intent,
    Lang,
    Platform,
    ProductArea,
    Sentiment,
    TicketOutcome,
    TicketResult,
)
from tests.fakes.jira import FakeJira, adf_errors

FRENCH = ("L'appli plante quand j'ouvre « Mes factures ».\n\n"
          "Depuis la mise à jour 4.2, impossible de télécharger le PDF.\n  \nMerci de corriger !")


def item(feedback_id: str = "fb0001", text: str = FRENCH, **overrides: Any) -> FeedbackItem:
    values: dict[str, Any] = {
        "feedback_id": feedback_id, "event_id": f"google_play:{feedback_id}",
        "brand": "Nuvia Mobile", "platform": Platform.google_play,
        "product_area": ProductArea.app, "intent": Intent.feature_request,
        "sentiment": Sentiment.negative, "lang": Lang.fr, "redacted_text": text, "rating": 2,
        "url": "https://play.google.com/store/apps/details?id=x&reviewId=1",
        "created_at": datetime(2026, 2, 3, 10, 0, tzinfo=UTC), **overrides,
    }
    return FeedbackItem(**values)


@pytest.fixture
def fake() -> Iterator[FakeJira]:
    with FakeJira() as jira:
        yield jira


def walk(node: dict[str, Any]) -> Iterator[dict[str, Any]]:
    yield node
    for child in node.get("content") or []:
        yield from walk(child)


@pytest.mark.parametrize("text", [FRENCH, "", "   \n\n  ", "one line in English", "a\r\nb\rc"])
def test_adf_document_is_valid_every_node_typed_and_no_text_node_empty(text: str) -> None:
    doc = adf_document(item(text=text))
    assert (doc["type"], doc["version"]) == ("doc", 1)
    nodes = list(walk(doc))
    assert all(isinstance(n.get("type"), str) for n in nodes)
    assert all(n["text"] for n in nodes if n["type"] == "text")
    assert adf_problems(doc) == [] and adf_errors(doc) == []


def test_adf_keeps_paragraphs_line_breaks_and_a_link_to_the_source() -> None:
    doc = adf_document(item())
    texts = [n["text"] for n in walk(doc) if n["type"] == "text"]
    assert "L'appli plante quand j'ouvre « Mes factures »." in texts
    assert sum(1 for n in doc["content"] if n["type"] == "paragraph") >= 4
    links = [m for n in walk(doc) for m in n.get("marks", []) if m["type"] == "link"]
    assert links == [{"type": "link", "attrs": {"href": item().url}}]


def test_adf_problems_reports_untyped_nodes_and_empty_text() -> None:
    bad = {"type": "doc", "version": 1, "content": [
        {"type": "paragraph", "content": [{"type": "text", "text": ""}, {"text": "x"}]}]}
    problems = adf_problems(bad)
    assert any("empty text" in p for p in problems) and any("without a type" in p
                                                              for p in problems)
    assert adf_problems({"type": "paragraph"})


def test_issue_has_triage_labels_a_one_line_summary_and_a_browse_link(fake: FakeJira) -> None:
    long = item("fb0002", text="ligne un\nligne deux " + "x" * 400)
    result = fake.sink().deliver(long)
    assert result.outcome is TicketOutcome.created and result.ticket_id == "PV-1"
    assert result.ticket_url == f"{fake.url}/browse/PV-1"
    [issue] = fake.issues.values()
    fields = issue["fields"]
    assert {"app", "nuvia-mobile", "fr", "negative", feedback_label("fb0002")} <= set(
        fields["labels"])
    assert "\n" not in fields["summary"] and len(fields["summary"]) <= 255
    assert fields["summary"] == summary_for(long)
    assert (fields["project"], fields["issuetype"]) == ({"key": "PV"}, {"name": "Task"})


def test_the_same_item_is_filed_once_even_through_a_fresh_sink(fake: FakeJira) -> None:
    first = fake.sink().deliver(item())
    again = fake.sink().deliver(item())
    assert again.outcome is TicketOutcome.unchanged and again.ticket_id == first.ticket_id
    assert len(fake.issues_labelled(feedback_label("fb0001"))) == 1


def test_issues_the_sink_created_are_reconciled_into_a_lagging_search() -> None:
    with FakeJira(search_lag_s=60) as fake:
        sink = fake.sink()
        first = sink.deliver(item())
        again = sink.deliver(item())
        assert again.outcome is TicketOutcome.unchanged and again.ticket_id == first.ticket_id
        search = [r for r in fake.requests if r.path.endswith("/search/jql")][-1]
        assert search.json()["reconcileIssues"] == [int(next(iter(fake.issues)))]  # type: ignore[attr-defined]
        assert len(fake.issues) == 1


def test_the_fake_refuses_requests_without_valid_basic_auth(fake: FakeJira) -> None:
    assert requests.post(f"{fake.url}/rest/api/3/issue", json={}, timeout=5).status_code == 401
    with pytest.raises(DeliveryError) as err:
        fake.sink_with_bad_credentials().deliver(item())
    assert err.value.kind is ErrorKind.fatal and err.value.status == 401
    assert not fake.issues


def test_an_unknown_project_is_fatal_but_a_field_error_is_bad_input(fake: FakeJira) -> None:
    with pytest.raises(DeliveryError) as err:
        fake.sink(project_key="NOPE").deliver(item())
    assert err.value.kind is ErrorKind.fatal and err.value.status == 400
    fake.fail_next(1, 400, body='{"errorMessages": [], "errors": {"summary": "too long"}}')
    with pytest.raises(DeliveryError) as err:
        fake.sink().deliver(item())
    assert err.value.kind is ErrorKind.bad_input


def test_rate_limit_is_retriable_with_retry_after(fake: FakeJira) -> None:
    fake.rate_limit(after=0, times=1, retry_after="12")
    with pytest.raises(DeliveryError) as err:
        fake.sink().deliver(item())
    assert err.value.kind is ErrorKind.retriable and err.value.retry_after == 12.0


def test_feedback_sinks_have_their_own_registry(fake: FakeJira) -> None:
    sink = make_feedback_sink("jira", fake.config())
    assert isinstance(sink, JiraFeedbackSink) and FEEDBACK_SINKS["jira"] is JiraFeedbackSink

    class Other(FeedbackSink):
        name: ClassVar[str] = "jira"
        config_model: ClassVar[type[BaseSettings]] = BaseSettings

        @classmethod
        def from_config(cls, config: Any, session: requests.Session | None = None) -> Other:
            return cls()

        def deliver(self, item: FeedbackItem) -> TicketResult:
            raise NotImplementedError

    with pytest.raises(ValueError, match="already registered"):
        register_feedback_sink(Other)
