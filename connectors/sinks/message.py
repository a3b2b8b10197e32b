"""The one layout of a message written to a CRM, and the marker that makes it recognisable.

Every text a ticket sink writes ends with the line ``[porte-voix:<command_id>]``. A sink
recognises a command it already wrote by reading the target system and finding a text whose
last non-blank line is that marker (:func:`has_marker`): a marker quoted inside a text does not
count, and neither do the blank lines or surrounding spaces an editor or a CRM may add.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterable

from schemas.models import Action, TicketCommand

__all__ = [
    "MARKER_PREFIX",
    "has_marker",
    "html_to_lines",
    "lines_to_html",
    "marker",
    "message_lines",
    "render_message",
]

MARKER_PREFIX = "porte-voix"
_TAG = re.compile(r"<[^>]*>")
_BREAK = re.compile(r"<\s*br\s*/?\s*>|</\s*(p|div|li|h[1-6])\s*>", re.IGNORECASE)


def marker(command_id: str) -> str:
    """The machine-readable last line that makes a written message recognisable."""
    return f"[{MARKER_PREFIX}:{command_id}]"


def html_to_lines(body: str) -> list[str]:
    """The text lines of an HTML body (paragraphs and breaks become line ends)."""
    text = _BREAK.sub("\n", body)
    text = html.unescape(_TAG.sub("", text))
    return text.splitlines()


def lines_to_html(text: str) -> str:
    """Escaped HTML paragraphs, one per line: community text can never inject markup."""
    return "".join(f"<p>{html.escape(line)}</p>" if line else "<p></p>" for line in
                   text.split("\n"))


def has_marker(texts: Iterable[str | None], mark: str, *, is_html: bool = False) -> bool:
    """Whether a text's last non-blank line, stripped, is the marker; stops at the first one.

    ``texts`` may be lazy: later texts (a second API call) are only read when needed.
    """
    for text in texts:
        lines = html_to_lines(text or "") if is_html else (text or "").splitlines()
        last = next((line.strip() for line in reversed(lines) if line.strip()), None)
        if last == mark:
            return True
    return False


def message_lines(cmd: TicketCommand, *, conversation: bool = False) -> tuple[str, list[str]]:
    """The message text and its detail lines (platform, author, URL, tags[, conversation])."""
    if cmd.action is Action.edited:
        text = f"{cmd.kind.value} edited: {cmd.body}"
    elif cmd.action is Action.deleted:
        text = f"{cmd.kind.value} deleted on {cmd.platform.value}" + (
            f": {cmd.body}" if cmd.body else ""
        )
    else:
        text = cmd.body
    details = [f"Platform: {cmd.platform.value} ({cmd.kind.value}) · Brand: {cmd.brand}"]
    if cmd.author_handle:
        details.append(f"Author: {cmd.author_handle}")
    if cmd.url:
        details.append(f"URL: {cmd.url}")
    if cmd.tags:
        details.append(f"Tags: {', '.join(cmd.tags)}")
    if conversation:
        details.append(f"Conversation: {cmd.external_id}")
    return text, details


def render_message(cmd: TicketCommand, limit: int | None = None, *,
                   conversation: bool = False) -> str:
    """Plain text: the message, a blank line, its details, the marker line.

    ``conversation`` adds the readable conversation key (for CRMs that store it hashed or
    where agents search by it); the text is cut so the whole fits ``limit``, marker kept.
    """
    text, details = message_lines(cmd, conversation=conversation)
    tail = "\n".join(["", "", *details, marker(cmd.command_id)])
    if limit is not None and len(text) + len(tail) > limit:
        keep = max(0, limit - len(tail) - 1)
        text = text[:keep] + "…"
        if len(text) + len(tail) > limit:  # details alone too long: keep the marker at least
            tail = "\n" + marker(cmd.command_id)
            text = text[: max(0, limit - len(tail) - 1)] + "…"
    return text + tail
