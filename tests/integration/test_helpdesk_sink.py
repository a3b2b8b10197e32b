"""HelpdeskSink against a real django-helpdesk: tickets, follow-ups, redeliveries, failures."""

from __future__ import annotations

import socket
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
import requests
from pydantic import SecretStr

from connectors.sinks.base import DeliveryError
from connectors.sinks.helpdesk import CLOSED, REOPENED, HelpdeskSink, build_session, marker
from infra.helpdesk_server import HelpdeskError, HelpdeskInfo, HelpdeskServer, free_port
from schemas.models import Action, ErrorKind, Kind, Platform, TicketCommand, TicketOutcome
from tests.integration.helpdesk_fixture import helpdesk  # noqa: F401

pytestmark = pytest.mark.integration


def command(
    conversation: str,
    body: str,
    *,
    command_id: str | None = None,
    action: Action = Action.created,
    kind: Kind = Kind.comment,
    queue: str = "support",
    title: str = "Colis jamais livré / parcel never delivered",
) -> TicketCommand:
    return TicketCommand(
        command_id=command_id or uuid.uuid4().hex,
        external_id=conversation,
        event_id=f"facebook:{uuid.uuid4().hex[:8]}",
        action=action,
        brand="acme",
        platform=Platform.facebook,
        kind=kind,
        title=title,
        body=body,
        queue=queue,
        priority=2,
        author_handle="@marie",
        url="https://facebook.example/posts/1?comment=2",
        created_at=datetime(2025, 3, 1, 12, 0, tzinfo=UTC),
    )


def conversation() -> str:
    return f"facebook:thread-{uuid.uuid4().hex[:12]}"


@pytest.fixture
def sink(helpdesk: HelpdeskInfo) -> Iterator[HelpdeskSink]:  # noqa: F811
    with HelpdeskSink.from_info(helpdesk) as made:
        assert isinstance(made, HelpdeskSink)
        yield made


def comments(sink: HelpdeskSink, ticket_id: str | None) -> list[str]:
    assert ticket_id is not None
    return [str(f["comment"]) for f in sink.followups(int(ticket_id))]


def test_first_message_creates_a_ticket_carrying_the_conversation_key_and_marker(
    sink: HelpdeskSink, helpdesk: HelpdeskInfo  # noqa: F811
) -> None:
    key = conversation()
    cmd = command(key, "Ma commande n'est jamais arrivée, order 1234")

    result = sink.deliver(cmd)

    assert result.outcome is TicketOutcome.created
    assert result.target == "helpdesk"
    assert result.ticket_url == f"{helpdesk.base_url}/tickets/{result.ticket_id}/"
    ticket = sink.find_ticket(key)
    assert ticket is not None
    assert str(ticket["id"]) == result.ticket_id
    assert ticket["custom_external_id"] == key
    assert ticket["title"] == cmd.title
    assert ticket["queue"] == helpdesk.queues["support"]
    assert ticket["priority"] == 2
    description = ticket["description"].splitlines()
    assert description[0] == "Ma commande n'est jamais arrivée, order 1234"
    assert "Author: @marie" in description
    assert "URL: https://facebook.example/posts/1?comment=2" in description
    assert any(line.startswith("Platform: facebook (comment)") for line in description)
    assert description[-1] == marker(cmd.command_id)
    page = requests.get(result.ticket_url, allow_redirects=False, timeout=10)
    assert page.status_code == 302 and "/login/" in page.headers["Location"]


def test_second_message_of_a_conversation_is_a_private_followup_on_the_same_ticket(
    sink: HelpdeskSink,
) -> None:
    key = conversation()
    first = sink.deliver(command(key, "Where is my parcel?"))
    second_cmd = command(key, "Toujours rien reçu", title="another title")

    second = sink.deliver(second_cmd)

    assert second.outcome is TicketOutcome.followed_up
    assert second.ticket_id == first.ticket_id
    followup = sink.followups(int(first.ticket_id or 0))[-1]
    assert followup["comment"].startswith("Toujours rien reçu\n")
    assert followup["comment"].splitlines()[-1] == marker(second_cmd.command_id)
    assert followup["public"] is False
    ticket = sink.find_ticket(key)
    assert ticket is not None and ticket["title"] == command(key, "").title


def test_redelivered_commands_are_not_written_twice_even_by_a_fresh_sink(
    sink: HelpdeskSink, helpdesk: HelpdeskInfo  # noqa: F811
) -> None:
    key = conversation()
    opening = command(key, "first")
    reply = command(key, "second")
    created = sink.deliver(opening)
    sink.deliver(reply)
    before = comments(sink, created.ticket_id)

    again = [sink.deliver(opening), sink.deliver(reply)]
    with HelpdeskSink.from_info(helpdesk) as restarted:
        after_restart = [restarted.deliver(opening), restarted.deliver(reply)]

    assert [r.outcome for r in again + after_restart] == [TicketOutcome.unchanged] * 4
    assert {r.ticket_id for r in again + after_restart} == {created.ticket_id}
    assert comments(sink, created.ticket_id) == before
    assert len(before) == 2  # "Ticket Opened" (the description) and the reply


