"""Author tiers from followers and verification; first-time authors per brand."""

from __future__ import annotations

import pytest

from pipeline.enrich.author import AuthorMemory, author_tier
from schemas.models import Author, AuthorTier


@pytest.mark.parametrize(
    ("followers", "verified", "tier"),
    [
        (None, None, AuthorTier.unknown),
        (None, True, AuthorTier.macro),
        (12, None, AuthorTier.regular),
        (25_000, False, AuthorTier.micro),
        (250_000, None, AuthorTier.macro),
        (3_000_000, True, AuthorTier.celebrity),
        (500, True, AuthorTier.macro),
    ],
)
def test_author_tier_from_followers_and_badge(
    followers: int | None, verified: bool | None, tier: AuthorTier
) -> None:
    author = Author(id="u1", followers=followers, verified=verified)
    assert author_tier(author, 10_000, 100_000, 1_000_000) is tier


def test_first_time_is_true_once_per_brand_and_unknown_without_an_id() -> None:
    memory = AuthorMemory(max_authors=10)
    alice = Author(id="42", handle="alice")
    assert memory.first_time("Croque", alice, "x") is True
    assert memory.first_time("Croque", alice, "x") is False
    assert memory.first_time("Kairo", alice, "x") is True
    assert memory.first_time("Croque", Author(), "x") is None


def test_author_memory_is_bounded() -> None:
    memory = AuthorMemory(max_authors=2)
    for ident in ("a", "b", "c"):
        memory.first_time("Croque", Author(id=ident), "x")
    assert memory.first_time("Croque", Author(id="a"), "x") is True
