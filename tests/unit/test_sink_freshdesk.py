"""Freshdesk sink behaviour the shared contract does not cover, against the local fake.

Search quoting of odd keys, the search index lag, the field mapping, the ``errors`` array of a
400, the rate-limit headers and the lookup cache.
"""

from __future__ import annotations

from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
import requests

from connectors.sinks.base import DeliveryError
from connectors.sinks.freshdesk import FreshdeskSink, search_query, stored_key, to_html
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.freshdesk import FakeFreshdesk

ODD_KEYS = [
    "forum:l'été \"chaud\"",
    "x:a b\\c",
    "youtube:Ω/é?&=#",
    "reddit:' OR status:2 OR cf_external_id:'",
]


def command(external_id: str, text: str, n: int = 0, **extra: object) -> TicketCommand:
    fields: dict[str, object] = {
        "command_id": stable_id(external_id, text, str(n)), "external_id": external_id,
        "event_id": f"{external_id}-{n}", "brand": "Croque", "platform": Platform.forum,
        "kind": Kind.comment, "title": f"Plainte : {text[:40]}", "body": text,
        "created_at": datetime(2026, 11, 14, 21, n, tzinfo=UTC),
    }
    fields.update(extra)
    return TicketCommand.model_validate(fields)


@pytest.fixture
def crm() -> Iterator[FakeFreshdesk]:
    fake = FakeFreshdesk(index_delay=0.0)
    fake.start()
    yield fake
    fake.stop()


@pytest.fixture
def lagging() -> Iterator[FakeFreshdesk]:
    fake = FakeFreshdesk(index_delay=600.0)
    fake.start()
    yield fake
    fake.stop()


def test_safe_keys_are_stored_verbatim_and_odd_ones_as_a_stable_digest() -> None:
    assert stored_key("google_reviews:accounts/1/reviews/a-b.c@d") == \
        "google_reviews:accounts/1/reviews/a-b.c@d"
    digests = {stored_key(k) for k in ODD_KEYS}
    assert len(digests) == len(ODD_KEYS)
    assert all(d.startswith("pv-") and d == stored_key(k) for d, k in zip(
        [stored_key(k) for k in ODD_KEYS], ODD_KEYS, strict=True))
    assert search_query("cf_external_id", "x:c1") == "\"cf_external_id:'x:c1'\""
    with pytest.raises(ValueError):
        search_query("cf_external_id", "l'été")


def test_given_odd_conversation_keys_then_every_query_parses_and_each_gets_its_ticket(
        crm: FakeFreshdesk) -> None:
    sink = crm.sink()
    opened = {key: sink.deliver(command(key, "Bonjour")) for key in ODD_KEYS}
    assert len({r.ticket_id for r in opened.values()}) == len(ODD_KEYS)
    restarted = crm.sink()
    before = len(crm.api.requests)
    for key in ODD_KEYS:
        follow = restarted.deliver(command(key, "Encore moi", 1))
        assert follow.outcome is TicketOutcome.followed_up
        assert follow.ticket_id == opened[key].ticket_id
    assert 400 not in crm.api.statuses
    later = [r.path for r in crm.api.requests[before:]]
    assert "/api/v2/tickets" not in later  # found by search, no list fallback needed
    assert all(q.startswith("\"cf_external_id:'pv-") for q in crm.api.queries)


def test_given_the_search_index_lags_when_a_fresh_sink_redelivers_then_recent_tickets_find_it(
        lagging: FakeFreshdesk) -> None:
    cmd = command("x:lag", "Service client injoignable")
    lagging.sink().deliver(cmd)
    again = lagging.sink().deliver(cmd)
    assert again.outcome is TicketOutcome.unchanged
    assert len(lagging.tickets()) == 1
    listed = [r for r in lagging.api.requests if r.path == "/api/v2/tickets"]
    assert listed and "updated_since" in listed[-1].query


def test_given_many_recent_tickets_then_the_recent_list_is_paged_by_link_header(
        lagging: FakeFreshdesk) -> None:
    sink = lagging.sink()
    for i in range(105):
        sink.create(command(f"x:bulk{i}", "spam"))
    again = lagging.sink().deliver(command("x:bulk0", "spam"))  # the oldest, on page 2
    assert again.outcome is TicketOutcome.unchanged
    pages = [r.query.get("page") for r in lagging.api.requests if r.path == "/api/v2/tickets"]
    assert pages[-2:] == ["1", "2"]


