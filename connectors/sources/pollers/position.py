"""Where a stream stands, and which items of a page are new: the pure part of the cursor.

All polled APIs list newest first. A run reads pages from the top until it meets an item older
than the ``floor`` (the newest item time of the last complete run), then the floor moves up to
the newest item time the run stored. Two rules make overlaps collapse:

- an item is new when its time is after the floor, or equal to it with an id not yet stored at
  that time (``floor_ids``: several items can share one timestamp, and a poll that stopped
  between them must not lose or repeat any);
- an edited item (same id, later update time) is after the floor again, so it is read as a new
  raw envelope, which normalizes to the same event id with action ``edited``.

A run commits its position after every acknowledged page (``next``), so a restart continues
the unfinished run instead of starting over. Items that arrive at the top meanwhile are newer
than the run's floor and are read by the next run. Re-reading an overlap (a page-number listing
shifted by new items, an expired page token restarting the run) is harmless: the same item
bytes give the same ``raw_id`` and the same platform item gives the same ``event_id``.

The state travels in ``CursorState``: ``high_watermark`` is the newest item time stored,
``cursor`` a small JSON object with ``next``, ``floor``, ``floor_ids`` and ``top_ids`` (ids
stored at ``high_watermark``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field, replace
from datetime import datetime

from pipeline.errors import BadInput
from schemas.models import CursorState

__all__ = ["Position"]


def _time(value: object) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) and value else None


@dataclass(frozen=True)
class Position:
    """One stream's progress: the last complete run's floor, and the unfinished run if any."""

    floor: datetime | None = None
    floor_ids: frozenset[str] = field(default_factory=frozenset)
    top: datetime | None = None
    top_ids: frozenset[str] = field(default_factory=frozenset)
    next: str | None = None
    items: int = 0

    @property
    def in_run(self) -> bool:
        """A run stopped between two pages and resumes at ``next``."""
        return self.next is not None

    # -------------------------------------------------------------- cursor state

    @classmethod
    def from_state(cls, state: CursorState | None) -> Position:
        if state is None:
            return cls()
        try:
            data = json.loads(state.cursor) if state.cursor else {}
        except json.JSONDecodeError:
            raise BadInput(f"cursor {state.key}: not a JSON position: {state.cursor!r}") from None
        if not isinstance(data, dict):
            raise BadInput(f"cursor {state.key}: not a JSON object")
        hw = state.high_watermark
        top_ids = frozenset(str(i) for i in data.get("top_ids", []))
        if data.get("next"):
            return cls(floor=_time(data.get("floor")),
                       floor_ids=frozenset(str(i) for i in data.get("floor_ids", [])),
                       top=hw, top_ids=top_ids, next=str(data["next"]), items=state.items)
        return cls(floor=hw, floor_ids=top_ids, items=state.items)

    def to_state(self, connector: str, account: str, stream: str) -> CursorState:
        if self.in_run:
            hw = max((t for t in (self.floor, self.top) if t is not None), default=None)
            data: dict[str, object] = {
                "next": self.next,
                "floor": self.floor.isoformat() if self.floor else None,
                "floor_ids": sorted(self.floor_ids),
                "top_ids": sorted(self._ids_at(hw)),
            }
        else:
            hw = self.floor
            data = {"next": None, "top_ids": sorted(self.floor_ids)}
        return CursorState(connector=connector, account=account, stream=stream,
                           cursor=json.dumps(data, separators=(",", ":")), high_watermark=hw,
                           items=self.items)

    def _ids_at(self, when: datetime | None) -> frozenset[str]:
        ids: frozenset[str] = frozenset()
        if when is not None and self.floor == when:
            ids |= self.floor_ids
        if when is not None and self.top == when:
            ids |= self.top_ids
        return ids

    # ------------------------------------------------------------------- reading

    def is_new(self, when: datetime, item_id: str) -> bool:
        """Not stored yet: after the floor, or at the floor under an unseen id."""
        if self.floor is None or when > self.floor:
            return not (self.top is not None and when == self.top and item_id in self.top_ids)
        return when == self.floor and item_id not in self.floor_ids

    def below_floor(self, when: datetime) -> bool:
        """Older than everything the last complete run left: the listing can stop here."""
        return self.floor is not None and when < self.floor

    def stored(self, items: list[tuple[str, datetime]], next_position: str | None,
               done: bool) -> Position:
        """The position after a page's new items were acknowledged by the broker."""
        top, top_ids = self.top, set(self.top_ids)
        for item_id, when in items:
            if top is None or when > top:
                top, top_ids = when, {item_id}
            elif when == top:
                top_ids.add(item_id)
        running = replace(self, top=top, top_ids=frozenset(top_ids),
                          next=next_position, items=self.items + len(items))
        if done or next_position is None:
            return running.finished()
        return running

    def finished(self) -> Position:
        """Close the run: the floor moves up to the newest item time stored."""
        new_floor = max((t for t in (self.floor, self.top) if t is not None), default=None)
        return Position(floor=new_floor, floor_ids=self._ids_at(new_floor), items=self.items)
