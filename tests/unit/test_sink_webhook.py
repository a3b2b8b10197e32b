"""Signed webhook sink: the signature, the receivers' verification helper, the response contract."""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from collections.abc import Iterator
from datetime import UTC, datetime

import pytest
from pydantic import SecretStr

from connectors.sinks.base import DeliveryError
from connectors.sinks.webhook import WebhookConfig, WebhookSink, sign, verify_signature
from schemas.models import ErrorKind, Kind, Platform, TicketCommand, TicketOutcome, stable_id
from tests.fakes.crm.webhook import FakeWebhookReceiver

SECRET = "whsec-test-1"
TS = "1767225600"


def command(conversation: str, text: str, n: int = 0) -> TicketCommand:
    return TicketCommand(
        command_id=stable_id(conversation, text, str(n)), external_id=f"yt:{conversation}",
        event_id=f"yt:{conversation}-{n}", brand="Nuvia Mobile", platform=Platform.youtube,
        kind=Kind.comment, title=text[:40], body=text,
        created_at=datetime(2026, 1, 1, 0, n, tzinfo=UTC),
    )


@pytest.fixture
def fake() -> Iterator[FakeWebhookReceiver]:
    with FakeWebhookReceiver() as receiver:
        yield receiver


def expected_signature(secret: str, timestamp: str, body: bytes) -> str:
    return "sha256=" + hmac.new(secret.encode(), f"{timestamp}.".encode() + body,
                                hashlib.sha256).hexdigest()


def test_sign_is_hmac_sha256_over_timestamp_dot_body() -> None:
    body = '{"event":"ticket.message","text":"déçu"}'.encode()
    assert sign(SECRET, TS, body) == expected_signature(SECRET, TS, body)
    assert sign(SECRET.encode(), TS, body) == sign(SECRET, TS, body)


def test_delivered_request_is_signed_keyed_and_carries_the_command(
        fake: FakeWebhookReceiver) -> None:
    cmd = command("a", "La 5G ne marche plus à Lyon")
    WebhookSink(WebhookConfig(url=fake.endpoint, secret=SecretStr(fake.secret))).deliver(cmd)
    [request] = fake.requests
    timestamp = request.headers["x-portevoix-timestamp"]
    assert abs(int(timestamp) - time.time()) < 5
    assert request.headers["x-portevoix-signature"] == expected_signature(
        fake.secret, timestamp, request.body)  # type: ignore[attr-defined]
    assert request.headers["idempotency-key"] == cmd.command_id
    payload = json.loads(request.body)  # type: ignore[attr-defined]
    assert payload["event"] == "ticket.message"
    assert TicketCommand.model_validate(payload["command"]) == cmd


@pytest.mark.parametrize(("case", "secret", "body", "header", "now", "valid"), [
    ("genuine", SECRET, b"{}", None, int(TS), True),
    ("299 s old", SECRET, b"{}", None, int(TS) + 299, True),
    ("301 s old", SECRET, b"{}", None, int(TS) + 301, False),
    ("from the future", SECRET, b"{}", None, int(TS) - 301, False),
    ("body tampered", SECRET, b"{ }", None, int(TS), False),
    ("other secret", "whsec-other", b"{}", None, int(TS), False),
    ("no scheme", SECRET, b"{}", "bare", int(TS), False),
    ("no header", SECRET, b"{}", "", int(TS), False),
])
def test_verify_signature_accepts_only_genuine_fresh_requests(
        case: str, secret: str, body: bytes, header: str | None, now: int, valid: bool) -> None:
    good = sign(SECRET, TS, b"{}")
    if header == "bare":
        header = good.removeprefix("sha256=")
    elif header is None:
        header = good
    assert verify_signature(secret, TS, body, header, tolerance_s=300, now=now) is valid, case


def test_verify_signature_refuses_a_malformed_timestamp() -> None:
    good = sign(SECRET, TS, b"{}")
    assert not verify_signature(SECRET, "12a", b"{}", good)
    assert not verify_signature(SECRET, None, b"{}", good)


def test_a_stale_request_is_refused_by_the_receiver_and_is_fatal(
        fake: FakeWebhookReceiver) -> None:
    late = WebhookSink(WebhookConfig(url=fake.endpoint, secret=SecretStr(fake.secret)),
                       clock=lambda: time.time() - 3600)
    with pytest.raises(DeliveryError) as err:
        late.deliver(command("b", "hello"))
    assert err.value.kind is ErrorKind.fatal and err.value.status == 401


@pytest.mark.parametrize(("status", "body", "outcome", "ticket_id"), [
    (201, {"ticket_id": "T-9", "created": True, "duplicate": False}, TicketOutcome.created, "T-9"),
    (202, {"ticket_id": "T-9", "created": False, "duplicate": False},
     TicketOutcome.followed_up, "T-9"),
    (200, {"ticket_id": "T-9", "created": False, "duplicate": True},
     TicketOutcome.unchanged, "T-9"),
    (204, None, TicketOutcome.updated, None),
    (200, "ok", TicketOutcome.updated, None),
])
def test_response_contract_decides_the_outcome(
        fake: FakeWebhookReceiver, status: int, body: object, outcome: TicketOutcome,
        ticket_id: str | None) -> None:
    fake.fail_next(1, status, body=json.dumps(body) if body is not None else "")
    result = WebhookSink(WebhookConfig(url=fake.endpoint, secret=SecretStr(fake.secret))
                         ).deliver(command("c", "hello"))
    assert (result.outcome, result.ticket_id) == (outcome, ticket_id)


def test_a_redirect_is_not_followed_and_is_fatal(fake: FakeWebhookReceiver) -> None:
    fake.fail_next(1, 307, headers={"Location": f"{fake.url}/elsewhere"})
    with pytest.raises(DeliveryError) as err:
        WebhookSink(WebhookConfig(url=fake.endpoint, secret=SecretStr(fake.secret))
                    ).deliver(command("d", "hello"))
    assert err.value.kind is ErrorKind.fatal and len(fake.requests) == 1


def test_an_empty_secret_is_fatal_before_anything_is_sent(fake: FakeWebhookReceiver) -> None:
    with pytest.raises(DeliveryError) as err:
        WebhookSink(WebhookConfig(url=fake.endpoint)).deliver(command("e", "hello"))
    assert err.value.kind is ErrorKind.fatal and not fake.requests


def test_rate_limited_receiver_is_retriable_with_its_retry_after(
        fake: FakeWebhookReceiver) -> None:
    fake.rate_limit(after=0, times=1, retry_after="7")
    with pytest.raises(DeliveryError) as err:
        WebhookSink(WebhookConfig(url=fake.endpoint, secret=SecretStr(fake.secret))
                    ).deliver(command("f", "hello"))
    assert err.value.kind is ErrorKind.retriable and err.value.retry_after == 7.0
