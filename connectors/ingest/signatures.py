"""Webhook signatures of Meta, X and Discourse: computing and checking them, nothing else.

All three platforms sign the raw request body with HMAC-SHA256 under a shared secret and send
``sha256=<digest>`` in a header; they differ only in the header name and in the digest's text
encoding (hex for Meta and Discourse, base64 for X). The check runs on the bytes exactly as
received, before any parsing, and compares in constant time (:func:`hmac.compare_digest`) so a
forger learns nothing from response times.

X's CRC answers ``HMAC(consumer secret, crc_token)`` with the very scheme used for deliveries,
so an unauthenticated GET could make this server sign any text an attacker chooses. A real CRC
token is a short random token; :func:`x_crc_response` refuses anything else (in particular
anything containing ``{``), so no CRC answer can ever be a valid signature of a JSON body.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import re
from dataclasses import dataclass
from enum import StrEnum

__all__ = [
    "DISCOURSE",
    "META",
    "Scheme",
    "SignatureCheck",
    "X",
    "hmac_sha256",
    "sign",
    "valid_crc_token",
    "verify",
    "x_crc_response",
]

PREFIX = "sha256="

# Random tokens only: letters, digits and the base64/base64url/URL-safe punctuation.
_CRC_TOKEN = re.compile(r"[A-Za-z0-9._~+/=-]{1,512}")


class SignatureCheck(StrEnum):
    """Outcome of a check; every value but ``valid`` is a rejection reason on /metrics."""

    valid = "valid"
    missing = "signature_missing"
    malformed = "signature_malformed"
    mismatch = "signature_invalid"


@dataclass(frozen=True)
class Scheme:
    """How one platform carries its signature: the header and the digest encoding."""

    platform: str
    header: str
    encoding: str  # "hex" or "base64"

    def encode(self, digest: bytes) -> str:
        if self.encoding == "hex":
            return digest.hex()
        return base64.b64encode(digest).decode("ascii")


META = Scheme("meta", "X-Hub-Signature-256", "hex")
X = Scheme("x", "x-twitter-webhooks-signature", "base64")
DISCOURSE = Scheme("discourse", "X-Discourse-Event-Signature", "hex")


def hmac_sha256(secret: str | bytes, message: bytes) -> bytes:
    """Raw HMAC-SHA256 digest; text secrets are keyed by their UTF-8 bytes, as platforms do."""
    key = secret.encode("utf-8") if isinstance(secret, str) else secret
    return hmac.new(key, message, hashlib.sha256).digest()


def sign(scheme: Scheme, secret: str | bytes, body: bytes) -> str:
    """The header value the platform sends for ``body``: ``sha256=<hex or base64 digest>``."""
    return PREFIX + scheme.encode(hmac_sha256(secret, body))


def verify(scheme: Scheme, secret: str | bytes, body: bytes, header: str | None) -> SignatureCheck:
    """Check a received header value against the raw body, in constant time."""
    if header is None or not header.strip():
        return SignatureCheck.missing
    value = header.strip()
    if not value[: len(PREFIX)].lower() == PREFIX:
        return SignatureCheck.malformed
    received = value[len(PREFIX):]
    if scheme.encoding == "hex":
        received = received.lower()  # hex digits are case-insensitive; base64 is not
    expected = scheme.encode(hmac_sha256(secret, body))
    # compare_digest on ASCII-only bytes: its time does not depend on where they differ.
    if not received.isascii():
        return SignatureCheck.malformed
    if hmac.compare_digest(received.encode("ascii"), expected.encode("ascii")):
        return SignatureCheck.valid
    return SignatureCheck.mismatch


def valid_crc_token(token: str) -> bool:
    """True for a token shaped like X's random CRC tokens (see the module docstring)."""
    return _CRC_TOKEN.fullmatch(token) is not None


def x_crc_response(consumer_secret: str | bytes, crc_token: str) -> dict[str, str]:
    """X's Challenge-Response Check answer; ValueError for a token that is not a random token."""
    if not valid_crc_token(crc_token):
        raise ValueError("crc_token is not a random token (letters, digits, ._~+/=- only)")
    return {"response_token": sign(X, consumer_secret, crc_token.encode("ascii"))}
