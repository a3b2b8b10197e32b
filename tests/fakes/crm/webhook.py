"""A local receiver of Porte-Voix's signed webhooks, behaving as the documented contract asks.

- Signature and freshness checked with :func:`connectors.sinks.webhook.verify_signature`
  (401 ``{"error": "invalid signature"}`` otherwise; ``tolerance_s`` bounds the timestamp's age).
- The body must be ``{"event": "ticket.message", "command": <valid TicketCommand>}`` and carry an
  ``Idempotency-Key`` equal to its ``command_id`` (400 / 422 otherwise).
- Dedupes on Idempotency-Key: a key seen before answers 200 ``duplicate: true`` and writes
  nothing. The first command of an ``external_id`` opens a ticket (201 ``created: true``), later
  ones are appended (200).
- After the budget, 429 with Retry-After; ``fail_next`` injects any answer.
"""

from __future__ import annotations

import itertools
import secrets
from typing import Any

from pydantic import SecretStr, ValidationError

from connectors.sinks.base import TicketSink
from connectors.sinks.webhook import (
    EVENT,
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WebhookConfig,
    WebhookSink,
    verify_signature,
)
from schemas.models import TicketCommand
from tests.fakes.base import Answer, FakeApi, Request
from tests.fakes.crm import FakeTicket, register_fake

PATH = "/hooks/porte-voix"


class FakeWebhookReceiver(FakeApi):
    name = "webhook"

    def __init__(self, *, tolerance_s: float = 300) -> None:
        super().__init__()
        self.secret = secrets.token_hex(16)
        self.tolerance_s = tolerance_s
        self.by_key: dict[str, str] = {}  # Idempotency-Key -> ticket id
        self.ticket_of: dict[str, str] = {}  # external id -> ticket id
        self.messages: dict[str, list[str]] = {}  # ticket id -> bodies
        self._ids = itertools.count(1)
        self.route("POST", PATH, self._receive)

    @property
    def endpoint(self) -> str:
        return f"{self.url}{PATH}"

    def sink(self) -> TicketSink:
        return WebhookSink(WebhookConfig(url=self.endpoint, secret=SecretStr(self.secret)))

    def sink_with_bad_credentials(self) -> TicketSink:
        return WebhookSink(WebhookConfig(url=self.endpoint, secret=SecretStr("not-the-secret")))

    def tickets(self) -> list[FakeTicket]:
        with self._lock:
            return [FakeTicket(external_id, list(self.messages[ticket_id]))
                    for external_id, ticket_id in self.ticket_of.items()]

    def authorized(self, request: Request) -> bool:
        return True  # the signature covers the body: checked in the handler

    def throttled(self) -> Answer:
        return Answer(429, {"error": "slow down"}, {"Retry-After": self._retry_after})

    def not_found(self, request: Request | None = None) -> Answer:
        where = f" {request.method} {request.path}" if request else ""
        return Answer(404, {"error": f"no route{where}"})

    def malformed(self, exc: Exception) -> Answer:
        return Answer(400, {"error": f"malformed request: {exc}"})

    def _receive(self, request: Request) -> Answer:
        if not verify_signature(self.secret, request.headers.get(TIMESTAMP_HEADER.lower()),
                                request.body, request.headers.get(SIGNATURE_HEADER.lower()),
                                self.tolerance_s):
            return Answer(401, {"error": "invalid signature"})
        key = request.headers.get("idempotency-key")
        if not key:
            return Answer(400, {"error": "Idempotency-Key is required"})
        if key in self.by_key:
            return Answer(200, {"ticket_id": self.by_key[key], "created": False,
                                "duplicate": True})
        payload: Any = request.json()
        if not isinstance(payload, dict) or payload.get("event") != EVENT:
            return Answer(400, {"error": f"event must be {EVENT}"})
        try:
            cmd = TicketCommand.model_validate(payload.get("command"))
        except ValidationError as exc:
            detail = exc.errors(include_url=False, include_context=False, include_input=False)
            return Answer(422, {"error": "invalid command", "detail": detail[:3]})
        if cmd.command_id != key:
            return Answer(422, {"error": "Idempotency-Key differs from command_id"})
        created = cmd.external_id not in self.ticket_of
        if created:
            self.ticket_of[cmd.external_id] = f"T-{next(self._ids)}"
            self.messages[self.ticket_of[cmd.external_id]] = []
        ticket_id = self.ticket_of[cmd.external_id]
        self.messages[ticket_id].append(cmd.body)
        self.by_key[key] = ticket_id
        return Answer(201 if created else 200, {
            "ticket_id": ticket_id, "ticket_url": f"{self.url}/tickets/{ticket_id}",
            "created": created, "duplicate": False})


register_fake("webhook")(FakeWebhookReceiver)
