"""Webhook signatures: the platforms' published vectors, every way a header can be wrong."""

from __future__ import annotations

import base64
import hashlib
import hmac

import pytest

from connectors.ingest import signatures
from connectors.ingest.signatures import (
    DISCOURSE,
    META,
    SignatureCheck,
    X,
    sign,
    valid_crc_token,
    verify,
    x_crc_response,
)

BODY = '{"object":"page","entry":[{"id":"1","time":1,"changes":[]}],"note":"déçu"}'.encode()


def test_discourse_published_vector() -> None:
    signed = sign(DISCOURSE, "my_lovely_secret_for_web_hook", b'{"ping":"OK"}')
    assert signed == "sha256=162f107f6b5022353274eb1a7197885cfd35744d8d08e5bcea025d309386b7d6"
    assert verify(DISCOURSE, "my_lovely_secret_for_web_hook", b'{"ping":"OK"}',
                  signed) is SignatureCheck.valid


def test_x_crc_published_vector() -> None:
    assert x_crc_response("DDD", "some_random") == {
        "response_token": "sha256=VE19eUk6krbdSqWPdvH71xtFhApBAU81uPW3UT65vOs="
    }


def test_meta_signature_is_hex_hmac_sha256_of_the_raw_body() -> None:
    expected = hmac.new(b"app-secret", BODY, hashlib.sha256).hexdigest()
    assert sign(META, "app-secret", BODY) == f"sha256={expected}"


def test_x_delivery_signature_is_base64_hmac_sha256_of_the_raw_body() -> None:
    digest = hmac.new(b"consumer", BODY, hashlib.sha256).digest()
    assert sign(X, b"consumer", BODY) == "sha256=" + base64.b64encode(digest).decode()
    assert verify(X, "consumer", BODY, sign(X, "consumer", BODY)) is SignatureCheck.valid


@pytest.mark.parametrize("scheme", [META, X, DISCOURSE], ids=lambda s: s.platform)
def test_given_a_valid_signature_when_one_body_byte_changes_then_it_is_invalid(
        scheme: signatures.Scheme) -> None:
    header = sign(scheme, "s3cret", BODY)
    assert verify(scheme, "s3cret", BODY, header) is SignatureCheck.valid
    tampered = BODY.replace(b'"1"', b'"2"')
    assert verify(scheme, "s3cret", tampered, header) is SignatureCheck.mismatch


@pytest.mark.parametrize("scheme", [META, X, DISCOURSE], ids=lambda s: s.platform)
def test_given_another_secret_then_the_signature_is_invalid(scheme: signatures.Scheme) -> None:
    assert verify(scheme, "right", BODY, sign(scheme, "wrong", BODY)) is SignatureCheck.mismatch


@pytest.mark.parametrize("header", [None, "", "   "])
def test_missing_header_is_reported_as_missing(header: str | None) -> None:
    assert verify(META, "s", BODY, header) is SignatureCheck.missing


def test_header_without_the_sha256_prefix_is_malformed() -> None:
    bare_hex = sign(META, "s", BODY).removeprefix("sha256=")
    assert verify(META, "s", BODY, bare_hex) is SignatureCheck.malformed
    sha1 = "sha1=" + hmac.new(b"s", BODY, hashlib.sha1).hexdigest()
    assert verify(META, "s", BODY, sha1) is SignatureCheck.malformed


def test_non_ascii_digest_is_malformed_not_an_error() -> None:
    assert verify(META, "s", BODY, "sha256=é" * 10) is SignatureCheck.malformed


def test_hex_digests_are_case_insensitive_but_base64_is_not() -> None:
    meta = sign(META, "s", BODY)
    assert verify(META, "s", BODY, "SHA256=" + meta[7:].upper()) is SignatureCheck.valid
    x = sign(X, "s", BODY)
    swapped = "sha256=" + x[7:].swapcase()
    assert verify(X, "s", BODY, swapped) is SignatureCheck.mismatch


def test_comparison_goes_through_hmac_compare_digest(monkeypatch: pytest.MonkeyPatch) -> None:
    calls: list[tuple[bytes, bytes]] = []
    real = hmac.compare_digest

    def spy(a: bytes, b: bytes) -> bool:
        calls.append((a, b))
        return real(a, b)

    monkeypatch.setattr(signatures.hmac, "compare_digest", spy)
    assert verify(DISCOURSE, "s", BODY, sign(DISCOURSE, "s", BODY)) is SignatureCheck.valid
    assert verify(DISCOURSE, "s", BODY, "sha256=" + "0" * 64) is SignatureCheck.mismatch
    assert len(calls) == 2


@pytest.mark.parametrize("token", ["some_random", "NjM0MDkxMjEx-abc_DEF.123~+/=", "a" * 512])
def test_random_looking_crc_tokens_are_answered(token: str) -> None:
    assert valid_crc_token(token)
    assert x_crc_response("DDD", token)["response_token"].startswith("sha256=")


@pytest.mark.parametrize("token", ['{"for_user_id":"1"}', "a b", "", "a" * 513, "é"])
def test_crc_tokens_that_could_be_a_body_are_refused(token: str) -> None:
    """Otherwise a CRC GET would sign an attacker's JSON body with the delivery scheme."""
    assert not valid_crc_token(token)
    with pytest.raises(ValueError, match="random token"):
        x_crc_response("DDD", token)
