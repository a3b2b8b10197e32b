"""Webhook bodies into raw envelopes: Meta batches split per item, the rest kept as received."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any

import pytest

from connectors.ingest.split import (
    MalformedBody,
    Piece,
    read_discourse,
    read_x,
    split_meta,
    to_envelopes,
)
from pipeline.normalize import normalize
from pipeline.normalize.brands import BrandDirectory
from schemas.models import Kind, Platform, RawEnvelope

PAGE = "104857600123401"
OTHER_PAGE = "104857600123402"
IG = "17841400000000101"
X_ACCOUNT = "1450000000000000101"
FORUM = "communaute.nuvia-mobile.example"
WHEN = datetime(2026, 3, 1, 12, 0, tzinfo=UTC)

BRANDS = BrandDirectory.model_validate({"brands": [
    {"name": "Nuvia Mobile", "accounts": {"facebook": [PAGE], "instagram": [IG],
                                          "x": [X_ACCOUNT], "forum": [FORUM]}},
    {"name": "Croque", "accounts": {"facebook": [OTHER_PAGE]}},
]})


def feed_change(comment_id: str, message: str, page: str = PAGE) -> dict[str, Any]:
    post_id = f"{page}_555"
    return {"field": "feed", "value": {
        "from": {"id": "700001", "name": "Marie Curie"}, "post_id": post_id,
        "comment_id": comment_id, "created_time": 1763200000, "item": "comment",
        "verb": "add", "parent_id": post_id, "message": message}}


def dm(mid: str, text: str, page: str = PAGE) -> dict[str, Any]:
    return {"sender": {"id": "8001"}, "recipient": {"id": page}, "timestamp": 1763200000123,
            "message": {"mid": mid, "text": text}}


def meta_body(*entries: dict[str, Any], obj: str = "page") -> bytes:
    """Bytes as Meta sends them: ASCII-escaped JSON, so re-serializing changes the text."""
    return json.dumps({"object": obj, "entry": list(entries)}).encode()


def entry(page: str = PAGE, **lists: list[dict[str, Any]]) -> dict[str, Any]:
    return {"id": page, "time": 1763200000999, **lists}


def three_entry_batch(marker: str = "") -> bytes:
    """Three entries (two pages) with one item each: a comment, a DM and a comment."""
    return meta_body(
        entry(changes=[feed_change(f"555_{marker}1", f"Très déçu du réseau {marker}")]),
        entry(messaging=[dm(f"m_{marker}2", f"Where is my order? {marker}")]),
        entry(OTHER_PAGE, changes=[feed_change(f"777_{marker}3", f"Livraison froide {marker}",
                                               page=OTHER_PAGE)]),
    )


def events_of(source: str, pieces: list[Piece], **headers: str) -> list[Any]:
    envelopes = to_envelopes(source, b"body", pieces, headers, WHEN, signature_verified=True)
    return [event for envelope in envelopes for event in normalize(envelope, BRANDS)]


# ------------------------------------------------------------------------------ Meta


def test_given_one_item_when_split_then_the_body_is_kept_byte_for_byte() -> None:
    body = meta_body(entry(changes=[feed_change("555_1", "Réseau coupé depuis 8h")]))
    [piece] = split_meta(body)
    assert piece.payload is body
    assert piece.account == PAGE


def test_given_three_entries_when_split_then_three_pieces_normalize_like_the_whole_body() -> None:
    body = three_entry_batch()
    pieces = split_meta(body)
    assert [p.account for p in pieces] == [PAGE, PAGE, OTHER_PAGE]
    whole = normalize(RawEnvelope.wrap("meta_webhook", body, received_at=WHEN), BRANDS)
    split = events_of("meta_webhook", pieces)
    strip = {"raw_id"}
    assert [e.model_dump(exclude=strip) for e in split] == [
        e.model_dump(exclude=strip) for e in whole]
    assert [e.text for e in split] == ["Très déçu du réseau ", "Where is my order? ",
                                       "Livraison froide "]
    assert [e.brand for e in split] == ["Nuvia Mobile", "Nuvia Mobile", "Croque"]


def test_each_piece_is_a_meta_body_with_one_entry_holding_one_item() -> None:
    body = meta_body(entry(IG, changes=[feed_change("1", "a"), feed_change("2", "b")],
                           messaging=[dm("m_3", "c", IG)], standby=[dm("m_4", "d", IG)]),
                     obj="instagram")
    pieces = split_meta(body)
    decoded = [json.loads(p.payload) for p in pieces]
    assert len(pieces) == 4
    for data in decoded:
        assert data["object"] == "instagram"
        [one] = data["entry"]
        assert one["id"] == IG and one["time"] == 1763200000999
        assert sum(len(one.get(k, [])) for k in ("changes", "messaging", "standby")) == 1
    assert [d["entry"][0].get("changes", [None])[0] for d in decoded[:2]] == [
        feed_change("1", "a"), feed_change("2", "b")]
    assert decoded[2]["entry"][0]["messaging"] == [dm("m_3", "c", IG)]
    assert decoded[3]["entry"][0]["standby"] == [dm("m_4", "d", IG)]


def test_split_pieces_keep_non_ascii_text_as_utf8() -> None:
    body = meta_body(entry(changes=[feed_change("1", "Très déçu 😡"), feed_change("2", "ok")]))
    first = split_meta(body)[0].payload
    assert "Très déçu 😡".encode() in first
    assert b"\\u" not in first


def test_given_an_item_rebatched_on_retry_then_its_piece_and_raw_id_are_the_same() -> None:
    """Meta may retry an item inside a different batch: the raw_id must not change."""
    a, b, c = (feed_change(str(i), f"texte {i}") for i in range(3))
    first = split_meta(meta_body(entry(changes=[a, b])))
    retry = split_meta(meta_body(entry(changes=[c]), entry(changes=[a])))
    assert first[0].payload == retry[1].payload
    env_first = to_envelopes("meta_webhook", b"1", first, {}, WHEN, True)[0]
    env_retry = to_envelopes("meta_webhook", b"2", retry, {}, WHEN, True)[1]
    assert env_first.raw_id == env_retry.raw_id


def test_entry_without_known_item_lists_is_kept_whole() -> None:
    odd = {"id": PAGE, "time": 1, "hop_context": [{"app_id": 1}]}
    body = meta_body(odd, entry(changes=[feed_change("1", "x")]))
    pieces = split_meta(body)
    assert len(pieces) == 2
    assert json.loads(pieces[0].payload)["entry"] == [odd]


def test_unknown_top_level_fields_are_kept_in_every_piece() -> None:
    body = json.dumps({"object": "page", "entry": [entry(changes=[feed_change("1", "a")]),
                                                    entry(changes=[feed_change("2", "b")])],
                       "extra": {"k": 1}}).encode()
    assert all(json.loads(p.payload)["extra"] == {"k": 1} for p in split_meta(body))


@pytest.mark.parametrize(("body", "reason"), [
    (b"not json", "not valid JSON"),
    (b"", "empty"),
    (b"\xff\xfe", "UTF-8"),
    (b"[1, 2]", "must be a JSON object, got an array"),
    (b'{"entry": []}', "'object' must be a non-empty string"),
    (b'{"object": "page"}', "'entry' must be a non-empty array"),
    (b'{"object": "page", "entry": []}', "'entry' must be a non-empty array"),
    (b'{"object": "page", "entry": [3]}', "entry.0 must be an object, got a number"),
    (b'{"object": "page", "entry": [{"id": "1", "changes": {}}]}',
     "entry.0.changes must be an array"),
])
def test_malformed_meta_bodies_are_refused_with_a_reason(body: bytes, reason: str) -> None:
    with pytest.raises(MalformedBody, match=reason):
        split_meta(body)


def test_envelopes_carry_the_delivery_digest_position_and_verified_flag() -> None:
    body = three_entry_batch()
    envelopes = to_envelopes("meta_webhook", body, split_meta(body), {"origin": "ingest"}, WHEN,
                             signature_verified=True)
    digest = hashlib.sha256(body).hexdigest()
    assert [e.headers for e in envelopes] == [
        {"origin": "ingest", "batch_sha256": digest, "batch_index": str(i), "batch_size": "3"}
        for i in range(3)]
    assert all(e.signature_verified and e.received_at == WHEN for e in envelopes)
    assert len({e.raw_id for e in envelopes}) == 3


# ------------------------------------------------------------------------ X, Discourse


def test_x_body_is_kept_untouched_for_its_subscribed_account() -> None:
    body = json.dumps({"for_user_id": X_ACCOUNT, "tweet_create_events": [{
        "id_str": "9001", "created_at": "Wed Oct 10 20:19:24 +0000 2018",
        "text": "@NuviaMobile plus de réseau à Lyon",
        "user": {"id_str": "42", "screen_name": "lea"}}]}).encode()
    piece = read_x(body)
    assert piece.payload is body and piece.account == X_ACCOUNT
    [event] = events_of("x_account_activity", [piece])
    assert event.platform is Platform.x and event.text.endswith("à Lyon")


@pytest.mark.parametrize("body", [b"[]", b"nope", b'"text"'])
def test_x_body_that_is_not_a_json_object_is_malformed(body: bytes) -> None:
    with pytest.raises(MalformedBody, match="X Account Activity body"):
        read_x(body)


def test_discourse_post_is_kept_untouched_for_its_forum() -> None:
    body = json.dumps({"post": {
        "id": 77, "topic_id": 12, "username": "alex", "created_at": "2026-03-01T10:00:00Z",
        "post_number": 2, "raw": "Appli plantée au paiement"}}).encode()
    piece = read_discourse(body, "post_created", f"https://{FORUM}")
    assert piece is not None and piece.payload is body and piece.account == f"https://{FORUM}"
    [event] = events_of("discourse_webhook", [piece], **{"X-Discourse-Event": "post_created"})
    assert event.platform is Platform.forum and event.kind is Kind.reply


@pytest.mark.parametrize(("event", "body"), [("ping", b'{"ping":"OK"}'),
                                              (None, b'{"ping":"OK"}'),
                                              ("PING", b"{}")])
def test_discourse_ping_gives_nothing_to_store(event: str | None, body: bytes) -> None:
    assert read_discourse(body, event, FORUM) is None


def test_discourse_body_that_is_not_json_is_malformed() -> None:
    with pytest.raises(MalformedBody, match="Discourse webhook body: payload is not valid JSON"):
        read_discourse(b"<html>", "post_created", FORUM)
