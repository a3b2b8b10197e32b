"""Backfill: replay JSONL files of raw platform payloads into ``social.raw``.

Each line is either an envelope-like object ``{"source": ..., "account": ..., "payload": ...}``
(``payload`` an object, or a string kept byte for byte) or a bare platform payload whose source
is given with ``--source`` or recognised from its shape. Lines are never dropped here: a line that
cannot be read is still written, as source ``unknown``, so normalization dead-letters it with a
reason and the operator sees it.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

from pydantic import BaseModel, Field

from connectors.base import Source, register
from pipeline.normalize import detect_source
from schemas.models import RawEnvelope

UNKNOWN_SOURCE = "unknown"


class BackfillConfig(BaseModel):
    path: Path = Field(description="JSONL file of raw payloads.")
    source: str | None = Field(default=None, description="Source of bare payload lines.")
    account: str | None = None


def envelope_from_line(line: bytes, source: str | None = None,
                       account: str | None = None) -> RawEnvelope:
    """Turn one JSONL line into an envelope, keeping string payloads byte for byte."""
    try:
        obj = json.loads(line)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return RawEnvelope.wrap(source or UNKNOWN_SOURCE, line, account=account,
                                headers={"origin": "backfill"})
    if isinstance(obj, dict) and "payload" in obj and "source" in obj:
        payload = obj["payload"]
        raw = payload.encode() if isinstance(payload, str) else json.dumps(
            payload, ensure_ascii=False, separators=(",", ":")).encode()
        return RawEnvelope.wrap(str(obj["source"]), raw, account=obj.get("account") or account,
                                headers={"origin": "backfill"})
    detected = source or detect_source(obj) or UNKNOWN_SOURCE
    return RawEnvelope.wrap(detected, line, account=account, headers={"origin": "backfill"})


@register
class BackfillSource(Source[BackfillConfig]):
    """Connector #1: history files, demo traffic and replays of recorded payloads."""

    name = "backfill"
    config_model = BackfillConfig

    def read(self) -> Iterator[RawEnvelope]:
        with self.config.path.open("rb") as handle:
            for line in handle:
                line = line.strip()
                if line:
                    yield envelope_from_line(line, self.config.source, self.config.account)

    def count(self) -> int:
        with self.config.path.open("rb") as handle:
            return sum(1 for line in handle if line.strip())
