"""Exact re-deliveries of one platform item collapse into one event downstream.

A webhook retry, a poll overlapping a webhook, or a replayed file brings the same platform item
again. ``social.events`` is keyed by conversation, so every copy of an item reaches the same
enrich partition, where this bounded memory drops the copies whose content did not change. An
edit (new text or rating) or a removal passes through as an update of the same ``event_id``.
The memory is a cache: after a restart a copy may pass once more, which the idempotent sinks
absorb (same command id, same feedback id).
"""

from __future__ import annotations

from collections import OrderedDict

from schemas.models import SocialEvent, stable_id


def fingerprint(event: SocialEvent) -> str:
    """What makes two deliveries of an item the same message."""
    return stable_id(event.action.value, event.text, str(event.rating))


class RepeatFilter:
    """Remembers the last fingerprint of up to ``capacity`` recent items."""

    def __init__(self, capacity: int = 200_000) -> None:
        self.capacity = capacity
        self._last: OrderedDict[str, str] = OrderedDict()
        self.dropped = 0

    def is_repeat(self, event: SocialEvent) -> bool:
        """True when this item was already seen with exactly this content."""
        mark = fingerprint(event)
        previous = self._last.get(event.event_id)
        self._last[event.event_id] = mark
        self._last.move_to_end(event.event_id)
        if len(self._last) > self.capacity:
            self._last.popitem(last=False)
        if previous == mark:
            self.dropped += 1
            return True
        return False
