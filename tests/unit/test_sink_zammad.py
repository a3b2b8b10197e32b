"""Zammad sink behaviour the shared contract does not cover, against the local Zammad fake.

Internal notes only, phrase quoting of odd keys, the field mapping, 422 answers and the lookup
cache over the indexing delay.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

from connectors.sinks.base import DeliveryError
from connectors.sinks.zammad import ZammadSink, search_query, zammad_tags
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.zammad import FakeZammad


def command(external_id: str, text: str, n: int = 0, **extra: object) -> TicketCommand:
    fields: dict[str, object] = {
        "command_id": stable_id(external_id, text, str(n)), "external_id": external_id,
        "event_id": f"{external_id}-{n}", "brand": "Croque", "platform": Platform.instagram,
        "kind": Kind.dm, "title": f"DM : {text[:40]}", "body": text,
        "created_at": datetime(2026, 11, 14, 21, n, tzinfo=UTC),
    }
    fields.update(extra)
    return TicketCommand.model_validate(fields)


@pytest.fixture
def crm() -> Iterator[FakeZammad]:
    fake = FakeZammad()
    fake.start()
    yield fake
    fake.stop()


def test_every_article_written_is_an_internal_plain_text_note(crm: FakeZammad) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("instagram:n1", "Mon compte est bloqué"))
    sink.deliver(command("instagram:n1", "Toujours bloqué", 1))
    articles = crm.api.articles[int(opened.ticket_id or 0)]
    assert [(a["type"], a["internal"], a["content_type"]) for a in articles] == \
        [("note", True, "text/plain")] * 2


def test_phrase_quoting_escapes_backslashes_and_quotes() -> None:
    assert search_query("porte_voix_external_id", 'x:"a"\\b') == \
        'porte_voix_external_id:"x:\\"a\\"\\\\b"'


@pytest.mark.parametrize("key", ['forum:l\'été "chaud"', "x:a\\b", "youtube:Ω AND x:*"])
def test_given_an_odd_key_when_redelivered_through_a_fresh_sink_then_unchanged(
        crm: FakeZammad, key: str) -> None:
    cmd = command(key, "Bonjour")
    opened = crm.sink().deliver(cmd)
    again = crm.sink().deliver(cmd)
    assert (again.outcome, again.ticket_id) == (TicketOutcome.unchanged, opened.ticket_id)
    assert 422 not in crm.api.statuses
    assert [t.external_id for t in crm.tickets()] == [key]


def test_fields_are_mapped_to_zammad(crm: FakeZammad) -> None:
    sink = crm.sink(customer_email="social@croque.example")
    opened = sink.deliver(command("instagram:m1", "Livraison, ratée", priority=2,
                                  queue="social", tags=["delivery, late", "vip"]))
    ticket = crm.api.tickets[int(opened.ticket_id or 0)]
    assert ticket["group_id"] == crm.api.groups["Social"]
    assert ticket["priority_id"] == 3  # "3 high"
    assert ticket["customer_id"] == crm.api.customers["social@croque.example"]
    assert ticket["porte_voix_external_id"] == "instagram:m1"
    assert ticket["tags"] == ["delivery  late", "vip", "porte-voix", "queue:social",
                              "platform:instagram"]
    assert opened.ticket_url == f"{crm.api.url}/#ticket/zoom/{ticket['id']}"


def test_unmapped_queues_go_to_the_default_group_and_priorities_use_zammad_names(
        crm: FakeZammad) -> None:
    sink = crm.sink()
    payload = sink.ticket_payload(command("x:g", "x", queue="unknown", priority=5))
    assert (payload["group"], payload["priority"]) == ("Users", "1 low")
    assert zammad_tags(command("x:t", "x", tags=["a,b"])).split(",")[0] == "a b"


def test_given_an_unknown_group_then_bad_input_with_zammads_error(crm: FakeZammad) -> None:
    sink = ZammadSink(crm.api.url, crm.sink()._token, default_group="Nope")
    with pytest.raises(DeliveryError) as err:
        sink.deliver(command("x:e1", "hello"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 422
    assert "error_human" in (err.value.body or "")


def test_given_the_index_lags_then_the_cache_keeps_one_ticket_within_a_sink() -> None:
    fake = FakeZammad(index_delay=600.0)
    fake.start()
    try:
        sink = fake.sink()
        opened = sink.deliver(command("x:lag", "Premier"))
        follow = sink.deliver(command("x:lag", "Second", 1))
        assert (follow.outcome, follow.ticket_id) == (TicketOutcome.followed_up,
                                                      opened.ticket_id)
        assert len(fake.tickets()) == 1
    finally:
        fake.stop()


def test_given_a_cached_ticket_that_was_deleted_when_a_message_arrives_then_it_is_recreated(
        crm: FakeZammad) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("x:d1", "Bonjour"))
    crm.api.tickets.pop(int(opened.ticket_id or 0))
    again = sink.deliver(command("x:d1", "Il y a quelqu'un ?", 1))
    assert again.outcome is TicketOutcome.created and again.ticket_id != opened.ticket_id


def test_given_a_spent_rate_limit_then_retriable_with_the_retry_after(crm: FakeZammad) -> None:
    crm.api.rate_limit(after=0, times=1, retry_after="60")
    with pytest.raises(DeliveryError) as err:
        crm.sink().deliver(command("x:q1", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.retry_after == 60.0