def test_fields_are_mapped_to_freshdesk_and_notes_are_private(crm: FakeFreshdesk) -> None:
    sink = FreshdeskSink(crm.api.url, crm.sink()._api_key, groups={"billing": 5002},
                         requester_email="social@croque.example")
    first = command("x:m1", "Facture <b>doublée</b> & rien", priority=1, queue="billing",
                    tags=["billing"])
    opened = sink.deliver(first)
    sink.deliver(command("x:m1", "Toujours rien", 1))
    ticket = crm.api.tickets[int(opened.ticket_id or 0)]
    assert (ticket["priority"], ticket["status"], ticket["group_id"]) == (4, 2, 5002)
    assert ticket["email"] == "social@croque.example"
    assert ticket["custom_fields"]["cf_external_id"] == "x:m1"
    assert ticket["tags"] == ["billing", "porte-voix", "queue:billing", "platform:forum"]
    assert "&lt;b&gt;doublée&lt;/b&gt; &amp; rien" in ticket["description"]
    assert ticket["description_text"].splitlines()[-1] == f"[porte-voix:{first.command_id}]"
    notes = crm.api.conversations[ticket["id"]]
    assert [n["private"] for n in notes] == [True]
    assert opened.ticket_url == f"{crm.api.url}/a/tickets/{ticket['id']}"


@pytest.mark.parametrize(("priority", "expected"), [(1, 4), (2, 3), (3, 2), (4, 1), (5, 1)])
def test_priorities_map_to_freshdesk_numbers(crm: FakeFreshdesk, priority: int,
                                             expected: int) -> None:
    assert crm.sink().ticket_payload(command("x:p", "x", priority=priority))["priority"] \
        == expected


def test_html_rendering_keeps_lines() -> None:
    assert to_html("a < b\nc") == "a &lt; b<br>c"


def test_given_a_validation_error_then_bad_input_with_the_errors_array(
        crm: FakeFreshdesk) -> None:
    sink = FreshdeskSink(crm.api.url, crm.sink()._api_key, groups={"support": 999})
    with pytest.raises(DeliveryError) as err:
        sink.deliver(command("x:v1", "hello"))
    assert err.value.kind is ErrorKind.bad_input and err.value.status == 400
    assert '"errors"' in (err.value.body or "") and "group_id" in (err.value.body or "")


def test_given_a_spent_rate_limit_then_retriable_with_the_retry_after(
        crm: FakeFreshdesk) -> None:
    ok = requests.get(f"{crm.api.url}/api/v2/tickets", auth=(crm.api.api_key, "X"), timeout=5)
    assert {"X-RateLimit-Total", "X-RateLimit-Remaining",
            "X-RateLimit-Used-CurrentRequest"} <= set(ok.headers)
    crm.api.rate_limit(after=0, times=1, retry_after="60")
    with pytest.raises(DeliveryError) as err:
        crm.sink().deliver(command("x:q1", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.retry_after == 60.0


def test_given_a_cached_ticket_that_was_deleted_when_a_message_arrives_then_it_is_recreated(
        crm: FakeFreshdesk) -> None:
    sink = crm.sink()
    opened = sink.deliver(command("x:d1", "Bonjour"))
    crm.api.tickets.pop(int(opened.ticket_id or 0))
    again = sink.deliver(command("x:d1", "Il y a quelqu'un ?", 1))
    assert again.outcome is TicketOutcome.created and again.ticket_id != opened.ticket_id


def test_the_fake_refuses_unquoted_and_overlong_queries(crm: FakeFreshdesk) -> None:
    auth = (crm.api.api_key, "X")
    url = f"{crm.api.url}/api/v2/search/tickets"
    for query in ("priority:3", "'priority:3'", f"\"cf_external_id:'{'a' * 520}'\"",
                  "\"cf_external_id:'l'été'\""):
        answer = requests.get(url, params={"query": query}, auth=auth, timeout=5)
        assert answer.status_code == 400, query
        assert answer.json()["errors"][0]["field"] == "query"