def test_two_conversations_get_two_tickets(sink: HelpdeskSink) -> None:
    first = sink.deliver(command(conversation(), "one"))
    second = sink.deliver(command(conversation(), "two"))

    assert first.outcome is second.outcome is TicketOutcome.created
    assert first.ticket_id != second.ticket_id


def test_edited_review_appends_an_edit_followup(sink: HelpdeskSink) -> None:
    key = conversation()
    created = sink.deliver(command(key, "Service lent", kind=Kind.review))

    edited = sink.deliver(
        command(key, "Service lent, mais remboursé", kind=Kind.review, action=Action.edited)
    )

    assert edited.outcome is TicketOutcome.followed_up
    assert edited.ticket_id == created.ticket_id
    assert comments(sink, created.ticket_id)[-1].startswith(
        "review edited: Service lent, mais remboursé\n"
    )


def test_template_syntax_in_a_message_is_stored_not_evaluated(sink: HelpdeskSink) -> None:
    key = conversation()
    created = sink.deliver(command(key, "opening"))
    text = "Promo {{ ticket.title }} à 100%} {% now 'Y' %} {# note #}"

    result = sink.deliver(command(key, text))

    assert result.outcome is TicketOutcome.followed_up
    stored = comments(sink, created.ticket_id)[-1].splitlines()[0]
    assert stored.replace("\u200b", "") == text


def test_new_message_on_a_closed_ticket_reopens_it(sink: HelpdeskSink) -> None:
    key = conversation()
    created = sink.deliver(command(key, "broken"))
    sink._request(
        "POST",
        "/api/followups/",
        json={"ticket": int(created.ticket_id or 0), "comment": "fixed", "new_status": CLOSED},
    )

    result = sink.deliver(command(key, "still broken"))

    assert result.outcome is TicketOutcome.followed_up
    assert result.ticket_id == created.ticket_id
    ticket = sink.get_ticket(int(created.ticket_id or 0))
    assert ticket is not None and ticket["status"] == REOPENED


def test_cached_ticket_that_was_deleted_is_looked_up_again(sink: HelpdeskSink) -> None:
    key = conversation()
    created = sink.deliver(command(key, "first"))
    sink._request("DELETE", f"/api/tickets/{created.ticket_id}/")

    result = sink.deliver(command(key, "second"))

    assert result.outcome is TicketOutcome.created
    assert result.ticket_id != created.ticket_id


def test_sink_given_only_url_and_token_finds_queue_ids_itself(
    helpdesk: HelpdeskInfo,  # noqa: F811
) -> None:
    with HelpdeskSink(helpdesk.base_url, helpdesk.api_token) as bare:
        assert isinstance(bare, HelpdeskSink)
        result = bare.deliver(command(conversation(), "hello", queue="social-media"))
        ticket = bare.get_ticket(int(result.ticket_id or 0))

    assert bare.queues == helpdesk.queues
    assert ticket is not None and ticket["queue"] == helpdesk.queues["social-media"]


def test_unknown_queue_is_bad_input_and_creates_nothing(sink: HelpdeskSink) -> None:
    key = conversation()

    with pytest.raises(DeliveryError) as caught:
        sink.deliver(command(key, "hello", queue="no-such-queue"))

    assert caught.value.kind is ErrorKind.bad_input
    assert sink.find_ticket(key) is None


def test_wrong_token_is_fatal(helpdesk: HelpdeskInfo) -> None:  # noqa: F811
    bad = HelpdeskSink(helpdesk.base_url, SecretStr("not-a-token"), queues=helpdesk.queues)

    with pytest.raises(DeliveryError) as caught:
        bad.deliver(command(conversation(), "hello"))

    assert caught.value.kind is ErrorKind.fatal
    assert caught.value.status == 401
    assert "not-a-token" not in str(caught.value)


@pytest.fixture(scope="module")
def own_data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir for tests that stop or break their own helpdesk (not the shared one)."""
    return tmp_path_factory.mktemp("own-helpdesk")


def test_stopped_helpdesk_is_retriable_and_a_restart_keeps_token_queues_and_tickets(
    own_data_dir: Path,
) -> None:
    server = HelpdeskServer(own_data_dir, free_port(), queues=("support",))
    info = server.start()
    try:
        sink = HelpdeskSink.from_info(info, session=build_session(retries=1, backoff_factor=0))
        cmd = command(conversation(), "hello")
        created = sink.deliver(cmd)
        server.stop()

        with pytest.raises(DeliveryError) as caught:
            sink.deliver(command(cmd.external_id, "are you there?"))
        assert caught.value.kind is ErrorKind.retriable

        again = server.start()
        assert again.api_token.get_secret_value() == info.api_token.get_secret_value()
        assert again.queues == info.queues
        redelivered = sink.deliver(cmd)
        assert redelivered.outcome is TicketOutcome.unchanged
        assert redelivered.ticket_id == created.ticket_id
    finally:
        server.stop()


def test_helpdesk_that_cannot_bind_its_port_fails_with_waitress_stderr(own_data_dir: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        server = HelpdeskServer(own_data_dir, taken.getsockname()[1], start_timeout=20)

        with pytest.raises(HelpdeskError) as caught:
            server.start()

    assert "Address already in use" in str(caught.value)
    assert not server.running
