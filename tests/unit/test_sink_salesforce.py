"""Salesforce sink specifics against the local Salesforce fake: 300 ambiguity, 403 limits, SOQL."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.sinks.base import DeliveryError
from connectors.sinks.salesforce import SalesforceSink, error_codes, salesforce_priority
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.salesforce import COMMENT_LIMIT, FakeSalesforce


def command(conversation: str, text: str, n: int = 0, priority: int = 3) -> TicketCommand:
    return TicketCommand(
        command_id=stable_id(conversation, text, str(n)), external_id=f"ig:{conversation}",
        event_id=f"ig:{conversation}-{n}", brand="Croque", platform=Platform.instagram,
        kind=Kind.dm, title=f"DM: {text[:40]}", body=text, priority=priority,
        created_at=datetime(2026, 5, 2, 18, n, tzinfo=UTC),
    )


@pytest.fixture
def fake() -> Iterator[FakeSalesforce]:
    with FakeSalesforce() as crm:
        yield crm


def test_two_cases_with_one_external_id_are_bad_input_and_nothing_is_written(
        fake: FakeSalesforce) -> None:
    first = fake.add_case("ig:dup")
    second = fake.add_case("ig:dup")
    with pytest.raises(DeliveryError) as err:
        SalesforceSink(fake.config()).deliver(command("dup", "Où est ma commande ?"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 300
    assert first in err.value.message and second in err.value.message
    assert len(fake.cases) == 2 and not fake.comments


def test_an_upsert_that_meets_duplicates_is_bad_input_too(fake: FakeSalesforce) -> None:
    sink = SalesforceSink(fake.config())
    sink.find_case = lambda external_id: None  # type: ignore[method-assign]  # lookup raced
    fake.add_case("ig:dup2")
    fake.add_case("ig:dup2")
    with pytest.raises(DeliveryError) as err:
        sink.deliver(command("dup2", "hello"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 300


def test_request_limit_exceeded_403_is_retriable_after_the_configured_wait(
        fake: FakeSalesforce) -> None:
    fake.rate_limit(after=0, times=3)
    with pytest.raises(DeliveryError) as err:
        SalesforceSink(fake.config(limit_retry_seconds=45)).deliver(command("lim", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.status == 403
    assert err.value.retry_after == 45.0
    assert error_codes(err.value.body or "") == ["REQUEST_LIMIT_EXCEEDED"]


def test_any_other_403_stays_fatal(fake: FakeSalesforce) -> None:
    fake.fail_next(1, 403, body='[{"message": "no access", "errorCode": "INSUFFICIENT_ACCESS"}]')
    with pytest.raises(DeliveryError) as err:
        SalesforceSink(fake.config()).deliver(command("perm", "hello"))
    assert err.value.kind is ErrorKind.fatal


def test_expired_session_is_fatal_with_invalid_session_id(fake: FakeSalesforce) -> None:
    with pytest.raises(DeliveryError) as err:
        SalesforceSink(fake.config(access_token=SecretStr("expired"))).deliver(command("s", "x"))
    assert err.value.kind is ErrorKind.fatal and err.value.status == 401
    assert error_codes(err.value.body or "") == ["INVALID_SESSION_ID"]


def test_a_missing_external_id_field_is_fatal_before_anything_is_written() -> None:
    with FakeSalesforce(external_id_field=None) as fake:
        with pytest.raises(DeliveryError) as err:
            SalesforceSink(fake.config()).deliver(command("nf", "hello"))
        assert err.value.kind is ErrorKind.fatal and "External ID" in err.value.message
        unchecked = SalesforceSink(fake.config())
        unchecked._field_checked = True  # without describe, the upsert's 404 is fatal as well
        with pytest.raises(DeliveryError) as err:
            unchecked.deliver(command("nf", "hello"))
        assert err.value.kind is ErrorKind.fatal and err.value.status == 404
        assert not fake.cases


def test_case_fields_priority_and_private_comments(fake: FakeSalesforce) -> None:
    sink = SalesforceSink(fake.config())
    opened = sink.deliver(command("p", "Colis abîmé", priority=1))
    case = fake.cases[str(opened.ticket_id)]
    assert (case["Priority"], case["Origin"], case["Status"]) == ("High", "Web", "New")
    assert case["PorteVoix_External_Id__c"] == "ig:p"
    assert opened.ticket_url == f"{fake.url}/lightning/r/Case/{opened.ticket_id}/view"
    sink.deliver(command("p", "Photo jointe", 1))
    [comment] = fake.comments.values()
    assert comment["ParentId"] == opened.ticket_id and comment["IsPublished"] is False
    assert [salesforce_priority(p) for p in range(1, 6)] == ["High", "High", "Medium", "Low",
                                                             "Low"]


def test_markers_are_found_on_every_page_of_comments() -> None:
    with FakeSalesforce(query_batch=1) as fake:
        sink = SalesforceSink(fake.config())
        for n in range(4):
            sink.deliver(command("pg", f"message {n}", n))
        restarted = SalesforceSink(fake.config())
        assert restarted.deliver(command("pg", "message 1", 1)).outcome is TicketOutcome.unchanged
        assert len(fake.comments) == 3
        assert any("/query/" in r.path for r in fake.requests)  # nextRecordsUrl was followed


def test_a_long_message_is_cut_to_the_comment_limit_but_keeps_its_marker(
        fake: FakeSalesforce) -> None:
    sink = SalesforceSink(fake.config())
    sink.deliver(command("long", "début"))
    long = command("long", "très long " * 1000, 1)
    assert sink.deliver(long).outcome is TicketOutcome.followed_up
    [comment] = fake.comments.values()
    assert len(comment["CommentBody"]) <= COMMENT_LIMIT
    assert SalesforceSink(fake.config()).deliver(long).outcome is TicketOutcome.unchanged


def test_a_follow_up_reopens_a_closed_case(fake: FakeSalesforce) -> None:
    sink = SalesforceSink(fake.config())
    opened = sink.deliver(command("cl", "Bug paiement"))
    fake.cases[str(opened.ticket_id)]["Status"] = "Closed"
    sink.deliver(command("cl", "Encore le bug", 1))
    assert fake.cases[str(opened.ticket_id)]["Status"] == "New"


def test_a_case_created_between_lookup_and_upsert_is_reported_updated(
        fake: FakeSalesforce) -> None:
    sink = SalesforceSink(fake.config())
    sink.find_case = lambda external_id: None  # type: ignore[method-assign]
    fake.add_case("ig:race")
    result = sink.deliver(command("race", "hello"))
    assert result.outcome is TicketOutcome.updated and len(fake.cases) == 1


def test_restricted_picklist_value_is_bad_input(fake: FakeSalesforce) -> None:
    with pytest.raises(DeliveryError) as err:
        SalesforceSink(fake.config(origin="Social")).deliver(command("pk", "hello"))
    assert err.value.kind is ErrorKind.bad_input
    assert error_codes(err.value.body or "") == ["INVALID_OR_NULL_FOR_RESTRICTED_PICKLIST"]
