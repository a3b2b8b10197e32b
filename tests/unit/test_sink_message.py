"""The marker that makes every CRM write idempotent is found only where we put it."""

from __future__ import annotations

from connectors.sinks.message import has_marker, marker


def test_a_marker_on_the_last_line_is_found_despite_trailing_whitespace() -> None:
    mark = marker("abc123")
    assert has_marker([f"Bonjour\n{mark}\n  \n"], mark)
    assert has_marker(["other", f"text\r\n{mark}"], mark)


def test_a_quoted_or_embedded_marker_does_not_count() -> None:
    mark = marker("abc123")
    assert not has_marker([f"the customer pasted {mark} in the middle\nand more"], mark)
    assert not has_marker([f"> {mark}"], mark)
    assert not has_marker([marker("abc1234")], mark)


def test_markers_in_html_bodies_are_found() -> None:
    mark = marker("x9")
    assert has_marker([f"<p>Bonjour</p><p>{mark}</p>"], mark, is_html=True)
    assert not has_marker([f"<p>{mark} and more</p>"], mark, is_html=True)
