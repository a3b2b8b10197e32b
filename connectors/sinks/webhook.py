"""Generic signed webhook sink: POST each TicketCommand to a receiver that files it anywhere.

Request: ``POST <url>`` with the JSON body
``{"event": "ticket.message", "command": <TicketCommand>}`` and the headers

- ``X-PorteVoix-Timestamp``: unix seconds when it was signed;
- ``X-PorteVoix-Signature``: ``sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>``;
- ``Idempotency-Key``: the ``command_id``. The receiver must dedupe on it: the same command is
  re-sent after a timeout or a worker restart (at-least-once delivery).

Response contract (2xx, JSON)::

    {"ticket_id": "<id in the receiver>", "ticket_url": "<optional link>",
     "created": <true when this command opened the conversation's ticket>,
     "duplicate": <true when the Idempotency-Key was seen before: nothing was written>}

``duplicate`` -> ``unchanged``, ``created`` -> ``created``, otherwise ``followed_up``. A 2xx
without that body still counts as delivered (re-sending cannot help) and is reported as
``updated`` without a ticket id. Non-2xx answers are sorted by the shared status table (401/403:
the receiver rejected the signature -> fatal; 429/5xx -> retried by the deliver stage, with
Retry-After). Redirects are not followed: a POST must not silently become a GET elsewhere.

Receivers verify with :func:`verify_signature`, which also bounds the timestamp's age so that a
captured request cannot be replayed later.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any, ClassVar

import requests
from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict

from connectors.sinks.base import DeliveryError, TicketSink
from connectors.sinks.registry import register_sink
from connectors.sinks.rest import RestClient
from schemas.models import ErrorKind, TicketCommand, TicketOutcome, TicketResult

__all__ = [
    "EVENT",
    "SIGNATURE_HEADER",
    "TIMESTAMP_HEADER",
    "WebhookConfig",
    "WebhookSink",
    "sign",
    "verify_signature",
]

log = logging.getLogger(__name__)

EVENT = "ticket.message"
TIMESTAMP_HEADER = "X-PorteVoix-Timestamp"
SIGNATURE_HEADER = "X-PorteVoix-Signature"
_SCHEME = "sha256="


def _key(secret: str | bytes) -> bytes:
    return secret.encode() if isinstance(secret, str) else secret


def sign(secret: str | bytes, timestamp: str, body: bytes) -> str:
    """The ``X-PorteVoix-Signature`` value of a body signed at ``timestamp``."""
    digest = hmac.new(_key(secret), timestamp.encode() + b"." + body, hashlib.sha256)
    return _SCHEME + digest.hexdigest()


def verify_signature(
    secret: str | bytes,
    timestamp: str | None,
    body: bytes,
    header: str | None,
    tolerance_s: float = 300,
    now: float | None = None,
) -> bool:
    """Whether a request is authentic and fresh: HMAC over ``timestamp.body``, age <= tolerance.

    Compares in constant time; a missing, malformed or future/expired timestamp fails.
    """
    if not timestamp or not header or not timestamp.strip().isdigit():
        return False
    current = time.time() if now is None else now
    if abs(current - int(timestamp.strip())) > tolerance_s:
        return False
    return hmac.compare_digest(sign(secret, timestamp.strip(), body), header.strip())


class WebhookConfig(BaseSettings):
    """Where the receiver is and the shared secret (env ``PORTE_VOIX_WEBHOOK_*``)."""

    model_config = SettingsConfigDict(env_prefix="PORTE_VOIX_WEBHOOK_", extra="ignore")

    url: str = Field(default="https://receiver.invalid/hooks/porte-voix",
                     description="Receiver URL (https in production).")
    secret: SecretStr = Field(default=SecretStr(""), description="HMAC-SHA256 shared secret.")
    timeout_seconds: float = Field(default=10.0, gt=0, description="Per-request timeout.")


@register_sink
class WebhookSink(TicketSink):
    """Deliver TicketCommands as signed webhooks; the receiver dedupes on Idempotency-Key."""

    name: ClassVar[str] = "webhook"
    config_model: ClassVar[type[BaseSettings]] = WebhookConfig

    def __init__(self, config: WebhookConfig, session: requests.Session | None = None,
                 *, clock: Callable[[], float] = time.time) -> None:
        self.config = config
        self.api = RestClient(config.url, {}, session, config.timeout_seconds, label="webhook")
        self._clock = clock

    @classmethod
    def from_config(cls, config: Any, session: requests.Session | None = None) -> WebhookSink:
        if not isinstance(config, WebhookConfig):
            raise TypeError(f"WebhookSink needs a WebhookConfig, not {type(config).__name__}")
        return cls(config, session)

    def __repr__(self) -> str:
        return f"WebhookSink(url={self.config.url!r})"

    def payload(self, cmd: TicketCommand) -> bytes:
        """The exact bytes that are signed and sent."""
        return json.dumps({"event": EVENT, "command": cmd.model_dump(mode="json")},
                          ensure_ascii=False, separators=(",", ":")).encode()

    def deliver(self, cmd: TicketCommand) -> TicketResult:
        """POST the signed command; the receiver's answer says what it did with it."""
        secret = self.config.secret.get_secret_value()
        if not secret:
            raise DeliveryError(ErrorKind.fatal, "PORTE_VOIX_WEBHOOK_SECRET is empty: refusing to "
                                "send unsigned commands")
        body = self.payload(cmd)
        timestamp = str(int(self._clock()))
        response = self.api.send("POST", self.config.url, data=body, headers={
            "Content-Type": "application/json",
            TIMESTAMP_HEADER: timestamp,
            SIGNATURE_HEADER: sign(secret, timestamp, body),
            "Idempotency-Key": cmd.command_id,
        })
        try:
            answer = response.json()
        except ValueError:
            answer = None
        if not isinstance(answer, dict) or answer.get("ticket_id") in (None, ""):
            log.warning("webhook answered %s without the response contract", response.status_code)
            return TicketResult(command_id=cmd.command_id, external_id=cmd.external_id,
                                event_id=cmd.event_id, target=self.name,
                                outcome=TicketOutcome.updated)
        if answer.get("duplicate"):
            outcome = TicketOutcome.unchanged
        elif answer.get("created"):
            outcome = TicketOutcome.created
        else:
            outcome = TicketOutcome.followed_up
        url = answer.get("ticket_url")
        return TicketResult(
            command_id=cmd.command_id, external_id=cmd.external_id, event_id=cmd.event_id,
            target=self.name, outcome=outcome, ticket_id=str(answer["ticket_id"]),
            ticket_url=str(url) if url else None,
        )

    def close(self) -> None:
        self.api.close()
