"""A rules change is reviewed on history: counts per route and what the change moves."""

from __future__ import annotations

from pathlib import Path

import pytest

from pipeline.dryrun import dry_run, load_events
from pipeline.routing import load_rules, parse_rules
from pipeline.settings import DEFAULT_RULES

RECORDS = [
    {"id": "a", "platform": "x", "kind": "mention", "brand": "Croque", "rating": None,
     "text": "Ma commande n'est jamais arrivée, je veux être remboursé !"},
    {"id": "b", "platform": "instagram", "kind": "comment", "brand": "Kairo", "rating": None,
     "text": "Win a free pair!!! DM us your card number to claim your prize 🎁"},
    {"id": "c", "platform": "app_store", "kind": "review", "brand": "Croque", "rating": 5,
     "text": "Love the new live tracking map, super handy"},
]


@pytest.fixture(scope="module")
def events():  # type: ignore[no-untyped-def]
    return load_events(RECORDS)


def test_flat_records_are_enriched_and_every_event_is_counted(events) -> None:  # type: ignore[no-untyped-def]
    report = dry_run(events, load_rules(DEFAULT_RULES))
    assert report.total == 3
    assert sum(report.per_route.values()) >= 3
    assert report.per_route["crm_ticket"] >= 1
    assert report.lines()[0] == "3 events"


def test_enriched_records_are_taken_as_they_are(events) -> None:  # type: ignore[no-untyped-def]
    again = load_events([e.model_dump(mode="json") for e in events])
    assert [e.enrichment for e in again] == [e.enrichment for e in events]


def test_the_diff_names_the_events_a_rules_change_moves(events, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    drop_all = parse_rules("rules:\n  - name: drop-everything\n    then: {drop: true}\n")
    report = dry_run(events, load_rules(DEFAULT_RULES), drop_all)
    assert sum(report.changes.values()) == 3 - report.per_route.get("none", 0)
    assert all(change.endswith("-> none") for change in report.changes)
    assert any("changes" in line or "differently" in line for line in report.lines())
