"""Zendesk sink behaviour the shared contract does not cover, against the local Zendesk fake.

Idempotency-Key replay and mismatch, safe updates, solved and closed tickets, the field mapping,
the lookup cache and secrets.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

import pytest
import requests

from connectors.sinks.base import DeliveryError
from connectors.sinks.zendesk import ZendeskSink, idempotency_key, zendesk_tags
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.zendesk import FakeZendesk


def command(conversation: str, text: str, n: int = 0, **extra: object) -> TicketCommand:
    fields: dict[str, object] = {
        "command_id": stable_id(conversation, text, str(n)), "external_id": f"x:{conversation}",
        "event_id": f"x:{conversation}-{n}", "brand": "Croque", "platform": Platform.x,
        "kind": Kind.mention, "title": f"Plainte : {text[:40]}", "body": text,
        "tags": ["complaint"], "created_at": datetime(2026, 11, 14, 21, n, tzinfo=UTC),
    }
    fields.update(extra)
    return TicketCommand.model_validate(fields)


@pytest.fixture
def crm() -> Iterator[FakeZendesk]:
    fake = FakeZendesk()
    fake.start()
    yield fake
    fake.stop()


def raw_post(crm: FakeZendesk, key: str, body: Mapping[str, object]) -> requests.Response:
    return requests.post(f"{crm.api.url}/api/v2/tickets.json", json=body, timeout=5,
                         auth=(f"{crm.api.email}/token", crm.api.api_token),
                         headers={"Idempotency-Key": key})


def test_given_a_used_idempotency_key_when_the_same_body_is_posted_then_the_original_answers(
        crm: FakeZendesk) -> None:
    body = {"ticket": {"subject": "Colis", "comment": {"body": "Où est mon colis ?"}}}
    first = raw_post(crm, "k-1", body)
    again = raw_post(crm, "k-1", body)
    assert first.status_code == again.status_code == 201
    assert first.headers["x-idempotency-lookup"] == "miss"
    assert again.headers["x-idempotency-lookup"] == "hit"
    assert again.json()["ticket"]["id"] == first.json()["ticket"]["id"]
    assert len(crm.tickets()) == 1


def test_given_a_used_idempotency_key_when_another_body_is_posted_then_400_mismatch(
        crm: FakeZendesk) -> None:
    raw_post(crm, "k-2", {"ticket": {"comment": {"body": "one"}}})
    other = raw_post(crm, "k-2", {"ticket": {"comment": {"body": "two"}}})
    assert other.status_code == 400
    assert other.json()["error"] == "IdempotentRequestError"
    assert len(crm.tickets()) == 1


def test_given_an_agent_cleared_the_external_id_when_redelivered_then_the_key_replay_wins(
        crm: FakeZendesk) -> None:
    cmd = command("k3", "Remboursement jamais reçu")
    created = crm.sink().deliver(cmd)
    crm.api.tickets[int(created.ticket_id or 0)]["external_id"] = None  # lookup now misses
    again = crm.sink().deliver(cmd)
    assert again.outcome is TicketOutcome.unchanged
    assert again.ticket_id == created.ticket_id
    assert len(crm.tickets()) == 1


def test_given_the_group_mapping_changed_when_a_create_is_resent_then_the_ticket_is_found(
        crm: FakeZendesk) -> None:
    cmd = command("k4", "Appli plantée", assignee_group="social")
    created = crm.sink().deliver(cmd)
    remapped = ZendeskSink(crm.api.url, crm.api.email, crm.sink()._token,
                           groups={"social": 360001})
    ticket_id, outcome = remapped.create(cmd)  # same key, other body: 400 mismatch
    assert (str(ticket_id), outcome) == (created.ticket_id, TicketOutcome.unchanged)
    assert len(crm.tickets()) == 1


def test_given_a_mismatched_key_and_no_ticket_for_the_conversation_then_bad_input(
        crm: FakeZendesk) -> None:
    cmd = command("k5", "Bonjour")
    created = crm.sink().deliver(cmd)
    crm.api.tickets[int(created.ticket_id or 0)]["external_id"] = "moved-by-an-agent"
    remapped = ZendeskSink(crm.api.url, crm.api.email, crm.sink()._token,
                           groups={"support": 360002})
    with pytest.raises(DeliveryError) as err:
        remapped.deliver(cmd)
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 400


def test_fields_are_mapped_to_zendesk_and_every_comment_is_private(crm: FakeZendesk) -> None:
    sink = crm.sink()
    first = command("m1", "Livreur très impoli", priority=1, queue="support",
                    assignee_group="social", tags=["Delivery Issue", "complaint"])
    opened = sink.deliver(first)
    sink.deliver(command("m1", "Et toujours rien", 1))
    ticket = crm.api.tickets[int(opened.ticket_id or 0)]
    assert ticket["priority"] == "urgent"
    assert ticket["group_id"] == 360002  # assignee_group wins over queue
    assert ticket["external_id"] == "x:m1"
    assert ticket["tags"] == ["delivery_issue", "complaint", "porte_voix", "queue_support",
                              "platform_x"]
    comments = crm.api.comments[ticket["id"]]
    assert [c["public"] for c in comments] == [False, False]
    assert comments[0]["body"].endswith(f"[porte-voix:{first.command_id}]")
    assert opened.ticket_url == f"{crm.api.url}/agent/tickets/{ticket['id']}"


@pytest.mark.parametrize(("priority", "expected"),
                         [(1, "urgent"), (2, "high"), (3, "normal"), (4, "low"), (5, "low")])
def test_priorities_map_to_zendesk_names(crm: FakeZendesk, priority: int, expected: str) -> None:
    payload = crm.sink().ticket_payload(command("p", "x", priority=priority))
    assert payload["ticket"]["priority"] == expected


def test_tags_have_no_spaces_and_no_duplicates() -> None:
    cmd = command("t", "x", tags=["Billing Error", "billing error", " vip "])
    assert zendesk_tags(cmd) == ["billing_error", "vip", "porte_voix", "queue_support",
                                 "platform_x"]
    assert len(idempotency_key("a" * 400)) == 255


def test_given_a_ticket_changed_since_it_was_read_when_appending_then_409_retriable(
        crm: FakeZendesk) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("s1", "Premier message"))
    snapshot = sink.get_ticket(int(opened.ticket_id or 0))
    assert snapshot is not None
    sink.deliver(command("s1", "Deuxième message", 1))  # changes updated_at
    with pytest.raises(DeliveryError) as err:
        sink.append(snapshot, command("s1", "Troisième message", 2))
    assert err.value.kind is ErrorKind.retriable and err.value.status == 409
    assert len(crm.tickets()[0].messages) == 2


def test_given_a_solved_ticket_when_a_message_arrives_then_it_is_reopened(
        crm: FakeZendesk) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("r1", "Carte refusée"))
    crm.api.set_status(int(opened.ticket_id or 0), "solved")
    follow = sink.deliver(command("r1", "Encore refusée", 1))
    assert follow.outcome is TicketOutcome.followed_up
    assert crm.api.tickets[int(opened.ticket_id or 0)]["status"] == "open"


def test_given_a_closed_ticket_when_a_message_arrives_then_a_follow_up_ticket_continues(
        crm: FakeZendesk) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("c1", "Commande perdue"))
    crm.api.set_status(int(opened.ticket_id or 0), "closed")
    follow = sink.deliver(command("c1", "Toujours perdue", 1))
    assert follow.outcome is TicketOutcome.created and follow.ticket_id != opened.ticket_id
    new = crm.api.tickets[int(follow.ticket_id or 0)]
    assert new["via_followup_source_id"] == int(opened.ticket_id or 0)
    later = crm.sink().deliver(command("c1", "Une semaine après", 2))
    assert later.ticket_id == follow.ticket_id  # the open follow-up ticket, not the closed one
    assert crm.sink().deliver(command("c1", "Toujours perdue", 1)).outcome \
        is TicketOutcome.unchanged


def test_given_a_cache_pointing_at_a_closed_ticket_then_its_follow_up_ticket_is_used(
        crm: FakeZendesk) -> None:
    stale = crm.sink()
    opened = stale.deliver(command("c2", "Commande perdue"))
    crm.api.set_status(int(opened.ticket_id or 0), "closed")
    follow = crm.sink().deliver(command("c2", "Toujours perdue", 1))
    later = stale.deliver(command("c2", "Une semaine après", 2))  # cache: the closed ticket
    assert (later.outcome, later.ticket_id) == (TicketOutcome.followed_up, follow.ticket_id)
    assert len(crm.tickets()) == 2


def test_given_a_cached_ticket_that_was_deleted_when_a_message_arrives_then_it_is_recreated(
        crm: FakeZendesk) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("d1", "Bonjour"))
    crm.api.tickets.pop(int(opened.ticket_id or 0))
    again = sink.deliver(command("d1", "Il y a quelqu'un ?", 1))
    assert again.outcome is TicketOutcome.created and again.ticket_id != opened.ticket_id


def test_given_a_spent_rate_limit_then_retriable_with_the_retry_after(crm: FakeZendesk) -> None:
    crm.api.rate_limit(after=0, times=1, retry_after="60")
    with pytest.raises(DeliveryError) as err:
        crm.sink().deliver(command("q1", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.retry_after == 60.0
    assert "APIRateLimitExceeded" in (err.value.body or "")


def test_given_a_validation_error_then_bad_input_with_zendesk_details(crm: FakeZendesk) -> None:
    sink = ZendeskSink(crm.api.url, crm.api.email, crm.sink()._token, groups={"support": 1})
    with pytest.raises(DeliveryError) as err:
        sink.deliver(command("v1", "hello"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 422
    assert "RecordInvalid" in (err.value.body or "")


def test_the_api_token_never_reaches_logs_errors_or_repr(
        crm: FakeZendesk, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    sink = crm.sink()
    sink.deliver(command("z1", "hello"))
    with pytest.raises(DeliveryError) as err:
        crm.sink_with_bad_credentials().deliver(command("z2", "hello"))
    for text in (caplog.text, str(err.value), err.value.body or "", repr(sink)):
        assert crm.api.api_token not in text
