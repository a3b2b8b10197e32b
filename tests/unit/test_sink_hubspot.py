"""HubSpot sink specifics against the local fake: priorities, notes, unique-property races."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.sinks.base import DeliveryError
from connectors.sinks.hubspot import NOTE_TO_TICKET, HubSpotConfig, HubSpotSink, hubspot_priority
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.hubspot import FakeHubSpot


def command(conversation: str, text: str, n: int = 0, priority: int = 3) -> TicketCommand:
    return TicketCommand(
        command_id=stable_id(conversation, text, str(n)), external_id=f"fb:{conversation}",
        event_id=f"fb:{conversation}-{n}", brand="Nuvia Mobile", platform=Platform.facebook,
        kind=Kind.comment, title=f"Réclamation : {text[:40]}", body=text, priority=priority,
        author_handle="@marie", created_at=datetime(2026, 3, 1, 9, n, tzinfo=UTC),
    )


@pytest.fixture
def fake() -> Iterator[FakeHubSpot]:
    with FakeHubSpot() as crm:
        yield crm


def sink_for(fake: FakeHubSpot, **overrides: object) -> HubSpotSink:
    values: dict[str, object] = {"url": fake.url, "token": SecretStr(fake.token),
                                 "portal_id": fake.portal_id, **overrides}
    return HubSpotSink(HubSpotConfig(**values))  # type: ignore[arg-type]


@pytest.mark.parametrize(("priority", "expected"), [
    (1, "URGENT"), (2, "HIGH"), (3, "MEDIUM"), (4, "LOW"), (5, "LOW"),
])
def test_command_priorities_map_to_hubspot_ticket_priorities(
        fake: FakeHubSpot, priority: int, expected: str) -> None:
    assert hubspot_priority(priority) == expected
    result = sink_for(fake).deliver(command(f"p{priority}", "Réseau coupé", priority=priority))
    stored = fake.tickets_by_id[str(result.ticket_id)]["properties"]
    assert stored["hs_ticket_priority"] == expected


def test_new_ticket_carries_pipeline_stage_external_id_and_a_link(fake: FakeHubSpot) -> None:
    result = sink_for(fake).deliver(command("a", "Facture en double ce mois-ci"))
    stored = fake.tickets_by_id[str(result.ticket_id)]["properties"]
    assert (stored["hs_pipeline"], stored["hs_pipeline_stage"]) == ("0", "1")
    assert stored["porte_voix_external_id"] == "fb:a"
    assert result.ticket_url == f"https://app.hubspot.com/contacts/4242/ticket/{result.ticket_id}"


def test_follow_up_is_an_escaped_html_note_associated_to_the_ticket(fake: FakeHubSpot) -> None:
    sink = sink_for(fake)
    opened = sink.deliver(command("b", "Commande perdue"))
    follow = sink.deliver(command("b", "<script>alert(1)</script> & toujours rien", 1))
    assert follow.outcome is TicketOutcome.followed_up
    [(note_id, ticket_id)] = fake.note_links
    assert ticket_id == opened.ticket_id
    body = fake.notes_by_id[note_id]["properties"]["hs_note_body"]
    assert "<script>" not in body and "&lt;script&gt;" in body
    create = next(r for r in fake.requests if r.path == "/crm/v3/objects/notes")
    association = create.json()["associations"][0]  # type: ignore[attr-defined]
    assert association["types"][0]["associationTypeId"] == NOTE_TO_TICKET
    assert any("<script>alert(1)</script> & toujours rien" in m
               for m in fake.tickets()[0].messages)


def test_a_ticket_missing_from_the_lagging_search_index_is_found_through_the_unique_property(
) -> None:
    with FakeHubSpot(search_lag_s=60) as fake:
        sink_for(fake).deliver(command("c", "Panne fibre depuis ce matin"))
        restarted = sink_for(fake)  # fresh cache, and search does not see the ticket yet
        again = restarted.deliver(command("c", "Panne fibre depuis ce matin"))
        more = restarted.deliver(command("c", "Toujours en panne", 1))
        assert again.outcome is TicketOutcome.unchanged
        assert more.outcome is TicketOutcome.followed_up
        assert len(fake.tickets()) == 1
        assert 409 in fake.statuses


def test_a_cached_ticket_that_was_deleted_is_looked_up_again_not_trusted(fake: FakeHubSpot) -> None:
    sink = sink_for(fake)
    first = sink.deliver(command("d", "Remboursement ?"))
    del fake.tickets_by_id[str(first.ticket_id)]
    again = sink.deliver(command("d", "Remboursement ?", 1))
    assert again.outcome is TicketOutcome.created
    assert again.ticket_id != first.ticket_id


def test_a_follow_up_reopens_a_closed_ticket(fake: FakeHubSpot) -> None:
    sink = sink_for(fake)
    opened = sink.deliver(command("e", "App crashes at login"))
    fake.tickets_by_id[str(opened.ticket_id)]["properties"]["hs_pipeline_stage"] = "4"
    sink.deliver(command("e", "Still crashing", 1))
    assert fake.tickets_by_id[str(opened.ticket_id)]["properties"]["hs_pipeline_stage"] == "1"


def test_rate_limit_without_retry_after_waits_for_the_rolling_window(fake: FakeHubSpot) -> None:
    fake.rate_limit(after=0, times=5, retry_after="")
    with pytest.raises(DeliveryError) as err:
        sink_for(fake).deliver(command("f", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.status == 429
    assert err.value.retry_after == 10.0
    assert err.value.body is not None and "RATE_LIMIT" in err.value.body


def test_validation_error_is_bad_input_with_the_hubspot_body(fake: FakeHubSpot) -> None:
    with pytest.raises(DeliveryError) as err:
        sink_for(fake, pipeline_stage="9").deliver(command("g", "hello"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 400
    assert err.value.body is not None and "VALIDATION_ERROR" in err.value.body


def test_wrong_token_is_fatal_and_the_token_never_shows(
        fake: FakeHubSpot, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    secret = "pat-na1-super-secret-value"
    with pytest.raises(DeliveryError) as err:
        sink_for(fake, token=SecretStr(secret)).deliver(command("h", "hello"))
    assert err.value.kind is ErrorKind.fatal and err.value.status == 401
    assert secret not in repr(err.value) + str(err.value) + (err.value.body or "") + caplog.text
    assert secret not in repr(sink_for(fake, token=SecretStr(secret)).config)
