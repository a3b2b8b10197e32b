"""From one verified webhook body to the raw envelopes written to ``social.raw``. Pure, no I/O.

Meta batches: one body carries ``entry[]`` and each entry ``changes[]``, ``messaging[]`` or
``standby[]``; one item of those lists is one platform event (a comment, a message). The body is
split into one piece per item, each a complete Meta body with a single entry holding a single
item (``{"object": ..., "entry": [{"id": ..., "time": ..., "changes": [<item>]}]}``), so the
``meta_webhook`` normalizer reads every piece as it reads a whole body. Why split at all:

- Meta re-batches on retry: an item that failed inside a batch of 3 can come back alone or with
  other items. A piece depends only on its entry and its item, so the same item always gives the
  same bytes, the same ``raw_id``, and a retry collapses onto the first delivery.
- One envelope per event keeps every record small (Meta sends up to 1000 items per body) and a
  bad item dead-letters alone instead of taking its batch-mates with it.

What "untouched" means here: a body holding one item (the common case) is stored byte for byte.
A split body cannot be: each piece is the item's JSON re-serialized (values unchanged, key order
kept, compact separators, UTF-8). Copying the whole original body into every piece would store it
N times (a 1 MiB body of 1000 items would become 1 GiB), so each piece instead carries
``batch_sha256`` (SHA-256 of the raw body as received), ``batch_index`` and ``batch_size`` in its
headers: an audit can tell which delivery a piece came from and that none is missing. The
signature is checked on the raw bytes before any of this and is not stored (it is useless without
the full body and is kept out of topics and logs).

X Account Activity and Discourse bodies are one delivery for one account and are stored as
received, never re-serialized.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from pipeline.errors import BadInput
from pipeline.normalize.payload import parse_payload
from schemas.models import RawEnvelope

__all__ = [
    "META_ITEM_LISTS",
    "MalformedBody",
    "Piece",
    "parse_object",
    "read_discourse",
    "read_x",
    "split_meta",
    "to_envelopes",
]

META_ITEM_LISTS = ("changes", "messaging", "standby")


class MalformedBody(BadInput):
    """A signed body that cannot be a delivery of its platform (answered 400 with the reason)."""


@dataclass(frozen=True)
class Piece:
    """The payload bytes of one raw envelope and the brand account they are for."""

    payload: bytes
    account: str | None = None


def parse_object(body: bytes, what: str) -> dict[str, Any]:
    """The body as a JSON object, or MalformedBody naming what is wrong with it."""
    try:
        data = parse_payload(body)
    except BadInput as exc:
        raise MalformedBody(f"{what}: {exc.message}") from None
    if not isinstance(data, dict):
        raise MalformedBody(f"{what} must be a JSON object, got {_json_type(data)}")
    return data


def _json_type(value: object) -> str:
    names = {list: "an array", str: "a string", bool: "a boolean", int: "a number",
             float: "a number", type(None): "null"}
    return names.get(type(value), type(value).__name__)


def _id(value: object) -> str | None:
    if isinstance(value, bool):
        return None
    if isinstance(value, str | int):
        return str(value) or None
    return None


def _dump(data: object) -> bytes:
    return json.dumps(data, ensure_ascii=False, separators=(",", ":")).encode("utf-8")


def _single_item(entry: dict[str, Any], key: str, item: object) -> dict[str, Any]:
    """The entry with only ``item`` in list ``key``; its other fields keep their order."""
    out: dict[str, Any] = {}
    for name, value in entry.items():
        if name == key:
            out[name] = [item]
        elif name not in META_ITEM_LISTS:
            out[name] = value
    return out


def split_meta(body: bytes) -> list[Piece]:
    """One piece per entry item of a Meta webhook body (the body itself when it holds one)."""
    data = parse_object(body, "Meta webhook body")
    obj = data.get("object")
    if not isinstance(obj, str) or not obj:
        raise MalformedBody("Meta webhook body: 'object' must be a non-empty string")
    entries = data.get("entry")
    if not isinstance(entries, list) or not entries:
        raise MalformedBody("Meta webhook body: 'entry' must be a non-empty array")
    units: list[tuple[dict[str, Any], str | None]] = []
    for index, entry in enumerate(entries):
        if not isinstance(entry, dict):
            raise MalformedBody(
                f"Meta webhook body: entry.{index} must be an object, got {_json_type(entry)}")
        items: list[tuple[str, object]] = []
        for key in META_ITEM_LISTS:
            if key not in entry:
                continue
            values = entry[key]
            if not isinstance(values, list):
                raise MalformedBody(f"Meta webhook body: entry.{index}.{key} must be an array, "
                                    f"got {_json_type(values)}")
            items.extend((key, value) for value in values)
        account = _id(entry.get("id"))
        if not items:  # nothing we know how to split: the entry is kept whole
            units.append((entry, account))
            continue
        units.extend((_single_item(entry, key, item), account) for key, item in items)
    if len(units) == 1:
        return [Piece(body, units[0][1])]
    return [
        Piece(_dump({k: ([unit] if k == "entry" else v) for k, v in data.items()}), account)
        for unit, account in units
    ]


def read_x(body: bytes) -> Piece:
    """An X Account Activity body, untouched, for its subscribed account (``for_user_id``)."""
    data = parse_object(body, "X Account Activity body")
    return Piece(body, _id(data.get("for_user_id")))


def read_discourse(body: bytes, event: str | None, instance: str | None) -> Piece | None:
    """A Discourse body, untouched, for its forum; None for a ping, which carries no content."""
    data = parse_object(body, "Discourse webhook body")
    if (event or "").strip().lower() == "ping" or set(data) == {"ping"}:
        return None
    return Piece(body, instance.strip() if instance and instance.strip() else None)


def to_envelopes(source: str, body: bytes, pieces: Sequence[Piece], headers: Mapping[str, str],
                 received_at: datetime, signature_verified: bool) -> list[RawEnvelope]:
    """Envelopes of one delivery, each tagged with the delivery's digest and its position."""
    digest = hashlib.sha256(body).hexdigest()
    total = str(len(pieces))
    return [
        RawEnvelope.wrap(
            source,
            piece.payload,
            account=piece.account,
            received_at=received_at,
            signature_verified=signature_verified,
            headers={**headers, "batch_sha256": digest, "batch_index": str(index),
                     "batch_size": total},
        )
        for index, piece in enumerate(pieces)
    ]
