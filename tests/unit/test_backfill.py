"""Backfill turns every JSONL line into a raw envelope, never dropping one."""

from __future__ import annotations

import json
from pathlib import Path

from connectors.base import REGISTRY, get_source
from connectors.sources.backfill import BackfillConfig, BackfillSource, envelope_from_line


def test_backfill_is_registered_by_name() -> None:
    assert get_source("backfill") is BackfillSource
    assert REGISTRY["backfill"].config_model is BackfillConfig


def test_envelope_lines_keep_source_account_and_string_payload_bytes() -> None:
    line = json.dumps({"source": "discourse_webhook", "account": "forum.example",
                       "payload": '{"ping": "OK"'}).encode()
    env = envelope_from_line(line)
    assert env.source == "discourse_webhook"
    assert env.account == "forum.example"
    assert env.payload == b'{"ping": "OK"'


def test_bare_payloads_use_the_given_source_and_unreadable_lines_are_kept_as_unknown() -> None:
    assert envelope_from_line(b'{"a": 1}', source="youtube").source == "youtube"
    env = envelope_from_line(b"\xff not json")
    assert env.source == "unknown"
    assert env.payload == b"\xff not json"


def test_the_same_line_twice_has_the_same_raw_id(tmp_path: Path) -> None:
    path = tmp_path / "h.jsonl"
    path.write_text('{"source": "x_account_activity", "payload": {"for_user_id": "1"}}\n\n' * 2)
    envs = list(BackfillSource(BackfillConfig(path=path)).read())
    assert len(envs) == 2
    assert envs[0].raw_id == envs[1].raw_id
