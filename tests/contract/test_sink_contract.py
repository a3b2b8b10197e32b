"""One contract every registered CRM sink passes, against a fake that enforces its API's rules.

Idempotency is the heart of it: commands are delivered at least once, so a redelivered command
(also through a fresh sink, as after a worker restart) must never add a ticket or a message.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest

import tests.fakes.crm as fakes_pkg
from connectors.sinks.base import DeliveryError
from connectors.sinks.registry import SINKS, sink_class
from schemas.models import (
    ErrorKind,
    Kind,
    Platform,
    TicketCommand,
    TicketOutcome,
    stable_id,
)
from tests.fakes.crm import FAKES, FakeCRM

for module in pkgutil.iter_modules(fakes_pkg.__path__):
    importlib.import_module(f"{fakes_pkg.__name__}.{module.name}")
sink_class("helpdesk")  # loads every registered sink

pytestmark = pytest.mark.integration


def command(conversation: str, text: str, n: int = 0) -> TicketCommand:
    return TicketCommand(
        command_id=stable_id(conversation, text, str(n)), external_id=f"x:{conversation}",
        event_id=f"x:{conversation}-{n}", brand="Croque", platform=Platform.x, kind=Kind.mention,
        title=f"Complaint: {text[:40]}", body=text, queue="support", priority=3,
        tags=["complaint", "delivery"], author_handle="@client", url="https://x.com/i/1",
        created_at=datetime(2026, 11, 14, 21, n % 60, tzinfo=UTC),
    )


def test_every_registered_sink_has_a_fake_for_the_contract_suite() -> None:
    assert set(SINKS) <= set(FAKES), f"sinks without a fake: {set(SINKS) - set(FAKES)}"


@pytest.fixture(params=sorted(SINKS), scope="module")
def fake(request: pytest.FixtureRequest) -> Iterator[FakeCRM]:
    crm = FAKES[request.param]()
    crm.start()
    try:
        yield crm
    finally:
        crm.stop()


def _ticket(crm: FakeCRM, external_id: str):  # type: ignore[no-untyped-def]
    found = [t for t in crm.tickets() if t.external_id == external_id]
    assert len(found) == 1, f"{len(found)} tickets for {external_id}"
    return found[0]


def test_config_model_reads_its_settings_and_keeps_secrets_secret(fake: FakeCRM) -> None:
    model = SINKS[fake.name].config_model
    assert model.model_config.get("env_prefix", "").startswith("PORTE_VOIX_")
    secret_fields = [n for n, f in model.model_fields.items() if "SecretStr" in str(f.annotation)]
    assert secret_fields, f"{fake.name} config has no SecretStr credential"


def test_first_message_opens_a_ticket_and_the_next_is_added_to_it(fake: FakeCRM) -> None:
    sink = fake.sink()
    opened = sink.deliver(command("c1", "Ma commande n'est jamais arrivée"))
    assert opened.outcome is TicketOutcome.created and opened.ticket_id
    follow = sink.deliver(command("c1", "Toujours rien, 2h après", 1))
    assert follow.outcome is TicketOutcome.followed_up
    assert follow.ticket_id == opened.ticket_id
    ticket = _ticket(fake, "x:c1")
    assert sum("jamais arrivée" in m for m in ticket.messages) == 1
    assert sum("2h après" in m for m in ticket.messages) == 1


def test_a_redelivered_command_changes_nothing_even_after_a_restart(fake: FakeCRM) -> None:
    first = fake.sink()
    first.deliver(command("c2", "Card declined everywhere tonight"))
    first.deliver(command("c2", "still declined", 1))
    before = _ticket(fake, "x:c2").messages
    restarted = fake.sink()  # empty caches, like a new worker
    again = restarted.deliver(command("c2", "still declined", 1))
    assert again.outcome is TicketOutcome.unchanged
    reopen = restarted.deliver(command("c2", "Card declined everywhere tonight"))
    assert reopen.outcome is TicketOutcome.unchanged
    assert _ticket(fake, "x:c2").messages == before


def test_two_conversations_make_two_tickets(fake: FakeCRM) -> None:
    sink = fake.sink()
    a = sink.deliver(command("c3", "where is my refund?"))
    b = sink.deliver(command("c4", "where is my refund?"))
    assert a.ticket_id != b.ticket_id


def test_wrong_credentials_are_fatal(fake: FakeCRM) -> None:
    with pytest.raises(DeliveryError) as err:
        fake.sink_with_bad_credentials().deliver(command("c5", "hello?"))
    assert err.value.kind is ErrorKind.fatal


@pytest.mark.parametrize(("status", "headers", "kind", "retry_after"), [
    (429, {"Retry-After": "30"}, ErrorKind.retriable, 30.0),
    (503, {}, ErrorKind.retriable, None),
    (400, {}, ErrorKind.bad_input, None),
    (422, {}, ErrorKind.bad_input, None),
])
def test_api_failures_are_sorted_by_the_error_table(
    fake: FakeCRM, status: int, headers: dict[str, str], kind: ErrorKind,
    retry_after: float | None,
) -> None:
    if not fake.supports_fault_injection:
        pytest.skip(f"{fake.name} is a real system: failures are tested in its own suite")
    fake.fail_next(20, status, headers, body='{"error": "injected"}')
    with pytest.raises(DeliveryError) as err:
        fake.sink().deliver(command(f"f{status}", "injected failure"))
    assert err.value.kind is kind
    if retry_after is not None:
        assert err.value.retry_after == retry_after
    fake.fail_next(0, 200)
