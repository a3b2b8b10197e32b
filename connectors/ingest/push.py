"""The push connectors of Meta, X Account Activity and Discourse, registered by source name.

Each one ties a platform's pure parts together: its signature scheme (:mod:`.signatures`), how
its body splits into envelopes (:mod:`.split`), its handshake and its config (secrets from the
``PORTE_VOIX_INGEST_*`` environment, :mod:`.settings`). The names are the sources their
envelopes carry, i.e. the normalizers that read them. The ingest server serves every registered
push connector and the contract suite checks each one like the pull connectors.
"""

from __future__ import annotations

import hmac
import json
from abc import abstractmethod
from collections.abc import Mapping
from datetime import datetime
from typing import ClassVar

from connectors.base import C, Handshake, PushSource, register
from connectors.ingest import signatures
from connectors.ingest.settings import (
    DiscourseWebhookConfig,
    MetaWebhookConfig,
    XWebhookConfig,
    secret_bytes,
)
from connectors.ingest.split import Piece, read_discourse, read_x, split_meta, to_envelopes
from pipeline.normalize.discourse import SOURCE as DISCOURSE_SOURCE
from pipeline.normalize.meta import SOURCE as META_SOURCE
from pipeline.normalize.payload import header
from pipeline.normalize.x import SOURCE as X_SOURCE
from schemas.models import RawEnvelope

__all__ = ["DISCOURSE_HEADERS", "DiscourseWebhook", "MetaWebhook", "SignedWebhook",
           "XAccountActivity"]

# Discourse headers that say what a body is (event, type, forum, delivery id); none is secret.
DISCOURSE_HEADERS = ("X-Discourse-Event", "X-Discourse-Event-Type", "X-Discourse-Instance",
                     "X-Discourse-Event-Id")


class SignedWebhook(PushSource[C]):
    """A platform that signs the raw body with HMAC-SHA256 under one shared secret."""

    scheme: ClassVar[signatures.Scheme]

    @property
    @abstractmethod
    def key(self) -> bytes:
        """The secret the platform signs deliveries with."""

    @abstractmethod
    def pieces(self, headers: Mapping[str, str], raw_body: bytes) -> list[Piece] | None:
        """The payloads of a delivery; None for one that carries nothing (a ping)."""

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        """Request headers stored on every envelope (none but the delivery's own by default)."""
        return {}

    def check_signature(self, headers: Mapping[str, str], raw_body: bytes) -> str | None:
        check = signatures.verify(self.scheme, self.key, raw_body,
                                  header(headers, self.scheme.header))
        return None if check is signatures.SignatureCheck.valid else check.value

    def envelopes(self, headers: Mapping[str, str], raw_body: bytes,
                  received_at: datetime) -> list[RawEnvelope]:
        pieces = self.pieces(headers, raw_body)
        if pieces is None:
            return []
        return to_envelopes(self.name, raw_body, pieces,
                            {"origin": "ingest", **self.kept_headers(headers)},
                            received_at=received_at,
                            signature_verified=self.verify(headers, raw_body))


@register
class MetaWebhook(SignedWebhook[MetaWebhookConfig]):
    """Facebook Page feed, Messenger and Instagram: batches split into one envelope per item."""

    name = META_SOURCE
    config_model = MetaWebhookConfig
    platform = "meta"
    scheme = signatures.META
    signature_header = signatures.META.header
    has_handshake = True

    @property
    def key(self) -> bytes:
        return secret_bytes(self.config.app_secret)

    def pieces(self, headers: Mapping[str, str], raw_body: bytes) -> list[Piece] | None:
        return split_meta(raw_body)

    def handshake(self, query: Mapping[str, str]) -> Handshake:
        """Meta's subscription check: echo ``hub.challenge`` when the verify token matches."""
        given = query.get("hub.verify_token", "").encode("utf-8")
        expected = secret_bytes(self.config.verify_token)
        if query.get("hub.mode") != "subscribe" or not hmac.compare_digest(given, expected):
            return Handshake(403, "hub.mode is not subscribe or hub.verify_token does not match",
                             refusal="verification_refused")
        challenge = query.get("hub.challenge")
        if not challenge:
            return Handshake(400, "hub.challenge is missing", refusal="challenge_missing")
        return Handshake(200, challenge)


@register
class XAccountActivity(SignedWebhook[XWebhookConfig]):
    """X Account Activity: one body per subscribed account, stored as received."""

    name = X_SOURCE
    config_model = XWebhookConfig
    platform = "x"
    scheme = signatures.X
    signature_header = signatures.X.header
    has_handshake = True

    @property
    def key(self) -> bytes:
        return secret_bytes(self.config.consumer_secret)

    def pieces(self, headers: Mapping[str, str], raw_body: bytes) -> list[Piece] | None:
        return [read_x(raw_body)]

    def handshake(self, query: Mapping[str, str]) -> Handshake:
        """X's Challenge-Response Check (random-looking tokens only, see :mod:`.signatures`)."""
        token = query.get("crc_token")
        if not token:
            return Handshake(400, "crc_token is missing", refusal="crc_token_missing")
        try:
            answer = signatures.x_crc_response(self.key, token)
        except ValueError as exc:
            return Handshake(400, str(exc), refusal="crc_token_invalid")
        return Handshake(200, json.dumps(answer), content_type="application/json")


@register
class DiscourseWebhook(SignedWebhook[DiscourseWebhookConfig]):
    """Discourse: one body per event, stored as received with the headers that describe it."""

    name = DISCOURSE_SOURCE
    config_model = DiscourseWebhookConfig
    platform = "discourse"
    scheme = signatures.DISCOURSE
    signature_header = signatures.DISCOURSE.header

    @property
    def key(self) -> bytes:
        return secret_bytes(self.config.secret)

    def kept_headers(self, headers: Mapping[str, str]) -> dict[str, str]:
        found = ((name, header(headers, name)) for name in DISCOURSE_HEADERS)
        return {name: value for name, value in found if value is not None}

    def pieces(self, headers: Mapping[str, str], raw_body: bytes) -> list[Piece] | None:
        piece = read_discourse(raw_body, header(headers, "X-Discourse-Event"),
                               header(headers, "X-Discourse-Instance"))
        return None if piece is None else [piece]
