"""The pure cursor logic: which items are new, when a listing stops, how runs resume."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

import pytest

from connectors.sources.pollers.position import Position
from pipeline.errors import BadInput
from schemas.models import CursorState

T0 = datetime(2024, 5, 14, 9, 0, tzinfo=UTC)


def at(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def test_first_run_takes_everything_and_the_floor_rises_to_the_newest_item() -> None:
    pos = Position()
    assert pos.is_new(at(0), "a") and not pos.below_floor(at(-999))
    done = pos.stored([("c", at(2)), ("b", at(1))], None, done=False)
    assert done.floor == at(2) and done.floor_ids == {"c"} and not done.in_run
    assert done.items == 2


def test_items_sharing_the_watermark_time_collapse_by_id_and_new_ones_pass() -> None:
    pos = Position(floor=at(5), floor_ids=frozenset({"x"}))
    assert not pos.is_new(at(5), "x")       # stored at the watermark: a re-read collapses
    assert pos.is_new(at(5), "y")           # same second, different item: not lost
    assert pos.is_new(at(6), "x")           # edited later: read again as an edit
    assert not pos.is_new(at(4), "z") and pos.below_floor(at(4))


def test_an_unfinished_run_resumes_at_its_page_with_its_floor() -> None:
    start = Position(floor=at(0), floor_ids=frozenset({"old"}))
    running = start.stored([("n2", at(9)), ("n1", at(8))], "page-token-2", done=False)
    state = running.to_state("trustpilot", "unit", "reviews")
    assert state.high_watermark == at(9)
    back = Position.from_state(state)
    assert back.in_run and back.next == "page-token-2"
    assert back.floor == at(0) and back.floor_ids == {"old"} and back.top == at(9)
    assert not back.is_new(at(9), "n2")     # a shifted page re-shows it: collapses
    finished = back.stored([("n0", at(1))], None, done=True)
    restored = Position.from_state(finished.to_state("trustpilot", "unit", "reviews"))
    assert not restored.in_run and restored.floor == at(9) and restored.floor_ids == {"n2"}
    assert restored.items == 3


def test_a_run_that_finds_nothing_keeps_the_floor_and_its_ids() -> None:
    pos = Position(floor=at(3), floor_ids=frozenset({"k"}))
    again = pos.stored([], None, done=True)
    assert again.floor == at(3) and again.floor_ids == {"k"}


def test_an_unreadable_cursor_is_bad_input_not_a_silent_restart() -> None:
    state = CursorState(connector="reddit", account="s", stream="new", cursor="t3_abc")
    with pytest.raises(BadInput):
        Position.from_state(state)
